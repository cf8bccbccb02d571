"""The run list the pages choose from: every run of the runs folder, launched ones still starting and the demo."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Mapping
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
            test = meta.get("test")
            row.update(status=st_["status"], strategy=meta.get("strategy"), preset=meta.get("preset"),
                       seed=meta.get("seed"), T=meta.get("T"), epochs=meta.get("epochs"),
                       test_acc_f=test.get("acc_f") if isinstance(test, dict) else None,
                       steps=r.last_step() + 1, total_steps=meta.get("total_steps"),
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


def _known(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def label(row: Any, status: bool = True) -> str:
    """A run's one-line name in selectors, what tells runs apart first (two runs of one strategy differ in T,
    epochs or seed): `taaf · audio-dominant · T 16 · 12 epochs · seed 0 · finished · test 93.8 % · 12-07 21:46`.
    A row without a strategy (unreadable, still loading) is its folder name."""
    tag = " · demo (read-only)" if row.get("demo") else ""
    if not _known(row.get("strategy")):
        return f"{row['name']}" + (f" · {row['status']}" if status else "") + tag
    parts = [str(row["strategy"]), str(row.get("preset") or "?")]
    if _known(row.get("T")):
        parts.append(f"T {int(row['T'])}")
    if _known(row.get("epochs")):
        parts.append(f"{int(row['epochs'])} epoch" + ("" if int(row["epochs"]) == 1 else "s"))
    if _known(row.get("seed")):
        parts.append(f"seed {int(row['seed'])}")
    if status:
        parts.append(str(row["status"]))
    if _known(row.get("test_acc_f")):
        parts.append(f"test {100 * float(row['test_acc_f']):.1f} %")
    if _known(row.get("created")) and not row.get("demo"):  # two otherwise equal runs: when each was started
        parts.append(time.strftime("%m-%d %H:%M", time.localtime(float(row["created"]))))
    return " · ".join(parts) + tag


def labeller(rows: Mapping[str, Any], status: bool = True) -> Callable[[str], str]:
    """format_func for a selector over `rows` (key -> run row): each run's `label`, with its folder name added
    where two labels would read the same (Streamlit's selectors also match choices by their label)."""
    labels = {k: label(r, status) for k, r in rows.items()}
    seen = Counter(labels.values())
    unique = {k: f"{v} · {rows[k]['name']}" if seen[v] > 1 else v for k, v in labels.items()}
    return lambda k: unique.get(k, Path(str(k)).name)


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
