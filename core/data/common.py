"""What every dataset loader returns, so strategies, recorder and studio never care which dataset it is."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset, Subset


@dataclass
class DataBundle:
    """Train / validation / test splits plus the shapes the network is built from.

    Each dataset item is `(audio (F, L) float32, visual (C, H, W) float32, label int)`.
    """

    train: Dataset
    val: Dataset
    test: Dataset
    num_classes: int
    class_names: list[str]
    audio_shape: tuple[int, int]
    visual_shape: tuple[int, int, int]


def has_tensors(dataset: Dataset) -> bool:
    """In-memory datasets expose `.audio`, `.visual`, `.label` tensors: batches are plain slices."""
    return all(hasattr(dataset, k) for k in ("audio", "visual", "label"))


def iterate_batches(
    dataset: Dataset,
    batch_size: int,
    order: torch.Tensor | None = None,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Yield (audio, visual, label) batches in `order` (all items in index order when None)."""
    n = len(dataset)
    idx = torch.arange(n) if order is None else order
    if has_tensors(dataset):
        for start in range(0, len(idx), batch_size):
            sel = idx[start : start + batch_size]
            yield dataset.audio[sel], dataset.visual[sel], dataset.label[sel]
        return
    loader = DataLoader(
        Subset(dataset, idx.tolist()),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=False,
    )
    for audio, visual, label in loader:
        yield audio, visual, torch.as_tensor(label)
