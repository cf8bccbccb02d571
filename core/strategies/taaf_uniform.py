"""Ablation: TAAF's three losses and its balance, but uniform attention alpha(t) = 1/T (no attention module).
Against `taaf` it measures what the attention adds; against `concat`, what the unimodal losses add."""

from __future__ import annotations

from core.strategies.taaf import TAAFStrategy


class TAAFUniformStrategy(TAAFStrategy):
    name = "taaf-uniform"
    fusion = "mean"  # the network then gives alpha = 1/T and predictions = mean over time
