"""The dataset loaders, by `data.dataset` name. A loader is a module with

    build(data_cfg, seed) -> DataBundle               train / val / test (refuses a dataset its check finds broken)
    check(data_cfg, decode=True) -> CheckReport        what `python -m core.data check` prints

Adding a dataset: write core/data/<name>.py with those two functions and add one line to LOADERS.
Modules are imported on first use: the loaders import torch, and `core.data.presets` stays light for the studio.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError

if TYPE_CHECKING:
    from core.data.common import DataBundle
    from core.data.validation import CheckReport

LOADERS: dict[str, str] = {
    "avdigits": "core.data.avdigits",
    "cremad": "core.data.cremad",
    "ave": "core.data.ave",
}


def loader(name: str) -> ModuleType:
    """The loader module for a `data.dataset` value (ConfigError naming the key for an unknown one)."""
    if name not in LOADERS:
        raise ConfigError(f"data.dataset = {name!r}: expected one of {', '.join(LOADERS)}")
    return importlib.import_module(LOADERS[name])


def build_datasets(cfg: dict[str, Any]) -> DataBundle:
    """Build train/val/test datasets from a full config (uses `data` and `train.seed`)."""
    return loader(cfg["data"]["dataset"]).build(cfg["data"], int(cfg["train"]["seed"]))


def check_config(cfg: dict[str, Any], decode: bool = True) -> CheckReport:
    """Validate the dataset a full config points at (ConfigError propagates: that is the user's config)."""
    return loader(cfg["data"]["dataset"]).check(cfg["data"], decode=decode)
