"""Uncertainties of derived quantities (yields) from a parameter covariance or parameter draws.

Two tools:

* :func:`propagate` / :func:`linear_propagation`: linear propagation, ``cov(y) = J C J^T`` with
  ``J`` the Jacobian of the outputs with respect to the varied parameters (central finite
  differences with steps proportional to each parameter's uncertainty, :func:`jacobian`);
* :func:`sample_spread` / :class:`SampledSpread`: the second moments ``E[(y(θ) − y(θ̂))²]`` over a
  sampling distribution of θ, which is what Combine's FitDiagnostics ``--saveWithUncertainties``
  reports (the RMS of 200 re-sampled points about the central value, including the shift of the
  mean of non-linear yields and the clipping of draws to parameter ranges). The linear term is
  computed exactly and only the non-linear remainder is sampled (control variate), so a few
  hundred draws are far more precise than Combine's own 200 toys.

Both evaluate the vectorised yields function once per step or draw; nothing loops over bins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Propagation", "SampledSpread", "jacobian", "propagate", "linear_propagation", "sample_spread"]


@dataclass
class Propagation:
    """Result of propagating a covariance through a vector function ``f``."""

    central: np.ndarray  # f(x0), shape (K,)
    jacobian: np.ndarray  # (K, n) derivatives with respect to the varied parameters
    index: np.ndarray  # (n,) positions of the varied parameters in x
    covariance: np.ndarray  # (n, n) covariance of the varied parameters

    def combine(self, weights: np.ndarray) -> np.ndarray:
        """Jacobian of linear combinations ``weights @ f`` (weights: (L, K)) -> (L, n)."""
        return weights @ self.jacobian

    def errors(self, jac: np.ndarray | None = None) -> np.ndarray:
        """sqrt(diag(J C J^T)) for the given Jacobian rows (default: the outputs of ``f``)."""
        J = self.jacobian if jac is None else jac
        if J.shape[1] == 0:
            return np.zeros(J.shape[0])
        JC = J @ self.covariance
        return np.sqrt(np.maximum(np.einsum("kn,kn->k", JC, J), 0.0))

    def output_covariance(self, jac: np.ndarray | None = None) -> np.ndarray:
        """J C J^T for the given Jacobian rows (default: the outputs of ``f``)."""
        J = self.jacobian if jac is None else jac
        if J.shape[1] == 0:
            return np.zeros((J.shape[0], J.shape[0]))
        return J @ self.covariance @ J.T


#: values (points x parameters) of one batch of shifted points in :func:`jacobian`
BATCH_POINT_VALUES = 2_000_000


def _shifted(x0: np.ndarray, i: int, value: float) -> np.ndarray:
    x = x0.copy()
    x[i] = value
    return x


def jacobian(
    func: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray,
    index: np.ndarray,
    steps: np.ndarray,
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
    batch: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(f(x0), df/dx[index]) by central differences with the given absolute ``steps``.

    Near a hard bound (``lo``/``hi``) the difference becomes one-sided so the function is never
    evaluated outside the parameter's range (e.g. a gmN yield parameter at 0). ``batch``, when
    given, is ``func`` for many points at once, ``(N, P) -> (N, K)``: the shifted points are then
    evaluated in a few calls (blocks of at most :data:`BATCH_POINT_VALUES` values).
    """
    x0 = np.asarray(x0, dtype=float)
    f0 = np.asarray(func(x0), dtype=float)
    J = np.zeros((f0.size, len(index)))
    cols = []  # (column, parameter, upper point, lower point)
    for j, (i, h) in enumerate(zip(index, steps)):
        if not h > 0:
            continue
        up = x0[i] + h
        dn = x0[i] - h
        if hi is not None and up > hi[i]:
            up = x0[i]
        if lo is not None and dn < lo[i]:
            dn = x0[i]
        if up != dn:
            cols.append((j, i, up, dn))
    if batch is None:  # a point at x0 (one-sided difference) reuses f0
        for j, i, up, dn in cols:
            fp = func(_shifted(x0, i, up)) if up != x0[i] else f0
            fm = func(_shifted(x0, i, dn)) if dn != x0[i] else f0
            J[:, j] = (np.asarray(fp) - np.asarray(fm)) / (up - dn)
        return f0, J
    per = max(1, BATCH_POINT_VALUES // max(2 * x0.size, 1))  # parameters per call: bounded memory
    for start in range(0, len(cols), per):
        block = cols[start:start + per]
        X = np.repeat(x0[None, :], 2 * len(block), axis=0)
        for k, (_j, i, up, dn) in enumerate(block):
            X[2 * k, i] = up
            X[2 * k + 1, i] = dn
        F = np.asarray(batch(X), dtype=float)
        for k, (j, _i, up, dn) in enumerate(block):
            J[:, j] = (F[2 * k] - F[2 * k + 1]) / (up - dn)
    return f0, J


def propagate(
    func: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray,
    index: np.ndarray,
    covariance: np.ndarray,
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
    rel_step: float = 1e-3,
) -> Propagation:
    """Linearise ``func`` at ``x0`` in the parameters ``index`` whose covariance is given.

    ``covariance`` is (n, n) for the n parameters of ``index`` (in that order). Parameters with
    zero variance are not differentiated.
    """
    index = np.asarray(index, dtype=int)
    cov = np.asarray(covariance, dtype=float).reshape(len(index), len(index))
    sig = np.sqrt(np.maximum(np.diag(cov), 0.0))
    steps = rel_step * sig
    f0, J = jacobian(func, x0, index, steps, lo, hi)
    return Propagation(f0, J, index, cov)


def linear_propagation(jac: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(errors, covariance) of outputs with Jacobian ``jac`` (K, n) for parameter ``covariance`` (n, n)."""
    if jac.shape[1] == 0:
        return np.zeros(jac.shape[0]), np.zeros((jac.shape[0], jac.shape[0]))
    out = jac @ covariance @ jac.T
    return np.sqrt(np.maximum(np.diag(out), 0.0)), out


@dataclass
class SampledSpread:
    """Second moments about the central value of outputs ``f`` under parameter sampling.

    Combine's ``--saveWithUncertainties`` stores ``sqrt(mean_t (f(θ_t) − f(θ̂))²)`` over sampled
    parameter points θ_t (the RMS about the central value, so it includes the shift of the mean of
    a non-linear function, and the effect of clipping samples to parameter ranges). We estimate
    the same expectation with a linear control variate: with ``w_t = J L z_t`` the linearised
    deviation for the standard-normal draw ``z_t`` (known second moments ``(J L)(J L)^T``),

        E[Δ_i Δ_j] ≈ (J L)(J L)^T_ij + mean_t (Δ_ti Δ_tj − w_ti w_tj),

    which is exact when ``f`` is linear and unclipped and otherwise only samples the non-linear
    remainder, so a few hundred draws give a precision far better than Combine's own 200 toys.
    Aggregated outputs (sums over processes, bins or channels) are handled by :meth:`second_moments`
    with a matrix ``A`` mapping outputs to the aggregate.
    """

    central: np.ndarray  # (K,)
    JL: np.ndarray  # (K, n) linear response to the standard-normal draws
    D: np.ndarray  # (N, K) f(θ_t) - f(θ̂)
    W: np.ndarray  # (N, K) linearised deviations J L z_t

    def second_moments(self, A=None, full: bool = False) -> np.ndarray:
        """E[(A Δ)(A Δ)^T]: the diagonal (default) or the full matrix; A defaults to the identity."""
        JL, D, W = self.JL, self.D, self.W
        if A is not None:
            JL = np.asarray(A @ JL)
            D = np.asarray((A @ D.T).T) if D.size else D.reshape(0, JL.shape[0])
            W = np.asarray((A @ W.T).T) if W.size else W.reshape(0, JL.shape[0])
        n = max(D.shape[0], 1)
        if full:
            lin = JL @ JL.T
            return lin + (D.T @ D - W.T @ W) / n if D.shape[0] else lin
        lin = np.einsum("kn,kn->k", JL, JL) if JL.shape[1] else np.zeros(JL.shape[0])
        if D.shape[0]:
            lin = lin + np.einsum("tk,tk->k", D, D) / n - np.einsum("tk,tk->k", W, W) / n
        return lin

    def errors(self, A=None) -> np.ndarray:
        return np.sqrt(np.maximum(self.second_moments(A), 0.0))


def sample_spread(
    func: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray,
    index: np.ndarray,
    jacobian_matrix: np.ndarray,
    scale: np.ndarray,
    draw: Callable[[np.ndarray], np.ndarray],
    n_samples: int,
    rng: np.random.Generator,
    batch: Callable[[np.ndarray], np.ndarray] | None = None,
) -> SampledSpread:
    """Sample ``n_samples`` parameter points and collect the deviations of ``func``.

    ``scale`` (n, n) maps standard-normal draws z to the linearised parameter shifts (L with
    C = L L^T); ``draw(Z)`` turns the (N, n) draws into (N, P) parameter vectors (applying the
    sampling distribution and the parameter ranges). ``jacobian_matrix`` is df/dx[index].
    ``batch``, when given, evaluates ``func`` for all draws in one call, ``(N, P) -> (N, K)``.
    """
    x0 = np.asarray(x0, dtype=float)
    f0 = np.asarray(func(x0), dtype=float)
    JL = jacobian_matrix @ scale
    n = len(index)
    if n == 0 or n_samples <= 0:
        return SampledSpread(f0, JL, np.zeros((0, f0.size)), np.zeros((0, f0.size)))
    Z = rng.standard_normal((n_samples, n))
    X = draw(Z)
    if batch is not None:
        D = np.asarray(batch(X), dtype=float) - f0
    else:
        D = np.empty((n_samples, f0.size))
        for t in range(n_samples):
            D[t] = func(X[t]) - f0
    W = Z @ JL.T
    return SampledSpread(f0, JL, D, W)
