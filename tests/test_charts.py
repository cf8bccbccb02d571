"""Chart builders for training curves, attention and axes on small synthetic inputs: the figures carry the data
the studio promises to show. Spikes, membranes and the what-if view: test_charts_spikes.py."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from studio.charts import attention, imbalance, inspection, rasters
from studio.charts import curves as charts
from studio.charts.figbuild import STUDIO_TEMPLATE
from tests.support import alpha_series, epoch_table, step_table


def _names(fig: go.Figure) -> set[str]:
    return {t.name for t in fig.data if t.name}


def test_decimate_bounds_rows_and_keeps_last() -> None:
    df = pd.DataFrame({"step": np.arange(10_000)})
    d = charts.decimate(df, 500)
    assert len(d) <= 501 and d["step"].iloc[-1] == 9_999 and d["step"].iloc[0] == 0


def test_loss_acc_has_each_head_and_validation_at_epoch_steps() -> None:
    fig = charts.loss_acc_figure(step_table(), epoch_table())
    assert {"audio", "visual", "fused", "audio val", "fused val", "val loss (total)"} <= _names(fig)
    val = next(t for t in fig.data if t.name == "fused val")
    assert list(val.x) == [39, 79, 119] and np.allclose(val.y, [0.5, 0.9, 0.95])


def test_loss_acc_empty_says_waiting() -> None:
    fig = charts.loss_acc_figure(pd.DataFrame(), None)
    assert not fig.data and "waiting" in fig.layout.annotations[-1].text


def test_lr_figure_plots_rates_coefficients_and_ratio() -> None:
    fig = charts.lr_figure(step_table())
    assert {"lr audio", "lr visual", "lr fused", "k audio", "k visual", "ρ audio"} <= _names(fig)
    lra = next(t for t in fig.data if t.name == "lr audio")
    assert np.allclose(lra.y, 1.5e-3)


def test_epochs_to_fraction() -> None:
    e = epoch_table()
    assert charts.epochs_to_fraction(e, "val_acc_a") == 2  # 0.85 >= 0.9 * 0.9 after the second epoch
    assert charts.epochs_to_fraction(e, "val_acc_v") == 3
    assert charts.epochs_to_fraction(e, "missing") is None


def test_imbalance_figure_contents() -> None:
    fig = imbalance.imbalance_figure(step_table(), epoch_table())
    gap = next(t for t in fig.data if t.name == "val gap")
    assert np.allclose(gap.y, [0.3, 0.55, 0.3])
    shap = next(t for t in fig.data if t.name == "Shapley")
    assert list(shap.y) == [0.5, 0.2]
    ratio = next(t for t in fig.data if t.name == "‖g_a‖/‖g_v‖")
    assert np.allclose(ratio.y, 2.0)
    reach = next(t for t in fig.data if t.name == "to 90 % of own latest")
    assert list(reach.x) == ["audio", "visual", "fused"] and list(reach.y) == [2, 3, 2]


def test_firing_rate_and_energy() -> None:
    fig = charts.firing_rate_figure(step_table(), ["a.lif1", "v.lif1"])
    assert _names(fig) == {"a.lif1", "v.lif1"}
    fig = charts.energy_figure(epoch_table())
    assert {"SNN (µJ)", "same ANN (µJ)"} == _names(fig)
    assert "21 %" in fig.layout.title.text


def test_compare_figure_one_distinct_line_per_run() -> None:
    curves = {f"r{i}": epoch_table().assign(val_acc_f=[0.1 * i, 0.2, 0.3]) for i in range(10)}
    fig = charts.compare_figure(curves, "val_acc_f", "epoch", "val acc (fused)")
    assert _names(fig) == set(curves)
    styles = [(t.line.color, t.line.dash) for t in fig.data]
    assert len(set(styles)) == 10 and len({c for c, _ in styles[:8]}) == 8  # 8 colours, then dashes
    assert fig.layout.yaxis.title.text == "val acc (fused)"


def test_alpha_history_heatmaps_step_by_timestep() -> None:
    a = alpha_series()
    fig = attention.alpha_history_figure([10, 20, 30, 40, 50], a)
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heat) == 3
    for i, h in enumerate(heat):
        z = np.asarray(h.z)
        assert z.shape == (4, 5) and list(h.x) == [10, 20, 30, 40, 50]
        assert np.allclose(z.sum(axis=0), 1.0, atol=1e-5)  # each step's alpha sums to 1 over t
        assert np.allclose(z, a[:, i, :].T)
    ca = fig.layout.coloraxis
    white = next(p for p, c in ca.colorscale if c == "#f7f7f7")
    assert np.isclose(white * ca.cmax, 1 / 4)  # uniform attention (1/T) is the neutral colour


def test_alpha_bars_one_series_per_modality() -> None:
    fig = attention.alpha_bars_figure(alpha_series(1)[0])
    assert [t.name for t in fig.data] == ["audio", "visual", "fused"]
    assert all(abs(sum(t.y) - 1) < 1e-5 for t in fig.data)


def test_every_builder_output_is_valid_plotly(whatif_result: dict) -> None:
    """The builders skip plotly's validation for speed (studio/charts/figbuild.py): validate them here instead."""
    rng = np.random.default_rng(4)
    spikes = (rng.random((8, 40)) < 0.2).astype(np.uint8)
    figs = [
        charts.loss_acc_figure(step_table(), epoch_table()), charts.loss_acc_figure(pd.DataFrame()),
        charts.lr_figure(step_table()), charts.lr_figure(pd.DataFrame()),
        imbalance.imbalance_figure(step_table(), epoch_table()), imbalance.imbalance_figure(pd.DataFrame(), None),
        charts.firing_rate_figure(step_table()), charts.firing_rate_figure(pd.DataFrame()),
        charts.energy_figure(epoch_table()), charts.energy_figure(None),
        charts.compare_figure({"r": epoch_table()}, "val_acc_f", "epoch"), charts.compare_figure({}, "x"),
        attention.alpha_history_figure([1, 2, 3, 4, 5], alpha_series()),
        attention.alpha_history_figure([], alpha_series(0)),
        attention.alpha_bars_figure(alpha_series(1)[0]),
        rasters.raster_figure({"a.lif1": spikes}), rasters.raster_figure({}),
        rasters.membrane_figure(rng.random((8, 4)), spikes, 1.0),
        inspection.whatif_figure(whatif_result, "a.lif1", "v.lif1"),
        inspection.buildup_figure(whatif_result["build_up"], [str(i) for i in range(10)], 2),
        inspection.inputs_figure(whatif_result["audio"], whatif_result["visual"]),
    ]
    for fig in figs:
        go.Figure(fig.to_dict())  # raises ValueError on any invalid property or value
        # colour scales must be explicit lists: unvalidated names reach plotly.js, which lacks most of them
        assert all(not isinstance(t.to_plotly_json().get("colorscale"), str) for t in fig.data)
        assert fig.layout.height and fig.to_json()
        # Streamlit's browser code replaces these strings (theme placeholders) in any figure's JSON
        assert not re.search(r"#0000(?!00)[0-9]{2}\b", fig.to_json(), re.I)
        # the studio's own look: shown with theme=None, so no Streamlit theme is merged in the browser
        assert fig.layout.template.layout.font.family == STUDIO_TEMPLATE["layout"]["font"]["family"]


