"""Which streams a run records and how the charts name and colour them: its modalities (meta `modalities`, as
core/runlog.py writes it; our trainer's runs: audio and visual) and the fused one, by their short names (the
suffix of lr_<x>, k_<x>, acc_<x>, alpha_entropy_<x>, attention/<x>). Pure: no Streamlit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.runlog_checks import FUSED, recorded_modalities

FUSED_SUFFIX = "f"
DEFAULT_STREAMS = {"a": "audio", "v": "visual", FUSED_SUFFIX: FUSED}  # a run that names no modalities
KNOWN_COLORS = {"audio": "#1f77b4", "visual": "#ff7f0e", FUSED: "#2ca02c"}
MORE_COLORS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")  # further modalities, in order


def run_streams(meta: Mapping[str, Any] | None) -> dict[str, str]:
    """{suffix: name}: each modality the run records, in its order, then fused. A run whose meta names none (or
    names them unreadably) has audio and visual."""
    return {**recorded_modalities(meta), FUSED_SUFFIX: FUSED}


def modality_streams(streams: Mapping[str, str]) -> dict[str, str]:
    """The streams without fused: one per input modality."""
    return {s: name for s, name in streams.items() if s != FUSED_SUFFIX}


def stream_colors(streams: Mapping[str, str]) -> dict[str, str]:
    """{suffix: colour}: audio, visual and fused keep the studio's colours; other modalities take the next free."""
    more = iter(MORE_COLORS * 4)
    return {s: KNOWN_COLORS.get(name) or next(more) for s, name in streams.items()}


def suffix_of(streams: Mapping[str, str], modality: str) -> str | None:
    """The short name of a modality named in full ('touch' -> 't'), None if the run has no such modality."""
    return next((s for s, name in streams.items() if name == modality and s != FUSED_SUFFIX), None)
