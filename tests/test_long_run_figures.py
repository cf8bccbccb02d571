"""A long run's figures stay the same size however many epochs it has (issue 27: a live page open all night)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from studio.charts import curves, imbalance
from tests.support import step_table


def epochs_of(n: int) -> pd.DataFrame:
    e = np.arange(n)
    f = 1 - np.exp(-e / 50)
    return pd.DataFrame({"step": (e + 1) * 38, "epoch": e, "time": e * 3.0, "val_acc_a": 0.8 * f,
                         "val_acc_v": 0.5 * f, "val_acc_f": 0.9 * f, "val_loss": 2 - f, "shapley_a": 0.3,
                         "shapley_v": 0.1, "energy_pj": 1e6 + e, "energy_ann_pj": 5e6})


def epoch_traces(fig) -> list:
    return [t for t in fig.data if t.name and ("val" in t.name or "µJ" in t.name)]


@pytest.mark.parametrize("build", [lambda e: curves.loss_acc_figure(step_table(), e),
                                   lambda e: curves.energy_figure(e)], ids=["loss", "energy"])
def test_epoch_traces_are_bounded_and_lose_their_markers(build) -> None:
    few, many = epoch_traces(build(epochs_of(curves.MAX_MARKERS))), epoch_traces(build(epochs_of(3000)))
    assert few and all(t.mode == "lines+markers" and len(t.x) == curves.MAX_MARKERS for t in few)
    assert many and all(t.mode == "lines" and len(t.x) <= curves.MAX_EPOCH_POINTS + 1 for t in many)
    assert all(t.x[-1] == 3000 * 38 or t.x[-1] == 3000 for t in many), "the newest epoch is always drawn"


def test_imbalance_gap_draws_a_bounded_number_of_bars() -> None:
    fig = imbalance.imbalance_figure(step_table(), epochs_of(3000))
    gap = next(t for t in fig.data if t.name == "val gap")
    assert len(gap.x) <= curves.MAX_EPOCH_POINTS + 1 and gap.x[-1] == 3000
