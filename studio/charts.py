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
from plotly.subplots import make_subplots

MODS = ("a", "v", "f")
NAMES = {"a": "audio", "v": "visual", "f": "fused"}
COLORS = {"a": "#1f77b4", "v": "#ff7f0e", "f": "#2ca02c"}
MAX_POINTS = 800  # per trace: about one point per screen pixel of a half-width chart


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


def smooth(values: pd.Series, window: int) -> pd.Series:
    """Exponential moving average with a span of `window` steps (window <= 1: unchanged)."""
    return values if window <= 1 else values.ewm(span=window, adjust=False).mean()


def _empty(fig: go.Figure, text: str) -> go.Figure:
    fig.add_annotation(text=text, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5, font={"size": 14})
    return fig


def _layout(fig: go.Figure, height: int, title: str | None = None) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 50, "r": 20, "t": 50 if title else 30, "b": 40 if fig.layout.showlegend is False else 90},
        legend={"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0},
        title=title,
        uirevision="keep",  # live redraws keep the user's zoom
    )
    return fig


def _has(df: pd.DataFrame | None, col: str) -> bool:
    return df is not None and col in df.columns and df[col].notna().any()


def _curve(fig: go.Figure, df: pd.DataFrame, col: str, name: str, color: str, window: int, row: int, col_idx: int,
           legend: bool = True) -> None:
    """Faint raw trace plus its smoothed line (smoothing on all rows, then decimated)."""
    d = df[["step", col]].dropna()
    if d.empty:
        return
    sm = d.assign(_s=smooth(d[col], window))
    sm = decimate(sm)
    if window > 1:
        fig.add_trace(go.Scatter(x=_a(sm["step"]), y=_a(sm[col]), mode="lines",
                                 line={"color": color, "width": 1},
                                 opacity=0.25, name=f"{name} (batch)", showlegend=False, hoverinfo="skip"),
                      row=row, col=col_idx)
    fig.add_trace(go.Scatter(x=_a(sm["step"]), y=_a(sm["_s"]), mode="lines", line={"color": color, "width": 2},
                             name=name,
                             legendgroup=name, showlegend=legend), row=row, col=col_idx)


def loss_acc_figure(steps: pd.DataFrame, epochs: pd.DataFrame | None = None, window: int = 20) -> go.Figure:
    """Loss (left) and accuracy (right) of the audio, visual and fused heads: batch, smoothed, validation."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss (train batch, smoothed)", "Accuracy"))
    if steps is None or steps.empty:
        return _layout(_empty(fig, "waiting for the first training step…"), 320)
    for u in MODS:
        if _has(steps, f"loss_{u}"):
            _curve(fig, steps, f"loss_{u}", NAMES[u], COLORS[u], window, 1, 1)
        if _has(steps, f"acc_{u}"):
            _curve(fig, steps, f"acc_{u}", NAMES[u], COLORS[u], window, 1, 2, legend=False)
        if _has(epochs, f"val_acc_{u}"):
            e = epochs[["step", f"val_acc_{u}"]].dropna()
            fig.add_trace(go.Scatter(x=_a(e["step"]), y=_a(e[f"val_acc_{u}"]), mode="lines+markers",
                                     name=f"{NAMES[u]} val",
                                     line={"color": COLORS[u], "dash": "dot"}, marker={"symbol": "diamond", "size": 8}),
                          row=1, col=2)
    if _has(epochs, "val_loss"):
        e = epochs[["step", "val_loss"]].dropna()
        fig.add_trace(go.Scatter(x=_a(e["step"]), y=_a(e["val_loss"]), mode="lines+markers",
                                 name="val loss (total)",
                                 line={"color": "#555", "dash": "dot"}), row=1, col=1)
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    return _layout(fig, 380)


def lr_figure(steps: pd.DataFrame, window: int = 20) -> go.Figure:
    """Effective learning rate of each parameter group, the balance coefficients k and the ratio rho_a."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=("effective learning rate", "coefficient k (1 = unmodulated)",
                                                        "score ratio ρ_a = s_a / s_v"))
    if steps is None or steps.empty:
        return _layout(_empty(fig, "waiting for the first training step…"), 300)
    for u in MODS:
        if _has(steps, f"lr_{u}"):
            d = decimate(steps[["step", f"lr_{u}"]].dropna())
            fig.add_trace(go.Scatter(x=_a(d["step"]), y=_a(d[f"lr_{u}"]), mode="lines", name=f"lr {NAMES[u]}",
                                     line={"color": COLORS[u]}), row=1, col=1)
    for u in ("a", "v"):
        if _has(steps, f"k_{u}"):
            _curve(fig, steps, f"k_{u}", f"k {NAMES[u]}", COLORS[u], window, 1, 2)
    if _has(steps, "rho_a"):
        _curve(fig, steps, "rho_a", "ρ audio", "#9467bd", window, 1, 3)
        fig.add_hline(y=1.0, line={"dash": "dash", "color": "gray"}, row=1, col=3)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_xaxes(title_text="training step")
    return _layout(fig, 340)


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


