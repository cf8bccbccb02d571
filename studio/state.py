"""Small Streamlit helpers shared by the pages: settings, the run list, per-session run data, help boxes."""

from __future__ import annotations

import argparse
import os
import sys
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import launcher
from core.errors import TAAFError
from core.store import RunReader, list_runs
from studio.rundata import RunData

REPO_ROOT = Path(__file__).resolve().parents[1]
PANELS_S = 2.0  # each live chart asks for its figure this often (longer after costly redraws: livechart.js)
PULSE_S = 0.5  # the run bar (status and step) polls this often: a logged step shows within a second
ACTIVE = ("running", "paused", "starting")


def runs_dir() -> Path:
    """`-- --runs-dir DIR` on the streamlit command line, else $TAAF_RUNS_DIR, else ./runs."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--runs-dir")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return Path(args.runs_dir or os.environ.get("TAAF_RUNS_DIR") or "runs").expanduser()


def demo_dir() -> Path | None:
    """The shipped demo run ($TAAF_DEMO_RUN overrides; '' disables), if present."""
    p = os.environ.get("TAAF_DEMO_RUN")
    path = Path(p) if p is not None else REPO_ROOT / "sample_data" / "demo_run"
    return path if p != "" and (path / "store.sqlite").is_file() else None


@st.cache_data(ttl=2, max_entries=8, show_spinner=False)
def run_table(runs: str, demo: str | None) -> pd.DataFrame:
    """Every run in `runs` (plus launched ones still starting) and the demo run; newest first.

    `runs` may also be one run's own folder (a run trained elsewhere, watched read-only).
    """
    if (Path(runs) / "store.sqlite").is_file():
        table = list_runs(Path(runs).parent)
        table = table[table["path"] == str(Path(runs))].reset_index(drop=True)
    else:
        table = list_runs(runs)
    table["demo"] = False
    # A launched run whose trainer has written config.json but not yet its store is listed as unreadable;
    # dropped here, the launcher describes it below like any run still loading (starting, or failed).
    loading = {p for p, s in zip(table["path"], table["status"], strict=True)
               if s == "unknown" and launcher.launch_info(Path(p)) is not None
               and not (Path(p) / "store.sqlite").exists()}
    table = table[~table["path"].isin(loading)]
    extra = []
    base = Path(runs)
    if base.is_dir():
        listed = set(table["path"])
        for d in base.iterdir():
            if d.is_dir() and str(d) not in listed and launcher.launch_info(d) is not None:
                try:
                    stt = launcher.run_state(d)
                except TAAFError:
                    continue
                extra.append({"name": d.name, "path": str(d), "status": stt["status"], "problem": stt["error"] or "",
                              "created": stt["updated"], "demo": False})
    if demo:
        extra.append(_demo_row(Path(demo)))
    if extra:
        table = pd.concat([table, pd.DataFrame(extra)], ignore_index=True) if len(table) else pd.DataFrame(extra)
    if table.empty:
        return table
    table["status"] = table["status"].fillna("unknown")
    table["_created"] = pd.to_numeric(table.get("created"), errors="coerce").fillna(0)
    return table.sort_values(["demo", "_created"], ascending=[True, False]).reset_index(drop=True)


def _demo_row(demo: Path) -> dict[str, Any]:
    """The demo run's list row, read as an immutable snapshot (list_runs would add -wal/-shm files to it)."""
    row: dict[str, Any] = {"name": demo.name, "path": str(demo), "status": "unknown", "problem": "", "demo": True}
    try:
        with RunReader(demo, immutable=True) as r:
            meta, st_ = r.meta(), r.status()
            row.update(status=st_["status"], strategy=meta.get("strategy"), preset=meta.get("preset"),
                       seed=meta.get("seed"), steps=r.last_step() + 1, total_steps=meta.get("total_steps"),
                       created=st_["started"], updated=st_["updated"])
    except TAAFError as e:
        row["problem"] = str(e)
    return row


def is_demo(path: str | Path) -> bool:
    """Whether `path` is the shipped demo run (read as an immutable snapshot, its folder never touched)."""
    demo = demo_dir()
    return bool(demo and Path(path) == demo)


