"""Page 1 — Train & watch: start a run and see every panel move while the network learns.

While a run trains (or the demo replays), nothing here reruns on a timer: the run bar and every chart are
browser-side components that fetch their own updates from studio/live/routes.py and redraw in place. The page
reruns on a click, or when the run bar sees the run's status change (paused, finished...).
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import streamlit as st

from core import launcher
from core.errors import TAAFError
from core.store.paths import read_log_tail
from studio import settings
from studio.live import livechart, runs, urls
from studio.ui import landing, look, panels, run_controls, runlist, session, sidebar, steering, sweep_form, widgets
from studio.ui.text import plain


def _log_tail(path: str, n: int = 40) -> str:
    """The end of the run's train.log; '' when missing, and a refusal for a link out of the run folder."""
    return read_log_tail(path, n)


def _faults(path: str, status: dict) -> None:
    """Failed and interrupted runs: the error and the end of train.log."""
    s = status.get("status")
    if s == "failed":
        st.error(f"This run failed: {plain(status.get('error') or 'see the log below')}")
        st.code(_log_tail(path) or "(train.log is empty)", language="text")
    elif status.get("stale") or s == "interrupted":
        st.warning("This run was **interrupted** (its trainer process is gone). Press **Resume** to continue "
                   "from the last checkpoint; nothing recorded so far is lost.")


def _has_store(path: str) -> bool:
    return (Path(path) / "store.sqlite").exists()


def _before_store(path: str) -> None:
    """The moments before the trainer has created its store: still loading, or failed doing so."""
    try:
        stt = launcher.run_state(path)
    except TAAFError as e:
        st.error(plain(e))
        return
    if stt["status"] == "failed":
        _faults(path, stt)
    else:
        st.info(f"Starting **{plain(Path(path).name)}** — loading data and building the network…")
        st.code(_log_tail(path, 8) or "…", language="text")


def _state(path: str) -> str:
    """The run's status now (not from the cached run list): 'starting' while a launched or resumed trainer
    loads, 'interrupted' for a stale one."""
    try:
        stt = launcher.run_state(path)
    except TAAFError:
        return "unknown"
    return "interrupted" if stt.get("stale") else str(stt["status"])




def _status_changed() -> None:
    runlist.run_table.clear()  # the run list shows statuses too


def run_bar(path: str, token: str, status: str, initial: dict, moving: bool, meta: dict,
            demo_t0: float | None = None) -> None:
    """The run bar (a browser-side component polling the run's header every PULSE_S while it moves) and the
    Pause / Resume / Stop / Continue buttons for the run's status at this script run."""
    src = None
    if moving:
        src = urls.head_src(token, **({"t0": demo_t0} if demo_t0 is not None else {}))
    livechart.run_head("run_head", src, status, initial, settings.PULSE_S, _status_changed)
    if demo_t0 is None:
        run_controls.run_buttons(path, status, meta, int(initial.get("step") or 0))
    widgets.command_line(path, "run_cli")


@st.fragment(run_every=1.0)
def starting(path: str) -> None:
    """A launched (or resumed) run whose trainer is still loading: look again every second."""
    if _state(path) != "starting":
        st.rerun()
    _before_store(path)


def live(path: str) -> None:
    """A running or paused run: the run bar and every chart update themselves in the browser."""
    token = Path(path).name
    try:
        snap = runs.snapshot(token, force=True)  # a script run sees the status of now
    except TAAFError as e:
        st.error(f"Cannot read this run: {plain(e)}")
        return
    if snap is None:
        st.error(f"{plain(path)} is not a run folder of this studio's runs folder")
        return
    if not snap.moving:  # it ended between the status check and now
        static(path)
        return
    run_bar(path, token, snap.head["status"], snap.head, snap.moving, snap.meta)
    steering.steering_form(path, snap.head["status"], snap.view.config, snap.view.steer)
    panels.render(snap.view, "live", panels.Live(token, probe_step=snap.newest_probe))


