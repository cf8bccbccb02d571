"""Attention-entropy chart and collapse warning on synthetic step frames (no browser)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from studio.charts.entropy import COLLAPSE_STEPS, collapse_warning, entropy_figure


def _steps(n: int, a: float, v: float, f: float) -> pd.DataFrame:
    s = np.arange(1, n + 1)
    return pd.DataFrame({"step": s, "epoch": s // 50, "time": s * 0.1, "alpha_entropy_a": np.full(n, a),
                         "alpha_entropy_v": np.full(n, v), "alpha_entropy_f": np.full(n, f)})


def test_figure_draws_each_stream_and_the_uniform_and_collapse_lines():
    fig = entropy_figure(_steps(100, 1.2, 0.9, 0.05), T=4)
    names = {t.name for t in fig.data if t.name}
    assert {"audio", "visual", "fused"} <= names
    fused = next(t for t in fig.data if t.name == "fused")
    assert len(fused.x) == 100 and np.allclose(fused.y, 0.05)
    levels = sorted(round(s["y0"], 4) for s in fig.layout.shapes)
    assert levels == [round(0.1 * math.log(4), 4), round(math.log(4), 4)]


def test_figure_without_entropy_columns_says_waiting():
    fig = entropy_figure(pd.DataFrame({"step": [1, 2], "loss": [2.0, 1.9]}), T=4)
    assert not fig.data and "appears" in fig.layout.annotations[-1].text
    assert not entropy_figure(None, T=4).data


def test_warning_names_the_collapsed_streams_only():
    msg = collapse_warning(_steps(100, 1.2, 0.01, 0.02), T=4)
    assert msg is not None and "visual and fused" in msg and "audio" not in msg
    assert "0.14 nats" in msg  # a tenth of ln 4
    assert collapse_warning(_steps(100, 1.2, 0.9, 0.6), T=4) is None


def test_warning_needs_the_whole_recent_window_below_the_line():
    df = _steps(100, 1.2, 1.2, 0.01)
    df.loc[df.index[-3], "alpha_entropy_f"] = 0.5  # one recent step above the line: not (yet) collapsed
    assert collapse_warning(df, T=4) is None
    early = _steps(100, 1.2, 1.2, 1.2)
    early.loc[:50, "alpha_entropy_f"] = 0.0  # collapsed early, recovered since
    assert collapse_warning(early, T=4) is None
    assert collapse_warning(_steps(COLLAPSE_STEPS - 1, 0.0, 0.0, 0.0), T=4) is None  # too few steps to say
    assert collapse_warning(_steps(COLLAPSE_STEPS, 0.0, 1.2, 1.2), T=4) is not None


def test_no_warning_without_data_or_with_one_timestep():
    assert collapse_warning(None, T=4) is None
    assert collapse_warning(pd.DataFrame({"step": [1], "loss": [1.0]}), T=4) is None  # an older run
    assert collapse_warning(_steps(100, 0.0, 0.0, 0.0), T=1) is None  # ln 1 = 0: nothing can collapse
