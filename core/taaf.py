"""TAAF: temporal attention-guided adaptive fusion (Shen et al., 2025; our reading in docs/method.md).

For each output u in {audio, visual, fused} with per-timestep logits O_u (T x C):
    Q_u = O_u W^Q_u,  K_u = O_u W^K_u,  A_u = softmax(Q_u K_u^T / sqrt(d))   (T x T, rows sum to 1)
    alpha_u(t) = mean over query rows of A_u[:, t]                           (sums to 1 over t)
    prediction_u = sum_t alpha_u(t) O_u(t)
"""

from __future__ import annotations

import math

import torch
from torch import nn

MODALITIES = ("a", "v", "f")  # audio, visual, fused: the row order of every recorded alpha


class TemporalAttention(nn.Module):
    """Per-timestep importance scores alpha(t) for one stream of per-timestep logits."""

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.query = nn.Linear(num_classes, dim, bias=False)
        self.key = nn.Linear(num_classes, dim, bias=False)
        self.scale = 1.0 / math.sqrt(dim)

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        """logits (T, B, C) -> alpha (B, T), each row summing to 1."""
        o = logits.transpose(0, 1)  # (B, T, C)
        scores = self.query(o) @ self.key(o).transpose(1, 2) * self.scale  # (B, T, T)
        attention = scores.softmax(dim=-1)
        # Column mean: how much attention timestep t receives from all queries. Rows sum to 1,
        # so the column means sum to 1 too and alpha is a distribution over timesteps.
        return attention.mean(dim=1)


class TAAF(nn.Module):
    """One temporal attention per output stream; fused predictions weighted by alpha."""

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.attention = nn.ModuleDict({u: TemporalAttention(num_classes, dim) for u in MODALITIES})

    def forward(self, logits: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """logits u -> (T, B, C)  =>  (alpha u -> (B, T), prediction u -> (B, C))."""
        alpha = {u: self.attention[u](logits[u]) for u in MODALITIES}
        pred = {u: weighted_over_time(logits[u], alpha[u]) for u in MODALITIES}
        return alpha, pred


def weighted_over_time(logits: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """sum_t alpha(b, t) logits(t, b, :) -> (B, C)."""
    return torch.einsum("tbc,bt->bc", logits, alpha)


def uniform_alpha(logits: torch.Tensor) -> torch.Tensor:
    """alpha(t) = 1/T: the mean over time that static fusion baselines use."""
    t, b = logits.shape[:2]
    return logits.new_full((b, t), 1.0 / t)
