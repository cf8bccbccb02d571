"""Run store: one directory per run with an SQLite (WAL) database, config.json and npz probe arrays.

One writer (the training process) and any number of readers (studio, evaluate, report) in other
processes. Layout, tables and the rules that keep readers consistent: docs/run-store.md.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import sqlite3
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from core.errors import RunExistsError, StoreError, TAAFError

SCHEMA_VERSION = 1
STORE_FILE = "store.sqlite"
STATUSES = ("running", "paused", "finished", "failed", "interrupted", "stopped")
COMMANDS = ("pause", "resume", "stop")
SCOPES = ("step", "epoch")
BUSY_MS = 10_000  # a short writer (send_command) and the trainer may briefly wait for each other
CHECKPOINT_EVERY_S = 10.0  # heartbeat folds the WAL into store.sqlite this often (immutable readers see it)

_SCHEMA = """
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
_KIND_RE = re.compile(r"^[A-Za-z0-9_.-]+$")  # array kinds become file names: no separators


class CommandError(TAAFError, ValueError):
    """An unknown control command was sent."""


def _json(value: Any) -> str:
    def default(o: Any) -> Any:  # numpy scalars/arrays and paths show up in configs and meta
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"{type(o).__name__} is not JSON-able")

    return json.dumps(value, default=default, allow_nan=True)


