"""Probe arrays through the public recorder (core/runlog.py): our trainer's snapshots take the same path as any
loop's (issue 25: one recording path), a failed write is reported, not lost, and a slow disk holds the loop back
instead of piling arrays up in memory."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core import runlog
from core.runlog import Run
from core.store import RunReader
from core.telemetry import Telemetry

pytestmark = pytest.mark.unit


def snapshot(step: int) -> dict[str, np.ndarray]:
    """A trainer-like probe snapshot, in the store's layout (core/recorder.py: probe_arrays, probe_inputs)."""
    rng = np.random.default_rng(step)
    return {"spikes/a.lif1": (rng.random((4, 2, 32)) < 0.3).astype(np.uint8),
            "membrane/a.lif1": rng.normal(size=(4, 2, 3)).astype(np.float16),
            "neurons/a.lif1": np.array([1, 5, 9], np.int32), "alpha": rng.random((4, 3, 2)).astype(np.float32),
            "labels": np.arange(4, dtype=np.int64), "events": np.ones((4, 4), np.int16),
            "frames": rng.random((4, 3, 8, 8)).astype(np.float16)}


def test_the_trainers_probe_snapshots_are_written_by_the_recorder_as_given(tmp_path: Path) -> None:
    t = Telemetry.open(tmp_path / "r", {"record": {"every_steps": 2}}, resume=False, is_main=True)
    calls = []
    original = t.run.log_arrays
    t.run.log_arrays = lambda step, arrays: (calls.append(step), original(step, arrays))  # type: ignore[method-assign]
    try:
        for step in range(1, 5):
            t.after_step(step, 0 if step < 3 else 1, {"loss": 1.0 / step}, lambda step=step: snapshot(step))
    finally:
        t.shutdown()
    t.finish()
    assert calls == [1, 2, 4]  # step 1, then every 2: through the public call, no writer of Telemetry's own
    assert not any(th.name.startswith("probe-writer") for th in threading.enumerate())
    with RunReader(tmp_path / "r") as r:
        assert r.array_steps("probe") == [1, 2, 4]
        for step in (1, 2, 4):
            got = r.arrays(step, "probe")
            want = snapshot(step)
            assert sorted(got) == sorted(want)
            for key, a in want.items():
                assert got[key].dtype == a.dtype and np.array_equal(got[key], a), key
        assert r.status()["status"] == "finished"


def test_a_failed_array_write_is_raised_at_the_next_call_and_earlier_arrays_stay(tmp_path: Path) -> None:
    run = Run.create(tmp_path / "r", probe_every=1, heartbeat=False)
    run.log_arrays(1, {"x": np.ones(3)})
    run.flush()
    write = run.writer.log_arrays

    def full_disk(step: int, epoch: int, arrays: dict) -> str:
        if step == 2:
            raise OSError(28, "No space left on device")
        return write(step, epoch, arrays)

    run.writer.log_arrays = full_disk  # type: ignore[method-assign]
    run.log_arrays(2, {"x": np.zeros(3)})
    run.flush(raise_errors=False)  # on the way out of another failure: waits, keeps the error
    with pytest.raises(OSError, match="No space"):
        run.log_arrays(3, {"x": np.zeros(3)})
    run.log_arrays(3, {"x": np.full(3, 3.0)})  # reported once; the loop may go on
    run.finish()
    with RunReader(tmp_path / "r") as r:
        assert r.array_steps("probe") == [1, 3]
        assert r.arrays(1, "probe")["x"].tolist() == [1.0, 1.0, 1.0]


def test_a_slow_disk_holds_the_loop_back_instead_of_queueing_arrays(tmp_path: Path) -> None:
    run = Run.create(tmp_path / "r", probe_every=1, heartbeat=False)
    write = run.writer.log_arrays
    most = [0]

    def slow(step: int, epoch: int, arrays: dict) -> str:
        most[0] = max(most[0], len(run._pending))
        time.sleep(0.05)
        return write(step, epoch, arrays)

    run.writer.log_arrays = slow  # type: ignore[method-assign]
    for step in range(1, 9):
        run.log_arrays(step, {"x": np.full(1000, step)})
        assert len(run._pending) <= runlog.MAX_PENDING_WRITES
    run.finish()
    assert 1 <= most[0] <= runlog.MAX_PENDING_WRITES
    with RunReader(tmp_path / "r") as r:
        assert r.array_steps("probe") == list(range(1, 9))
        assert r.arrays(8, "probe")["x"][0] == 8
