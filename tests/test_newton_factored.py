"""The factorised dense Hessian of large Newton fits (pycombine.fit.newton.DenseHessian): its BFGS
corrections solved by the Woodbury identity give the steps of the dense update."""

import numpy as np

from pycombine.fit.newton import DenseHessian, covariance_of, newton_minimize


def _pd(n, rng):
    A = rng.normal(size=(n, n))
    return A @ A.T / n + np.eye(n)


def test_bfgs_corrections_match_the_dense_update():
    rng = np.random.default_rng(3)
    n = 60
    H = _pd(n, rng)
    D = DenseHessian.of(H)
    dense = H.copy()
    inact = np.ones(n, bool)
    inact[[3, 17]] = False
    target = _pd(n, rng)  # the curvature the corrections learn (y = target s, as near a minimum)
    for k in range(2 * DenseHessian.MAX_UPDATES + 3):  # past the fold into a new base
        s = rng.normal(size=n)
        y = target @ s
        sy = float(s @ y)
        D = D.updated(s, y, sy)
        Hs = dense @ s
        dense = dense + np.outer(y, y) / sy - np.outer(Hs, Hs) / float(s @ Hs)
        g = rng.normal(size=n)
        np.testing.assert_allclose(D.solve(g, np.ones(n, bool)), np.linalg.solve(dense, g), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(D.solve(g[inact], inact), np.linalg.solve(dense[np.ix_(inact, inact)], g[inact]),
                                   rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(D.dense(), dense, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(covariance_of(D)[1], np.linalg.inv(dense), rtol=1e-8, atol=1e-10)


def test_not_positive_definite_base_gives_none():
    H = np.diag(np.r_[np.ones(5), -1.0])
    assert DenseHessian.of(H).solve(np.ones(6), np.ones(6, bool)) is None


def test_large_quadratic_minimised_with_the_factorised_hessian():
    rng = np.random.default_rng(5)
    n = 450  # above DENSE_FACTORED_MIN
    A = _pd(n, rng)
    b = rng.normal(size=n)
    # a mildly non-quadratic function: the Gauss-Newton matrix A misses the quartic term, BFGS adds it
    def vg(x):
        return 0.5 * x @ A @ x - b @ x + 0.01 * np.sum(x**4), A @ x - b + 0.04 * x**3

    free = np.arange(n)
    lo, hi = np.full(n, -10.0), np.full(n, 10.0)
    out = newton_minimize(vg, lambda x: A, np.zeros(n), free, lo, hi, edm_goal=1e-12, max_iter=200, bfgs=True)
    assert out is not None and isinstance(out.hessian, DenseHessian)
    assert np.max(np.abs(vg(out.x)[1])) < 1e-5
