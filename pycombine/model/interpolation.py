"""Combine's interpolation functions, vectorised, with their derivatives.

* :func:`smooth_step` — the quintic step used by vertical template morphing
  (``smoothStepFunc``, ``interface/CombineMathFuncs.h``): sign(x) outside the region |x| < q,
  ``u(3u^4 - 10u^2 + 15)/8`` with u = x/q inside; value, first and second derivatives are
  continuous.
* :func:`asym_log_kappa` — the exponent slope of an asymmetric log-normal / AsymPow
  (``logKappaForX``): the factor is ``exp(theta * L(theta))`` with L = ln(kappa_hi) above
  theta = 0.5, -ln(kappa_lo) below -0.5 and a quintic blend in between. With a per-term
  ``code`` it also evaluates HistFactory's normalisation interpolations (pyhf workspaces):
  code 1 (piecewise exponential, ``kappa_hi**theta`` above 0, ``kappa_lo**-theta`` below) and
  code 4 (a degree-6 polynomial in |theta| < 1 matching value, slope and curvature of the code-1
  exponentials at +-1, which it equals outside); code 0 is Combine's.

Template morphs with a smoothing region ``q = 0`` are piecewise linear (HistFactory's histosys
code 0); ``q = 1`` is HistFactory's code 4p, the same quintic as Combine's.
"""

from __future__ import annotations

import numpy as np


def smooth_step(x: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """S(x; q) and dS/dx."""
    x = np.asarray(x, dtype=float)
    q = np.asarray(q, dtype=float)
    inside = np.abs(x) < q
    if inside.all():  # the usual case in a fit: the same numbers in half the numpy calls
        u = x / q
        u2 = u * u
        return 0.125 * u * (u2 * (3.0 * u2 - 10.0) + 15.0), 0.125 * (15.0 * u2 * u2 - 30.0 * u2 + 15.0) / q
    u = np.divide(x, q, out=np.zeros_like(x), where=inside)
    u2 = u * u
    s = np.where(inside, 0.125 * u * (u2 * (3.0 * u2 - 10.0) + 15.0), np.sign(x))
    ds = np.where(inside, 0.125 * (15.0 * u2 * u2 - 30.0 * u2 + 15.0) / np.where(inside, q, 1.0), 0.0)
    return s, ds


def asym_log_kappa(theta: np.ndarray, log_lo: np.ndarray, log_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L(theta) and dL/dtheta for kappas given as ln(kappa_lo), ln(kappa_hi)."""
    theta = np.asarray(theta, dtype=float)
    k_hi = log_hi
    k_lo = -log_lo
    avg = 0.5 * (k_hi + k_lo)
    half = 0.5 * (k_hi - k_lo)
    tx = 2.0 * theta
    tx2 = tx * tx
    h = 0.125 * tx * (tx2 * (3.0 * tx2 - 10.0) + 15.0)
    dh = 0.125 * (15.0 * tx2 * tx2 - 30.0 * tx2 + 15.0) * 2.0
    inside = np.abs(theta) < 0.5
    L = np.where(inside, avg + h * half, np.where(theta >= 0, k_hi, k_lo))
    dL = np.where(inside, half * dh, 0.0)
    return L, dL


def asym_factor_log(theta, log_lo, log_hi, code=None) -> tuple[np.ndarray, np.ndarray]:
    """ln of the asymmetric factor, theta*L(theta), and its derivative L + theta*L'.

    ``code`` (None: all Combine's) selects per term: 0 Combine's AsymPow, 1 and 4 HistFactory's
    normsys interpolation codes (the factor's logarithm and its derivative as well).
    """
    L, dL = asym_log_kappa(theta, log_lo, log_hi)
    val, slope = theta * L, L + theta * dL
    if code is None:
        return val, slope
    theta = np.asarray(theta, dtype=float)
    L1 = np.where(theta >= 0, log_hi, -np.asarray(log_lo))  # code 1: exponent slope of each side
    val = np.where(code == 1, theta * L1, val)
    slope = np.where(code == 1, L1, slope)
    if np.any(code == 4):
        f, df = _code4_poly(theta, log_lo, log_hi)
        inside = (code == 4) & (np.abs(theta) < 1.0)
        outside = (code == 4) & ~inside
        with np.errstate(divide="ignore", invalid="ignore"):
            val = np.where(inside, np.log(np.where(inside, f, 1.0)), np.where(outside, theta * L1, val))
            slope = np.where(inside, df / np.where(inside, f, 1.0), np.where(outside, L1, slope))
    return val, slope


_CODE4_INV: np.ndarray | None = None


def _code4_poly(theta, log_lo, log_hi):
    """HistFactory code 4 inside |theta| < 1: f = 1 + sum_i a_i theta^i (i = 1..6) and df/dtheta.

    The a_i solve six conditions: f, f' and f'' equal those of hi**theta at theta = +1 and of
    lo**-theta at theta = -1.
    """
    global _CODE4_INV
    if _CODE4_INV is None:
        i = np.arange(1, 7, dtype=float)
        rows = [np.ones(6), (-1.0) ** i, i, i * (-1.0) ** (i - 1), i * (i - 1), i * (i - 1) * (-1.0) ** (i - 2)]
        _CODE4_INV = np.linalg.inv(np.array(rows))
    lh = np.asarray(log_hi, dtype=float)
    ll = np.asarray(log_lo, dtype=float)
    hi, lo = np.exp(lh), np.exp(ll)
    b = np.stack([hi - 1.0, lo - 1.0, hi * lh, -lo * ll, hi * lh * lh, lo * ll * ll])  # (6, T)
    a = np.tensordot(_CODE4_INV, b, axes=1)  # (6, T)
    f = np.ones(np.broadcast(theta, lh).shape)
    df = np.zeros_like(f)
    p = np.ones_like(f)
    for j in range(6):  # p = theta**j
        df = df + (j + 1) * a[j] * p
        p = p * theta
        f = f + a[j] * p
    return f, df
