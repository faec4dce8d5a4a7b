"""Moments of sampled background totals: m1, m2 and diagonal m3 over parameter draws.

The definitions are those of Combine's FitDiagnostics ``overall_total_M1/M2/M3``
(``--saveOverallShapes --saveWithUncertainties``): the mean of the draws, their central second
moments (normalised by the number of draws) and their central third moments. The draws are made
in chunks so that 10^5 or more of them fit in memory for any model, and the standard-normal
variates come from one generator seeded with ``seed``: the same seed gives the same moments.

Accumulating raw power sums over chunks would lose digits (central moments of totals of
O(10^4) events from sums of O(10^13)); instead the totals of the selected bins are kept (10^5
draws x a few hundred bins is tens of MB) and the moments are taken about the mean.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: draws evaluated per batch (bounds the (chunk, n_parameters) arrays of the model evaluation)
CHUNK = 10_000


def sample_totals(evaluate: Callable[[np.ndarray], np.ndarray], n_dim: int, n_draws: int, seed: int,
                  chunk: int = CHUNK) -> np.ndarray:
    """``(n_draws, n_bins)`` totals: ``evaluate(Z)`` of standard-normal ``Z`` chunks of shape ``(k, n_dim)``."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5157])
    parts = []
    left = int(n_draws)
    while left > 0:
        k = min(chunk, left)
        Z = rng.standard_normal((k, n_dim))
        parts.append(np.asarray(evaluate(Z), dtype=float))
        left -= k
    return np.concatenate(parts, axis=0)


def moments(totals: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(m1, m2, m3) of draws ``totals`` (N, n): mean, central covariance (1/N), central third moment."""
    X = np.asarray(totals, dtype=float)
    m1 = X.mean(axis=0)
    C = X - m1
    m2 = C.T @ C / X.shape[0]
    m3 = (C ** 3).mean(axis=0)
    return m1, 0.5 * (m2 + m2.T), m3


def standard_errors(totals: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sampling errors of (m1, diag m2, m3) (delta method), for tests and the console summary."""
    X = np.asarray(totals, dtype=float)
    N = X.shape[0]
    C = X - X.mean(axis=0)
    m2 = (C ** 2).mean(axis=0)
    m3 = (C ** 3).mean(axis=0)
    m4 = (C ** 4).mean(axis=0)
    m6 = (C ** 6).mean(axis=0)
    e1 = np.sqrt(m2 / N)
    e2 = np.sqrt(np.maximum(m4 - m2 ** 2, 0.0) / N)
    e3 = np.sqrt(np.maximum(m6 - m3 ** 2 - 6 * m4 * m2 + 9 * m2 ** 3, 0.0) / N)
    return e1, e2, e3
