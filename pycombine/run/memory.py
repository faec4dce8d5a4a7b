"""Giving freed heap memory back to the operating system between the phases of a large run.

Building a large model allocates tens of thousands of small arrays (one per template read, per-bin
records of autoMCStats) that are garbage once the model is compiled; glibc's allocator keeps the
pages of such freed blocks, so they stay resident -- and count in the run's peak memory -- for the
rest of the process. ``malloc_trim`` hands every free page back. On platforms without glibc this
is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: models storing fewer values than this are left alone (a trim walks the whole heap: ~ms)
LARGE_MODEL_VALUES = 5_000_000

_libc: ctypes.CDLL | None | bool = False  # False: not looked up yet


def _malloc_trim():
    global _libc
    if _libc is False:
        _libc = None
        if sys.platform.startswith("linux"):
            try:
                lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                _libc = lib if hasattr(lib, "malloc_trim") else None
            except OSError:
                _libc = None
    return None if _libc is None else _libc.malloc_trim


def release_free_memory(model_values: int) -> None:
    """Return freed heap pages to the system, for models storing at least
    :data:`LARGE_MODEL_VALUES` numbers (``model_values``)."""
    if model_values < LARGE_MODEL_VALUES:
        return
    trim = _malloc_trim()
    if trim is None:
        return
    trim(0)
