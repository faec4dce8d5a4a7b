"""Exceptions raised by pycombine.

Every problem a user can fix (a malformed datacard, a missing shape file, a bad option value) is
raised as a :class:`PyCombineError` subclass. The command-line front ends print ``str(error)`` as a
single line and exit with status 1; no traceback is shown unless ``--debug`` is given.
"""

from __future__ import annotations


class PyCombineError(Exception):
    """Base class of all user-facing errors."""

    exit_code = 1


class DatacardError(PyCombineError):
    """A datacard cannot be read or is inconsistent.

    ``path`` and ``line`` (1-based) locate the problem; ``str()`` gives ``path:line: message``.
    """

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line

    def located(self, path: str | None = None, line: int | None = None) -> "DatacardError":
        """Fill in the location if it is not known yet and return self (for re-raising)."""
        if self.path is None and path is not None:
            self.path = path
        if self.line is None and line is not None:
            self.line = line
        return self

    def __str__(self) -> str:
        where = self.path or "<datacard>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


class ShapeError(DatacardError):
    """A shape input (file, histogram, dataframe selection) named by the datacard is unusable."""


class OptionError(PyCombineError):
    """A command-line option has an invalid value."""


class ModelError(PyCombineError):
    """The statistical model cannot be built or evaluated as requested."""


class OutputPathError(PyCombineError):
    """An output file cannot be written where the options put it (checked before any computation)."""
