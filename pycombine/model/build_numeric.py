"""Number formatting and Poisson helpers shared by the model builder.

Combine passes many numbers through ``%g``/``%f`` strings on their way into RooFit; the builder
rounds the same way so that ranges and constants agree to the last digit.
"""

from __future__ import annotations

import math

import numpy as np

FLOOR = 1e-9


def round_g(x: float) -> float:
    """A number as RooFit's factory sees it after "%g" formatting (6 significant digits)."""
    return float("%g" % x)


def round_f(x: float) -> float:
    """A number after "%f" formatting (6 decimals), as Combine writes gmN ranges and kappas."""
    return float("%f" % x)


def tmath_poisson(x: float, par: float) -> float:
    """ROOT's TMath::Poisson(x, par) for real x."""
    if x < 0:
        return 0.0
    if x == 0.0:
        return math.exp(-par)
    if par <= 0:
        return 0.0
    if x <= 1e6:
        log_p = x * math.log(par) - math.lgamma(x + 1.0) - par
    else:
        # huge counts (gmN N = 1e20): the form above is a difference of huge terms that loses every
        # digit; Stirling's series in terms of par/x keeps them
        log_p = x * math.log(par / x) + (x - par) - 0.5 * math.log(2.0 * math.pi * x) - 1.0 / (12.0 * x)
    # where C++ would overflow to inf Python raises: the callers only compare the value with 1e-12
    return math.inf if log_p > 700.0 else math.exp(log_p)


def mass_string(mass: float) -> str:
    """``$MASS`` as Combine substitutes it: combine passes ``-m %f`` of a float32 to text2workspace."""
    m = float("%f" % float(np.float32(mass)))
    return "%d" % m if m % 1 == 0 else str(m)


def is_float(text: str) -> bool:
    """Whether ``text`` parses as a Python float."""
    try:
        float(text)
        return True
    except ValueError:
        return False
