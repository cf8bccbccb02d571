"""Reading a run store from any number of other processes (studio, evaluate, report), live or read-only."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from core.errors import StoreError, TAAFError
from core.store.common import (
    STORE_FILE,
    check_schema,
    checked_status,
    connect,
    is_stale,
    one_line,
    read_writer,
    store_path,
)
from core.store.limits import MAX_CONFIG_BYTES, load_npz, read_small_file
from core.store.paths import inside_run, read_log_tail


class RunReader:
    """Read-only view of a run; safe beside a live writer. On a read-only folder it opens the
    database with `immutable=1`: a snapshot that ignores the WAL (see docs/run-store.md)."""

    def __init__(self, run_dir: str | Path, immutable: bool | None = None, stale_after: float = 60.0) -> None:
        self.run_dir = Path(run_dir)
        self.stale_after = stale_after
        db = store_path(self.run_dir)
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
        conn = connect(db.resolve().as_uri() + ("?immutable=1" if immutable else "?mode=ro"), uri=True, readonly=True)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            conn.close()
            raise
        except sqlite3.DatabaseError as e:
            conn.close()
            raise StoreError(f"{self.run_dir}: {STORE_FILE} is corrupt or not a run store ({e})") from None
        check_schema(conn, self.run_dir)
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
            text = read_small_file(inside_run(self.run_dir, "config.json", "config"), MAX_CONFIG_BYTES, "config")
            cfg = json.loads(text)
        except FileNotFoundError:
            raise StoreError(f"{path}: missing (half-created run)") from None
        except (OSError, ValueError, RecursionError) as e:
            raise StoreError(f"{path}: not readable JSON ({one_line(e)})") from None
        if not isinstance(cfg, dict):
            raise StoreError(f"{path}: expected a JSON object of settings, got {type(cfg).__name__}")
        return cfg

    def meta(self) -> dict[str, Any]:
        out = {}
        for k, v in self._query("SELECT key, value FROM meta"):
            try:
                out[k] = json.loads(v)
            except (TypeError, ValueError, RecursionError):
                raise StoreError(f"{self.run_dir / STORE_FILE}: meta {k!r} = {str(v)[:60]!r} is not JSON") from None
        return out

    def status(self) -> dict[str, Any]:
        """status, error, pid, host, started, updated (unix s), age_s and stale: a running/paused run
        whose writer process is gone (on this host) or whose heartbeat is older than `stale_after` seconds (on
        another host); see common.is_stale."""
        rows = self._query("SELECT status, error, pid, host, started, updated FROM status WHERE id = 1")
        if not rows:
            raise StoreError(f"{self.run_dir}: {STORE_FILE} has no status row (half-created run store)")
        st = checked_status(dict(zip(("status", "error", "pid", "host", "started", "updated"), rows[0], strict=True)),
                            self.run_dir / STORE_FILE)
        st["age_s"] = time.time() - st["updated"]
        with self._lock:
            writer = read_writer(self._conn)
        st["stale"] = is_stale(st, writer, self.stale_after)
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

    def array_steps(self, kind: str = "probe", since_step: int = -1, upto: int | None = None) -> list[int]:
        """Steps with `kind` arrays, ascending: those > since_step (and <= upto). A live reader passes the last
        step it holds, so each look costs the new rows only (the primary key's range), not the whole run."""
        where, params = "kind = ? AND step > ?", [kind, int(since_step)]
        if upto is not None:
            where += " AND step <= ?"
            params.append(int(upto))
        return [r[0] for r in self._query(f"SELECT step FROM arrays WHERE {where} ORDER BY step", params)]

    def arrays(self, step: int, kind: str = "probe", keys: list[str] | None = None) -> dict[str, np.ndarray]:
        """The arrays recorded at `step`; `keys` reads only those members (absent ones are left out)."""
        rows = self._query("SELECT path FROM arrays WHERE kind = ? AND step = ?", (kind, int(step)))
        if not rows:
            raise StoreError(f"{self.run_dir}: no {kind!r} arrays at step {step}")
        path = inside_run(self.run_dir, rows[0][0], f"{kind!r} arrays path of step {step}")
        try:
            return load_npz(path, keys)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise StoreError(f"{path}: cannot load {kind!r} arrays of step {step} ({one_line(e)})") from None

    def events(self) -> pd.DataFrame:
        rows = self._query("SELECT id, time, kind, message FROM events ORDER BY id")
        return pd.DataFrame(rows, columns=["id", "time", "kind", "message"])

    def log_tail(self, n_lines: int = 50) -> str:
        """The last n_lines of train.log ('' if there is none); a link out of the run is not followed."""
        return read_log_tail(self.run_dir, n_lines)


def _from_config(cfg: dict, *path: str) -> Any:
    for p in path:
        cfg = cfg.get(p) if isinstance(cfg, dict) else None
    return cfg


_ROW_TYPES = {"strategy": (str,), "preset": (str,), "seed": (int,), "total_steps": (int,), "T": (int,),
              "epochs": (int,), "last_val_acc_f": (int, float), "test_acc_f": (int, float), "created": (int, float)}


def _check_row_types(row: dict[str, Any], db: Path) -> None:
    """The pages compute with these: a crafted meta value of another type is the row's problem, not theirs."""
    for key, types in _ROW_TYPES.items():
        v = row.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, types)):
            for k in _ROW_TYPES:
                row[k] = None
            row["status"] = "unknown"
            raise StoreError(f"{db}: {key} = {str(v)[:60]!r} is not {'text' if types == (str,) else 'a number'}")


LIST_COLUMNS = ["name", "path", "status", "strategy", "preset", "seed", "T", "epochs", "steps", "total_steps",
                "last_val_acc_f", "test_acc_f", "created", "updated", "problem"]


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
                    T=meta.get("T", _from_config(cfg, "model", "T")),
                    epochs=meta.get("epochs", _from_config(cfg, "train", "epochs")),
                    steps=max(r.last_step(), 0), total_steps=meta.get("total_steps"),
                    last_val_acc_f=last[0][0] if last else None,
                    # the fused head's test accuracy, written once the run has finished (Trainer.finish)
                    test_acc_f=_from_config(meta, "test", "acc_f"),
                    created=meta.get("created", st["started"]), updated=st["updated"])
                _check_row_types(row, d / STORE_FILE)
        except (TAAFError, sqlite3.Error, OSError, ValueError) as e:
            row["problem"] = str(e).splitlines()[0] if str(e) else type(e).__name__
        except Exception as e:  # noqa: BLE001 (a crafted store must never break the whole list; one row says why)
            row["problem"] = f"{d / STORE_FILE}: unreadable ({one_line(e)})"
        out.append(row)
    return pd.DataFrame(out, columns=LIST_COLUMNS)
