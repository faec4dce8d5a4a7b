"""Per-event tables: the inputs of per-event likelihood-ratio channels (``docs/UNBINNED.md``).

A table holds one row per event and named numeric columns (event weights, per-process density
ratios, per-systematic up/down ratios). Three formats, chosen by the file extension:

* ``.csv``: a header line of column names (the csv module), then numbers (numpy's ``loadtxt``;
  not pandas, whose import costs ~0.3 s of every command);
* ``.parquet`` / ``.feather``: through pandas (pyarrow);
* ``.npy``: a numpy structured array (``np.save`` of an array with named fields); loaded without
  pickles.

Only reading and the per-column checks live here (finite numbers, the sign rule the caller asks
for); what the columns mean is decided in :mod:`pycombine.model.unbinned`.
"""

from __future__ import annotations

import csv
import os

import numpy as np

from ..errors import ShapeError

EVENT_TABLE_EXTENSIONS = (".csv", ".parquet", ".feather", ".npy")


class EventTable:
    """The columns of one per-event table, read once; :meth:`column` checks what it returns."""

    def __init__(self, path: str, shown: str | None = None):
        self.path = path
        self.shown = shown or path  # the file as the card names it, for messages
        self._columns = _read(path, self.shown)
        sizes = {len(v) for v in self._columns.values()}
        if len(sizes) > 1:
            raise ShapeError(f"{self.shown}: columns of different lengths {sorted(sizes)}")
        self.nrows = sizes.pop() if sizes else 0

    @property
    def names(self) -> list[str]:
        return list(self._columns)

    def has(self, name: str) -> bool:
        return name in self._columns

    def column(self, name: str, what: str, allow_negative: bool = False) -> np.ndarray:
        """Column ``name`` as float64, or a one-line error naming the file, the column and ``what`` it is."""
        if name not in self._columns:
            shown = ", ".join(self.names[:12]) + (", ..." if len(self._columns) > 12 else "")
            raise ShapeError(f"{self.shown}: no column {name!r} ({what}); the table has: {shown}")
        col = self._columns[name]
        try:
            values = np.asarray(col, dtype=np.float64)
        except (TypeError, ValueError):
            raise ShapeError(f"{self.shown}: column {name!r} ({what}) is not numeric") from None
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.argmax(bad))
            raise ShapeError(f"{self.shown}: column {name!r} ({what}) has a non-finite value {values[i]} in row {i}")
        if not allow_negative and (values < 0).any():
            i = int(np.argmax(values < 0))
            raise ShapeError(f"{self.shown}: column {name!r} ({what}) has a negative value {values[i]:g} in row {i}")
        return values


def is_event_table_path(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in EVENT_TABLE_EXTENSIONS


def _read(path: str, shown: str) -> dict[str, np.ndarray]:
    if not os.path.exists(path):
        raise ShapeError(f"cannot open event table {shown!r}: no such file")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".csv":
        return _read_csv(path, shown)
    if ext == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise ShapeError(f"{shown}: not a numpy array without pickles ({err})") from None
        if arr.dtype.names is None:
            raise ShapeError(f"{shown}: a .npy event table must be a structured array with named fields "
                             f"(got an array of {arr.dtype} without names)")
        return _npy_columns(arr)
    if ext in (".parquet", ".feather"):
        try:
            import pandas as pd
        except ImportError:
            raise ShapeError(f"{shown}: reading {ext} tables needs pandas (pip install pandas pyarrow)") from None
        try:
            df = pd.read_parquet(path) if ext == ".parquet" else pd.read_feather(path)
        except ImportError as err:
            raise ShapeError(f"{shown}: {err}") from None
        except Exception as err:  # pyarrow raises its own classes for damaged files
            raise ShapeError(f"{shown}: cannot read the table ({type(err).__name__}: {err})") from None
        return {str(c): df[c].to_numpy() for c in df.columns}
    raise ShapeError(f"{shown}: unknown event table format {ext!r} (use {', '.join(EVENT_TABLE_EXTENSIONS)})")


def _read_csv(path: str, shown: str) -> dict[str, np.ndarray]:
    with open(path, newline="") as f:
        header = next(csv.reader(f), None)
    if not header:
        raise ShapeError(f"{shown}: empty table (a header line of column names is needed)")
    names = [h.strip() for h in header]
    try:
        # numpy's C reader: a million rows in about a second (the csv module takes ten times longer)
        data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, dtype=np.float64)
    except ValueError as err:
        raise ShapeError(f"{shown}: not a table of numbers under its header ({err})") from None
    if data.shape[0] and data.shape[1] != len(names):
        raise ShapeError(f"{shown}: {data.shape[1]} fields per row but {len(names)} column names")
    if not data.shape[0]:
        return {n: np.zeros(0) for n in names}
    return dict(zip(names, _column_major(data)))


#: rows per chunk when transposing a row-major table (a chunk of ~100 columns stays in cache)
_CHUNK = 4096


def _column_major(rows: np.ndarray) -> list[np.ndarray]:
    """The columns of a row-major ``(events, columns)`` table as contiguous arrays.

    Every later use of a column (checks, template differences, dense morph blocks) reads it
    whole; read in place, each column of a 10^6 x 85 table is 10^6 scattered loads, 85 times
    over. One transposition in row chunks costs about as much as reading the table twice."""
    n, k = rows.shape
    out = np.empty((k, n))
    for i in range(0, n, _CHUNK):
        out[:, i:i + _CHUNK] = rows[i:i + _CHUNK].T
    return list(out)


def _npy_columns(arr: np.ndarray) -> dict[str, np.ndarray]:
    """The fields of a structured array as contiguous float columns (where all are float64 and
    packed, by one chunked transposition; else field by field)."""
    names = arr.dtype.names
    fields = [arr.dtype.fields[n] for n in names]
    packed = all(f[0] == np.dtype(np.float64) and f[1] == 8 * j for j, f in enumerate(fields))
    if packed and arr.dtype.itemsize == 8 * len(names) and arr.ndim == 1 and arr.size:
        plain = np.ascontiguousarray(arr).view(np.float64).reshape(arr.size, len(names))
        return dict(zip(names, _column_major(plain)))
    return {n: np.ascontiguousarray(arr[n]) for n in names}
