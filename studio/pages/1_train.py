"""Page 1 — Train & watch: start a run and see every panel move while the network learns."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st

from core import launcher
from core.errors import TAAFError
from core.store import RunReader
from studio import controls, panels, state
from studio.rundata import RunData, RunView

DEMO_SPEED_S = 45.0  # the demo replays its whole run in about this many seconds, then loops


def _default_run(table: pd.DataFrame) -> str | None:
    if table.empty:
        return None
    user = table[~table["demo"]]
    active = user[user["status"].isin(state.ACTIVE)]
    if len(active):
        return str(active["path"].iloc[0])
    return str((user if len(user) else table)["path"].iloc[0])


def _log_tail(path: str, n: int = 40) -> str:
    try:
        with open(Path(path) / "train.log", "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 16384))
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
    except OSError:
        return ""


def _faults(path: str, status: dict) -> None:
    """Failed and interrupted runs: the error and the end of train.log."""
    s = status.get("status")
    if s == "failed":
        st.error(f"This run failed: {status.get('error') or 'see the log below'}")
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
        st.error(str(e))
        return
    if stt["status"] == "failed":
        _faults(path, stt)
    else:
        st.info(f"Starting **{Path(path).name}** — loading data and building the network…")
        st.code(_log_tail(path, 8) or "…", language="text")


def _refreshed(path: str, what: str = "this run") -> RunData | None:
    """This page's RunData for `path` with what is new read in; None (and the error shown) if unreadable."""
    rd = state.run_data("live", path)
    try:
        rd.refresh()
    except TAAFError as e:
        st.error(f"Cannot read {what}: {e}")
        return None
    return rd


TICK_S = state.PANELS_S / len(panels.GROUPS)  # each tick redraws one panel group: each group every PANELS_S
# A session's first panel tick comes FIRST_TICK_S after the panels are first drawn: until then a new browser is
# still loading plotly and drawing every chart, and a tick would queue redraws behind that (first chart on a busy
# 2-core machine: about 0.5-1 s sooner; docs/performance.md).
FIRST_TICK_S = 3.0


def _panels_tick_s() -> float:
    """The panels' tick for this full run: FIRST_TICK_S in the session's first seconds, then TICK_S."""
    since = st.session_state.setdefault("panels_since", time.time())
    return TICK_S if time.time() - since >= 0.9 * FIRST_TICK_S else FIRST_TICK_S


def _after_first_tick(tick_s: float) -> None:
    """Rerun the whole page once the tick in force (`tick_s`) is no longer the one to ask for: a browser takes a
    fragment's interval from full runs only."""
    if tick_s != _panels_tick_s():
        st.rerun()


def _staggered(rd: RunData, make: Callable[[], RunView]) -> tuple[RunView, dict[str, RunView]]:
    """The newest cut of the run (for the header) and the cut each panel group draws.

    One group takes the newest cut per tick, in turn: the browser then redraws two to four figures at a
    time, not nine at once (0.3-0.5 s of its main thread on 2 busy cores, which a click waits behind).
    For panels.HOLD_S after a raster control changed, no group moves: the browser draws only the raster
    asked for. Unchanged cuts give unchanged figures, which the browser skips."""
    now = make()
    kept = st.session_state.get("live_groups")
    if not (kept and kept["path"] == rd.path):
        kept = st.session_state["live_groups"] = {"path": rd.path, "tick": 0,
                                                  "cuts": dict.fromkeys(panels.GROUPS, now)}
    elif not panels.recently_touched("live"):
        kept["tick"] += 1
        kept["cuts"][panels.GROUPS[kept["tick"] % len(panels.GROUPS)]] = now
    return now, kept["cuts"]


@st.fragment(run_every=state.PULSE_S)
def pulse(path: str, listed: str) -> None:
    """The run bar (status, step, Pause / Resume / Stop) on its own fast tick: three small queries, so a
    logged step shows within a second while the heavier panels refresh at their own pace."""
    if not _has_store(path):
        _before_store(path)
        return
    try:
        with RunReader(Path(path)) as r:  # meta is re-read: the trainer adds total_steps after creating the store
            status, step, meta = r.status(), r.last_step(), r.meta()
    except TAAFError as e:
        st.error(f"Cannot read this run: {e}")
        return
    controls.run_bar(path, status, meta, step)
    now = "interrupted" if status.get("stale") else status.get("status")
    if now not in ("running", "paused") or listed == "starting":
        state.run_table.clear()
        st.rerun()  # finished / failed / interrupted (static form) or just started (refresh the run list)


