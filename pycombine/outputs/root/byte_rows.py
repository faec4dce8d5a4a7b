"""Many serialized records that differ only in a few fields, assembled in numpy.

A large Combine model's fitDiagnostics file holds ~10^5 TTree branches and RooRealVars, whose
records are the same bytes except for the name and a few numbers. Building each in Python costs
tens of microseconds, seconds in all. Instead the writers (:mod:`.tree_record`, :mod:`.roofit`)
serialize one *template* per shape of record (same type, same name length) with their ordinary
code, find where the variable fields lie in it, and fill a (records x bytes) array per group;
:func:`interleave` puts the groups back in the records' order.
"""

from __future__ import annotations

import numpy as np

__all__ = ["differing", "field_at", "interleave", "place", "put", "rows_of"]


def differing(a: bytes, b: bytes) -> np.ndarray:
    """Positions where two templates of the same length differ (their name bytes, say)."""
    if len(a) != len(b):
        raise ValueError("templates of different lengths")
    return np.nonzero(np.frombuffer(a, np.uint8) != np.frombuffer(b, np.uint8))[0]


def field_at(template: bytes, sentinel: bytes) -> int:
    """The position of ``sentinel`` (a field's value chosen to be unique) in ``template``; -1 if
    it does not occur exactly once (the caller then builds records one by one)."""
    at = template.find(sentinel)
    if at < 0 or template.find(sentinel, at + 1) >= 0:
        return -1
    return at


def rows_of(template: bytes, count: int) -> np.ndarray:
    """``count`` copies of ``template`` as a (count, len) uint8 array."""
    return np.tile(np.frombuffer(template, np.uint8), (count, 1))


def put(rows: np.ndarray, at: int, values: np.ndarray, dtype: str) -> None:
    """Write ``values`` (one per row) as ``dtype`` (big-endian, e.g. ``">f8"``) at column ``at``."""
    arr = np.ascontiguousarray(values, dtype=dtype)
    width = arr.dtype.itemsize * (arr.size // max(len(rows), 1))
    rows[:, at : at + width] = arr.view(np.uint8).reshape(len(rows), width)


def place(dest: np.ndarray, starts: np.ndarray, rows: np.ndarray, idx: np.ndarray) -> None:
    """Copy ``rows`` (the records ``idx``, ascending) into ``dest``, record ``i`` at ``starts[i]``:
    one copy per run of consecutive records."""
    if not idx.size:
        return
    bounds = np.concatenate(([0], np.flatnonzero(np.diff(idx) != 1) + 1, [idx.size])).tolist()
    width = rows.shape[1]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        dest[starts[idx[a]] : starts[idx[b - 1]] + width] = rows[a:b].reshape(-1)


def interleave(blocks: list[np.ndarray], members: list[np.ndarray], total: int) -> np.ndarray:
    """The rows of every group in record order, back to back: ``blocks[g]`` holds the records
    ``members[g]`` (ascending), together ``total`` records."""
    if len(blocks) == 1:
        return blocks[0].reshape(-1)
    lengths = np.zeros(total, np.int64)
    for rows, idx in zip(blocks, members, strict=True):
        lengths[idx] = rows.shape[1]
    starts = np.zeros(total + 1, np.int64)
    np.cumsum(lengths, out=starts[1:])
    out = np.empty(int(starts[-1]), np.uint8)
    for rows, idx in zip(blocks, members, strict=True):
        place(out, starts, rows, idx)
    return out
