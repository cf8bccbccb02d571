"""core.launcher: validation before launch, one run at a time, faults, and the control channel."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest

from core import launcher
from core.config import load_config
from core.errors import ConfigError, DataError, TAAFError
from core.store import RunReader, RunWriter
from tests.support import TAAF_CONFIG, make_run, wait_until

CONFIG = TAAF_CONFIG


@pytest.fixture()
def fake_spawn(monkeypatch: pytest.MonkeyPatch):
    """Replace the trainer by a process that only sleeps; records the arguments it was given."""
    calls: list[tuple[list[str], subprocess.Popen]] = []

    def spawn(args: list[str], log_path: Path) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        calls.append((args, p))
        return p

    monkeypatch.setattr(launcher, "_spawn", spawn)
    yield calls
    for _, p in calls:
        p.kill()
        p.wait()


@pytest.mark.integration
def test_start_writes_resolved_config_log_and_launch_marker(tmp_path: Path, fake_spawn: list) -> None:
    over = {"strategy.name": "concat", "model.T": 6, "data.avdigits.preset": "clean",
            "data.avdigits.degrade": {"occlusion": 2, "audio_snr_db": "off"}}
    run = launcher.start_run(tmp_path / "runs", CONFIG, over)
    assert run.parent == (tmp_path / "runs").resolve() and run.name.startswith("concat-clean-s0-")
    cfg = load_config(run / "launch.toml")  # what the trainer gets parses and validates
    assert cfg["model"]["T"] == 6 and cfg["strategy"]["name"] == "concat" and cfg["record"]["progress"] is False
    # the table replaces the config file's degrade knobs (visual_noise = 6 there) instead of merging into them;
    # every knob is written out (launcher.resolve_launch), so the CLI and Start write the same config
    assert cfg["data"]["avdigits"]["degrade"] == {"audio_window": 0, "audio_snr_db": "off", "audio_dropout": 0.0,
                                                  "visual_noise": 0.0, "occlusion": 2, "visual_dropout": 0.0}
    args, proc = fake_spawn[0]
    assert args == ["--config", str(run / "launch.toml"), "--run-dir", str(run)]
    assert "python -m core.train --config" in (run / "train.log").read_text()
    assert launcher.launch_info(run)["pid"] == proc.pid
    assert launcher.run_state(run)["status"] == "starting"
    assert launcher.active_run(tmp_path / "runs") == run


@pytest.mark.integration
@pytest.mark.parametrize("over, err, text", [
    ({"model.T": 0}, ConfigError, "model.T"),
    ({"strategy.name": "magic"}, ConfigError, "strategy.name"),
    ({"data.avdigits.degrade": {"occlusion": 999}}, ConfigError, "occlusion"),
    ({"data.avdigits.degrade": {"loudness": 1}}, ConfigError, "loudness"),
    ({"data.path": "/nonexistent/av.npz"}, DataError, "/nonexistent/av.npz"),
])
def test_bad_settings_are_refused_before_launch(tmp_path: Path, fake_spawn: list, over: dict, err: type,
                                                text: str) -> None:
    with pytest.raises(err, match=text):
        launcher.start_run(tmp_path / "runs", CONFIG, over)
    assert not fake_spawn and not list((tmp_path / "runs").glob("*/train.log"))


@pytest.mark.integration
def test_second_start_is_refused_while_one_runs(tmp_path: Path, fake_spawn: list) -> None:
    first = launcher.start_run(tmp_path / "runs", CONFIG)
    with pytest.raises(TAAFError, match=first.name):
        launcher.start_run(tmp_path / "runs", CONFIG)
    assert len(fake_spawn) == 1


@pytest.mark.integration
def test_simultaneous_starts_launch_exactly_one(tmp_path: Path, fake_spawn: list) -> None:
    results: list[object] = []

    def press() -> None:
        try:
            results.append(launcher.start_run(tmp_path / "runs", CONFIG))
        except TAAFError as e:
            results.append(e)

    threads = [threading.Thread(target=press) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fake_spawn) == 1
    assert sum(isinstance(r, Path) for r in results) == 1


@pytest.mark.integration
def test_trainer_that_dies_before_its_store_is_failed_and_does_not_block(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launcher, "_spawn", lambda args, log: subprocess.Popen([sys.executable, "-c", "pass"]))
    run = launcher.start_run(tmp_path / "runs", CONFIG)
    wait_until(lambda: launcher.run_state(run)["status"] != "starting", "the start to fail", timeout=10)
    assert launcher.run_state(run)["status"] == "failed"
    assert launcher.active_run(tmp_path / "runs") is None


def test_active_run_ignores_finished_stale_and_corrupt(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_run(runs / "done")
    make_run(runs / "stale", status="running")  # pid = this process, but heartbeat long ago? make it dead:
    import sqlite3

    con = sqlite3.connect(runs / "stale" / "store.sqlite")
    con.execute("UPDATE status SET pid = 2147483000")
    con.commit()
    con.close()
    (runs / "junk").mkdir()
    (runs / "junk" / "store.sqlite").write_text("garbage")
    assert launcher.active_run(runs) is None
    make_run(runs / "live", status="running")  # written by this (alive) process just now
    assert launcher.active_run(runs) == runs / "live"


def test_pause_resume_stop_reach_the_trainer(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", status="running")
    launcher.pause(run)
    launcher.resume(run)
    launcher.stop(run)
    w = RunWriter.open(run)
    assert [w.poll_command() for _ in range(4)] == ["pause", "resume", "stop", None]
    w.close()


@pytest.mark.integration
def test_resume_interrupted_spawns_resume_and_refuses_finished(tmp_path: Path, fake_spawn: list) -> None:
    runs = tmp_path / "runs"
    run = make_run(runs / "r", status="interrupted")
    launcher.resume_interrupted(run)
    args, _ = fake_spawn[0]
    assert args == ["--resume", str(run.resolve())]
    assert "--resume" in (run / "train.log").read_text()
    assert launcher.run_state(run)["status"] == "starting"  # a double click cannot resume twice
    with pytest.raises(TAAFError):
        launcher.resume_interrupted(run)
    with pytest.raises(TAAFError, match="finished"):
        launcher.resume_interrupted(make_run(tmp_path / "other" / "f"))


@pytest.mark.integration
def test_real_trainer_starts_detached_and_stops_on_command(tmp_path: Path) -> None:
    run = launcher.start_run(tmp_path / "runs", CONFIG, {"train.epochs": 50, "train.threads": 1,
                                                        "record.shapley": False})
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            if (run / "store.sqlite").exists() and RunReader(run).last_step() >= 0:
                break
            assert launcher.run_state(run)["status"] in ("starting", "running"), (run / "train.log").read_text()
            time.sleep(0.2)
        assert RunReader(run).status()["status"] == "running"
        # the trainer yields the CPU to the studio, and so does every thread it started (torch's included)
        pid = launcher.launch_info(run)["pid"]
        threads = list(Path(f"/proc/{pid}/task").iterdir())
        assert {os.getpriority(os.PRIO_PROCESS, int(t.name)) for t in threads} == {launcher.trainer_niceness()}
        assert launcher.trainer_niceness() > os.getpriority(os.PRIO_PROCESS, 0)
        launcher.stop(run)
        while time.time() < deadline and RunReader(run).status()["status"] == "running":
            time.sleep(0.2)
        assert RunReader(run).status()["status"] == "stopped", (run / "train.log").read_text()[-2000:]
        assert launcher.active_run(tmp_path / "runs") is None
    finally:
        info = launcher.launch_info(run)
        if info and launcher.pid_alive(info["pid"]):
            os.kill(info["pid"], signal.SIGKILL)


@pytest.mark.integration
def test_launch_toml_round_trips(tmp_path: Path, fake_spawn: list) -> None:
    run = launcher.start_run(tmp_path / "runs", CONFIG, {"optim.lr": 0.0005})
    assert tomllib.loads((run / "launch.toml").read_text())["optim"]["lr"] == 0.0005


@pytest.mark.integration
def test_a_launched_run_leaves_the_page_a_core(tmp_path: Path, fake_spawn: list) -> None:
    # Torch's own choice (0) becomes one thread fewer than the machine has, written into the run's config;
    # a config that names its threads keeps them.
    assert [launcher.launched_threads(n) for n in (1, 2, 8)] == [1, 1, 7]
    run = launcher.start_run(tmp_path / "runs", CONFIG, {"train.threads": 0})
    assert tomllib.loads((run / "launch.toml").read_text())["train"]["threads"] == launcher.launched_threads()
    run = launcher.start_run(tmp_path / "runs2", CONFIG, {"train.threads": 2})
    assert tomllib.loads((run / "launch.toml").read_text())["train"]["threads"] == 2
