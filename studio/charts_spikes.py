"""Pure chart builders for spikes and attention: ndarrays in, plotly Figures out (no Streamlit here).

Rasters are heatmaps (one brick per neuron x timestep), never one marker per spike: a raster of
3 layers x 2,000 neurons x T builds in a few tens of ms (bench/bench_charts.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from studio.charts import COLORS, MODS, NAMES, _empty, _layout

RASTER_SCALE = [[0.0, "#f4f4f4"], [1.0, "#111111"]]


def alpha_history_figure(steps: Sequence[int], alphas: np.ndarray) -> go.Figure:
    """Heatmaps of alpha_u(t) over training: x = training step, y = timestep, one panel per u.

    `alphas` is (S, 3, T): the probe-sample mean of alpha at each of the S probe steps.
    """
    fig = make_subplots(rows=1, cols=3, shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=[f"α_{NAMES[u]}(t)" for u in MODS])
    if len(steps) == 0:
        return _layout(_empty(fig, "attention appears at the first probe step…"), 280)
    a = np.asarray(alphas, dtype=np.float32)
    t = np.arange(1, a.shape[2] + 1)
    for i in range(3):
        fig.add_trace(go.Heatmap(z=a[:, i, :].T, x=list(steps), y=t, coloraxis="coloraxis",
                                 hovertemplate="step %{x}<br>t=%{y}<br>α=%{z:.3f}<extra></extra>"), row=1, col=i + 1)
    fig.update_layout(coloraxis=alpha_colors(a.shape[2], float(a.max())))
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text="timestep t", dtick=1, row=1, col=1)
    fig.update_layout(showlegend=False)
    return _layout(fig, 280)


def alpha_colors(T: int, top: float) -> dict:
    """Diverging colours with white at uniform attention 1/T: red = more than its share, blue = less."""
    uniform = 1.0 / T
    cmax = max(2 * uniform, top, 1e-6)
    mid = uniform / cmax
    return {"colorscale": [[0.0, "#2166ac"], [mid, "#f7f7f7"], [1.0, "#b2182b"]], "cmin": 0.0, "cmax": cmax,
            "colorbar": {"title": "α", "thickness": 12, "tickvals": [0, uniform, cmax],
                         "ticktext": ["0", f"1/T = {uniform:.2f}", f"{cmax:.2f}"]}}


def alpha_bars_figure(alpha: np.ndarray, title: str = "Current attention α_u(t)") -> go.Figure:
    """Grouped bars of alpha (3, T) per timestep; each row sums to 1 over t."""
    a = np.asarray(alpha, dtype=np.float32)
    t = np.arange(1, a.shape[1] + 1)
    fig = go.Figure([go.Bar(x=t, y=a[i], name=NAMES[u], marker_color=COLORS[u]) for i, u in enumerate(MODS)])
    fig.add_hline(y=1.0 / a.shape[1], line={"dash": "dot", "color": "gray"}, annotation_text="uniform")
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="timestep t", dtick=1)
    fig.update_yaxes(title_text="α", rangemode="tozero")
    return _layout(fig, 310, title)


def pick_neurons(spikes: np.ndarray, max_neurons: int | None) -> np.ndarray:
    """Neuron indices sorted by firing rate (most active first), evenly thinned to `max_neurons`.

    Thinning keeps the spread of rates (silent neurons stay visible) rather than only the busiest.
    """
    rate = spikes.mean(axis=0)
    order = np.argsort(-rate, kind="stable")
    if max_neurons is not None and len(order) > max_neurons:
        order = order[np.linspace(0, len(order) - 1, max_neurons).astype(int)]
    return order


def raster_figure(layers: Mapping[str, np.ndarray], max_neurons: int | None = 300,
                  height: int = 360) -> go.Figure:
    """Spike rasters, one panel per layer: x = timestep, y = neuron (sorted by firing rate), dark = spike.

    Each value is (T_layer, N_layer) of 0/1 for one sample.
    """
    names = list(layers)
    fig = make_subplots(rows=1, cols=max(len(names), 1), horizontal_spacing=0.04,
                        subplot_titles=names or ["no layer"])
    if not names:
        return _layout(_empty(fig, "no spikes recorded"), height)
    for i, name in enumerate(names):
        s = np.asarray(layers[name])
        idx = pick_neurons(s, max_neurons)
        z = s[:, idx].T.astype(np.uint8)  # (neurons, T)
        rate = float(s.mean())
        fig.add_trace(go.Heatmap(z=z, x=np.arange(1, s.shape[0] + 1), y=np.arange(len(idx)), customdata=np.broadcast_to(
            idx[:, None], z.shape), colorscale=RASTER_SCALE, zmin=0, zmax=1, showscale=False, xgap=1,
            hovertemplate="t=%{x}<br>neuron %{customdata}<br>spike=%{z}<extra></extra>"), row=1, col=i + 1)
        fig.layout.annotations[i].text = f"{name}  ({s.shape[1]} neurons, rate {rate:.3f})"
        fig.update_xaxes(title_text="timestep", dtick=1 if s.shape[0] <= 16 else None, row=1, col=i + 1)
    fig.update_yaxes(title_text="neuron (by rate)", row=1, col=1)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(showlegend=False)
    return _layout(fig, height)


def membrane_figure(membrane: np.ndarray, spikes: np.ndarray | None, v_th: float,
                    neurons: Sequence[int] | None = None, title: str = "Membrane potential") -> go.Figure:
    """Membrane traces (T, M) of chosen neurons with spike markers and the threshold line."""
    v = np.asarray(membrane, dtype=np.float32)
    neurons = list(range(min(v.shape[1], 4))) if neurons is None else [n for n in neurons if n < v.shape[1]]
    t = np.arange(1, v.shape[0] + 1)
    fig = go.Figure()
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
    for j, n in enumerate(neurons):
        c = palette[j % len(palette)]
        fig.add_trace(go.Scatter(x=t, y=v[:, n], mode="lines", name=f"neuron {n}", line={"color": c, "shape": "hv"}))
        if spikes is not None and n < spikes.shape[1]:
            hit = np.flatnonzero(spikes[:, n])
            if hit.size:
                mark = {"symbol": "line-ns-open", "size": 14, "color": c, "line": {"width": 3}}
                fig.add_trace(go.Scatter(x=t[hit], y=np.full(hit.size, v_th * 1.08), mode="markers", showlegend=False,
                                         marker=mark,
                                         name=f"spikes {n}", hovertemplate="spike at t=%{x}<extra></extra>"))
    fig.add_hline(y=v_th, line={"dash": "dash", "color": "black"}, annotation_text=f"v_th = {v_th:g}")
    fig.update_xaxes(title_text="timestep", dtick=1 if v.shape[0] <= 16 else None)
    fig.update_yaxes(title_text="membrane v")
    return _layout(fig, 330, title)


def _centres(n: int) -> np.ndarray:
    """Cell centres of n equal steps on the normalised time axis [0, 1]."""
    return (np.arange(n) + 0.5) / n


def whatif_figure(result: Mapping[str, np.ndarray], audio_layer: str, visual_layer: str,
                  max_neurons: int | None = 120) -> go.Figure:
    """Each modality's raster with its attention α_u(t) right under it, on a shared normalised time axis.

    Audio layers run audio_steps timesteps, visual layers visual_steps and alpha the common T; every panel
    is placed on time in [0, 1] (step i of n covers [i/n, (i+1)/n]) so that they line up.
    """
    fig = make_subplots(rows=5, cols=1, shared_xaxes=True, vertical_spacing=0.035,
                        row_heights=[0.3, 0.11, 0.3, 0.11, 0.11],
                        subplot_titles=(f"audio raster · {audio_layer}", "α_audio(t)",
                                        f"visual raster · {visual_layer}", "α_visual(t)", "α_fused(t)"))
    alpha = np.asarray(result["alpha"], dtype=np.float32)
    T = alpha.shape[1]
    for row, layer in ((1, audio_layer), (3, visual_layer)):
        key = f"spikes/{layer}"
        if key not in result:
            continue
        s = np.asarray(result[key])
        idx = pick_neurons(s, max_neurons)
        fig.add_trace(go.Heatmap(z=s[:, idx].T.astype(np.uint8), x=_centres(s.shape[0]), y=np.arange(len(idx)),
                                 colorscale=RASTER_SCALE, zmin=0, zmax=1, showscale=False, xgap=1,
                                 hovertemplate="time %{x:.2f}<br>spike=%{z}<extra></extra>"), row=row, col=1)
        fig.update_yaxes(autorange="reversed", title_text="neuron", row=row, col=1)
    for row, i in ((2, 0), (4, 1), (5, 2)):
        u = MODS[i]
        fig.add_trace(go.Bar(x=_centres(T), y=alpha[i], width=0.9 / T, marker_color=COLORS[u], name=f"α {NAMES[u]}",
                             hovertemplate="t=%{x:.2f}<br>α=%{y:.3f}<extra></extra>"), row=row, col=1)
        fig.update_yaxes(range=[0, max(1.0 / T * 2, float(alpha.max()) * 1.1)], row=row, col=1)
    fig.update_xaxes(range=[0, 1], row=5, col=1, title_text="normalised time (0 = first step, 1 = last)")
    fig.update_layout(showlegend=False)
    return _layout(fig, 720)


def buildup_figure(build_up: np.ndarray, class_names: Sequence[str], label: int | None = None) -> go.Figure:
    """Fused class probabilities using timesteps <= t: the prediction building up over time."""
    p = np.asarray(build_up, dtype=np.float32)
    t = np.arange(1, p.shape[0] + 1)
    pred = int(p[-1].argmax())
    fig = go.Figure()
    for c in range(p.shape[1]):
        emph = c in (pred, label)
        name = class_names[c] if c < len(class_names) else str(c)
        tag = " (true)" if c == label else ""
        tag += " (predicted)" if c == pred else ""
        fig.add_trace(go.Scatter(x=t, y=p[:, c], mode="lines+markers" if emph else "lines", name=name + tag,
                                 line={"width": 3 if emph else 1, "color": None if emph else "#bbbbbb"},
                                 showlegend=emph))
    fig.update_xaxes(title_text="timesteps used (t)", dtick=1)
    fig.update_yaxes(title_text="fused probability", range=[0, 1.02])
    return _layout(fig, 340, "Fused prediction building up over time")


def inputs_figure(audio: np.ndarray, visual: np.ndarray) -> go.Figure:
    """The (corrupted) inputs as images: the spectrogram (F, L) and the frame (C, H, W), first channel."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4], subplot_titles=("audio spectrogram", "visual frame"))
    a = np.asarray(audio, dtype=np.float32)
    v = np.asarray(visual, dtype=np.float32)
    v = v[0] if v.ndim == 3 else v
    fig.add_trace(go.Heatmap(z=a, colorscale="Magma", showscale=False,
                             hovertemplate="frame %{x}<br>band %{y}<br>%{z:.2f}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Heatmap(z=v, colorscale="Greys", reversescale=True, showscale=False,
                             hovertemplate="x %{x} y %{y}<br>%{z:.2f}<extra></extra>"), row=1, col=2)
    fig.update_xaxes(title_text="frame", row=1, col=1)
    fig.update_yaxes(title_text="mel band", row=1, col=1)
    fig.update_yaxes(autorange="reversed", scaleanchor="x2", row=1, col=2)
    fig.update_layout(showlegend=False)
    return _layout(fig, 300)


def mod_layers(layers: Sequence[str], modality: str) -> list[str]:
    """Spiking layers of one modality ('a' or 'v'), by the `a.` / `v.` name prefix."""
    return [name for name in layers if name.startswith(f"{modality}.")]
