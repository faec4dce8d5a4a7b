"""Templates from tables (Combine's ``python/DataFrameWrapper.py`` conventions).

A table file is chosen by the extension of the part of the file string before the first
``:``. For csv/json/html/xlsx the index is every column but the last two; pkl/parquet/feather
frames are used with the index they were stored with; h5 needs ``file.h5:key``.

The object string is ``idx1:idx2[:idx3...][,colA:colB]``. If fewer than three index labels are
given, ``:nominal`` is appended; the columns default to ``sum_w:sum_ww``. The selected rows, in
table order, become the bins: content = first column, error = sqrt(second column).

CSV files are read without pandas (importing pandas costs ~0.3 s per ``combine`` call, which
matters in luminosity-scan loops): :func:`_read_csv` reproduces pandas' default column typing
(int64, else float64, else text). The other formats go through pandas.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError
from .template import Template

#: packages pandas needs for some formats (a missing one is named in the error)
OPTIONAL_PACKAGES = ("pyarrow", "fastparquet", "tables", "openpyxl", "lxml", "bs4", "html5lib", "xlrd")

DATAFRAME_EXTENSIONS = (".csv", ".json", ".html", ".pkl", ".xlsx", ".h5", ".parquet", ".feather")


def is_dataframe_path(file_string: str) -> bool:
    return os.path.splitext(file_string.split(":")[0])[1] in DATAFRAME_EXTENSIONS


@dataclass(eq=False)  # numpy fields: a generated __eq__ could not compare them
class _Table:
    """A table as index levels (typed columns) plus value columns, in row order."""

    levels: list[np.ndarray]  # one array per index level
    columns: dict[str, np.ndarray]  # value columns by name

    @property
    def nrows(self) -> int:
        return len(self.levels[0]) if self.levels else 0


_INT = re.compile(r"^\s*[+-]?\d+\s*$")


def _typed(values: list[str]) -> np.ndarray:
    """pandas' default inference for a CSV column: int64, else float64, else text."""
    if values and all(_INT.match(v) for v in values):
        return np.array([int(v) for v in values], dtype=np.int64)
    try:
        return np.array([float(v) if v.strip() else np.nan for v in values], dtype=np.float64)
    except ValueError:
        return np.array(values, dtype=object)


def _read_csv(path: str) -> _Table:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ShapeError(f"table {path!r} is empty")
    header, body = rows[0], [r for r in rows[1:] if r]
    if len(header) < 3:
        raise ShapeError(f"table {path!r} needs index columns plus two value columns (sum_w, sum_ww)")
    for n, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise ShapeError(f"table {path!r} line {n}: {len(r)} fields, the header has {len(header)}")
    cols = list(zip(*body)) if body else [()] * len(header)
    typed = [_typed(list(c)) for c in cols]
    return _Table(typed[:-2], {header[-2]: typed[-2], header[-1]: typed[-1]})


def _from_pandas(df) -> _Table:
    idx = df.index
    levels = [np.asarray(idx.get_level_values(i)) for i in range(idx.nlevels)]
    levels = [lv.astype(object) if lv.dtype.kind in ("U", "S") else lv for lv in levels]
    return _Table(levels, {str(c): np.asarray(df[c]) for c in df.columns})


def _read_with_pandas(filepath: str, ext: str, inner: str) -> _Table:
    import pandas as pd

    if ext == ".json":
        df = pd.read_json(filepath)
        df = df.set_index(df.columns.tolist()[:-2])
    elif ext == ".html":
        df = pd.read_html(filepath)[0]
        df = df.set_index(df.columns.tolist()[:-2])
    elif ext == ".xlsx":
        sheet = inner or 0
        cols = pd.read_excel(filepath, sheet).columns.tolist()
        df = pd.read_excel(filepath, sheet, index_col=list(range(len(cols) - 2)))
    elif ext == ".pkl":
        df = pd.read_pickle(filepath)
    elif ext == ".h5":
        if not inner:
            raise ShapeError(f"HDF5 table {filepath!r} needs a key: write 'file.h5:key'")
        df = pd.read_hdf(filepath, inner)
    elif ext == ".parquet":
        df = pd.read_parquet(filepath)
    elif ext == ".feather":
        df = pd.read_feather(filepath)
    else:  # pragma: no cover - guarded by is_dataframe_path
        raise ShapeError(f"unsupported table format {ext!r}")
    return _from_pandas(df)


def _is_pickle(path: str) -> bool:
    """Pickles of protocol 2 and later (every pandas version) start with the PROTO opcode 0x80."""
    try:
        with open(path, "rb") as f:
            return f.read(1) == b"\x80"
    except OSError:
        return True  # let the reader report it


