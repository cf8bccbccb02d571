"""The studio's two browser-side components (Streamlit components v2, no iframe): a plotly chart that updates
in place, and the live run bar.

Why: `st.plotly_chart` in Streamlit 1.67 hashes the figure into the element's identity, so every changed
figure mounts a new chart. These components keep their DOM node (their key is their identity) and redraw
with `Plotly.react`, which keeps the user's zoom (figures carry `uirevision`). A live chart fetches its own
figure from the live routes (studio/live/routes.py); a static one gets its figure JSON from the script run.
plotly.js itself is served once by the studio (urls.PLOTLY_URL) and cached by the browser.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from studio.live.urls import PLOTLY_URL

_HERE = Path(__file__).parent
_CSS = """
.taaf-chart { width: 100%; contain: content; }
.taaf-chart-note { color: #808495; font-size: 0.85rem; min-height: 0; }
.taaf-head { font-family: inherit; margin-bottom: 0.5rem; contain: content; will-change: transform; }
.taaf-progress { height: 0.5rem; background: #f0f2f6; border-radius: 0.25rem; overflow: hidden; }
.taaf-fill { height: 100%; width: 100%; background: #ff4b4b; transform-origin: left; transform: scaleX(0); }
.taaf-text { font-size: 0.95rem; margin: 0.3rem 0 0.6rem 0; }
.taaf-metrics { display: grid; grid-template-columns: repeat(4, 1fr); gap: 1rem; }
.taaf-label { font-size: 0.875rem; color: #31333F; }
.taaf-value { font-size: 2.25rem; line-height: 1.2; font-variant-numeric: tabular-nums; }
.taaf-delta { font-size: 0.9rem; min-height: 1.2rem; }
.taaf-delta.up { color: #09ab3b; } .taaf-delta.down { color: #ff2b2b; }
"""
_chart = st.components.v2.component("taaf_chart", js=(_HERE / "livechart.js").read_text(), css=_CSS,
                                    isolate_styles=False)
_head = st.components.v2.component("taaf_head", js=(_HERE / "livehead.js").read_text(), css=_CSS,
                                   isolate_styles=False)


def _height(fig: go.Figure) -> int:
    return int(fig.layout.height or 450)


def static_chart(fig: go.Figure, key: str) -> None:
    """A figure drawn from this script run (Compare, Inspect, Neuron lab): redrawn in place."""
    _chart(key=key, data={"fig": fig.to_json(), "plotly": PLOTLY_URL, "height": _height(fig)})


def static_chart_json(fig_json: str, height: int, key: str) -> None:
    """A figure already built as plotly JSON (finished runs and Replay, from the live cache): redrawn in place."""
    _chart(key=key, data={"fig": fig_json, "plotly": PLOTLY_URL, "height": height})


def live_chart(src: str, key: str, height: int, every_s: float = 2.0, fill_px: int | None = None) -> None:
    """A chart that fetches its figure from `src` every `every_s` (and less often if redraws are costly); with
    `fill_px`, it fills the window's height but that many pixels (the presenter)."""
    _chart(key=key, data={"src": src, "plotly": PLOTLY_URL, "height": height, "every": every_s,
                          **({"fill": fill_px} if fill_px else {})})


def run_head(key: str, src: str | None, status: str, initial: dict[str, Any], every_s: float,
             on_status_change: Callable[[], None]) -> None:
    """The run bar; with `src` it polls the run's header every `every_s` and reruns the page on a status change."""
    _head(key=key, data={"src": src, "status": status, "initial": initial, "every": every_s},
          on_status_change=on_status_change)
