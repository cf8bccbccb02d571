"""Frame sequences (AV-Digits-T's 16-frame videos) as one strip of small images, and where a sample's events
lie on the network's timesteps; arrays in, plotly out (no Streamlit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from studio.charts.figbuild import Fig

GREYS = [[0.0, "#ffffff"], [1.0, "#000000"]]  # ink on paper: a blank frame is white
EVENT_COLOR = "#d62728"
STRIP_HEIGHT = 170  # px (studio/live/figures.py HEIGHTS)


def as_frames(visual: np.ndarray) -> np.ndarray | None:
    """(F, H, W) frames of a frame sequence ((F, H, W) or (F, C, H, W), first channel); None for one image."""
    v = np.asarray(visual, dtype=np.float32)
    if v.ndim == 4:
        return v[:, 0]
    return v if v.ndim == 3 and v.shape[0] > 1 and v.shape[0] != 3 else None


def strip_trace(frames: np.ndarray, zrange: tuple[float, float] | None = None) -> tuple[dict, list[float]]:
    """One heatmap of the frames side by side, one blank column between neighbours, and each frame's centre
    on x (one trace, not F subplots: 16 axes would cost more than the picture)."""
    f = np.asarray(frames, dtype=np.float32)
    n, h, w = f.shape
    z = np.full((h, n * (w + 1) - 1), np.nan, dtype=np.float32)  # NaN = the gap, drawn as background
    for k in range(n):
        z[:, k * (w + 1):k * (w + 1) + w] = f[k]
    lo, hi = (float(np.nanmin(f)), float(np.nanmax(f))) if zrange is None else (float(zrange[0]), float(zrange[1]))
    trace = {"type": "heatmap", "z": z.tolist(), "colorscale": GREYS, "showscale": False, "zmin": lo,
             "zmax": hi if hi > lo else lo + 1.0, "hoverongaps": False,
             "hovertemplate": "x %{x} y %{y}<br>%{z:.2f}<extra></extra>"}
    return trace, [k * (w + 1) + (w - 1) / 2 for k in range(n)]


def frame_box(k: int, w: int, h: int, xref: str = "x", yref: str = "y") -> dict:
    """The outline of frame k of a strip (its cells span [k(w+1) - 0.5, k(w+1) + w - 0.5])."""
    x0 = k * (w + 1) - 0.5
    return {"type": "rect", "xref": xref, "yref": yref, "x0": x0, "x1": x0 + w, "y0": -0.5, "y1": h - 0.5,
            "line": {"color": EVENT_COLOR, "width": 2}, "fillcolor": "rgba(0,0,0,0)"}


def frame_strip_figure(frames: np.ndarray, event: tuple[int, int] | None = None,
                       zrange: tuple[float, float] | None = None, title: str = "the video, frame by frame"
                       ) -> go.Figure:
    """The sequence (F, H, W) or (F, C, H, W) as F small frames in a row; with `event` = (on, off), frames
    on..off-1 (where the digit shows) outlined."""
    f = as_frames(frames)
    f = np.asarray(frames, dtype=np.float32)[None] if f is None else f
    n, h, w = f.shape
    fig = Fig()
    trace, centres = strip_trace(f, zrange)
    fig.add(trace)
    if event is not None:
        for k in range(max(0, int(event[0])), min(n, int(event[1]))):
            fig.layout["shapes"].append(frame_box(k, w, h))
    fig.xaxis(tickvals=centres, ticktext=[str(k) for k in range(n)], title={"text": "frame"}, showgrid=False)
    fig.yaxis(autorange="reversed", scaleanchor="x", showticklabels=False, showgrid=False)
    suffix = " · outlined: where the digit really shows" if event is not None else ""
    return fig.figure(STRIP_HEIGHT, title + suffix, legend=False)


def event_timesteps(event: Sequence[int], input_frames: Mapping[str, int], T: int) -> dict[str, tuple[float, float]]:
    """Where a sample's word and visual event lie on the network's T timesteps: audio frame a sits at fraction
    a / audio frames of the sequence, visual frame k at k / visual frames, so span [on, off) maps to
    [on / len * T, off / len * T) (timesteps counted from 0, fractional where a step holds part of it).
    `event` = (audio_on, audio_off, visual_on, visual_off) (core/recorder.py probe_inputs)."""
    a_len, v_len = int(input_frames["audio"]), int(input_frames["visual"])
    a_on, a_off, v_on, v_off = (int(x) for x in event)
    return {"audio": (a_on / a_len * T, a_off / a_len * T), "visual": (v_on / v_len * T, v_off / v_len * T)}