def imbalance_figure(steps: pd.DataFrame, epochs: pd.DataFrame | None) -> go.Figure:
    """Unimodal accuracy gap, gradient-norm ratio, Shapley values and epochs-to-90 %, in one 1x4 row."""
    fig = make_subplots(rows=1, cols=4, subplot_titles=(
        "val acc gap (audio − visual)", "grad-norm ratio ‖g_a‖/‖g_v‖", "modality Shapley (last epoch)",
        "epochs to 90 % of final val acc"))
    if _has(epochs, "val_acc_a") and _has(epochs, "val_acc_v"):
        e = epochs[["epoch", "val_acc_a", "val_acc_v"]].dropna()
        gap = e["val_acc_a"] - e["val_acc_v"]
        fig.add_trace(go.Bar(x=_a(e["epoch"] + 1), y=_a(gap), name="val gap", showlegend=False,
                             marker_color=np.where(gap >= 0, COLORS["a"], COLORS["v"])), row=1, col=1)
        fig.update_xaxes(title_text="epoch", row=1, col=1)
    if _has(steps, "gnorm_a") and _has(steps, "gnorm_v"):
        d = steps[["step", "gnorm_a", "gnorm_v"]].dropna()
        d = d.assign(ratio=d["gnorm_a"] / d["gnorm_v"].where(d["gnorm_v"] > 0))
        d = decimate(d.assign(sm=smooth(d["ratio"], 20)))
        fig.add_trace(go.Scatter(x=_a(d["step"]), y=_a(d["ratio"]), mode="lines", opacity=0.25,
                                 line={"color": "#8c564b"},
                                 showlegend=False, hoverinfo="skip"), row=1, col=2)
        fig.add_trace(go.Scatter(x=_a(d["step"]), y=_a(d["sm"]), mode="lines", line={"color": "#8c564b", "width": 2},
                                 name="‖g_a‖/‖g_v‖", showlegend=False), row=1, col=2)
        fig.add_hline(y=1.0, line={"dash": "dash", "color": "gray"}, row=1, col=2)
        fig.update_yaxes(type="log", row=1, col=2)
        fig.update_xaxes(title_text="training step", row=1, col=2)
    if _has(epochs, "shapley_a") and _has(epochs, "shapley_v"):
        last = epochs[["shapley_a", "shapley_v"]].dropna().iloc[-1]
        fig.add_trace(go.Bar(x=["audio", "visual"], y=[last["shapley_a"], last["shapley_v"]], showlegend=False,
                             marker_color=[COLORS["a"], COLORS["v"]], name="Shapley"), row=1, col=3)
    reach = {NAMES[u]: epochs_to_fraction(epochs, f"val_acc_{u}") for u in MODS} if epochs is not None else {}
    reach = {k: v for k, v in reach.items() if v is not None}
    if reach:
        fig.add_trace(go.Bar(x=list(reach), y=list(reach.values()), showlegend=False, name="epochs to 90 %",
                             marker_color=[COLORS[u] for u in MODS if NAMES[u] in reach]), row=1, col=4)
    if not fig.data:
        _empty(fig, "diagnostics appear after the first epoch")
    fig.update_layout(showlegend=False)
    return _layout(fig, 300)


