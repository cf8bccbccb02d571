"""The report's statistics (core/report_stats.py) on fixed numbers: CIs, the four verdicts, Holm, power."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from core.report_stats import holm, paired_power, paired_stats, seeds_needed, verdict


def test_ci_is_the_paired_t_interval():
    diffs = [0.01, 0.03, 0.02, 0.04, 0.00]
    st = paired_stats(diffs)
    low, high = stats.t.interval(0.95, 4, loc=0.02, scale=stats.sem(diffs))
    assert (st.ci_low, st.ci_high) == pytest.approx((low, high))
    assert st.p == pytest.approx(stats.ttest_1samp(diffs, 0).pvalue)
    assert st.sd == pytest.approx(0.0158113883, rel=1e-6)


def test_a_ci_inside_one_point_is_equivalent():
    diffs = [0.002, -0.001, 0.001, 0.000, 0.003, -0.002, 0.001, 0.000, 0.002, -0.001]
    st = paired_stats(diffs)
    assert -0.01 < st.ci_low and st.ci_high < 0.01
    assert verdict("taaf", "concat", st) == "equivalent within ±1 point"


def test_a_ci_straddling_the_margin_is_inconclusive():
    diffs = [0.03, -0.02, 0.01, -0.015, 0.025]  # mean +0.006, SD 0.023: allows 0 and more than 1 point
    st = paired_stats(diffs)
    assert st.ci_low < 0 < st.ci_high and st.ci_high > 0.01
    assert verdict("taaf", "concat", st) == "inconclusive"


def test_a_clear_difference_names_the_winner_on_either_side():
    diffs = [0.03, 0.025, 0.035, 0.028, 0.032]
    assert verdict("taaf", "concat", paired_stats(diffs)) == "taaf better"
    assert verdict("taaf", "concat", paired_stats([-d for d in diffs])) == "concat better"


def test_holm_adjusted_p_decides_when_given():
    diffs = [0.03, 0.025, 0.035, 0.028, 0.032]
    st = paired_stats(diffs)
    assert verdict("a", "b", st, p_diff=0.2, p_eq=0.3) == "inconclusive"


def test_no_verdict_says_no_difference_shown():
    for diffs in ([0.0, 0.0, 0.0], [0.1, -0.1, 0.05], [0.001, 0.002, 0.0015]):
        assert "no difference" not in verdict("a", "b", paired_stats(diffs))


def test_constant_differences_and_too_few_seeds():
    assert paired_stats([0.01]) is None
    st = paired_stats([0.0, 0.0, 0.0])
    assert verdict("a", "b", st) == "equivalent within ±1 point"
    assert verdict("a", "b", paired_stats([0.05, 0.05])) == "a better"


def test_holm_adjusts_in_steps():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.001]) == pytest.approx([0.5, 0.002])


def test_power_matches_known_values():
    # the audit's numbers: SD 0.020 of the paired differences, 2 points, alpha 0.05 -> 10 seeds; 11 tests
    # under Holm's first step (alpha / 11) -> 18
    assert seeds_needed(0.02, 0.020) == 10
    assert seeds_needed(0.02, 0.020, alpha=0.05 / 11) == 18
    assert seeds_needed(0.01, 0.020) == 34
    # a standard table value: effect size d = 0.5, n = 34 pairs, two-sided 0.05 -> power 0.80
    assert paired_power(34, 0.5, 1.0) == pytest.approx(0.80, abs=0.01)
    assert paired_power(10, 0.02, 0.02) >= 0.8 > paired_power(9, 0.02, 0.02)
    assert math.isnan(paired_power(1, 0.02, 0.02))
