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
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["ROOT_ONE_SIGMA_ALPHA", "garwood_errors", "garwood_interval"]

#: ``1 - 0.682689492``: the tail probability ROOT hard-codes in TH1::GetBinErrorLow/Up (kPoisson).
ROOT_ONE_SIGMA_ALPHA: float = 1.0 - 0.682689492


def garwood_errors(counts: ArrayLike, alpha: float = ROOT_ONE_SIGMA_ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(err_low, err_high)`` as ROOT's ``TH1::GetBinErrorLow/Up`` with ``kPoisson`` would.

    ``counts`` may be any array-like (or scalar) of bin contents; the result has the same shape and
    dtype float64. ``alpha`` is the two-sided tail probability (ROOT's ``kPoisson2`` uses 0.05).
    NaN contents give NaN errors. See the module docstring for the exact ROOT semantics copied,
    including the truncation of non-integer contents and the fallback for negative ones.
    """
    from scipy.special import gammainccinv, gammaincinv

    c = np.asarray(counts, dtype=np.float64)
    n = np.trunc(c)  # ROOT: Int_t n = int(c), truncation towards zero
    half = 0.5 * float(alpha)

    with np.errstate(invalid="ignore"):
        positive = n > 0
        # gammaincinv(0, p) is undefined; only evaluate where n >= 1 and use 0 elsewhere.
        lower_quantile = gammaincinv(np.where(positive, n, 1.0), half)
        low = np.where(positive, c - lower_quantile, 0.0)
        high = gammainccinv(np.where(n >= 0, n + 1.0, 1.0), half) - c

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
