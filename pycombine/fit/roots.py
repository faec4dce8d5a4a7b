"""Brent's root finder for the profile-likelihood crossings.

Our own few lines instead of ``scipy.optimize.brentq`` because importing ``scipy.optimize`` takes
a quarter of a second, half of a small-card command (``combine -M MultiDimFit --algo singles``).
The algorithm is Brent's (1973) ``zeroin``: bisection safeguarded inverse quadratic / secant
interpolation on a bracketing interval, with the stopping rule of scipy's ``brentq``
(``|half bracket| < (xtol + rtol |x|) / 2``).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["brent_root"]

_EPS = 2.220446049250313e-16


def brent_root(f: Callable[[float], float], a: float, b: float, xtol: float = 2e-12, rtol: float = 4 * _EPS,
               maxiter: int = 100) -> float:
    """A root of ``f`` in ``[a, b]``; ``f(a)`` and ``f(b)`` must not have the same sign.

    Raises ValueError when the interval does not bracket a sign change and RuntimeError when
    ``maxiter`` evaluations do not reach the tolerance.
    """
    fa, fb = float(f(a)), float(f(b))
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    if (fa > 0) == (fb > 0):
        raise ValueError(f"f({a}) = {fa} and f({b}) = {fb} have the same sign")
    c, fc = a, fa
    d = e = b - a
    for _ in range(maxiter):
        if abs(fc) < abs(fb):
            # keep b the best estimate; a the previous one, c the other end of the bracket
            a, fa = b, fb
            b, fb = c, fc
            c, fc = a, fa
        tol = 0.5 * (xtol + rtol * abs(b))
        m = 0.5 * (c - b)
        if abs(m) <= tol or fb == 0.0:
            return b
        if abs(e) >= tol and abs(fa) > abs(fb):
            s = fb / fa
            if a == c:  # secant
                p, q = 2.0 * m * s, 1.0 - s
            else:  # inverse quadratic interpolation
                qq, r = fa / fc, fb / fc
                p = s * (2.0 * m * qq * (qq - r) - (b - a) * (r - 1.0))
                q = (qq - 1.0) * (r - 1.0) * (s - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if 2.0 * p < min(3.0 * m * q - abs(tol * q), abs(e * q)):
                e, d = d, p / q  # interpolation accepted
            else:
                d = e = m  # bisection
        else:
            d = e = m
        a, fa = b, fb
        b += d if abs(d) > tol else (tol if m > 0 else -tol)
        fb = float(f(b))
        if (fb > 0) == (fc > 0):
            c, fc = a, fa
            d = e = b - a
    raise RuntimeError(f"no convergence in {maxiter} iterations")
