"""Whatever a run folder holds is untrusted: paths read from its store or config stay inside it, links out are not
followed, commands meant for a dead trainer are not obeyed by the next one, bad files give one-line errors."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.errors import StoreError
from core.store import RunReader, RunWriter, list_runs, send_command
from tests.support import ROOT


@pytest.fixture
def run(tmp_path: Path) -> Path:
    d = tmp_path / "runs" / "r1"
    with RunWriter.create(d, {"strategy": {"name": "taaf"}}) as w:
        for s in range(1, 11):
            w.log_scalars(s, 0, {"loss": 1.0 / s})
        for s in (5, 10):
            w.log_arrays(s, 0, {"alpha": np.full((2, 3), s, np.float32)})
        w.set_status("interrupted")
    return d


def _insert_array_row(run: Path, step: int, path: str) -> None:
    conn = sqlite3.connect(run / "store.sqlite")
    conn.execute("INSERT INTO arrays VALUES ('probe', ?, 0, 0, ?)", (step, path))
    conn.commit()
    conn.close()


def _victim(tmp_path: Path, name: str = "victim.txt") -> Path:
    v = tmp_path / "outside" / name
    v.parent.mkdir(exist_ok=True)
    v.write_text("precious\n")
    return v


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "link"])
def test_truncate_after_never_deletes_outside_the_run(run: Path, tmp_path: Path, kind: str) -> None:
    victim = _victim(tmp_path)
    if kind == "absolute":
        rel = str(victim)
    elif kind == "dotdot":
        rel = "arrays/../../../outside/victim.txt"
    else:
        (run / "arrays" / "link.npz").symlink_to(victim)
        rel = "arrays/link.npz"
    _insert_array_row(run, 999_999, rel)
    w = RunWriter.open(run)
    with pytest.raises(StoreError, match="refused") as e:
        w.truncate_after(5)
    assert len(str(e.value).splitlines()) == 1
    w.close()
    assert victim.read_text() == "precious\n"
    r = RunReader(run)
    assert r.last_step() == 10 and r.array_steps() == [5, 10, 999_999]  # refused before anything changed
    assert (run / "arrays" / "probe-000000010.npz").exists()
    with pytest.raises(StoreError, match="refused"):  # the reader refuses the same row
        r.arrays(999_999)


def test_truncate_after_deletes_its_own_files(run: Path) -> None:
    with RunWriter.open(run) as w:
        w.truncate_after(5)
    assert RunReader(run).array_steps() == [5] and not (run / "arrays" / "probe-000000010.npz").exists()


def test_inside_run_accepts_only_paths_in_the_run(run: Path, tmp_path: Path) -> None:
    from core.store.paths import inside_run

    assert inside_run(run, "arrays/probe-000000005.npz") == (run / "arrays" / "probe-000000005.npz").resolve()
    for bad in ("/etc/passwd", "../r2/x", "arrays/../../x", "", "a\0b"):
        with pytest.raises(StoreError):
            inside_run(run, bad)
    (run / "inner").symlink_to(run / "arrays")  # a link that stays inside is fine
    assert inside_run(run, "inner/probe-000000005.npz") == (run / "arrays" / "probe-000000005.npz").resolve()
    (run / "out").symlink_to(tmp_path)
    with pytest.raises(StoreError, match="leads outside"):
        inside_run(run, "out/x")


def test_log_tail_does_not_follow_a_link_out(run: Path, tmp_path: Path) -> None:
    from core.store.paths import read_log_tail  # the function the studio's log box calls

    secret = _victim(tmp_path, "passwd")
    (run / "train.log").symlink_to(secret)
    for text in (read_log_tail(run, 40), RunReader(run).log_tail(40)):
        assert "precious" not in text and "outside the run folder" in text and len(text.splitlines()) == 1
    (run / "train.log").unlink()
    (run / "train.log").write_text("a\nb\nc\n")
    assert read_log_tail(run, 2) == "b\nc" and read_log_tail(run / "nowhere", 2) == ""


def test_config_json_link_out_or_not_an_object_is_one_line(run: Path, tmp_path: Path) -> None:
    (run / "config.json").write_text("[1, 2, 3]")
    with pytest.raises(StoreError, match="config.json: expected a JSON object"):
        RunReader(run).config()
    (run / "config.json").unlink()
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"strategy": {"name": "taaf"}}))
    (run / "config.json").symlink_to(outside)
    with pytest.raises(StoreError, match="outside the run folder"):
        RunReader(run).config()


def test_store_sqlite_link_out_is_refused(run: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.sqlite"
    shutil.move(run / "store.sqlite", other)
    (run / "store.sqlite").symlink_to(other)
    with pytest.raises(StoreError, match="outside the run folder"):
        RunReader(run)
    with pytest.raises(StoreError, match="outside the run folder"):
        send_command(run, "stop")


def test_remove_temp_files_removes_links_not_targets(run: Path, tmp_path: Path) -> None:
    from core.store.paths import remove_temp_files

    victim = _victim(tmp_path)
    (run / "checkpoints" / "last.pt.tmp").write_bytes(b"partial")
    (run / "checkpoints" / "best.pt.tmp").symlink_to(victim)
    (run / "arrays" / ".probe-000000015.npz.123.tmp").write_bytes(b"partial")
    (run / ".config.json.77.tmp").write_text("{")
    removed = remove_temp_files(run)
    assert sorted(removed) == sorted([".config.json.77.tmp", "arrays/.probe-000000015.npz.123.tmp",
                                      "checkpoints/best.pt.tmp", "checkpoints/last.pt.tmp"])
    assert victim.read_text() == "precious\n"
    assert not list(run.rglob("*.tmp"))


def test_reopening_discards_commands_sent_to_the_dead_trainer(run: Path) -> None:
    send_command(run, "pause")  # nobody is listening: the run is interrupted
    send_command(run, "stop")
    with RunWriter.open(run) as w:  # the next trainer
        assert w.poll_command() is None
        send_command(run, "pause")  # sent to this trainer: obeyed
        assert w.poll_command() == "pause"
    ev = RunReader(run).events()
    dropped = ev[ev["kind"] == "command_discarded"]["message"].tolist()
    assert len(dropped) == 2 and "pause" in dropped[0] and "stop" in dropped[1]


@pytest.mark.integration
def test_commands_to_a_killed_trainer_are_discarded_but_a_live_writer_keeps_its_own(run: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    conn = sqlite3.connect(run / "store.sqlite")  # kill -9 mid-run: status still 'running', its pid gone
    conn.execute("UPDATE status SET status = 'running', pid = ?", (dead.pid,))
    conn.commit()
    conn.close()
    send_command(run, "pause")
    with RunWriter.open(run) as w:
        assert w.poll_command() is None
        w.set_status("running")  # this process is now the run's live writer
    send_command(run, "stop")
    with RunWriter.open(run) as w:  # reopened by that same live process: the command was meant for it
        assert w.poll_command() == "stop"


def test_list_runs_counts_steps_as_numbered(run: Path) -> None:
    row = list_runs(run.parent).set_index("name").loc["r1"]
    assert row["steps"] == 10  # steps 1..10 were logged
    empty = run.parent / "empty"
    RunWriter.create(empty, {}).close()
    assert list_runs(run.parent).set_index("name").loc["empty", "steps"] == 0


@pytest.mark.integration
def test_resume_cli_refuses_a_crafted_store_and_deletes_nothing(tiny_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "copy"
    shutil.copytree(tiny_run, run)
    victim = _victim(tmp_path)
    _insert_array_row(run, 999_999, str(victim))
    before = {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()}
    p = subprocess.run([sys.executable, "-m", "core.train", "--resume", str(run)], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 2, p.stderr[-2000:]
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "refused" in lines[0], p.stderr
    assert victim.read_text() == "precious\n"
    assert {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()} == before
