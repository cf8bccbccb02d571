"""TAAF attention figures: alpha over training (heatmaps) and alpha now (bars); arrays in, plotly out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from studio.charts.curves import _a
from studio.charts.figbuild import Fig
from studio.charts.streams import DEFAULT_STREAMS, stream_colors

ALPHA_HISTORY_HEIGHT, ALPHA_BARS_HEIGHT = 280, 310  # px (studio/live/figures.py HEIGHTS)


def alpha_history_figure(steps: Sequence[int], alphas: np.ndarray, streams: Mapping[str, str] | None = None
                         ) -> go.Figure:
    """Heatmaps of alpha_u(t) over training: x = training step, y = timestep, one panel per stream u.

    `alphas` is (S, K, T): the probe-sample mean of alpha at each of the S probe steps, one row per stream of
    `streams` ({suffix: name}, default audio, visual, fused), in its order.
    """
    names = list((streams or DEFAULT_STREAMS).values())
    fig = Fig(1, len(names), [f"α_{name}(t)" for name in names], shared_yaxes=True, horizontal_spacing=0.03)
    if len(steps) == 0:
        fig.note("attention appears at the first probe step…")
        return fig.figure(ALPHA_HISTORY_HEIGHT, legend=False)
    a = np.asarray(alphas, dtype=np.float32)
    t = np.arange(1, a.shape[2] + 1, dtype=np.int32)
    for i in range(min(len(names), a.shape[1])):
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


def alpha_bars_figure(alpha: np.ndarray, title: str = "Current attention α_u(t)",
                      streams: Mapping[str, str] | None = None) -> go.Figure:
    """Grouped bars of alpha (K, T) per timestep, one row per stream ({suffix: name}, default audio, visual,
    fused); each row sums to 1 over t."""
    streams = streams or DEFAULT_STREAMS
    colors = stream_colors(streams)
    a = np.asarray(alpha, dtype=np.float32)
    t = np.arange(1, a.shape[1] + 1, dtype=np.int32)
    fig = Fig()
    for i, (u, name) in enumerate(list(streams.items())[: a.shape[0]]):
        fig.add({"type": "bar", "x": t, "y": a[i], "name": name, "marker": {"color": colors[u]}})
    fig.hline(1.0 / a.shape[1], text="uniform", dash="dot", color="gray")
    fig.xaxis(title={"text": "timestep t"}, dtick=1)
    fig.yaxis(title={"text": "α"}, rangemode="tozero")
    return fig.figure(ALPHA_BARS_HEIGHT, title, barmode="group")


PROBE_ALPHA_HEIGHT = 230  # px (studio/live/figures.py HEIGHTS)
EVENT_COLOR = "#111111"


def probe_alpha_figure(alpha: np.ndarray, spans: Mapping[str, tuple[float, float]] | None = None,
                       title: str = "α_u(t) of this sample", streams: Mapping[str, str] | None = None) -> go.Figure:
    """One sample's attention (K, T) as a heatmap (one row per stream of `streams`, default audio, visual, fused;
    x = timestep 1..T); with `spans` (frames.event_timesteps: {"audio": (t0, t1), "visual": ...} in timesteps from
    0), the span of the audio and visual rows where the word and the digit really are outlined."""
    a = np.asarray(alpha, dtype=np.float32)
    T = a.shape[1]
    rows = list((streams or DEFAULT_STREAMS).values())[: a.shape[0]]
    fig = Fig()
    fig.add({"type": "heatmap", "z": a, "x": np.arange(1, T + 1, dtype=np.int32), "y": rows,
             "coloraxis": "coloraxis", "hovertemplate": "%{y}<br>t=%{x}<br>α=%{z:.3f}<extra></extra>"})
    for u, what in (("audio", "the word"), ("visual", "the digit")):
        if spans is None or u not in spans or u not in rows:
            continue
        i = rows.index(u)
        t0, t1 = spans[u]
        # cell t (1-based) covers [t - 0.5, t + 0.5]: timestep position s (from 0) sits at x = s + 0.5
        fig.layout["shapes"].append({"type": "rect", "xref": "x", "yref": "y", "x0": t0 + 0.5, "x1": t1 + 0.5,
                                     "y0": i - 0.45, "y1": i + 0.45, "name": f"where {what} really is",
                                     "line": {"color": EVENT_COLOR, "width": 2.5, "dash": "dot"},
                                     "fillcolor": "rgba(0,0,0,0)"})
    fig.xaxis(title={"text": "timestep t"}, dtick=1, range=[0.5, T + 0.5])
    fig.yaxis(autorange="reversed")
    if spans:  # on its own line: the panel sits in a narrow column beside the video strip
        title += "<br><sup>dotted boxes: where the word / the digit really is</sup>"
    out = fig.figure(PROBE_ALPHA_HEIGHT, title, legend=False, coloraxis=alpha_colors(T, float(a.max())))
    if spans:
        out.layout.margin.t = 64
    return out
