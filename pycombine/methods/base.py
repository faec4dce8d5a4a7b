"""What the methods share: what a toy hands back to the toy driver, ``limit`` rows, and the
``name=value,...`` lists of their options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import OptionError
from ..outputs.limit_tree import LimitRow


@dataclass
class ToyOutcome:
    """What one toy produced: tree rows, console text and the value entering the summary."""

    i_toy: int
    rows: list[LimitRow]
    branches: list[tuple[str, np.dtype]]
    stdout: str = ""
    stderr: str = ""
    counted: bool = False  # Combine's mklimit returned true: enters the summary
    limit: float = 0.0
    payload: Any = None  # FitDiagnostics: the FitDiagnosticsResult (for fitDiagnostics*.root)
    toy_data: Any = None  # --saveToys: (counts, global observables or None) of the toy


def limit_row(limit: float, err: float, quantile: float, i_toy: int, extra: dict | None = None) -> LimitRow:
    """One ``limit`` tree row with Combine's types."""
    return LimitRow(float(limit), float(err), float(quantile), int(i_toy), dict(extra or {}))


def parse_assignments(text: str) -> list[tuple[str, float]]:
    """``a=1,b=2.5`` (``--setParametersForGrid``, ``--setParametersForFit/Eval``) as (name, value)
    pairs; empty items are skipped, a missing ``=`` or a non-number is an option error."""
    out = []
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, eq, val = item.partition("=")
        if not eq:
            raise OptionError(f"expected name=value, got {item!r}")
        try:
            out.append((name.strip(), float(val)))
        except ValueError:
            raise OptionError(f"value of {name} is not a number: {val!r}") from None
    return out
