"""Dataset dispatch: `build_datasets(cfg)` picks the loader named by `data.dataset`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.errors import ConfigError

if TYPE_CHECKING:
    from core.data.common import DataBundle

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


def __getattr__(name: str) -> Any:
    # DataBundle imports torch: loaded on first use, so `core.data.presets` stays light for the studio.
    if name == "DataBundle":
        from core.data.common import DataBundle

        return DataBundle
    raise AttributeError(name)


__all__ = ["DataBundle", "build_datasets", "DATASETS"]
