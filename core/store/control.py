"""The control channel's sending side: any process (the studio, `python -m core.control`, a sweep runner) queues a
command or a steering setting for a run's trainer, which polls for them between steps (RunWriter.poll_command,
RunWriter.poll_settings)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from core.errors import StoreError
from core.store.common import COMMANDS, SETTING_PREFIX, CommandError, check_schema, connect, store_path


def send_setting(run_dir: str | Path, payload: str) -> int:
    """Queue one steering setting (`payload`: a JSON object core/steering.py checked) for the run's trainer, which
    applies it at its next step boundary. Returns the command id."""
    return _insert_command(Path(run_dir), SETTING_PREFIX + payload)


def send_command(run_dir: str | Path, command: str) -> int:
    """Queue 'pause' | 'resume' | 'stop' for the run's trainer (it polls between steps). Returns the command id."""
    if command not in COMMANDS:
        raise CommandError(f"unknown run command {command!r}; expected one of {', '.join(COMMANDS)}")
    return _insert_command(Path(run_dir), command)


def _insert_command(run_dir: Path, command: str) -> int:
    conn = connect(str(store_path(run_dir)))  # short-lived; busy_timeout waits out the trainer's step commit
    try:
        check_schema(conn, run_dir)
        conn.execute("BEGIN IMMEDIATE")
        cur = conn.execute("INSERT INTO control (time, command) VALUES (?, ?)", (time.time(), command))
        conn.execute("COMMIT")
        return int(cur.lastrowid)
    except sqlite3.Error as e:
        raise StoreError(f"{run_dir}: cannot send {command!r} ({e})") from None
    finally:
        conn.close()
