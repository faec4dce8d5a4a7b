"""Combine's interpolation functions, vectorised, with their derivatives.

* :func:`smooth_step` — the quintic step used by vertical template morphing
  (``smoothStepFunc``, ``interface/CombineMathFuncs.h``): sign(x) outside the region |x| < q,
  ``u(3u^4 - 10u^2 + 15)/8`` with u = x/q inside; value, first and second derivatives are
  continuous.
* :func:`asym_log_kappa` — the exponent slope of an asymmetric log-normal / AsymPow
  (``logKappaForX``): the factor is ``exp(theta * L(theta))`` with L = ln(kappa_hi) above
  theta = 0.5, -ln(kappa_lo) below -0.5 and a quintic blend in between.
"""

from __future__ import annotations

import numpy as np


def smooth_step(x: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """S(x; q) and dS/dx."""
    x = np.asarray(x, dtype=float)
    q = np.broadcast_to(np.asarray(q, dtype=float), x.shape)
    inside = np.abs(x) < q
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


def asym_factor_log(theta, log_lo, log_hi) -> tuple[np.ndarray, np.ndarray]:
    """ln of the asymmetric factor, theta*L(theta), and its derivative L + theta*L'."""
    L, dL = asym_log_kappa(theta, log_lo, log_hi)
    return theta * L, L + theta * dL
