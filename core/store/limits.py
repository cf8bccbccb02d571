"""What is read from a run folder, and how much: only regular files, each within a stated size. A run folder is
untrusted input (docs/run-store.md): a FIFO named config.json would block its reader forever, and a 600 KB npz
can inflate to gigabytes; both are refused with one line naming the file."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import numpy as np

from core.errors import StoreError

MAX_CONFIG_BYTES = 1 << 20  # config.json
MAX_LAUNCH_BYTES = 64 << 10  # launch.json (train.log: paths.MAX_LOG_TAIL_BYTES from its end)
MAX_ARRAY_BYTES = 64 << 20  # one array of a probe npz, uncompressed
MAX_NPZ_BYTES = 256 << 20  # all arrays of one npz, uncompressed (and the file itself)
MAX_NPZ_MEMBERS = 4096


def require_regular(path: Path, what: str) -> os.stat_result:
    """The stat of `path` (links followed) if it is a regular file; StoreError naming it otherwise."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(f"{path}: {what} is not a regular file; refused")
    return st


def read_small_file(path: Path, limit: int, what: str) -> bytes:
    """The bytes of a regular file of at most `limit` bytes. FileNotFoundError if absent; StoreError (one line)
    for a FIFO, device or folder (never opened blocking) and for a larger file."""
    require_regular(path, what)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))  # swapped for a FIFO: no block
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise StoreError(f"{path}: {what} is not a regular file; refused")
        if st.st_size > limit:
            raise StoreError(f"{path}: {what} is {st.st_size} bytes, over the limit of {limit}; refused")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:  # grew while being read
        raise StoreError(f"{path}: {what} is over the limit of {limit} bytes; refused")
    return data


def _member_header(zf: zipfile.ZipFile, name: str) -> tuple[tuple[int, ...], np.dtype]:
    with zf.open(name) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    return shape, dtype


def load_npz(path: Path, keys: list[str] | None = None) -> dict[str, np.ndarray]:
    """The arrays of an npz (only `keys` when given), each member's header checked before anything is
    inflated: no object arrays, at most MAX_ARRAY_BYTES per array and MAX_NPZ_BYTES in all. StoreError (one line)
    for a file that breaks a limit; ValueError / zipfile.BadZipFile for a malformed one."""
    st = require_regular(path, "arrays file")
    if st.st_size > MAX_NPZ_BYTES:
        raise StoreError(f"{path}: arrays file is {st.st_size} bytes, over the limit of {MAX_NPZ_BYTES}; refused")
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if n.endswith(".npy")]
        if len(names) > MAX_NPZ_MEMBERS:
            raise StoreError(f"{path}: {len(names)} arrays, over the limit of {MAX_NPZ_MEMBERS}; refused")
        wanted = [n for n in names if keys is None or n[: -len(".npy")] in keys]
        total = 0
        for name in wanted:  # every header first: nothing is inflated unless all of them pass
            key = name[: -len(".npy")]
            shape, dtype = _member_header(zf, name)
            if dtype.hasobject:
                raise StoreError(f"{path}: array {key!r} holds Python objects (a pickle); refused")
            nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if nbytes > MAX_ARRAY_BYTES:
                raise StoreError(f"{path}: array {key!r} of shape {shape} {dtype} is {nbytes} bytes uncompressed, "
                                 f"over the limit of {MAX_ARRAY_BYTES}; refused")
            total += nbytes
            if total > MAX_NPZ_BYTES:
                raise StoreError(f"{path}: arrays over {MAX_NPZ_BYTES} bytes uncompressed in all; refused")
        for name in wanted:
            with zf.open(name) as f:
                out[name[: -len(".npy")]] = np.lib.format.read_array(f, allow_pickle=False)
    return out
