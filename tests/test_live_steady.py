"""Live panels' axes stand still between redraws of a growing run (studio/live/steady.py, issue 27): plotly.js
caches each tick label's text box keyed by its pixel position, and axes that moved at every redraw refilled that
cache all night."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from studio.charts import attention, curves
from studio.charts.figbuild import Fig
from studio.live import figures, steady
from studio.live.rundata import RunData
from tests.support import make_run


def _ranges(run: Path) -> dict[tuple[str, str], tuple | None]:
    rd = RunData(run)
    rd.refresh()
    built = {name: steady.steady_axes(build(rd.view())) for name, (_, build) in figures.FIGURES.items()}
    return {(name, k): fig.layout[k].range for name, fig in built.items() for k in fig.layout.to_plotly_json()
            if k.startswith(("xaxis", "yaxis"))}


def test_a_growing_run_keeps_its_axes_still_until_the_data_crosses_a_round_end(tmp_path: Path) -> None:
    a = _ranges(make_run(tmp_path / "a", steps=1990, steps_per_epoch=20, every=1000))
    b = _ranges(make_run(tmp_path / "b", steps=2000, steps_per_epoch=20, every=1000))
    assert a[("loss", "xaxis")] == b[("loss", "xaxis")] == (1.0, 2000.0)  # 1-2-5 unit of the span / 20: 100
    assert a[("lr", "xaxis")] == b[("lr", "xaxis")]
    c = _ranges(make_run(tmp_path / "c", steps=2010, steps_per_epoch=20, every=1000))
    assert c[("loss", "xaxis")] == (1.0, 2200.0)  # past the round end: one jump (the unit is now 200)
    lo, hi = a[("loss", "yaxis")]
    assert (lo, hi) == b[("loss", "yaxis")] and 0.5 <= lo < 1.0 and 2.3 < hi <= 3.0  # losses 2.3 -> 1.0, padded
    assert a[("alpha_now", "xaxis")] is None and a[("alpha_now", "yaxis")] is None  # bars: plotly pads them


def test_a_heatmap_runs_from_its_first_cell_edge_and_a_line_axis_keeps_its_marks(tmp_path: Path) -> None:
    heat = [steady.steady_axes(attention.alpha_history_figure(list(range(0, n, 20)), np.full((n // 20, 3, 4), 0.25)))
            for n in (1960, 1980)]
    assert heat[0].layout.xaxis.range == heat[1].layout.xaxis.range == (-10.0, 2000.0)
    assert heat[0].layout.yaxis.range is None  # timesteps: fixed already
    steps = np.arange(1, 101)
    fig = Fig()
    fig.add(curves._line(steps, np.linspace(0.2, 0.4, 100), "rate"))
    fig.yaxis(rangemode="tozero")
    fig.hline(0.9, text="ceiling")
    y = steady.steady_axes(fig.figure(300)).layout.yaxis.range
    assert y[0] == 0.0 and 0.9 < y[1] <= 1.1  # from zero, past the line drawn at 0.9
    fig = Fig()
    fig.add({**curves._line(steps, steps * 0.01, "acc"), "mode": "lines+markers"})
    out = steady.steady_axes(fig.figure(300)).layout
    assert out.xaxis.range is None and out.yaxis.range is None  # markers: plotly's padding
