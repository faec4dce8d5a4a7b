"""ROOT's ``TH1::kPoisson`` (Garwood) error bars for observed counts.

Combine draws the observed data in FitDiagnostics shapes (``utils::makeDataGraph``) as a
``TGraphAsymmErrors`` whose y errors come from ``TH1::GetBinErrorLow/Up`` with
``SetBinErrorOption(TH1::kPoisson)``. To produce byte-for-byte comparable outputs we reproduce that
ROOT code path exactly, including its quirks:

* the count is truncated towards zero (``Int_t n = int(c)``), so non-integer (Asimov) contents use
  the interval of ``int(c)`` but are measured from ``c`` itself;
* ``n == 0`` gives a lower error of exactly 0 and an upper error of ``-ln(alpha/2) - c``;
* a negative ``n`` makes ROOT fall back to the normal error, which for a histogram without
  ``Sumw2`` (Combine calls ``Sumw2(false)``) is ``sqrt(|c|)`` on both sides.

With ``alpha = 1 - 0.682689492`` (ROOT's hard-coded 1 sigma coverage)::

    low  = c - gamma_quantile(alpha/2; shape n, scale 1)        (0 if n == 0)
    high = gamma_quantile_c(alpha/2; shape n + 1, scale 1) - c

``gamma_quantile`` is the inverse of the regularised lower incomplete gamma function
(``scipy.special.gammaincinv``) and ``gamma_quantile_c`` the inverse of the upper one
(``scipy.special.gammainccinv``), exactly the ROOT::Math functions used by TH1.

The shapes are integers, so both quantiles are Poisson means: ``gamma_quantile(p; n)`` is the
``x`` with ``P(N <= n-1 | x) = 1 - p`` and ``gamma_quantile_c(p; n+1)`` the ``x`` with
``P(N <= n | x) = p``. For the counts of typical data (up to :data:`DIRECT_MAX_COUNT`) they are
solved here by Newton steps on the Poisson sums (:func:`poisson_mean_for_cdf`), which is faster
than importing scipy.special (0.1 s); larger counts use scipy.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["DIRECT_MAX_COUNT", "ROOT_ONE_SIGMA_ALPHA", "garwood_errors", "garwood_interval", "poisson_mean_for_cdf"]

#: ``1 - 0.682689492``: the tail probability ROOT hard-codes in TH1::GetBinErrorLow/Up (kPoisson).
ROOT_ONE_SIGMA_ALPHA: float = 1.0 - 0.682689492

#: direct Poisson sums are used up to this count and this many (bins x terms) in one call
DIRECT_MAX_COUNT = 1000
DIRECT_MAX_TERMS = 2_000_000


def _poisson_cdf(k: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(P(N <= k), P(N = k))`` for N ~ Poisson(x), elementwise; integer k >= 0, x > 0.

    All terms P(N = j), j <= max(k), as one (elements x terms) array computed in log space (no
    overflow; far tails underflow harmlessly to 0), summed where j <= k: positive terms, so
    the sums are accurate to rounding.
    """
    kmax = int(k.max()) if k.size else 0
    j = np.arange(kmax + 1, dtype=float)
    log_factorial = np.concatenate(([0.0], np.cumsum(np.log(j[1:]))))
    terms = np.exp(j * np.log(x)[:, None] - x[:, None] - log_factorial)
    terms[j > k[:, None]] = 0.0
    return np.minimum(terms.sum(axis=1), 1.0), terms[np.arange(k.size), k]


