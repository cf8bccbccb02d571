"""The network's spiking neuron: norse's LIF-box step wrapped as a layer, the recording hook the probes and the
studio read, and the membrane before each step's reset (what the probes store as `membrane_pre/`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import torch
from norse.torch import LIFBoxParameters
from norse.torch.functional.lif_box import LIFBoxFeedForwardState, lif_box_feed_forward_step
from torch import nn

from core.lif_multistep import lif_box_multistep, lif_box_parameters_fixed

DT = 1e-3  # seconds per simulation step
# "norse" runs norse's step once per timestep (the reference the multi-step kernel is tested and timed against)
LIF_IMPL_ENV = "TAAF_LIF"

# Where LIF layers put their spikes and membrane while `recording()` is open. A context variable, not a
# flag on the layers: a model shared by several threads (the studio's cached network) records for each
# caller into the caller's own dict, and a thread's context starts empty, so nobody else sees it.
_RECORDING: ContextVar[dict[str, tuple[torch.Tensor, torch.Tensor]] | None] = ContextVar("lif_recording",
                                                                                          default=None)


@contextmanager
def recording() -> Iterator[dict[str, tuple[torch.Tensor, torch.Tensor]]]:
    """Inside the block every LIF layer that runs stores (spikes, membrane), each (S, B, ...), under its name."""
    sink: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    token = _RECORDING.set(sink)
    try:
        yield sink
    finally:
        _RECORDING.reset(token)


# Modalities ("a", "v") whose encoder is muted while `muted()` is open (a steered drop, core/steering_apply.py):
# their LIF layers receive no current, so they fire nothing. A context variable for the same reason as above.
_MUTED: ContextVar[frozenset[str]] = ContextVar("lif_muted", default=frozenset())


@contextmanager
def muted(modalities: tuple[str, ...] | frozenset[str]) -> Iterator[None]:
    """Inside the block the LIF layers of these modalities' encoders (names `a.*`, `v.*`) get zero input current:
    the modality is absent as a muted microphone is, every neuron of its encoder silent. Zero *input* is not enough:
    after batch norm a blank frame still drives the encoder (its running mean is shifted away), and an all-zero
    training batch would collapse batch norm's running variance."""
    token = _MUTED.set(frozenset(modalities))
    try:
        yield
    finally:
        _MUTED.reset(token)


def is_muted(layer_name: str) -> bool:
    """Whether the layer of this name is silenced by an open `muted()` block."""
    return layer_name.split(".", 1)[0] in _MUTED.get()


class LIFLayer(nn.Module):
    """A layer of LIF-box neurons over all timesteps (core/lif_multistep.py: norse's step, fused over time);
    inside `recording()` it hands its spikes and membrane to the caller.

    LIFBox (no synaptic current) so input reaches the membrane in the same step: with T of 4 a
    current-based LIF would lose a step of latency per layer.
    """

    def __init__(self, name: str, p: LIFBoxParameters) -> None:
        super().__init__()
        self.name = name
        self.p = p
        self.rate = torch.zeros(())  # mean firing rate of the last forward (spikes per neuron per step)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()  # membranes integrate in fp32 even under bf16 autocast: thresholds need the precision
        if is_muted(self.name):
            x = x * 0.0  # in the graph: zero gradients, not none (DDP without find_unused_parameters needs them)
        if os.environ.get(LIF_IMPL_ENV) == "norse" or not lif_box_parameters_fixed(self.p):
            return self.forward_norse(x)
        out, v = lif_box_multistep(x, self.p, DT)  # all steps in one autograd node, the same numbers
        self.rate = out.detach().mean()
        sink = _RECORDING.get()
        if sink is not None:
            sink[self.name] = (out.detach(), v)  # membrane after reset: spikes overlay as markers
        return out

    def forward_norse(self, x: torch.Tensor) -> torch.Tensor:
        """norse's step once per timestep: the reference, and the path for parameters the kernel does not cover."""
        state = LIFBoxFeedForwardState(v=torch.zeros_like(x[0]))
        sink = _RECORDING.get()
        spikes, volts = [], []
        for t in range(x.shape[0]):
            z, state = lif_box_feed_forward_step(x[t], state, self.p, DT)
            spikes.append(z)
            if sink is not None:
                volts.append(state.v.detach())
        out = torch.stack(spikes)
        self.rate = out.detach().mean()
        if sink is not None:
            sink[self.name] = (out.detach(), torch.stack(volts))  # membrane after reset: spikes overlay as markers
        return out



@torch.inference_mode()
def membrane_before_reset(current: np.ndarray, v: np.ndarray, p: LIFBoxParameters) -> np.ndarray:
    """The membrane at each step before the threshold check: where it got on a spike step, before the reset.

    One norse step from each step's previous membrane (from `simulate`, rest before the first step) with the
    threshold out of reach, so nothing resets: elementwise, so all steps go in one call.
    """
    v = torch.from_numpy(np.array(v, dtype=np.float32))
    v_prev = torch.cat([torch.zeros_like(v[:1]), v[:-1]])
    x = torch.from_numpy(np.array(current, dtype=np.float32))
    _, state = lif_box_feed_forward_step(x, LIFBoxFeedForwardState(v=v_prev), p._replace(v_th=torch.tensor(np.inf)), DT)
    return state.v.numpy()
