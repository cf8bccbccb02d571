"""Temporal adaptive balanced fusion loss: attention-guided cross-entropy per output stream, and the
per-modality learning-rate coefficients computed from attention-weighted confidence.

    L_AGL^u = - sum_t alpha_u(t) log softmax(O_u(t))[y]               (mean over the batch)
    s_u     = sum over batch and t of alpha_u(t) softmax(O_u(t))[y]    (no gradient)
    rho_a   = s_a / s_v,  rho_v = 1 / rho_a
    k       = 1 - tanh(beta (rho - 1))   for the dominant modality (rho > 1), 1 for the other
            ( or 1 - tanh(beta relu(rho)), the OGM-GE form, with coeff = "ogm" )
The coefficient scales the learning rate of the dominant modality's parameter group for that step.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

EPS = 1e-8


def attention_guided_loss(logits: torch.Tensor, alpha: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """logits (T, B, C), alpha (B, T), target (B,) -> scalar; alpha keeps its gradient so the
    attention learns which timesteps carry the evidence."""
    t, b, c = logits.shape
    ce = F.cross_entropy(logits.reshape(t * b, c), target.repeat(t), reduction="none").view(t, b)
    return (alpha.transpose(0, 1) * ce).sum(dim=0).mean()


@torch.no_grad()
def confidence_score(logits: torch.Tensor, alpha: torch.Tensor, target: torch.Tensor) -> float:
    """s_u = sum_{b,t} alpha(b, t) softmax(logits(t, b))[y_b]."""
    p_true = logits.softmax(dim=-1).gather(-1, target.view(1, -1, 1).expand(logits.shape[0], -1, 1))
    return float((alpha.transpose(0, 1) * p_true.squeeze(-1)).sum())


def coefficient(rho: float, beta: float, form: str) -> float:
    """Learning-rate coefficient of the dominant modality (rho > 1)."""
    if form == "tanh":
        return 1.0 - math.tanh(beta * (rho - 1.0))
    if form == "ogm":
        return 1.0 - math.tanh(beta * max(rho, 0.0))
    raise ValueError(f"unknown coefficient form {form!r}: expected tanh or ogm")


def balance_coefficients(score_a: float, score_v: float, beta: float, form: str = "tanh") -> dict[str, float]:
    """rho and k for both modalities; only the dominant one is slowed down."""
    rho_a = (score_a + EPS) / (score_v + EPS)
    rho_v = 1.0 / rho_a
    k_a = coefficient(rho_a, beta, form) if rho_a > 1 else 1.0
    k_v = coefficient(rho_v, beta, form) if rho_v > 1 else 1.0
    return {"rho_a": rho_a, "rho_v": rho_v, "k_a": k_a, "k_v": k_v}
