"""One neuron of the network on its own, for the studio's Neuron lab: the network's own norse LIF step
(`lif_box_feed_forward_step`, `LIFBoxParameters`, `core.lif.DT`) driven by an input the student picks.

Pure functions of arrays (no Streamlit, no run needed). Time is the first axis, one step = DT = 1 ms.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from norse.torch import LIFBoxParameters
from norse.torch.functional.lif_box import LIFBoxFeedForwardState, lif_box_feed_forward_step

from core.config import DEFAULTS
from core.lif import DT, membrane_before_reset  # noqa: F401 (the Neuron lab page calls lab.membrane_before_reset)

FI_STEPS = 200  # steps each constant current of the f-I curve is held: rates in 5 spikes/s resolution


def lif_parameters(tau_mem_ms: float, v_th: float) -> LIFBoxParameters:
    """The network's neuron (core/model.py builds its layers' parameters the same way) with a membrane
    time constant in ms (tau_mem_inv = 1 / tau in 1/s, as in the config) and a threshold."""
    if not tau_mem_ms >= DT * 1e3:  # Euler steps overshoot (the membrane oscillates) below one step
        raise ValueError(f"tau_mem_ms = {tau_mem_ms}: expected at least {DT * 1e3:g} (one step)")
    return LIFBoxParameters(tau_mem_inv=torch.tensor(1e3 / float(tau_mem_ms)), v_th=torch.tensor(float(v_th)))


def network_tau_ms(model_cfg: dict[str, Any] | None = None) -> float:
    """The membrane time constant (ms) of a model config's neurons (the default's where it has none)."""
    return 1e3 / float({**DEFAULTS["model"], **(model_cfg or {})}["tau_mem_inv"])


def network_v_th(model_cfg: dict[str, Any] | None = None) -> float:
    return float({**DEFAULTS["model"], **(model_cfg or {})}["v_th"])


@torch.inference_mode()
def simulate(current: np.ndarray, p: LIFBoxParameters) -> tuple[np.ndarray, np.ndarray]:
    """Membrane (after reset, as the network records it) and spikes (0/1) for an input current.

    current: (S,) one neuron, or (S, B) B independent neurons (each starts at v = 0, as a network layer
    does for every sample). Returns float32 arrays of the same shape.
    """
    x = torch.from_numpy(np.array(current, dtype=np.float32))  # a copy: inputs may be read-only views
    state = LIFBoxFeedForwardState(v=torch.zeros_like(x[0]))
    vs, zs = [], []
    for x_t in x.unbind(0):
        z, state = lif_box_feed_forward_step(x_t, state, p, DT)
        vs.append(state.v)
        zs.append(z)
    return torch.stack(vs).numpy(), torch.stack(zs).numpy()


def f_i_curve(p: LIFBoxParameters, currents: np.ndarray, steps: int = FI_STEPS) -> np.ndarray:
    """Firing rate (spikes/s) for each constant input current held for `steps` steps, from rest."""
    drive = np.broadcast_to(np.asarray(currents, dtype=np.float32), (steps, len(currents)))
    _, z = simulate(drive, p)
    return z.mean(axis=0) / DT


def trace_and_f_i(current: np.ndarray, p: LIFBoxParameters, currents: np.ndarray,
                  steps: int = FI_STEPS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`simulate(current, p)` and `f_i_curve(p, currents, steps)` in one pass over time: the trace's
    neuron(s) ride along as extra columns of the f-I batch, so a slider move costs one loop of norse steps.
    """
    cur = np.asarray(current, dtype=np.float32)
    cols = cur.reshape(len(cur), -1)
    n = max(len(cols), steps)
    drive = np.zeros((n, cols.shape[1] + len(currents)), dtype=np.float32)
    drive[: len(cols), : cols.shape[1]] = cols
    drive[:, cols.shape[1]:] = np.asarray(currents, dtype=np.float32)
    v, z = simulate(drive, p)
    k = cols.shape[1]
    rates = z[:steps, k:].mean(axis=0) / DT
    return v[: len(cols), :k].reshape(cur.shape), z[: len(cols), :k].reshape(cur.shape), rates


def rheobase(p: LIFBoxParameters) -> float:
    """The constant current below which the neuron never fires: a constant input I pulls the membrane
    towards v_leak + I without reaching it, and a spike needs v > v_th."""
    return float(p.v_th) - float(p.v_leak)


# Inputs the student can pick: (S,) float32 currents.

def constant_input(level: float, steps: int) -> np.ndarray:
    return np.full(steps, level, dtype=np.float32)


def step_input(level: float, steps: int, onset: int, before: float = 0.0) -> np.ndarray:
    """`before` until step `onset`, then `level`."""
    x = np.full(steps, before, dtype=np.float32)
    x[onset:] = level
    return x


def noise_input(mean: float, std: float, steps: int, seed: int) -> np.ndarray:
    """Gaussian white noise around `mean`, the same for the same seed."""
    rng = np.random.default_rng(seed)
    return (mean + std * rng.standard_normal(steps)).astype(np.float32)


def probe_current(arrays: dict[str, np.ndarray], layer: str, neuron: int,
                  p: LIFBoxParameters) -> tuple[np.ndarray, np.ndarray]:
    """The input current of one recorded neuron over the probe samples: (T, P), and a (T, P) bool mask
    of the steps where it is only a lower bound.

    Runs that record `current/<layer>` give it exactly. Older runs (the demo run) record only membrane
    (after reset) and spikes, so it is recovered by solving the step v = v' + dt/tau (I + v_leak - v')
    for I: exact (to float16) where the neuron did not fire; where it fired the reset erased v, and all
    that is known is that v crossed the threshold, so the smallest such current (+1 %) stands in.
    """
    if f"current/{layer}" in arrays:
        cur = np.asarray(arrays[f"current/{layer}"], dtype=np.float32)[:, :, neuron].T
        return cur, np.zeros(cur.shape, dtype=bool)
    v = np.asarray(arrays[f"membrane/{layer}"], dtype=np.float32)[:, :, neuron].T  # (T, P)
    ids = arrays.get(f"neurons/{layer}")  # the raster column of each recorded neuron (older runs: the first M)
    col = neuron if ids is None else int(ids[neuron])
    fired = np.asarray(arrays[f"spikes/{layer}"])[:, :, col].T.astype(bool)
    a = DT * float(p.tau_mem_inv)
    v_prev = np.concatenate([np.zeros_like(v[:1]), v[:-1]])
    leak = float(p.v_leak)
    cur = v_prev + (v - v_prev) / a - leak
    bound = v_prev + (float(p.v_th) - v_prev) / a - leak
    cur = np.where(fired, bound + 0.01 * np.abs(bound) + 1e-3, cur)
    return cur.astype(np.float32), fired


def probe_neurons(arrays: dict[str, np.ndarray]) -> dict[str, int]:
    """Layers whose neurons' input can be played back, and how many neurons of each were recorded."""
    return {k.split("/", 1)[1]: int(v.shape[-1]) for k, v in arrays.items()
            if k.startswith("membrane/") and f"spikes/{k.split('/', 1)[1]}" in arrays}
