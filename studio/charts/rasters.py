"""Pure chart builders for spikes and membrane potentials: ndarrays in, plotly Figures out (no Streamlit here).

Rasters are heatmaps (one brick per neuron x timestep), never one marker per spike: a raster of
3 layers x 2,000 neurons x T builds in a few tens of ms (bench/bench_charts.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from studio.charts.figbuild import Fig
from studio.charts.neuron import MEMBRANE, SPIKE, sawtooth  # the Neuron lab's neuron, drawn the same way

# Silent cells light grey, spikes black, the gaps between cells white: at small T every neuron x timestep
# cell stays a cell (a grid), so neighbouring spikes never merge into one bar.
RASTER_SCALE = [[0.0, "#e6e8ee"], [1.0, "#111111"]]
GRID_MAX_T = 32  # up to this many timesteps a raster is drawn as a grid of cells
MIN_ROW_PX = 3  # neuron rows at least this tall (a 1 px gap + 2 px of cell), growing the figure up to ...
MAX_RASTER_HEIGHT = 900  # ... this height; past it rows are thinner and drawn without gaps
RASTER_HEIGHT, MEMBRANE_HEIGHT = 360, 440  # px: a raster's least height; the membrane grid of 2 x 2 neurons

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
                  height: int = RASTER_HEIGHT) -> go.Figure:
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
                    v_before: np.ndarray | None = None, ids: Sequence[int] | None = None) -> go.Figure:
    """One small plot per neuron (2 x 2): its membrane (T, M) with the threshold line and its spikes marked.

    neurons: columns to show; default the MEMBRANE_SHOWN most active (`active_neurons`). v_before: (T, M),
    the membrane before each step's reset (core.neuron_lab.membrane_before_reset): the line then rises
    above the threshold on every spike step and drops to the reset, so integrate, leak, fire and reset all show.
    ids: each column's neuron number in its layer (the recorder's `neurons/<layer>`); default the column.
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
    name = (lambda n: int(ids[n])) if ids is not None and len(ids) == M else (lambda n: n)
    fig = Fig(rows, cols, [f"neuron {name(n)} · {c} spike{'s' if c != 1 else ''}" for n, c in zip(neurons, counts,
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
        fig.hline(v_th, r, c, dash="dash", color="black")  # named on the y axis: a label here sat on the lines
        # ticks clear of the corner: the first step's tick (0 = rest, or 1) sits half a step in
        fig.xaxis(r, c, dtick=1 if T <= 16 else None, range=[-0.5 if vb is not None else 0.5, T + 0.5],
                  title={"text": "timestep"} if r == rows else None)
        fig.yaxis(r, c, range=[lo - 0.12 * (top - lo), mark_y + 0.1 * (top - lo)],
                  title={"text": f"membrane v (dashed: v_th = {v_th:g})"} if c == 1 else None)
    if not neurons:
        fig.waiting("no membrane recorded for this layer")
    return fig.figure(330 if rows == 1 else MEMBRANE_HEIGHT, title, legend=False)


def mod_layers(layers: Sequence[str], modality: str) -> list[str]:
    """Spiking layers of one modality by its short name ('a', 'v', 't' ...: studio/charts/streams.py), by the
    `<short name>.` name prefix."""
    return [name for name in layers if name.startswith(f"{modality}.")]
