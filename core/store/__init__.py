"""Run store: one directory per run with an SQLite (WAL) database, config.json and npz probe arrays.

One writer (the training process) and any number of readers (studio, evaluate, report) in other
processes. Layout, tables and the rules that keep readers consistent: docs/run-store.md.
"""

from core.store.common import COMMANDS, SCHEMA_VERSION, STATUSES, STORE_FILE, CommandError, pid_alive
from core.store.control import send_command, send_setting
from core.store.reader import LIST_COLUMNS, RunReader, list_runs
from core.store.writer import RunWriter

__all__ = [
    "COMMANDS", "LIST_COLUMNS", "SCHEMA_VERSION", "STATUSES", "STORE_FILE", "CommandError", "RunReader", "RunWriter",
    "list_runs", "pid_alive", "send_command", "send_setting",
]
