"""Unimodal baselines: only one encoder and its head learn; every head reports that modality."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.model import ModelOutput
from core.strategies.base import Strategy


class UnimodalStrategy(Strategy):
    fusion = "mean"
    modality = "a"

    def loss(self, model: nn.Module, out: ModelOutput, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        loss = F.cross_entropy(out.pred[self.modality], y)
        value = float(loss.detach())
        return loss, {f"loss_{self.modality}": value, "loss_f": value}

    def predictions(self, model: nn.Module, out: ModelOutput) -> dict[str, torch.Tensor]:
        # The other modality has no trained head: it is left out and reported as missing (NaN).
        p = out.pred[self.modality]
        return {self.modality: p, "f": p}


class UnimodalAudioStrategy(UnimodalStrategy):
    name = "unimodal-audio"
    modality = "a"


class UnimodalVisualStrategy(UnimodalStrategy):
    name = "unimodal-visual"
    modality = "v"
