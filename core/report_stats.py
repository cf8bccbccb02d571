"""The report's statistics on paired differences over seeds: the mean difference with its 95 % confidence
interval (paired t), a verdict that can say "equivalent" (two one-sided tests, TOST), Holm's correction over a
pre-registered family, and the power of the design (seeds needed to detect a difference at 80 % power).

A verdict is one of four, never "no difference shown":
    "A better" / "B better"          the two-sided paired t-test rejects A = B (p, Holm-adjusted where asked)
    "equivalent within ±m"           both one-sided tests reject |A - B| >= m (TOST at ALPHA, the 90 % CI inside ±m)
    "inconclusive"                   neither: the data allow a difference of m or more, and do not show one
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from scipy import stats

ALPHA = 0.05
MARGIN = 0.01  # equivalence margin: one point of accuracy
POWER = 0.8


@dataclass(frozen=True)
class PairedStats:
    n: int
    mean: float
    sd: float  # sample SD of the paired differences
    ci_low: float  # 95 % (1 - ALPHA) two-sided CI of the mean difference
    ci_high: float
    p: float  # two-sided paired t-test of mean = 0
    p_equivalence: float  # TOST: the larger of the two one-sided p-values against ±MARGIN


def paired_stats(diffs: list[float], margin: float = MARGIN, alpha: float = ALPHA) -> PairedStats | None:
    """Paired statistics of per-seed differences A - B; None with fewer than two."""
    n = len(diffs)
    if n < 2:
        return None
    mean, sd = statistics.mean(diffs), statistics.stdev(diffs)
    if sd == 0:  # every seed the same difference: the interval is a point
        p = 0.0 if mean != 0 else 1.0
        p_eq = 0.0 if abs(mean) < margin else 1.0
        return PairedStats(n, mean, 0.0, mean, mean, p, p_eq)
    se = sd / math.sqrt(n)
    half = stats.t.ppf(1 - alpha / 2, n - 1) * se
    p = float(2 * stats.t.sf(abs(mean) / se, n - 1))
    p_lower = float(stats.t.sf((mean + margin) / se, n - 1))  # H0: mean <= -margin
    p_upper = float(stats.t.cdf((mean - margin) / se, n - 1))  # H0: mean >= +margin
    return PairedStats(n, mean, sd, mean - half, mean + half, p, max(p_lower, p_upper))


def verdict(a: str, b: str, st: PairedStats, p_diff: float | None = None, p_eq: float | None = None,
            alpha: float = ALPHA, margin: float = MARGIN) -> str:
    """"A better" / "B better" / "equivalent within ±m" / "inconclusive". p_diff and p_eq default to the raw
    p-values; the primary family passes Holm-adjusted ones."""
    p_diff = st.p if p_diff is None else p_diff
    p_eq = st.p_equivalence if p_eq is None else p_eq
    if p_diff < alpha:
        return f"{a} better" if st.mean > 0 else f"{b} better"
    if p_eq < alpha:
        return f"equivalent within ±{margin * 100:g} point{'s' if margin * 100 != 1 else ''}"
    return "inconclusive"


def holm(ps: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order)."""
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    adjusted, running = [1.0] * len(ps), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(ps) - rank) * ps[i]))
        adjusted[i] = running
    return adjusted


def paired_power(n: int, effect: float, sd: float, alpha: float = ALPHA) -> float:
    """Power of a two-sided paired t-test with n pairs to detect a true mean difference `effect` when the
    differences have SD `sd` (noncentral t)."""
    if n < 2 or sd <= 0:
        return math.nan
    df, nc = n - 1, abs(effect) / sd * math.sqrt(n)
    crit = stats.t.ppf(1 - alpha / 2, df)
    return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))


def seeds_needed(effect: float, sd: float, power: float = POWER, alpha: float = ALPHA, cap: int = 1000) -> int | None:
    """The fewest paired seeds whose paired t-test reaches `power` for a difference `effect` (None: over cap)."""
    if sd <= 0:
        return 2
    for n in range(2, cap + 1):
        if paired_power(n, effect, sd, alpha) >= power:
            return n
    return None


def fmt_ci(st: PairedStats) -> str:
    return f"{st.mean:+.3f} [{st.ci_low:+.3f}, {st.ci_high:+.3f}]"


def p_text(p: float) -> str:
    """A p-value to three decimals, with a fourth where rounding would put it on the other side of ALPHA."""
    if p < 0.001:
        return "< 0.001"
    text = f"{p:.3f}"
    return text if (float(text) < ALPHA) == (p < ALPHA) else f"{p:.4f}"
