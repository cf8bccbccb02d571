"""The dataset loaders, by `data.dataset` name. A loader is a module with

    build(data_cfg, seed, trust_pickles=False) -> DataBundle          train / val / test (refuses a broken dataset)
    check(data_cfg, decode=True, trust_pickles=False) -> CheckReport   what `python -m core.data check` prints

`trust_pickles` is the user's --allow-pickle flag (core.train, core.evaluate, core.data check): a loader may read
pickled files only when it is true. It is never taken from a config, so a copied run folder cannot switch it on.

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

ALLOW_PICKLE_HELP = ("read pickled audio (data.ave.audio = 'pickle'; numpy arrays only): a pickle can run code, "
                     "so pass this only for files you trust; no config file or run folder can turn it on")

LOADERS: dict[str, str] = {
    "avdigits": "core.data.avdigits",
    "avdigits-t": "core.data.avdigits_t",
    "cremad": "core.data.cremad",
    "ave": "core.data.ave",
}


def loader(name: str) -> ModuleType:
    """The loader module for a `data.dataset` value (ConfigError naming the key for an unknown one)."""
    if name not in LOADERS:
        raise ConfigError(f"data.dataset = {name!r}: expected one of {', '.join(LOADERS)}")
    return importlib.import_module(LOADERS[name])


def build_datasets(cfg: dict[str, Any], trust_pickles: bool = False) -> DataBundle:
    """Build train/val/test datasets from a full config (uses `data` and `train.seed`)."""
    return loader(cfg["data"]["dataset"]).build(cfg["data"], int(cfg["train"]["seed"]), trust_pickles=trust_pickles)


def check_config(cfg: dict[str, Any], decode: bool = True, trust_pickles: bool = False) -> CheckReport:
    """Validate the dataset a full config points at (ConfigError propagates: that is the user's config)."""
    return loader(cfg["data"]["dataset"]).check(cfg["data"], decode=decode, trust_pickles=trust_pickles)
