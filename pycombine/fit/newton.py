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

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..model.likelihood import BAD_NLL


@dataclass(eq=False)  # numpy fields: a generated __eq__ could not compare them
class NewtonResult:
    x: np.ndarray  # full parameter vector at the minimum
    nll: float
    hessian: "np.ndarray | LowRankHessian | DenseHessian"  # Hessian of the free parameters at (or near) the minimum
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


class LowRankHessian:
    """``H = diag(d) + V diag(c) V^T`` with few columns: the Hessian of a "wide" model (thousands of
    constrained nuisances acting on a few bins), solved by the Woodbury identity in O(n r^2)
    instead of O(n^3), and stored in O(n r) instead of O(n^2).

    Parameters without a constraint (the POIs, rateParams) have ``d = 0``; they get ``d = 1`` and a
    column ``e_k`` with ``c = -1`` that takes it back, so that ``diag(d)`` stays invertible. BFGS
    corrections add two columns each (at most :attr:`MAX_COLUMNS` in all).
    """

    #: BFGS corrections kept at most (each costs two columns in every solve)
    MAX_UPDATES = 12

    def __init__(self, d: np.ndarray, V: np.ndarray, c: np.ndarray, base_columns: int | None = None):
        self.d, self.V, self.c = d, V, c
        self.base_columns = V.shape[1] if base_columns is None else base_columns
        self._cache: tuple[bytes, float, tuple] | None = None

    @classmethod
    def from_factors(cls, diag: np.ndarray, U: np.ndarray) -> "LowRankHessian":
        """``diag(diag) + U U^T``."""
        d = np.array(diag, dtype=float)
        zero = ~(d > 1e-12 * max(1.0, float(np.max(d, initial=0.0))))
        d[zero] = 1.0
        E = np.zeros((d.size, int(zero.sum())))
        E[np.nonzero(zero)[0], np.arange(E.shape[1])] = 1.0
        V = np.hstack([U, E])
        c = np.concatenate([np.ones(U.shape[1]), -np.ones(E.shape[1])])
        return cls(d, V, c)

    @property
    def size(self) -> int:
        return self.d.size

    def matvec(self, v: np.ndarray) -> np.ndarray:
        return self.d * v + self.V @ (self.c * (self.V.T @ v))

    def _parts(self, inact: np.ndarray | None, mu: float):
        key = b"" if inact is None else np.packbits(inact).tobytes()
        if self._cache is not None and self._cache[0] == key and self._cache[1] == mu:
            return self._cache[2]
        d = (self.d if inact is None else self.d[inact]) + mu
        V = self.V if inact is None else self.V[inact]
        DV = V / d[:, None]
        K = np.diag(1.0 / self.c) + V.T @ DV
        self._cache = (key, mu, (d, V, DV, K))
        return d, V, DV, K

    def solve(self, g: np.ndarray, inact: np.ndarray | None = None, mu: float = 0.0) -> np.ndarray:
        """``(H + mu)^-1 g`` restricted to the ``inact`` parameters (LinAlgError if singular)."""
        d, V, DV, K = self._parts(inact, mu)
        y = np.linalg.solve(K, V.T @ (g / d))
        return g / d - DV @ y

    def inverse_diag(self) -> np.ndarray:
        """The diagonal of ``H^-1`` (parabolic variances)."""
        d, V, DV, K = self._parts(None, 0.0)
        return 1.0 / d - np.einsum("ij,ij->i", DV @ np.linalg.inv(K), DV)

    def dense(self) -> np.ndarray:
        return np.diag(self.d) + (self.V * self.c) @ self.V.T

    def dense_inverse(self) -> np.ndarray:
        """``H^-1`` as a dense matrix, by the Woodbury identity (O(n^2 r))."""
        d, V, DV, K = self._parts(None, 0.0)
        out = -(DV @ np.linalg.inv(K)) @ DV.T
        out[np.diag_indices_from(out)] += 1.0 / d
        return out

    def updated(self, sv: np.ndarray, yv: np.ndarray, sy: float) -> "LowRankHessian":
        """The BFGS correction ``H + y y^T / s.y - (H s)(H s)^T / s.H.s`` (self when full)."""
        if self.V.shape[1] + 2 > self.base_columns + 2 * self.MAX_UPDATES:
            return self
        Hs = self.matvec(sv)
        sHs = float(sv @ Hs)
        if not sHs > 0:
            return self
        return LowRankHessian(self.d, np.hstack([self.V, yv[:, None], Hs[:, None]]),
                              np.concatenate([self.c, [1.0 / sy, -1.0 / sHs]]), self.base_columns)


