"""Ablation: TAAF attention and attention-guided losses, but no learning-rate modulation.
rho and k are still computed and logged, so the studio shows what the balance would have done."""

from __future__ import annotations

from core.strategies.taaf import TAAFStrategy


class TAAFNoBalanceStrategy(TAAFStrategy):
    name = "taaf-no-balance"
    balance = False
