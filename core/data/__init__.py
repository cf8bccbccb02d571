"""Datasets: `build_datasets(cfg)` picks the loader named by `data.dataset` (core/data/registry.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.data.registry import LOADERS, build_datasets

if TYPE_CHECKING:
    from core.data.common import DataBundle

DATASETS = tuple(LOADERS)


def __getattr__(name: str) -> Any:
    # DataBundle imports torch: loaded on first use, so `core.data.presets` stays light for the studio.
    if name == "DataBundle":
        from core.data.common import DataBundle

        return DataBundle
    raise AttributeError(name)


__all__ = ["DataBundle", "build_datasets", "DATASETS"]
