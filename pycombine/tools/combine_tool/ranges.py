"""Value lists of combineTool's command line: ``-m 120:130:5,140``, ``-s 1:10:1``, ``--singlePoint``.

A list is comma-separated items; each item is

* a single value, kept as written (``140``, ``125.38``);
* ``lo:hi:step`` (``|`` may replace ``:``): every value from ``lo`` to ``hi`` inclusive in steps of
  ``step``, printed with as many decimals as ``step`` has (``0.2:1:0.25`` gives ``0.20``, ``0.45``, ...);
* ``value:count``: the value repeated ``count`` times (e.g. the same seed for several jobs).

Values are returned as the strings that go on the job command lines, sorted numerically, and
single values and range values are not duplicated (repeats are kept), as combineTool does.
"""

from __future__ import annotations

import re

from ...errors import OptionError

__all__ = ["expand_values"]


def _number(text: str, whole: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise OptionError(f"cannot read {whole!r}: {text!r} is not a number") from None


def expand_values(text: str) -> list[str]:
    """The values of one combineTool list (see the module docstring)."""
    unique: set[str] = set()
    repeated: list[str] = []
    for item in str(text).split(","):
        fields = re.split(r"[:|]", item)
        if len(fields) == 1:
            if fields[0] == "":
                raise OptionError(f"cannot read {text!r}: empty item")
            _number(fields[0], text)
            unique.add(fields[0])
        elif len(fields) == 2:
            _number(fields[0], text)
            count = _number(fields[1], text)
            if count != int(count) or count < 0:
                raise OptionError(f"cannot read {text!r}: the count in {item!r} must be a whole number")
            repeated.extend([fields[0]] * int(count))
        elif len(fields) == 3:
            lo, hi, step = (_number(f, text) for f in fields)
            if step <= 0:
                raise OptionError(f"cannot read {text!r}: the step in {item!r} must be positive")
            decimals = len(fields[2].split(".")[1]) if "." in fields[2] else 0
            # count the points instead of accumulating the step, so that no point is lost to rounding
            n = int((hi - lo) / step + 1e-4 / step) + 1
            for k in range(max(n, 0)):
                unique.add(f"{lo + k * step:.{decimals}f}")
        else:
            raise OptionError(f"cannot read {text!r}: {item!r} has more than three fields")
    return sorted([*unique, *repeated], key=float)