class DataFrameSource:
    """One table file, loaded once."""

    def __init__(self, file_string: str):
        self.path = file_string
        filepath, _, inner = file_string.partition(":")
        ext = os.path.splitext(filepath)[1]
        if not os.path.exists(filepath):
            raise ShapeError(f"cannot open table file {filepath!r}: no such file")
        if ext == ".pkl" and not _is_pickle(filepath):
            raise ShapeError(f"cannot read table {filepath!r}: not a pickle file (it does not start with a pickle "
                             "header; a .pkl table must be written by pandas' to_pickle)")
        try:
            self.table = _read_csv(filepath) if ext == ".csv" else _read_with_pandas(filepath, ext, inner)
        except ShapeError:
            raise
        except ImportError as exc:
            if (exc.name or "").split(".")[0] in OPTIONAL_PACKAGES:
                raise ShapeError(f"reading {filepath!r} needs an optional package: {exc}") from None
            # pickle imports the module a damaged or foreign file names: not a missing package
            raise ShapeError(f"cannot read table {filepath!r}: not a valid {ext[1:]} file") from None
        except Exception as exc:
            raise ShapeError(f"cannot read table {filepath!r}: {' '.join(str(exc).split())[:200]}") from None
        self._cache: dict[str, Template | None] = {}
        self._by_prefix: dict[int, dict[tuple, list[int]]] = {}

    def _numbers(self, column: str, positions: list[int]) -> np.ndarray:
        """The selected rows of a value column as float64; a cell that is not a number is refused
        with its row (counted from 1 after the header)."""
        values = np.asarray(self.table.columns[column])[positions]
        try:
            return np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            for pos, v in zip(positions, values):
                try:
                    float(v)
                except (TypeError, ValueError):
                    raise ShapeError(f"table {self.path!r}, data row {pos + 1}: the {column} cell {v!r} is not a "
                                     "number") from None
            raise  # pragma: no cover - some cell failed above

    def _row_index(self, k: int) -> dict[tuple, list[int]]:
        """Row positions grouped by the values of the first ``k`` index levels (built once per k).

        One pass over the table instead of a lookup per template: tables with thousands of
        templates would otherwise be scanned thousands of times.
        """
        if k not in self._by_prefix:
            groups: dict[tuple, list[int]] = {}
            for pos, key in enumerate(zip(*(lv.tolist() for lv in self.table.levels[:k]))):
                groups.setdefault(key, []).append(pos)
            self._by_prefix[k] = groups
        return self._by_prefix[k]

    def get(self, object_name: str) -> Template | None:
        """Select rows by ``idx1:idx2[:idx3][,colA:colB]``; None when the selection is empty."""
        if object_name in self._cache:
            return self._cache[object_name]
        index_part, _, column_part = object_name.partition(",")
        columns = (column_part or "sum_w:sum_ww").split(":")
        labels = index_part.split(":")
        if len(labels) < 3:
            labels.append("nominal")
        table = self.table
        if len(columns) != 2:
            raise ShapeError(f"{object_name!r}: the column selector must name two columns, e.g. ',sum_w:sum_ww'")
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise ShapeError(f"table {self.path!r} has no column(s) {', '.join(map(repr, missing))}")
        nlevels = len(table.levels)
        if len(labels) > nlevels:
            raise ShapeError(
                f"{object_name!r} gives {len(labels)} index labels but table {self.path!r} has {nlevels} index levels"
            )
        selection = []
        for i, lab in enumerate(labels):
            dtype = table.levels[i].dtype
            # cast each label to the type of its index level (labels are text in the card), as
            # Combine does with numpy's astype
            if dtype.kind in ("O", "U", "S"):
                selection.append(lab)
                continue
            try:
                selection.append(np.array([lab]).astype(dtype)[0].item())
            except (ValueError, TypeError):
                self._cache[object_name] = None
                return None
        positions = self._row_index(len(selection)).get(tuple(selection))
        if not positions:
            self._cache[object_name] = None
            return None
        # rows in table order, exactly as pandas' .loc on the leading index levels returns them
        sum_w = self._numbers(columns[0], positions)
        sum_ww = self._numbers(columns[1], positions)
        # Combine fills a TH1F: contents become float32, and rate -1 / normalisation kappas are
        # the (double) integral of that TH1F, i.e. of the float32-rounded contents.
        contents = sum_w.astype(np.float32)
        with np.errstate(invalid="ignore"):  # a negative sum_ww gives NaN: refused where errors are used
            errors = np.sqrt(sum_ww)
        tmpl = Template.from_contents(contents, errors, f"{self.path}:{object_name}")
        self._cache[object_name] = tmpl
        return tmpl