class _DenseBase:
    """A dense matrix and its Cholesky factors, one per set of inactive (free, off-bound) parameters."""

    __slots__ = ("H", "factors")

    def __init__(self, H: np.ndarray):
        self.H = H
        self.factors: dict[bytes, tuple | None] = {}

    def factor(self, key: bytes, inact: np.ndarray):
        """The Cholesky factor of ``H[inact, inact]`` (None if that block is not positive definite)."""
        if key in self.factors:
            return self.factors[key]
        from scipy.linalg import cho_factor

        A = self.H if not key else self.H[np.ix_(inact, inact)]
        try:
            f = cho_factor(A, check_finite=False)
            if not np.all(np.isfinite(np.diagonal(f[0]))):
                f = None
        except (np.linalg.LinAlgError, ValueError):
            f = None
        if len(self.factors) >= 2:  # active sets change rarely; keep the newest two
            self.factors.pop(next(iter(self.factors)))
        self.factors[key] = f
        return f


class DenseHessian:
    """``H = H0 + V diag(c) V^T``: a dense Gauss-Newton matrix ``H0`` whose Cholesky factor is kept,
    and the BFGS corrections of the Newton iterations as a few columns, solved by the Woodbury
    identity. Refining the matrix by BFGS then costs O(n^2) per step instead of a new O(n^3)
    factorisation; the matrix, and so every step, is the one the dense update would give (up to
    rounding). After :attr:`MAX_UPDATES` corrections they are folded into a new base (one
    factorisation). Used for more than :data:`DENSE_FACTORED_MIN` free parameters."""

    MAX_UPDATES = 12

    def __init__(self, base: _DenseBase, V: np.ndarray, c: np.ndarray, av: tuple | None = None):
        self.base, self.V, self.c = base, V, c
        self._av = av  # (key of the inactive set, H0^-1 V[inact]) of the columns so far

    @classmethod
    def of(cls, H: np.ndarray) -> "DenseHessian":
        H = np.asarray(H, dtype=float)
        return cls(_DenseBase(H), np.zeros((H.shape[0], 0)), np.zeros(0))

    @property
    def size(self) -> int:
        return self.base.H.shape[0]

    def matvec(self, v: np.ndarray) -> np.ndarray:
        return self.base.H @ v + self.V @ (self.c * (self.V.T @ v))

    def dense(self) -> np.ndarray:
        if not self.c.size:
            return self.base.H
        return self.base.H + (self.V * self.c) @ self.V.T

    def solve(self, g: np.ndarray, inact: np.ndarray) -> np.ndarray | None:
        """``H[inact, inact]^-1 g``; None when the base block is not positive definite."""
        from scipy.linalg import cho_solve

        key = b"" if inact.all() else np.packbits(inact).tobytes()
        f = self.base.factor(key, inact)
        if f is None:
            return None
        y = cho_solve(f, g, check_finite=False)
        if self.c.size:
            V = self.V if not key else self.V[inact]
            av = self._av
            if av is not None and av[0] == key and av[1].shape[1] <= V.shape[1]:
                done = av[1].shape[1]
                AV = av[1] if done == V.shape[1] else np.hstack(
                    [av[1], cho_solve(f, V[:, done:], check_finite=False)])
            else:
                AV = cho_solve(f, V, check_finite=False)
            self._av = (key, AV)
            K = np.diag(1.0 / self.c) + V.T @ AV
            y = y - AV @ np.linalg.solve(K, V.T @ y)
        return y if np.all(np.isfinite(y)) else None

    def inverse(self) -> np.ndarray | None:
        """The dense inverse (the covariance of a fit), from the kept Cholesky factor (LAPACK
        potri: a third of the work of a general inverse) and the Woodbury identity for the BFGS
        columns; None when the base is not positive definite."""
        from scipy.linalg.lapack import dpotri

        n = self.size
        f = self.base.factor(b"", np.ones(n, dtype=bool))
        if f is None:
            return None
        inv, info = dpotri(f[0], lower=f[1])
        if info != 0:
            return None
        inv = np.triu(inv) + np.triu(inv, 1).T if not f[1] else np.tril(inv) + np.tril(inv, -1).T
        if self.c.size:
            AV = inv @ self.V
            K = np.diag(1.0 / self.c) + self.V.T @ AV
            inv = inv - AV @ np.linalg.solve(K, AV.T)
        return inv if np.all(np.isfinite(inv)) else None

    def updated(self, sv: np.ndarray, yv: np.ndarray, sy: float) -> "DenseHessian":
        """The BFGS correction ``H + y y^T / s.y - (H s)(H s)^T / s.H.s`` (self if s.H.s <= 0)."""
        Hs = self.matvec(sv)
        sHs = float(sv @ Hs)
        if not sHs > 0:
            return self
        if self.c.size + 2 > 2 * self.MAX_UPDATES:
            return DenseHessian.of(self.dense()).updated(sv, yv, sy)
        return DenseHessian(self.base, np.hstack([self.V, yv[:, None], Hs[:, None]]),
                            np.concatenate([self.c, [1.0 / sy, -1.0 / sHs]]), self._av)


