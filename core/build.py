"""What a run is made of, built the same way wherever a run is needed: the data, the strategy and the network.

Training (core/training_loop.py), evaluation (core/evaluate.py) and the what-if questions (core/whatif.py) all start
from `build_run(cfg)`; training also picks its device and reseeds through this module.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from core.data import build_datasets
from core.data.common import DataBundle
from core.errors import TAAFError
from core.model import MultimodalSNN
from core.strategies import Strategy, make_strategy


@dataclass
class BuiltRun:
    cfg: dict[str, Any]
    bundle: DataBundle
    strategy: Strategy
    model: MultimodalSNN


def build_run(cfg: dict[str, Any], trust_pickles: bool = False) -> BuiltRun:
    """Datasets, strategy and a freshly initialised network (on the CPU) for a full config.

    In this order: the network's initial weights come from the global RNG, which the caller has seeded.
    `trust_pickles` is the user's --allow-pickle flag, never a config value (a run's config may be someone else's)."""
    bundle = build_datasets(cfg, trust_pickles)
    strategy = make_strategy(cfg)
    model = MultimodalSNN(cfg["model"], bundle.audio_shape, bundle.visual_shape, bundle.num_classes, strategy.fusion)
    return BuiltRun(cfg, bundle, strategy, model)


def seed_everything(seed: int, epoch: int) -> None:
    """Reseeded at every epoch so a run resumed from an epoch checkpoint replays the same randomness."""
    s = seed * 100_003 + epoch
    random.seed(s)
    np.random.seed(s % 2**32)
    torch.manual_seed(s)


def resolve_device(name: str) -> torch.device:
    """`train.device` (auto, cpu, cuda or cuda:N) as a device this machine has; TAAFError naming the key if not."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TAAFError(f"train.device = {name!r}: CUDA is not available on this machine (use 'cpu' or 'auto')")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise TAAFError(f"train.device = {name!r}: expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise TAAFError(f"train.device = {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type not in ("cpu", "cuda"):
        raise TAAFError(f"train.device = {name!r}: expected auto, cpu, cuda or cuda:N")
    return device
