"""Opening shape input files once per run, resolving paths the way Combine does."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import ShapeError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .dataframe import DataFrameSource
    from .root import RootSource


class ShapeFiles:
    """Cache of open shape files (ROOT or tables), keyed by the path as written in the card.

    Combine's ``FileCache``: a relative path is looked up in the current directory first and,
    if it is not there, relative to the datacard's directory.
    """

    def __init__(self, base_dir: str):
        self.base_dir = base_dir
        self._open: dict[str, RootSource | DataFrameSource] = {}

    def resolve(self, file_string: str) -> str:
        filepath, sep, inner = file_string.partition(":")
        if not os.path.exists(filepath) and not os.path.isabs(filepath):
            candidate = os.path.join(self.base_dir, filepath)
            if os.path.exists(candidate):
                return candidate + sep + inner
        return file_string

    def open(self, file_string: str) -> RootSource | DataFrameSource:
        # the readers are imported on the first file: counting cards never need them
        from .dataframe import DataFrameSource, is_dataframe_path
        from .root import RootSource

        if file_string not in self._open:
            resolved = self.resolve(file_string)
            if is_dataframe_path(resolved):
                self._open[file_string] = DataFrameSource(resolved)
            else:
                if not os.path.exists(resolved):
                    raise ShapeError(f"cannot open shape file {file_string!r}: no such file")
                self._open[file_string] = RootSource(resolved)
        return self._open[file_string]
