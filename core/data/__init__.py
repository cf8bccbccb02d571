"""Dataset dispatch: `build_datasets(cfg)` picks the loader named by `data.dataset`."""

from __future__ import annotations

from typing import Any

from core.data.common import DataBundle
from core.errors import ConfigError

DATASETS = ("avdigits", "cremad", "ave")


def build_datasets(cfg: dict[str, Any]) -> DataBundle:
    """Build train/val/test datasets from a full config (uses `data` and `train.seed`)."""
    data_cfg = cfg["data"]
    seed = int(cfg["train"]["seed"])
    name = data_cfg["dataset"]
    if name == "avdigits":
        from core.data import avdigits

        return avdigits.build(data_cfg, seed)
    if name == "cremad":
        from core.data import cremad

        return cremad.build(data_cfg, seed)
    if name == "ave":
        from core.data import ave

        return ave.build(data_cfg, seed)
    raise ConfigError(f"data.dataset = {name!r}: expected one of {', '.join(DATASETS)}")


__all__ = ["DataBundle", "build_datasets", "DATASETS"]
