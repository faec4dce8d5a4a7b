"""Projected Newton minimisation for large models.

Migrad's variable-metric iterations need O(n) gradient evaluations to build its Hessian estimate
and its internal linear algebra is O(n^2)-O(n^3) per step; with hundreds of nuisances and
thousands of bins that dominates. Given a good Hessian (the analytic Gauss-Newton matrix,
:mod:`pycombine.model.hessian`), Newton steps converge in a handful of iterations.

Bounded parameters: a parameter on a bound with the gradient pointing outwards is held there
(active set); the others take damped Newton steps with a backtracking line search. The
iteration stops when the expected decrease ``0.5 g^T H^-1 g`` is below ``edm_goal`` (Migrad's
goal at Combine's default tolerance is 1e-4). ``None`` is returned when Newton does not converge
cleanly, so the caller can fall back to Migrad.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..model.likelihood import BAD_NLL


@dataclass
class NewtonResult:
    x: np.ndarray  # full parameter vector at the minimum
    nll: float
    hessian: np.ndarray  # Hessian of the free parameters at (or near) the minimum
    edm: float
    evaluations: int


def _cholesky_solve(A: np.ndarray, g: np.ndarray) -> np.ndarray:
    """A^-1 g for a positive-definite A (raises LinAlgError otherwise).

    Small systems (counting cards) use numpy alone: importing scipy.linalg costs ~0.1 s, a fifth
    of a whole small-card command. Large ones use LAPACK's triangular solves through scipy.
    """
    if g.size <= 400:
        L = np.linalg.cholesky(A)
        return np.linalg.solve(L.T, np.linalg.solve(L, g))
    from scipy.linalg import cho_factor, cho_solve

    return cho_solve(cho_factor(A, check_finite=False), g, check_finite=False)


def newton_step(H: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, bool] | None:
    """-H^-1 g by Cholesky, damped (H + mu I) when H is not positive definite: (step, damped)."""
    n = g.size
    if n == 0:
        return np.zeros(0), False
    scale = max(float(np.max(np.abs(np.diag(H)))), 1e-12)
    mu = 0.0
    for _ in range(8):
        try:
            step = -_cholesky_solve(H + mu * np.eye(n) if mu else H, g)
        except (np.linalg.LinAlgError, ValueError):
            mu = 1e-8 * scale if mu == 0 else 100.0 * mu
            continue
        if not np.all(np.isfinite(step)):
            mu = 1e-8 * scale if mu == 0 else 100.0 * mu
            continue
        return step, mu > 1e-6 * scale
    return None


def newton_minimize(
    value_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    hessian: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    free: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    edm_goal: float = 1e-5,
    max_iter: int = 40,
    max_refresh: int = 3,
    H: np.ndarray | None = None,
    bfgs: bool = False,
) -> NewtonResult | None:
    """Minimise over ``x[free]`` (bounds ``lo``/``hi`` for the free ones) by projected Newton.

    ``value_and_grad(x)`` gives the NLL and its gradient with respect to the free parameters;
    ``hessian(x)`` their Hessian. ``H`` may carry over the Hessian of a previous nearby fit. With
    ``bfgs`` the matrix is refined by BFGS updates between recomputations (for approximate
    Hessians such as Gauss-Newton).
    """
    x = np.array(x, dtype=float)
    z = np.clip(x[free], lo, hi)
    x[free] = z
    f, g = value_and_grad(x)
    evals = 1
    if not (f < BAD_NLL and np.all(np.isfinite(g))):
        return None
    refreshes, since = 0, 0
    if H is None:
        H, refreshes = hessian(x), 1
    last_edm = np.inf
    for _ in range(max_iter):
        active = ((z <= lo) & (g > 0)) | ((z >= hi) & (g < 0))
        inact = ~active
        step = newton_step(H[np.ix_(inact, inact)], g[inact])
        d = np.zeros_like(z)
        edm = np.nan
        damped = False
        if step is not None:
            d[inact], damped = step
            edm = -0.5 * float(g @ d)
        if step is None or not np.isfinite(edm):
            if refreshes >= max_refresh or since == 0:
                return None
            H, refreshes, since = hessian(x), refreshes + 1, 0
            continue
        if edm < (0.01 if damped else 1.0) * edm_goal:
            return NewtonResult(x, f, H, edm, evals)
        # slow (linear) convergence: the carried-over Hessian is off, recompute it here
        if since >= 2 and edm > 0.1 * last_edm and refreshes < max_refresh:
            H, refreshes, since = hessian(x), refreshes + 1, 0
            last_edm = np.inf
            continue
        t = 1.0
        accepted = False
        slack = 1e-14 * abs(f)  # the rounding of the NLL itself
        for _ in range(12):
            zn = np.clip(z + t * d, lo, hi)
            xn = x.copy()
            xn[free] = zn
            fn, gn = value_and_grad(xn)
            evals += 1
            if fn < BAD_NLL and np.all(np.isfinite(gn)) and fn <= f + 1e-4 * float(g @ (zn - z)) + slack:
                accepted = True
                break
            t *= 0.5
        if not accepted:
            if refreshes >= max_refresh or since == 0:
                return None
            H, refreshes, since = hessian(x), refreshes + 1, 0
            continue
        if bfgs:
            # BFGS correction of the (approximate) Hessian from the step just taken: it restores
            # fast convergence where the Gauss-Newton matrix misses curvature
            sv = zn - z
            yv = gn - g
            sy = float(sv @ yv)
            if sy > 1e-12 * float(np.linalg.norm(sv) * np.linalg.norm(yv)):
                Hs = H @ sv
                sHs = float(sv @ Hs)
                if sHs > 0:
                    H = H + np.outer(yv, yv) / sy - np.outer(Hs, Hs) / sHs
        x, z, f, g = xn, zn, fn, gn
        last_edm = edm
        since += 1
    return None
