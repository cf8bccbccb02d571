"""What a run records beyond per-step scalars: probe snapshots, per-head evaluation and Shapley values."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from core.data.common import iterate_batches
from core.model import MultimodalSNN
from core.strategies.base import Strategy
from core.taaf import MODALITIES

MAX_RASTER_NEURONS = 2048  # per layer: a fixed prefix of the flattened (channel, y, x) neurons


def probe_indices(dataset: Dataset, count: int, seed: int) -> torch.Tensor:
    """A fixed set of validation samples, the same at every recording of a run."""
    g = torch.Generator().manual_seed(seed + 7919)
    return torch.randperm(len(dataset), generator=g)[: min(count, len(dataset))].sort().values


def stack_items(dataset: Dataset, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return next(iterate_batches(dataset, len(indices), order=indices))


@torch.no_grad()
def record_probes(
    model: MultimodalSNN,
    strategy: Strategy,
    audio: torch.Tensor,
    visual: torch.Tensor,
    labels: torch.Tensor,
    membrane_neurons: int,
) -> dict[str, np.ndarray]:
    """Spikes and membrane of every LIF layer, alpha and per-timestep probabilities for the probes."""
    was_training = model.training
    model.eval()
    layers = model.lif_layers()
    for layer in layers:
        layer.record = True
    try:
        out = model(audio, visual)
    finally:
        for layer in layers:
            layer.record = False
        model.train(was_training)
    arrays: dict[str, np.ndarray] = {}
    for layer in layers:
        z = layer.spikes.flatten(2)[..., :MAX_RASTER_NEURONS]  # (S, P, N)
        v = layer.membrane.flatten(2)[..., :membrane_neurons]
        arrays[f"spikes/{layer.name}"] = z.transpose(0, 1).to(torch.uint8).cpu().numpy()
        arrays[f"membrane/{layer.name}"] = v.transpose(0, 1).to(torch.float16).cpu().numpy()
        layer.spikes = layer.membrane = None
    arrays["alpha"] = torch.stack([out.alpha[u] for u in MODALITIES], dim=1).float().cpu().numpy()
    probs = torch.stack([out.logits[u].softmax(-1) for u in MODALITIES], dim=0)  # (3, T, P, C)
    arrays["probs"] = probs.permute(2, 0, 1, 3).float().cpu().numpy()
    arrays["labels"] = labels.cpu().numpy().astype(np.int64)
    return arrays


@torch.no_grad()
def evaluate(
    model: MultimodalSNN,
    strategy: Strategy,
    dataset: Dataset,
    batch_size: int,
    device: torch.device,
    zero: tuple[str, ...] = (),
    num_workers: int = 0,
) -> dict[str, float]:
    """Accuracy of the audio, visual and fused heads (NaN for a head the strategy lacks) and fused loss.
    zero: modalities whose input is replaced by zeros (for Shapley values)."""
    was_training = model.training
    model.eval()
    correct = {u: 0 for u in MODALITIES}
    present = set(MODALITIES)
    loss_sum, n = 0.0, 0
    for audio, visual, y in iterate_batches(dataset, batch_size, num_workers=num_workers):
        audio, visual, y = audio.to(device), visual.to(device), y.to(device)
        if "a" in zero:
            audio = torch.zeros_like(audio)
        if "v" in zero:
            visual = torch.zeros_like(visual)
        preds = strategy.predictions(model, model(audio, visual))
        present &= set(preds)
        for u, p in preds.items():
            correct[u] += int((p.argmax(-1) == y).sum())
        loss_sum += float(F.cross_entropy(preds["f"], y, reduction="sum"))
        n += len(y)
    model.train(was_training)
    out = {f"acc_{u}": (correct[u] / max(n, 1) if u in present else math.nan) for u in MODALITIES}
    out["loss"] = loss_sum / max(n, 1)
    return out


def shapley_values(full: float, audio_only: float, visual_only: float, none: float) -> dict[str, float]:
    """Two-player Shapley values of fused accuracy: each modality's mean marginal gain."""
    return {
        "shapley_a": 0.5 * ((audio_only - none) + (full - visual_only)),
        "shapley_v": 0.5 * ((visual_only - none) + (full - audio_only)),
    }


def epochs_to_fraction(values: list[float], fraction: float = 0.9) -> int | None:
    """First epoch (1-based) whose value reaches `fraction` of the final one."""
    finite = [v for v in values if v == v]
    if not finite:
        return None
    target = fraction * values[-1]
    for i, v in enumerate(values):
        if v == v and v >= target:
            return i + 1
    return None
