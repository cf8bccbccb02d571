"""Static fusion baseline: concatenated features, mean over time, one cross-entropy on the fused head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.model import ModelOutput
from core.strategies.base import Strategy, slice_logits


class ConcatStrategy(Strategy):
    name = "concat"
    fusion = "mean"

    def loss(self, model: nn.Module, out: ModelOutput, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        loss_f = F.cross_entropy(out.pred["f"], y)
        with torch.no_grad():
            uni = slice_logits(model, out)
            extra = {f"loss_{u}": float(F.cross_entropy(uni[u], y)) for u in ("a", "v")}
        return loss_f, {**extra, "loss_f": float(loss_f.detach())}

    def predictions(self, model: nn.Module, out: ModelOutput) -> dict[str, torch.Tensor]:
        return slice_logits(model, out)
