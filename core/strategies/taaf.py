"""TAAF with the temporal adaptive balanced fusion loss (the paper's method)."""

from __future__ import annotations

import torch
from torch import nn

from core.balance import balance_coefficients, confidence_score, stream_loss
from core.model import ModelOutput
from core.strategies.base import Strategy


class TAAFStrategy(Strategy):
    name = "taaf"
    fusion = "taaf"
    balance = True
    loss_uses_every_parameter = True  # every head has its own loss term; the attention weights all three

    def loss(self, model: nn.Module, out: ModelOutput,
             y: torch.Tensor) -> tuple[torch.Tensor, dict[str, float | torch.Tensor]]:
        weighting, floor = self.s["weighting"], self.s["entropy_floor"]
        parts = {u: stream_loss(out.logits[u], out.alpha[u], y, weighting, floor) for u in ("a", "v", "f")}
        total = self.s["lambda_a"] * parts["a"] + self.s["lambda_v"] * parts["v"] + self.s["lambda_f"] * parts["f"]
        # 0-d tensors: the trainer reads every step scalar in one transfer (core/step_metrics.py)
        return total, {f"loss_{u}": v.detach() for u, v in parts.items()}

    def signals(self, model: nn.Module, out: ModelOutput, y: torch.Tensor, epoch: int) -> dict[str, float]:
        s_a = confidence_score(out.logits["a"], out.alpha["a"], y)
        s_v = confidence_score(out.logits["v"], out.alpha["v"], y)
        return balance_coefficients(s_a, s_v, self.s["beta"], self.s["coeff"])

    def lr_scale(self, signals: dict[str, float], epoch: int) -> tuple[float, float]:
        # the same epoch window as OGM-GE's modulation (modulation_starts..modulation_ends)
        if not self.balance or not self.s["modulation_starts"] <= epoch <= self.s["modulation_ends"]:
            return 1.0, 1.0
        return signals["k_a"], signals["k_v"]
