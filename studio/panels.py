"""Every panel of the 'Train & watch' page, drawn from a RunView (used live, by the demo and by Replay)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.errors import StoreError
from core.store import RunReader
from studio import charts, charts_spikes
from studio.rundata import RunView
from studio.state import cached_fig, explain, plot

HELP = {
    "loss": "Training loss and accuracy of the three heads: **audio** only, **visual** only and the **fused** "
            "prediction. Faint lines are single training batches, solid lines a moving average; diamonds are "
            "validation accuracy at the end of each epoch. A head whose curve rises much earlier than the other "
            "is the *dominant* modality.",
    "lr": "TAAF slows down the dominant modality. **ρ_a** compares how well the audio head scores the true class "
          "with the visual head (ρ_a > 1: audio is ahead). The dominant modality gets a coefficient **k < 1** "
          "that multiplies the **learning rate** of its encoder; the other keeps k = 1. Left: the resulting "
          "effective learning rates.",
    "alpha": "TAAF gives every timestep t an attention weight α_u(t) for the audio, visual and fused outputs "
             "(each column sums to 1 over t). Heatmaps: how these weights moved during training (x = training "
             "step, y = timestep, mean over the probe samples); white is uniform attention 1/T, red a timestep that "
             "gets more than its share, blue less. Bars: the weights right now; the dotted line is "
             "uniform attention.",
    "raster": "Which neurons fired at which timestep for one fixed validation sample (black = spike). Neurons are "
              "sorted by firing rate, busiest at the top; large layers show an evenly spaced subset. Pick one layer "
              "or all layers of the modality. Below: the membrane potential of a few neurons of that layer (of the "
              "first one for all layers) with the firing threshold v_th — a neuron spikes when its potential crosses "
              "it, then resets. While you change these controls, the other panels hold still "
              "for a few seconds (the run bar keeps moving).",
    "imbalance": "Is one modality monopolising training? **Val acc gap**: audio minus visual accuracy per epoch. "
                 "**Grad-norm ratio**: size of the audio encoder's gradient over the visual one's (1 = balanced). "
                 "**Shapley**: how much each modality adds to the fused accuracy (blank one input, re-evaluate). "
                 "**Epochs to 90 %**: how fast each head reached 90 % of its latest validation accuracy.",
    "rates": "Average spikes per neuron per timestep in each spiking layer. Near 0: silent layers (no signal "
             "passes); near 1: saturated layers. Healthy SNNs sit in between.",
    "energy": "Estimated energy for one inference: spiking layers cost 0.9 pJ per synaptic operation (only when "
              "a spike arrives), the first layer and an ANN of the same shape 4.6 pJ per multiply-accumulate.",
}


@st.cache_data(max_entries=6, ttl=600, show_spinner=False)
def probe_arrays(path: str, step: int, immutable: bool = False) -> dict[str, np.ndarray]:
    """Probe arrays at one step (a few hundred KB; a handful cached for all sessions)."""
    with RunReader(Path(path), immutable=immutable or None) as r:
        return r.arrays(step, "probe")


def header(view: RunView) -> None:
    """Step / epoch / accuracy / speed at a glance."""
    meta, last = view.meta, view.steps.iloc[-1] if len(view.steps) else None
    c = st.columns(4)
    total = meta.get("total_steps")
    c[0].metric("step", f"{max(view.step, 0)}" + (f" / {total}" if total else ""))  # trainer steps count from 1
    epochs = meta.get("epochs")
    ep = int(last["epoch"]) + 1 if last is not None else 0
    c[1].metric("epoch", f"{ep}" + (f" / {epochs}" if epochs else ""))
    val = view.epochs["val_acc_f"].dropna() if "val_acc_f" in view.epochs else []
    c[2].metric("fused val acc", f"{val.iloc[-1]:.1%}" if len(val) else "—",
                delta=f"{val.iloc[-1] - val.iloc[-2]:+.1%}" if len(val) > 1 else None)
    sps = view.steps["samples_per_s"].tail(20).median() if "samples_per_s" in view.steps else None
    c[3].metric("samples / s", f"{sps:.0f}" if sps is not None and math.isfinite(sps) else "—",
                help="training speed, median of the last 20 steps")


def _alpha_now(view: RunView) -> go.Figure:
    return charts_spikes.alpha_bars_figure(view.alphas[-1], f"α now (step {view.probe_steps[-1]})")


# The panels' figures that depend on the run alone (the rasters also depend on their controls):
# name -> (what changes it, builder). studio/warmup.py builds each once at server start.
VIEW_FIGURES: dict[str, tuple[Callable[[RunView], Any], Callable[[RunView], go.Figure]]] = {
    "loss": (lambda v: (v.steps_key, v.epochs_key), lambda v: charts.loss_acc_figure(v.steps, v.epochs)),
    "lr": (lambda v: v.steps_key, lambda v: charts.lr_figure(v.steps)),
    "alpha": (lambda v: v.probes_key, lambda v: charts_spikes.alpha_history_figure(v.probe_steps, v.alphas)),
    "alpha_now": (lambda v: v.probes_key, _alpha_now),
    "imb": (lambda v: (v.steps_key, v.epochs_key), lambda v: charts.imbalance_figure(v.steps, v.epochs)),
    "rates": (lambda v: v.steps_key, lambda v: charts.firing_rate_figure(v.steps, v.layers)),
    "energy": (lambda v: v.epochs_key, lambda v: charts.energy_figure(v.epochs)),
}


def _show(view: RunView, slot: str, name: str) -> None:
    """One of VIEW_FIGURES, rebuilt only when what it draws changed."""
    changes, build = VIEW_FIGURES[name]
    plot(cached_fig(slot, name, changes(view), lambda: build(view)), f"{slot}_{name}")


def curves(view: RunView, slot: str) -> None:
    st.subheader("Loss & accuracy per modality")
    explain(HELP["loss"])
    _show(view, slot, "loss")
    st.subheader("Modality learning rates")
    explain(HELP["lr"])
    _show(view, slot, "lr")


def attention(view: RunView, slot: str) -> None:
    st.subheader("Per-timestep TAAF attention α_u(t)")
    explain(HELP["alpha"])
    left, right = st.columns([3, 1])
    with left:
        _show(view, slot, "alpha")
    with right:
        if len(view.probe_steps):
            _show(view, slot, "alpha_now")


ALL_LAYERS = "all layers"
HOLD_S = 3.0  # after a raster control changes, live panels keep their figures this long


def _touch(slot: str) -> None:
    st.session_state[f"{slot}_touched"] = time.time()


def recently_touched(slot: str) -> bool:
    """A raster control of `slot` changed in the last HOLD_S seconds."""
    return time.time() - st.session_state.get(f"{slot}_touched", 0.0) < HOLD_S


@st.fragment  # nested: its selectors redraw only the rasters, not every panel
def rasters(view: RunView, slot: str) -> None:
    st.subheader("Spike rasters of a probe sample")
    explain(HELP["raster"])
    if not view.probe_steps:
        st.info("Rasters appear at the first probe step (every `record.every_steps` steps).")
        return
    step = view.probe_steps[-1]
    try:
        arrays = probe_arrays(str(view.path), step, view.immutable)
    except StoreError as e:
        st.warning(f"Probe arrays of step {step} cannot be read: {e}")
        return
    labels = arrays.get("labels", np.zeros(0, np.int64))
    names = view.meta.get("class_names") or []
    n_probe = next((a.shape[0] for k, a in arrays.items() if k.startswith("spikes/")), 0)
    c = st.columns([2, 2, 2, 3])
    probe = c[0].selectbox("probe sample", range(n_probe), key=f"{slot}_probe", on_change=_touch, args=(slot,),
                           format_func=lambda i: f"#{i}" + (f" (class {names[labels[i]] if names else labels[i]})"
                                                            if i < len(labels) else ""))
    mod = c[1].radio("modality", ["audio", "visual"], horizontal=True, key=f"{slot}_mod", on_change=_touch,
                     args=(slot,))
    layers = charts_spikes.mod_layers(view.layers, mod[0]) or view.layers
    layers = [name for name in layers if f"spikes/{name}" in arrays]
    max_n = c[2].select_slider("neurons shown", [50, 100, 200, 400, 1000, "all"], value=200, key=f"{slot}_maxn",
                               on_change=_touch, args=(slot,))
    if not layers or probe is None:
        st.info("No spikes recorded for this modality.")
        return
    layer = c[3].selectbox("layer", [ALL_LAYERS, *layers], key=f"{slot}_layer", on_change=_touch, args=(slot,),
                           help="the raster shows this layer, or every layer of the modality; the membrane "
                                "traces are of this layer (of the first one for all layers)")
    shown = layers if layer == ALL_LAYERS else [layer]
    mem_layer = shown[0]
    spikes = {name: arrays[f"spikes/{name}"][probe] for name in shown}
    key = (view.path, step, probe, mod, max_n, layer)
    fig = cached_fig(slot, "raster", key, lambda: charts_spikes.raster_figure(
        spikes, None if max_n == "all" else int(max_n)))
    plot(fig, f"{slot}_raster")
    mem = arrays.get(f"membrane/{mem_layer}")
    if mem is not None:
        v_th = float(view.meta.get("v_th", view.config.get("model", {}).get("v_th", 1.0)))
        m = mem[probe].astype(np.float32)
        fig = cached_fig(slot, "membrane", key, lambda: charts_spikes.membrane_figure(
            m, spikes[mem_layer][:, : m.shape[1]], v_th, range(min(4, m.shape[1])),
            f"Membrane potential · {mem_layer} (step {step})"))
        plot(fig, f"{slot}_membrane")


def diagnostics(view: RunView, slot: str) -> None:
    st.subheader("Imbalance diagnostics")
    explain(HELP["imbalance"])
    _show(view, slot, "imb")
    left, right = st.columns(2)
    with left:
        st.subheader("Firing rates")
        explain(HELP["rates"])
        _show(view, slot, "rates")
    with right:
        st.subheader("Energy")
        explain(HELP["energy"])
        _show(view, slot, "energy")


GROUPS = ("curves", "attention", "diagnostics")  # panel groups that a live page may redraw one at a time


def render(view: RunView, slot: str, groups: Mapping[str, RunView] | None = None) -> None:
    """All page-1 panels for one cut of a run; `groups` may give a panel group an older cut to draw."""
    cut = groups or {}
    header(view)
    curves(cut.get("curves", view), slot)
    attention(cut.get("attention", view), slot)
    rasters(cut.get("attention", view), slot)
    diagnostics(cut.get("diagnostics", view), slot)
