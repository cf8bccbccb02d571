"""Two trainers never write one run, and a store locked for a while never fails a run (issue 20): on this host a
run is live while its writer process is (however old its heartbeat, whatever the clock does), a reused pid is
not the writer, heartbeats go on while no steps run, and writes wait out another process's lock."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import make_run

from core import launcher, runlog, telemetry
from core.errors import StoreError, TAAFError
from core.store import RunReader, RunWriter, common

ROOT = Path(__file__).resolve().parents[1]
WRITER = ("import sys, time\nfrom core.store import RunWriter\nw = RunWriter.create(sys.argv[1], {})\n"
          "print('ready', flush=True)\ntime.sleep(120)\n")


def tamper(run: Path, sql: str, params: tuple = ()) -> None:
    conn = sqlite3.connect(run / "store.sqlite")
    conn.execute(sql, params)
    conn.commit()
    conn.close()


@pytest.fixture
def stopped_trainer(tmp_path: Path):
    """A run whose writer process is alive but SIGSTOPped, its last heartbeat 1000 s ago."""
    run = tmp_path / "runs" / "live"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(run)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        os.kill(proc.pid, signal.SIGSTOP)
        tamper(run, "UPDATE status SET updated = ?", (time.time() - 1000,))
        yield run, proc
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.kill()
        proc.wait()


def test_a_stopped_trainer_is_not_stale_and_cannot_be_resumed_over(stopped_trainer, monkeypatch) -> None:
    run, proc = stopped_trainer
    assert not RunReader(run).status()["stale"]
    assert not RunReader(run, stale_after=1).status()["stale"]
    with pytest.raises(StoreError, match=f"still running \\(pid {proc.pid}"):
        RunWriter.open(run)  # the trainer's own --resume
    spawned = []
    monkeypatch.setattr(launcher, "_spawn", lambda *a: spawned.append(a))
    with pytest.raises(TAAFError, match="running: nothing to resume"):
        launcher.resume_interrupted(run)  # the studio's Resume
    assert spawned == [] and launcher.active_run(run.parent) == run
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 10**6)  # the clock jumps forward eleven days
    assert not RunReader(run).status()["stale"]
    with pytest.raises(StoreError, match="still running"):
        RunWriter.open(run)


@pytest.mark.integration  # starts a process whose pid is then reused
def test_a_reused_pid_is_not_the_writer(tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs" / "r", status="running")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        start = common.process_start_ticks(sleeper.pid)
        assert isinstance(start, int)
        tamper(run, "UPDATE status SET pid = ?", (sleeper.pid,))
        tamper(run, "INSERT OR REPLACE INTO meta VALUES ('writer', ?)", (json.dumps({"pid": sleeper.pid,
                                                                                     "start": start}),))
        assert not RunReader(run).status()["stale"]
        tamper(run, "INSERT OR REPLACE INTO meta VALUES ('writer', ?)", (json.dumps({"pid": sleeper.pid,
                                                                                     "start": start - 1}),))
        assert RunReader(run).status()["stale"]  # the pid now belongs to a process started later: not the writer
        RunWriter.open(run).close()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_heartbeats_go_on_while_no_steps_run(tmp_path: Path, monkeypatch) -> None:
    """Validation, Shapley values and the final test run no steps; the heartbeat thread beats through them."""
    monkeypatch.setattr(runlog, "HEARTBEAT_S", 0.05)  # the recorder's heartbeat, which the trainer's is
    run = tmp_path / "runs" / "r"
    t = telemetry.Telemetry.open(run, {"record": {"every_steps": 5}}, False, True)
    try:
        first = RunReader(run).status()["updated"]
        time.sleep(0.5)  # a "validation" without a single step
        assert RunReader(run).status()["updated"] > first + 0.2
    finally:
        t.shutdown()
        t.writer.close()
    assert not t.run._beat_thread.is_alive()


def test_writes_wait_out_a_lock_held_past_the_busy_timeout(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(common, "BUSY_MS", 300)
    run = tmp_path / "runs" / "r"
    w = RunWriter.create(run, {})
    held = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(run / "store.sqlite", isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(1.5)  # five busy timeouts
        conn.execute("COMMIT")
        conn.close()

    other = threading.Thread(target=hold)
    other.start()
    held.wait()
    t0 = time.monotonic()
    w.log_scalars(1, 0, {"loss": 1.0})
    w.heartbeat()
    waited = time.monotonic() - t0
    other.join()
    w.close()
    assert waited >= 1.0
    assert RunReader(run).scalars()["loss"].tolist() == [1.0]
    err = capsys.readouterr().err
    assert err.count("is locked by another process") == 1 and "was locked for 1." in err


def test_a_failed_run_can_be_continued(tmp_path: Path, monkeypatch) -> None:
    run = make_run(tmp_path / "runs" / "f", status="failed", error="OperationalError: database is locked")
    (run / "checkpoints" / "last.pt").write_bytes(b"x")
    spawned = []

    class Proc:
        pid = 4242

    monkeypatch.setattr(launcher, "_spawn", lambda args, log: spawned.append(args) or Proc())
    assert launcher.resume_interrupted(run) == 4242
    assert spawned == [["--resume", str(run.resolve())]]