def firing_rate_figure(steps: pd.DataFrame, layers: Sequence[str] | None = None, window: int = 20) -> go.Figure:
    """Mean firing rate (spikes per neuron per timestep) of every spiking layer over training."""
    fig = go.Figure()
    cols = [c for c in (steps.columns if steps is not None else []) if c.startswith("rate/")]
    if layers:
        cols = [f"rate/{name}" for name in layers if f"rate/{name}" in cols] or cols
    palette = ["#1f77b4", "#6baed6", "#08519c", "#ff7f0e", "#fdae6b", "#a63603", "#2ca02c", "#74c476"]
    for i, c in enumerate(cols):
        d = steps[["step", c]].dropna()
        d = decimate(d.assign(sm=smooth(d[c], window)))
        fig.add_trace(go.Scatter(x=_a(d["step"]), y=_a(d["sm"]), mode="lines", name=c[5:],
                                 line={"color": palette[i % 8]}))
    if not cols:
        _empty(fig, "no firing rates recorded yet")
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text="rate (spikes / neuron / step)", rangemode="tozero")
    return _layout(fig, 340, "Firing rate per layer")


def energy_figure(epochs: pd.DataFrame | None) -> go.Figure:
    """Estimated inference energy per sample of the SNN against the same network as an ANN, per epoch."""
    fig = go.Figure()
    title = "Energy per sample"
    if _has(epochs, "energy_pj"):
        e = epochs.dropna(subset=["energy_pj"])
        fig.add_trace(go.Scatter(x=_a(e["epoch"] + 1), y=_a(e["energy_pj"] / 1e6), mode="lines+markers",
                                 name="SNN (µJ)", line={"color": "#2ca02c"}))
        if _has(epochs, "energy_ann_pj"):
            fig.add_trace(go.Scatter(x=_a(e["epoch"] + 1), y=_a(e["energy_ann_pj"] / 1e6), mode="lines+markers",
                                     name="same ANN (µJ)", line={"color": "#7f7f7f", "dash": "dash"}))
            ann = float(e["energy_ann_pj"].iloc[-1])
            if ann > 0:
                title += f" — SNN uses {100 * float(e['energy_pj'].iloc[-1]) / ann:.0f} % of the ANN's"
        fig.update_xaxes(title_text="epoch")
        fig.update_yaxes(title_text="µJ per sample", rangemode="tozero")
    else:
        _empty(fig, "energy is estimated at the end of each epoch")
    return _layout(fig, 340, title)


def compare_figure(curves: Mapping[str, pd.DataFrame], metric: str, x: str = "step") -> go.Figure:
    """One line per run of `metric` (a column of each frame) against `x` (step or epoch)."""
    fig = go.Figure()
    for name, df in curves.items():
        if not _has(df, metric) or x not in df.columns:
            continue
        d = decimate(df[[x, metric]].dropna())
        if x == "epoch":
            d = d.assign(epoch=d["epoch"] + 1)  # stored 0-based; shown as "after epoch n"
        fig.add_trace(go.Scatter(x=_a(d[x]), y=_a(d[metric]), mode="lines+markers" if len(d) < 60 else "lines",
                                 name=name))
    if not fig.data:
        _empty(fig, f"none of the chosen runs recorded {metric}")
    fig.update_xaxes(title_text=x)
    fig.update_yaxes(title_text=metric)
    return _layout(fig, 420)


def summary_table(finals: pd.DataFrame, metrics: Sequence[str],
                  by: Sequence[str] = ("strategy", "preset")) -> pd.DataFrame:
    """Mean ± std of each metric per group (one row per run in `finals`); `n` counts runs."""
    by = [b for b in by if b in finals.columns]
    if finals.empty or not by:
        return pd.DataFrame(columns=[*by, "n", *metrics])
    rows = []
    for key, g in finals.groupby(by, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, object] = dict(zip(by, key, strict=True))
        row["n"] = len(g)
        for m in metrics:
            v = pd.to_numeric(g[m], errors="coerce").dropna() if m in g.columns else pd.Series(dtype=float)
            if v.empty:
                row[m] = "—"
            elif len(v) == 1:
                row[m] = f"{v.iloc[0]:.4f}"
            else:
                row[m] = f"{v.mean():.4f} ± {v.std(ddof=1):.4f}"
        rows.append(row)
    return pd.DataFrame(rows)
