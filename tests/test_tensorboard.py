"""TensorBoard out and in (core/tensorboard.py), checked with TensorBoard's own reader and writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

from core import tensorboard as tb
from core.store import RunReader
from studio.live.figures import FIGURES
from studio.live.rundata import RunData
from tests.support import make_run

pytestmark = pytest.mark.unit


def read_back(logdir: Path) -> EventAccumulator:
    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "images": 0, "histograms": 0})
    acc.Reload()
    return acc


def test_export_round_trips_every_scalar_exactly_in_float32(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", steps=40)
    n = tb.export(run, tmp_path / "tb")
    acc = read_back(tmp_path / "tb")
    with RunReader(run) as r:
        frames = {"train": r.scalars("step"), "epoch": r.scalars("epoch")}
        probe_steps = r.array_steps("probe")
    total = 0
    for prefix, df in frames.items():
        for key in (c for c in df.columns if c not in ("step", "epoch", "time")):
            events = acc.Scalars(f"{prefix}/{key}")
            d = df[["step", "time", key]].dropna()
            assert [e.step for e in events] == d["step"].tolist(), key
            assert [e.value for e in events] == [float(np.float32(v)) for v in d[key]], key
            np.testing.assert_allclose([e.wall_time for e in events], d["time"], rtol=0, atol=1e-3)
            total += len(events)
    assert total == n and "train/rate/a.lif1" in acc.Tags()["scalars"]
    assert [e.step for e in acc.Images("attention/alpha")] == probe_steps
    assert {"attention/audio", "attention/visual", "attention/fused"} <= set(acc.Tags()["histograms"])


def ogm_logdir(logdir: Path) -> dict[str, list[float]]:
    """Event files as OGM-GE's training script writes them: per-iteration ratio and coefficients, per-epoch charts
    through add_scalars, and a tag of its own."""
    rng = np.random.default_rng(1)
    values = {k: rng.random(6).tolist() for k in ("ratio v", "coefficient a", "coefficient v", "mine", "total", "acc")}
    w = SummaryWriter(log_dir=str(logdir))
    for it in range(6):
        w.add_scalar("data/ratio v", values["ratio v"][it], it)
        w.add_scalar("data/coefficient a", values["coefficient a"][it], it)
        w.add_scalar("data/coefficient v", values["coefficient v"][it], it)
        w.add_scalar("my/metric", values["mine"][it], it)
    for epoch in range(3):
        w.add_scalars("Loss", {"Total Loss": values["total"][epoch]}, epoch)
        w.add_scalars("Evaluation", {"Total Accuracy": values["acc"][epoch]}, epoch)
    w.close()
    return values


def test_import_maps_ogm_ge_names_onto_ours(tmp_path: Path) -> None:
    values = ogm_logdir(tmp_path / "tb")
    tb.import_logdir(tmp_path / "tb", tmp_path / "runs" / "ogm")
    f32 = lambda xs: [float(np.float32(x)) for x in xs]  # noqa: E731
    with RunReader(tmp_path / "runs" / "ogm") as r:
        steps, epochs, meta = r.scalars("step"), r.scalars("epoch"), r.meta()
        assert r.status()["status"] == "finished"
    assert steps["step"].tolist() == list(range(6))
    assert steps["rho_v"].tolist() == f32(values["ratio v"])
    assert steps["k_a"].tolist() == f32(values["coefficient a"])
    assert steps["k_v"].tolist() == f32(values["coefficient v"])
    assert steps["my/metric"].tolist() == f32(values["mine"])
    assert epochs["val_acc_f"].tolist() == f32(values["acc"][:3])
    assert epochs["train_loss"].tolist() == f32(values["total"][:3])
    assert meta["strategy"] == "imported (TensorBoard)" and meta["epochs"] == 3
    rd = RunData(tmp_path / "runs" / "ogm")
    rd.refresh()
    for name, (_, build) in FIGURES.items():  # the studio draws it (no attention: panels/attention says so)
        if name != "alpha_now":  # (drawn only once a probe step exists, studio/ui/panels.py)
            build(rd.view())


def test_export_then_import_gives_back_the_run(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", steps=20)
    tb.export(run, tmp_path / "tb")
    tb.import_logdir(tmp_path / "tb", tmp_path / "back")
    with RunReader(run) as a, RunReader(tmp_path / "back") as b:
        for scope in ("step", "epoch"):
            x, y = a.scalars(scope), b.scalars(scope)
            keys = sorted(c for c in x.columns if c not in ("epoch", "time"))
            assert sorted(c for c in y.columns if c not in ("epoch", "time")) == keys
            np.testing.assert_array_equal(y[keys].to_numpy(np.float64), x[keys].to_numpy(np.float32))


def test_the_cli_refuses_a_folder_without_event_files_in_one_line(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "empty").mkdir()
    assert tb.main(["import", str(tmp_path / "empty"), str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no TensorBoard event files" in err
    assert not (tmp_path / "run").exists()


def test_export_writes_another_loops_attention_by_its_own_stream_names(tmp_path: Path) -> None:
    from tests.test_charts_modalities import record

    run = record(tmp_path / "three", ("audio", "visual", "touch"))
    tb.export(run, tmp_path / "tb")
    acc = read_back(tmp_path / "tb")
    tags = acc.Tags()
    assert {"attention/audio", "attention/visual", "attention/touch", "attention/fused"} <= set(tags["histograms"])
    image = acc.Images("attention/alpha")
    assert image and image[-1].height == 4  # a row per stream: three modalities and the fused one