#: from this many free parameters a dense Hessian is kept factorised (:class:`DenseHessian`)
DENSE_FACTORED_MIN = 400


def low_rank_step(H: LowRankHessian, g: np.ndarray, inact: np.ndarray) -> tuple[np.ndarray, bool] | None:
    """:func:`newton_step` for a :class:`LowRankHessian`: a descent step, damped where needed."""
    if g.size == 0 or not np.any(g):
        return np.zeros_like(g), False
    scale = max(float(np.max(np.abs(H.d[inact]))), 1e-12)
    mu = 0.0
    for _ in range(8):
        try:
            step = -H.solve(g, inact, mu)
        except (np.linalg.LinAlgError, ValueError):
            step = None
        if step is not None and np.all(np.isfinite(step)) and float(g @ step) < 0:
            return step, mu > 1e-6 * scale
        mu = 1e-8 * scale if mu == 0 else 100.0 * mu
    return None


_last_small = threading.local()


def small_dense_step(H: np.ndarray, inact: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, bool] | None:
    """:func:`newton_step` on ``H[inact, inact]`` for a small dense ``H``, remembering the inverse.

    A series of profile fits (the crossing searches of AsymptoticLimits) carries one Hessian from
    fit to fit, and most fits started on the extrapolated path need a single step: the solve is
    then the cost of the fit (three LAPACK calls through numpy, ~0.1 ms each on small matrices).
    The damped inverse of the last matrix (per thread, by identity: these matrices are never
    modified in place, a BFGS update makes a new one) turns the repeat into one product.
    """
    key = inact.tobytes()
    last = getattr(_last_small, "entry", None)
    if last is not None and last[0] is H and last[1] == key:
        inverse, damped = last[2]
        return -(inverse @ g[inact]), damped
    sub = H[np.ix_(inact, inact)]
    if sub.shape[0] == 0:
        return np.zeros(0), False
    g_in = g[inact]
    kept = {}

    def solve(A):
        L_inv = np.linalg.inv(np.linalg.cholesky(A))
        kept["inverse"] = L_inv.T @ L_inv
        return -(kept["inverse"] @ g_in)

    out = _damped(sub, solve)
    if out is not None:
        _last_small.entry = (H, key, (kept["inverse"], out[1]))
    return out


def _damped(H: np.ndarray, solve: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, bool] | None:
    """(solve(H + mu I), damped) for the first mu in 0, 1e-8 max|diag H|, then x100 (8 tries)
    whose factorisation succeeds and whose step is finite; None when none does."""
    n = H.shape[0]
    scale = max(float(np.max(np.abs(np.diag(H)))), 1e-12)
    mu = 0.0
    for _ in range(8):
        try:
            step = solve(H + mu * np.eye(n) if mu else H)
        except (np.linalg.LinAlgError, ValueError):
            step = None
        if step is not None and np.all(np.isfinite(step)):
            return step, mu > 1e-6 * scale
        mu = 1e-8 * scale if mu == 0 else 100.0 * mu
    return None


