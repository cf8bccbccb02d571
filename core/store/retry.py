"""The writer's answer to a store locked by another process: wait and retry, never fail the run.

SQLite's busy timeout (common.BUSY_MS) waits for the write lock once; a reader or a tool that holds it longer
(`BEGIN IMMEDIATE` in a sqlite3 shell, a backup) used to end the run failed with "database is locked".
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import DiskFullError, is_disk_full
from core.store.common import is_locked

MAX_DELAY_S = 2.0  # backoff between tries, after each busy timeout


def retry_locked(conn: sqlite3.Connection, fn: Callable[[], Any], db: Path) -> Any:
    """fn(), again and again while `db` is locked elsewhere past the busy timeout (with backoff). Said once per
    wait on stderr (the run's train.log), and again with how long it lasted when it ends. A failed statement
    never leaves a transaction open; a full disk is a DiskFullError naming `db`."""
    waited_since, delay = None, 0.05
    while True:
        try:
            out = fn()
        except BaseException as e:
            if conn.in_transaction:  # a failed COMMIT too: never leave the next write inside this one
                conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.OperationalError) and is_disk_full(e):
                raise DiskFullError(f"no space left on device while writing {db}") from None
            if not is_locked(e):
                raise
            if waited_since is None:
                waited_since = time.monotonic()
                print(f"warning: {db} is locked by another process; training waits and retries its writes",
                      file=sys.stderr, flush=True)
            time.sleep(delay)
            delay = min(delay * 2, MAX_DELAY_S)
            continue
        if waited_since is not None:
            print(f"warning: {db} was locked for {time.monotonic() - waited_since:.1f} s; writes continue",
                  file=sys.stderr, flush=True)
        return out
