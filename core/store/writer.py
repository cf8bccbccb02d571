"""The run store's one writer (the training process, rank 0) and the control channel's sender."""

from __future__ import annotations

import math
import os
import socket
import sqlite3
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import numpy as np

from core.errors import DiskFullError, RunExistsError, StoreError, is_disk_full
from core.store.common import (
    CHECKPOINT_EVERY_S,
    COMMANDS,
    KIND_RE,
    SCHEMA_SQL,
    SCHEMA_VERSION,
    SCOPES,
    SETTING_PREFIX,
    STALE_AFTER_S,
    STATUSES,
    STORE_FILE,
    check_schema,
    checked_status,
    connect,
    is_stale,
    process_start_ticks,
    read_writer,
    store_path,
    to_json,
)
from core.store.paths import inside_run
from core.store.reader import RunReader
from core.store.retry import retry_locked


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
            text = to_json(config)
        except (TypeError, ValueError) as e:
            raise StoreError(f"{run_dir}: config is not JSON-able ({e})") from None
        tmp = run_dir / f".config.json.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        try:
            with open(tmp, "x") as fh:
                fh.write(text + "\n")
            os.replace(tmp, run_dir / "config.json")
        except OSError as e:
            tmp.unlink(missing_ok=True)
            if is_disk_full(e):
                raise DiskFullError(f"no space left on device while writing {run_dir / 'config.json'}") from None
            raise
        # Build the schema under a temporary name, then publish it: a store.sqlite never lacks its tables.
        tmp_db = run_dir / f".{STORE_FILE}.{os.getpid()}.tmp"
        tmp_db.unlink(missing_ok=True)
        now = time.time()
        try:
            conn = connect(str(tmp_db))
            try:
                conn.execute("PRAGMA journal_mode = WAL")  # persists in the file header
                conn.execute("BEGIN")
                for stmt in SCHEMA_SQL.split(";"):
                    if stmt.strip():
                        conn.execute(stmt)
                conn.executemany("INSERT INTO meta VALUES (?, ?)",
                                 [("schema_version", str(SCHEMA_VERSION)), ("created", to_json(now))])
                conn.execute("INSERT INTO status VALUES (1, 'running', NULL, ?, ?, ?, ?)",
                             (os.getpid(), socket.gethostname(), now, now))
                conn.execute("COMMIT")
            finally:
                conn.close()
        except sqlite3.Error as e:
            for leftover in (tmp_db, *(tmp_db.with_name(tmp_db.name + x) for x in ("-wal", "-shm", "-journal"))):
                leftover.unlink(missing_ok=True)
            if is_disk_full(e):
                raise DiskFullError(f"no space left on device while writing {db}") from None
            raise
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
        """Reopen an existing run for --resume. Refuses a run another live process still writes: the check and
        the claim (this process becomes the run's writer) are one write transaction, so of two resumes started
        at once one opens and the other is refused."""
        run_dir = Path(run_dir)
        with RunReader(run_dir, immutable=False):  # (schema and status row checked, one-line errors)
            pass
        for sub in ("arrays", "checkpoints"):  # written below: a folder linked out of the run would be written there
            inside_run(run_dir, sub, "folder")
        conn = cls._connect(run_dir)
        w = cls(run_dir, conn)
        try:
            live_self = w._claim()
        except BaseException:
            conn.close()
            raise
        if not live_self:  # (else: this process, still live, reopening its own run)
            w._discard_commands()
        return w

    def _claim(self) -> bool:
        """Make this process the run's writer; StoreError if another live process is. True when the run was
        live and written by this very process."""
        def claim() -> bool:
            row = self._conn.execute("SELECT status, error, pid, host, started, updated FROM status").fetchone()
            st = checked_status(dict(zip(("status", "error", "pid", "host", "started", "updated"), row, strict=True)),
                                self.run_dir / STORE_FILE)
            st["age_s"] = time.time() - st["updated"]
            live = st["status"] in ("running", "paused") and not is_stale(st, read_writer(self._conn), STALE_AFTER_S)
            if live and st["pid"] != os.getpid():
                raise StoreError(f"{self.run_dir}: run is still {st['status']} (pid {st['pid']} on {st['host']}); "
                                 "stop it first")
            self._claim_rows()
            return live
        return self._transaction(claim)

    def _claim_rows(self) -> None:
        self._conn.execute("UPDATE status SET pid = ?, host = ?, updated = ? WHERE id = 1",
                           (os.getpid(), socket.gethostname(), time.time()))
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('writer', ?)",
                           (to_json({"pid": os.getpid(), "start": process_start_ticks(os.getpid())}),))

    def _discard_commands(self) -> None:
        """Commands still pending were sent to a trainer that is gone (the run is not live): this one must not
        obey them. A live run reopened by its own writer process keeps its commands."""
        now = time.time()

        def discard() -> None:
            rows = self._conn.execute("SELECT id, command, time FROM control WHERE consumed_at IS NULL "
                                      "ORDER BY id").fetchall()
            self._conn.execute("UPDATE control SET consumed_at = ? WHERE consumed_at IS NULL", (now,))
            self._conn.executemany(
                "INSERT INTO events (time, kind, message) VALUES (?, 'command_discarded', ?)",
                [(now, f"{cmd!r} sent {time.strftime('%H:%M:%S', time.localtime(t))} to a trainer that is gone; "
                       "not obeyed") for _, cmd, t in rows])

        self._transaction(discard)

    @classmethod
    def _connect(cls, run_dir: Path) -> sqlite3.Connection:
        conn = connect(str(store_path(run_dir)))
        check_schema(conn, run_dir)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable at checkpoints, no fsync per step
        return conn

    @classmethod
    def _attach(cls, run_dir: Path) -> RunWriter:
        w = cls(run_dir, cls._connect(run_dir))
        w._transaction(w._claim_rows)
        return w

    def _retrying(self, fn: Callable[[], Any]) -> Any:
        """fn() (under self._lock), retried while another process holds the write lock (core/store/retry.py)."""
        if self._conn is None:
            raise StoreError(f"{self.run_dir}: run writer is closed")
        return retry_locked(self._conn, fn, self.run_dir / STORE_FILE)

    def _transaction(self, fn: Callable[[], Any]) -> Any:
        """fn() inside one BEGIN IMMEDIATE ... COMMIT, retried while the store is locked elsewhere."""
        def once() -> Any:
            self._conn.execute("BEGIN IMMEDIATE")
            out = fn()
            self._conn.execute("COMMIT")
            return out

        with self._lock:
            return self._retrying(once)

    def _exec(self, sql: str, params: tuple = ()) -> list[tuple]:
        """One statement, stepped to its end under the lock: a cursor stepped after the lock is released (poll_command
        read its row outside it) runs sqlite3_step beside another thread's COMMIT on this connection (the sqlite3
        module lets go of the GIL while stepping); a 20-minute run died once of "cannot commit transaction - SQL
        statements in progress" in poll_settings."""
        with self._lock:
            return self._retrying(lambda: self._conn.execute(sql, params).fetchall())

    def _many(self, sql: str, rows: list[tuple]) -> None:
        self._transaction(lambda: self._conn.executemany(sql, rows))

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
        if not KIND_RE.match(kind):
            raise ValueError(f"array kind must match {KIND_RE.pattern}, got {kind!r}")
        rel = f"arrays/{kind}-{int(step):09d}.npz"
        final = self.run_dir / rel
        final.parent.mkdir(exist_ok=True)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)  # then create it exclusively: a planted link is never written through
        # Same zip layout as np.savez_compressed, minus its reserved argument names ('file', 'allow_pickle').
        try:
            with open(tmp, "xb") as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for key, a in arrays.items():
                    with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, np.asanyarray(a), allow_pickle=False)
            os.replace(tmp, final)
        except BaseException as e:
            tmp.unlink(missing_ok=True)
            if is_disk_full(e):
                raise DiskFullError(f"no space left on device while writing {final}") from None
            raise  # readers see the old file or the new one, never a half-written one
        self._many("INSERT OR REPLACE INTO arrays VALUES (?, ?, ?, ?, ?)",
                   [(kind, int(step), int(epoch), time.time(), rel)])
        return rel

    def truncate_after(self, step: int) -> None:
        """Forget steps after `step` (a resumed run replays them from its checkpoint): rows first, in one
        transaction, then the array files no row points to any more. A row whose path leads outside the run
        (absolute, `..`, a link out) refuses the whole truncation before anything changed (StoreError)."""
        with self._lock:
            rows = self._conn.execute("SELECT kind, step, path FROM arrays WHERE step > ?", (int(step),)).fetchall()
            for kind, s, rel in rows:
                inside_run(self.run_dir, rel, f"arrays row ({kind!r}, {s}) path")
            paths = [self.run_dir / rel for _, _, rel in rows]  # (a link inside the run: the link goes, not its target)
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("DELETE FROM scalars WHERE step > ?", (int(step),))
                self._conn.execute("DELETE FROM arrays WHERE step > ?", (int(step),))
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        for path in paths:
            path.unlink(missing_ok=True)

    def log_event(self, kind: str, message: str) -> None:
        self._exec("INSERT INTO events (time, kind, message) VALUES (?, ?, ?)", (time.time(), str(kind), str(message)))

    def set_meta(self, key: str, value: Any) -> None:
        try:
            text = to_json(value)
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
        """The oldest unconsumed control command, marked consumed; None if there is none. Settings
        (`set ...` rows, core/steering.py) wait for `poll_settings`: a paused trainer takes them on resume."""
        rows = self._exec(f"SELECT id, command FROM control WHERE consumed_at IS NULL AND command NOT LIKE "
                          f"'{SETTING_PREFIX}%' ORDER BY id LIMIT 1")
        if not rows:
            return None
        row = rows[0]
        self._exec("UPDATE control SET consumed_at = ? WHERE id = ?", (time.time(), row[0]))
        return row[1] if row[1] in COMMANDS else None

    def poll_settings(self) -> list[str]:
        """Every unconsumed setting (the text after `set `), oldest first, marked consumed in one transaction."""
        def take() -> list[tuple[int, str]]:
            rows = self._conn.execute(f"SELECT id, command FROM control WHERE consumed_at IS NULL AND command LIKE "
                                      f"'{SETTING_PREFIX}%' ORDER BY id").fetchall()
            self._conn.executemany("UPDATE control SET consumed_at = ? WHERE id = ?",
                                   [(time.time(), i) for i, _ in rows])
            return rows
        return [text[len(SETTING_PREFIX):] for _, text in self._transaction(take)]

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
