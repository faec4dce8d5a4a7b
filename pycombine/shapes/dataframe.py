"""Templates from pandas tables (Combine's ``python/DataFrameWrapper.py`` conventions).

A table file is chosen by the extension of the part of the file string before the first
``:``. For csv/json/html/xlsx the index is every column but the last two; pkl/parquet/feather
frames are used with the index they were stored with; h5 needs ``file.h5:key``.

The object string is ``idx1:idx2[:idx3...][,colA:colB]``. If fewer than three index labels are
given, ``:nominal`` is appended; the columns default to ``sum_w:sum_ww``. The selected rows, in
table order, become the bins: content = first column, error = sqrt(second column).
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import ShapeError
from .template import Template

DATAFRAME_EXTENSIONS = (".csv", ".json", ".html", ".pkl", ".xlsx", ".h5", ".parquet", ".feather")


def is_dataframe_path(file_string: str) -> bool:
    return os.path.splitext(file_string.split(":")[0])[1] in DATAFRAME_EXTENSIONS


class DataFrameSource:
    """One table file, loaded once."""

    def __init__(self, file_string: str):
        import pandas as pd

        self.path = file_string
        filepath, _, inner = file_string.partition(":")
        ext = os.path.splitext(filepath)[1]
        if not os.path.exists(filepath):
            raise ShapeError(f"cannot open table file {filepath!r}: no such file")
        try:
            if ext == ".csv":
                df = pd.read_csv(filepath)
                df = df.set_index(df.columns.tolist()[:-2])
            elif ext == ".json":
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
        except ShapeError:
            raise
        except ImportError as exc:
            raise ShapeError(f"reading {filepath!r} needs an optional package: {exc}") from None
        except Exception as exc:
            raise ShapeError(f"cannot read table {filepath!r}: {exc}") from None
        self.df = df
        self._cache: dict[str, Template | None] = {}
        self._by_prefix: dict[int, dict[tuple, list[int]]] = {}

    def _row_index(self, k: int) -> dict[tuple, list[int]]:
        """Row positions grouped by the values of the first ``k`` index levels (built once per k).

        One pass over the table instead of a ``.loc`` lookup per template: tables with
        thousands of templates would otherwise be scanned thousands of times.
        """
        if k not in self._by_prefix:
            levels = [self.df.index.get_level_values(i) for i in range(k)]
            groups: dict[tuple, list[int]] = {}
            for pos, key in enumerate(zip(*levels)):
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
        df = self.df
        if len(columns) != 2:
            raise ShapeError(f"{object_name!r}: the column selector must name two columns, e.g. ',sum_w:sum_ww'")
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ShapeError(f"table {self.path!r} has no column(s) {', '.join(map(repr, missing))}")
        nlevels = df.index.nlevels
        if len(labels) > nlevels:
            raise ShapeError(
                f"{object_name!r} gives {len(labels)} index labels but table {self.path!r} has {nlevels} index levels"
            )
        selection = []
        for i, lab in enumerate(labels):
            dtype = df.index.get_level_values(i).dtype
            # cast each label to the dtype of its index level (labels are text in the card)
            if dtype.kind in ("O", "U", "S") or not isinstance(dtype, np.dtype):
                selection.append(lab)
                continue
            try:
                selection.append(np.array([lab]).astype(dtype)[0])
            except (ValueError, TypeError):
                self._cache[object_name] = None
                return None
        positions = self._row_index(len(selection)).get(tuple(selection))
        if not positions:
            self._cache[object_name] = None
            return None
        # rows in table order, exactly as pandas' .loc on the leading index levels returns them
        sum_w = df[columns[0]].to_numpy(dtype=np.float64)[positions]
        sum_ww = df[columns[1]].to_numpy(dtype=np.float64)[positions]
        # Combine fills a TH1F: contents become float32, and rate -1 / normalisation kappas are
        # the (double) integral of that TH1F, i.e. of the float32-rounded contents.
        contents = sum_w.astype(np.float32)
        tmpl = Template.from_contents(contents, np.sqrt(sum_ww), f"{self.path}:{object_name}")
        self._cache[object_name] = tmpl
        return tmpl
