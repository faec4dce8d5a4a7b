"""The NLL gradient of one dataset at many parameter points at once: ``(N, P) -> (N, P)``.

Minuit's Hessian of a small model is the forward difference of the analytic gradient, one
gradient per free parameter (:meth:`pycombine.fit.minimize._Objective.hessian`). For the models
of a typical card (a hundred entries, tens of nuisances) each :meth:`Likelihood.evaluate` costs
the fixed overhead of a hundred numpy calls, ~0.4 ms, so one Hessian of 70 nuisances is ~30 ms,
and a FitDiagnostics run asks for about ten. :class:`BatchGradient` takes the forward pass of
:class:`~.batch.BatchModel` (which keeps its intermediate values for it) and runs the likelihood's
backward pass with a leading axis over the points: all columns of the difference in one pass.

It is :meth:`Likelihood.evaluate`'s gradient row by row (tested to rounding on every reference
model), for models whose arrays are dense and which have no per-event channels, formula
rateParams or layered autoMCStats modifiers (:func:`supports`); rows where the likelihood is not
defined (no expectation where there are data, a constraint outside its domain) are handed back to
:meth:`Likelihood.evaluate`, which knows what to return there.
"""

from __future__ import annotations

import numpy as np

from .batch import DENSE_MAX, BatchModel, _GroupSum
from .compile import FLOOR, CompiledModel
from .likelihood import Likelihood
from .nll_terms import bb_lite_chain, sigmoid


def supports(model: CompiledModel) -> bool:
    """Whether :class:`BatchGradient` handles ``model`` (else: one evaluation per point)."""
    m = model
    if m.any_unbinned or m.formulas or m.pp_layers or not m.E:
        return False
    if m.E * max(m.S, m.B) > DENSE_MAX:  # sparse group sums: not a small model
        return False
    # the morph matrices must become dense (E, M) arrays in BatchModel (triplets of small models)
    return not m.M or (m.E * m.M <= DENSE_MAX and all(hasattr(x, "rows") for x in (m.morph_diff, m.morph_sum)))


