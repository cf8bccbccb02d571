"""The run list the pages choose from: every run of the runs folder, launched ones still starting and the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from core import launcher
from core.errors import TAAFError
from core.store import RunReader, list_runs
from studio.settings import demo_dir, is_demo, runs_dir
from studio.ui.text import plain


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


def reader(path: str | Path) -> RunReader:
    """A RunReader; the demo run is opened as an immutable snapshot."""
    return RunReader(Path(path), immutable=True if is_demo(path) else None)


def metrics_csv(path: str | Path, scope: str) -> bytes:
    """A run's full (unthinned) step or epoch metrics as CSV, built when the download button is pressed."""
    with reader(path) as r:
        return r.scalars(scope).to_csv(index=False).encode()


def label(row: Any, status: bool = True) -> str:
    """A run's one-line name in selectors: name · status (· demo)."""
    tag = " · demo (read-only)" if row.get("demo") else ""
    return f"{row['name']}" + (f" · {row['status']}" if status else "") + tag


def all_runs() -> pd.DataFrame:
    """The run table for this studio's runs dir, with the demo run."""
    demo = demo_dir()
    return run_table(str(runs_dir().resolve()), str(demo) if demo else None)


def all_runs_or_stop() -> pd.DataFrame:
    """all_runs() for a page that has nothing to show without it: an unreadable runs folder is shown
    as an error and ends the page's run (the app stays up)."""
    try:
        return all_runs()
    except (TAAFError, OSError) as e:
        st.error(f"Cannot list runs in {plain(runs_dir())}: {plain(e)}")
        st.stop()
