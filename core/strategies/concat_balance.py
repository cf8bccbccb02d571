"""Attribution baseline: TAAF's balance on concat, without the per-modality losses.

Only the fused cross-entropy trains (as in `concat`), so the weak encoder learns only through the fused head and
can be starved, the failure the balance is meant to fix. Each step the TAAF coefficients (core/balance.py) are
computed from the fused head's weight slices per timestep, O_u(t) = h_u(t) W[:, u]^T + b/2 (the unimodal scores
OGM-GE uses), with uniform alpha, and scale the dominant modality's learning rate between modulation_starts and
modulation_ends, as `taaf` does. Against `concat` it measures what the balance alone adds."""

from __future__ import annotations

import torch
from torch import nn

from core.balance import balance_coefficients, confidence_score
from core.model import ModelOutput
from core.strategies.concat import ConcatStrategy
from core.taaf import uniform_alpha


def slice_logits_per_step(model: nn.Module, out: ModelOutput) -> dict[str, torch.Tensor]:
    """u -> (T, B, C) per-timestep logits of the fused head's weight slice for that modality (bias halved)."""
    w, b = model.head_f.weight, model.head_f.bias
    d_a = out.feats["a"].shape[-1]
    return {"a": out.feats["a"] @ w[:, :d_a].T + b / 2, "v": out.feats["v"] @ w[:, d_a:].T + b / 2}


class ConcatBalanceStrategy(ConcatStrategy):
    name = "concat-balance"
    fusion = "mean"

    def signals(self, model: nn.Module, out: ModelOutput, y: torch.Tensor, epoch: int) -> dict[str, float]:
        with torch.no_grad():
            logits = slice_logits_per_step(model, out)
            score = {u: confidence_score(logits[u], uniform_alpha(logits[u]), y) for u in ("a", "v")}
        return balance_coefficients(score["a"], score["v"], self.s["beta"], self.s["coeff"])

    def lr_scale(self, signals: dict[str, float], epoch: int) -> tuple[float, float]:
        if not self.s["modulation_starts"] <= epoch <= self.s["modulation_ends"]:
            return 1.0, 1.0
        return signals["k_a"], signals["k_v"]
