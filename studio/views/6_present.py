"""Presenter mode: one panel group at a time, full window, text for the back of a room, no sidebar.

Bookmarkable: /present?run=<run folder name>&group=<n>&autoplay=<seconds> (no run: the running one, else
the demo replay). A finished run replays in a loop, like the demo. Arrow keys, Page Up / Down and space
step through the groups; autoplay steps on a timer. Charts are the live components of the Train page,
asking the live routes for projector-sized figures (`big=1`).
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from core.errors import TAAFError
from studio import settings
from studio.live import livechart, runs, urls
from studio.ui import landing, runlist
from studio.ui.text import plain

# (title, [(figure, width share)]): one group per screen.
GROUPS = [
    ("Loss & accuracy per modality", [("loss", 1)]),
    ("Each modality's learning rate", [("lr", 1)]),
    ("TAAF attention over timesteps", [("alpha", 3), ("alpha_now", 1)]),
    ("Spikes of one probe sample", [("raster", 1)]),
    ("Membrane potential: integrate, leak, fire", [("membrane", 1)]),
    ("Imbalance diagnostics", [("imb", 1)]),
    ("Firing rates and energy", [("rates", 1), ("energy", 1)]),
]
CHART_FILL_PX = 300  # the title row, the run bar and the page's margins
RASTER = {"probe": 0, "mod": "audio", "maxn": 200, "layer": "all layers"}
CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header[data-testid="stHeader"],
[data-testid="stToolbar"], [data-testid="stStatusWidget"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding: 0.8rem 2rem 0 2rem; max-width: 100%; }
.taaf-head .taaf-value { font-size: 1.8rem; } .taaf-head .taaf-text, .taaf-head .taaf-label { font-size: 1.1rem; }
</style>"""

_KEYS_JS = """
export default function (component) {
  const {setTriggerValue, data, parentElement} = component;
  const state = parentElement.__taafKeys || (parentElement.__taafKeys = {});
  if (!state.onKey) {
    state.onKey = e => {
      if (e.target && ["INPUT", "TEXTAREA"].includes(e.target.tagName)) return;
      const step = {ArrowRight: 1, PageDown: 1, " ": 1, ArrowLeft: -1, PageUp: -1}[e.key];
      if (step) { e.preventDefault(); setTriggerValue("nav", step); }
    };
    document.addEventListener("keydown", state.onKey);
  }
  clearInterval(state.timer);
  if (data.autoplay > 0) state.timer = setInterval(() => { if (!document.hidden) setTriggerValue("nav", 1); },
                                                   data.autoplay * 1000);
  return () => { document.removeEventListener("keydown", state.onKey); clearInterval(state.timer); };
}
"""
_keys = st.components.v2.component("taaf_present_keys", js=_KEYS_JS, isolate_styles=False)


def _param_int(name: str, default: int) -> int:
    try:
        return int(st.query_params.get(name, default))
    except ValueError:
        return default


def _go(step: int) -> None:
    st.session_state["pres_group"] = (st.session_state.get("pres_group", 0) + step) % len(GROUPS)


def _nav() -> None:
    step = st.session_state.get("pres_keys", {}).get("nav")
    if step:
        _go(int(step))


def _pick_run(table: pd.DataFrame) -> str | None:
    """The run to present: the one named in the URL (the Train page's link carries the run it shows), else the
    one the Train page would open on (landing.default_run: the live run, else the demo replay, else the newest);
    the picker in the top row changes it."""
    readable = table[table["status"] != "unknown"]
    rows = {str(r["name"]): r for r in readable.to_dict("records")}
    if not rows:
        return None
    named = st.query_params.get("run")  # the URL is the one source of truth (the picker writes it)
    if named not in rows:
        default = landing.default_run(table)
        named = next((n for n, r in rows.items() if str(r["path"]) == default), next(iter(rows)))
    if st.session_state.get("pres_run") != named:
        st.session_state["pres_run"] = named  # the picker's value (set before the widget is drawn)
    return named


def _new_run() -> None:
    st.query_params["run"] = st.session_state["pres_run"]
    st.session_state.pop("pres_t0", None)  # a replay of the newly chosen run starts from its beginning


def _choose_run() -> tuple[str, str, str, dict] | None:
    """(run token for the live routes, its name, how it is shown, every readable run by name)."""
    table = runlist.all_runs()
    if table.empty:
        return None
    name = _pick_run(table)
    if name is None:
        return None
    rows = {str(r["name"]): r for r in table[table["status"] != "unknown"].to_dict("records")}
    pick = rows[name]
    if pick["demo"]:
        return urls.DEMO, name, "demo replay", rows
    live = pick["status"] in ("running", "paused")
    return name, name, str(pick["status"]) if live else "replay", rows


st.markdown(CSS, unsafe_allow_html=True)
if "pres_group" not in st.session_state:
    st.session_state["pres_group"] = _param_int("group", 0) % len(GROUPS)
try:
    chosen = _choose_run()
except TAAFError as e:
    st.error(f"Cannot list runs in {plain(settings.runs_dir())}: {plain(e)}")
    st.stop()
if chosen is None:
    st.info("No run and no demo to present yet: start one on the Train & watch page.")
    st.stop()
token, name, shown, run_rows = chosen
replay = shown in ("demo replay", "replay")
t0 = st.session_state.setdefault("pres_t0", time.time())
extra = {"t0": t0} if replay else {}
group = st.session_state["pres_group"]
title, figures = GROUPS[group]
st.query_params.update({"run": name, "group": str(group)})

top = st.columns([6, 1, 1, 1, 2])
top[0].markdown(f"## {title}")
with top[1].popover("Run", icon=":material/list:", help=plain(runlist.label(run_rows[name])), width="stretch"):
    st.selectbox("Run to present", list(run_rows), key="pres_run", on_change=_new_run,
                 format_func=runlist.labeller(run_rows))
top[2].button("Back", icon=":material/arrow_back:", key="pres_prev", on_click=_go, args=(-1,), help="previous (←)",
              width="stretch")
top[3].button("Next", icon=":material/arrow_forward:", key="pres_next", on_click=_go, args=(1,),
              help="next (→ or space)", width="stretch")
autoplay = top[4].toggle("autoplay", key="pres_auto", value=_param_int("autoplay", 0) > 0,
                         help="step through the groups every 12 s")
_keys(key="pres_keys", data={"autoplay": 12 if autoplay else 0}, on_nav_change=_nav)

initial: dict = {}
try:
    snap = runs.snapshot(token, t0 if replay else None)
except TAAFError as e:
    st.error(f"Cannot read {plain(name)}: {plain(e)}")
    st.stop()
if snap is not None:
    initial = snap.head
if replay and token != urls.DEMO:
    initial["status"] = "replay"
livechart.run_head("pres_head", urls.head_src(token, **extra), initial.get("status", shown), initial, settings.PULSE_S,
                   runlist.run_table.clear)
cols = st.columns([share for _, share in figures])
for col, (fig, _) in zip(cols, figures, strict=True):
    with col:
        raster = {**RASTER, "mod": snap.view.modalities[0]} if snap is not None else RASTER  # its first modality
        params = {**extra, "big": 1, **(raster if fig in ("raster", "membrane") else {})}
        livechart.live_chart(urls.figure_src(token, fig, **params), f"pres_{group}_{fig}", 400,
                             settings.PANELS_S, fill_px=CHART_FILL_PX)