def poisson_mean_for_cdf(k: ArrayLike, target: float) -> np.ndarray:
    """The Poisson mean ``x`` with ``P(N <= k | x) = target``, elementwise for integers k >= 0.

    Newton steps on ``x`` (``dP/dx = -P(N = k)``), kept inside a bracket that shrinks with every
    step; converges to ~1e-13 relative (the rounding of the sums) in about six steps from the
    normal approximation.
    """
    shape = np.shape(k)
    k = np.asarray(k, dtype=np.int64).ravel()
    from statistics import NormalDist

    z = NormalDist().inv_cdf(target)
    kk = k + 0.5
    x = np.maximum(kk - z * np.sqrt(kk), 1e-3)
    lo = np.full(k.shape, 1e-300)
    hi = k + 10.0 * np.sqrt(k + 1.0) + 40.0
    for _ in range(100):
        cdf, pk = _poisson_cdf(k, x)
        f = cdf - target  # decreasing in x
        lo = np.where(f > 0, np.maximum(lo, x), lo)
        hi = np.where(f < 0, np.minimum(hi, x), hi)
        step = np.divide(f, pk, out=np.zeros_like(f), where=pk > 0)
        new = x + step
        outside = ~((new >= lo) & (new <= hi)) | (pk <= 0)
        new = np.where(outside, 0.5 * (lo + hi), new)
        # the Poisson sums carry ~1e-16 absolute rounding, i.e. ~3e-14 relative in x at count
        # 1000: a step below 1e-13 relative is convergence
        done = np.abs(new - x) <= 1e-13 * np.maximum(x, 1.0)
        x = new
        if done.all():
            break
    return x.reshape(shape)


def garwood_errors(counts: ArrayLike, alpha: float = ROOT_ONE_SIGMA_ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(err_low, err_high)`` as ROOT's ``TH1::GetBinErrorLow/Up`` with ``kPoisson`` would.

    ``counts`` may be any array-like (or scalar) of bin contents; the result has the same shape and
    dtype float64. ``alpha`` is the two-sided tail probability (ROOT's ``kPoisson2`` uses 0.05).
    NaN contents give NaN errors. See the module docstring for the exact ROOT semantics copied,
    including the truncation of non-integer contents and the fallback for negative ones.
    """
    c = np.asarray(counts, dtype=np.float64)
    n = np.trunc(c)  # ROOT: Int_t n = int(c), truncation towards zero
    half = 0.5 * float(alpha)

    with np.errstate(invalid="ignore"):
        positive = n > 0
        # shape n (lower) is only used where n >= 1; shape n + 1 (upper) where n >= 0
        shape_lo = np.where(positive, n, 1.0)
        shape_hi = np.where(n >= 0, n + 1.0, 1.0)
        shape_hi = np.where(np.isnan(shape_hi), 1.0, shape_hi)
        top = float(shape_hi.max()) if shape_hi.size else 0.0
        if top <= DIRECT_MAX_COUNT + 1 and shape_hi.size * (top + 1) <= DIRECT_MAX_TERMS:
            lower_quantile = poisson_mean_for_cdf(shape_lo - 1, 1.0 - half)
            upper_quantile = poisson_mean_for_cdf(shape_hi - 1, half)
        else:
            from scipy.special import gammainccinv, gammaincinv

            lower_quantile = gammaincinv(shape_lo, half)
            upper_quantile = gammainccinv(shape_hi, half)
        low = np.where(positive, c - lower_quantile, 0.0)
        high = upper_quantile - c

        negative = n < 0
        if np.any(negative):
            fallback = np.sqrt(np.abs(c))
            low = np.where(negative, fallback, low)
            high = np.where(negative, fallback, high)

        nan = np.isnan(c)
        if np.any(nan):
            low = np.where(nan, np.nan, low)
            high = np.where(nan, np.nan, high)

    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


def garwood_interval(counts: ArrayLike, alpha: float = ROOT_ONE_SIGMA_ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Return the interval ``(lower_bound, upper_bound) = (c - err_low, c + err_high)``.

    Convenience wrapper around :func:`garwood_errors` for callers that want the interval edges
    (e.g. for printing) rather than the error bar lengths a TGraphAsymmErrors stores.
    """
    c = np.asarray(counts, dtype=np.float64)
    low, high = garwood_errors(c, alpha)
    return c - low, c + high
