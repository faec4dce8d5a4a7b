"""Many fits at once: a damped Gauss-Newton minimiser over a batch of datasets.

Toy-based methods fit the same model to thousands of pseudo-datasets; one
:class:`~pycombine.fit.minimize.Fitter` per toy costs milliseconds of numpy overhead each. Here
every step is taken for all datasets together (:class:`~pycombine.model.batch.BatchModel`):

* the Jacobian of the expected events in the floating parameters, exact for models without
  template morphing or formulas (:meth:`~pycombine.model.batch.BatchModel.jacobian`), else by
  forward differences (one batched evaluation of ``F`` shifted points); the Barlow-Beeston-lite
  parameters are held at their profiled values, which gives the exact gradient of the profiled
  NLL (envelope theorem) and its Gauss-Newton curvature; the constraint terms add their exact
  derivatives;
* a Levenberg-Marquardt step per dataset, projected on the parameter ranges (a parameter on its
  bound with the gradient pushing outwards leaves the step);
* a line search on the exact NLL (the full step, then shorter ones where it fails, evaluated
  in one batch), so every accepted step lowers the NLL.

A dataset has converged when the expected decrease 0.5 g^T H^-1 g (Minuit's EDM) is below
``edm``, or when no step lowers its NLL any more even with strong damping; the others are
reported (the caller refits them one by one with the full minimiser).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model.batch import BatchModel



@dataclass
class BatchFit:
    values: np.ndarray  # (N, P) parameters at the minimum (BB-lite ones profiled)
    nll: np.ndarray  # (N,)
    converged: np.ndarray  # (N,) bool
    iterations: int


def _constraint_derivatives(m, theta: np.ndarray, glob: np.ndarray):
    """Gradient (N, P) and diagonal second derivative (N, P) of the constraint terms."""
    g = np.zeros_like(theta)
    h = np.zeros_like(theta)
    i = m.gauss_idx
    if i.size:
        g[:, i] = (theta[:, i] - glob[:, i]) / m.gauss_sigma**2
        h[:, i] = 1.0 / m.gauss_sigma**2
    i = m.bifur_idx
    if i.size:
        diff = theta[:, i] - glob[:, i]
        s = np.where(diff < 0, m.bifur_lo, m.bifur_hi)
        g[:, i] = diff / s**2
        h[:, i] = 1.0 / s**2
    i = m.poisson_idx
    if i.size:
        th, gi = theta[:, i], glob[:, i]
        with np.errstate(divide="ignore", invalid="ignore"):
            g[:, i] = 1.0 - np.where(gi != 0, gi / th, 0.0)
            h[:, i] = np.where(gi != 0, gi / th**2, 0.0)
    i = m.gamma_idx
    if i.size:
        th, k = theta[:, i], glob[:, i]
        g[:, i] = -(k - 1.0) / th + 1.0 / m.gamma_scale
        h[:, i] = (k - 1.0) / th**2
    for idx, kk, shifted in ((m.dfd_idx, m.dfd_k, True), (m.dfd2_idx, m.dfd2_k, False)):
        if idx.size:
            d = theta[:, idx] - glob[:, idx] if shifted else theta[:, idx]
            a = kk * (d - 1.0)
            b = -kk * (d + 1.0)
            sa, sb = 0.5 * (1 + np.tanh(0.5 * a)), 0.5 * (1 + np.tanh(0.5 * b))
            g[:, idx] = kk * sa - kk * sb
            h[:, idx] = kk**2 * (sa * (1 - sa) + sb * (1 - sb))
    return g, h


def minimize_batch(bm: BatchModel, counts: np.ndarray, glob: np.ndarray, start: np.ndarray, lo: np.ndarray,
                   hi: np.ndarray, floating: np.ndarray, analytic_bb: bool = True, edm: float = 1e-8,
                   max_iter: int = 60) -> BatchFit:
    """Minimise the NLL of each dataset ``(counts[i], glob[i])`` from ``start[i]``.

    ``lo``/``hi`` are (P,) or (N, P) ranges, ``floating`` a (P,) mask of the parameters to fit
    (the others keep their values in ``start``; BB-lite parameters are profiled analytically).
    """
    m = bm.m
    theta = np.array(start, dtype=float, copy=True)
    N = theta.shape[0]
    lo = np.broadcast_to(lo, theta.shape)
    hi = np.broadcast_to(hi, theta.shape)
    free = np.nonzero(np.asarray(floating, bool) & ~(m.analytic if analytic_bb else np.zeros(m.P, bool)))[0]
    F = free.size
    theta = np.clip(theta, lo, hi)
    lo_f, hi_f = lo[:, free], hi[:, free]  # (N, F) ranges of the fitted parameters
    diag_idx = (slice(None), np.arange(F), np.arange(F))
    const = bm.constants(glob)  # the same datasets throughout: their constant terms once
    nll = bm.nll(theta, counts, glob, analytic_bb, const)
    converged = np.zeros(N, dtype=bool)
    if F == 0:
        return BatchFit(_profiled(bm, theta, counts, glob, analytic_bb), nll, np.ones(N, bool), 0)
    n = np.nan_to_num(counts)
    lam = np.full(N, 1e-3)
    stalled = np.zeros(N, dtype=int)
    it = 0
    for it in range(1, max_iter + 1):
        act = ~converged
        if not act.any():
            break
        ia = np.nonzero(act)[0]
        # the datasets still fitted (a view while all are: no copies of the inputs)
        sel = slice(None) if ia.size == N else ia
        counts_a, glob_a, const_a = counts[sel], glob[sel], const[sel]
        th = _profiled(bm, theta[ia], counts_a, glob_a, analytic_bb)
        nu, J = _jacobian(bm, th, free, hi_f[sel])
        masked = bm.masked_bins(th)
        active = ~masked
        na = n[sel]
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(active, 1.0 - np.where(na != 0, na / nu, 0.0), 0.0)  # dNLL/dnu
            c = np.where(active & (na != 0), na / nu**2, 0.0)  # Gauss-Newton weights
        cg, ch = _constraint_derivatives(m, th, glob_a)
        g = np.einsum("nb,nbf->nf", w, J) + cg[:, free]
        H = np.einsum("nbf,nbg->nfg", J * c[:, :, None], J)
        H[diag_idx] += ch[:, free]
        # projected step: parameters on a bound with the gradient pointing outwards stay there
        x = th[:, free]
        xlo, xhi = lo_f[sel], hi_f[sel]
        fixed = ((x <= xlo) & (g > 0)) | ((x >= xhi) & (g < 0))
        g = np.where(fixed, 0.0, g)
        rows = np.nonzero(fixed.any(axis=1))[0]
        if rows.size:
            fr = fixed[rows]
            H[rows] = np.where(fr[:, :, None] | fr[:, None, :], 0.0, H[rows])
        diag = np.where(fixed, 1.0, np.maximum(H[diag_idx], 1e-12))
        H[diag_idx] = diag
        A = H  # the damped matrix: the diagonal times (1 + lambda)
        A[diag_idx] += lam[ia, None] * diag
        step = -_solve(A, g, diag)
        # Minuit's EDM, 0.5 g^T H^-1 g, from the step while the damping is small (it is, near the minimum)
        edm_now = np.where(lam[ia] <= 1e-2, -0.5 * np.einsum("nf,nf->n", g, step), np.inf)
        # line search on the exact NLL: the full step first; where it does not lower the NLL,
        # shorter ones (evaluated together)
        old = nll[ia]
        new_theta = th.copy()
        new_theta[:, free] = np.clip(x + step, xlo, xhi)
        new_nll = _finite(bm.nll(new_theta, counts_a, glob_a, analytic_bb, const_a))
        best = np.zeros(ia.size, dtype=int)
        retry = np.nonzero(~(new_nll <= old))[0]
        if retry.size:
            alphas = np.array([0.5, 0.25, 0.1, 0.02])
            K = alphas.size
            cand = np.repeat(th[retry][None], K, axis=0)  # (K, r, P)
            cand[:, :, free] = np.clip(x[retry][None] + alphas[:, None, None] * step[retry][None],
                                       xlo[retry][None], xhi[retry][None])
            vals = _finite(bm.nll(cand.reshape(K * retry.size, m.P), np.tile(counts_a[retry], (K, 1)),
                                  np.tile(glob_a[retry], (K, 1)), analytic_bb,
                                  np.tile(const_a[retry], K)).reshape(K, retry.size))
            k = np.argmin(vals, axis=0)
            new_nll[retry] = vals[k, np.arange(retry.size)]
            new_theta[retry] = cand[k, np.arange(retry.size)]
            best[retry] = k + 1
        better = new_nll <= old
        upd = ia[better]
        theta[upd] = new_theta[better]
        nll[upd] = new_nll[better]
        # damping: relax after full steps, tighten after failures
        lam[ia] = np.where(better & (best == 0), np.maximum(lam[ia] * 0.3, 1e-7),
                           np.where(better, lam[ia], np.minimum(lam[ia] * 10.0, 1e8)))
        # Minuit's criterion: the expected distance to the minimum (Newton, undamped) is below edm;
        # or no step lowers the NLL any more even with strong damping (a flat or kinked direction,
        # e.g. a shape nuisance that barely acts, where the Gauss-Newton curvature misleads)
        stalled[ia] = np.where(better & (old - nll[ia] > 0.1 * edm), 0, stalled[ia] + 1)
        converged[ia[(edm_now < edm) | ((stalled[ia] >= 3) & (lam[ia] >= 1e3))]] = True
    theta = _profiled(bm, theta, counts, glob, analytic_bb)
    return BatchFit(theta, nll, converged, it)


def _finite(values: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(values), values, np.inf)


#: systems up to this size are solved by elimination over the whole batch at once (a few numpy
#: operations per matrix element, faster than LAPACK's per-matrix calls for small systems)
SMALL_SYSTEM = 8


def _solve(A: np.ndarray, g: np.ndarray, diag: np.ndarray) -> np.ndarray:
    """A^-1 g for every dataset (a gradient step where A is singular).

    The matrices are symmetric and (Gauss-Newton curvature plus Levenberg-Marquardt damping)
    positive definite, so small ones are solved by Gaussian elimination without pivoting,
    vectorised over the datasets (the batch axis last, so every operation runs on contiguous rows);
    a dataset whose elimination breaks down takes the gradient step."""
    F = A.shape[1]
    if F <= SMALL_SYSTEM:
        a = np.ascontiguousarray(np.moveaxis(A, 0, -1))  # (F, F, n)
        b = np.ascontiguousarray(g.T)  # (F, n)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for k in range(F - 1):
                f = a[k + 1:, k] / a[k, k]
                a[k + 1:, k + 1:] -= f[:, None] * a[k, None, k + 1:]
                b[k + 1:] -= f * b[k]
            x = np.empty_like(b)
            for k in range(F - 1, -1, -1):
                x[k] = (b[k] - (a[k, k + 1:] * x[k + 1:]).sum(axis=0)) / a[k, k]
        x = x.T
        bad = ~np.isfinite(x).all(axis=1)
        if bad.any():
            x[bad] = g[bad] / diag[bad]
    else:
        try:
            x = np.linalg.solve(A, g[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            x = g / diag
    return np.where(np.isfinite(x), x, 0.0)


def _profiled(bm: BatchModel, theta, counts, glob, analytic_bb: bool) -> np.ndarray:
    """theta with the BB-lite parameters at their closed-form profiled values."""
    m = bm.m
    if not (analytic_bb and m.bb_bin.size):
        return theta
    from ..model.likelihood import Likelihood

    out = theta.copy()
    mu, sigma = bm._mu_sigma(theta)
    jb = m.bb_bin
    out[:, m.bb_par] = Likelihood._bb_solve(mu[:, jb], sigma[:, jb], np.nan_to_num(counts[:, jb]),
                                            glob[:, m.bb_par], bm.masked_bins(theta)[:, jb])
    return out


def _jacobian(bm: BatchModel, theta: np.ndarray, free: np.ndarray, hi_f: np.ndarray):
    """Expected events (n, B) and their forward-difference Jacobian (n, B, F) in the free parameters
    (BB-lite parameters held at their values in ``theta``).

    Forward differences with a relative step of 1e-6 err by ~1e-6 of the curvature in the
    gradient, which moves the minimum by ~1e-6 and its NLL by ~1e-12: far below what the test
    statistics need, at half the cost of central differences.
    """
    if bm.has_analytic_jacobian:  # normalisation-only models: exact and one pass
        return bm.jacobian(theta, free)
    n, P = theta.shape
    F = free.size
    x = theta[:, free]
    h = 1e-6 * np.maximum(np.abs(x), 1.0)
    h = np.where(x + h <= hi_f, h, -h)  # step inwards at an upper bound
    pts = np.repeat(theta[None], F + 1, axis=0)  # (F+1, n, P)
    for j in range(F):
        pts[1 + j, :, free[j]] = x[:, j] + h[:, j]
    nu = bm.expected(pts.reshape(-1, P)).reshape(F + 1, n, -1)
    J = (nu[1:] - nu[0][None]) / h.T[:, :, None]  # (F, n, B)
    return nu[0], np.transpose(J, (1, 2, 0))