def static(path: str) -> None:
    """A run that is not moving, drawn once. Not a fragment: Continue / Resume must rerun the whole page, which
    then watches the resumed run live."""
    if not _has_store(path):  # its trainer died before creating the store
        _before_store(path)
        return
    try:
        snap = runs.snapshot(runs.token_for(path), force=True)
    except TAAFError as e:
        st.error(f"Cannot read this run: {plain(e)}")
        return
    if snap is None:
        st.error(f"{plain(path)} is not a run folder of this studio's runs folder")
        return
    run_bar(path, Path(path).name, snap.head["status"], snap.head, False, snap.meta)
    _faults(path, snap.status)
    panels.render(snap.view, "live")
    st.subheader("Export")
    widgets.download_buttons(path, "live_dl")
    st.caption("Every chart also has plotly's camera button (top right, on hover) to save it as PNG, "
                "and a button beside it for SVG (vector, for papers).")


def demo(path: str) -> None:
    """The shipped demo run replayed as if it were training now (loops), drawn in the browser."""
    t0 = st.session_state.setdefault("demo_t0", time.time())
    try:
        snap = runs.snapshot(urls.DEMO, t0)
    except TAAFError as e:
        st.error(f"Cannot read the demo run: {plain(e)}")
        return
    if snap is None:
        st.error("The demo run cannot be read.")
        return
    run_bar(path, urls.DEMO, "demo replay", snap.head, True, {}, t0)
    panels.render(snap.view, "live", panels.Live(urls.DEMO, (("t0", t0),), snap.newest_probe))


def main() -> None:
    """Choose the run to watch and draw it live, static or as the demo replay."""
    runs_dir = settings.runs_dir()
    if not runs_dir.exists():
        st.caption(f"Runs folder {plain(runs_dir)} does not exist yet; it is created when you start a run.")
    try:
        table = runlist.all_runs()
    except (TAAFError, OSError) as e:
        st.error(f"Cannot list runs in {plain(runs_dir)}: {plain(e)}")
        table = pd.DataFrame(columns=["path", "name", "status", "demo"])
    if table.empty:
        st.info("No runs yet and no demo run found. Press **Start training** in the sidebar.")
        return
    paths = list(table["path"].astype(str))
    chosen = st.session_state.get(session.WATCHED)
    if chosen not in paths:
        if chosen and Path(chosen).is_dir():  # just started: not in the cached table yet
            paths.insert(0, chosen)
        else:
            chosen = landing.default_run(table)
            st.session_state["opened_on"] = landing.opened_on(table, chosen) if chosen else ""
    rows = {str(r["path"]): r for r in table.to_dict("records")}
    # The widget's key changes whenever the app itself picks the run (Start): a rerun that the browser sent
    # with the old selection still in it (a timer tick racing the click) then cannot switch back.
    path = st.selectbox("Run", paths, index=paths.index(chosen), key=session.run_select_key(),
                        format_func=runlist.labeller(rows, status=False),
                        help="the status of the chosen run is shown in the bar below (it updates live)")
    st.session_state[session.WATCHED] = path
    if opened := st.session_state.pop("opened_on", ""):  # once, when the page chose the run itself
        st.info(opened, icon=":material/info:")
    row = rows.get(path, {"status": "starting", "demo": False})
    if row.get("problem") and row.get("status") == "unknown":
        st.error(f"This run cannot be read: {plain(row['problem'])}")
        st.code(_log_tail(path), language="text")
    elif row.get("demo"):
        if not (table["demo"] == False).any():  # noqa: E712 (pandas mask)
            st.success("**Demo replay** — a short run recorded from the shipped data. Press **Start training** in "
                       "the sidebar to train your own; every panel then moves live.")
        demo(path)
    else:
        now = _state(path)
        if now == "starting":
            starting(path)
        elif now in ("running", "paused"):
            live(path)
        else:
            static(path)


if st.query_params.get("present") == "1":  # a bookmark of the Train page in presenter mode
    st.switch_page("views/6_present.py", query_params={k: v for k, v in st.query_params.items() if k != "present"})
look.apply()
st.title("Train & watch")
presenter_link = st.empty()  # filled once main() has chosen the run: the link presents that run
session.show_flash()
sidebar.sidebar()
sweep_form.sweep_sidebar()
main()
watched = st.session_state.get(session.WATCHED)
with presenter_link:
    st.page_link("views/6_present.py", label="Presenter mode: one panel at a time, full window, large text (← / →)",
                 icon=":material/slideshow:", query_params={"run": Path(watched).name} if watched else None)
