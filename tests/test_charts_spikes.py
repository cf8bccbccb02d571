"""Chart builders for spikes, membranes and the what-if view on small synthetic inputs."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from studio.charts import inspection, rasters


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
