"""A sweep's queue on disk and the detached runner that trains it, one run after another.

The queue is `<runs folder>/.sweeps.sqlite` (one row per planned run: its overrides, state, run folder). The runner
(`python -m core.sweep_queue <runs folder>`, started detached by `core.sweep` or the studio) takes the next
waiting row, starts it through `core.launcher.start_run` (an ordinary run: its own detached trainer), waits for it
to end, records how it ended, and takes the next; it exits when nothing waits. At most one runner per runs folder
(an exclusive lock on `.sweep-runner.lock`). Because every trainer is its own process, a runner (or studio) that
is killed loses nothing: a new runner re-attaches to the row in state `training`, waits for its trainer, or resumes
it when the trainer is gone too. Cancelling a waiting row skips it; cancelling the training one stops its run.

One run at a time: the launcher refuses a second active run in a runs folder (docs/steering.md, "Sweeps").
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from core import launcher
from core.errors import TAAFError

QUEUE_FILE = ".sweeps.sqlite"
LOCK_FILE = ".sweep-runner.lock"
STATES = ("waiting", "training", "finished", "failed", "stopped", "cancelled")
POLL_S = 2.0
MAX_RESUMES = 3  # a trainer that keeps dying is marked failed rather than resumed forever
SCHEMA = """CREATE TABLE IF NOT EXISTS queue (id INTEGER PRIMARY KEY AUTOINCREMENT, sweep TEXT NOT NULL,
    created REAL NOT NULL, config TEXT, overrides TEXT NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL,
    run_dir TEXT, started REAL, ended REAL, resumes INTEGER NOT NULL DEFAULT 0, error TEXT)"""
COLUMNS = ["id", "sweep", "created", "config", "overrides", "name", "state", "run_dir", "started", "ended",
           "resumes", "error"]


def _connect(runs_dir: Path) -> sqlite3.Connection:
    runs_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(runs_dir / QUEUE_FILE, timeout=10, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(SCHEMA)
    return conn


def enqueue(runs_dir: str | Path, sweep: str, runs: list[dict[str, Any]], config: str | None) -> list[int]:
    """Append the planned runs (each {"name", "overrides"}) in order, all in one transaction; their row ids."""
    conn = _connect(Path(runs_dir))
    try:
        conn.execute("BEGIN IMMEDIATE")
        ids = [int(conn.execute("INSERT INTO queue (sweep, created, config, overrides, name, state) "
                                "VALUES (?, ?, ?, ?, ?, 'waiting')",
                                (sweep, time.time(), config, json.dumps(r["overrides"]), r["name"])).lastrowid)
               for r in runs]
        conn.execute("COMMIT")
        return ids
    finally:
        conn.close()


def rows(runs_dir: str | Path, sweep: str | None = None) -> list[dict[str, Any]]:
    """Every queued run (of one sweep), in queue order; [] when there is no queue."""
    path = Path(runs_dir) / QUEUE_FILE
    if not path.is_file():
        return []
    conn = _connect(Path(runs_dir))
    try:
        where, args = ("WHERE sweep = ?", (sweep,)) if sweep else ("", ())
        out = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM queue {where} ORDER BY id", args).fetchall()
    finally:
        conn.close()
    return [dict(zip(COLUMNS, r, strict=True)) | {"overrides": json.loads(r[4])} for r in out]


def _update(runs_dir: Path, row_id: int, only_if: tuple[str, ...] = (), **values: Any) -> bool:
    conn = _connect(runs_dir)
    try:
        sets = ", ".join(f"{k} = ?" for k in values)
        guard = f" AND state IN ({', '.join('?' * len(only_if))})" if only_if else ""
        cur = conn.execute(f"UPDATE queue SET {sets} WHERE id = ?{guard}", (*values.values(), row_id, *only_if))
        return cur.rowcount == 1
    finally:
        conn.close()


def cancel(runs_dir: str | Path, row_id: int) -> str:
    """Cancel one queued run: a waiting one is skipped, the training one is stopped. What happened, in words."""
    runs_dir = Path(runs_dir)
    row = next((r for r in rows(runs_dir) if r["id"] == row_id), None)
    if row is None:
        raise TAAFError(f"sweep queue: no run with id {row_id}")
    if not _update(runs_dir, row_id, ("waiting", "training"), state="cancelled", ended=time.time()):
        return f"{row['name']} is {row['state']}: nothing to cancel"
    if row["state"] == "training" and row["run_dir"]:
        try:
            launcher.stop(row["run_dir"])
        except TAAFError:
            pass  # it ended meanwhile
        return f"{row['name']} cancelled; its run is being stopped"
    return f"{row['name']} cancelled"


# ---- the runner ------------------------------------------------------------------------------------------

def runner_alive(runs_dir: str | Path) -> bool:
    """True while a runner holds the lock of this runs folder."""
    path = Path(runs_dir) / LOCK_FILE
    if not path.exists():
        return False
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


def ensure_runner(runs_dir: str | Path) -> bool:
    """Start a detached runner when runs wait (or one trains) and none is alive; True if one was started."""
    runs_dir = Path(runs_dir).resolve()
    if runner_alive(runs_dir) or not any(r["state"] in ("waiting", "training") for r in rows(runs_dir)):
        return False
    with open(runs_dir / "sweep-runner.log", "ab") as log:
        subprocess.Popen([sys.executable, "-m", "core.sweep_queue", str(runs_dir)], cwd=launcher.REPO_ROOT,
                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                         close_fds=True)
    return True


def step_once(runs_dir: Path) -> bool:
    """One look at the queue: start the next waiting run, or follow the training one. False when nothing is left."""
    queue = rows(runs_dir)
    training = next((r for r in queue if r["state"] == "training"), None)
    if training is not None:
        _follow(runs_dir, training)
        return True
    waiting = next((r for r in queue if r["state"] == "waiting"), None)
    if waiting is None:
        return False
    if launcher.active_run(runs_dir) is not None:
        return True  # someone's own run is training: wait for it (one run at a time)
    try:
        run_dir = launcher.start_run(runs_dir, waiting["config"], waiting["overrides"], name=waiting["name"])
    except TAAFError as e:
        _update(runs_dir, waiting["id"], state="failed", error=str(e), ended=time.time())
        return True
    if not _update(runs_dir, waiting["id"], ("waiting",), state="training", run_dir=str(run_dir),
                   started=time.time()):
        launcher.stop(run_dir)  # cancelled while it was starting
    return True


def _follow(runs_dir: Path, row: dict[str, Any]) -> None:
    try:
        st = launcher.run_state(row["run_dir"])
    except TAAFError as e:
        _update(runs_dir, row["id"], state="failed", error=str(e), ended=time.time())
        return
    status = "interrupted" if st.get("stale") else st["status"]
    if status in ("starting", "running", "paused"):
        return
    if status == "interrupted" and row["resumes"] < MAX_RESUMES:  # its trainer is gone (a restart): continue it
        try:
            launcher.resume_interrupted(row["run_dir"])
            _update(runs_dir, row["id"], resumes=row["resumes"] + 1)
            return
        except TAAFError as e:
            st["error"] = str(e)
    state = {"finished": "finished", "stopped": "stopped"}.get(status, "failed")
    _update(runs_dir, row["id"], ("training",), state=state, error=st.get("error"), ended=time.time())


def run(runs_dir: str | Path, poll_s: float = POLL_S) -> int:
    """The runner's loop, under the folder's lock; returns at once when another runner holds it."""
    runs_dir = Path(runs_dir).resolve()
    runs_dir.mkdir(parents=True, exist_ok=True)
    with open(runs_dir / LOCK_FILE, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"a sweep runner is already running for {runs_dir}", flush=True)
            return 0
        print(f"sweep runner {os.getpid()} on {runs_dir}", flush=True)
        while step_once(runs_dir):
            time.sleep(poll_s)
        print("sweep queue done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else POLL_S))
