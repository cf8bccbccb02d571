"""Errors the user can fix. Each message is one line naming the file, key or value and what was expected."""


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
