"""Chart builders on small synthetic inputs: the figures carry the data the studio promises to show."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from studio.charts import attention, inspection, rasters
from studio.charts import curves as charts
from studio.charts.figbuild import STUDIO_TEMPLATE


def _steps(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    s = np.arange(n)
    d = {"step": s, "epoch": s // 40, "time": s * 0.1}
    for u in "avf":
        d[f"loss_{u}"] = 2.3 * np.exp(-s / 50) + rng.random(n) * 0.1
        d[f"acc_{u}"] = np.clip(s / n + rng.random(n) * 0.1, 0, 1)
        d[f"lr_{u}"] = np.full(n, 3e-3) * (0.5 if u == "a" else 1.0)
    d.update(k_a=np.full(n, 0.6), k_v=np.ones(n), rho_a=1.5 + rng.random(n), rho_v=np.full(n, 0.6),
             gnorm_a=np.full(n, 2.0), gnorm_v=np.full(n, 1.0))
    d["rate/a.lif1"] = np.full(n, 0.1)
    d["rate/v.lif1"] = np.full(n, 0.2)
    return pd.DataFrame(d)


def _epochs() -> pd.DataFrame:
    return pd.DataFrame({
        "step": [39, 79, 119], "epoch": [0, 1, 2], "time": [4, 8, 12],
        "val_acc_a": [0.5, 0.85, 0.9], "val_acc_v": [0.2, 0.3, 0.6], "val_acc_f": [0.5, 0.9, 0.95],
        "val_loss": [1.5, 0.8, 0.5], "shapley_a": [0.3, 0.4, 0.5], "shapley_v": [0.1, 0.1, 0.2],
        "energy_pj": [2e6, 2.2e6, 2.1e6], "energy_ann_pj": [1e7, 1e7, 1e7],
    })


def _names(fig: go.Figure) -> set[str]:
    return {t.name for t in fig.data if t.name}


def test_decimate_bounds_rows_and_keeps_last() -> None:
    df = pd.DataFrame({"step": np.arange(10_000)})
    d = charts.decimate(df, 500)
    assert len(d) <= 501 and d["step"].iloc[-1] == 9_999 and d["step"].iloc[0] == 0


def test_loss_acc_has_each_head_and_validation_at_epoch_steps() -> None:
    fig = charts.loss_acc_figure(_steps(), _epochs())
    assert {"audio", "visual", "fused", "audio val", "fused val", "val loss (total)"} <= _names(fig)
    val = next(t for t in fig.data if t.name == "fused val")
    assert list(val.x) == [39, 79, 119] and np.allclose(val.y, [0.5, 0.9, 0.95])


def test_loss_acc_empty_says_waiting() -> None:
    fig = charts.loss_acc_figure(pd.DataFrame(), None)
    assert not fig.data and "waiting" in fig.layout.annotations[-1].text


def test_lr_figure_plots_rates_coefficients_and_ratio() -> None:
    fig = charts.lr_figure(_steps())
    assert {"lr audio", "lr visual", "lr fused", "k audio", "k visual", "ρ audio"} <= _names(fig)
    lra = next(t for t in fig.data if t.name == "lr audio")
    assert np.allclose(lra.y, 1.5e-3)


def test_epochs_to_fraction() -> None:
    e = _epochs()
    assert charts.epochs_to_fraction(e, "val_acc_a") == 2  # 0.85 >= 0.9 * 0.9 after the second epoch
    assert charts.epochs_to_fraction(e, "val_acc_v") == 3
    assert charts.epochs_to_fraction(e, "missing") is None


def test_imbalance_figure_contents() -> None:
    fig = charts.imbalance_figure(_steps(), _epochs())
    gap = next(t for t in fig.data if t.name == "val gap")
    assert np.allclose(gap.y, [0.3, 0.55, 0.3])
    shap = next(t for t in fig.data if t.name == "Shapley")
    assert list(shap.y) == [0.5, 0.2]
    ratio = next(t for t in fig.data if t.name == "‖g_a‖/‖g_v‖")
    assert np.allclose(ratio.y, 2.0)
    reach = next(t for t in fig.data if t.name == "epochs to 90 %")
    assert list(reach.x) == ["audio", "visual", "fused"] and list(reach.y) == [2, 3, 2]


def test_firing_rate_and_energy() -> None:
    fig = charts.firing_rate_figure(_steps(), ["a.lif1", "v.lif1"])
    assert _names(fig) == {"a.lif1", "v.lif1"}
    fig = charts.energy_figure(_epochs())
    assert {"SNN (µJ)", "same ANN (µJ)"} == _names(fig)
    assert "21 %" in fig.layout.title.text


def test_compare_figure_one_distinct_line_per_run() -> None:
    curves = {f"r{i}": _epochs().assign(val_acc_f=[0.1 * i, 0.2, 0.3]) for i in range(10)}
    fig = charts.compare_figure(curves, "val_acc_f", "epoch", "val acc (fused)")
    assert _names(fig) == set(curves)
    styles = [(t.line.color, t.line.dash) for t in fig.data]
    assert len(set(styles)) == 10 and len({c for c, _ in styles[:8]}) == 8  # 8 colours, then dashes
    assert fig.layout.yaxis.title.text == "val acc (fused)"


def _alphas(s: int = 5, t: int = 4) -> np.ndarray:
    a = np.random.default_rng(1).random((s, 3, t)).astype(np.float32)
    return a / a.sum(axis=2, keepdims=True)


def test_alpha_history_heatmaps_step_by_timestep() -> None:
    a = _alphas()
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
    fig = attention.alpha_bars_figure(_alphas(1)[0])
    assert [t.name for t in fig.data] == ["audio", "visual", "fused"]
    assert all(abs(sum(t.y) - 1) < 1e-5 for t in fig.data)


def test_raster_heatmap_sorted_by_rate_and_thinned() -> None:
    rng = np.random.default_rng(2)
    s = (rng.random((8, 50)) < np.linspace(0, 1, 50)).astype(np.uint8)
    fig = rasters.raster_figure({"a.lif1": s, "a.lif2": s[:, :10]}, max_neurons=20)
    h0, h1 = fig.data
    assert np.asarray(h0.z).shape == (20, 8) and np.asarray(h1.z).shape == (10, 8)
    rates = np.asarray(h0.z).mean(axis=1)
    assert rates[0] >= rates[-1]  # most active first
    assert np.asarray(h1.z).sum() == s[:, :10].sum()  # unthinned layer keeps every spike


def test_membrane_marks_spikes_and_threshold() -> None:
    v = np.zeros((6, 3), np.float32)
    v[2, 0] = 1.2
    spk = (v > 1.0).astype(np.uint8)
    fig = rasters.membrane_figure(v, spk, v_th=1.0, neurons=[0, 1])
    marks = [t for t in fig.data if t.mode == "markers"]
    assert len(marks) == 1 and list(marks[0].x) == [3] and marks[0].xaxis == "x"  # in neuron 0's plot
    assert [s.y0 for s in fig.layout.shapes] == [1.0, 1.0]  # a threshold line in each neuron's plot
    assert [a.text for a in fig.layout.annotations][:2] == ["neuron 0 · 1 spike", "neuron 1 · 0 spikes"]


def test_membrane_shows_the_neurons_that_integrate_and_fire_most() -> None:
    T = 16
    z = np.zeros((T, 6), np.uint8)
    z[:, 0] = 1  # fires every step: one rise from rest, then stuck at threshold
    z[3::4, 2] = 1  # four integrate-fire-reset cycles
    z[[5, 12], 4] = 1  # two
    v = np.zeros((T, 6), np.float32)
    v[:, 5] = 0.45  # silent but close to the threshold
    v[:, 1] = 0.1
    assert rasters.active_neurons(z, 4, v.max(axis=0)) == [2, 4, 0, 5]
    twins = np.concatenate([z[:, [2]], z], axis=1)  # neuron 0 fires as neuron 3 (was 2) does
    assert rasters.active_neurons(twins, 4, np.r_[0.0, v.max(axis=0)]) == [0, 5, 1, 6]
    assert rasters.active_neurons(twins, 7)[-1] == 3  # a twin comes back only when nothing else is left
    fig = rasters.membrane_figure(v, z, v_th=0.5)
    assert [t.name for t in fig.data if t.mode != "markers"] == [f"neuron {n}" for n in (2, 4, 0, 5)]


def test_membrane_with_the_value_before_reset_rises_above_threshold_and_drops_at_each_spike() -> None:
    from core import neuron_lab as lab

    p = lab.lif_parameters(2.0, 0.5)
    current = np.tile(np.linspace(0.3, 0.9, 3, dtype=np.float32), (16, 1))  # (T, 3): one weak, two firing
    v, z = lab.simulate(current, p)
    pre = lab.membrane_before_reset(current, v, p)
    fig = rasters.membrane_figure(v, z, 0.5, [2], v_before=pre)
    line = fig.data[0]
    x, y = np.asarray(line.x), np.asarray(line.y)
    assert (x[0], y[0]) == (0, 0)  # from rest
    assert len(x) == 1 + 16 + int(z[:, 2].sum()) and np.all(np.diff(x) >= 0)
    peaks = y[1:][np.r_[np.diff(x[1:]) == 0, False]]  # the point before each same-step drop
    assert len(peaks) == int(z[:, 2].sum()) > 2 and np.all(peaks > 0.5)
    assert y.max() > 0.5 and fig.layout.yaxis.range[1] > y.max()  # the crossing is inside the plot
    assert len(fig.data[1].x) == int(z[:, 2].sum())  # a red tick per spike


@pytest.fixture()
def whatif_result() -> dict:
    rng = np.random.default_rng(3)
    return {
        "alpha": _alphas(1)[0], "build_up": np.full((4, 10), 0.1, np.float32),
        "spikes/a.lif1": (rng.random((8, 30)) < 0.3).astype(np.uint8),
        "spikes/v.lif1": (rng.random((4, 20)) < 0.3).astype(np.uint8),
        "audio": rng.random((32, 32)).astype(np.float32), "visual": rng.random((1, 8, 8)).astype(np.float32),
    }


def test_whatif_aligns_rasters_and_alpha_on_unit_time(whatif_result: dict) -> None:
    fig = inspection.whatif_figure(whatif_result, "a.lif1", "v.lif1")
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    bars = [t for t in fig.data if isinstance(t, go.Bar)]
    assert np.allclose(heat[0].x, (np.arange(8) + 0.5) / 8)  # audio: 8 steps
    assert np.allclose(heat[1].x, (np.arange(4) + 0.5) / 4)  # visual: 4 steps
    assert len(bars) == 3 and all(np.allclose(b.x, (np.arange(4) + 0.5) / 4) for b in bars)
    assert np.isclose(sum(bars[2].y), 1.0, atol=1e-5)


def test_buildup_and_inputs(whatif_result: dict) -> None:
    bu = np.tile(np.eye(10, dtype=np.float32)[3], (4, 1))
    fig = inspection.buildup_figure(bu, [str(i) for i in range(10)], label=3)
    assert len(fig.data) == 10 and "(true) (predicted)" in fig.data[3].name
    fig = inspection.inputs_figure(whatif_result["audio"], whatif_result["visual"])
    assert np.asarray(fig.data[0].z).shape == (32, 32) and np.asarray(fig.data[1].z).shape == (8, 8)


def test_mod_layers() -> None:
    assert rasters.mod_layers(["a.lif1", "v.lif1", "a.lif2", "f.x"], "a") == ["a.lif1", "a.lif2"]


def test_every_builder_output_is_valid_plotly(whatif_result: dict) -> None:
    """The builders skip plotly's validation for speed (studio/charts/figbuild.py): validate them here instead."""
    rng = np.random.default_rng(4)
    spikes = (rng.random((8, 40)) < 0.2).astype(np.uint8)
    figs = [
        charts.loss_acc_figure(_steps(), _epochs()), charts.loss_acc_figure(pd.DataFrame()),
        charts.lr_figure(_steps()), charts.lr_figure(pd.DataFrame()),
        charts.imbalance_figure(_steps(), _epochs()), charts.imbalance_figure(pd.DataFrame(), None),
        charts.firing_rate_figure(_steps()), charts.firing_rate_figure(pd.DataFrame()),
        charts.energy_figure(_epochs()), charts.energy_figure(None),
        charts.compare_figure({"r": _epochs()}, "val_acc_f", "epoch"), charts.compare_figure({}, "x"),
        attention.alpha_history_figure([1, 2, 3, 4, 5], _alphas()),
        attention.alpha_history_figure([], _alphas(0)),
        attention.alpha_bars_figure(_alphas(1)[0]),
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
    y = charts.lr_figure(_steps()).layout.yaxis  # lr 1.5e-3 (audio) and 3e-3
    assert y.type == "log" and list(y.ticktext) == ["0.002", "0.003"]  # a narrow range: every digit


def test_grad_norm_ratio_axis_carries_its_values() -> None:
    st = _steps().assign(gnorm_a=np.linspace(0.3, 2.5, 120))  # ratio 0.3 .. 2.5 against gnorm_v = 1
    y = charts.imbalance_figure(st, _epochs()).layout.yaxis2
    assert y.type == "log" and y.tickmode == "array"
    assert "0.5" in y.ticktext and "2" in y.ticktext
    assert np.allclose([float(x) for x in y.ticktext], y.tickvals)


def test_imbalance_titles_fit_side_by_side_at_1280_px() -> None:
    fig = charts.imbalance_figure(_steps(), _epochs())
    # 1280 px window - sidebar (~300) - page padding (~100) - figure margins (70) = ~810 px of plot area;
    # a title of n characters at font size f is about 0.55 n f px wide in the studio's sans-serif
    titles = [a for a in fig.layout.annotations if a.text in charts.IMBALANCE_TITLES]
    assert len(titles) == 4
    for a, axis in zip(titles, ("xaxis", "xaxis2", "xaxis3", "xaxis4"), strict=True):
        lo, hi = fig.layout[axis].domain
        assert 0.55 * len(a.text) * a.font.size <= (hi - lo) * 810, a.text


def test_one_step_shows_a_message_not_dummy_axes() -> None:
    for fig in (charts.loss_acc_figure(_steps(1), None), charts.lr_figure(_steps(1))):
        assert not fig.data
        assert "1 training step so far" in fig.layout.annotations[-1].text
        assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False
    assert charts.loss_acc_figure(_steps(2), None).data  # two steps draw a curve


def test_small_t_raster_is_a_grid_of_cells() -> None:
    s = (np.random.default_rng(5).random((4, 80)) < 0.3).astype(np.uint8)
    fig = rasters.raster_figure({"a.lif1": s}, max_neurons=50)
    h = fig.data[0]
    assert h.xgap >= 1 and h.ygap == 1  # every neuron x timestep cell stands apart
    assert (fig.layout.height - 70) / 50 >= rasters.MIN_ROW_PX
    many = rasters.raster_figure({"a.lif1": s}, max_neurons=None)
    assert many.layout.height == max(360, 70 + 3 * 80)
    long = rasters.raster_figure({"a.lif1": np.zeros((100, 80), np.uint8)}, max_neurons=50)
    assert long.data[0].xgap == 0 and long.layout.height == 360  # long runs: spikes are already thin


def test_membrane_of_a_diverged_run_keeps_a_finite_axis() -> None:
    v = np.array([[0.2], [np.inf], [0.0], [0.1]], np.float32)
    fig = rasters.membrane_figure(v, np.array([[0], [1], [0], [0]], np.uint8), 0.5, v_before=v)
    assert all(np.isfinite(fig.layout.yaxis.range))


def test_membrane_draws_the_last_step_flat_and_clear_of_the_corner() -> None:
    v = np.array([[-0.9], [0.0], [0.3], [0.1]], np.float32)
    fig = rasters.membrane_figure(v, np.zeros((4, 1), np.uint8), v_th=0.5)
    line = fig.data[0]
    assert list(line.x) == [0.5, 1.5, 2.5, 3.5, 4.5] and list(line.y)[-2:] == pytest.approx([0.1, 0.1])
    assert list(fig.layout.xaxis.range) == [0.5, 4.5]  # x tick 1 sits away from the y axis' bottom label
    lo, hi = fig.layout.yaxis.range
    assert lo < -0.9 and hi > 0.5


def test_dropped_audio_is_drawn_dark() -> None:
    real = np.random.default_rng(6).normal(size=(32, 32)).astype(np.float32)
    silence = np.full_like(real, real.min())  # core.data.presets: a dropped spectrogram holds its minimum
    fig = inspection.inputs_figure(silence, np.zeros((1, 8, 8)), (real.min(), real.max()), (0.0, 1.0))
    a, v = fig.data
    assert a.zmin == pytest.approx(real.min()) and a.zmax == pytest.approx(real.max())
    assert a.colorscale[0][1] == inspection.MAGMA[0][1] and np.asarray(a.z).max() == a.zmin  # darkest
    assert v.zmin == 0 and v.colorscale[0][1] == "#ffffff"  # a blank frame is white


def test_whatif_rasters_are_grids_too(whatif_result: dict) -> None:
    heat = [t for t in inspection.whatif_figure(whatif_result, "a.lif1", "v.lif1").data if isinstance(t, go.Heatmap)]
    assert all(h.xgap >= 1 and h.ygap == 1 for h in heat)
