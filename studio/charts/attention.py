"""TAAF attention figures: alpha over training (heatmaps) and alpha now (bars); arrays in, plotly out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from studio.charts.curves import COLORS, MODS, NAMES, _a
from studio.charts.figbuild import Fig

ALPHA_HISTORY_HEIGHT, ALPHA_BARS_HEIGHT = 280, 310  # px (studio/live/figures.py HEIGHTS)


def alpha_history_figure(steps: Sequence[int], alphas: np.ndarray) -> go.Figure:
    """Heatmaps of alpha_u(t) over training: x = training step, y = timestep, one panel per u.

    `alphas` is (S, 3, T): the probe-sample mean of alpha at each of the S probe steps.
    """
    fig = Fig(1, 3, [f"α_{NAMES[u]}(t)" for u in MODS], shared_yaxes=True, horizontal_spacing=0.03)
    if len(steps) == 0:
        fig.note("attention appears at the first probe step…")
        return fig.figure(ALPHA_HISTORY_HEIGHT, legend=False)
    a = np.asarray(alphas, dtype=np.float32)
    t = np.arange(1, a.shape[2] + 1, dtype=np.int32)
    for i in range(3):
        fig.add({"type": "heatmap", "z": a[:, i, :].T, "x": _a(steps), "y": t, "coloraxis": "coloraxis",
                 "hovertemplate": "step %{x}<br>t=%{y}<br>α=%{z:.3f}<extra></extra>"}, 1, i + 1)
    fig.all_axes("x", title={"text": "training step"})
    if len(steps) == 1:  # one column: a numeric axis would span 0.5-1.5 around it; name the step instead
        fig.all_axes("x", type="category")
    fig.yaxis(1, 1, title={"text": "timestep t"}, dtick=1)
    return fig.figure(ALPHA_HISTORY_HEIGHT, legend=False, coloraxis=alpha_colors(a.shape[2], float(a.max())))


def alpha_colors(T: int, top: float) -> dict:
    """Diverging colours with white at uniform attention 1/T: red = more than its share, blue = less."""
    uniform = 1.0 / T
    cmax = max(2 * uniform, top, 1e-6)
    mid = uniform / cmax
    return {"colorscale": [[0.0, "#2166ac"], [mid, "#f7f7f7"], [1.0, "#b2182b"]], "cmin": 0.0, "cmax": cmax,
            "colorbar": {"title": {"text": "α"}, "thickness": 12, "tickvals": [0, uniform, cmax],
                         "ticktext": ["0", f"1/T = {uniform:.2f}", f"{cmax:.2f}"]}}


def alpha_bars_figure(alpha: np.ndarray, title: str = "Current attention α_u(t)") -> go.Figure:
    """Grouped bars of alpha (3, T) per timestep; each row sums to 1 over t."""
    a = np.asarray(alpha, dtype=np.float32)
    t = np.arange(1, a.shape[1] + 1, dtype=np.int32)
    fig = Fig()
    for i, u in enumerate(MODS):
        fig.add({"type": "bar", "x": t, "y": a[i], "name": NAMES[u], "marker": {"color": COLORS[u]}})
    fig.hline(1.0 / a.shape[1], text="uniform", dash="dot", color="gray")
    fig.xaxis(title={"text": "timestep t"}, dtick=1)
    fig.yaxis(title={"text": "α"}, rangemode="tozero")
    return fig.figure(ALPHA_BARS_HEIGHT, title, barmode="group")