def reader(path: str | Path) -> RunReader:
    """A RunReader; the demo run is opened as an immutable snapshot."""
    return RunReader(Path(path), immutable=True if is_demo(path) else None)


def metrics_csv(path: str | Path, scope: str) -> bytes:
    """A run's full (unthinned) step or epoch metrics as CSV, built when the download button is pressed."""
    with reader(path) as r:
        return r.scalars(scope).to_csv(index=False).encode()


def download_buttons(path: str | Path, key: str) -> None:
    """Per-step and per-epoch metrics of one run as CSV files."""
    name = Path(path).name
    c1, c2 = st.columns(2)
    c1.download_button("Per-step metrics (CSV)", data=partial(metrics_csv, str(path), "step"), key=f"{key}_steps",
                       file_name=f"{name}-steps.csv", mime="text/csv", on_click="ignore", icon=":material/download:")
    c2.download_button("Per-epoch metrics (CSV)", data=partial(metrics_csv, str(path), "epoch"), key=f"{key}_epochs",
                       file_name=f"{name}-epochs.csv", mime="text/csv", on_click="ignore", icon=":material/download:")


def label(row: Any, status: bool = True) -> str:
    """A run's one-line name in selectors: name · status (· demo)."""
    tag = " · demo (read-only)" if row.get("demo") else ""
    return f"{row['name']}" + (f" · {row['status']}" if status else "") + tag


def all_runs() -> pd.DataFrame:
    """The run table for this studio's runs dir, with the demo run."""
    demo = demo_dir()
    return run_table(str(runs_dir().resolve()), str(demo) if demo else None)


WATCHED = "watched_run"  # the run the Train & watch page shows


def watch(path: str | Path) -> None:
    """Make the Train & watch page show `path` (after Start): a new run selector carries the choice."""
    st.session_state[WATCHED] = str(path)
    st.session_state["watch_epoch"] = st.session_state.get("watch_epoch", 0) + 1


def run_select_key() -> str:
    """Key of the Train & watch run selector: live_run, then live_run_1, live_run_2... after each watch()."""
    n = st.session_state.get("watch_epoch", 0)
    return f"live_run_{n}" if n else "live_run"


def all_runs_or_stop() -> pd.DataFrame:
    """all_runs() for a page that has nothing to show without it: an unreadable runs folder is shown
    as an error and ends the page's run (the app stays up)."""
    try:
        return all_runs()
    except (TAAFError, OSError) as e:
        st.error(f"Cannot list runs in {runs_dir()}: {e}")
        st.stop()


def run_data(slot: str, path: str | Path) -> RunData:
    """This session's RunData for `slot` (one per page), replaced when the run changes: memory stays bounded."""
    path = Path(path)
    rd = st.session_state.get(slot)
    if not isinstance(rd, RunData) or rd.path != path:
        rd = RunData(path, immutable=is_demo(path))
        st.session_state[slot] = rd
        st.session_state.pop(f"{slot}_figs", None)
    return rd


def cached_fig(slot: str, name: str, key: Any, build: Any) -> go.Figure:
    """Rebuild a figure only when its data key changed; one entry per panel (bounded)."""
    figs: dict[str, tuple[Any, go.Figure]] = st.session_state.setdefault(f"{slot}_figs", {})
    hit = figs.get(name)
    if hit is None or hit[0] != key:
        hit = (key, build())
        figs[name] = hit
    return hit[1]


def plot(fig: go.Figure, key: str) -> None:
    """Every static chart of the studio: a plotly chart redrawn in place when its figure changes (Streamlit's
    own plotly chart would mount a new one), with the studio's look (figbuild.STUDIO_TEMPLATE)."""
    from studio import livechart  # here: livechart imports this module

    livechart.static_chart(fig, key)


def explain(text: str) -> None:
    """The 'what am I looking at' box under a panel title."""
    with st.expander("What am I looking at?"):
        st.markdown(text)


def flash(message: str, kind: str = "info") -> None:
    """A message shown once on the next run (from button callbacks)."""
    st.session_state["_flash"] = (kind, message)


def show_flash() -> None:
    kind, message = st.session_state.pop("_flash", (None, None))
    if message:
        {"error": st.error, "warning": st.warning, "success": st.success}.get(kind, st.info)(message)
