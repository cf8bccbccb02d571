"""Run store: round trips, the wide frame, errors, read-only folders, staleness and the control channel."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import RunExistsError, StoreError, TAAFError
from core.store import CommandError, RunReader, RunWriter, list_runs, send_command


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A small finished-looking run with steps 0..9, one epoch row, two probe records and meta."""
    d = tmp_path / "runs" / "r1"
    with RunWriter.create(d, {"strategy": {"name": "taaf"}, "train": {"seed": 3}}) as w:
        for s in range(10):
            w.log_scalars(s, s // 5, {"loss": 1.0 / (s + 1), "acc_f": s / 10, "rate/a.lif1": 0.25})
        w.log_scalars(9, 1, {"val_acc_f": 0.75, "val_loss": 0.5}, scope="epoch")
        for s in (4, 9):
            w.log_arrays(s, s // 5, {"spikes/a.lif1": np.full((2, 3, 4), s, np.uint8),
                                     "membrane/a.lif1": np.linspace(0, 1, 24, dtype=np.float16).reshape(2, 3, 4),
                                     "alpha": np.ones((2, 3, 4), np.float32), "labels": np.arange(2)})
        w.set_meta("strategy", "taaf")
        w.set_meta("class_names", [str(i) for i in range(10)])
        w.set_meta("T", np.int64(4))  # numpy scalars must be JSON-able
        w.log_event("info", "started")
        w.set_status("finished")
    return d


def test_round_trip(run: Path) -> None:
    r = RunReader(run)
    assert r.config() == {"strategy": {"name": "taaf"}, "train": {"seed": 3}}
    meta = r.meta()
    assert meta["strategy"] == "taaf" and meta["T"] == 4 and meta["class_names"][9] == "9"
    assert meta["schema_version"] == 1
    st = r.status()
    assert st["status"] == "finished" and st["pid"] == os.getpid() and not st["stale"]
    assert r.last_step() == 9
    assert r.array_steps("probe") == [4, 9] and r.array_steps("other") == []
    assert r.array_steps("probe", since_step=4) == [9] and r.array_steps("probe", since_step=9) == []
    assert r.array_steps("probe", upto=8) == [4] and r.array_steps("probe", since_step=3, upto=4) == [4]
    a = r.arrays(9)
    assert set(a) == {"spikes/a.lif1", "membrane/a.lif1", "alpha", "labels"}  # '/' in keys round-trips
    assert a["spikes/a.lif1"].dtype == np.uint8 and a["spikes/a.lif1"].max() == 9
    assert a["membrane/a.lif1"].dtype == np.float16 and a["labels"].dtype == np.int64
    only = r.arrays(9, keys=["alpha", "absent"])
    assert set(only) == {"alpha"} and np.array_equal(only["alpha"], a["alpha"])
    with pytest.raises(StoreError, match="no 'probe' arrays at step 5"):
        r.arrays(5)
    ev = r.events()
    assert list(ev.columns) == ["id", "time", "kind", "message"] and ev["message"].tolist() == ["started"]
    assert not any(p.name.endswith(".tmp") for p in (run / "arrays").iterdir())


def test_log_tail(run: Path) -> None:
    r = RunReader(run)
    assert r.log_tail(5) == ""
    (run / "train.log").write_text("".join(f"line {i}\n" for i in range(100_000)))
    assert r.log_tail(3) == "line 99997\nline 99998\nline 99999"
    assert r.log_tail(0) == ""


def test_wide_frame(run: Path) -> None:
    r = RunReader(run)
    df = r.scalars("step")
    assert list(df.columns) == ["step", "epoch", "time", "acc_f", "loss", "rate/a.lif1"]
    assert df["step"].tolist() == list(range(10)) and df["epoch"].tolist() == [0] * 5 + [1] * 5
    assert np.allclose(df["loss"], [1.0 / (s + 1) for s in range(10)])
    assert r.scalars("step", since_step=7)["step"].tolist() == [8, 9]
    ep = r.scalars("epoch")
    assert ep["step"].tolist() == [9] and ep["val_acc_f"].iloc[0] == 0.75
    sub = r.scalars("step", keys=["loss", "nope"])
    assert list(sub.columns) == ["step", "epoch", "time", "loss", "nope"] and sub["nope"].isna().all()
    empty = r.scalars("step", since_step=100)
    assert len(empty) == 0 and list(empty.columns[:3]) == ["step", "epoch", "time"]


