"""The standard normal functions (AS 241 quantile) against the standard library and known values."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from pycombine.fit.normal import norm_cdf, norm_cdf_c, norm_quantile, norm_quantile_c


def test_quantile_equals_the_standard_library_over_all_three_regions():
    reference = NormalDist()  # an independent implementation of the same quantity
    central = np.linspace(1e-6, 1 - 1e-6, 4001)  # |p - 1/2| <= 0.425 and the near tails
    tails = 10.0 ** -np.arange(1.0, 300.0, 0.7)  # r = sqrt(-ln p) up to ~26: the far-tail branch
    for p in [*central, *tails, *(1.0 - tails[tails > 1e-15])]:
        want = reference.inv_cdf(p)
        assert norm_quantile(p) == pytest.approx(want, rel=2e-15, abs=1e-300), p


def test_known_values_and_end_points():
    # Phi^-1(0.975) and Phi^-1(0.84), as tabulated; Phi(0) = 1/2 by symmetry
    assert norm_quantile(0.975) == pytest.approx(1.959963984540054, rel=1e-15)
    assert norm_quantile(0.84) == pytest.approx(0.994457883209753, rel=1e-14)
    assert norm_quantile(0.5) == 0.0
    assert norm_quantile(0.0) == -math.inf and norm_quantile(1.0) == math.inf
    assert all(math.isnan(norm_quantile(p)) for p in (-0.1, 1.1, math.nan))
    assert norm_cdf(0.0) == 0.5 and norm_cdf_c(0.0) == 0.5
    # 1 - Phi(x) in the far tail without cancellation: Q(10) = 7.619853024160527e-24
    assert norm_cdf_c(10.0) == pytest.approx(7.619853024160527e-24, rel=1e-13)
    assert norm_quantile_c(norm_cdf_c(10.0)) == pytest.approx(10.0, rel=1e-13)
    for x in (-6.0, -1.3, 0.2, 2.5):
        assert norm_quantile(norm_cdf(x)) == pytest.approx(x, rel=1e-12)
