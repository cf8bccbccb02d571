"""Energy estimate, the SNN-paper convention (method.md §4), from what one forward pass really did.

    E_snn = 4.6 pJ x MACs (operations on analog input) + 0.9 pJ x SOPs (operations on spikes)
    SOPs  = input firing rate x MACs of that operation over all the steps it ran
    E_ann = 4.6 pJ x MACs of the same network without spikes on the same input, each MAC once:
            the audio encoder run once over the whole spectrogram, the visual encoder once on the frame,
            each head once. An ANN has no timesteps, so no time alignment and no attention over time.
The SNN side counts everything it computes: every layer at every step (overlapping audio windows
included, since the SNN really runs them), the time alignment and the attention's matrix products.
The firing rate is measured on the batch (non-zero fraction of the operation's input), not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.align import CrossAlign, TimeAlign
from core.model import PooledConv2d
from core.taaf import TemporalAttention

# pJ per operation, 45 nm (Horowitz, "Computing's energy problem", ISSCC 2014): fp32 mult 3.7 + add 0.9 = 4.6 per
# MAC, an accumulate (a spike's synaptic operation) 0.9; int8 mult 0.2 + add 0.03 = 0.23 per MAC, accumulate 0.03.
E_MAC_PJ = 4.6
E_AC_PJ = 0.9
E_INT8_MAC_PJ = 0.23
E_INT8_AC_PJ = 0.03


@dataclass
class LayerCost:
    name: str
    macs: float  # per sample, summed over every call (every step) of this forward
    spiking_input: bool  # its input was all 0 / 1 in every call
    active_macs: float  # sum over calls of MACs x non-zero fraction of the input


def _macs(module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Multiply-accumulates of one call (whole batch)."""
    if isinstance(module, nn.Conv2d):
        k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        if isinstance(module, PooledConv2d):  # counted as defined: the 3 x 3 conv at full size (then pooling)
            return float(x.shape[0] * module.out_channels * x.shape[-2] * x.shape[-1] * k)
        return float(y.numel() * k)
    if isinstance(module, TimeAlign):  # out(t) = sum_s W[t, s] h(s): T x S x D per sample
        return float(module.weight.numel() * x[0].numel())
    if isinstance(module, CrossAlign):  # q K^T and the weights times the values: T x T x d each, per sample
        t, b = x.shape[:2]
        return float(b * 2 * t * t * module.query.out_features)
    if isinstance(module, TemporalAttention):  # Q K^T (T x T x d) and sum_t alpha(t) O(t) (T x C), per sample
        t, b, c = x.shape
        return float(b * (t * t * module.query.out_features + t * c))
    return float(y.numel() * module.in_features)  # nn.Linear (the query / key projections included)


COUNTED = (nn.Conv2d, nn.Linear, TimeAlign, CrossAlign, TemporalAttention)


@torch.no_grad()
def count(module: nn.Module, run, batch: int) -> list[LayerCost]:
    """Call `run()` with hooks on every counted operation inside `module`; each one's cost per sample."""
    costs: dict[str, LayerCost] = {}

    def hook(name: str):
        def fn(m: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            x = inputs[0]
            macs = _macs(m, x, output) / batch
            binary = bool(((x == 0) | (x == 1)).all())
            c = costs.setdefault(name, LayerCost(name, 0.0, True, 0.0))
            c.macs += macs
            c.spiking_input = c.spiking_input and binary
            c.active_macs += macs * float((x != 0).float().mean())

        return fn

    handles = [m.register_forward_hook(hook(n)) for n, m in module.named_modules() if isinstance(m, COUNTED)]
    was_training = module.training
    try:
        module.eval()
        run()
    finally:
        module.train(was_training)
        for h in handles:
            h.remove()
    return list(costs.values())


def layer_costs(model: nn.Module, audio: torch.Tensor, visual: torch.Tensor) -> list[LayerCost]:
    """Every counted operation of one SNN forward, per sample."""
    return count(model, lambda: model(audio, visual), audio.shape[0])


def ann_layer_macs(model: nn.Module, audio: torch.Tensor, visual: torch.Tensor) -> dict[str, float]:
    """`ann_macs` per layer, named as in the SNN (audio_encoder.stages.0.conv, head_a, ...)."""
    enc_a = count(model.audio_encoder, lambda: model.audio_encoder(audio[None, :, None]), audio.shape[0])
    frames = visual.transpose(0, 1) if visual.dim() == 5 else visual[None]  # an ANN sees each frame once
    enc_v = count(model.visual_encoder, lambda: model.visual_encoder(frames), visual.shape[0])
    out = {f"audio_encoder.{c.name}": c.macs for c in enc_a} | {f"visual_encoder.{c.name}": c.macs for c in enc_v}
    return out | {n: float(h.in_features * h.out_features) for n, h in
                  (("head_a", model.head_a), ("head_v", model.head_v), ("head_f", model.head_f))}


def ann_macs(model: nn.Module, audio: torch.Tensor, visual: torch.Tensor) -> float:
    """MACs per sample of the same network as an ANN: each encoder once on its whole input, each head once.

    The SNN's overlapping audio windows (`audio_context`) are not an ANN's way to see a spectrogram: an
    ANN convolves it once, so each input frame is counted once. Spikes or not, the count is the same.
    """
    return sum(ann_layer_macs(model, audio, visual).values())


def energy_estimate(model: nn.Module, audio: torch.Tensor, visual: torch.Tensor) -> dict[str, float]:
    """pJ per sample for the SNN and for the same network as an ANN (fp32 and int8 for both), SOPs, analog MACs."""
    costs = layer_costs(model, audio, visual)
    sops = sum(c.active_macs for c in costs if c.spiking_input)
    macs = sum(c.macs for c in costs if not c.spiking_input)
    ann = ann_macs(model, audio, visual)
    return {
        "energy_pj": E_MAC_PJ * macs + E_AC_PJ * sops,
        "energy_ann_pj": E_MAC_PJ * ann,
        "energy_int8_pj": E_INT8_MAC_PJ * macs + E_INT8_AC_PJ * sops,
        "energy_ann_int8_pj": E_INT8_MAC_PJ * ann,
        "sops": sops,
        "macs": macs,
        "ann_macs": ann,
    }
