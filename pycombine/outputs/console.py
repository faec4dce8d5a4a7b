"""Number formatting of Combine's console output."""

from __future__ import annotations

import math


def cpp(x: float) -> str:
    """A double printed by C++ ``std::cout <<`` with default settings (6 significant digits)."""
    x = float(x)
    if math.isnan(x):
        return "nan" if math.copysign(1.0, x) > 0 else "-nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return format(x, ".6g")
