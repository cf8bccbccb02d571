"""Where the studio finds its runs and the shipped demo run, and how often the browser polls (no Streamlit)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PANELS_S = 2.0  # each live chart asks for its figure this often (longer after costly redraws: livechart.js)
PULSE_S = 0.5  # the run bar (status and step) polls this often: a logged step shows within a second


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


def is_demo(path: str | Path) -> bool:
    """Whether `path` is the shipped demo run (read as an immutable snapshot, its folder never touched)."""
    demo = demo_dir()
    return bool(demo and Path(path) == demo)