def test_log_ticks_label_values_not_digits() -> None:
    t = charts.log_ticks(0.15, 3.0)
    assert t["tickvals"] == pytest.approx([0.2, 0.5, 1, 2])
    assert t["ticktext"] == ["0.2", "0.5", "1", "2"]  # plotly's own log labels read "2", "5" for 0.2, 0.5
    assert charts.log_ticks(3e-3, 3e-3)["ticktext"] == ["0.0005", "0.001", "0.002", "0.005", "0.01", "0.02"]


def test_learning_rate_axis_carries_its_values() -> None:
    y = charts.lr_figure(step_table()).layout.yaxis  # lr 1.5e-3 (audio) and 3e-3
    assert y.type == "log" and list(y.ticktext) == ["0.002", "0.003"]  # a narrow range: every digit


def test_grad_norm_ratio_axis_carries_its_values() -> None:
    st = step_table().assign(gnorm_a=np.linspace(0.3, 2.5, 120))  # ratio 0.3 .. 2.5 against gnorm_v = 1
    y = imbalance.imbalance_figure(st, epoch_table()).layout.yaxis2
    assert y.type == "log" and y.tickmode == "array"
    assert "0.5" in y.ticktext and "2" in y.ticktext
    assert np.allclose([float(x) for x in y.ticktext], y.tickvals)


def test_imbalance_titles_fit_side_by_side_at_1280_px() -> None:
    fig = imbalance.imbalance_figure(step_table(), epoch_table())
    # 1280 px window - sidebar (~300) - page padding (~100) - figure margins (70) = ~810 px of plot area;
    # a title of n characters at font size f is about 0.55 n f px wide in the studio's sans-serif
    titles = [a for a in fig.layout.annotations if a.text in imbalance.IMBALANCE_TITLES]
    assert len(titles) == 4
    for a, axis in zip(titles, ("xaxis", "xaxis2", "xaxis3", "xaxis4"), strict=True):
        lo, hi = fig.layout[axis].domain
        assert 0.55 * len(a.text) * a.font.size <= (hi - lo) * 810, a.text


def test_one_step_shows_a_message_not_dummy_axes() -> None:
    for fig in (charts.loss_acc_figure(step_table(1), None), charts.lr_figure(step_table(1))):
        assert not fig.data
        assert "1 training step so far" in fig.layout.annotations[-1].text
        assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False
    assert charts.loss_acc_figure(step_table(2), None).data  # two steps draw a curve
