"""The quadratic (skew) expansion of a simplified likelihood: a, b, c and rho from m1, m2, m3.

Buckley et al., JHEP 04 (2019) 064, eqs. 2.6-2.12: the background of bin i is modelled as
``a_i + b_i t_i + c_i t_i^2`` with ``t ~ MVN(0, rho)`` (unit variances). The coefficients are
the unique choice that reproduces the first three moments of the background distribution:
E = m1_i, Cov = m2_ij and the diagonal third central moment m3_i. The map is kept apart from the
model building so that the tests can check it against the analytic moments of the expansion.

It exists only where ``8 m2_ii^3 >= m3_i^2`` (a quadratic in one Gaussian cannot be more skewed);
:func:`violations` names the bins where it fails so that callers refuse such inputs instead of
silently dropping the skew term (what some tools do).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: |c_i| below this fraction of sqrt(m2_ii) counts as no skew: the c -> 0 limits are used
C_ZERO = 1e-9


@dataclass
class Expansion:
    """Coefficients of ``lambda_i = mu s_i + a_i + b_i t_i + c_i t_i^2``, ``t ~ MVN(0, rho)``."""

    a: np.ndarray  # (n,)
    b: np.ndarray  # (n,)
    c: np.ndarray  # (n,)
    rho: np.ndarray  # (n, n) correlation matrix of t (unit diagonal)


def violations(m2: np.ndarray, m3: np.ndarray) -> list[int]:
    """Bins where the expansion does not exist: ``8 m2_ii^3 < m3_i^2`` (with a relative slack of 1e-12)."""
    var = np.diag(np.asarray(m2, dtype=float))
    m3 = np.asarray(m3, dtype=float)
    lhs = 8.0 * var ** 3
    return [int(i) for i in np.nonzero(lhs < m3 ** 2 * (1.0 - 1e-12))[0]]


def coefficients(m1: np.ndarray, m2: np.ndarray, m3: np.ndarray) -> Expansion:
    """a, b, c, rho of the expansion (the paper's eqs. 2.9-2.12; c -> 0 limits where m3 = 0).

    Raises ``ValueError`` naming the first bin where ``8 m2_ii^3 < m3_i^2`` or the variance is
    not positive; callers check :func:`violations` first to report all of them with labels.
    """
    m1 = np.asarray(m1, dtype=float)
    m2 = np.asarray(m2, dtype=float)
    m3 = np.asarray(m3, dtype=float)
    var = np.diag(m2).copy()
    bad = violations(m2, m3)
    if bad:
        raise ValueError(f"bin {bad[0]}: 8 m2^3 < m3^2, the quadratic expansion does not exist")
    if not (var > 0).all():
        raise ValueError(f"bin {int(np.argmin(var))}: the variance m2 is not positive")
    n = m1.size
    c = np.zeros(n)
    for i in range(n):
        if m3[i] == 0.0:
            continue
        ratio = 8.0 * var[i] ** 3 / m3[i] ** 2
        angle = 4.0 * math.pi / 3.0 + math.atan(math.sqrt(max(ratio - 1.0, 0.0))) / 3.0
        c[i] = -math.copysign(1.0, m3[i]) * math.sqrt(2.0 * var[i]) * math.cos(angle)
    # |c| is tiny when the skew is negligible: treat it as zero so rho uses its exact limit
    c = np.where(np.abs(c) < C_ZERO * np.sqrt(var), 0.0, c)
    b = np.sqrt(np.maximum(var - 2.0 * c ** 2, 0.0))
    a = m1 - c
    return Expansion(a, b, c, correlation(m2, b, c))


def correlation(m2: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """rho_ij such that Cov(b_i t_i + c_i t_i^2, b_j t_j + c_j t_j^2) = m2_ij for unit-variance t.

    Cov = b_i b_j rho + 2 c_i c_j rho^2 solved for rho (the root continuous at c -> 0), written as
    ``2 m2 / (b_i b_j + sqrt((b_i b_j)^2 + 8 c_i c_j m2))``: the paper's formula with the
    difference of square roots rationalised, exact also where c_i c_j = 0 (rho = m2 / (b_i b_j)).
    """
    bb = np.outer(b, b)
    cc = np.outer(c, c)
    disc = bb ** 2 + 8.0 * cc * m2
    if (disc < 0).any():
        i, j = np.argwhere(disc < 0)[0]
        raise ValueError(f"bins {i} and {j}: no correlation reproduces m2 (the expansion's discriminant is negative)")
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 2.0 * m2 / (bb + np.sqrt(disc))
    rho = np.where(np.isfinite(rho), rho, 0.0)
    np.fill_diagonal(rho, 1.0)
    return 0.5 * (rho + rho.T)


def moments(e: Expansion) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(m1, m2, diag m3) of ``a + b t + c t^2`` for ``t ~ MVN(0, rho)`` in closed form (Isserlis).

    E = a + c; Cov_ij = b_i b_j rho_ij + 2 c_i c_j rho_ij^2;
    m3_i = 6 b_i^2 c_i + 8 c_i^3 (for unit-variance t). Used by the tests and the self-check.
    """
    m1 = e.a + e.c
    m2 = np.outer(e.b, e.b) * e.rho + 2.0 * np.outer(e.c, e.c) * e.rho ** 2
    m3 = 6.0 * e.b ** 2 * e.c + 8.0 * e.c ** 3
    return m1, m2, m3