def test_irregular_keys_and_relog(tmp_path: Path) -> None:
    with RunWriter.create(tmp_path / "r", {}) as w:
        w.log_scalars(0, 0, {"a": 1.0, "b": 2.0})
        w.log_scalars(1, 0, {"a": 3.0})  # 'b' missing at step 1
        w.log_scalars(2, 0, {"b": 4.0, "c": 5.0})
        w.log_scalars(2, 0, {"a": 6.0})  # a second call for the same step adds keys
        w.log_scalars(0, 0, {"a": 7.0})  # re-logging (after a resume) replaces the value
    df = RunReader(tmp_path / "r").scalars()
    expect = pd.DataFrame({"a": [7.0, 3.0, 6.0], "b": [2.0, np.nan, 4.0], "c": [np.nan, np.nan, 5.0]})
    pd.testing.assert_frame_equal(df[["a", "b", "c"]], expect)


def test_non_finite_become_nan(tmp_path: Path) -> None:
    with RunWriter.create(tmp_path / "r", {}) as w:
        w.log_scalars(0, 0, {"x": float("nan"), "y": float("inf"), "z": -np.inf, "w": np.float32(2.5), "b": True})
        with pytest.raises(StoreError, match="'s' = 'abc' is not a number"):
            w.log_scalars(1, 0, {"s": "abc"})
        with pytest.raises(ValueError, match="reserved"):
            w.log_scalars(1, 0, {"time": 1.0})
    row = RunReader(tmp_path / "r").scalars().iloc[0]
    assert np.isnan(row["x"]) and np.isnan(row["y"]) and np.isnan(row["z"])
    assert row["w"] == 2.5 and row["b"] == 1.0


def test_run_exists(run: Path, tmp_path: Path) -> None:
    with pytest.raises(RunExistsError) as e:
        RunWriter.create(run, {})
    assert str(run) in str(e.value) and "\n" not in str(e.value)
    half = tmp_path / "deep" / "half"  # parents are created; a config-only (half-created) dir is reusable
    half.mkdir(parents=True)
    (half / "config.json").write_text("{}")
    RunWriter.create(half, {"a": 1}).close()
    assert RunReader(half).config() == {"a": 1}


def test_missing_and_corrupt(tmp_path: Path) -> None:
    d = tmp_path / "runs" / "x"
    d.mkdir(parents=True)
    with pytest.raises(StoreError, match=r"x: no run store \(store.sqlite missing\)"):
        RunReader(d)
    with pytest.raises(StoreError, match="store.sqlite missing"):
        RunWriter.open(d)
    (d / "store.sqlite").write_bytes(b"garbage, not sqlite " * 500)
    for opener in (RunReader, RunWriter.open, lambda p: send_command(p, "stop")):
        with pytest.raises(StoreError) as e:
            opener(d)
        assert "\n" not in str(e.value) and str(d) in str(e.value)
    sqlite3.connect(d.parent / "y.sqlite").close()  # a valid SQLite file that is not a run store
    (d.parent / "y").mkdir()
    shutil.move(d.parent / "y.sqlite", d.parent / "y" / "store.sqlite")
    with pytest.raises(StoreError, match="corrupt or not a run store"):
        RunReader(d.parent / "y")


