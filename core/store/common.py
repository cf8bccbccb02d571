"""What the run store's writer and readers share: the schema, connections, and small helpers."""

from __future__ import annotations

import json
import math
import os
import re
import socket
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import StoreError, TAAFError

SCHEMA_VERSION = 1
STORE_FILE = "store.sqlite"
STATUSES = ("running", "paused", "finished", "failed", "interrupted", "stopped")
COMMANDS = ("pause", "resume", "stop")
SETTING_PREFIX = "set "  # a control row `set {json}` carries one steering setting (core/steering.py)
SCOPES = ("step", "epoch")
BUSY_MS = 10_000  # a short writer (send_command) and the trainer may briefly wait for each other
STALE_AFTER_S = 60.0  # another host's run counts as gone after this long without a heartbeat
CHECKPOINT_EVERY_S = 10.0  # heartbeat folds the WAL into store.sqlite this often (immutable readers see it)

SCHEMA_SQL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE status (id INTEGER PRIMARY KEY CHECK (id = 1), status TEXT NOT NULL, error TEXT,
    pid INTEGER, host TEXT, started REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE scalars (scope TEXT NOT NULL CHECK (scope IN ('step', 'epoch')), step INTEGER NOT NULL,
    key TEXT NOT NULL, epoch INTEGER, time REAL NOT NULL, value REAL,
    PRIMARY KEY (scope, step, key)) WITHOUT ROWID;
CREATE TABLE arrays (kind TEXT NOT NULL, step INTEGER NOT NULL, epoch INTEGER, time REAL NOT NULL,
    path TEXT NOT NULL, PRIMARY KEY (kind, step));
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, kind TEXT NOT NULL,
    message TEXT NOT NULL);
CREATE TABLE control (id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL,
    command TEXT NOT NULL, consumed_at REAL);
"""
KIND_RE = re.compile(r"^[A-Za-z0-9_.-]+$")  # array kinds become file names: no separators


class CommandError(TAAFError, ValueError):
    """An unknown control command was sent."""


def to_json(value: Any) -> str:
    def default(o: Any) -> Any:  # numpy scalars/arrays and paths show up in configs and meta
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"{type(o).__name__} is not JSON-able")

    return json.dumps(value, default=default, allow_nan=True)


def connect(target: str, uri: bool = False, readonly: bool = False) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so one step is exactly one transaction.
    busy_ms = int(BUSY_MS)  # read at each connect: tests shorten it
    conn = sqlite3.connect(target, uri=uri, isolation_level=None, timeout=busy_ms / 1000, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
    if readonly:
        conn.execute("PRAGMA query_only = 1")
    return conn


def is_locked(e: BaseException) -> bool:
    """SQLite's 'database is locked' / 'busy': another connection held the write lock past the busy timeout."""
    text = str(e).lower()
    return isinstance(e, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def check_schema(conn: sqlite3.Connection, run_dir: Path) -> None:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{run_dir}: {STORE_FILE} is corrupt or not a run store ({e})") from None
    if row is None:
        raise StoreError(f"{run_dir}: {STORE_FILE} has no schema_version (half-created run store)")
    try:
        version = json.loads(row[0])
    except (TypeError, ValueError, RecursionError):
        version = None
    if isinstance(version, bool) or not isinstance(version, int):
        raise StoreError(f"{run_dir / STORE_FILE}: meta schema_version = {str(row[0])[:60]!r} is not an integer")
    if version > SCHEMA_VERSION:
        raise StoreError(f"{run_dir}: schema_version {row[0]} is newer than this code's {SCHEMA_VERSION}; update TAAF")


def store_path(run_dir: Path) -> Path:
    from core.store.limits import require_regular
    from core.store.paths import inside_run  # (paths imports nothing of the store)

    db = run_dir / STORE_FILE
    if not db.exists():
        raise StoreError(f"{run_dir}: no run store ({STORE_FILE} missing)")
    inside_run(run_dir, STORE_FILE, "run store")  # a link out would be read, and written by a resume
    require_regular(db, "run store")  # SQLite would block on a FIFO
    for side in (f"{STORE_FILE}-wal", f"{STORE_FILE}-shm"):  # SQLite opens these beside it too
        if os.path.lexists(run_dir / side):
            inside_run(run_dir, side, "run store journal")
            require_regular(run_dir / side, "run store journal")
    return db


def one_line(e: BaseException) -> str:
    """An exception as one short line."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200] if text else ''}"


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def checked_status(st: dict[str, Any], db: Path) -> dict[str, Any]:
    """The status row if every column has its type (a crafted store may hold text anywhere); StoreError naming
    the column and value otherwise."""
    bad = None
    if st["status"] not in STATUSES:
        bad = "status", f"one of {', '.join(STATUSES)}"
    elif not (_number(st["started"]) and _number(st["updated"])):
        bad = ("started" if not _number(st["started"]) else "updated"), "a time in seconds"
    elif st["pid"] is not None and (isinstance(st["pid"], bool) or not isinstance(st["pid"], int)):
        bad = "pid", "an integer"
    elif not all(st[k] is None or isinstance(st[k], str) for k in ("host", "error")):
        bad = ("host" if not (st["host"] is None or isinstance(st["host"], str)) else "error"), "text"
    if bad:
        raise StoreError(f"{db}: status.{bad[0]} = {str(st[bad[0]])[:60]!r} is not {bad[1]}")
    return st


def process_start_ticks(pid: int | None) -> int | None:
    """When process `pid` started, in clock ticks since boot (/proc/<pid>/stat field 22); None where unknown.
    Independent of the wall clock, so a clock jump never changes it; a reused pid gets a new value."""
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rpartition(")")[2].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def writer_alive(pid: int | None, start_ticks: Any) -> bool:
    """Whether the run's writer still runs on this host: its pid is alive and, when the run recorded the writer's
    start (meta 'writer'), it is the same process, not a later one that got its pid."""
    if not pid_alive(pid):
        return False
    if not isinstance(start_ticks, int) or isinstance(start_ticks, bool):
        return True  # runs written before the writer's start was recorded: the pid alone
    now = process_start_ticks(pid)
    return now is None or now == start_ticks


def is_stale(st: dict[str, Any], writer: Any, stale_after: float) -> bool:
    """A running / paused run whose writer cannot be alive. On this host that is decided by the process alone
    (a stopped, busy or swapping trainer is alive however old its heartbeat, and a clock jump changes nothing);
    on another host, whose processes cannot be seen, by a heartbeat older than `stale_after` seconds."""
    if st["status"] not in ("running", "paused"):
        return False
    if st["host"] == socket.gethostname():
        start = writer.get("start") if isinstance(writer, dict) and writer.get("pid") == st["pid"] else None
        return not writer_alive(st["pid"], start)
    return st["age_s"] > stale_after


def read_writer(conn: sqlite3.Connection) -> Any:
    """meta 'writer' ({"pid", "start"} of the process that last opened the run for writing), or None."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'writer'").fetchone()
    try:
        return json.loads(row[0]) if row else None
    except (TypeError, ValueError, RecursionError):
        return None


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this id runs on this host (zombies count as dead)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    try:  # a child nobody waited for yet is a zombie: it no longer writes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True
