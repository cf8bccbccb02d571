"""The Inspect page's figures: the (corrupted) inputs, the what-if rasters with attention under them, and the
fused prediction building up over time (pure; no Streamlit)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go

from studio.charts.curves import COLORS, MODS, NAMES
from studio.charts.figbuild import Fig
from studio.charts.frames import as_frames, frame_box, strip_trace
from studio.charts.rasters import GRID_MAX_T, MIN_ROW_PX, _raster_trace, pick_neurons

# Explicit lists: figures skip plotly's validation (figbuild.py), which is what turns names into lists,
# and plotly.js itself knows only a few scale names (not Magma).
# Streamlit's browser side rewrites the strings "#000001" ... "#000032" in every plotly figure (its theme's
# placeholder colours; even with theme=None they become plotly's colorway): Magma's darkest, "#000004",
# came out lavender, so silence looked loud. Such colours are moved by one unit of red.
MAGMA = [[i / (len(pc.sequential.Magma) - 1), re.sub(r"^#0000(\d\d)$", r"#0100\1", c)]
         for i, c in enumerate(pc.sequential.Magma)]
GREYS = [[0.0, "#ffffff"], [1.0, "#000000"]]


def _centres(n: int) -> np.ndarray:
    """Cell centres of n equal steps on the normalised time axis [0, 1]."""
    return ((np.arange(n) + 0.5) / n).astype(np.float32)


def whatif_figure(result: Mapping[str, np.ndarray], audio_layer: str, visual_layer: str,
                  max_neurons: int | None = 60) -> go.Figure:
    """Each modality's raster with its attention α_u(t) right under it, on a shared normalised time axis.

    Audio layers run audio_steps timesteps, visual layers visual_steps and alpha the common T; every panel
    is placed on time in [0, 1] (step i of n covers [i/n, (i+1)/n]) so that they line up.
    """
    fig = Fig(5, 1, (f"audio raster · {audio_layer}", "α_audio(t)", f"visual raster · {visual_layer}",
                     "α_visual(t)", "α_fused(t)"), shared_xaxes=True, vertical_spacing=0.035,
              row_heights=[0.3, 0.11, 0.3, 0.11, 0.11])
    alpha = np.asarray(result["alpha"], dtype=np.float32)
    T = alpha.shape[1]
    for row, layer in ((1, audio_layer), (3, visual_layer)):
        key = f"spikes/{layer}"
        if key not in result:
            continue
        s = np.asarray(result[key])
        rows = len(pick_neurons(s, max_neurons))
        ygap = int(s.shape[0] <= GRID_MAX_T and 0.3 * (720 - 80) / max(rows, 1) >= MIN_ROW_PX)  # 30 % of the plot
        fig.add(_raster_trace(s, _centres(s.shape[0]), max_neurons,
                              "time %{x:.2f}<br>neuron %{customdata}<br>spike=%{z}<extra></extra>", ygap), row, 1)
        fig.yaxis(row, 1, autorange="reversed", title={"text": "neuron"})
    top = max(2.0 / T, float(alpha.max()) * 1.1)
    for row, i in ((2, 0), (4, 1), (5, 2)):
        u = MODS[i]
        fig.add({"type": "bar", "x": _centres(T), "y": alpha[i], "width": 0.9 / T, "name": f"α {NAMES[u]}",
                 "marker": {"color": COLORS[u]}, "hovertemplate": "t=%{x:.2f}<br>α=%{y:.3f}<extra></extra>"}, row, 1)
        fig.yaxis(row, 1, range=[0, top])
    fig.all_axes("x", range=[0, 1])
    fig.xaxis(5, 1, title={"text": "normalised time (0 = first step, 1 = last)"})
    return fig.figure(720, legend=False)


def buildup_figure(build_up: np.ndarray, class_names: Sequence[str], label: int | None = None) -> go.Figure:
    """Fused class probabilities using timesteps <= t: the prediction building up over time."""
    p = np.asarray(build_up, dtype=np.float32)
    t = np.arange(1, p.shape[0] + 1, dtype=np.int32)
    pred = int(p[-1].argmax())
    fig = Fig()
    for c in range(p.shape[1]):
        emph = c in (pred, label)
        name = class_names[c] if c < len(class_names) else str(c)
        tag = " (true)" if c == label else ""
        tag += " (predicted)" if c == pred else ""
        fig.add({"type": "scatter", "x": t, "y": p[:, c], "mode": "lines+markers" if emph else "lines",
                 "name": name + tag, "showlegend": emph,
                 "line": {"width": 3 if emph else 1, "color": None if emph else "#bbbbbb"}})
    fig.xaxis(title={"text": "timesteps used (t)"}, dtick=1)
    fig.yaxis(title={"text": "fused probability"}, range=[0, 1.02])
    return fig.figure(340, "Fused prediction building up over time")


def inputs_figure(audio: np.ndarray, visual: np.ndarray, audio_range: tuple[float, float] | None = None,
                  visual_range: tuple[float, float] | None = None,
                  event: tuple[int, int] | None = None) -> go.Figure:
    """The (corrupted) inputs as images: the spectrogram (F, L) and the frame (C, H, W), first channel; a frame
    sequence (F, C, H, W) (AV-Digits-T) as a strip of frames under the spectrogram, frames event[0]..event[1]-1
    outlined when given.

    `audio_range` / `visual_range`: fixed colour ranges, from the undamaged sample. Without them plotly
    stretches the colours over whatever is drawn, so a dropped (constant) spectrogram came out as one
    bright colour; with them silence, the log-mel floor, is the dark end, and a blank frame is white.
    """
    if as_frames(visual) is not None:
        return _inputs_sequence_figure(audio, visual, audio_range, visual_range, event)
    fig = Fig(1, 2, ("audio spectrogram", "visual frame"), column_widths=[0.6, 0.4])
    a = np.asarray(audio, dtype=np.float32)
    v = np.asarray(visual, dtype=np.float32)
    v = v[0] if v.ndim == 3 else v
    fig.add({"type": "heatmap", "z": a, "colorscale": MAGMA, "showscale": False, **_zrange(audio_range),
             "hovertemplate": "frame %{x}<br>band %{y}<br>%{z:.2f}<extra></extra>"}, 1, 1)
    fig.add({"type": "heatmap", "z": v, "colorscale": GREYS, "showscale": False, **_zrange(visual_range),
             "hovertemplate": "x %{x} y %{y}<br>%{z:.2f}<extra></extra>"}, 1, 2)
    fig.xaxis(1, 1, title={"text": "frame"})
    fig.yaxis(1, 1, title={"text": "mel band"})
    frame = {"showline": True, "mirror": True, "linecolor": "#9a9a9a", "showgrid": False}  # a blank frame shows
    fig.xaxis(1, 2, **frame)
    fig.yaxis(1, 2, autorange="reversed", scaleanchor="x2", **frame)
    return fig.figure(300, legend=False)


def _zrange(r: tuple[float, float] | None) -> dict:
    if r is None:
        return {}
    lo, hi = float(r[0]), float(r[1])
    return {"zmin": lo, "zmax": hi if hi > lo else lo + 1.0}


def _inputs_sequence_figure(audio: np.ndarray, visual: np.ndarray, audio_range: tuple[float, float] | None,
                            visual_range: tuple[float, float] | None, event: tuple[int, int] | None) -> go.Figure:
    """inputs_figure for a frame sequence: the spectrogram above, the frames in a row below."""
    frames = as_frames(visual)
    n, h, w = frames.shape
    fig = Fig(2, 1, ("audio spectrogram", f"visual: {n} frames"), row_heights=[0.6, 0.4], vertical_spacing=0.3)
    fig.add({"type": "heatmap", "z": np.asarray(audio, dtype=np.float32), "colorscale": MAGMA, "showscale": False,
             **_zrange(audio_range), "hovertemplate": "frame %{x}<br>band %{y}<br>%{z:.2f}<extra></extra>"}, 1, 1)
    trace, centres = strip_trace(frames, visual_range)
    fig.add(trace, 2, 1)
    if event is not None:
        for k in range(max(0, int(event[0])), min(n, int(event[1]))):
            fig.layout["shapes"].append(frame_box(k, w, h, "x2", "y2"))
    fig.xaxis(1, 1, title={"text": "audio frame"})
    fig.yaxis(1, 1, title={"text": "mel band"})
    fig.xaxis(2, 1, tickvals=centres, ticktext=[str(k) for k in range(n)], title={"text": "video frame"})
    fig.yaxis(2, 1, autorange="reversed", scaleanchor="x2", showticklabels=False, showgrid=False)
    return fig.figure(380, legend=False)
