"""Giving freed heap memory back to the operating system between the phases of a large run.

Building a large model allocates tens of thousands of small arrays (one per template read, per-bin
records of autoMCStats) that are garbage once the model is compiled; glibc's allocator keeps the
pages of such freed blocks, so they stay resident -- and count in the run's peak memory -- for the
rest of the process. ``malloc_trim`` hands every free page back. On platforms without glibc this
is a no-op.
"""

from __future__ import annotations

import sys

#: models storing fewer values than this are left alone (a trim walks the whole heap: ~ms)
LARGE_MODEL_VALUES = 5_000_000

_libc = False  # the C library (a ctypes.CDLL), None without malloc_trim; False: not looked up yet


def _malloc_trim():
    global _libc
    if _libc is False:
        _libc = None
        if sys.platform.startswith("linux"):
            import ctypes  # here, not at start-up: only large models get this far

            try:
                lib = ctypes.CDLL("libc.so.6")  # glibc's name; other C libraries have no malloc_trim
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
