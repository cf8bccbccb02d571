"""TAAF Studio's page navigation: the Streamlit script that studio/app.py serves.

One page per file in studio/views/ (not pages/: Streamlit runs a script in a folder named pages/ by
itself when its URL is opened, without this navigation, the page config or the studio's CSS).
Training never runs in this process: runs are separate `python -m core.train` processes started
through core.launcher and read through core.store.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run studio/app.py` puts studio/, not the repo, on sys.path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from studio.ui import look  # noqa: E402 (no heavy imports)

st.set_page_config(page_title="TAAF Studio", page_icon="⚡", layout="wide")
look.apply()  # first, before the imports below: Streamlit's own Stop shows after 0.5 s of any run

from studio import settings  # noqa: E402

PAGES = [
    st.Page("views/1_train.py", title="Train & watch", icon=":material/monitoring:", default=True),
    st.Page("views/2_compare.py", title="Compare runs", icon=":material/stacked_line_chart:"),
    st.Page("views/3_inspect.py", title="Inspect a sample", icon=":material/biotech:"),
    st.Page("views/4_replay.py", title="Replay", icon=":material/replay:"),
    st.Page("views/5_neuron_lab.py", title="Neuron lab", icon=":material/science:"),
    st.Page("views/7_sweeps.py", title="Sweeps", icon=":material/view_list:"),
    st.Page("views/6_present.py", title="Presenter mode", icon=":material/slideshow:", url_path="present"),
]

nav = st.navigation(PAGES)
with st.sidebar:
    st.markdown("### ⚡ TAAF Studio")
    st.caption("Spiking audio-visual network with temporal attention-guided adaptive fusion. "
               f"Runs folder: `{settings.runs_dir()}`")
nav.run()
