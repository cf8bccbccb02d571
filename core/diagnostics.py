"""The imbalance verdict: one sentence, computed from a run's recorded metrics, that answers "which
modality is held back, by how much, since when, and what did the balance do about it?"

Evidence used (all from the run store): the last epoch's validation accuracy of the audio and visual
heads (`val_acc_a`, `val_acc_v`), their history, and what the balance applied to the dominant modality
per step: TAAF scales its learning rate (`lr_u / lr_f`, the fusion group keeps the base rate), OGM-GE
its gradients (by `k_u`). taaf-no-balance logs k without applying it: the sentence says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

NAMES = {"a": "audio", "v": "visual"}
CLEAR_GAP_POINTS = 5.0  # a head gap smaller than this on validation is within seed-to-seed spread
PLATEAU_POINTS = 1.0  # "stopped improving": later epochs never beat this margin over the best so far
NEUTRAL_K = 0.01  # mean factor within this of 1: the balance did not slow the modality
GRADIENT_BALANCE = ("ogm-ge",)  # strategies that multiply gradients by k (core/strategies/ogm_ge.py)


@dataclass(frozen=True)
class Imbalance:
    """The facts behind the sentence (None where the run does not have them)."""
    epochs: int
    acc: dict[str, float]  # last validation accuracy per head, "a" / "v"
    weak: str | None  # "a" / "v", None when the gap is not clear
    gap_points: float
    plateau_epoch: int | None  # 1-based epoch from which the weak head stopped improving
    slowdown: float | None  # mean factor the balance applied to the strong modality's updates, all steps
    slowdown_source: str  # the logged columns it comes from, e.g. "lr_a / lr_f" or "k_a"
    logged_k: float | None  # mean logged k of the strong modality (applied or not)


def _finite(df: pd.DataFrame | None, col: str) -> pd.Series:
    if df is None or col not in df.columns:
        return pd.Series(dtype=float)
    return pd.to_numeric(df[col], errors="coerce").dropna()


def plateau_epoch(values: pd.Series, margin: float = PLATEAU_POINTS / 100) -> int:
    """First epoch (1-based) whose value is within `margin` of the best one: later epochs added less."""
    v = values.to_numpy(dtype=float)
    return int(np.flatnonzero(v >= v.max() - margin)[0]) + 1


def measure(steps: pd.DataFrame | None, epochs: pd.DataFrame | None, strategy: str = "") -> Imbalance | None:
    """The imbalance facts, or None before both heads have a validation accuracy."""
    acc = {u: _finite(epochs, f"val_acc_{u}") for u in NAMES}
    if any(a.empty for a in acc.values()):
        return None
    last = {u: float(a.iloc[-1]) for u, a in acc.items()}
    strong, weak = sorted(NAMES, key=lambda u: -last[u])
    gap = 100 * (last[strong] - last[weak])
    clear = gap >= CLEAR_GAP_POINTS
    factor, source = applied_slowdown(steps, strong, strategy)
    k = _finite(steps, f"k_{strong}")
    return Imbalance(
        epochs=len(acc[weak]), acc=last, weak=weak if clear else None, gap_points=gap,
        plateau_epoch=plateau_epoch(acc[weak]) if clear else None, slowdown=factor, slowdown_source=source,
        logged_k=float(k.mean()) if len(k) else None,
    )


def applied_slowdown(steps: pd.DataFrame | None, u: str, strategy: str) -> tuple[float | None, str]:
    """Mean factor the balance applied to modality u's updates, and the columns it was read from."""
    if strategy in GRADIENT_BALANCE:
        k = _finite(steps, f"k_{u}")
        return (float(k.mean()), f"k_{u}") if len(k) else (None, "")
    if steps is not None and {f"lr_{u}", "lr_f"} <= set(steps.columns):
        d = steps[[f"lr_{u}", "lr_f"]].apply(pd.to_numeric, errors="coerce").dropna()
        d = d[d["lr_f"] > 0]
        if len(d):
            return float((d[f"lr_{u}"] / d["lr_f"]).mean()), f"lr_{u} / lr_f"
    return None, ""


def _balance(strong: str, m: Imbalance, strategy: str) -> str:
    name = NAMES[strong]
    if m.slowdown is None:
        return f"no balance was recorded for {name}"
    if abs(m.slowdown - 1) >= NEUTRAL_K:
        verb = "slowed" if m.slowdown < 1 else "sped up"
        return f"the balance {verb} {name} to {m.slowdown:.2f}× on average (mean {m.slowdown_source})"
    if m.logged_k is not None and abs(m.logged_k - 1) >= NEUTRAL_K:
        return (f"no balance slowed {name}: {strategy} logs k_{strong} (mean {m.logged_k:.2f}) "
                "without applying it")
    return f"no balance slowed {name} (mean {m.slowdown_source} = {m.slowdown:.2f}, strategy {strategy})"


def _points(x: float) -> str:
    return f"{x:.1f}" if x < 10 else f"{x:.0f}"


def imbalance_verdict(steps: pd.DataFrame | None, epochs: pd.DataFrame | None,
                      meta: Mapping[str, Any] | None = None) -> str:
    """One sentence naming the weak modality, its validation gap in points, the epoch its head stopped
    improving and the balance's average slowdown of the dominant modality; or "no clear imbalance" with
    the numbers that say so; or what is still missing."""
    meta = meta or {}
    strategy = str(meta.get("strategy") or "?")
    heads = [u for u in NAMES if not _finite(epochs, f"val_acc_{u}").empty]
    if len(heads) == 1 and _finite(epochs, "val_acc_f").any():
        return (f"Only the {NAMES[heads[0]]} head has a validation accuracy (strategy {strategy}): "
                "there is no second modality to compare it with.")
    m = measure(steps, epochs, strategy)
    if m is None:
        return "No verdict yet: the audio and visual heads are first measured on validation after epoch 1."
    a, v = 100 * m.acc["a"], 100 * m.acc["v"]
    at = f"audio {a:.0f} %, visual {v:.0f} % on validation after epoch {m.epochs}"
    strong = max(NAMES, key=lambda u: m.acc[u])
    if m.weak is None:
        return (f"No clear imbalance: the heads are {_points(m.gap_points)} points apart ({at}; a clear gap is "
                f"{CLEAR_GAP_POINTS:.0f}+); {_balance(strong, m, strategy)}.")
    if m.epochs == 1:
        since = "after one epoch"
    elif m.plateau_epoch == m.epochs:
        since = f"was still improving at epoch {m.epochs}"
    else:
        since = f"stopped improving at epoch {m.plateau_epoch}"
    return (f"{NAMES[m.weak].capitalize()} is the weak modality: its head is {_points(m.gap_points)} points "
            f"behind {NAMES[strong]} ({at}) and {since}; {_balance(strong, m, strategy)}.")
