"""Small widgets every page uses: a static chart, the 'What am I looking at?' box, the CSV downloads."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from core.errors import TAAFError
from core.rerun import rerun_command
from studio.live import livechart
from studio.ui.runlist import metrics_csv, reader
from studio.ui.text import plain


def download_buttons(path: str | Path, key: str) -> None:
    """Per-step and per-epoch metrics of one run as CSV files."""
    name = Path(path).name
    c1, c2 = st.columns(2)
    c1.download_button("Per-step metrics (CSV)", data=partial(metrics_csv, str(path), "step"), key=f"{key}_steps",
                       file_name=f"{name}-steps.csv", mime="text/csv", on_click="ignore", icon=":material/download:")
    c2.download_button("Per-epoch metrics (CSV)", data=partial(metrics_csv, str(path), "epoch"), key=f"{key}_epochs",
                       file_name=f"{name}-epochs.csv", mime="text/csv", on_click="ignore", icon=":material/download:")


def plot(fig: go.Figure, key: str) -> None:
    """Every static chart of the studio: a plotly chart redrawn in place when its figure changes (Streamlit's
    own plotly chart would mount a new one), with the studio's look (figbuild.STUDIO_TEMPLATE)."""
    livechart.static_chart(fig, key)


def explain(text: str) -> None:
    """The 'what am I looking at' box under a panel title."""
    with st.expander("What am I looking at?"):
        st.markdown(text)


def command_line(path: str | Path, key: str) -> None:
    """The command that trains this run again (core/rerun.py), with the code block's copy button."""
    try:
        with reader(path) as r:
            command = rerun_command(r.config())
    except (TAAFError, OSError) as e:
        st.caption(f"No command line for this run: {plain(e)}")
        return
    with st.expander("Train this run again from the command line", icon=":material/terminal:", key=key):
        st.code(command, language="bash")
        st.caption("From the repository root: the run's settings and seed (its config.json), as `--set`s over the "
                   "shipped config closest to it; the new run gets a new folder under `runs/`.")
