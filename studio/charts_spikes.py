"""Pure chart builders for spikes and attention: ndarrays in, plotly Figures out (no Streamlit here).

Rasters are heatmaps (one brick per neuron x timestep), never one marker per spike: a raster of
3 layers x 2,000 neurons x T builds in a few tens of ms (bench/bench_charts.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go

from studio.charts import COLORS, MODS, NAMES, _a
from studio.charts_neuron import MEMBRANE, SPIKE, sawtooth  # the Neuron lab's neuron, drawn the same way
from studio.figbuild import Fig

# Silent cells light grey, spikes black, the gaps between cells white: at small T every neuron x timestep
# cell stays a cell (a grid), so neighbouring spikes never merge into one bar.
RASTER_SCALE = [[0.0, "#e6e8ee"], [1.0, "#111111"]]
GRID_MAX_T = 32  # up to this many timesteps a raster is drawn as a grid of cells
MIN_ROW_PX = 3  # neuron rows at least this tall (a 1 px gap + 2 px of cell), growing the figure up to ...
MAX_RASTER_HEIGHT = 900  # ... this height; past it rows are thinner and drawn without gaps
# Explicit lists: figures skip plotly's validation (figbuild.py), which is what turns names into lists,
# and plotly.js itself knows only a few scale names (not Magma).
# Streamlit's browser side rewrites the strings "#000001" ... "#000032" in every plotly figure (its theme's
# placeholder colours; even with theme=None they become plotly's colorway): Magma's darkest, "#000004",
# came out lavender, so silence looked loud. Such colours are moved by one unit of red.
MAGMA = [[i / (len(pc.sequential.Magma) - 1), re.sub(r"^#0000(\d\d)$", r"#0100\1", c)]
         for i, c in enumerate(pc.sequential.Magma)]
GREYS = [[0.0, "#ffffff"], [1.0, "#000000"]]


def alpha_history_figure(steps: Sequence[int], alphas: np.ndarray) -> go.Figure:
    """Heatmaps of alpha_u(t) over training: x = training step, y = timestep, one panel per u.

    `alphas` is (S, 3, T): the probe-sample mean of alpha at each of the S probe steps.
    """
    fig = Fig(1, 3, [f"α_{NAMES[u]}(t)" for u in MODS], shared_yaxes=True, horizontal_spacing=0.03)
    if len(steps) == 0:
        fig.note("attention appears at the first probe step…")
        return fig.figure(280, legend=False)
    a = np.asarray(alphas, dtype=np.float32)
    t = np.arange(1, a.shape[2] + 1, dtype=np.int32)
    for i in range(3):
        fig.add({"type": "heatmap", "z": a[:, i, :].T, "x": _a(steps), "y": t, "coloraxis": "coloraxis",
                 "hovertemplate": "step %{x}<br>t=%{y}<br>α=%{z:.3f}<extra></extra>"}, 1, i + 1)
    fig.all_axes("x", title={"text": "training step"})
    fig.yaxis(1, 1, title={"text": "timestep t"}, dtick=1)
    return fig.figure(280, legend=False, coloraxis=alpha_colors(a.shape[2], float(a.max())))


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
    return fig.figure(310, title, barmode="group")


def pick_neurons(spikes: np.ndarray, max_neurons: int | None) -> np.ndarray:
    """Neuron indices sorted by firing rate (most active first), evenly thinned to `max_neurons`.

    Thinning keeps the spread of rates (silent neurons stay visible) rather than only the busiest.
    """
    rate = spikes.mean(axis=0)
    order = np.argsort(-rate, kind="stable")
    if max_neurons is not None and len(order) > max_neurons:
        order = order[np.linspace(0, len(order) - 1, max_neurons).astype(int)]
    return order


def _raster_trace(s: np.ndarray, x: np.ndarray, max_neurons: int | None, hover: str, ygap: int = 0) -> dict:
    idx = pick_neurons(s, max_neurons)
    z = s[:, idx].T.astype(np.uint8)  # (neurons, T)
    return {"type": "heatmap", "z": z, "x": x, "y": np.arange(len(idx), dtype=np.int32),
            "customdata": np.broadcast_to(idx.astype(np.int32)[:, None], z.shape), "colorscale": RASTER_SCALE,
            "zmin": 0, "zmax": 1, "showscale": False, "xgap": 2 if s.shape[0] <= GRID_MAX_T else 0,
            "ygap": ygap, "hovertemplate": hover}


def raster_layout(T: int, neurons: int, height: int, margins: int = 70) -> tuple[int, int]:
    """(figure height, gap between neuron rows) so that a small-T raster reads as neuron x time cells."""
    if T > GRID_MAX_T:
        return height, 0
    height = min(max(height, margins + MIN_ROW_PX * neurons), MAX_RASTER_HEIGHT)
    return height, 1 if (height - margins) / max(neurons, 1) >= MIN_ROW_PX else 0


def raster_figure(layers: Mapping[str, np.ndarray], max_neurons: int | None = 300,
                  height: int = 360) -> go.Figure:
    """Spike rasters, one panel per layer: x = timestep, y = neuron (sorted by firing rate), dark = spike.

    Each value is (T_layer, N_layer) of 0/1 for one sample.
    """
    names = list(layers)
    fig = Fig(1, max(len(names), 1), names or ["no layer"], horizontal_spacing=0.04)
    if not names:
        fig.note("no spikes recorded")
        return fig.figure(height, legend=False)
    arrays = [np.asarray(layers[name]) for name in names]
    shown = max(len(pick_neurons(a, max_neurons)) for a in arrays)
    height, ygap = raster_layout(max(a.shape[0] for a in arrays), shown, height)
    for i, (name, s) in enumerate(zip(names, arrays, strict=True)):
        fig.add(_raster_trace(s, np.arange(1, s.shape[0] + 1, dtype=np.int32), max_neurons,
                              "t=%{x}<br>neuron %{customdata}<br>spike=%{z}<extra></extra>", ygap), 1, i + 1)
        fig.title(i, f"{name}  ({s.shape[1]} neurons, rate {float(s.mean()):.3f})")
        fig.xaxis(1, i + 1, title={"text": "timestep"}, dtick=1 if s.shape[0] <= 16 else None)
        fig.yaxis(1, i + 1, autorange="reversed", showgrid=False)
    fig.yaxis(1, 1, title={"text": "neuron (by rate)"})
    return fig.figure(height, legend=False)


MEMBRANE_SHOWN = 4  # neurons in the membrane panel: a 2 x 2 grid stays readable on a projector


def active_neurons(spikes: np.ndarray, k: int = MEMBRANE_SHOWN, v_peak: np.ndarray | None = None) -> list[int]:
    """The k recorded neurons (columns of a (T, M) 0/1 array) that show integrate-and-fire best: most spikes
    after a silent step (each a rise from below the threshold, a crossing and a reset), then most spikes, then
    the highest membrane peak (how close a silent neuron came). A spike train already shown is passed over
    while others remain: neighbouring neurons of a layer often fire alike (silent ones differ in their membrane)."""
    z = np.asarray(spikes).astype(bool)
    cycles = (z & ~np.vstack([np.zeros_like(z[:1]), z[:-1]])).sum(axis=0)
    peak = np.zeros(z.shape[1]) if v_peak is None else np.asarray(v_peak, dtype=np.float64)
    order = np.lexsort((-peak, -z.sum(axis=0), -cycles)).tolist()  # the last key sorts first
    distinct, twins, seen = [], [], set()
    for n in order:
        train = z[:, n].tobytes()
        (twins if z[:, n].any() and train in seen else distinct).append(n)
        seen.add(train)
    return (distinct + twins)[:k]


def _membrane_line(v: np.ndarray, z: np.ndarray, v_before: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, str]:
    """(x, y, line shape) of one neuron's membrane over T steps. With the membrane before the reset: from rest
    at t = 0, each spike step climbs to where v got and drops to the reset at the same step (a sawtooth).
    Without it (older runs) only the after-reset value is known: a flat step centred on each tick."""
    if v_before is None:
        edges = np.arange(len(v) + 1, dtype=np.float32) + 0.5  # step i spans [i - 0.5, i + 0.5]
        return edges, np.r_[v, v[-1:]], "hv"
    x, y = sawtooth(v, z, v_before)
    return np.r_[np.float32(0), x], np.r_[np.float32(0), y], "linear"


def membrane_figure(membrane: np.ndarray, spikes: np.ndarray | None, v_th: float,
                    neurons: Sequence[int] | None = None, title: str = "Membrane potential",
                    v_before: np.ndarray | None = None) -> go.Figure:
    """One small plot per neuron (2 x 2): its membrane (T, M) with the threshold line and its spikes marked.

    neurons: columns to show; default the MEMBRANE_SHOWN most active (`active_neurons`). v_before: (T, M),
    the membrane before each step's reset (core.neuron_lab.membrane_before_reset): the line then rises
    above the threshold on every spike step and drops to the reset, so integrate, leak, fire and reset all show.
    """
    v = np.asarray(membrane, dtype=np.float32)
    T, M = v.shape
    z = np.zeros(v.shape, np.uint8) if spikes is None else np.asarray(spikes)[:, :M].astype(np.uint8)
    vb = None if v_before is None else np.asarray(v_before, dtype=np.float32)
    if neurons is None:
        neurons = active_neurons(z, MEMBRANE_SHOWN, (v if vb is None else np.maximum(v, vb)).max(axis=0))
    neurons = [n for n in neurons if 0 <= n < M]
    cols = 2 if len(neurons) > 1 else 1
    rows = max(1, -(-len(neurons) // cols))
    counts = [int(z[:, n].sum()) for n in neurons]
    fig = Fig(rows, cols, [f"neuron {n} · {c} spike{'s' if c != 1 else ''}" for n, c in zip(neurons, counts,
                                                                                         strict=True)],
              shared_xaxes=True, shared_yaxes=True, horizontal_spacing=0.06, vertical_spacing=0.2 if rows > 1 else 0.1)
    lines = [_membrane_line(v[:, n], z[:, n], None if vb is None else vb[:, n]) for n in neurons]
    finite = [y[np.isfinite(y)] for _, y, _ in lines]  # a diverged run's float16 membrane holds inf
    lo = min([0.0, *(float(y.min()) for y in finite if y.size)])
    top = max([v_th, *(float(y.max()) for y in finite if y.size)])
    mark_y = top + 0.12 * (top - lo)
    t = np.arange(1, T + 1, dtype=np.int32)
    for j, (n, (x, y, shape)) in enumerate(zip(neurons, lines, strict=True)):
        r, c = j // cols + 1, j % cols + 1
        fig.add({"type": "scatter", "x": x, "y": y, "mode": "lines+markers" if T <= 40 and shape == "linear"
                 else "lines", "name": f"neuron {n}", "line": {"color": MEMBRANE, "shape": shape},
                 "marker": {"size": 4}, "hovertemplate": "t=%{x}<br>v=%{y:.3f}<extra>neuron " + str(n) + "</extra>"},
                r, c)
        hit = np.flatnonzero(z[:, n])
        if hit.size:
            fig.add({"type": "scatter", "x": t[hit], "y": np.full(hit.size, mark_y, np.float32), "mode": "markers",
                     "name": f"spikes {n}", "marker": {"symbol": "line-ns-open", "size": 12, "color": SPIKE,
                                                       "line": {"width": 3}},
                     "hovertemplate": "spike at t=%{x}<extra>neuron " + str(n) + "</extra>"}, r, c)
        fig.hline(v_th, r, c, text=f"v_th = {v_th:g}" if j == 0 else None, dash="dash", color="black")
        # ticks clear of the corner: the first step's tick (0 = rest, or 1) sits half a step in
        fig.xaxis(r, c, dtick=1 if T <= 16 else None, range=[-0.5 if vb is not None else 0.5, T + 0.5],
                  title={"text": "timestep"} if r == rows else None)
        fig.yaxis(r, c, range=[lo - 0.12 * (top - lo), mark_y + 0.1 * (top - lo)],
                  title={"text": "membrane v"} if c == 1 else None)
    if not neurons:
        fig.waiting("no membrane recorded for this layer")
    return fig.figure(330 if rows == 1 else 440, title, legend=False)


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
                  visual_range: tuple[float, float] | None = None) -> go.Figure:
    """The (corrupted) inputs as images: the spectrogram (F, L) and the frame (C, H, W), first channel.

    `audio_range` / `visual_range`: fixed colour ranges, from the undamaged sample. Without them plotly
    stretches the colours over whatever is drawn, so a dropped (constant) spectrogram came out as one
    bright colour; with them silence, the log-mel floor, is the dark end, and a blank frame is white.
    """
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


def mod_layers(layers: Sequence[str], modality: str) -> list[str]:
    """Spiking layers of one modality ('a' or 'v'), by the `a.` / `v.` name prefix."""
    return [name for name in layers if name.startswith(f"{modality}.")]
