"""Page 5 — Neuron lab: one LIF neuron of the network (its own norse step and parameters) on its own,
driven by an input the student picks. No training and no run needed: the simulation is core/neuron_lab.py,
the figures studio/charts/neuron.py; this page only wires widgets to them."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from core import neuron_lab as lab
from core.errors import TAAFError
from studio.charts import neuron as charts_neuron
from studio.ui import runlist, widgets
from studio.ui.text import plain
from studio.ui.widgets import explain

SOURCES = {"constant": "constant current", "step": "a step", "noise": "noise", "run": "a neuron of a run"}
F_I_CURRENTS = np.linspace(-0.5, 3.0, 141, dtype=np.float32)  # the f-I curve's currents (0.025 apart)


@st.cache_data(max_entries=16, show_spinner=False)
def probe_steps(path: str, updated: float) -> tuple[list[int], dict[str, Any]]:
    """A run's probe steps and its model settings."""
    with runlist.reader(path) as r:
        return r.array_steps("probe"), r.config().get("model", {})


@st.cache_data(max_entries=16, show_spinner=False)
def probe_arrays(path: str, step: int) -> dict[str, np.ndarray]:
    with runlist.reader(path) as r:
        return {k: v for k, v in r.arrays(step, "probe").items() if k.split("/", 1)[0] in ("spikes", "membrane",
                                                                                           "current")}


TAU_MS, V_TH = (1.0, 50.0, 0.1), (0.05, 2.0, 0.01)  # slider min, max, step


def on_grid(x: float, lo: float, hi: float, step: float) -> float:
    return round(min(max(x, lo), hi) / step) * step


def set_neuron(tau_ms: float, v_th: float) -> None:
    st.session_state["lab_tau"], st.session_state["lab_vth"] = on_grid(tau_ms, *TAU_MS), on_grid(v_th, *V_TH)


def run_input(slot: Any) -> dict[str, Any] | None:
    """The real input current of one recorded neuron over the probe samples: `current` (T, P), `bound`
    (steps where it is a lower bound), `starts` (of samples), `caption`, `own` (the run's tau_ms, v_th),
    `recorded` (its membrane as the run recorded it) and `gain`. The run selector goes in `slot`, full width
    above the columns: a run's label (strategy, preset, T, epochs, seed, status, test accuracy) is long."""
    table = runlist.all_runs_or_stop()
    table = table[table["status"] != "unknown"] if len(table) else table
    if table.empty:
        st.info("No run yet: train one on **Train & watch**, or pick another input.")
        return None
    rows = {str(r["path"]): r for r in table.to_dict("records")}
    path = slot.selectbox("run", list(rows), format_func=runlist.labeller(rows), key="lab_run")
    try:
        steps, model_cfg = probe_steps(path, float(rows[path].get("updated") or 0))
    except (TAAFError, OSError) as e:
        st.error(f"Cannot read this run: {plain(e)}")
        return None
    if not steps:
        st.info("This run has recorded no probe sample yet.")
        return None
    step = st.select_slider("training step of the recording", steps, value=steps[-1], key=f"lab_step_{path}")
    try:
        arrays = probe_arrays(path, int(step))
    except (TAAFError, OSError) as e:
        st.error(f"Cannot read this run's probe arrays: {plain(e)}")
        return None
    layers = lab.probe_neurons(arrays)
    if not layers:
        st.info("This run recorded no membrane potentials (record.membrane_neurons = 0).")
        return None
    layer = st.selectbox("layer", list(layers), key=f"lab_layer_{path}")
    neuron = st.slider("neuron", 0, layers[layer] - 1, 0, key="lab_neuron") if layers[layer] > 1 else 0
    gain = st.slider("input scale (× the recorded current)", 0.0, 3.0, 1.0, 0.05, key="lab_gain")
    try:
        own = (lab.network_tau_ms(model_cfg), lab.network_v_th(model_cfg))
        cur, bound = lab.probe_current(arrays, layer, int(neuron), lab.lif_parameters(*own))
    except (ValueError, TypeError, IndexError, ArithmeticError) as e:
        st.error(f"Cannot replay this run's neuron (its config.json model.tau_mem_inv / v_th or arrays): {plain(e)}")
        return None
    n_t, n_p = cur.shape
    exact = f"current/{layer}" in arrays
    how = ("recorded exactly by the run" if exact else
           "recovered from the recorded membrane (this run recorded only membrane and spikes): exact where the "
           "neuron stayed silent; at a spike step only a lower bound is known (▲), and the lab uses it")
    ids = arrays.get(f"neurons/{layer}")  # recorded neuron i is neuron ids[i] of the layer (older runs: i)
    which = f"Recorded neuron {neuron} (neuron {int(ids[int(neuron)])} of {plain(layer)})" if ids is not None else \
        f"Neuron {neuron} of {plain(layer)}"
    caption = (f"{which} at step {step}: its input over the run's {n_p} probe samples, "
               f"{n_t} steps each, one after another (the membrane starts from rest at each sample, dotted "
               f"lines, as in the network). The current is {how}. It is held fixed: changing τ or the threshold "
               "here changes this neuron only, not what the layers before it send.")
    recorded = np.asarray(arrays[f"membrane/{layer}"], dtype=np.float32)[:, :, int(neuron)].ravel()
    return {"current": gain * cur, "bound": bound.T.ravel(), "starts": [i * n_t for i in range(1, n_p)],
            "caption": caption, "own": own, "recorded": recorded, "gain": gain,
            "exact": exact}


