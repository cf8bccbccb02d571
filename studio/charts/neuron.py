"""Neuron lab figures (pure: arrays -> figure): one neuron's input and membrane, and its f-I curve."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from studio.charts.figbuild import Fig

INPUT, MEMBRANE, SPIKE = "#ff8700", "#0068c9", "#ff2b2b"


def _vline(fig: Fig, x: float, row: int, dash: str = "dot", color: str = "gray") -> None:
    i = fig._idx(row, 1)
    fig.layout["shapes"].append({"type": "line", "xref": f"x{i}", "yref": f"y{i} domain", "x0": x, "x1": x,
                                 "y0": 0, "y1": 1, "line": {"dash": dash, "color": color, "width": 1}})


def sawtooth(v: np.ndarray, spikes: np.ndarray, v_before: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the membrane line: on a spike step it climbs to where v got (`v_before`, above the threshold),
    then drops straight to the reset value at the same step."""
    t = np.arange(1, len(v) + 1, dtype=np.float32)
    fired = spikes.astype(bool)
    x = np.repeat(t, np.where(fired, 2, 1))
    y = np.empty(len(x), dtype=np.float32)
    at = np.cumsum(np.where(fired, 2, 1)) - 1  # index of each step's last point (its value after reset)
    y[at] = v
    y[at[fired] - 1] = v_before[fired]
    return x, y


def neuron_figure(current: np.ndarray, v: np.ndarray, spikes: np.ndarray, v_th: float,
                  starts: Sequence[int] = (), bound: np.ndarray | None = None,
                  v_before: np.ndarray | None = None) -> go.Figure:
    """Input current (top) and membrane potential (bottom) of one neuron over S steps (1-D arrays), the
    threshold as a dashed line and each spike as a red tick above it.

    starts: steps where the membrane was reset to rest for a new sample (probe playback), drawn as dotted
    lines. bound: steps whose input is only a lower bound (marked on the input). v_before: the membrane before
    the reset (core.neuron_lab.membrane_before_reset): the line then shows each crossing and reset.
    """
    cur, v, z = (np.asarray(a, dtype=np.float32).ravel() for a in (current, v, spikes))
    t = np.arange(1, len(v) + 1, dtype=np.int32)
    vx, vy = (t, v) if v_before is None else sawtooth(v, z, np.asarray(v_before, dtype=np.float32).ravel())
    fig = Fig(2, 1, ("input current I(t)", "membrane potential v(t)"), shared_xaxes=True,
              vertical_spacing=0.09, row_heights=[0.3, 0.7])
    fig.add({"type": "scatter", "x": t, "y": cur, "mode": "lines", "name": "input current",
             "line": {"color": INPUT, "shape": "hv"}, "hovertemplate": "t=%{x}<br>I=%{y:.3f}<extra></extra>"}, 1)
    if bound is not None and np.any(bound):
        hit = np.flatnonzero(np.asarray(bound).ravel())
        fig.add({"type": "scatter", "x": t[hit], "y": cur[hit], "mode": "markers", "name": "at least this (fired)",
                 "marker": {"symbol": "triangle-up", "size": 8, "color": INPUT},
                 "hovertemplate": "t=%{x}<br>I ≥ %{y:.3f}<extra></extra>"}, 1)
    fig.add({"type": "scatter", "x": vx, "y": vy, "mode": "lines+markers" if len(v) <= 40 else "lines",
             "name": "membrane v", "line": {"color": MEMBRANE}, "marker": {"size": 5},
             "hovertemplate": "t=%{x}<br>v=%{y:.3f}<extra></extra>"}, 2)
    hit = np.flatnonzero(z)
    top = max(float(vy.max(initial=0.0)), v_th)
    if hit.size:
        fig.add({"type": "scatter", "x": t[hit], "y": np.full(hit.size, top * 1.12 + 0.02, np.float32),
                 "mode": "markers", "name": f"spike ({hit.size})",
                 "marker": {"symbol": "line-ns-open", "size": 14, "color": SPIKE, "line": {"width": 3}},
                 "hovertemplate": "spike at t=%{x}<extra></extra>"}, 2)
    fig.hline(v_th, row=2, dash="dash", color="black")
    fig.layout["annotations"].append({"xref": "x2 domain", "yref": "y2", "x": 0, "y": v_th, "showarrow": False,
                                      "text": f"threshold v_th = {v_th:g}", "xanchor": "left", "yanchor": "bottom",
                                      "font": {"size": 11}, "bgcolor": "rgba(255,255,255,0.8)"})
    for s in starts:
        for row in (1, 2):
            _vline(fig, s + 0.5, row)
    fig.yaxis(1, 1, title={"text": "I"})
    fig.yaxis(2, 1, title={"text": "v"}, range=[min(float(vy.min(initial=0.0)), 0.0) - 0.05, top * 1.25 + 0.05])
    fig.xaxis(2, 1, title={"text": "timestep (1 step = 1 ms)"})
    return fig.figure(460)


def f_i_figure(currents: np.ndarray, rates: np.ndarray, rheobase: float,
               point: tuple[float, float] | None = None, steps: int | None = None) -> go.Figure:
    """Firing rate against a constant input current, the rheobase (the current below which the neuron never
    fires) as a dotted line, and `point` (current, rate): where the student's input sits on the curve."""
    cur, r = np.asarray(currents, dtype=np.float32), np.asarray(rates, dtype=np.float32)
    fig = Fig()
    fig.add({"type": "scatter", "x": cur, "y": r, "mode": "lines", "name": "firing rate",
             "line": {"color": MEMBRANE}, "hovertemplate": "I=%{x:.3f}<br>%{y:.0f} spikes/s<extra></extra>"})
    if point is not None:
        fig.add({"type": "scatter", "x": [point[0]], "y": [point[1]], "mode": "markers", "name": "your input",
                 "marker": {"size": 11, "color": INPUT},
                 "hovertemplate": "your input I=%{x:.3f}<br>%{y:.0f} spikes/s<extra></extra>"})
    _vline(fig, rheobase, 1)
    fig.layout["annotations"].append({"x": rheobase, "y": 1, "xref": "x", "yref": "y domain", "showarrow": False,
                                      "text": f"rheobase {rheobase:g}", "xanchor": "left", "yanchor": "top",
                                      "font": {"size": 11}})
    held = f", held {steps} steps from rest" if steps else ""
    fig.xaxis(title={"text": f"constant input current I{held}"})
    fig.yaxis(title={"text": "firing rate (spikes/s)"}, rangemode="tozero")
    return fig.figure(360, legend=False)
