"""Pages adapt to what a run records (issue 25): a run of three modalities recorded with core.runlog draws a curve,
panel or raster for each of them, under the names it recorded; a run of two modalities by other names is not
drawn as audio and visual; our trainer's runs are drawn as before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.runlog import Run
from studio.charts import streams as stream_charts
from studio.live import figures
from studio.live.rundata import RunData, RunView
from tests.support import make_run

pytestmark = pytest.mark.unit

T, B = 4, 6


def record(run_dir: Path, modalities: tuple[str, ...], steps: int = 24, every: int = 4) -> Path:
    """A small synthetic run of any modalities through the public recorder, the way an own loop writes one."""
    rng = np.random.default_rng(0)
    names = [*modalities, "fused"]
    with Run.create(run_dir, {}, modalities=modalities, T=T, class_names=list("0123"), probe_every=every,
                    probes=3, meta={"steps_per_epoch": 8, "total_steps": steps}) as run:
        short = {**run.short, "fused": "f"}
        for step in range(1, steps + 1):
            epoch = (step - 1) // 8
            run.log_scalars(step, {"loss": 2 - step / steps, **{f"loss_{short[m]}": 2 - step / steps for m in names},
                                   **{f"acc_{short[m]}": rng.random() for m in names}}, epoch=epoch)
            run.log_lr(step, {m: 1e-3 * (i + 1) for i, m in enumerate(names)})
            run.log_balance(step, {m: 0.5 + 0.1 * i for i, m in enumerate(modalities)})
            att = {m: rng.dirichlet(np.ones(T), size=B).astype(np.float32) for m in names}
            run.log_attention(step, att)
            if run.is_probe_step(step):
                spikes = {f"{short[m]}.lif{i}": (rng.random((T, B, 10 + i)) < 0.3).astype(np.float32)
                          for m in modalities for i in (1, 2)}
                run.log_spikes(step, spikes, membrane={k: rng.normal(size=z.shape) for k, z in spikes.items()},
                               labels=np.arange(B) % 4)
            if step % 8 == 0:
                run.log_epoch(step, {f"val_acc_{short[m]}": 0.3 + step / 100 for m in names}, epoch=epoch)
    return run_dir


def view_of(run_dir: Path) -> RunView:
    rd = RunData(run_dir)
    rd.refresh()
    return rd.view()


def legend_names(fig) -> list[str]:
    return [t.name for t in fig.data if t.name and t.showlegend is not False]


def subplot_titles(fig) -> list[str]:
    return [a.text for a in fig.layout.annotations]


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> RunView:
    return view_of(record(tmp_path_factory.mktemp("three") / "run", ("audio", "visual", "touch")))


def build(view: RunView, name: str):
    return figures.FIGURES[name][1](view)


def test_the_run_says_its_modalities_and_streams(three: RunView) -> None:
    assert three.modalities == ["audio", "visual", "touch"]
    assert three.streams == {"a": "audio", "v": "visual", "t": "touch", "f": "fused"}
    assert three.alphas.shape == (6 + 1, 4, T)  # probe steps 1, 4, 8 ... 24; a row per stream


def test_every_per_modality_curve_has_a_trace_for_each_modality(three: RunView) -> None:
    loss = build(three, "loss")
    assert {"audio", "visual", "touch", "fused"} <= set(legend_names(loss))
    assert {"audio val", "visual val", "touch val", "fused val"} <= {t.name for t in loss.data}
    lr = legend_names(build(three, "lr"))
    assert [n for n in lr if n.startswith("lr ")] == ["lr audio", "lr visual", "lr touch", "lr fused"]
    assert [n for n in lr if n.startswith("k ")] == ["k audio", "k visual", "k touch"]
    assert legend_names(build(three, "entropy")) == ["audio", "visual", "touch", "fused"]
    reach = next(t for t in build(three, "imb").data if t.name == "to 90 % of own latest")
    assert list(reach.x) == ["audio", "visual", "touch", "fused"]
    colors = stream_charts.stream_colors(three.streams)
    assert len(set(colors.values())) == 4  # touch gets a colour of its own, not audio's or fused's


def test_attention_panels_have_one_panel_or_bar_per_stream(three: RunView) -> None:
    history = build(three, "alpha")
    assert [t.type for t in history.data] == ["heatmap"] * 4
    assert subplot_titles(history)[:4] == ["α_audio(t)", "α_visual(t)", "α_touch(t)", "α_fused(t)"]
    assert np.isfinite(np.asarray(history.data[2].z, dtype=float)).all()  # touch's attention, not a NaN row
    now = build(three, "alpha_now")
    assert [t.name for t in now.data if t.type == "bar"] == ["audio", "visual", "touch", "fused"]


def test_rasters_are_split_by_each_recorded_modality(three: RunView) -> None:
    from core.store import RunReader

    step = three.probe_steps[-1]
    with RunReader(three.path) as r:
        arrays = r.arrays(step, "probe")
    for modality, short in (("audio", "a"), ("visual", "v"), ("touch", "t")):
        assert figures.spike_layers(three, modality, arrays) == [f"{short}.lif1", f"{short}.lif2"]
        figs = figures.raster_figures(three, arrays, step, 0, modality, 200, figures.ALL_LAYERS)
        titles = subplot_titles(figs["raster"])
        assert len([t for t in titles if t.startswith(f"{short}.lif")]) == 2, titles
        assert "membrane" in figs
    rates = build(three, "rates")
    assert len(rates.data) == 6 and {t.name for t in rates.data} == {f"{s}.lif{i}" for s in "avt" for i in (1, 2)}


def test_two_modalities_by_other_names_are_drawn_under_their_names(tmp_path: Path) -> None:
    view = view_of(record(tmp_path / "run", ("sound", "vision")))
    assert view.modalities == ["sound", "vision"]
    history = build(view, "alpha")
    assert subplot_titles(history)[:3] == ["α_sound(t)", "α_vision(t)", "α_fused(t)"]
    assert all(np.isfinite(np.asarray(t.z, dtype=float)).all() for t in history.data)
    assert legend_names(build(view, "entropy")) == ["sound", "vision", "fused"]
    assert not any("audio" in n for n in legend_names(build(view, "lr")))


def test_our_trainers_runs_keep_audio_visual_and_fused(tmp_path: Path) -> None:
    view = view_of(make_run(tmp_path / "run"))  # as the trainer writes it: no `modalities` meta, `alpha` arrays
    assert view.modalities == ["audio", "visual"]
    assert view.alphas.shape[1:] == (3, 4) and np.isfinite(view.alphas).all()
    assert subplot_titles(build(view, "alpha"))[:3] == ["α_audio(t)", "α_visual(t)", "α_fused(t)"]
    assert [n for n in legend_names(build(view, "lr")) if n.startswith("k ")] == ["k audio", "k visual"]


def test_the_train_page_offers_and_draws_every_recorded_modality(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    from tests.support import assert_renders, figure_specs, open_studio

    run = record(tmp_path / "runs" / "three-senses", ("audio", "visual", "touch"))
    at = open_studio(monkeypatch, run)
    assert_renders(at)
    assert list(at.radio(key="live_mod").options) == ["audio", "visual", "touch"]
    assert any("_touch(t)" in spec for spec in figure_specs(at))  # (α may travel escaped)
    at.radio(key="live_mod").set_value("touch").run()
    assert_renders(at)
    assert list(at.selectbox(key="live_layer").options)[1:] == ["t.lif1", "t.lif2"]
    assert any("t.lif1  (" in spec and "t.lif2  (" in spec for spec in figure_specs(at))


def test_compare_offers_a_third_modalitys_curves(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from studio.ui.compare import modality_metrics
    from tests.support import assert_renders, figure_specs, open_studio

    ours = modality_metrics([stream_charts.DEFAULT_STREAMS])  # our runs: audio and visual, by name
    assert ours["epoch"]["val_acc@visual"].column(stream_charts.DEFAULT_STREAMS) == "val_acc_v"
    runs = tmp_path / "runs"
    record(runs / "three-senses", ("audio", "visual", "touch"))
    make_run(runs / "taaf-hard-s0")
    at = open_studio(monkeypatch, runs, page="views/2_compare.py")
    assert_renders(at)
    options = list(at.selectbox(key="cmp_metric").options)
    assert {"val acc (touch head)", "batch acc (touch head)", "coefficient k (touch)", "lr (touch)"} <= set(options)
    at.selectbox(key="cmp_metric").set_value("val_acc@touch").run()
    assert_renders(at)
    [spec] = [s for s in figure_specs(at) if "val acc (touch head)" in s]
    assert "three-senses" in spec and "taaf-hard-s0" not in spec  # the one run that records touch, drawn


def test_a_misshapen_attention_array_is_a_blank_row_not_a_crash(tmp_path: Path) -> None:
    from core.store import RunWriter

    w = RunWriter.create(tmp_path / "run", {})
    w.set_meta("modalities", ["audio", "visual", "touch"])
    w.set_meta("T", T)
    w.log_scalars(1, 0, {"loss": 1.0}, scope="step")
    w.log_arrays(1, 0, {"attention/a": np.full((2, T), 1 / T, np.float32), "attention/t": np.ones(T, np.float32)})
    w.close()
    view = view_of(tmp_path / "run")
    assert view.alphas.shape == (1, 4, T)
    assert np.allclose(view.alphas[0, 0], 1 / T) and np.isnan(view.alphas[0, 1:]).all()
