"""Energy estimate, the SNN-paper convention (method.md §4), from what one forward pass really did.

    E_snn = 4.6 pJ x MACs (layers whose input is analog) + 0.9 pJ x SOPs (layers whose input is spikes)
    SOPs  = input firing rate x MACs of that layer over all its steps
    E_ann = 4.6 pJ x MACs of the same layers as an ANN: one pass per distinct input (every audio slice,
            the visual frame once, heads and attention once)
The firing rate is measured on the batch (non-zero fraction of the layer's input), not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.model import PooledConv2d

E_MAC_PJ = 4.6
E_AC_PJ = 0.9


@dataclass
class LayerCost:
    name: str
    macs: float  # per sample, summed over the steps this layer ran
    steps: int  # how many steps it ran (calls fold time into the batch)
    spiking_input: bool
    input_rate: float


def _macs(module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    if isinstance(module, nn.Conv2d):
        k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        if isinstance(module, PooledConv2d):  # counted as defined: the 3 x 3 conv at full size (then pooling)
            return float(x.shape[0] * module.out_channels * x.shape[-2] * x.shape[-1] * k)
        return float(y.numel() * k)
    return float(y.numel() * module.in_features)  # nn.Linear


@torch.no_grad()
def layer_costs(model: nn.Module, audio: torch.Tensor, visual: torch.Tensor) -> list[LayerCost]:
    """Run one forward with hooks on every Conv2d / Linear and return each layer's cost per sample."""
    batch = audio.shape[0]
    costs: dict[str, LayerCost] = {}

    def hook(name: str):
        def fn(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            x = inputs[0]
            binary = bool(((x == 0) | (x == 1)).all())
            rate = float((x != 0).float().mean())
            c = costs.setdefault(name, LayerCost(name, 0.0, 0, binary, rate))
            c.macs += _macs(module, x, output) / batch
            c.steps += max(1, x.shape[0] // batch)

        return fn

    handles = [
        m.register_forward_hook(hook(n)) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    try:
        was_training = model.training
        model.eval()
        model(audio, visual)
        model.train(was_training)
    finally:
        for h in handles:
            h.remove()
    return list(costs.values())


def energy_estimate(model: nn.Module, audio: torch.Tensor, visual: torch.Tensor) -> dict[str, float]:
    """pJ per sample for the SNN and for the same network as an ANN, plus SOPs and analog MACs."""
    costs = layer_costs(model, audio, visual)
    sops = sum(c.macs * c.input_rate for c in costs if c.spiking_input)
    macs = sum(c.macs for c in costs if not c.spiking_input)
    ann_macs = 0.0
    for c in costs:
        per_step = c.macs / max(c.steps, 1)
        # Audio slices are different data, so an ANN runs every one; a frame or a head runs once.
        ann_macs += c.macs if c.name.startswith("audio_encoder") else per_step
    return {
        "energy_pj": E_MAC_PJ * macs + E_AC_PJ * sops,
        "energy_ann_pj": E_MAC_PJ * ann_macs,
        "sops": sops,
        "macs": macs,
    }
