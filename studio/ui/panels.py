"""Every panel of the 'Train & watch' page, drawn from a RunView: live (each chart fetches its own updates
from the live routes and redraws in place), or once (finished runs, Replay), through the live cache."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from core.config import DEFAULTS
from core.errors import StoreError
from studio.charts import rasters as raster_charts
from studio.charts.streams import suffix_of
from studio.live import figures as live_figures
from studio.live import livechart, runs, urls
from studio.live.rundata import RunView
from studio.live.runs import Built
from studio.settings import PANELS_S
from studio.ui.text import plain
from studio.ui.widgets import explain

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
             "uniform attention. Below: the entropy of each stream's attention (ln T = uniform, 0 = all weight "
             "on one timestep), with a warning when it has collapsed.",
    "sample": "AV-Digits-T: this sample's 16-frame video (outlined: the frames where the digit really shows) and "
              "its attention α_u(t) at the newest probe step (dotted boxes: the timesteps where the word and the "
              "digit really are, from each event's frames mapped onto the T timesteps). Attention that has learned "
              "*when* to look sits inside the boxes.",
    "raster": "Which neurons fired at which timestep for one fixed validation sample (black = spike). Neurons are "
              "sorted by firing rate, busiest at the top; large layers show an evenly spaced subset. Pick one layer "
              "or all layers of the modality. Below: the membrane potential of four neurons of that layer (of the "
              "first one for all layers). The run records the membranes of the neurons anywhere in the layer that "
              "start the most spike trains on the probe samples; of those, the four that fire most often after a "
              "silent step are shown (the number is the neuron's place in the layer): the potential "
              "integrates its input and leaks back toward rest; when it crosses the threshold v_th (dashed) the "
              "neuron spikes (red tick) and the potential resets to 0.",
    "imbalance": "Is one modality monopolising training? **Val acc gap**: audio minus visual accuracy per epoch. "
                 "**Grad-norm ratio**: size of the audio encoder's gradient over the visual one's (1 = balanced). "
                 "A run of other modalities compares its first with its second (short names in the titles); of "
                 "three or more, each head's accuracy minus the best head's, each gradient norm over the largest. "
                 "**Shapley**: how much each modality adds to the fused accuracy (blank one input, re-evaluate; "
                 "only our trainer computes it). "
                 "**To 90 % of own latest**: epochs until each head reached 90 % of *its own* latest validation "
                 "accuracy (not 90 % accuracy: a head stuck at 60 % gets there early).",
    "rates": "Average spikes per neuron per timestep in each spiking layer. Near 0: silent layers (no signal "
             "passes); near 1: saturated layers. Healthy SNNs sit in between.",
    "energy": "Estimated energy for one inference: operations on spikes cost 0.9 pJ per synaptic operation (only "
              "when a spike arrives), operations on analog values (first layer, time alignment, attention) 4.6 pJ per "
              "multiply-accumulate; the ANN is the same network run once on the same input at 4.6 pJ per MAC.",
}


@dataclass(frozen=True)
class Live:
    """Where a live page's charts fetch their figures: the run's token for the live routes and extra query
    parameters (the demo replay's start time)."""

    run: str
    params: tuple[tuple[str, Any], ...] = ()
    probe_step: int | None = None  # the run's newest probe step (the raster controls' samples and layers)

    def src(self, name: str, **extra: Any) -> str:
        return urls.figure_src(self.run, name, **dict(self.params), **extra)


VIEW_FIGURES = live_figures.FIGURES  # the figures that depend on the run alone (studio/warmup.py builds them)


def _draw(built: Built | None, key: str) -> None:
    if built is not None:
        livechart.static_chart_json(built.json.decode(), built.height, key)


def _show(view: RunView, slot: str, name: str, live: Live | None) -> None:
    """One of VIEW_FIGURES: live, a chart that fetches its own updates; else drawn now from the live cache (built
    once per change, shared with every session and the routes)."""
    if live is not None:
        livechart.live_chart(live.src(name), f"{slot}_{name}", live_figures.HEIGHTS[name], PANELS_S)
        return
    _draw(runs.panel_figure(view, name), f"{slot}_{name}")


def curves(view: RunView, slot: str, live: Live | None = None) -> None:
    st.subheader("Loss & accuracy per modality")
    explain(HELP["loss"])
    _show(view, slot, "loss", live)
    st.subheader("Modality learning rates")
    explain(HELP["lr"])
    _show(view, slot, "lr", live)


def records_no_attention(view: RunView) -> bool:
    """A run (of another training loop, core/runlog.py) that logs steps but no attention: our trainer logs
    alpha_entropy_* at every step, even for strategies without attention."""
    entropy = ("alpha_entropy_a", "alpha_entropy_v", "alpha_entropy_f")
    return (len(view.steps) > 0 and not np.isfinite(view.alphas).any()
            and not any(c in view.steps.columns for c in entropy))


def attention(view: RunView, slot: str, live: Live | None = None) -> None:
    if records_no_attention(view):
        st.caption("This run records no attention (α): no attention panels.")
        return
    st.subheader("Per-timestep TAAF attention α_u(t)")
    explain(HELP["alpha"])
    left, right = st.columns([3, 1])
    with left:
        _show(view, slot, "alpha", live)
        _show(view, slot, "entropy", live)  # titled with a warning while the attention has collapsed
    with right:
        if live is not None or len(view.probe_steps):
            _show(view, slot, "alpha_now", live)


ALL_LAYERS = live_figures.ALL_LAYERS


def _probe_info(view: RunView, live: Live | None) -> tuple[int, np.ndarray, dict[str, np.ndarray] | None]:
    """(probe samples, their labels, the newest probe arrays or None) for the raster controls. Live, from the
    run's newest probe step: the demo's replay may not have reached one yet, but its rasters will."""
    step = live.probe_step if live is not None else view.probe_steps[-1] if view.probe_steps else None
    if step is not None:
        try:
            arrays = runs.probe_arrays(view.path, step)
        except StoreError as e:
            st.warning(f"Probe arrays of step {step} cannot be read: {plain(e)}")
            return 0, np.zeros(0, np.int64), None
        n = next((a.shape[0] for k, a in arrays.items() if k.startswith("spikes/")), 0)
        return n, arrays.get("labels", np.zeros(0, np.int64)), arrays
    n = int(view.config.get("record", {}).get("probes", DEFAULTS["record"]["probes"])) if live is not None else 0
    return n, np.zeros(0, np.int64), None


@st.fragment  # nested: its selectors redraw only the rasters, not every panel
def rasters(view: RunView, slot: str, live: Live | None = None) -> None:
    st.subheader("Spike rasters of a probe sample")
    explain(HELP["raster"])
    n_probe, labels, arrays = _probe_info(view, live)
    if not n_probe:
        st.info("No spikes recorded yet: rasters appear at the run's first probe step.")
        return
    names = view.meta.get("class_names") or []
    c = st.columns([2, 2, 2, 3])
    probe = c[0].selectbox("probe sample", range(n_probe), key=f"{slot}_probe",
                           format_func=lambda i: f"#{i}" + (f" (class {names[labels[i]] if names else labels[i]})"
                                                            if i < len(labels) else ""))
    mod = c[1].radio("modality", view.modalities, horizontal=True, key=f"{slot}_mod")  # what the run records
    if arrays is not None:
        layers = live_figures.spike_layers(view, mod, arrays)
    else:
        layers = raster_charts.mod_layers(view.layers, suffix_of(view.streams, mod) or mod[:1]) or view.layers
    max_n = c[2].select_slider("neurons shown", list(live_figures.MAX_NEURONS), value=200, key=f"{slot}_maxn")
    if not layers or probe is None:
        st.info("No spikes recorded for this modality.")
        return
    layer = c[3].selectbox("layer", [ALL_LAYERS, *layers], key=f"{slot}_layer",
                           help="the raster shows this layer, or every layer of the modality; the membrane "
                                "traces are of this layer (of the first one for all layers)")
    # A frame-sequence run (AV-Digits-T): the sample's video and its attention, with where its events are, first
    sample = [] if arrays is None else [n for n, k in (("strip", "frames"), ("probe_alpha", "events")) if k in arrays]
    places = dict(zip(sample, st.columns([3, 2]) if len(sample) == 2 else [st.container()] * len(sample),
                      strict=True))
    if sample:
        explain(HELP["sample"])
    if live is not None:
        params = {"probe": probe, "mod": mod, "maxn": max_n, "layer": layer}
        for name in (*sample, "raster", "membrane"):
            with places.get(name, nullcontext()):
                livechart.live_chart(live.src(name, **params), f"{slot}_{name}", live_figures.HEIGHTS[name],
                                     PANELS_S)
        return
    if arrays is None:
        return
    for name in (*sample, "raster", "membrane"):
        try:
            with places.get(name, nullcontext()):
                _draw(runs.raster_figure(view, name, (probe, mod, max_n, layer)), f"{slot}_{name}")
        except ValueError:  # no membrane recorded for this modality: the raster alone, as before
            continue


def diagnostics(view: RunView, slot: str, live: Live | None = None) -> None:
    st.subheader("Imbalance diagnostics")
    explain(HELP["imbalance"])
    _show(view, slot, "imb", live)
    left, right = st.columns(2)
    with left:
        st.subheader("Firing rates")
        explain(HELP["rates"])
        _show(view, slot, "rates", live)
    with right:
        st.subheader("Energy")
        explain(HELP["energy"])
        _show(view, slot, "energy", live)


def render(view: RunView, slot: str, live: Live | None = None) -> None:
    """All page-1 panels for one cut of a run; with `live`, each chart fetches its own updates in place."""
    curves(view, slot, live)
    attention(view, slot, live)
    rasters(view, slot, live)
    diagnostics(view, slot, live)
