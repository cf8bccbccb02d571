"""Every `/taaf/...` path the studio serves beside Streamlit, and the functions that build their URLs.

The routes (studio/live/routes.py) are declared with these paths and the pages (through studio/ui/panels.py and
studio/live/livechart.py) ask for them with these builders: a path is written here and nowhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import plotly.offline

# plotly.js's "cartesian" bundle (scatter, bar, heatmap... every trace type the studio draws), from npm's
# plotly.js-cartesian-dist-min at the version the plotly package pins: 1.5 MB against the full 4.8 MB, which
# a first visit's browser spent about a second evaluating before it could draw the first chart.
PLOTLY_FILE = (Path(__file__).resolve().parents[1] / "static"
               / f"plotly-cartesian-{plotly.offline.get_plotlyjs_version()}.min.js")
PLOTLY_URL = f"/taaf/{PLOTLY_FILE.name}"  # versioned: cached for good
HEAD_PATH = "/taaf/api/head"  # the run bar: status, step, epoch, accuracy, speed
FIGURE_PATH = "/taaf/api/fig/{name}"  # one panel's figure, with its version
DEMO = "@demo"  # the run token of the shipped demo run (any other token is a folder name in the runs folder)


def head_src(run: str, **params: Any) -> str:
    """The run bar's route for run `run` (a folder name, or DEMO); `t0` replays it from that time."""
    return f"{HEAD_PATH}?" + urlencode({"run": run, **params})


def figure_src(run: str, name: str, **params: Any) -> str:
    """The live route of figure `name` of run `run` (a folder name, or DEMO)."""
    return FIGURE_PATH.format(name=name) + "?" + urlencode({"run": run, **params})
