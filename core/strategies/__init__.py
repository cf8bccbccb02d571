"""Training strategies, one small file each. To add one: write a Strategy subclass and list it here."""

from __future__ import annotations

from typing import Any

from core.strategies.base import Strategy
from core.strategies.concat import ConcatStrategy
from core.strategies.concat_aux import ConcatAuxStrategy
from core.strategies.concat_balance import ConcatBalanceStrategy
from core.strategies.late_fusion import LateFusionStrategy
from core.strategies.ogm_ge import OGMGEStrategy
from core.strategies.taaf import TAAFStrategy
from core.strategies.taaf_no_balance import TAAFNoBalanceStrategy
from core.strategies.taaf_uniform import TAAFUniformStrategy
from core.strategies.unimodal import UnimodalAudioStrategy, UnimodalVisualStrategy

STRATEGIES: dict[str, type[Strategy]] = {
    s.name: s
    for s in (
        TAAFStrategy,
        TAAFNoBalanceStrategy,
        TAAFUniformStrategy,
        ConcatStrategy,
        OGMGEStrategy,
        UnimodalAudioStrategy,
        UnimodalVisualStrategy,
        ConcatAuxStrategy,
        LateFusionStrategy,
        ConcatBalanceStrategy,
    )
}


def make_strategy(cfg: dict[str, Any]) -> Strategy:
    return STRATEGIES[cfg["strategy"]["name"]](cfg)
