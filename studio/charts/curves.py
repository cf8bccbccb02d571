"""Pure chart builders for training curves: DataFrames in, plotly Figures out (no Streamlit here).

Step frames are wide (`step, epoch, time, <keys>`) as `RunReader.scalars()` returns them; epoch frames
the same with the per-epoch keys. Missing columns are skipped, so a strategy that logs no `k_a` still draws.
Long runs are decimated to `max_points` per trace: the browser stays fast and the figure JSON small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from studio.charts.figbuild import Fig
from studio.charts.streams import DEFAULT_STREAMS, modality_streams, stream_colors

MODS = ("a", "v", "f")  # our trainer's streams; a run's own: studio/charts/streams.py (run_streams)
NAMES = {"a": "audio", "v": "visual", "f": "fused"}
COLORS = {"a": "#1f77b4", "v": "#ff7f0e", "f": "#2ca02c"}
MAX_POINTS = 500  # per trace: a point for every one or two pixels of a half-width chart (each redraw costs per point)
# Per-epoch traces: a point (an SVG node) per epoch grew a live page by ~90 nodes a minute all night (issue 27).
MAX_EPOCH_POINTS = 200  # per epoch trace, like MAX_POINTS for steps: every k-th epoch past it (the last kept)
MAX_MARKERS = 60  # points per trace drawn with markers; past it, the line alone (one SVG path)
MIN_STEPS = 2  # a curve needs two points: with one, plotly draws an invisible dot on a made-up range
# px: each panel's figure height, also its chart box's height before the first figure arrives (studio/live/figures.py)
LOSS_HEIGHT, LR_HEIGHT, IMBALANCE_HEIGHT, RATES_HEIGHT, ENERGY_HEIGHT = 380, 340, 300, 340, 340


def too_few_steps(steps: pd.DataFrame | None) -> str | None:
    """The message for a step chart with nothing to draw yet, or None when it has a curve."""
    n = 0 if steps is None else len(steps)
    if n == 0:
        return "waiting for the first training step…"
    if n < MIN_STEPS:
        return f"{n} training step so far: the curves start at step {MIN_STEPS}"
    return None


def _a(values: pd.Series | np.ndarray) -> np.ndarray:
    """Compact numpy for plotly (float32 / int32 travel base64-encoded, half the size of float64 JSON)."""
    v = np.asarray(values)
    return v.astype(np.int32) if v.dtype.kind in "iu" else v.astype(np.float32)


def decimate(df: pd.DataFrame, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """Every k-th row so that at most `max_points` remain (the last row always kept)."""
    n = len(df)
    if n <= max_points:
        return df
    idx = np.unique(np.r_[np.linspace(0, n - 1, max_points).astype(int), n - 1])
    return df.iloc[idx]


def _marked(n: int) -> str:
    """Scatter mode of a per-epoch trace of `n` points: markers while they can be told apart."""
    return "lines+markers" if n <= MAX_MARKERS else "lines"


def smooth(values: pd.Series, window: int) -> pd.Series:
    """Exponential moving average with a span of `window` steps (window <= 1: unchanged)."""
    return values if window <= 1 else values.ewm(span=window, adjust=False).mean()


def _has(df: pd.DataFrame | None, col: str) -> bool:
    return df is not None and col in df.columns and df[col].notna().any()


def _epoch_ticks(n: int) -> dict:
    """Whole-epoch ticks (1, 2, ... or every k-th for long runs), never 1.5."""
    return {"tick0": 1, "dtick": max(1, -(-n // 10))}


def log_ticks(lo: float, hi: float) -> dict:
    """Ticks 1-2-5 per decade covering [lo, hi] for a log axis, labelled with their values (0.5, not plotly's
    "5" digit that stands for 5 x 10^-1)."""
    lo, hi = max(float(lo), 1e-12), max(float(hi), float(lo), 1e-12)
    decades = range(int(np.floor(np.log10(lo))), int(np.floor(np.log10(hi))) + 1)
    if hi < 1.05 * lo:  # (nearly) constant: plotly shows about a decade either side
        decades = range(decades.start - 1, decades.stop + 1)
        lo, hi = lo / 10, hi * 10
    for mantissas in ((1, 2, 5), range(1, 10)):  # a narrow range gets every digit
        vals = [float(f"{m * 10.0 ** e:.12g}") for e in decades for m in mantissas]
        inside = [v for v in vals if lo <= v * 1.0001 and v <= hi * 1.0001]
        if len(inside) >= 2:
            vals = inside
            break
    return {"tickmode": "array", "tickvals": vals, "ticktext": [f"{v:g}" for v in vals]}


def _line(x: object, y: object, name: str | None = None, color: str | None = None, width: float = 2,
          **kw: object) -> dict:
    return {"type": "scatter", "x": _a(x), "y": _a(y), "mode": "lines", "name": name,
            "line": {"color": color, "width": width}, **kw}


def _curve(fig: Fig, df: pd.DataFrame, col: str, name: str, color: str, window: int, row: int, col_idx: int,
           legend: bool = True) -> None:
    """Faint raw trace plus its smoothed line (smoothing on all rows, then decimated)."""
    d = df[["step", col]].dropna()
    if d.empty:
        return
    sm = decimate(d.assign(_s=smooth(d[col], window)))
    if window > 1:
        fig.add(_line(sm["step"], sm[col], f"{name} (batch)", color, 1, opacity=0.25, showlegend=False,
                      hoverinfo="skip"), row, col_idx)
    fig.add(_line(sm["step"], sm["_s"], name, color, legendgroup=name, showlegend=legend), row, col_idx)


def loss_acc_figure(steps: pd.DataFrame, epochs: pd.DataFrame | None = None, window: int = 20,
                    streams: Mapping[str, str] | None = None) -> go.Figure:
    """Loss (left) and accuracy (right) of each stream's head (streams: {suffix: name}, default audio, visual,
    fused): batch, smoothed, validation."""
    streams = streams or DEFAULT_STREAMS
    colors = stream_colors(streams)
    fig = Fig(1, 2, ("Loss (train batch, smoothed)", "Accuracy"))
    if (wait := too_few_steps(steps)) is not None:
        fig.waiting(wait)
        return fig.figure(LOSS_HEIGHT, legend=False)
    for u, name in streams.items():
        if _has(steps, f"loss_{u}"):
            _curve(fig, steps, f"loss_{u}", name, colors[u], window, 1, 1)
        if _has(steps, f"acc_{u}"):
            _curve(fig, steps, f"acc_{u}", name, colors[u], window, 1, 2, legend=False)
        if _has(epochs, f"val_acc_{u}"):
            e = decimate(epochs[["step", f"val_acc_{u}"]].dropna(), MAX_EPOCH_POINTS)
            fig.add(_line(e["step"], e[f"val_acc_{u}"], f"{name} val", colors[u], mode=_marked(len(e)),
                          marker={"symbol": "diamond", "size": 8}, line={"color": colors[u], "dash": "dot"}), 1, 2)
    if _has(epochs, "val_loss"):
        e = decimate(epochs[["step", "val_loss"]].dropna(), MAX_EPOCH_POINTS)
        fig.add(_line(e["step"], e["val_loss"], "val loss (total)", mode=_marked(len(e)),
                      line={"color": "#555", "dash": "dot"}), 1, 1)
    fig.all_axes("x", title={"text": "training step"})
    fig.yaxis(1, 2, range=[0, 1.02])
    return fig.figure(LOSS_HEIGHT)


def lr_figure(steps: pd.DataFrame, window: int = 20, streams: Mapping[str, str] | None = None) -> go.Figure:
    """Effective learning rate of each stream's parameters, each modality's balance coefficient k and the ratio
    rho_a (streams: {suffix: name}, default audio, visual, fused)."""
    streams = streams or DEFAULT_STREAMS
    colors = stream_colors(streams)
    rho_title = "score ratio ρ_a = s_a / s_v" if streams == DEFAULT_STREAMS else "score ratio ρ"  # (OGM-GE's)
    fig = Fig(1, 3, ("effective learning rate", "coefficient k (1 = unmodulated)", rho_title))
    if (wait := too_few_steps(steps)) is not None:
        fig.waiting(wait)
        return fig.figure(LR_HEIGHT, legend=False)
    for u, name in streams.items():
        if _has(steps, f"lr_{u}"):
            d = decimate(steps[["step", f"lr_{u}"]].dropna())
            fig.add(_line(d["step"], d[f"lr_{u}"], f"lr {name}", colors[u]), 1, 1)
    for u, name in modality_streams(streams).items():
        if _has(steps, f"k_{u}"):
            _curve(fig, steps, f"k_{u}", f"k {name}", colors[u], window, 1, 2)
    mods = modality_streams(streams)
    rhos = [u for u in mods if _has(steps, f"rho_{u}")][:1 if len(mods) == 2 else None]  # two: ρ_v = 1 / ρ_a
    for u in rhos:
        _curve(fig, steps, f"rho_{u}", f"ρ {streams[u]}", "#9467bd" if len(rhos) == 1 else colors[u], window, 1, 3)
        fig.hline(1.0, 1, 3)
    if not rhos:  # only OGM-GE-style balances compute it: one line, not an empty cell
        fig.cell_note(1, 3, "This run records<br>no score ratio ρ")
    lrs = pd.concat([pd.Series(dtype=float)] +  # (a run of another loop may record no learning rate)
                    [pd.to_numeric(steps[f"lr_{u}"], errors="coerce") for u in streams if _has(steps, f"lr_{u}")])
    lrs = lrs[np.isfinite(lrs) & (lrs > 0)]
    fig.yaxis(1, 1, type="log", **(log_ticks(lrs.min(), lrs.max()) if len(lrs) else {}))
    fig.all_axes("x", title={"text": "training step"})
    return fig.figure(LR_HEIGHT)


def epochs_to_fraction(epochs: pd.DataFrame, col: str, frac: float = 0.9) -> int | None:
    """Epochs of training (1 = after the first) until `col` reached `frac` of its last value (None: no data)."""
    if not _has(epochs, col):
        return None
    d = epochs[["epoch", col]].dropna()
    final = float(d[col].iloc[-1])
    if final <= 0:
        return None
    hit = d[d[col] >= frac * final]
    return int(hit["epoch"].iloc[0]) + 1 if not hit.empty else None  # epochs are stored 0-based


def firing_rate_figure(steps: pd.DataFrame, layers: Sequence[str] | None = None, window: int = 20) -> go.Figure:
    """Mean firing rate (spikes per neuron per timestep) of every spiking layer over training."""
    fig = Fig()
    cols = [c for c in (steps.columns if steps is not None else []) if c.startswith("rate/")]
    if layers:
        cols = [f"rate/{name}" for name in layers if f"rate/{name}" in cols] or cols
    shades = {"a": ["#08519c", "#3182bd", "#6baed6", "#9ecae1"], "v": ["#a63603", "#e6550d", "#fd8d3c", "#fdae6b"]}
    seen: dict[str, int] = {}
    for c in cols:
        mod = c[5] if c[5] in shades and c[6:7] == "." else "f"  # audio layers in blues, visual in oranges
        i = seen[mod] = seen.get(mod, -1) + 1
        color = shades[mod][i % 4] if mod in shades else ["#2ca02c", "#74c476", "#31a354"][i % 3]
        d = steps[["step", c]].dropna()
        d = decimate(d.assign(sm=smooth(d[c], window)))
        fig.add(_line(d["step"], d["sm"], c[5:], color))
    if not cols:
        fig.waiting("no firing rates recorded yet")
    fig.xaxis(title={"text": "training step"})
    fig.yaxis(title={"text": "rate (spikes / neuron / step)"}, rangemode="tozero")
    return fig.figure(RATES_HEIGHT, "Firing rate per layer")


def energy_figure(epochs: pd.DataFrame | None) -> go.Figure:
    """Estimated inference energy per sample of the SNN against the same network as an ANN, per epoch."""
    fig = Fig()
    title = "Energy per sample"
    if _has(epochs, "energy_pj"):
        e = epochs.dropna(subset=["energy_pj"])
        n_epochs, e = len(e), decimate(e, MAX_EPOCH_POINTS)
        fig.add(_line(e["epoch"] + 1, e["energy_pj"] / 1e6, "SNN (µJ)", "#2ca02c", mode=_marked(len(e))))
        if _has(epochs, "energy_ann_pj"):
            fig.add(_line(e["epoch"] + 1, e["energy_ann_pj"] / 1e6, "same ANN (µJ)", mode=_marked(len(e)),
                          line={"color": "#7f7f7f", "dash": "dash"}))
            ann = float(e["energy_ann_pj"].iloc[-1])
            if ann > 0:
                title += f" — SNN uses {100 * float(e['energy_pj'].iloc[-1]) / ann:.0f} % of the ANN's"
        fig.xaxis(title={"text": "epoch"}, **_epoch_ticks(n_epochs))
        fig.yaxis(title={"text": "µJ per sample"}, rangemode="tozero")
    else:
        fig.waiting("energy is estimated at the end of each epoch")
    return fig.figure(ENERGY_HEIGHT, title)


# Eight colours that stay apart for most colour vision (Okabe & Ito, with a grey for the eighth); past
# eight runs the dash pattern changes, so no two of 16 lines look alike.
RUN_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000", "#999999")
RUN_DASHES = ("solid", "dash", "dot")


def run_style(i: int) -> dict:
    """Line colour and dash of the i-th run of a comparison."""
    return {"color": RUN_COLORS[i % len(RUN_COLORS)], "dash": RUN_DASHES[(i // len(RUN_COLORS)) % len(RUN_DASHES)],
            "width": 2}


def compare_figure(curves: Mapping[str, pd.DataFrame], metric: str, x: str = "step",
                   title: str | None = None) -> go.Figure:
    """One line per run of `metric` (a column of each frame) against `x` (step or epoch); `title` names the
    y axis for people (default: the column name)."""
    fig = Fig()
    for i, (name, df) in enumerate(curves.items()):
        if not _has(df, metric) or x not in df.columns:
            continue
        d = decimate(df[[x, metric]].dropna())
        xs = d[x] + 1 if x == "epoch" else d[x]  # epochs are stored 0-based; shown as "after epoch n"
        fig.add(_line(xs, d[metric], name, mode="lines+markers" if len(d) < 60 else "lines", line=run_style(i)))
    if not fig.data:
        fig.waiting(f"none of the chosen runs recorded {title or metric}")
    n = max((len(df) for df in curves.values()), default=1)
    fig.xaxis(title={"text": x}, **(_epoch_ticks(n) if x == "epoch" else {}))
    fig.yaxis(title={"text": title or metric})
    return fig.figure(420)
