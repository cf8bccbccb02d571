"""Learnable time alignment between an encoder's own steps and the network's T steps (docs/method.md)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

WARP_WIDTH = 0.3  # kernel width at initialisation, in output steps: each row averages its own interval


def causal_mask(t_out: int, t_in: int) -> torch.Tensor:
    """(t_out, t_in) True where input step s starts before output step t ends: s / S < (t + 1) / T."""
    s = torch.arange(t_in).view(1, -1)
    t = torch.arange(t_out).view(-1, 1)
    return s * t_out < (t + 1) * t_in


def warp_matrix(centre: torch.Tensor, width: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Rows = a Gaussian kernel over input steps (centres s + 0.5) at each output's position, softmax-normalised
    over the causal band. One shared width: each row is then an exponential tilt of the same base weights,
    so its mean input position grows with its centre (and with its band), which keeps the warp monotone."""
    pos = torch.arange(mask.shape[1], dtype=centre.dtype, device=centre.device) + 0.5
    logits = -((pos.view(1, -1) - centre.view(-1, 1)) ** 2) / (2 * width**2)
    return logits.masked_fill(~mask, float("-inf")).softmax(dim=-1)


def _softplus_inverse(x: float) -> float:
    return math.log(math.expm1(x))


class TimeAlign(nn.Module):
    """Learnable time warping (docs/method.md): out(t) = sum_s W[t, s] in(s) with W a monotone, causal,
    row-normalised warp for every parameter value.

    Output step t reads input time around its position c_t = c_0 + sum of positive gaps (monotone by
    construction), through a Gaussian kernel of one shared width, masked to the input steps that start
    before output step t ends (causal) and softmax-normalised (rows sum to 1). Initialised at c_t = the
    centre of output step t's interval and width 0.3 x S / T: plain resampling that averages each output
    step's own input steps (8 -> 4: pairs) instead of point-sampling them. `learnable = False` keeps that
    initial matrix fixed (the `align = "fixed"` ablation).
    """

    def __init__(self, t_in: int, t_out: int, learnable: bool = True) -> None:
        super().__init__()
        ratio = t_in / t_out
        first = torch.tensor([0.5 * ratio])
        gaps = torch.full((max(t_out - 1, 0),), _softplus_inverse(ratio))
        width = torch.tensor(_softplus_inverse(WARP_WIDTH * max(ratio, 1.0)))
        self.register_buffer("mask", causal_mask(t_out, t_in), persistent=False)
        for name, value in (("first", first), ("gaps", gaps), ("width", width)):
            if learnable:
                setattr(self, name, nn.Parameter(value))
            else:
                self.register_buffer(name, value)

    def centres(self) -> torch.Tensor:
        """c_t, in input-step units (input step s spans [s, s + 1))."""
        return torch.cat([self.first, self.first + torch.cumsum(F.softplus(self.gaps), dim=0)])

    @property
    def weight(self) -> torch.Tensor:
        """The (T, S) warp matrix."""
        return warp_matrix(self.centres(), F.softplus(self.width), self.mask)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.einsum("ts,sbd->tbd", self.weight, h)


def make_aligner(align: str, t_in: int, t_out: int) -> nn.Module:
    """`model.align`: learned warp, the same warp fixed at its initial resampling, or none (S = T).
    `cross` resamples each modality with the fixed warp; the per-sample part is CrossAlign, after it."""
    if align == "none":
        return nn.Identity()
    return TimeAlign(t_in, t_out, learnable=align == "learned")


class CrossAlign(nn.Module):
    """Per-sample alignment for the fused head (`model.align = "cross"`, docs/method.md):

        v'(t) = v(t) + W_o sum_s softmax_s(q(a(t)) . k(v(s)) / sqrt(d)) W_v v(s)

    over the (T, B, D) features after each modality's fixed resampling to T: the audio at step t asks every
    visual step of the SAME sample, so the fused head at t sees the visual evidence wherever it occurred in that
    sample (a TimeAlign is one matrix for all samples). Not causal and not monotone: any step may read any other.
    The residual keeps v(t) itself; the per-modality heads never see v'.
    """

    def __init__(self, d_a: int, d_v: int, d: int) -> None:
        super().__init__()
        self.query = nn.Linear(d_a, d)
        self.key = nn.Linear(d_v, d)
        self.value = nn.Linear(d_v, d)
        self.out = nn.Linear(d, d_v)

    def weights(self, h_a: torch.Tensor, h_v: torch.Tensor) -> torch.Tensor:
        """(B, T, T): row t = sample b's attention of audio step t over its visual steps (rows sum to 1)."""
        q, k = self.query(h_a).transpose(0, 1), self.key(h_v).transpose(0, 1)
        return (q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])).softmax(dim=-1)

    def forward(self, h_a: torch.Tensor, h_v: torch.Tensor) -> torch.Tensor:
        """(T, B, D_a), (T, B, D_v) -> the cross-aligned visual features (T, B, D_v)."""
        moved = self.weights(h_a, h_v) @ self.value(h_v).transpose(0, 1)  # (B, T, d)
        return h_v + self.out(moved).transpose(0, 1)
