"""The building blocks of the NLL: Poisson and per-event terms, per-sample sums, small helpers.

Shared by the one-point likelihood (:mod:`.likelihood`), the batched model (:mod:`.batch`,
:mod:`.batch_gradient`) and the goodness-of-fit statistics; any shape (one dataset or a batch)
where it applies.
"""

from __future__ import annotations

import math

import numpy as np

from .compile import CompiledModel


def poisson_terms(nu: np.ndarray, n: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """The Poisson NLL term of each bin: ``nu - n - n ln(nu / n)`` where events are observed
    (``obs``), ``nu`` elsewhere; any shape (one dataset or a batch).

    Up to the constant ``sum(n - n ln n)`` of the dataset this is ``nu - n ln nu``; written as
    ``n (x - log1p(x))`` with ``x = (nu - n) / n`` it is zero where ``nu = n`` and keeps its digits
    with large yields: with 1e15 events ``nu - n ln nu`` is ~3e16, whose last bit is worth 4 units
    of NLL, more than every difference a limit or fit depends on.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        nn = np.where(obs, n, 1.0)
        x = np.where(obs, (nu - n) / nn, 0.0)
        return np.where(obs, nn * (x - np.log1p(x)), nu)


def per_event_terms(s: np.ndarray, w: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """The NLL term of each event of a per-event channel (``docs/UNBINNED.md``): with ``s`` the
    value ``sum_j N_j r_j(x)`` and ``w`` the weight, ``-w (1 + ln(s / w))`` for weighted events
    (``obs``), 0 for the others; any shape.

    With the extended term ``sum_j N_j`` this is the Poisson form of :func:`poisson_terms` summed
    with ``- sum_i s_i``, written without either: each ``s_i`` is of the order of the total
    yield, so with 10^6 events both sums are ~10^12 and their difference would keep only ~10^-4
    of the NLL's digits -- more than a flat likelihood scan's differences."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ww = np.where(obs, w, 1.0)
        return np.where(obs, -ww * (1.0 + np.log(s / ww)), 0.0)


class SampleSum:
    """Sums of per-entry values per sample. Entries are stored sample by sample, so for large
    models these are segment sums (``np.add.reduceat``: ~10x faster than a bincount, which
    serialises on the few accumulators of samples with 10^6 entries); small models keep the
    bincount (its summation order, hence every digit of their fits, unchanged)."""

    LARGE = 1_000_000

    def __init__(self, m: CompiledModel):
        self.S = m.S
        self.sample = m.entry_sample
        self.starts = None
        if m.E >= self.LARGE:
            counts = np.bincount(m.entry_sample, minlength=m.S)
            if counts.all() and np.all(np.diff(m.entry_sample) >= 0):
                self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.starts is not None:
            return np.add.reduceat(x, self.starts)
        return np.bincount(self.sample, weights=x, minlength=self.S)


def lgamma_sum(x: np.ndarray) -> float:
    # the ln N! constants of Poisson constraints (math.lgamma: scipy.special costs 0.15 s to import)
    return float(sum(math.lgamma(v) for v in x))


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def bb_lite_chain(w_nu: np.ndarray, x: np.ndarray, sigma: np.ndarray, mu: np.ndarray, glob: np.ndarray,
                  pinned: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The NLL's derivative through the closed-form BB-lite solution ``x(mu, sigma)`` of each bin:
    the weights to add to dNLL/dmu and dNLL/dsigma (None when none is needed).

    ``x`` is the chosen root of x^2 + b x + c = 0; where it is not a stationary point of the bin's
    NLL (the expectation hit the floor) the chain goes through x(mu, sigma). Any shape (one
    point's BB-lite bins or a batch of them); ``w_nu`` is dNLL/dnu there.
    """
    d_x = w_nu * sigma + (x - glob)
    ok = (sigma > 0) & (np.abs(d_x) > 1e-12) & ~pinned
    if not ok.any():
        return None
    s = np.where(ok, sigma, 1.0)
    bq = s + mu / s - glob
    den = 2.0 * x + bq
    den = np.where(den == 0, 1e-300, den)
    dx_dmu = -(x / s + 1.0 - glob / s) / den
    dx_dsig = -(x * (1.0 - mu / s**2) + mu * glob / s**2) / den
    return np.where(ok, d_x * dx_dmu, 0.0), np.where(ok, d_x * dx_dsig, 0.0)
