"""Attribution baseline: late fusion of two unimodal networks.

Each modality's encoder and head learn from their own cross-entropy only (loss = CE(mean_t O_a) + CE(mean_t O_v));
the fused prediction is the sum of their log-probabilities, log_softmax(O_a) + log_softmax(O_v) (a product of
experts), so nothing is trained for fusion: the network's concat head `head_f` gets no gradient and is not used.
Against `concat-aux` it measures what a trained fusion head adds to the per-modality losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.model import ModelOutput
from core.strategies.base import Strategy


def fused_log_probs(pred: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, C) log p_a + log p_v: the late-fusion prediction (its argmax is the class both find most likely)."""
    return F.log_softmax(pred["a"], dim=-1) + F.log_softmax(pred["v"], dim=-1)


class LateFusionStrategy(Strategy):
    name = "late-fusion"
    fusion = "mean"

    def loss(self, model: nn.Module, out: ModelOutput, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        loss_a, loss_v = F.cross_entropy(out.pred["a"], y), F.cross_entropy(out.pred["v"], y)
        with torch.no_grad():  # logged, not trained: the fused prediction has no parameters of its own
            loss_f = F.cross_entropy(fused_log_probs(out.pred), y)
        return loss_a + loss_v, {"loss_a": float(loss_a.detach()), "loss_v": float(loss_v.detach()),
                                 "loss_f": float(loss_f)}

    def predictions(self, model: nn.Module, out: ModelOutput) -> dict[str, torch.Tensor]:
        return {"a": out.pred["a"], "v": out.pred["v"], "f": fused_log_probs(out.pred)}