def test_list_runs(run: Path, tmp_path: Path) -> None:
    runs = run.parent
    (runs / "bad").mkdir()
    (runs / "bad" / "store.sqlite").write_bytes(b"\0" * 4096)
    (runs / "half").mkdir()
    (runs / "half" / "config.json").write_text("{}")
    (runs / "not_a_run").mkdir()
    df = list_runs(runs)
    assert df["name"].tolist() == ["bad", "half", "r1"]
    r1 = df.set_index("name").loc["r1"]
    assert (r1["status"], r1["strategy"], r1["seed"], r1["steps"], r1["last_val_acc_f"], r1["problem"]) == \
        ("finished", "taaf", 3, 9, 0.75, "")  # the highest step (the trainer numbers from 1)
    assert df.set_index("name").loc["bad", "problem"] != ""
    assert "store.sqlite missing" in df.set_index("name").loc["half", "problem"]
    assert len(list_runs(tmp_path / "nowhere")) == 0


def test_read_only_folder(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ro = tmp_path / "synced"
    shutil.copytree(run, ro)
    for p in (ro, ro / "arrays"):
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        r = RunReader(ro)  # as root chmod does not stop writes, so auto may pick either mode
        assert r.immutable == (not os.access(ro, os.W_OK))
        assert len(r.scalars()) == 10 and r.arrays(4)["spikes/a.lif1"].max() == 4
        imm = RunReader(ro, immutable=True)  # the fallback path, forced
        assert imm.immutable and len(imm.scalars()) == 10 and imm.meta()["strategy"] == "taaf"
        assert imm.status()["status"] == "finished"
        real_open = RunReader._open

        def refuse_wal(self: RunReader, db: Path, immutable: bool) -> sqlite3.Connection:
            if not immutable:  # what SQLite says when it cannot create store.sqlite-shm
                raise sqlite3.OperationalError("attempt to write a readonly database")
            return real_open(self, db, immutable)

        monkeypatch.setattr(RunReader, "_open", refuse_wal)
        fb = RunReader(ro)
        assert fb.immutable and fb.last_step() == 9
    finally:
        for p in (ro, ro / "arrays"):
            p.chmod(p.stat().st_mode | stat.S_IWUSR)


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _force_status(run_dir: Path, status: str, pid: int, host: str, updated: float) -> None:
    with sqlite3.connect(run_dir / "store.sqlite") as c:
        c.execute("UPDATE status SET status = ?, pid = ?, host = ?, updated = ?", (status, pid, host, updated))


@pytest.mark.integration
def test_stale_detection(run: Path) -> None:
    host = socket.gethostname()
    _force_status(run, "running", _dead_pid(), host, time.time())
    assert RunReader(run).status()["stale"]
    assert list_runs(run.parent).set_index("name").loc["r1", "status"] == "interrupted"
    RunWriter.open(run).close()  # a stale run may be resumed
    _force_status(run, "paused", os.getpid(), host, time.time() - 120)  # live pid, old heartbeat: this host decides
    assert not RunReader(run).status()["stale"]  # by the process (issue 20: a stopped trainer is not gone)
    _force_status(run, "paused", os.getpid(), "other-host", time.time() - 120)  # another host: by the heartbeat
    assert RunReader(run).status()["stale"] and not RunReader(run, stale_after=600).status()["stale"]
    _force_status(run, "running", 999_999_999, "other-host", time.time())  # pid unknowable on another host
    assert not RunReader(run).status()["stale"]
    _force_status(run, "finished", _dead_pid(), host, 0.0)
    assert not RunReader(run).status()["stale"]
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _force_status(run, "running", sleeper.pid, host, time.time())
        assert not RunReader(run).status()["stale"]
        with pytest.raises(StoreError, match=f"still running \\(pid {sleeper.pid}"):
            RunWriter.open(run)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_control_channel(run: Path) -> None:
    w = RunWriter.open(run)
    assert w.poll_command() is None
    ids = [send_command(run, c) for c in ("pause", "resume", "stop")]
    assert ids == sorted(ids)
    assert [w.poll_command() for _ in range(4)] == ["pause", "resume", "stop", None]
    with pytest.raises(CommandError) as e:
        send_command(run, "explode")
    assert isinstance(e.value, TAAFError) and isinstance(e.value, ValueError)
    with pytest.raises(StoreError, match="store.sqlite missing"):
        send_command(run.parent / "nope", "stop")
    w.close()
    with pytest.raises(StoreError, match="closed"):
        w.heartbeat()
