"""Starting a run from the studio page through AppTest: one launch at a time, a trainer that crashes or has not yet
written its store, runs that failed, went stale or are corrupt (the trainer replaced by small processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core import launcher
from studio.ui.runlist import run_table
from tests.support import (
    assert_renders,
    make_run,
    open_studio,
    page_text,
    wait_until,
)


@pytest.mark.integration
def test_failed_stale_and_corrupt_runs_are_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_run(runs / "a-failed", status="failed", error="RuntimeError: loss is nan at step 7")
    stale = make_run(runs / "b-stale", status="running")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import sqlite3

    con = sqlite3.connect(stale / "store.sqlite")
    con.execute("UPDATE status SET pid = ?", (dead.pid,))
    con.commit()
    con.close()
    (runs / "c-corrupt").mkdir()
    (runs / "c-corrupt" / "store.sqlite").write_bytes(b"not a database at all" * 100)
    (runs / "c-corrupt" / "config.json").write_text("{}")

    at = open_studio(monkeypatch, runs)
    for path, expect in ((runs / "a-failed", "loss is nan"), (stale, "interrupted"), (runs / "c-corrupt", "cannot")):
        at.selectbox(key="live_run").set_value(str(path)).run()
        assert_renders(at)
        assert expect in page_text(at), (path.name, page_text(at)[:500])
    at.selectbox(key="live_run").set_value(str(runs / "a-failed")).run()
    assert "Boom: synthetic" in page_text(at)  # tail of train.log
    at.selectbox(key="live_run").set_value(str(stale)).run()
    assert at.button(key="resume_int") is not None


@pytest.mark.integration
def test_start_launches_once_and_a_second_start_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    procs = []

    def fake_spawn(args: list[str], log_path: Path) -> subprocess.Popen:  # a trainer that only waits
        procs.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))
        return procs[-1]

    monkeypatch.setattr(launcher, "_spawn", fake_spawn)
    runs = tmp_path / "runs"
    try:
        at = open_studio(monkeypatch, runs)
        at.button(key="start").click().run()
        assert_renders(at)
        assert "Started" in page_text(at) and len(procs) == 1
        assert "Starting" in page_text(at)
        at.button(key="start").click().run()
        assert_renders(at)
        assert "already starting" in page_text(at) and len(procs) == 1
    finally:
        for p in procs:
            p.kill()
            p.wait()


@pytest.mark.integration
def test_trainer_crashing_at_start_shows_its_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def crashing(args: list[str], log_path: Path) -> subprocess.Popen:
        with open(log_path, "a") as log:
            return subprocess.Popen([sys.executable, "-c", "import sys; sys.exit('error: data.path: corrupt npz')"],
                                    stdout=log, stderr=log)

    monkeypatch.setattr(launcher, "_spawn", crashing)
    at = open_studio(monkeypatch, tmp_path / "runs")
    at.button(key="start").click().run()
    run = next((tmp_path / "runs").glob("*/launch.json")).parent
    info = launcher.launch_info(run)
    wait_until(lambda: not launcher.pid_alive(info["pid"]), "the crashing trainer to exit", timeout=30)
    at.run()
    assert_renders(at)
    assert "exited before creating its run store" in page_text(at) and "corrupt npz" in page_text(at)
    at.button(key="start").click().run()  # a crashed start does not block the next one
    assert_renders(at)
    assert "already" not in page_text(at)


@pytest.mark.integration
def test_started_run_stays_selected_and_starting_until_its_store_exists(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    def slow_trainer(args: list[str], log_path: Path) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    monkeypatch.setattr(launcher, "_spawn", slow_trainer)
    at = open_studio(monkeypatch, tmp_path / "runs")
    try:
        at.button(key="start").click().run()
        assert_renders(at)
        run = next((tmp_path / "runs").glob("*/launch.json")).parent
        # A new selector (new key) carries the app's choice: a stale browser value for the old one cannot undo it.
        select = [s for s in at.selectbox if (s.key or "").startswith("live_run")]
        assert [(s.key, s.value) for s in select] == [("live_run_1", str(run))]
        # The trainer has written config.json but not yet its store: still starting, not "cannot be read".
        (run / "config.json").write_text("{}")
        run_table.clear()  # the run table is cached for 2 s: read the folder again now
        at.run()
        assert_renders(at)
        assert "Starting" in page_text(at) and "cannot be read" not in page_text(at)
        assert at.selectbox(key="live_run_1").value == str(run)
    finally:
        info = launcher.launch_info(run)
        os.kill(info["pid"], 9)
