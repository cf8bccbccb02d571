"""The imbalance verdict: one sentence, computed from a run's recorded metrics, that answers "which
modality is held back, by how much, since when, and what did the balance do about it?"

Evidence used (all from the run store): the last epoch's validation accuracy of each modality's head
(`val_acc_<x>` for every modality the run records: audio and visual for our trainer, meta `modalities` for a
run of core/runlog.py), their history, and what the balance applied to the strongest modality per step: TAAF
scales its learning rate (`lr_u / lr_f`, the fusion group keeps the base rate), OGM-GE its gradients (by
`k_u`). taaf-no-balance logs k without applying it: the sentence says so. With three or more modalities each
is measured against the strongest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.runlog_checks import recorded_modalities

NAMES = {"a": "audio", "v": "visual"}  # our trainer's modalities (a run of another loop: its meta's)
CLEAR_GAP_POINTS = 5.0  # a head gap smaller than this on validation is within seed-to-seed spread
PLATEAU_POINTS = 1.0  # "stopped improving": later epochs never beat this margin over the best so far
NEUTRAL_K = 0.01  # mean factor within this of 1: the balance did not slow the modality
GRADIENT_BALANCE = ("ogm-ge",)  # strategies that multiply gradients by k (core/strategies/ogm_ge.py)


@dataclass(frozen=True)
class Imbalance:
    """The facts behind the sentence (None where the run does not have them)."""
    epochs: int
    acc: dict[str, float]  # last validation accuracy per head, by short name ("a", "v", "t" ...)
    weak: str | None  # the weakest head, None when its gap to the strongest is not clear
    gap_points: float  # strongest minus weakest head
    plateau_epoch: int | None  # 1-based epoch from which the weak head stopped improving
    slowdown: float | None  # mean factor the balance applied to the strong modality's updates, all steps
    slowdown_source: str  # the logged columns it comes from, e.g. "lr_a / lr_f" or "k_a"
    logged_k: float | None  # mean logged k of the strong modality (applied or not)
    strong: str = "a"  # the strongest head
    behind: dict[str, float] = field(default_factory=dict)  # each head clearly behind the strongest: its points
    names: dict[str, str] = field(default_factory=lambda: dict(NAMES))  # short name -> modality


def _finite(df: pd.DataFrame | None, col: str) -> pd.Series:
    if df is None or col not in df.columns:
        return pd.Series(dtype=float)
    return pd.to_numeric(df[col], errors="coerce").dropna()


def plateau_epoch(values: pd.Series, margin: float = PLATEAU_POINTS / 100) -> int:
    """First epoch (1-based) whose value is within `margin` of the best one: later epochs added less."""
    v = values.to_numpy(dtype=float)
    return int(np.flatnonzero(v >= v.max() - margin)[0]) + 1


def measure(steps: pd.DataFrame | None, epochs: pd.DataFrame | None, strategy: str = "",
            names: Mapping[str, str] | None = None) -> Imbalance | None:
    """The imbalance facts over the modalities `names` ({short name: modality}, default audio and visual), or
    None before two heads have a validation accuracy."""
    names = dict(names or NAMES)
    acc = {u: a for u in names if not (a := _finite(epochs, f"val_acc_{u}")).empty}
    if len(acc) < 2:
        return None
    last = {u: float(a.iloc[-1]) for u, a in acc.items()}
    ranked = sorted(acc, key=lambda u: -last[u])  # stable: ties keep the run's modality order
    strong, weak = ranked[0], ranked[-1]
    gap = 100 * (last[strong] - last[weak])
    clear = gap >= CLEAR_GAP_POINTS
    points = {u: 100 * (last[strong] - last[u]) for u in ranked[1:]}
    behind = {u: p for u, p in points.items() if p >= CLEAR_GAP_POINTS}
    factor, source = applied_slowdown(steps, strong, strategy)
    k = _finite(steps, f"k_{strong}")
    return Imbalance(
        epochs=len(acc[weak]), acc=last, weak=weak if clear else None, gap_points=gap,
        plateau_epoch=plateau_epoch(acc[weak]) if clear else None, slowdown=factor, slowdown_source=source,
        logged_k=float(k.mean()) if len(k) else None, strong=strong, behind=behind, names=names,
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
    name = m.names[strong]
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


def _listed(words: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return " and ".join(words) if len(words) < 3 else f"{', '.join(words[:-1])} and {words[-1]}"


def imbalance_verdict(steps: pd.DataFrame | None, epochs: pd.DataFrame | None,
                      meta: Mapping[str, Any] | None = None) -> str:
    """One sentence naming the weak modality (or modalities, each against the strongest), its validation gap in
    points, the epoch its head stopped improving and the balance's average slowdown of the dominant modality; or
    "no clear imbalance" with the numbers that say so; or what is still missing. The modalities are the run's
    own (meta `modalities`; audio and visual when it names none)."""
    meta = meta or {}
    strategy = str(meta.get("strategy") or "?")
    names = recorded_modalities(meta)
    heads = [u for u in names if not _finite(epochs, f"val_acc_{u}").empty]
    if len(heads) == 1 and _finite(epochs, "val_acc_f").any():
        return (f"Only the {names[heads[0]]} head has a validation accuracy (strategy {strategy}): "
                "there is no second modality to compare it with.")
    m = measure(steps, epochs, strategy, names)
    if m is None:
        return (f"No verdict yet: the {_listed(list(names.values()))} heads are first measured on validation "
                "after epoch 1.")
    at = (f"{', '.join(f'{names[u]} {100 * m.acc[u]:.0f} %' for u in names if u in m.acc)} on validation after "
          f"epoch {m.epochs}")
    strong = m.strong
    if m.weak is None:
        apart = "heads are" if len(m.acc) == 2 else "strongest and weakest heads are"
        return (f"No clear imbalance: the {apart} {_points(m.gap_points)} points apart ({at}; a clear gap is "
                f"{CLEAR_GAP_POINTS:.0f}+); {_balance(strong, m, strategy)}.")
    if m.epochs == 1:
        since = "after one epoch"
    elif m.plateau_epoch == m.epochs:
        since = f"was still improving at epoch {m.epochs}"
    else:
        since = f"stopped improving at epoch {m.plateau_epoch}"
    if len(m.behind) > 1:  # three or more modalities, several clearly behind the strongest
        weak = [names[u] for u in m.behind]
        points = _listed([_points(p) for p in m.behind.values()])
        since = since if m.epochs == 1 else f"{names[m.weak]} {since}"
        return (f"{_listed(weak).capitalize()} are the weak modalities: their heads are {points} points behind "
                f"{names[strong]} ({at}) and {since}; {_balance(strong, m, strategy)}.")
    return (f"{names[m.weak].capitalize()} is the weak modality: its head is {_points(m.gap_points)} points "
            f"behind {names[strong]} ({at}) and {since}; {_balance(strong, m, strategy)}.")