class BatchGradient:
    """dNLL/dtheta of ``lik`` (its dataset, BB-lite treatment and pinned parameters) per row."""

    def __init__(self, lik: Likelihood):
        m = self.m = lik.m
        self.lik = lik
        if not supports(m):
            raise ValueError("BatchGradient: not for this model (see supports)")
        bm = self.bm = BatchModel(m)
        if m.M:
            self.morph_diff_T = bm.morph_diff.T  # (E, M)
            self.morph_sum_T = bm.morph_sum.T
            self.to_param_pairs = _GroupSum(m.pair_k, m.P, m.pair_v)
        s, k, logk = m.sym
        self.sym_to_param = _GroupSum(k, m.P, logk) if s.size else None
        s, k, _lo, _hi = m.asym
        self.asym_to_param = _GroupSum(k, m.P) if s.size else None
        if m.fac.shape[1]:
            self.fac_to_param = _GroupSum(lik._fac_cols, m.P)

    # ------------------------------------------------------------------ forward
    def _forward(self, theta: np.ndarray, masked: np.ndarray) -> dict:
        """The batched forward pass (:meth:`BatchModel._entries`, keeping what the backward pass
        needs) and the bin expectations with the BB-lite term of :meth:`Likelihood.forward`."""
        m, bm, lik = self.m, self.bm, self.lik
        n = theta.shape[0]
        c: dict = {}
        Ne, tt = bm._entries(theta, c)
        c["tt"] = tt
        mu = bm.to_bin(Ne * tt)
        c["Ne"], c["mu"] = Ne, mu
        sigma = bb_x = x = None
        if m.bb_bin.size:
            sigma = np.sqrt(bm.to_bin(bm._bb_err2(Ne)))
            jb = m.bb_bin
            x = bm.bb_lite_values(theta, mu, sigma, lik.analytic_bb, lik.n[jb], lik.data.glob[m.bb_par], masked,
                                  lik.pinned)
            bb_x = np.zeros((n, m.B))
            bb_x[:, jb] = x
        c.update(sigma=sigma, bb_x=bb_x, nu=bm.with_bb_lite(mu, sigma, x))
        return c

    # ------------------------------------------------------------------ backward
    def gradient(self, theta: np.ndarray) -> np.ndarray:
        """(N, P) gradients at the rows of ``theta`` (N, P)."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        m, lik, bm = self.m, self.lik, self.bm
        masked = bm.masked_bins(theta)
        c = self._forward(theta, masked)
        nu, mu, sigma, bb_x, Ne = c["nu"], c["mu"], c["sigma"], c["bb_x"], c["Ne"]
        n = lik.n
        active = ~masked
        obs = lik.has_obs & active
        g = self._constraint_gradient(theta)
        w_nu = np.where(active, 1.0 - np.where(obs, n / np.where(obs, nu, 1.0), 0.0), 0.0)
        if lik._any_amc:
            pre = mu + sigma * bb_x if sigma is not None else mu
            w_nu = np.where(m.bin_amc & (pre < FLOOR), 0.0, w_nu)
        w_mu = w_nu
        w_sigma = None
        if m.bb_bin.size:
            jb = m.bb_bin
            gx = lik.data.glob[m.bb_par]
            w_sigma = np.zeros_like(w_nu)
            w_sigma[:, jb] = w_nu[:, jb] * bb_x[:, jb]
            chain = lik.analytic_bb and bb_lite_chain(w_nu[:, jb], bb_x[:, jb], sigma[:, jb], mu[:, jb], gx, lik.pinned)
            if chain:
                w_mu = w_nu.copy()
                w_mu[:, jb] += chain[0]
                w_sigma[:, jb] += chain[1]
        w_y = w_mu[:, m.entry_bin]
        tt = c["tt"]
        w_N = bm.to_sample(w_y * tt)
        if m.bb_bin.size:
            sig_e = sigma[:, m.entry_bin]
            contrib = np.where(lik._bb_entry & (sig_e > 0),
                               w_sigma[:, m.entry_bin] * Ne * m.errors**2 / np.where(sig_e > 0, sig_e, 1.0), 0.0)
            w_N = w_N + bm.to_sample(contrib)
            explicit = np.logical_or(not lik.analytic_bb, lik.pinned)
            if np.any(explicit):
                gb = w_nu[:, jb] * sigma[:, jb] + (theta[:, m.bb_par] - gx)
                g[:, m.bb_par] += np.where(explicit, gb, 0.0)
        w_tt = w_y * Ne
        w_t = w_tt
        t = c["t"]
        e, par, n0 = m.pp_pois
        eg, parg = m.pp_gauss
        if e.size or eg.size:
            w_t = w_tt.copy()
            if e.size:
                w_t[:, e] = w_tt[:, e] * theta[:, par] / n0
                np.add.at(g, (slice(None), par), w_tt[:, e] * t[:, e] / n0)
            if eg.size:
                np.add.at(g, (slice(None), parg), w_tt[:, eg] * m.errors[eg])
        if m.M:
            g += self._templates_backward(w_t, c)
        g += self._normalisation_backward(w_N, c)
        bad = (obs & ~(nu > 0)).any(axis=1) | ~np.isfinite(nu).all(axis=1) | ~np.isfinite(g).all(axis=1)
        # where a Poisson or Gamma constraint is outside its domain the NLL is not finite (its
        # gradient may be): the likelihood returns zeros there
        bad |= (theta[:, m.poisson_idx] <= 0).any(axis=1) | (theta[:, m.gamma_idx] <= 0).any(axis=1)
        for i in np.nonzero(bad)[0]:  # the likelihood's own rules for undefined points
            g[i] = lik.evaluate(theta[i], grad=True)[1]
        return g

    def _templates_backward(self, w_t: np.ndarray, c: dict) -> np.ndarray:
        m, lik = self.m, self.lik
        w = w_t
        if "t_scaled" in c:
            w = np.where(lik._amc_log & (c["t_scaled"] < FLOOR), 0.0, w)
        t_pre = c["t_pre"]
        w_pre = w
        if lik._norm_idx.size:
            sums, scale = c["sums"], c["scale"]
            nm = lik._norm_mask
            dot = self.bm.to_sample(np.where(nm, w * t_pre, 0.0))
            ratio = dot / np.where(sums != 0, sums, 1.0)
            w_pre = np.where(nm, scale[:, m.entry_sample] * (w - ratio[:, m.entry_sample]), w)
        u = c["u"]
        if lik._all_lin:
            w_u = np.where(u >= FLOOR, w_pre, 0.0)
        else:
            w_u = np.where(lik._lin, np.where(u >= FLOOR, w_pre, 0.0), w_pre * t_pre)
            w_u = np.where(lik._counting, 0.0, w_u)
        gD = w_u @ self.morph_diff_T
        gS = w_u @ self.morph_sum_T
        a, b, db = c["a"], c["b"], c["db"]
        w_x = 0.5 * (gD + gS * b) + gS * a * db
        return self.to_param_pairs(w_x)

    def _normalisation_backward(self, w_N: np.ndarray, c: dict) -> np.ndarray:
        m = self.m
        N = c["N"]
        g = np.zeros((N.shape[0], m.P))
        wN = w_N * N
        s, _k, _logk = m.sym
        if self.sym_to_param is not None:
            g += self.sym_to_param(wN[:, s])
        s, _k, _lo, _hi = m.asym
        if self.asym_to_param is not None:
            g += self.asym_to_param(wN[:, s] * c["slope"])
        if m.fac.shape[1]:
            vals = c["fac_vals"]  # (n, S, F)
            F = vals.shape[2]
            prefix = np.ones_like(vals)
            suffix = np.ones_like(vals)
            for j in range(1, F):
                prefix[:, :, j] = prefix[:, :, j - 1] * vals[:, :, j - 1]
                suffix[:, :, F - 1 - j] = suffix[:, :, F - j] * vals[:, :, F - j]
            base = m.sample_norm * np.exp(c["A"])
            d = prefix * suffix * m.fac_a1 * (base * w_N)[:, :, None]
            g += self.fac_to_param(d[:, self.lik._fac_valid])
        return g

    def _constraint_gradient(self, theta: np.ndarray) -> np.ndarray:
        """Likelihood._constraints' gradient, row by row. (A twin kept on purpose: the one-point
        version indexes 1-D arrays, ~5 us per evaluation faster than a shape-generic one.)"""
        m = self.m
        glob = self.lik.data.glob
        g = np.zeros_like(theta)
        i = m.gauss_idx
        if i.size:
            g[:, i] += (theta[:, i] - glob[i]) / m.gauss_sigma / m.gauss_sigma
        i = m.bifur_idx
        if i.size:
            diff = theta[:, i] - glob[i]
            s = np.where(diff < 0, m.bifur_lo, m.bifur_hi)
            g[:, i] += diff / s / s
        i = m.poisson_idx
        if i.size:
            gi = glob[i]
            with np.errstate(divide="ignore", invalid="ignore"):
                g[:, i] += 1.0 - np.where(gi != 0, gi / theta[:, i], 0.0)
        i = m.gamma_idx
        if i.size:
            k = glob[i]
            with np.errstate(divide="ignore", invalid="ignore"):
                g[:, i] += -(k - 1.0) / theta[:, i] + 1.0 / m.gamma_scale
        for idx, kk, shifted in ((m.dfd_idx, m.dfd_k, True), (m.dfd2_idx, m.dfd2_k, False)):
            if idx.size:
                d = theta[:, idx] - glob[idx] if shifted else theta[:, idx]
                a = kk * (d - 1.0)
                b = -kk * (d + 1.0)
                g[:, idx] += kk * sigmoid(a) - kk * sigmoid(b)
        return g


def batch_gradient_of(lik: Likelihood) -> BatchGradient | None:
    """The likelihood's :class:`BatchGradient` (made once and kept on it), or None outside its scope."""
    bg = lik.__dict__.get("_batch_gradient", False)
    if bg is False:
        bg = BatchGradient(lik) if supports(lik.m) else None
        lik.__dict__["_batch_gradient"] = bg
    return bg


