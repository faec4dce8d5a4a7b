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


def test_small_dense_step_is_the_damped_newton_step_and_reuses_its_inverse():
    from pycombine.fit.newton import newton_step, small_dense_step

    rng = np.random.default_rng(8)
    A = rng.normal(size=(6, 6))
    H = A @ A.T + 0.5 * np.eye(6)  # positive definite
    inact = np.array([True, True, False, True, True, True])
    for _ in range(3):  # the first call factorises, the others reuse the inverse
        g = rng.normal(size=6)
        step, damped = small_dense_step(H, inact, g)
        want, want_damped = newton_step(H[np.ix_(inact, inact)], g[inact])
        np.testing.assert_allclose(step, want, rtol=1e-10, atol=1e-12)
        assert damped == want_damped is False
        np.testing.assert_allclose(H[np.ix_(inact, inact)] @ step, -g[inact], rtol=1e-9, atol=1e-12)
    # another matrix with the same pattern is solved afresh, not with the remembered inverse
    H2 = H + np.diag(np.arange(1.0, 7.0))
    g = rng.normal(size=6)
    np.testing.assert_allclose(H2[np.ix_(inact, inact)] @ small_dense_step(H2, inact, g)[0], -g[inact], rtol=1e-9)
    # an indefinite matrix: damped like newton_step, a descent direction
    Hi = np.diag([1.0, -2.0, 3.0])
    g = np.array([1.0, 1.0, -1.0])
    step, damped = small_dense_step(Hi, np.ones(3, bool), g)
    want, want_damped = newton_step(Hi, g)
    np.testing.assert_allclose(step, want, rtol=1e-10)
    assert damped and want_damped and float(g @ step) < 0
