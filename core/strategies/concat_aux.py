"""Attribution baseline: concat fusion plus the per-modality losses, with no attention and no balance.

loss = CE(mean_t O_f) + lambda_a CE(mean_t O_a) + lambda_v CE(mean_t O_v): the audio and visual heads are trained
on their own cross-entropy (as the unimodal baselines are), the fused head as in `concat`. Against `concat` it
measures what the per-modality losses add; against `taaf-uniform`, what TAAF's per-timestep loss and balance add
on top of them (docs/method.md, "Attribution baselines")."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.model import ModelOutput
from core.strategies.base import Strategy


class ConcatAuxStrategy(Strategy):
    name = "concat-aux"
    fusion = "mean"
    loss_uses_every_parameter = True  # all three heads have a loss term

    def loss(self, model: nn.Module, out: ModelOutput, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        parts = {u: F.cross_entropy(out.pred[u], y) for u in ("a", "v", "f")}
        total = parts["f"] + self.s["lambda_a"] * parts["a"] + self.s["lambda_v"] * parts["v"]
        return total, {f"loss_{u}": float(v.detach()) for u, v in parts.items()}