def newton_step(H: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, bool] | None:
    """-H^-1 g by Cholesky, damped (H + mu I) when H is not positive definite: (step, damped)."""
    if g.size == 0:
        return np.zeros(0), False
    return _damped(H, lambda A: -_cholesky_solve(A, g))


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
    H: "np.ndarray | LowRankHessian | DenseHessian | None" = None,
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

    def fresh(x):
        Hn = hessian(x)
        if isinstance(Hn, np.ndarray) and Hn.shape[0] > DENSE_FACTORED_MIN:
            return DenseHessian.of(Hn)
        return Hn

    if H is None:
        H, refreshes = fresh(x), 1
    elif isinstance(H, np.ndarray) and H.shape[0] > DENSE_FACTORED_MIN:
        H = DenseHessian.of(H)
    last_edm = np.inf
    for _ in range(max_iter):
        active = ((z <= lo) & (g > 0)) | ((z >= hi) & (g < 0))
        inact = ~active
        if isinstance(H, LowRankHessian):
            step = low_rank_step(H, g[inact], inact)
        elif isinstance(H, DenseHessian):
            y = H.solve(g[inact], inact)
            if y is not None:
                step = -y, False
            else:  # not positive definite: damped, on the dense matrix
                step = newton_step(H.dense()[np.ix_(inact, inact)], g[inact])
        else:
            step = small_dense_step(H, inact, g)
        d = np.zeros_like(z)
        edm = np.nan
        damped = False
        if step is not None:
            d[inact], damped = step
            edm = -0.5 * float(g @ d)
        if step is None or not np.isfinite(edm):
            if refreshes >= max_refresh or since == 0:
                return None
            H, refreshes, since = fresh(x), refreshes + 1, 0
            continue
        if edm < (0.01 if damped else 1.0) * edm_goal:
            return NewtonResult(x, f, H, edm, evals)
        # slow (linear) convergence: the carried-over Hessian is off, recompute it here
        if since >= 2 and edm > 0.1 * last_edm and refreshes < max_refresh:
            H, refreshes, since = fresh(x), refreshes + 1, 0
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
            H, refreshes, since = fresh(x), refreshes + 1, 0
            continue
        if bfgs:
            # BFGS correction of the (approximate) Hessian from the step just taken: it restores
            # fast convergence where the Gauss-Newton matrix misses curvature
            sv = zn - z
            yv = gn - g
            sy = float(sv @ yv)
            if sy > 1e-12 * float(np.linalg.norm(sv) * np.linalg.norm(yv)):
                if isinstance(H, (LowRankHessian, DenseHessian)):
                    H = H.updated(sv, yv, sy)
                else:
                    Hs = H @ sv
                    sHs = float(sv @ Hs)
                    if sHs > 0:
                        H = H + np.outer(yv, yv) / sy - np.outer(Hs, Hs) / sHs
        x, z, f, g = xn, zn, fn, gn
        last_edm = edm
        since += 1
    return None


def without_factors(H):
    """``H`` without the factorisations a :class:`DenseHessian` keeps (the same matrix)."""
    if isinstance(H, DenseHessian):
        return DenseHessian(_DenseBase(H.base.H), H.V, H.c)
    return H


def restricted(H, keep: np.ndarray):
    """``H`` over the parameters ``keep`` (a boolean mask) only: the Hessian of the same NLL with
    the other parameters fixed (a profile fit next to the fit ``H`` came from)."""
    if isinstance(H, DenseHessian):
        return DenseHessian(_DenseBase(H.base.H[np.ix_(keep, keep)]), H.V[keep], H.c.copy())
    if isinstance(H, LowRankHessian):
        return LowRankHessian(H.d[keep], H.V[keep], H.c.copy(), H.base_columns)
    return np.asarray(H)[np.ix_(keep, keep)]


def gauss_newton(lik, theta: np.ndarray, free: np.ndarray):
    """The Gauss-Newton Hessian of the free parameters: a :class:`LowRankHessian` for wide models
    (:func:`pycombine.model.hessian.is_wide`), else the dense matrix."""
    from ..model.hessian import gauss_newton_factors, gauss_newton_hessian, is_wide

    if is_wide(lik.m, free.size):
        parts = gauss_newton_factors(lik, theta, free)
        if parts is not None:
            return LowRankHessian.from_factors(*parts)
    return gauss_newton_hessian(lik, theta, free)


def covariance_of(H) -> tuple[np.ndarray, np.ndarray | None]:
    """(variances, dense covariance or None) of the inverse of a Hessian (dense or low-rank; the
    dense covariance of a low-rank one only up to 3000 parameters)."""
    if isinstance(H, DenseHessian):
        c = H.inverse()
        if c is not None:
            return np.diag(c).copy(), c
        H = H.dense()
    if isinstance(H, LowRankHessian):
        try:
            if H.size > 3000:
                return H.inverse_diag(), None
            c = H.dense_inverse()
            return np.diag(c).copy(), c
        except np.linalg.LinAlgError:
            H = H.dense()
    try:
        c = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        c = np.linalg.pinv(H)
    return np.diag(c), c
