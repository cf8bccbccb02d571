"""TAAF: temporal attention-guided adaptive fusion (Shen et al., 2025; our reading in docs/method.md).

For each output u in {audio, visual, fused} with per-timestep logits O_u (T x C):
    Q_u = O_u W^Q_u,  K_u = O_u W^K_u,  A_u = softmax(Q_u K_u^T / sqrt(d))   (T x T, rows sum to 1)
    alpha_u(t) = mean over query rows of A_u[:, t]                           (sums to 1 over t)
    prediction_u = sum_t alpha_u(t) O_u(t)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MODALITIES = ("a", "v", "f")  # audio, visual, fused: the row order of every recorded alpha


class TemporalAttention(nn.Module):
    """Per-timestep importance scores alpha(t) for one stream of per-timestep logits.

    temperature = 0: scaled dot-product scores Q K^T / sqrt(d). temperature > 0: cosine similarity of Q and K
    divided by the temperature, so scores lie in [-1/temperature, 1/temperature] and no row of A can be sharper
    than that allows (a temperature on dot products would be undone by the learnable projections)."""

    def __init__(self, num_classes: int, dim: int, temperature: float = 0.0) -> None:
        super().__init__()
        self.query = nn.Linear(num_classes, dim, bias=False)
        self.key = nn.Linear(num_classes, dim, bias=False)
        self.scale = 1.0 / math.sqrt(dim)
        self.temperature = temperature

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        """logits (T, B, C) -> alpha (B, T), each row summing to 1."""
        o = logits.transpose(0, 1)  # (B, T, C)
        q, k = self.query(o), self.key(o)
        if self.temperature > 0:
            q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
            scores = q @ k.transpose(1, 2) / self.temperature  # (B, T, T)
        else:
            scores = q @ k.transpose(1, 2) * self.scale
        attention = scores.softmax(dim=-1)
        # Column mean: how much attention timestep t receives from all queries. Rows sum to 1,
        # so the column means sum to 1 too and alpha is a distribution over timesteps.
        return attention.mean(dim=1)


class TAAF(nn.Module):
    """One temporal attention per output stream; fused predictions weighted by alpha."""

    def __init__(self, num_classes: int, dim: int, temperature: float = 0.0) -> None:
        super().__init__()
        self.attention = nn.ModuleDict({u: TemporalAttention(num_classes, dim, temperature) for u in MODALITIES})

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


def alpha_entropy(alpha: torch.Tensor) -> torch.Tensor:
    """alpha (B, T) -> entropy per sample (B,), nats: ln T for uniform attention, 0 for one-hot."""
    a = alpha.float()
    # 0 log 0 = 0: the clamp only keeps log finite where alpha is exactly zero
    return -(a * a.clamp_min(1e-30).log()).sum(dim=-1)


@torch.no_grad()
def entropy_tensors(alpha: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """alpha_entropy_a / _v / _f: batch-mean attention entropy of each stream (0-d tensors), logged every step."""
    return {f"alpha_entropy_{u}": alpha_entropy(alpha[u]).mean() for u in MODALITIES}


def entropy_scalars(alpha: dict[str, torch.Tensor]) -> dict[str, float]:
    """entropy_tensors as Python floats."""
    return {k: float(v) for k, v in entropy_tensors(alpha).items()}
