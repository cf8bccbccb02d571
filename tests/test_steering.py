"""Steering a live run (core/steering.py, core/steering_apply.py): what may change, what is refused with nothing
written, when a change applies, its event, and a steered run resumed ending bit-identical to one never
interrupted."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from core import steering
from core.config import load_config
from core.config import parse_value as parse_config_value
from core.steering import SteerError, events_frame, parse_assignment, parse_value, request
from core.steering_apply import Steering
from core.store import RunReader
from core.telemetry import Telemetry
from core.training_loop import train
from tests.support import AVDIGITS_NPZ, ROOT, TAAF_CONFIG, TINY, make_run, wait_until


def _control_rows(run: Path) -> int:
    with sqlite3.connect(run / "store.sqlite") as conn:
        return conn.execute("SELECT COUNT(*) FROM control").fetchone()[0]


@pytest.mark.unit
@pytest.mark.parametrize("text, why", [
    ("optim.lr=0", "optim.lr = 0.0: expected a number > 0"),
    ("optim.lr=abc", "optim.lr = 'abc'"),
    ("strategy.beta=-1", "strategy.beta = -1.0"),
    ("corrupt.drop_visual=2.5", "corrupt.drop_visual = 2.5: expected an integer"),
    ("model.T=8", "model.T: not a steerable setting"),
    ("optim.lr", "expected KEY=VALUE"),
])
def test_a_bad_setting_is_refused_in_one_line_naming_it(text, why):
    with pytest.raises(SteerError) as e:
        parse_assignment(text)
    assert why in str(e.value) and "\n" not in str(e.value)


@pytest.mark.unit
def test_values_parse_from_text():
    assert parse_assignment("optim.lr=0.001") == ("optim.lr", 0.001)
    assert parse_value("strategy.balance", "off") is False
    assert parse_value("corrupt.audio_snr_db", "off") == math.inf
    assert parse_value("corrupt.drop_audio", "30") == 30


@pytest.mark.unit
def test_a_run_that_is_not_alive_or_a_bad_value_writes_nothing(tmp_path):
    run = make_run(tmp_path / "done", status="finished")
    before = _control_rows(run)
    with pytest.raises(SteerError, match="done: run is finished, not alive"):
        request(run, "optim.lr", 0.001)
    live = make_run(tmp_path / "live", status="running")  # written by this (alive) process
    with pytest.raises(SteerError, match="optim.lr = 5000"):
        request(live, "optim.lr", 5000)
    with pytest.raises(SteerError, match="no.such: not a steerable"):
        request(live, "no.such", 1)
    assert _control_rows(run) == before and _control_rows(live) == 0
    request(live, "strategy.beta", 2.0)  # the synthetic run is a taaf run: beta is its setting
    assert _control_rows(live) == 1


@pytest.mark.unit
def test_corruption_is_deterministic_per_step_and_drops_last_n_steps():
    cfg = {"train": {"seed": 3}, "strategy": {"name": "concat", "beta": 1.0}, "optim": {"lr": 0.1}}
    s = Steering(cfg, strategy=None)
    audio, visual = torch.randn(4, 8, 8), torch.rand(4, 1, 8, 8)
    assert s.corrupt(1, audio, visual)[0] is audio  # nothing set: the batch untouched
    s.set("corrupt.visual_noise", 0.5, 0)
    s.set("corrupt.audio_snr_db", 0.0, 0)
    a1, v1 = s.corrupt(5, audio, visual)
    a2, v2 = s.corrupt(5, audio, visual)
    assert torch.equal(a1, a2) and torch.equal(v1, v2) and not torch.equal(v1, visual)
    assert not torch.equal(s.corrupt(6, audio, visual)[1], v1)  # another step, other noise
    assert s.dropped(10) == ()
    s.set("corrupt.drop_visual", 2, 10)  # steps 11 and 12 run with the visual encoder muted (test_steering_drop)
    assert s.dropped(11) == s.dropped(12) == ("v",) and s.dropped(13) == ()
    assert s.current("corrupt.drop_visual", 11) == 1


# ---- in a real (tiny) training run ------------------------------------------------------------------------------

def _steer_during(monkeypatch, run: Path, plan: dict[int, list[tuple[str, object]]], crash_after: int | None = None):
    """Send `plan[step]` settings through the store right after `step` is logged (as the studio would), and
    optionally end the run like a kill after step `crash_after`."""
    original = Telemetry.after_step

    def after_step(self, step, epoch, scalars, probe):
        original(self, step, epoch, scalars, probe)
        for key, value in plan.get(step, []):
            request(run, key, value, source="test")
        if step == crash_after:
            raise KeyboardInterrupt

    monkeypatch.setattr(Telemetry, "after_step", after_step)


@pytest.mark.integration
def test_an_lr_change_at_step_k_shows_from_step_k_plus_1_and_is_an_event(tmp_path, monkeypatch):
    run, k = tmp_path / "run", 3
    cfg = load_config(TAAF_CONFIG, [*TINY, "train.epochs=1", "record.checkpoint=false"])
    _steer_during(monkeypatch, run, {k: [("optim.lr", 0.0005)]})
    train(cfg, run)
    lr = RunReader(run).scalars("step").set_index("step")["lr_f"]
    assert (lr.loc[:k] == 0.003).all() and (lr.loc[k + 1:] == 0.0005).all()
    ev = events_frame(RunReader(run).events())
    assert ev[["step", "key", "old", "new", "source"]].to_dict("records") == [
        {"step": k, "key": "optim.lr", "old": 0.003, "new": 0.0005, "source": "test"}]
    assert cfg["optim"]["lr"] == 0.003  # the caller's config is not the one steered


PLAN = {2: [("optim.lr", 0.001), ("corrupt.visual_noise", 0.2)], 4: [("strategy.beta", 3.0)]}
LATE = ("corrupt.drop_visual", 3)  # sent after the first epoch's checkpoint, before the crash


@pytest.mark.integration
def test_a_steered_run_interrupted_and_resumed_ends_bit_identical(tmp_path, monkeypatch):
    cfg = load_config(TAAF_CONFIG, TINY)
    per_epoch = math.ceil(int((np.load(AVDIGITS_NPZ)["split"] == 0).sum()) / cfg["data"]["batch_size"])
    late, crash = per_epoch + 1, per_epoch + 3
    plan = {**PLAN, late: [LATE]}
    with monkeypatch.context() as mp:
        _steer_during(mp, straight := tmp_path / "straight", plan)
        train(cfg, straight)
    with monkeypatch.context() as mp:
        _steer_during(mp, broken := tmp_path / "broken", plan, crash_after=crash)
        with pytest.raises(KeyboardInterrupt):
            train(cfg, broken)
    train(load_config(TAAF_CONFIG, TINY), broken, resume=True)  # no steering now: the store's events replay
    for name in ("best.pt", "last.pt"):
        ta = torch.load(straight / "checkpoints" / name, weights_only=True)["model"]
        tb = torch.load(broken / "checkpoints" / name, weights_only=True)["model"]
        assert all(torch.equal(ta[key], tb[key]) for key in ta), name
    ra, rb = RunReader(straight), RunReader(broken)
    for col in ("loss", "lr_f", "gnorm_v"):
        assert ra.scalars("step")[col].tolist() == rb.scalars("step")[col].tolist(), col
    assert ra.meta()["test"] == rb.meta()["test"]
    steps = events_frame(rb.events())[["step", "key"]].values.tolist()
    assert steps == [[2, "optim.lr"], [2, "corrupt.visual_noise"], [4, "strategy.beta"], [late, LATE[0]]]


@pytest.mark.unit
def test_every_steerable_key_is_documented():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "steering.md").read_text()
    missing = [k for k in steering.STEERABLE if f"`{k}`" not in doc]
    assert not missing, missing



@pytest.mark.unit
def test_the_cli_sends_what_the_buttons_send_and_refuses_in_one_line(tmp_path, capsys):
    from core.control import main

    live = make_run(tmp_path / "live", status="running")
    assert main([str(live), "set", "optim.lr=0.001", "corrupt.drop_visual=5"]) == 0
    assert main([str(live), "pause"]) == 0
    with sqlite3.connect(live / "store.sqlite") as conn:
        rows = [r[0] for r in conn.execute("SELECT command FROM control ORDER BY id")]
    assert rows[2] == "pause" and [steering.decode_setting(r[4:])["key"] for r in rows[:2]] == [
        "optim.lr", "corrupt.drop_visual"]
    done = make_run(tmp_path / "done", status="finished")
    assert main([str(done), "set", "optim.lr=0.001"]) == 2
    assert main([str(live), "set", "optim.lr=0.001", "optim.lr=-1"]) == 2  # one bad: none sent
    assert main([str(done), "stop"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: done: run is finished, not alive: only a running or paused run can be steered",
                   "error: optim.lr = -1.0: expected a number > 0 and <= 1000 (base learning rate of every group "
                   "(the schedule scales it))", "error: done: run is finished, not alive: nothing to stop"]
    assert _control_rows(done) == 0 and _control_rows(live) == 3


def _control(run: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.control", str(run), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.integration
def test_the_cli_steers_pauses_and_stops_a_real_trainer(tmp_path):
    from core import launcher

    over = {k: parse_config_value(v) for k, _, v in (item.partition("=") for item in TINY)}
    run = launcher.start_run(tmp_path / "runs", TAAF_CONFIG, {**over, "train.epochs": 200})
    try:
        wait_until(lambda: launcher.run_state(run)["status"] == "running", "the trainer to run", 120, poll=0.2)
        done = _control(run, "set", "optim.lr=0.0007")
        assert done.returncode == 0 and "applies at its next step boundary" in done.stdout, done.stderr
        (ev,) = wait_until(lambda: [e] if len(e := events_frame(RunReader(run).events())) else None, "the event", 60)
        step = int(ev["step"].iloc[0])
        (lr,) = wait_until(lambda: [s] if (s := RunReader(run).scalars("step"))["step"].max() > step + 1 else None,
                           "steps after the event", 60)
        assert set(lr.loc[lr["step"] > step, "lr_f"]) == {0.0007}
        assert (lr.loc[lr["step"] <= step, "lr_f"] == 0.003).all()
        assert _control(run, "pause").returncode == 0
        wait_until(lambda: RunReader(run).status()["status"] == "paused", "the pause", 60, poll=0.2)
        assert _control(run, "set", "corrupt.drop_visual=10").returncode == 0
        time.sleep(1.0)  # paused: the setting waits for the next step boundary
        assert len(events_frame(RunReader(run).events())) == 1
        assert _control(run, "resume").returncode == 0
        wait_until(lambda: len(events_frame(RunReader(run).events())) == 2, "the setting applied on resume", 60)
        bad = _control(run, "set", "optim.lr=-3")
        assert bad.returncode == 2 and bad.stderr.startswith("error: optim.lr = -3.0")
        assert _control(run, "stop").returncode == 0
        wait_until(lambda: RunReader(run).status()["status"] == "stopped", "the stop", 60, poll=0.2)
        assert _control(run, "set", "optim.lr=0.001").returncode == 2  # not alive any more
    finally:
        info = launcher.launch_info(run)
        if info and launcher.pid_alive(info["pid"]):
            os.kill(info["pid"], signal.SIGKILL)
