"""Brent's root finder (pycombine.fit.roots), against roots known in closed form."""

from __future__ import annotations

import math

import pytest

from pycombine.fit.roots import brent_root


@pytest.mark.parametrize(("f", "a", "b", "root"), [
    (lambda x: x * x - 2.0, 0.0, 3.0, math.sqrt(2.0)),
    (lambda x: math.exp(x) - 5.0, -2.0, 4.0, math.log(5.0)),
    (lambda x: math.atan(x - 0.3), -10.0, 50.0, 0.3),
    # a profile-likelihood crossing: 0.5 (x - 0.7)^2 = 0.5 from the minimum outwards
    (lambda x: 0.5 * (x - 0.7) ** 2 - 0.5, 0.7, 10.0, 1.7),
    (lambda x: (x - 1.0) ** 3, -1.0, 4.0, 1.0),  # a triple root: slow, but bracketed
])
def test_roots(f, a, b, root):
    assert brent_root(f, a, b, xtol=1e-10) == pytest.approx(root, abs=1e-9)


def test_endpoint_root_and_tolerance():
    assert brent_root(lambda x: x - 2.0, 2.0, 5.0) == 2.0
    # xtol bounds the error of the returned point
    r = brent_root(lambda x: x ** 3 - 0.001, 0.0, 1.0, xtol=1e-3)
    assert abs(r - 0.1) <= 1e-3


def test_no_sign_change_and_no_convergence():
    with pytest.raises(ValueError):
        brent_root(lambda x: x * x + 1.0, -1.0, 1.0)
    with pytest.raises(RuntimeError):
        brent_root(lambda x: (x - 1.0) ** 3, -1.0, 4.0, xtol=1e-12, maxiter=5)
