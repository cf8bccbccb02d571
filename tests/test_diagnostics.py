"""core/diagnostics.py: the one-line imbalance verdict, on recorded runs of several strategies and presets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.diagnostics import NEUTRAL_K, applied_slowdown, imbalance_verdict, measure
from core.store import RunReader
from tests.support import DEMO_RUN


def _run(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    with RunReader(path, immutable=True) as r:
        return r.scalars("step"), r.scalars("epoch"), r.meta()


def test_demo_run_names_its_weak_modality() -> None:
    """The demo (AV-Digits-T: audio names only the pair, so its head trails): the sentence names the weak
    modality, by how much, and whether the balance slowed the strong one, as the run's numbers say. (TAAF's
    balance slows audio there, the modality that fits its training set first, not the better head.)"""
    steps, epochs, meta = _run(DEMO_RUN)
    a, v = epochs["val_acc_a"].iloc[-1], epochs["val_acc_v"].iloc[-1]
    weak, strong, gap = ("Audio", "visual", v - a) if v > a else ("Visual", "audio", a - v)
    slowed = (steps[f"lr_{strong[0]}"] / steps["lr_f"]).mean()
    assert gap > 0.05  # a clear imbalance: what the sentence below must then name
    s = imbalance_verdict(steps, epochs, meta)
    assert s.startswith(f"{weak} is the weak modality: ")
    assert f"{100 * gap:.0f} points behind {strong}" in s
    if abs(slowed - 1) >= NEUTRAL_K:
        assert f"slowed {strong} to {slowed:.2f}× on average (mean lr_{strong[0]} / lr_f)" in s
    else:
        assert f"no balance slowed {strong} (mean lr_{strong[0]} / lr_f = {slowed:.2f}, strategy taaf)" in s


@pytest.mark.integration
def test_tiny_real_run_after_one_epoch(tiny_run: Path) -> None:
    steps, epochs, meta = _run(tiny_run)
    s = imbalance_verdict(steps, epochs, meta)
    m = measure(steps, epochs, meta["strategy"])
    assert m is not None and m.epochs == 1
    assert ("after one epoch" in s) if m.weak else s.startswith("No clear imbalance")
    assert "epoch 1" in s


def _frames(val_a: list[float], val_v: list[float], k_a: float, k_v: float, lr_scaled: bool,
            steps_per_epoch: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Step and epoch frames as the store returns them; per-step balance at a constant value."""
    n = len(val_a) * steps_per_epoch
    s = np.arange(1, n + 1)
    lr = 3e-3
    steps = pd.DataFrame({"step": s, "epoch": (s - 1) // steps_per_epoch, "k_a": k_a, "k_v": k_v, "lr_f": lr,
                          "lr_a": lr * (k_a if lr_scaled else 1), "lr_v": lr * (k_v if lr_scaled else 1)})
    epochs = pd.DataFrame({"step": np.arange(1, len(val_a) + 1) * steps_per_epoch, "epoch": range(len(val_a)),
                           "val_acc_a": val_a, "val_acc_v": val_v, "val_acc_f": np.maximum(val_a, val_v)})
    return steps, epochs


# Validation accuracies and mean k recorded by real runs (nice -n 15 python -m core.train --config
# configs/<strategy>.toml --set data.avdigits.preset=<preset> --set train.epochs=<n> --set train.threads=1,
# shapley and energy off), rounded to 3 decimals.
def test_recorded_ogm_ge_visual_dominant_slows_visual_gradients() -> None:
    steps, epochs = _frames([0.2, 0.312, 0.312, 0.321], [0.456, 0.507, 0.516, 0.484], 0.967, 0.145, False)
    s = imbalance_verdict(steps, epochs, {"strategy": "ogm-ge"})
    assert s.startswith("Audio is the weak modality: its head is 16 points behind visual")
    assert "stopped improving at epoch 2" in s  # 0.312 at epoch 2 is within a point of the best, 0.321
    assert "slowed visual to 0.14× on average (mean k_v)" in s  # OGM-GE: gradients, lr untouched


def test_recorded_taaf_no_balance_hard_is_no_clear_imbalance_and_k_unapplied() -> None:
    steps, epochs = _frames([0.33, 0.46, 0.6], [0.516, 0.609, 0.605], 0.994, 0.65, False)
    s = imbalance_verdict(steps, epochs, {"strategy": "taaf-no-balance"})
    assert s.startswith("No clear imbalance: the heads are 0.5 points apart (audio 60 %, visual 60 %")
    assert "taaf-no-balance logs k_v (mean 0.65) without applying it" in s


def test_recorded_concat_clean_has_no_balance() -> None:
    steps, epochs = _frames([0.451, 0.609, 0.66], [0.465, 0.484, 0.479], 1.0, 1.0, False)
    s = imbalance_verdict(steps, epochs, {"strategy": "concat"})
    assert s.startswith("Visual is the weak modality: its head is 18 points behind audio")
    assert "no balance slowed audio (mean lr_a / lr_f = 1.00, strategy concat)" in s


def test_still_improving_unimodal_and_not_yet() -> None:
    steps, epochs = _frames([0.5, 0.7, 0.9], [0.3, 0.35, 0.45], 0.8, 1.0, True)
    assert "was still improving at epoch 3" in imbalance_verdict(steps, epochs, {"strategy": "taaf"})
    uni = epochs.assign(val_acc_v=np.nan)
    assert imbalance_verdict(steps, uni, {"strategy": "unimodal-audio"}).startswith("Only the audio head")
    assert imbalance_verdict(steps.head(3), epochs.head(0), {}).startswith("No verdict yet")
    assert imbalance_verdict(None, None).startswith("No verdict yet")


def test_applied_slowdown_sources() -> None:
    steps, _ = _frames([0.5], [0.3], 0.5, 1.0, True)
    assert applied_slowdown(steps, "a", "taaf") == (pytest.approx(0.5), "lr_a / lr_f")
    assert applied_slowdown(steps, "a", "ogm-ge") == (pytest.approx(0.5), "k_a")
    assert applied_slowdown(steps.drop(columns=["lr_a"]), "a", "taaf") == (None, "")
