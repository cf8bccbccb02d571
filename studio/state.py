"""Small Streamlit helpers shared by the pages: settings, the run list, per-session run data, help boxes."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import launcher
from core.errors import TAAFError
from core.store import list_runs
from studio.rundata import RunData

REPO_ROOT = Path(__file__).resolve().parents[1]
REFRESH_S = 1.0  # live panels poll the store this often
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
    """Every run in `runs` (plus launched ones still starting) and the demo run; newest first."""
    table = list_runs(runs)
    table["demo"] = False
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
        rows = list_runs(Path(demo).parent)
        rows = rows[rows["path"] == str(demo)].assign(demo=True)
        extra += rows.to_dict("records")
    if extra:
        table = pd.concat([table, pd.DataFrame(extra)], ignore_index=True) if len(table) else pd.DataFrame(extra)
    if table.empty:
        return table
    table["status"] = table["status"].fillna("unknown")
    table["_created"] = pd.to_numeric(table.get("created"), errors="coerce").fillna(0)
    return table.sort_values(["demo", "_created"], ascending=[True, False]).reset_index(drop=True)


def label(row: Any, status: bool = True) -> str:
    """A run's one-line name in selectors: name · status (· demo)."""
    tag = " · demo (read-only)" if row.get("demo") else ""
    return f"{row['name']}" + (f" · {row['status']}" if status else "") + tag


def all_runs() -> pd.DataFrame:
    """The run table for this studio's runs dir, with the demo run."""
    demo = demo_dir()
    return run_table(str(runs_dir().resolve()), str(demo) if demo else None)


def run_data(slot: str, path: str | Path) -> RunData:
    """This session's RunData for `slot` (one per page), replaced when the run changes: memory stays bounded."""
    path = Path(path)
    rd = st.session_state.get(slot)
    if not isinstance(rd, RunData) or rd.path != path:
        rd = RunData(path)
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
