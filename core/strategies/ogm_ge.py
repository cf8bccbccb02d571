"""OGM-GE (Peng et al., CVPR 2022), as in GeWu-Lab/OGM-GE_CVPR2022 main.py:
only the fused cross-entropy is back-propagated; unimodal scores come from the fused head's weight
slices; the dominant modality's conv-kernel gradients are scaled by k and, for OGM-GE, get Gaussian
noise with the std of the original gradient, between epochs modulation_starts and modulation_ends."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from core.model import ModelOutput
from core.strategies.base import NEUTRAL
from core.strategies.concat import ConcatStrategy


def ogm_coefficients(score_a: float, score_v: float, alpha: float) -> dict[str, float]:
    """ratio_v = score_v / score_a; k = 1 - tanh(alpha relu(ratio)) for the dominant one (the code uses
    relu(ratio), not ratio - 1)."""
    ratio_v = score_v / max(score_a, 1e-8)
    ratio_a = 1.0 / max(ratio_v, 1e-8)
    k_a = k_v = 1.0
    if ratio_v > 1:
        k_v = 1.0 - math.tanh(alpha * max(ratio_v, 0.0))
    else:
        k_a = 1.0 - math.tanh(alpha * max(ratio_a, 0.0))
    return {"rho_a": ratio_a, "rho_v": ratio_v, "k_a": k_a, "k_v": k_v}


def modulate_gradients(params: list[nn.Parameter], k: float, noise: bool) -> None:
    """grad = grad * k (+ N(0, std(grad) + 1e-8) for OGM-GE), for 4-D (conv kernel) gradients only.
    The noise draws from torch's global generator, which the loop reseeds every epoch."""
    for p in params:
        if p.grad is None or p.grad.dim() != 4:
            continue
        if noise:
            std = p.grad.std().item() + 1e-8
            p.grad.mul_(k).add_(torch.randn_like(p.grad) * std)
        else:
            p.grad.mul_(k)


class OGMGEStrategy(ConcatStrategy):
    name = "ogm-ge"
    fusion = "mean"

    def signals(self, model: nn.Module, out: ModelOutput, y: torch.Tensor, epoch: int) -> dict[str, float]:
        with torch.no_grad():
            uni = self.predictions(model, out)
            score = {u: float(F.softmax(uni[u], dim=-1).gather(1, y.view(-1, 1)).sum()) for u in ("a", "v")}
        return ogm_coefficients(score["a"], score["v"], self.s["ogm_alpha"])

    def in_window(self, epoch: int) -> bool:
        return self.s["modulation_starts"] <= epoch <= self.s["modulation_ends"]

    def after_backward(self, model: nn.Module, signals: dict[str, float], epoch: int) -> None:
        if not self.in_window(epoch):
            signals.update(k_a=NEUTRAL["k_a"], k_v=NEUTRAL["k_v"])
            return
        noise = self.s["ogm_noise"]
        modulate_gradients(list(model.audio_encoder.parameters()), signals["k_a"], noise)
        modulate_gradients(list(model.visual_encoder.parameters()), signals["k_v"], noise)