def _connect(target: str, uri: bool = False, readonly: bool = False) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so one step is exactly one transaction.
    conn = sqlite3.connect(target, uri=uri, isolation_level=None, timeout=BUSY_MS / 1000, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
    if readonly:
        conn.execute("PRAGMA query_only = 1")
    return conn


def _check_schema(conn: sqlite3.Connection, run_dir: Path) -> None:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{run_dir}: {STORE_FILE} is corrupt or not a run store ({e})") from None
    if row is None:
        raise StoreError(f"{run_dir}: {STORE_FILE} has no schema_version (half-created run store)")
    if int(json.loads(row[0])) > SCHEMA_VERSION:
        raise StoreError(f"{run_dir}: schema_version {row[0]} is newer than this code's {SCHEMA_VERSION}; update TAAF")


def _store_path(run_dir: Path) -> Path:
    db = run_dir / STORE_FILE
    if not db.is_file():
        raise StoreError(f"{run_dir}: no run store ({STORE_FILE} missing)")
    return db


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


class RunWriter:
    """The one writer of a run (the training process). Thread-safe: a heartbeat thread may share it."""

    def __init__(self, run_dir: Path, conn: sqlite3.Connection) -> None:
        self.run_dir = run_dir
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.Lock()
        self._checkpointed = time.time()

    @classmethod
    def create(cls, run_dir: str | Path, config: dict[str, Any]) -> RunWriter:
        run_dir = Path(run_dir)
        db = run_dir / STORE_FILE
        if db.exists():
            raise RunExistsError(f"{run_dir}: a run already exists there ({STORE_FILE}); pick a new name or resume it")
        for sub in ("arrays", "checkpoints"):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        try:
            text = _json(config)
        except (TypeError, ValueError) as e:
            raise StoreError(f"{run_dir}: config is not JSON-able ({e})") from None
        tmp = run_dir / f".config.json.{os.getpid()}.tmp"
        tmp.write_text(text + "\n")
        os.replace(tmp, run_dir / "config.json")
        # Build the schema under a temporary name, then publish it: a store.sqlite never lacks its tables.
        tmp_db = run_dir / f".{STORE_FILE}.{os.getpid()}.tmp"
        tmp_db.unlink(missing_ok=True)
        now = time.time()
        conn = _connect(str(tmp_db))
        conn.execute("PRAGMA journal_mode = WAL")  # persists in the file header
        conn.execute("BEGIN")
        for stmt in _SCHEMA.split(";"):
            if stmt.strip():
                conn.execute(stmt)
        conn.executemany("INSERT INTO meta VALUES (?, ?)",
                         [("schema_version", str(SCHEMA_VERSION)), ("created", _json(now))])
        conn.execute("INSERT INTO status VALUES (1, 'running', NULL, ?, ?, ?, ?)",
                     (os.getpid(), socket.gethostname(), now, now))
        conn.execute("COMMIT")
        conn.close()
        try:
            os.link(tmp_db, db)  # fails if another process published a store meanwhile
        except FileExistsError:
            tmp_db.unlink(missing_ok=True)
            raise RunExistsError(f"{run_dir}: a run already exists there ({STORE_FILE}); pick a new name") from None
        except OSError:  # filesystems without hard links
            os.replace(tmp_db, db)
        tmp_db.unlink(missing_ok=True)
        return cls._attach(run_dir)

    @classmethod
    def open(cls, run_dir: str | Path) -> RunWriter:
        """Reopen an existing run for --resume. Refuses a run another live process still writes."""
        run_dir = Path(run_dir)
        with RunReader(run_dir, immutable=False) as r:
            st = r.status()
        if st["status"] in ("running", "paused") and not st["stale"] and st["pid"] != os.getpid():
            raise StoreError(f"{run_dir}: run is still {st['status']} (pid {st['pid']} on {st['host']}); stop it first")
        return cls._attach(run_dir)

    @classmethod
    def _attach(cls, run_dir: Path) -> RunWriter:
        conn = _connect(str(_store_path(run_dir)))
        _check_schema(conn, run_dir)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable at checkpoints, no fsync per step
        w = cls(run_dir, conn)
        w._exec("UPDATE status SET pid = ?, host = ?, updated = ? WHERE id = 1",
                (os.getpid(), socket.gethostname(), time.time()))
        return w

    def _exec(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            if self._conn is None:
                raise StoreError(f"{self.run_dir}: run writer is closed")
            return self._conn.execute(sql, params)

    def _many(self, sql: str, rows: list[tuple]) -> None:
        with self._lock:
            if self._conn is None:
                raise StoreError(f"{self.run_dir}: run writer is closed")
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(sql, rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def log_scalars(self, step: int, epoch: int, values: dict[str, Any], scope: str = "step") -> None:
        """All keys of one step in one transaction; NaN/inf are stored as NULL (read back as NaN)."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
        now, rows = time.time(), []
        for key, v in values.items():
            if key in ("step", "epoch", "time"):  # these name the wide frame's index columns
                raise ValueError(f"scalar key {key!r} is reserved")
            try:
                f = float(v)
            except (TypeError, ValueError):
                raise StoreError(f"{self.run_dir}: scalar {key!r} = {v!r} is not a number") from None
            rows.append((scope, int(step), str(key), int(epoch), now, f if math.isfinite(f) else None))
        if rows:
            self._many("INSERT OR REPLACE INTO scalars VALUES (?, ?, ?, ?, ?, ?)", rows)

    def log_arrays(self, step: int, epoch: int, arrays: dict[str, Any], kind: str = "probe") -> str:
        """Write arrays/<kind>-<step>.npz atomically (temp file + rename), then its row. Returns the path."""
        if not _KIND_RE.match(kind):
            raise ValueError(f"array kind must match {_KIND_RE.pattern}, got {kind!r}")
        rel = f"arrays/{kind}-{int(step):09d}.npz"
        final = self.run_dir / rel
        final.parent.mkdir(exist_ok=True)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        # Same zip layout as np.savez_compressed, minus its reserved argument names ('file', 'allow_pickle').
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for key, a in arrays.items():
                with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(a), allow_pickle=False)
        os.replace(tmp, final)  # readers see the old file or the new one, never a half-written one
        self._many("INSERT OR REPLACE INTO arrays VALUES (?, ?, ?, ?, ?)",
                   [(kind, int(step), int(epoch), time.time(), rel)])
        return rel

    def truncate_after(self, step: int) -> None:
        """Forget steps after `step` (a resumed run replays them from its checkpoint): rows first, in one
        transaction, then the array files no row points to any more."""
        with self._lock:
            paths = [r[0] for r in self._conn.execute("SELECT path FROM arrays WHERE step > ?", (int(step),))]
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("DELETE FROM scalars WHERE step > ?", (int(step),))
                self._conn.execute("DELETE FROM arrays WHERE step > ?", (int(step),))
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        for rel in paths:
            (self.run_dir / rel).unlink(missing_ok=True)

    def log_event(self, kind: str, message: str) -> None:
        self._exec("INSERT INTO events (time, kind, message) VALUES (?, ?, ?)", (time.time(), str(kind), str(message)))

    def set_meta(self, key: str, value: Any) -> None:
        try:
            text = _json(value)
        except (TypeError, ValueError) as e:
            raise StoreError(f"{self.run_dir}: meta {key!r} is not JSON-able ({e})") from None
        self._exec("INSERT OR REPLACE INTO meta VALUES (?, ?)", (str(key), text))

    def set_status(self, status: str, error: str | None = None) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        self._exec("UPDATE status SET status = ?, error = ?, pid = ?, host = ?, updated = ? WHERE id = 1",
                   (status, error, os.getpid(), socket.gethostname(), time.time()))

    def heartbeat(self) -> None:
        """Cheap liveness mark (one row update); call it every step and while paused."""
        now = time.time()
        self._exec("UPDATE status SET updated = ? WHERE id = 1", (now,))
        if now - self._checkpointed > CHECKPOINT_EVERY_S:  # keep store.sqlite alone fresh for synced copies
            self._checkpointed = now
            self._exec("PRAGMA wal_checkpoint(PASSIVE)")

    def poll_command(self) -> str | None:
        """The oldest unconsumed control command, marked consumed; None if there is none."""
        row = self._exec("SELECT id, command FROM control WHERE consumed_at IS NULL ORDER BY id LIMIT 1").fetchone()
        if row is None:
            return None
        self._exec("UPDATE control SET consumed_at = ? WHERE id = ?", (time.time(), row[0]))
        return row[1] if row[1] in COMMANDS else None

    def close(self) -> None:
        with self._lock:
            if self._conn is None:
                return
            try:  # fold the WAL into the main file so a copied/synced store.sqlite alone is complete
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                pass
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



class RunReader:
    """Read-only view of a run; safe beside a live writer. On a read-only folder it opens the
    database with `immutable=1`: a snapshot that ignores the WAL (see docs/run-store.md)."""

    def __init__(self, run_dir: str | Path, immutable: bool | None = None, stale_after: float = 60.0) -> None:
        self.run_dir = Path(run_dir)
        self.stale_after = stale_after
        db = _store_path(self.run_dir)
        if immutable is None:  # WAL readers must create/map store.sqlite-shm: impossible in a read-only folder
            immutable = not os.access(self.run_dir, os.W_OK)
        try:
            self._conn = self._open(db, immutable)
        except sqlite3.OperationalError as e:
            if immutable:
                raise StoreError(f"{self.run_dir}: cannot open {STORE_FILE} ({e})") from None
            immutable = True  # e.g. -shm not creatable although the folder looked writable
            try:
                self._conn = self._open(db, True)
            except sqlite3.Error as e2:
                raise StoreError(f"{self.run_dir}: cannot open {STORE_FILE} ({e2})") from None
        self.immutable = immutable
        self._lock = threading.Lock()

    def _open(self, db: Path, immutable: bool) -> sqlite3.Connection:
        conn = _connect(db.resolve().as_uri() + ("?immutable=1" if immutable else "?mode=ro"), uri=True, readonly=True)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            conn.close()
            raise
        except sqlite3.DatabaseError as e:
            conn.close()
            raise StoreError(f"{self.run_dir}: {STORE_FILE} is corrupt or not a run store ({e})") from None
        _check_schema(conn, self.run_dir)
        return conn

    def _query(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def config(self) -> dict[str, Any]:
        path = self.run_dir / "config.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise StoreError(f"{path}: missing (half-created run)") from None
        except (OSError, ValueError) as e:
            raise StoreError(f"{path}: not readable JSON ({e})") from None

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._query("SELECT key, value FROM meta")}

    def status(self) -> dict[str, Any]:
        """status, error, pid, host, started, updated (unix s), age_s and stale: a running/paused run
        whose writer is dead on this host or whose heartbeat is older than `stale_after` seconds."""
        rows = self._query("SELECT status, error, pid, host, started, updated FROM status WHERE id = 1")
        if not rows:
            raise StoreError(f"{self.run_dir}: {STORE_FILE} has no status row (half-created run store)")
        st = dict(zip(("status", "error", "pid", "host", "started", "updated"), rows[0], strict=True))
        st["age_s"] = time.time() - st["updated"]
        dead = st["host"] == socket.gethostname() and not pid_alive(st["pid"])
        st["stale"] = st["status"] in ("running", "paused") and (dead or st["age_s"] > self.stale_after)
        return st

    def last_step(self) -> int:
        """The highest step with step-scope scalars; -1 if none."""
        row = self._query("SELECT MAX(step) FROM scalars WHERE scope = 'step'")[0]
        return -1 if row[0] is None else int(row[0])

    def scalars(self, scope: str = "step", since_step: int = -1, keys: list[str] | None = None) -> pd.DataFrame:
        """Wide frame of steps > since_step: columns step, epoch, time, then one per key (NaN = not
        logged or non-finite), sorted by step. Read in one transaction, so every step is complete."""
        where, params = "scope = ? AND step > ?", [scope, int(since_step)]
        if keys is not None:
            keys = list(keys)
            where += f" AND key IN ({','.join('?' * len(keys))})"
            params += keys
        with self._lock:
            c = self._conn
            c.execute("BEGIN")
            try:
                groups = c.execute(f"SELECT step, MAX(epoch), MAX(time), COUNT(*) FROM scalars WHERE {where} "
                                   "GROUP BY step ORDER BY step", params).fetchall()
                names = [r[0] for r in c.execute(f"SELECT DISTINCT key FROM scalars WHERE {where} ORDER BY key",
                                                 params)]
                # Rows come in primary-key order (step, key); a step's rows are contiguous, `count` long.
                vals = np.array([r[0] for r in c.execute(f"SELECT value FROM scalars WHERE {where} "
                                                         "ORDER BY step, key", params)], dtype=float)
                counts = np.array([g[3] for g in groups], dtype=np.int64)
                if (counts == len(names)).all():  # every step has every key: reshape in place
                    mat = vals.reshape(len(groups), len(names))
                else:  # key codes computed in SQL: far cheaper than fetching 10^5 key strings
                    case = "CASE key " + " ".join(f"WHEN ? THEN {i}" for i in range(len(names))) + " END"
                    codes = [r[0] for r in c.execute(f"SELECT {case} FROM scalars WHERE {where} "
                                                     "ORDER BY step, key", [*names, *params])]
                    mat = np.full((len(groups), len(names)), np.nan)
                    mat[np.repeat(np.arange(len(groups)), counts), codes] = vals
            finally:
                c.execute("COMMIT")
        head = pd.DataFrame({
            "step": np.array([g[0] for g in groups], dtype=np.int64),
            "epoch": np.array([g[1] if g[1] is not None else -1 for g in groups], dtype=np.int64),
            "time": np.array([g[2] for g in groups], dtype=float),
        })
        df = pd.concat([head, pd.DataFrame(mat, columns=names)], axis=1)
        if keys is not None:  # asked-for keys always appear, in the asked order
            df = df.reindex(columns=["step", "epoch", "time", *keys])
        return df

    def array_steps(self, kind: str = "probe") -> list[int]:
        return [r[0] for r in self._query("SELECT step FROM arrays WHERE kind = ? ORDER BY step", (kind,))]

    def arrays(self, step: int, kind: str = "probe") -> dict[str, np.ndarray]:
        rows = self._query("SELECT path FROM arrays WHERE kind = ? AND step = ?", (kind, int(step)))
        if not rows:
            raise StoreError(f"{self.run_dir}: no {kind!r} arrays at step {step}")
        path = self.run_dir / rows[0][0]
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, zipfile.BadZipFile) as e:
            raise StoreError(f"{path}: cannot load {kind!r} arrays of step {step} ({e})") from None

    def events(self) -> pd.DataFrame:
        rows = self._query("SELECT id, time, kind, message FROM events ORDER BY id")
        return pd.DataFrame(rows, columns=["id", "time", "kind", "message"])

    def log_tail(self, n_lines: int = 50) -> str:
        """The last n_lines of train.log ('' if there is none), read from the end of the file."""
        path = self.run_dir / "train.log"
        if n_lines <= 0 or not path.is_file():
            return ""
        with open(path, "rb") as f:
            pos = f.seek(0, os.SEEK_END)
            data = b""
            while pos > 0 and data.count(b"\n") <= n_lines:
                size = min(1 << 16, pos)
                pos -= size
                f.seek(pos)
                data = f.read(size) + data
        return "\n".join(data.decode("utf-8", "replace").splitlines()[-n_lines:])


def _from_config(cfg: dict, *path: str) -> Any:
    for p in path:
        cfg = cfg.get(p) if isinstance(cfg, dict) else None
    return cfg


LIST_COLUMNS = ["name", "path", "status", "strategy", "preset", "seed", "steps", "total_steps",
                "last_val_acc_f", "created", "updated", "problem"]


def list_runs(runs_dir: str | Path, stale_after: float = 60.0) -> pd.DataFrame:
    """One row per subdirectory holding store.sqlite or config.json, sorted by name. Broken or
    half-created runs get status 'unknown' and a one-line `problem` instead of raising."""
    runs_dir, out = Path(runs_dir), []
    subdirs = sorted(p for p in runs_dir.iterdir() if p.is_dir()) if runs_dir.is_dir() else []
    for d in subdirs:
        if not ((d / STORE_FILE).exists() or (d / "config.json").exists()):
            continue
        row: dict[str, Any] = {"name": d.name, "path": str(d), "status": "unknown", "problem": ""}
        try:
            with RunReader(d, stale_after=stale_after) as r:
                meta, st = r.meta(), r.status()
                try:
                    cfg = r.config()
                except StoreError:
                    cfg = {}
                last = r._query("SELECT value FROM scalars WHERE scope = 'epoch' AND key = 'val_acc_f' "
                                "AND value IS NOT NULL ORDER BY step DESC LIMIT 1")
                row.update(
                    status="interrupted" if st["stale"] else st["status"],
                    strategy=meta.get("strategy", _from_config(cfg, "strategy", "name")),
                    preset=meta.get("preset", _from_config(cfg, "data", "avdigits", "preset")),
                    seed=meta.get("seed", _from_config(cfg, "train", "seed")),
                    steps=r.last_step() + 1, total_steps=meta.get("total_steps"),
                    last_val_acc_f=last[0][0] if last else None,
                    created=meta.get("created", st["started"]), updated=st["updated"])
        except (TAAFError, sqlite3.Error, OSError, ValueError) as e:
            row["problem"] = str(e).splitlines()[0] if str(e) else type(e).__name__
        out.append(row)
    return pd.DataFrame(out, columns=LIST_COLUMNS)


def send_command(run_dir: str | Path, command: str) -> int:
    """Queue 'pause' | 'resume' | 'stop' for the run's trainer (it polls between steps). Returns the command id."""
    if command not in COMMANDS:
        raise CommandError(f"unknown run command {command!r}; expected one of {', '.join(COMMANDS)}")
    run_dir = Path(run_dir)
    conn = _connect(str(_store_path(run_dir)))  # short-lived; busy_timeout waits out the trainer's step commit
    try:
        _check_schema(conn, run_dir)
        conn.execute("BEGIN IMMEDIATE")
        cur = conn.execute("INSERT INTO control (time, command) VALUES (?, ?)", (time.time(), command))
        conn.execute("COMMIT")
        return int(cur.lastrowid)
    except sqlite3.Error as e:
        raise StoreError(f"{run_dir}: cannot send {command!r} ({e})") from None
    finally:
        conn.close()
