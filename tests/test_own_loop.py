"""Runs of other training loops in the studio: the example network (examples/own_loop.py) and a bare run that
records no attention, other layer names and three modalities."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.runlog import Run
from core.store import RunReader
from studio.live.figures import ALL_LAYERS, FIGURES, raster_figures
from studio.live.rundata import RunData
from tests.support import ROOT, assert_renders, open_studio, page_text, studio_chart_data


def every_figure(run_dir: Path) -> dict[str, object]:
    """Every panel figure and the rasters of the newest probe, built as the studio builds them."""
    rd = RunData(run_dir)
    rd.refresh()
    view = rd.view()
    figs = {name: build(view) for name, (_, build) in FIGURES.items()}
    with RunReader(run_dir) as r:
        step = r.array_steps("probe")[-1]
        arrays = r.arrays(step, "probe")
    for mod in ("audio", "visual"):
        figs.update({f"{mod}_{k}": f for k, f in raster_figures(view, arrays, step, 0, mod, 200, ALL_LAYERS).items()})
    return figs


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "own_loop.py"), "--runs-dir", str(runs), "--name",
                          "ex", "--epochs", "1", "--max-steps", "12"], capture_output=True, text=True, timeout=300,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    return runs / "ex"


@pytest.mark.integration
def test_the_example_records_what_the_studio_reads(example_run: Path) -> None:
    with RunReader(example_run) as r:
        steps, epochs, meta = r.scalars("step"), r.scalars("epoch"), r.meta()
        probe_steps = r.array_steps("probe")
        arrays = r.arrays(probe_steps[-1], "probe")
        assert r.status()["status"] == "finished"
    assert steps["step"].tolist() == list(range(1, 13))
    for key in ("loss", "acc_a", "acc_v", "acc_f", "lr_a", "lr_v", "lr_f", "k_a", "k_v", "rho_a", "alpha_entropy_f",
                "rate/a.ear.lif.0", "rate/v.eye.lif.0"):
        assert steps[key].notna().any(), key
    assert epochs["val_acc_f"].between(0, 1).all() and len(epochs) == 1
    assert probe_steps == [1, 10]
    assert meta["layers"] == ["a.ear.lif.0", "a.ear.lif.1", "v.eye.lif.0"] and meta["T"] == 8
    assert arrays["spikes/a.ear.lif.0"].shape == (8, 8, 96) and arrays["spikes/v.eye.lif.0"].shape == (8, 8, 40)
    assert arrays["membrane/a.ear.lif.1"].shape == (8, 8, 16)
    assert arrays["alpha"].shape == (8, 3, 8)
    np.testing.assert_allclose(arrays["alpha"].sum(-1), 1.0, rtol=1e-5)
    figs = every_figure(example_run)
    assert {"audio_raster", "audio_membrane", "visual_raster"} <= set(figs)


@pytest.mark.integration
@pytest.mark.parametrize("page", ["views/1_train.py", "views/4_replay.py", "views/2_compare.py"])
def test_the_example_run_opens_on_every_page(monkeypatch: pytest.MonkeyPatch, example_run: Path, page: str) -> None:
    at = open_studio(monkeypatch, example_run.parent, "", page, timeout=120)
    assert_renders(at)
    charts = studio_chart_data(at)
    if page != "views/2_compare.py":
        assert any(k.endswith("_alpha") for k in charts) and any(k.endswith("_raster") for k in charts)


def bare_run(run_dir: Path) -> Path:
    """Three modalities, layers without a modality prefix, no attention, no learning rates."""
    rng = np.random.default_rng(0)
    with Run.create(run_dir, {}, modalities=("audio", "video", "text")) as run:
        for s in range(1, 30):
            run.log_scalars(s, {"loss": 3 - s / 10}, epoch=s // 10)
            if run.is_probe_step(s):
                run.log_spikes(s, {"conv1": rng.random((6, 4, 10)) < 0.3, "txt.fc": rng.random((3, 4, 5)) < 0.3})
    return run_dir


@pytest.mark.unit
def test_a_run_without_attention_builds_every_figure(tmp_path: Path) -> None:
    figs = every_figure(bare_run(tmp_path / "bare"))
    assert "audio_raster" in figs and "audio_membrane" not in figs  # no membrane was logged


@pytest.mark.unit
@pytest.mark.parametrize("page", ["views/1_train.py", "views/4_replay.py"])
def test_a_run_without_attention_says_so_instead_of_attention_panels(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path, page: str) -> None:
    bare_run(tmp_path / "runs" / "bare")
    at = open_studio(monkeypatch, tmp_path / "runs", "", page, timeout=120)
    assert_renders(at)
    charts = studio_chart_data(at)
    assert not any(k.endswith(("_alpha", "_alpha_now", "_entropy")) for k in charts)
    assert any(k.endswith("_raster") for k in charts) and any(k.endswith("_loss") for k in charts)
    assert page_text(at).count("This run records no attention") == 1
