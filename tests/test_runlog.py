"""The public recorder (core/runlog.py): what a run of any loop holds, and what it refuses without losing data."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from core.runlog import RecordError, Run
from core.store import RunReader

pytestmark = pytest.mark.unit


def spikes(T: int, B: int, *shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, *shape, generator=g) < 0.3).float()


def test_a_run_holds_what_was_logged_under_the_studios_names(tmp_path: Path) -> None:
    with Run.create(tmp_path / "r", {"lr": 0.1}, T=5, class_names=list("abc"), probe_every=10, probes=4) as run:
        run.log_scalars(1, {"loss": 2.0, "acc_f": torch.tensor(0.25)}, epoch=0)
        run.log_lr(1, {"audio": 1e-3, "visual": 2e-3, "fused": 3e-3})
        run.log_balance(1, {"audio": 0.5, "visual": 1.0})
        att = torch.softmax(torch.randn(6, 5), dim=1)
        run.log_attention(1, {"audio": att, "fused": torch.full((6, 5), 0.2)})
        run.log_spikes(1, {"a.conv": spikes(5, 6, 3, 4, 4)}, membrane={"a.conv": torch.randn(5, 6, 3, 4, 4)},
                       labels=torch.arange(6))
        run.log_arrays(1, {"probs": np.full((4, 10), 0.1, np.float32)})
        run.log_scalars(2, {"loss": 1.5})
        run.log_attention(2, {"audio": att})  # not a probe step: entropy only
        run.log_epoch(2, {"val_acc_f": 0.5})
        run.event("note", "hello\nworld")
        run.warn("lr too high")
    with RunReader(tmp_path / "r") as r:
        steps, epochs, meta = r.scalars("step"), r.scalars("epoch"), r.meta()
        assert r.status()["status"] == "finished"
        assert r.array_steps("probe") == [1]
        arrays = r.arrays(1, "probe")
        events = r.events()
    row = steps.set_index("step").loc[1]
    assert (row["loss"], row["acc_f"], row["lr_a"], row["lr_v"], row["lr_f"]) == (2.0, 0.25, 1e-3, 2e-3, 3e-3)
    assert (row["k_a"], row["k_v"]) == (0.5, 1.0)
    assert row["alpha_entropy_f"] == pytest.approx(math.log(5), rel=1e-5)
    assert not math.isnan(steps.set_index("step").loc[2, "alpha_entropy_a"])
    assert epochs["val_acc_f"].tolist() == [0.5]
    assert meta["T"] == 5 and meta["class_names"] == ["a", "b", "c"] and meta["layers"] == ["a.conv"]
    assert meta["warnings"] == ["lr too high"]
    assert arrays["spikes/a.conv"].shape == (4, 5, 48) and arrays["spikes/a.conv"].dtype == np.uint8
    assert arrays["membrane/a.conv"].shape == (4, 5, 16) and arrays["labels"].tolist() == [0, 1, 2, 3]
    assert arrays["alpha"].shape == (4, 3, 5) and arrays["probs"].shape == (4, 10)
    np.testing.assert_allclose(arrays["alpha"][:, 0], att[:4].numpy(), rtol=1e-6)
    assert np.isnan(arrays["alpha"][:, 1]).all()  # visual attention was never logged
    np.testing.assert_allclose(arrays["alpha"][:, 2], 0.2)
    assert "hello world" in events["message"].tolist()


@pytest.mark.parametrize(("call", "words"), [
    (lambda run: run.log_scalars(3, {"loss": 1.0, "acc": float("nan")}), "'acc' = nan: not finite"),
    (lambda run: run.log_scalars(3, {"loss": "high"}), "'loss'"),
    (lambda run: run.log_lr(3, {"text": 0.1}), "unknown stream 'text'"),
    (lambda run: run.log_balance(3, {"fused": 0.1}), "unknown modality 'fused'"),
    (lambda run: run.log_attention(3, {"audio": np.ones((2, 4))}), "shape (2, 4), expected (batch, T=5)"),
    (lambda run: run.log_attention(3, {"audio": np.ones(5)}), "attention 'audio': shape (5,)"),
    (lambda run: run.log_spikes(3, {"a.x": np.full((5, 2, 3), 0.5)}), "spikes 'a.x': values must be 0 or 1"),
    (lambda run: run.log_spikes(3, {"a.x": np.ones((5, 2, 3))}, membrane={"a.x": np.ones((4, 2, 3))}),
     "membrane 'a.x'"),
    (lambda run: run.log_scalars(-1, {"loss": 1.0}), "step -1"),
    (lambda run: run.log_scalars(3, {"loss": torch.ones(2)}), "'loss'"),
    (lambda run: run.log_scalars(3, {"step": 1.0}), "'step': the name is reserved"),
    (lambda run: run.log_arrays(1, {"probs": np.array(["a"])}), "array 'probs'"),
])
def test_bad_input_is_refused_in_one_line_and_nothing_logged_is_lost(tmp_path: Path, call, words: str) -> None:
    run = Run.create(tmp_path / "r", {}, T=5)
    run.log_scalars(1, {"loss": 2.0})
    run.log_spikes(1, {"a.x": np.ones((5, 2, 3))})
    with pytest.raises(RecordError) as err:
        call(run)
    assert words in str(err.value) and "\n" not in str(err.value)
    run.finish()
    with RunReader(tmp_path / "r") as r:
        steps = r.scalars("step")
        assert steps["step"].tolist() == [1] and steps["loss"].tolist() == [2.0]
        assert r.arrays(1, "probe")["spikes/a.x"].shape == (2, 5, 3)
        assert r.meta()["layers"] == ["a.x"]
        assert r.status()["status"] == "finished"


def test_unknown_or_clashing_modalities_are_refused_before_a_run_is_made(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="distinct"):
        Run.create(tmp_path / "r", {}, modalities=("audio", "audio"))
    assert not (tmp_path / "r" / "store.sqlite").exists()


def test_three_modalities_get_their_own_names_and_no_alpha_panel_array(tmp_path: Path) -> None:
    with Run.create(tmp_path / "r", {}, modalities=("audio", "accel", "text"), T=3) as run:
        run.log_lr(1, {"audio": 0.1, "accel": 0.2, "text": 0.3})
        run.log_attention(1, {"text": np.full((2, 3), 1 / 3)})
    with RunReader(tmp_path / "r") as r:
        row = r.scalars("step").iloc[0]
        arrays = r.arrays(1, "probe")
    assert (row["lr_audio"], row["lr_accel"], row["lr_t"]) == (0.1, 0.2, 0.3)  # first letters clash: full names
    assert "alpha" not in arrays and arrays["attention/t"].shape == (2, 3)


def test_keep_nonfinite_stores_nan(tmp_path: Path) -> None:
    with Run.create(tmp_path / "r", {}, nonfinite="keep") as run:
        run.log_scalars(1, {"loss": float("inf")})
    with RunReader(tmp_path / "r") as r:
        assert math.isnan(r.scalars("step")["loss"].iloc[0])


def test_an_exception_in_the_block_marks_the_run_failed_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ZeroDivisionError), Run.create(tmp_path / "r", {}) as run:
        run.log_scalars(1, {"loss": 1.0})
        _ = 1 / 0
    with RunReader(tmp_path / "r") as r:
        st = r.status()
        assert st["status"] == "failed" and st["error"].startswith("ZeroDivisionError")
        assert r.scalars("step")["loss"].tolist() == [1.0]
    with pytest.raises(RecordError, match="finished"):
        run.log_scalars(2, {"loss": 1.0})


def test_threads_logging_at_once_lose_no_row(tmp_path: Path) -> None:
    run = Run.create(tmp_path / "r", {}, T=4, probe_every=1)

    def work(k: int) -> None:
        for s in range(1, 31):
            run.log_scalars(s, {f"x{k}": float(s)})
            if s % 10 == 0:
                run.log_spikes(s, {f"a.l{k}": np.ones((4, 2, 3))})

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.finish()
    with RunReader(tmp_path / "r") as r:
        steps = r.scalars("step")
        assert len(steps) == 30 and all(steps[f"x{k}"].tolist() == list(range(1, 31)) for k in range(4))
        for s in (10, 20, 30):  # each step's npz holds every thread's layer
            assert sorted(r.arrays(s, "probe")) == [f"spikes/a.l{k}" for k in range(4)]
        assert sorted(r.meta()["layers"]) == [f"a.l{k}" for k in range(4)]


def test_open_goes_on_recording_a_finished_run(tmp_path: Path) -> None:
    with Run.create(tmp_path / "r", {}, T=4) as run:
        run.log_spikes(1, {"v.fc": np.zeros((4, 1, 2))})
    with Run.open(tmp_path / "r") as run:
        assert run.T == 4 and run.layers == ["v.fc"]
        run.log_scalars(5, {"loss": 0.5})
    with RunReader(tmp_path / "r") as r:
        assert r.scalars("step")["step"].tolist() == [1, 5]
