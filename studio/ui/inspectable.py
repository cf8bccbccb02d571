"""Whether the Inspect page's what-if can rebuild a run's network (pure: no Streamlit).

The what-if rebuilds this studio's own audio-visual network (core/whatif.py) from a run's config and checkpoint.
A run of another training loop (core/runlog.py: meta `strategy` "own loop" unless it says otherwise; an imported
TensorBoard run) or of other modalities cannot be rebuilt: the page says so in one line and shows what the run
recorded instead (its probe rasters).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.config_schema import STRATEGY_NAMES
from core.runlog_checks import recorded_modalities

OUR_MODALITIES = ["audio", "visual"]


def ours(meta: Mapping[str, Any]) -> bool:
    """Whether our trainer wrote the run: audio and visual, and one of our strategies (or none named: a run from
    before the strategy was recorded)."""
    strategy = meta.get("strategy")
    return list(recorded_modalities(meta).values()) == OUR_MODALITIES and (not strategy or strategy in STRATEGY_NAMES)


def whatif_blocker(meta: Mapping[str, Any], has_checkpoint: bool) -> str | None:
    """The one line saying why the what-if cannot run on this run, or None when it can."""
    mods = list(recorded_modalities(meta).values())
    if mods != OUR_MODALITIES:
        return (f"No what-if for this run: it records {', '.join(mods)}, and the what-if rebuilds this studio's own "
                "audio-visual network from a run's config and checkpoint.")
    if not ours(meta):
        return (f"No what-if for this run: another training loop recorded it (strategy {meta.get('strategy')!s}), "
                "and the what-if rebuilds this studio's own network from a run's config and checkpoint.")
    if not has_checkpoint:
        return "No what-if for this run: it saved no checkpoint, and the what-if rebuilds the network from one."
    return None
