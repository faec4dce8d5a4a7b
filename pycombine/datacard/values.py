"""Values out of datacard tokens: numbers, ``[lo,hi]`` ranges, ``-`` cells, and name vetoes.

Every conversion raises :class:`~pycombine.errors.DatacardError` naming what was expected and the
line, so the readers can convert a token in one call.
"""

from __future__ import annotations

import re
from typing import Sequence

from ..errors import DatacardError

_DIGIT_START = re.compile(r"[0-9]+")


def parse_float(token: str, what: str, line: int | None) -> float:
    """``float(token)``, or a DatacardError saying that ``what`` must be a number."""
    try:
        return float(token)
    except ValueError:
        raise DatacardError(f"{what} must be a number, got {token!r}", line=line) from None


def parse_int(token: str, what: str, line: int | None) -> int:
    """``int(token)``, or a DatacardError saying that ``what`` must be an integer."""
    try:
        return int(token)
    except ValueError:
        raise DatacardError(f"{what} must be an integer, got {token!r}", line=line) from None


def parse_range(text: str, what: str, line: int | None = None) -> tuple[float, float]:
    """Parse ``[lo,hi]`` (a rateParam range; also used by the model builder)."""
    inner = text.strip()
    if not (inner.startswith("[") and inner.endswith("]")):
        raise DatacardError(f"{what}: range must be written [lo,hi], got {text!r}", line=line)
    parts = inner[1:-1].split(",")
    if len(parts) != 2:
        raise DatacardError(f"{what}: range must be written [lo,hi], got {text!r}", line=line)
    try:
        lo, hi = float(parts[0]), float(parts[1])
    except ValueError:
        raise DatacardError(f"{what}: range bounds must be numbers, got {text!r}", line=line) from None
    return lo, hi


def is_dashes(token: str) -> bool:
    """True for ``-``, ``--``, ...: a systematic cell meaning "no effect"."""
    return token == "-" * len(token)


def starts_with_digit(name: str) -> bool:
    """True if the name starts with a digit (refused for channels, prefixed for systematics)."""
    return _DIGIT_START.match(name) is not None


def matches_any(name: str, patterns: Sequence[str]) -> bool:
    """Combine's regex vetoes (``--X-exclude-nuisance``, ``--xc``, ...): ``re.match`` of any
    non-empty pattern."""
    return any(re.match(p, name) for p in patterns if p)
