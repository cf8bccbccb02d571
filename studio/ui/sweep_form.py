"""The sidebar's Sweep form: strategies x seeds x preset x one setting's values, with the run count and a time
estimate before launching. Planning, checking and queueing: core/sweep.py; the runner: core/sweep_queue.py."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from core import sweep, sweep_queue
from core.config import ENUMS
from core.errors import TAAFError
from studio.settings import runs_dir
from studio.ui import session

PRESETS = ENUMS["data.avdigits.preset"]
VARIABLE = ["(none)", "optim.lr", "strategy.beta", "model.T", "train.epochs", "data.batch_size"]


@st.cache_data(ttl=60, show_spinner=False)
def _epoch_seconds(folder: str) -> float:
    """The estimate's speed, read at most once a minute (the sidebar redraws with every click)."""
    return sweep.epoch_seconds(folder)


def _plan() -> tuple[list[dict[str, Any]], str | None]:
    """The form's runs, or [] and the one-line reason they cannot be planned."""
    s = st.session_state
    vary = None
    if s.get("sw_key", "(none)") != "(none)":
        vary = f"{s['sw_key']}={s.get('sw_values', '').replace(' ', '')}"
    try:
        seeds = sweep.parse_seeds(str(s.get("sw_seeds", "0")).split())
        planned = sweep.plan(list(s.get("sw_strategies") or []), seeds, s.get("sw_preset"),
                             [f"train.epochs={int(s.get('sw_epochs', 12))}"], vary,
                             None, s.get("sw_name") or "sweep")
    except TAAFError as e:
        return [], str(e)
    return planned, None if planned else "choose at least one strategy"


def _launch() -> None:
    planned, problem = _plan()
    if problem:
        session.flash(f"Sweep not queued: {problem}", "error")
        return
    name = f"{st.session_state.get('sw_name') or 'sweep'}-{time.strftime('%m%d-%H%M%S')}"
    planned = [{**p, "name": name + p["name"][len(st.session_state.get("sw_name") or "sweep"):]} for p in planned]
    sweep_queue.enqueue(runs_dir(), name, planned, None)
    sweep_queue.ensure_runner(runs_dir())
    st.session_state["sweep_opened"] = name
    session.flash(f"Queued sweep **{name}**: {len(planned)} runs, trained one after another (page Sweeps).",
                  "success")


def sweep_sidebar() -> None:
    """An expander in the sidebar; its Launch queues the runs and starts the runner."""
    with st.sidebar.expander("Sweep (many runs)", icon=":material/view_list:"):
        st.multiselect("strategies", ENUMS["strategy.name"], default=["taaf", "concat"], key="sw_strategies")
        st.text_input("seeds", "0-2", key="sw_seeds", help="a range 0-4, or seeds separated by spaces")
        st.selectbox("preset of every run", PRESETS, index=PRESETS.index("audio-dominant"), key="sw_preset")
        st.number_input("epoch count per run", 1, 1000, 12, key="sw_epochs")
        st.selectbox("vary one setting", VARIABLE, key="sw_key")
        if st.session_state.get("sw_key", "(none)") != "(none)":
            st.text_input("its values (comma separated)", "0.001,0.003", key="sw_values")
        st.text_input("sweep name", "sweep", key="sw_name")
        planned, problem = _plan()
        if problem:
            st.caption(f":red[{problem}]")
        else:
            minutes = sweep.estimate_seconds(runs_dir(), planned, epoch_s=_epoch_seconds(str(runs_dir()))) / 60
            st.caption(f"**{len(planned)} runs**, about {minutes:.0f} min one after another (from the speed of the "
                       "latest finished runs here). Each is an ordinary run.")
        st.button("Queue the sweep", icon=":material/playlist_add:", on_click=_launch, disabled=bool(problem),
                  key="sw_launch", width="stretch")
