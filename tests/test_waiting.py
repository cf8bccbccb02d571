"""studio/charts/waiting.py: what an empty panel says about when it will fill."""

from __future__ import annotations

import pandas as pd
import pytest

from studio.charts.waiting import about, fills_when, note_for, recent_step_time
from tests.support import make_run


def test_epoch_panels_count_down_to_the_end_of_the_first_epoch() -> None:
    s = fills_when("imb", steps_done=30, steps_per_epoch=100, step_time_s=0.5, every_steps=20)
    assert s == "Fills after the first epoch: 70 more training steps, about 40 s, then validation."
    assert "validation is running" in fills_when("shapley", 100, 100, 0.5, 20)
    assert fills_when("energy", 130, 100, 0.5, 20, epochs_done=1) is None
    assert fills_when("epochs90", 5, None, None, 20) == (
        "Fills after the first epoch, when the validation set is evaluated.")


def test_step_and_probe_panels() -> None:
    assert "second training step" in fills_when("loss", 0, 100, None, 20)
    assert fills_when("lr", 1, 100, 0.2, 20) == (
        "Fills at the next training step, a few seconds: a curve needs two steps.")
    assert fills_when("loss", 2, 100, 0.2, 20) is None
    assert "every 20 steps" in fills_when("raster", 0, 100, None, 20)  # the number, not `record.every_steps`
    assert fills_when("raster", 1, 100, None, 20) is None
    with pytest.raises(ValueError, match="panel 'nope'"):
        fills_when("nope", 0, 1, None, 1)


def test_about() -> None:
    assert [about(3), about(14.4), about(44), about(200), about(None)] == [
        "a few seconds", "about 14 s", "about 40 s", "about 3 min", ""]


def test_recent_step_time_from_a_recorded_run(tmp_path) -> None:
    from core.store import RunReader

    run = make_run(tmp_path / "r", steps=30)
    with RunReader(run) as r:
        steps = r.scalars("step")
    assert recent_step_time(steps) is None  # make_run logs no elapsed_s clock
    timed = pd.DataFrame({"step": range(1, 31), "elapsed_s": [0.25 * i for i in range(1, 31)]})
    assert recent_step_time(timed) == pytest.approx(0.25)
    assert recent_step_time(timed.head(1)) is None


def test_note_for_a_young_recorded_run(tmp_path) -> None:
    from core.store import RunReader

    run = make_run(tmp_path / "young", status="running", steps=8, steps_per_epoch=20, every=5)
    with RunReader(run) as r:
        steps, epochs, meta = r.scalars("step"), r.scalars("epoch"), r.meta()
    cfg = {"record": {"every_steps": 5}}
    assert note_for("imb", steps, epochs, meta, cfg) == (
        "Fills after the first epoch: 12 more training steps, then validation.")
    assert note_for("loss", steps, epochs, meta, cfg) is None
    done = make_run(tmp_path / "done", steps=40, steps_per_epoch=20)
    with RunReader(done) as r:
        assert note_for("imb", r.scalars("step"), r.scalars("epoch"), r.meta(), cfg) is None
