"""Keep the memory a training step frees inside the process, so the next step reuses it (glibc's malloc).

A step allocates and frees the same few hundred MB-sized tensors every time. glibc serves blocks above its mmap
threshold (128 KiB, adapting up to 32 MiB) from fresh mmaps and trims the heap's free top back to the system, so
every step paid ~3,000 page faults: the kernel zeroing pages that were just given back (about 5 ms of system time
in a ~35 ms CPU step of the default config, 1 thread). With both thresholds raised the pages stay mapped: a run's
memory stays at its peak instead of breathing, and no number changes (only where the bytes live).
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
KEEP_BYTES = 1 << 30


def keep_freed_memory(limit: int = KEEP_BYTES) -> bool:
    """Raise glibc's trim and mmap thresholds to `limit` bytes; False where there is no glibc (nothing changes)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl or another libc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, limit)) and bool(mallopt(M_TRIM_THRESHOLD, limit))