st.title("Neuron lab")
explain("One **leaky integrate-and-fire (LIF)** neuron, exactly the one every layer of the network is made of "
        "(the same norse step function, `lif_box_feed_forward_step`, with the same parameters). Each millisecond "
        "step the membrane potential v moves a fraction dt/τ of the way towards the input current I "
        "(**integrate**), and falls back towards 0 when the input stops (**leak**). When v crosses the threshold "
        "the neuron emits a spike and v is **reset** to 0. No training runs here, and you need no run: pick an "
        "input, move the sliders and watch.")

net_tau, net_vth = lab.network_tau_ms(), lab.network_v_th()
st.session_state.setdefault("lab_tau", on_grid(net_tau, *TAU_MS))
st.session_state.setdefault("lab_vth", on_grid(net_vth, *V_TH))
run_slot = st.container()  # the run selector, when the input is a run's neuron
controls, charts = st.columns([1, 2.2], gap="large")
with controls:
    source = st.radio("input", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="lab_source")
    starts: list[int] = []
    level: float | None = None
    got: dict[str, Any] = {"bound": None, "caption": "", "own": (net_tau, net_vth)}
    if source == "run":
        got = run_input(run_slot) or st.stop()
        current, starts = got["current"], got["starts"]
    else:
        steps = st.slider("steps shown", 100, 500, 100, 50, key="lab_steps")
        if source == "constant":  # default: just above the threshold, so each spike takes a few steps to build
            level = st.slider("input current I", -0.5, 3.0, 0.55, 0.05, key="lab_level")
            current = lab.constant_input(level, steps)
        elif source == "step":
            level = st.slider("input current after the step", -0.5, 3.0, 0.8, 0.05, key="lab_step_level")
            onset = st.slider("step at timestep", 0, steps - 1, min(50, steps - 1), key="lab_onset")
            current = lab.step_input(level, steps, onset)
        else:
            level = st.slider("mean input current", -0.5, 3.0, 0.5, 0.05, key="lab_mean")
            std = st.slider("noise (standard deviation)", 0.0, 2.0, 0.4, 0.05, key="lab_std")
            seed = st.number_input("seed", 0, 2**31 - 1, 0, key="lab_seed")
            current = lab.noise_input(level, std, steps, int(seed))
    own = got["own"]
    st.slider("membrane time constant τ (ms)", TAU_MS[0], TAU_MS[1], step=TAU_MS[2], key="lab_tau")
    st.slider("threshold v_th", V_TH[0], V_TH[1], step=V_TH[2], key="lab_vth")
    st.button("network's τ and v_th", on_click=set_neuron, args=(net_tau, net_vth), key="lab_net",
              help=f"τ = {net_tau:g} ms, v_th = {net_vth:g}: the default config (configs/taaf.toml)", width="stretch")
    if source == "run":
        st.button("this run's τ and v_th", on_click=set_neuron, args=own, key="lab_own", width="stretch",
                  help=f"τ = {own[0]:g} ms, v_th = {own[1]:g}: what the run trained with")
    st.markdown(
        "- **Input**: the current pushed into the neuron each step. More current, higher v, more spikes.\n"
        "- **τ (membrane time constant)**: how long the neuron remembers. Small τ: v follows the input almost "
        "at once and forgets it as fast. Large τ: v climbs slowly, adds up many steps of input and leaks "
        "away slowly.\n"
        "- **Threshold v_th**: how high v must climb to fire. Higher: fewer spikes, and a constant current "
        "below it (the **rheobase**) never fires at all.")

tau, v_th = float(st.session_state["lab_tau"]), float(st.session_state["lab_vth"])
p = lab.lif_parameters(tau, v_th)
currents = F_I_CURRENTS if level is None else np.union1d(F_I_CURRENTS, np.float32([level]))
v, z, rates = lab.trace_and_f_i(current, p, currents)  # (T, P) for a run: each sample from rest
v_before = lab.membrane_before_reset(current, v, p)
if current.ndim == 2:  # samples one after another, for the chart
    current, v, z, v_before = (a.T.ravel() for a in (current, v, z, v_before))
with charts:
    widgets.plot(charts_neuron.neuron_figure(current, v, z, v_th, starts, got["bound"], v_before), "lab_trace")
    n_spikes = int(z.sum())
    st.caption((got["caption"] or f"{n_spikes} spikes in {len(z)} steps ({n_spikes / len(z) * 1000:.0f} "
                "spikes/s).") + " On a spike step the line climbs to where v got, above the threshold, and "
               "drops straight to 0 (the reset); the network's membrane panel records v after the reset only.")
    if source == "run" and got["exact"] and np.allclose((tau, v_th), own, rtol=0, atol=1e-6) and got["gain"] == 1:
        err = float(np.abs(v - got["recorded"]).max())
        st.caption(f"With the run's own τ and threshold and the recorded input, the lab reproduces the membrane "
                   f"the run recorded to within {err:.1e} (the run stores it as float16).")
    point = None
    if level is not None:
        i = int(np.searchsorted(currents, np.float32(level)))
        point = (float(currents[i]), float(rates[i]))
    widgets.plot(charts_neuron.f_i_figure(currents, rates, lab.rheobase(p), point, lab.FI_STEPS), "lab_fi")
    st.caption(f"**f-I curve**: the firing rate for each constant input current held {lab.FI_STEPS} steps, with "
               f"the τ and threshold set on the left. Below the rheobase (I = v_th = {v_th:g}) the membrane "
               "approaches I without ever crossing the threshold: no spikes. Above it the rate grows with the "
               "current, up to one spike every step (1000 spikes/s).")
