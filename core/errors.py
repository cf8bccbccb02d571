"""Errors the user can fix. Each message is one line naming the file, key or value and what was expected."""

from __future__ import annotations

from pathlib import Path


class TAAFError(Exception):
    """Base class: the CLI prints `error: <message>` and exits with status 2."""


class ConfigError(TAAFError):
    """A config file, key or value is wrong."""


class DataError(TAAFError):
    """A dataset file or folder is missing, corrupt or of the wrong schema."""


class RunExistsError(TAAFError):
    """A run directory already exists where a new run was asked for."""


class CheckpointError(TAAFError):
    """A checkpoint is missing or cannot be loaded."""


class StoreError(TAAFError):
    """A run store is missing, corrupt or half-written."""


class DiskFullError(TAAFError):
    """The disk (or quota) filled up while the run wrote a file: the run is marked failed; resume when space is back."""


def is_disk_full(e: BaseException) -> bool:
    """Whether an error says the device or quota is full (an OSError, or SQLite's own wording), itself or an error
    it was raised from or while handling (torch.save turns a full disk into a RuntimeError about file positions)."""
    import errno
    import sqlite3

    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(e, sqlite3.OperationalError) and "disk is full" in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False


class TrainingFailed(TAAFError):
    """The run cannot go on (non-finite loss): the store says failed, the last checkpoint is kept; exit status 1."""


def run_ending(e: BaseException, step: int, run_dir: Path) -> tuple[str, str, BaseException]:
    """What an error that ends a run means for its store: (status, the error line, the error to raise on)."""
    if isinstance(e, KeyboardInterrupt):
        return "interrupted", f"interrupted at step {step}; resume with --resume", e
    if isinstance(e, (TrainingFailed, DiskFullError)):
        return "failed", str(e), e
    if is_disk_full(e):  # a write this code does not wrap itself (the trainer's own files)
        full = DiskFullError(f"no space left on device while writing {getattr(e, 'filename', None) or run_dir}")
        return "failed", str(full), full
    return "failed", f"{type(e).__name__}: {e}", e


