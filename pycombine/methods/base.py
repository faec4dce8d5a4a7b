"""What every method hands back to the toy driver for one pseudo-experiment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

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


def limit_row(limit: float, err: float, quantile: float, i_toy: int, extra: dict | None = None) -> LimitRow:
    """One ``limit`` tree row with Combine's types."""
    return LimitRow(float(limit), float(err), float(quantile), int(i_toy), dict(extra or {}))
