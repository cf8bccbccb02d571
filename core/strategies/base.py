"""What a training strategy decides: its loss, its predictions, and how it modulates each modality.

The training loop calls, for every step:
    out = model(audio, visual)
    loss, scalars = strategy.loss(model, out, y)
    signals = strategy.signals(model, out, y, epoch)     # rho_a, rho_v, k_a, k_v (logged)
    lr scale of the audio / visual parameter groups = strategy.lr_scale(signals, epoch)
    loss.backward(); strategy.after_backward(model, signals, epoch); optimizer.step()
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from core.model import ModelOutput

NEUTRAL = {"rho_a": 1.0, "rho_v": 1.0, "k_a": 1.0, "k_v": 1.0}


class Strategy:
    name = "base"
    fusion = "taaf"  # how the network aggregates timesteps: "taaf" (attention) or "mean"
    # True when the loss reaches every parameter each step: DDP then skips its search for unused ones
    # (an extra pass over the autograd graph per step, and a warning when it finds none).
    loss_uses_every_parameter = False

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.s = cfg["strategy"]

    def loss(self, model: nn.Module, out: ModelOutput,
             y: torch.Tensor) -> tuple[torch.Tensor, dict[str, float | torch.Tensor]]:
        """The loss to minimise and the scalars to log (floats or 0-d tensors; the trainer reads them at once)."""
        raise NotImplementedError

    def predictions(self, model: nn.Module, out: ModelOutput) -> dict[str, torch.Tensor]:
        """u -> (B, C) logits used for accuracy of the audio, visual and fused heads."""
        return out.pred

    def signals(self, model: nn.Module, out: ModelOutput, y: torch.Tensor, epoch: int) -> dict[str, float]:
        return dict(NEUTRAL)

    def lr_scale(self, signals: dict[str, float], epoch: int) -> tuple[float, float]:
        return 1.0, 1.0

    def after_backward(self, model: nn.Module, signals: dict[str, float], epoch: int) -> None:
        return None


def slice_logits(model: nn.Module, out: ModelOutput) -> dict[str, torch.Tensor]:
    """Unimodal logits from the fused head's weight slices (OGM-GE, BalanceBenchmark):
    out_a = h_a W[:, :Da]^T + b/2, out_v = h_v W[:, Da:]^T + b/2, averaged over time."""
    head = model.head_f
    d_a = out.feats["a"].shape[-1]
    w, b = head.weight, head.bias
    h_a, h_v = out.feats["a"].mean(dim=0), out.feats["v"].mean(dim=0)
    return {"a": h_a @ w[:, :d_a].T + b / 2, "v": h_v @ w[:, d_a:].T + b / 2, "f": out.pred["f"]}
