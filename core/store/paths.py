"""Paths inside a run folder. Whatever a run folder holds is untrusted input (a copied or crafted run): a
path read from its store or config, and every file the store and trainer open there, must stay inside it."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from core.errors import StoreError

MAX_LOG_TAIL_BYTES = 1 << 20  # a log without newlines is never read whole (core/store/limits.py has the rest)

LOG_FILE = "train.log"
# Temporary files the writer, the trainer and the launcher leave behind when killed mid-write.
TEMP_GLOBS = (".*.tmp", "arrays/.*.tmp", "checkpoints/*.tmp")


def inside_run(run_dir: str | Path, rel: str | Path, what: str = "path") -> Path:
    """`run_dir / rel`, resolved, if it stays inside the run folder; StoreError (one line) otherwise.

    Refused: absolute paths, any `..` component, and names that resolve outside the run folder through a
    symbolic link (of the file itself or of a folder on the way). The file need not exist."""
    run_dir = Path(run_dir)
    text = str(rel)
    parts = PurePosixPath(text.replace("\\", "/")).parts
    if not text or os.path.isabs(text) or text.startswith(("/", "\\")) or ".." in parts or "\0" in text:
        raise StoreError(f"{run_dir}: {what} {text!r} is not a relative path inside the run folder; refused")
    root = run_dir.resolve()
    target = (run_dir / text).resolve()
    if target != root and not target.is_relative_to(root):
        raise StoreError(f"{run_dir}: {what} {text!r} leads outside the run folder (to {target}); refused")
    return target


def read_log_tail(run_dir: str | Path, n_lines: int = 50) -> str:
    """The last n_lines of the run's train.log: '' if there is none or it is unreadable, and a one-line
    notice instead of its text if it is a link leading outside the run folder or not a regular file."""
    try:
        path = inside_run(run_dir, LOG_FILE, "log")
    except StoreError as e:
        return f"(train.log not shown: {e})"
    if n_lines <= 0 or not path.exists():
        return ""
    if not path.is_file():  # a FIFO or device would block or never end
        return "(train.log not shown: not a regular file)"
    try:
        with open(path, "rb") as f:
            pos = f.seek(0, os.SEEK_END)
            data = b""
            while pos > 0 and data.count(b"\n") <= n_lines and len(data) < MAX_LOG_TAIL_BYTES:
                size = min(1 << 16, pos)
                pos -= size
                f.seek(pos)
                data = f.read(size) + data
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-n_lines:])


def remove_temp_files(run_dir: str | Path) -> list[str]:
    """Delete the temporary files that killed writers left (names relative to the run). Only regular files
    and links are removed (a link itself, never what it points to); nothing outside the run folder."""
    run_dir, removed = Path(run_dir), []
    for pattern in TEMP_GLOBS:
        for p in sorted(run_dir.glob(pattern)):
            parent_ok = p.parent.resolve() == run_dir.resolve() or p.parent.resolve().is_relative_to(run_dir.resolve())
            if parent_ok and (p.is_symlink() or p.is_file()):
                p.unlink(missing_ok=True)
                removed.append(str(p.relative_to(run_dir)))
    return removed
