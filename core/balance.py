"""Temporal adaptive balanced fusion loss: attention-guided cross-entropy per output stream, and the
per-modality learning-rate coefficients computed from attention-weighted confidence.

    L_AGL^u = - sum_t alpha_u(t) log softmax(O_u(t))[y]               (mean over the batch)
              how alpha enters it is a reading of the paper, `strategy.weighting` (see stream_loss)
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

from core.config_schema import WEIGHTINGS  # how alpha enters each stream's loss: one list, the config's choices
from core.taaf import alpha_entropy, weighted_over_time

EPS = 1e-8


def per_step_ce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """logits (T, B, C), target (B,) -> cross-entropy of every timestep's own prediction, (T, B)."""
    t, b, c = logits.shape
    return F.cross_entropy(logits.reshape(t * b, c), target.repeat(t), reduction="none").view(t, b)


def attention_guided_loss(logits: torch.Tensor, alpha: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """sum_t alpha(t) CE(O(t), y), batch mean; logits (T, B, C), alpha (B, T), target (B,) -> scalar.
    alpha keeps its gradient here: the loss is linear in alpha, so it is lowest with all the weight on the
    easiest timestep, and training drives alpha to one-hot ("weighted-ce")."""
    return (alpha.transpose(0, 1) * per_step_ce(logits, target)).sum(dim=0).mean()


def prediction_loss(logits: torch.Tensor, alpha: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CE(sum_t alpha(t) O(t), y): the cross-entropy of the prediction the network reports. It is convex
    in alpha, so a mixture of timesteps can beat any single one ("prediction-ce")."""
    return F.cross_entropy(weighted_over_time(logits, alpha), target)


def detached_loss(logits: torch.Tensor, alpha: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """sum_t sg(alpha(t)) CE(O(t), y) + CE(sum_t alpha(t) sg(O(t)), y) ("detached").

    The heads learn from the paper's attention-weighted per-timestep loss with alpha as fixed weights; the
    attention learns only from the prediction it builds (the second term, whose logits are held fixed), so
    it cannot lower the first term by moving all its weight to the easiest timestep."""
    weights = alpha.detach().transpose(0, 1)
    heads = (weights * per_step_ce(logits, target)).sum(dim=0).mean()
    return heads + prediction_loss(logits.detach(), alpha, target)


def stream_loss(logits: torch.Tensor, alpha: torch.Tensor, target: torch.Tensor, weighting: str,
                entropy_floor: float = 0.0) -> torch.Tensor:
    """One stream's loss under a reading `weighting`. entropy_floor (a fraction of ln T, uniform attention's
    entropy) > 0 adds mean(relu(entropy_floor ln T - H(alpha))): alpha may sharpen down to that entropy."""
    if weighting == "weighted-ce":
        loss = attention_guided_loss(logits, alpha, target)
    elif weighting == "prediction-ce":
        loss = prediction_loss(logits, alpha, target)
    elif weighting == "detached":
        loss = detached_loss(logits, alpha, target)
    else:
        raise ValueError(f"unknown strategy.weighting {weighting!r}: expected one of {', '.join(WEIGHTINGS)}")
    if entropy_floor > 0:
        floor = entropy_floor * math.log(alpha.shape[-1])
        loss = loss + F.relu(floor - alpha_entropy(alpha)).mean()
    return loss


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