def live(path: str, tick_s: float) -> None:
    """Every panel, each group redrawn every PANELS_S; reads only what is new. A fragment ticking every tick_s."""
    _after_first_tick(tick_s)
    if not _has_store(path):
        return  # still starting: pulse() says so
    rd = _refreshed(path)
    if rd is None:
        return
    view, groups = _staggered(rd, rd.view)
    panels.render(view, "live", groups)


@st.fragment
def static(path: str) -> None:
    """A run that is not moving: drawn once; widgets rerun only this fragment."""
    if not _has_store(path):  # its trainer died before creating the store
        _before_store(path)
        return
    rd = _refreshed(path)
    if rd is None:
        return
    view = rd.view()
    controls.run_bar(path, rd.status, rd.meta, view.step)
    _faults(path, rd.status)
    panels.render(view, "live")
    st.subheader("Export")
    state.download_buttons(path, "live_dl")
    st.caption("Every chart also has plotly's camera button (top right, on hover) to save it as PNG.")


def demo(path: str, tick_s: float) -> None:
    """The shipped demo run replayed as if it were training now (loops). A fragment ticking every tick_s."""
    _after_first_tick(tick_s)
    rd = _refreshed(path, "the demo run")
    if rd is None:
        return
    last = max(rd.last_step, 0)
    t0 = st.session_state.setdefault("demo_t0", time.time())
    frac = ((time.time() - t0) / DEMO_SPEED_S) % 1.05  # a short pause on the finished state before looping
    view, groups = _staggered(rd, lambda: rd.view(upto=int(min(frac, 1.0) * last)))
    controls.run_bar(path, {"status": "demo replay"}, rd.meta, view.step, demo=True)
    panels.render(view, "live", groups)


def main() -> None:
    """Choose the run to watch and draw it live, static or as the demo replay."""
    runs_dir = state.runs_dir()
    if not runs_dir.exists():
        st.caption(f"Runs folder `{runs_dir}` does not exist yet; it is created when you start a run.")
    try:
        table = state.all_runs()
    except (TAAFError, OSError) as e:
        st.error(f"Cannot list runs in {runs_dir}: {e}")
        table = pd.DataFrame(columns=["path", "name", "status", "demo"])
    if table.empty:
        st.info("No runs yet and no demo run found. Press **Start training** in the sidebar.")
        return
    paths = list(table["path"].astype(str))
    chosen = st.session_state.get(state.WATCHED)
    if chosen not in paths:
        if chosen and Path(chosen).is_dir():  # just started: not in the cached table yet
            paths.insert(0, chosen)
        else:
            chosen = _default_run(table)
    rows = {str(r["path"]): r for r in table.to_dict("records")}
    # The widget's key changes whenever the app itself picks the run (Start): a rerun that the browser sent
    # with the old selection still in it (a timer tick racing the click) then cannot switch back.
    path = st.selectbox("Run", paths, index=paths.index(chosen), key=state.run_select_key(),
                        format_func=lambda p: state.label(rows[p], status=False) if p in rows else Path(p).name,
                        help="the status of the chosen run is shown in the bar below (it updates live)")
    st.session_state[state.WATCHED] = path
    row = rows.get(path, {"status": "starting", "demo": False})
    if row.get("problem") and row.get("status") == "unknown":
        st.error(f"This run cannot be read: {row['problem']}")
        st.code(_log_tail(path), language="text")
    elif row.get("demo"):
        if not (table["demo"] == False).any():  # noqa: E712 (pandas mask)
            st.success("**Demo replay** — a short run recorded from the shipped data. Press **Start training** in "
                       "the sidebar to train your own; every panel then moves live.")
        tick_s = _panels_tick_s()
        st.fragment(demo, run_every=tick_s)(path, tick_s)
    elif row.get("status") in state.ACTIVE:
        pulse(path, str(row.get("status")))
        tick_s = _panels_tick_s()
        st.fragment(live, run_every=tick_s)(path, tick_s)
    else:
        static(path)


st.title("Train & watch")
state.show_flash()
controls.sidebar()
main()