#: values per array of one block of points (points x max(entries, morph pairs, parameters)): ~16 MB
BLOCK_VALUES = 2_000_000


def shifted_gradients(lik: Likelihood, x: np.ndarray, index: np.ndarray, values: np.ndarray,
                      columns: np.ndarray) -> np.ndarray:
    """dNLL/dtheta[columns] at the points ``x`` with ``x[index[k]] = values[k]``, one row per k.

    The columns of a finite-difference Hessian: in batched blocks of bounded size where the
    model allows it, else one :meth:`Likelihood.evaluate` per point.
    """
    m = lik.m
    index = np.asarray(index, dtype=int)
    values = np.asarray(values, dtype=float)
    out = np.empty((index.size, len(columns)))
    bg = batch_gradient_of(lik)
    if bg is None:
        for k in range(index.size):
            xk = np.array(x, dtype=float)
            xk[index[k]] = values[k]
            out[k] = lik.evaluate(xk, grad=True)[1][columns]
        return out
    rows = max(1, BLOCK_VALUES // max(m.E, m.M, m.P, 1))
    for start in range(0, index.size, rows):
        stop = min(index.size, start + rows)
        X = np.repeat(np.asarray(x, dtype=float)[None, :], stop - start, axis=0)
        X[np.arange(stop - start), index[start:stop]] = values[start:stop]
        out[start:stop] = bg.gradient(X)[:, columns]
    return out
