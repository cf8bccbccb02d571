"""Page 4 — Replay: scrub a run with a step slider or play it: every Train & watch panel as it was then."""

from __future__ import annotations

import streamlit as st

from core.errors import TAAFError
from studio.live import runs
from studio.ui import look, panels, runlist
from studio.ui.text import plain

PLAY_EVERY_S = 0.7

st.title("Replay")
look.apply()  # one Stop only (the studio's), no red focus ring on selectors
table = runlist.all_runs_or_stop()
table = table[table["status"] != "unknown"] if len(table) else table
if table.empty:
    st.info("No runs to replay yet.")
    st.stop()
rows = {str(r["path"]): r for r in table.to_dict("records")}
path = st.selectbox("Run", list(rows), format_func=runlist.labeller(rows), key="rp_run")
token = runs.token_for(path)  # read through the live cache, shared with the Train page and the live routes
try:
    with st.spinner("Reading the run…"):
        snap = runs.snapshot(token)
except TAAFError as e:
    st.error(f"Cannot read this run: {plain(e)}")
    st.stop()
if snap is None:
    st.error(f"Cannot read this run: {plain(path)} is not a run folder of this studio's runs folder")
    st.stop()
whole = snap.view
marks = list(whole.probe_steps) or (list(whole.steps["step"]) if len(whole.steps) else [])
if not marks:
    st.info("This run has recorded nothing yet.")
    st.stop()
if st.session_state.get("rp_path") != path or st.session_state.get("rp_step") not in marks:
    st.session_state["rp_path"] = path
    st.session_state["rp_step"] = marks[-1]
    st.session_state["rp_playing"] = False


def _toggle() -> None:
    playing = not st.session_state.get("rp_playing", False)
    if playing and st.session_state["rp_step"] == marks[-1]:
        st.session_state["rp_step"] = marks[0]  # play from the start when at the end
    st.session_state["rp_playing"] = playing


def _frame() -> None:
    step = st.select_slider("step (recorded probe steps)", marks, key="rp_step")
    try:
        cut = runs.snapshot(token, upto=int(step))
    except TAAFError as e:
        st.error(f"Cannot read this run: {plain(e)}")
        return
    if cut is not None:
        panels.render(cut.view, "replay")


@st.fragment(run_every=PLAY_EVERY_S)
def playing() -> None:
    i = marks.index(st.session_state["rp_step"])
    if i + 1 >= len(marks):
        st.session_state["rp_playing"] = False
        st.rerun()
    st.session_state["rp_step"] = marks[min(i + 1, len(marks) - 1)]  # before the slider is drawn: allowed
    _frame()


@st.fragment
def still() -> None:
    _frame()


# The Play button lives outside the fragments: a press reruns the page, which then picks playing() or still().
c1, c2 = st.columns([1, 6])
playing_now = st.session_state.get("rp_playing")
c1.button("Pause" if playing_now else "Play", icon=":material/pause:" if playing_now else ":material/play_arrow:",
          on_click=_toggle, key="rp_play", width="stretch")
c2.caption(f"{len(marks)} recorded steps; the panels show the run as it was at the chosen step.")
if st.session_state.get("rp_playing"):
    playing()
else:
    still()
