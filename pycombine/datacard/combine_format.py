"""Combine's spelling of numbers in a combined card (``combineCards.py``'s helpers).

A cell is formatted when the card is read, as in Combine: the column widths count the cells as
written, and the written text must match Combine's token for token.
"""

from __future__ import annotations

from .model import Effect


def float_to_string(value: float) -> str:
    """Combine's ``FloatToString``: ``%.10f`` with trailing zeros and dot stripped."""
    return ("%.10f" % value).rstrip("0").rstrip(".")


def float_to_string_scientific(value: float, etype: str = "g") -> str:
    """Combine's ``FloatToStringScientific``: ``%.<k>g`` with k = max(4, significant digits - 1)."""
    s = float_to_string(value)
    q = s.replace(".", "").lstrip("0")
    nq = max(len(q) - 1, 4)
    return ("%%.%i%c" % (nq, etype)) % value


def format_rate(value: float) -> str:
    """A rate cell: FloatToString if 0 or > 1e-3, else FloatToStringScientific (so 1e-06)."""
    return float_to_string(value) if (value == 0 or value > 1e-3) else float_to_string_scientific(value)


def format_effect(value: Effect) -> str:
    """A systematic cell: ``str(float)`` for symmetric values (Combine's ``elif type in (...)``
    compares the *builtin* ``type`` and never fires), ``lo/hi`` with FloatToString, '-' for 0."""
    if isinstance(value, (tuple, list)):
        return f"{float_to_string(value[0])}/{float_to_string(value[1])}"
    if value == 0:
        return "-"
    return str(value)
