"""The negative log-likelihood of a compiled model and its analytic gradient.

One evaluation is a fixed sequence of vectorised steps (no Python loop over bins, processes or
nuisances):

1. extended parameter vector: append formula (rateParam expression) values;
2. process normalisations N_s: log-normal and AsymPow exponents, multiplicative factors;
3. templates: base + two sparse mat-vec products for the vertical morphs, then Combine's
   floors and normalisations per template group;
4. per-entry yields, per-process autoMCStats modifiers, bin sums;
5. Barlow-Beeston-lite parameters profiled in closed form per bin (autoMCStats);
6. Poisson terms per bin (:func:`.nll_terms.poisson_terms`, zero where the expectation equals the data)
   plus constraint terms.

The gradient runs the same steps backwards. Only differences of NLL values are meaningful, as
in Combine (spec §3.8): constants such as ln n! are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .compile import AMC_LIN, AMC_LOG, COUNT, FLOOR, TH1_LIN, TH1_LOG, CompiledModel, entry_factor_layers, product_of_others
from .interpolation import asym_factor_log, smooth_step
from .nll_terms import SampleSum, bb_lite_chain, lgamma_sum, per_event_terms, poisson_terms, sigmoid

__all__ = ["BAD_NLL", "Dataset", "Likelihood", "State", "per_event_terms", "poisson_terms"]

BAD_NLL = 9e9  # Combine's CachingNLL returns this for a bin with data and no expectation


@dataclass(eq=False)  # numpy fields: a generated __eq__ could not compare them
class Dataset:
    """Observed (or toy/Asimov) counts per bin and the global observables they come with."""

    counts: np.ndarray  # (B,)
    glob: np.ndarray  # (P,) constraint centres (nan where a parameter has none)
    name: str = "data_obs"
    is_asimov: bool = False

    def copy(self) -> "Dataset":
        return Dataset(self.counts.copy(), self.glob.copy(), self.name, self.is_asimov)


@dataclass(eq=False)  # numpy fields: a generated __eq__ could not compare them
class State:
    """Intermediate results of one evaluation (kept for the gradient and for outputs)."""

    x_ext: np.ndarray
    N: np.ndarray  # (S,) process normalisations
    t: np.ndarray  # (E,) normalised/absolute templates after morphing and floors
    tt: np.ndarray  # (E,) templates with per-process autoMCStats modifiers
    y: np.ndarray  # (E,) per-entry expected events (without BB-lite shares)
    mu: np.ndarray  # (B,) bin sums without BB-lite
    sigma: np.ndarray  # (B,) BB-lite widths (0 elsewhere)
    bb_x: np.ndarray  # (B,) BB-lite parameter values (0 elsewhere)
    nu: np.ndarray  # (B,) expected events per bin
    A: np.ndarray | None = None  # (S,) log-normal/AsymPow exponents of the normalisations
    asym_slope: np.ndarray | None = None  # d(theta L(theta))/dtheta of each AsymPow term


class Likelihood:
    """NLL(theta) of a compiled model for one dataset."""

    def __init__(self, model: CompiledModel, data: Dataset, analytic_bb: bool = True):
        self.m = model
        self.data = data
        self.analytic_bb = analytic_bb and model.bb_bin.size > 0
        #: BB-lite parameters pinned to their value in theta (a scan or an impact fit of one of
        #: them): they are not profiled analytically while pinned
        self.pinned = np.zeros(model.bb_bin.size, dtype=bool)
        n = data.counts
        self.has_obs = n != 0
        # the per-bin log term only where there is data (Combine skips zero-weight bins)
        self.n = np.where(np.isnan(n), 0.0, n)
        m = model
        self._bb_is_bin = np.zeros(m.B, dtype=bool)
        self._bb_is_bin[m.bb_bin] = True
        self._bb_entry = self._bb_is_bin[m.entry_bin] if m.E else np.zeros(0, bool)
        self.calls = 0
        # constant per model, hoisted out of the per-evaluation path (small cards are dominated
        # by the fixed cost of each numpy call, not by the arithmetic)
        g = m.entry_group
        self._lin = (g == TH1_LIN) | (g == AMC_LIN)  # templates floored linearly
        self._log = (g == TH1_LOG) | (g == AMC_LOG)  # templates morphed in log space (shapeN)
        self._norm_mask = m.entry_renormalised  # normalised to a target
        # the same as index sets: per-event channels hold millions of entries, none renormalised
        # and all linear, where every masked pass over all entries costs ~20 ms
        self._norm_idx = np.nonzero(self._norm_mask)[0]
        self._norm_sample = m.entry_sample[self._norm_idx]
        self._all_lin = bool(m.E and self._lin.all())
        self._sample_sum = SampleSum(m)
        self._event_bins = np.nonzero(m.bin_unbinned)[0]  # per-event channels' bins (events)
        self._binned_bins = np.nonzero(~m.bin_unbinned)[0]
        self._amc_log = g == AMC_LOG
        self._counting = g == COUNT  # counting-experiment samples: no templates to morph
        self._any_amc_log = bool(m.any_log and self._amc_log.any())
        self._mask_index = np.array([c.mask_index for c in m.channels], dtype=int)
        self._unmasked = np.zeros(m.B, dtype=bool)
        self._all_active = np.ones(m.B, dtype=bool)
        self._any_amc = bool(m.bin_amc.any())  # bins whose expectation is floored (autoMCStats)
        self._poisson_const: tuple[bytes, float] | None = None
        self._fixed_templates: tuple | None = None  # templates() of a model without morphing
        self._fac_at = np.maximum(m.fac, 0)  # the parameters of the normalisation factors (gather)
        self._fac_valid = m.fac >= 0
        self._fac_cols = m.fac[self._fac_valid]
        #: every bin observed (no zero-count bin): the Poisson terms need no masking
        self._all_observed = bool(self.has_obs.all())

    # ------------------------------------------------------------------ forward pieces
    def extend(self, theta: np.ndarray) -> np.ndarray:
        m = self.m
        if not m.formulas:
            return theta
        x = np.empty(m.P_ext)
        x[: m.P] = theta
        for k, f, args in m.formulas:
            x[k] = f.value(x[args])
        return x

    def normalisation(self, theta: np.ndarray, x_ext: np.ndarray):
        """N_s, the exponent A_s and the AsymPow slopes (both kept for the gradient)."""
        m = self.m
        A = np.zeros(m.S)
        s, k, logk = m.sym
        if s.size:
            A += np.bincount(s, weights=theta[k] * logk, minlength=m.S)
        slope = None
        s, k, lo, hi = m.asym
        if s.size:
            val, slope = asym_factor_log(theta[k], lo, hi, m.asym_code)
            A += np.bincount(s, weights=val, minlength=m.S)
        N = m.sample_norm * np.exp(A)
        if m.fac.shape[1]:
            vals = self._factor_values(x_ext)
            N = N * (vals[:, 0] if vals.shape[1] == 1 else vals.prod(axis=1))
        return N, A, slope

    def _factor_values(self, x_ext: np.ndarray) -> np.ndarray:
        m = self.m
        return m.fac_a0 + m.fac_a1 * x_ext[self._fac_at]

    def templates(self, theta: np.ndarray):
        """Morphed templates per entry; returns (t, cache for the backward pass).

        Without morphing they do not depend on theta: computed once and kept (read-only).
        """
        if self._fixed_templates is not None:
            return self._fixed_templates
        out = self._templates(theta)
        if not self.m.M:
            out[0].flags.writeable = False
            self._fixed_templates = out
        return out

    def _templates(self, theta: np.ndarray):
        m = self.m
        u = m.base
        cache = {}
        if m.M:
            x = m.pair_v * theta[m.pair_k]
            b, db = smooth_step(x, m.pair_q)
            a = 0.5 * x
            u = m.base + m.morph_diff @ a + m.morph_sum @ (a * b)
            cache.update(x=x, a=a, b=b, db=db)
        lin = self._lin
        if self._all_lin:
            t = np.maximum(u, FLOOR)
        else:
            t = np.ones(m.E)
            t[lin] = np.maximum(u[lin], FLOOR)
            if m.any_log:
                t[self._log] = np.exp(u[self._log])
        # normalise TH1-path templates (and shapeN templates to their nominal integral)
        norm_mask = self._norm_mask
        ni, ns = self._norm_idx, self._norm_sample
        sums = np.bincount(ns, weights=t[ni], minlength=m.S)
        scale = np.where(sums != 0, m.sample_target / np.where(sums != 0, sums, 1.0), 1.0)
        t_pre = t.copy() if ni.size or self._any_amc_log else t
        if ni.size:
            t[ni] *= scale[ns]
        amc_log = self._amc_log
        if self._any_amc_log:
            t_scaled = t.copy()
            t[amc_log] = np.maximum(t[amc_log], FLOOR)
            cache["t_scaled"] = t_scaled
        cache.update(u=u, t_pre=t_pre, sums=sums, scale=scale, norm_mask=norm_mask, lin=lin)
        return t, cache

    def forward(self, theta: np.ndarray):
        m = self.m
        x_ext = self.extend(theta)
        N, A, slope = self.normalisation(theta, x_ext)
        t, tcache = self.templates(theta)
        tt = t
        e, par, n0 = m.pp_pois
        eg, parg = m.pp_gauss
        if e.size or eg.size:
            tt = t.copy()
            if e.size:
                tt[e] = t[e] * theta[par] / n0
                for e2, par2, n2 in m.pp_layers:
                    tt[e2] = tt[e2] * theta[par2] / n2
            if eg.size:
                tt[eg] = t[eg] + theta[parg] * m.errors[eg]
        Ne = N[m.entry_sample]
        y = Ne * tt
        mu = np.bincount(m.entry_bin, weights=y, minlength=m.B)
        sigma = np.zeros(m.B)
        bb_x = np.zeros(m.B)
        nu = mu.copy()
        if m.bb_bin.size:
            err2 = np.where(self._bb_entry, (Ne * m.errors) ** 2, 0.0)
            sigma = np.sqrt(np.bincount(m.entry_bin, weights=err2, minlength=m.B))
            jb = m.bb_bin
            if self.analytic_bb:
                x = self._bb_solve(mu[jb], sigma[jb], self.n[jb], self.data.glob[m.bb_par], self._masked_bins()[jb])
                bb_x[jb] = np.where(self.pinned, theta[m.bb_par], x)
            else:
                bb_x[jb] = theta[m.bb_par]
            nu = mu + sigma * bb_x
        amc = m.bin_amc
        if self._any_amc:
            nu = np.where(amc, np.maximum(nu, FLOOR), nu)
        state = State(x_ext, N, t, tt, y, mu, sigma, bb_x, nu, A, slope)
        return state, A, tcache

    @staticmethod
    def _bb_solve(mu, sigma, n, g, masked):
        """Closed-form minimiser of (mu + sigma x) - n ln(mu + sigma x) + (x - g)^2 / 2."""
        ok = (sigma > 0) & ~masked
        s = np.where(ok, sigma, 1.0)
        b = s + mu / s - g
        c = mu - n - (mu / s) * g
        disc = np.sqrt(np.maximum(b * b - 4.0 * c, 0.0))
        t = -0.5 * (b + np.where(b >= 0, 1.0, -1.0) * disc)
        t = np.where(t == 0, -1e-300, t)
        x = np.maximum(t, c / t)
        return np.where(ok, x, g)

    def _masked_bins(self) -> np.ndarray:
        """Bins of channels masked by their mask parameter (read-only result)."""
        m = self.m
        masks = self._mask_index
        if (masks < 0).all():
            return self._unmasked
        vals = np.where(masks >= 0, self._theta_mask_values(masks), 0.0)
        return (vals != 0)[m.bin_channel]

    def _theta_mask_values(self, masks):
        return self._current_theta[np.maximum(masks, 0)]

    # ------------------------------------------------------------------ NLL
    def nll(self, theta: np.ndarray) -> float:
        return self.evaluate(theta, grad=False)[0]

    def evaluate(self, theta: np.ndarray, grad: bool = True):
        """(NLL, dNLL/dtheta or None, State)."""
        m = self.m
        self.calls += 1
        theta = np.asarray(theta, dtype=float)
        self._current_theta = theta
        state, A, tcache = self.forward(theta)
        n = self.n
        nu = state.nu
        masked = self._masked_bins()
        if masked is self._unmasked:  # no channel masked: every bin active
            active, obs = self._all_active, self.has_obs
        else:
            active = ~masked
            obs = self.has_obs & active
        bad = obs & ~(nu > 0)
        if bad.any() or not np.all(np.isfinite(nu)):
            # no expectation where data exist: Combine's channel NLL jumps to 9e9
            if grad:
                return BAD_NLL, np.zeros(m.P), state
            return BAD_NLL, None, state
        val = self._data_nll(state, active, obs)
        if m.bb_bin.size:
            gx = self.data.glob[m.bb_par]
            val += 0.5 * float(np.sum((state.bb_x[m.bb_bin] - gx) ** 2))
        cval, cgrad = self._constraints(theta, grad)
        val += cval
        if not math.isfinite(val):  # e.g. a constraint evaluated outside its domain
            return BAD_NLL, (np.zeros(m.P) if grad else None), state
        if not grad:
            return val, None, state
        g = cgrad
        # ---- backward
        w_nu = np.where(active, 1.0 - np.where(obs, n / np.where(obs, nu, 1.0), 0.0), 0.0)
        if m.any_unbinned:
            us = self._per_event_samples(active)
            ei = self._event_bins  # the per-event expectations enter through -w log(nu) only
            w_nu[ei] = np.where(obs[ei], -n[ei] / np.where(obs[ei], nu[ei], 1.0), 0.0)
        if self._any_amc:
            pre = state.mu + state.sigma * state.bb_x
            w_nu = np.where(m.bin_amc & (pre < FLOOR), 0.0, w_nu)
        w_mu = w_nu
        w_sigma = None
        if m.bb_bin.size:
            jb = m.bb_bin
            w_sigma = np.zeros(m.B)
            w_sigma[jb] = w_nu[jb] * state.bb_x[jb]
            chain = self.analytic_bb and bb_lite_chain(w_nu[jb], state.bb_x[jb], state.sigma[jb], state.mu[jb],
                                                       self.data.glob[m.bb_par], self.pinned)
            if chain:
                w_mu = w_nu.copy()
                w_mu[jb] += chain[0]
                w_sigma[jb] += chain[1]
        w_y = w_mu[m.entry_bin]
        Ne = state.N[m.entry_sample]
        w_N = self._sample_sum(w_y * state.tt)
        if m.any_unbinned:
            w_N = w_N + us  # the extended term sum_j N_j of per-event channels
        if m.bb_bin.size:
            sig_e = state.sigma[m.entry_bin]
            contrib = np.where(self._bb_entry & (sig_e > 0), w_sigma[m.entry_bin] * Ne * m.errors**2 / np.where(sig_e > 0, sig_e, 1.0), 0.0)
            w_N += np.bincount(m.entry_sample, weights=contrib, minlength=m.S)
            explicit = np.logical_or(not self.analytic_bb, self.pinned)  # analytic_bb is a bool: ~True is -2
            if np.any(explicit):
                gx = self.data.glob[m.bb_par]
                gb = w_nu[jb] * state.sigma[jb] + (theta[m.bb_par] - gx)
                g[m.bb_par] += np.where(explicit, gb, 0.0)
        w_tt = w_y * Ne
        w_t = w_tt
        e, par, n0 = m.pp_pois
        eg, parg = m.pp_gauss
        if e.size or eg.size:
            w_t = w_tt.copy()
            if e.size and m.pp_layers:
                layers = entry_factor_layers(m, theta)
                w_t = w_tt * product_of_others(layers, -1)
                for j, (ej, pj, nj) in enumerate([m.pp_pois, *m.pp_layers]):
                    others = product_of_others(layers, j)
                    np.add.at(g, pj, w_tt[ej] * state.t[ej] * others[ej] / nj)
            elif e.size:
                w_t[e] = w_tt[e] * theta[par] / n0
                np.add.at(g, par, w_tt[e] * state.t[e] / n0)
            if eg.size:
                np.add.at(g, parg, w_tt[eg] * m.errors[eg])
        g += self._templates_backward(theta, w_t, state, tcache)
        g_ext = self._normalisation_backward(theta, state, w_N)
        g += g_ext[: m.P]
        if m.formulas:
            self._formula_backward(state.x_ext, g_ext, g)
        return val, g, state

    def _data_nll(self, state: State, active: np.ndarray, obs: np.ndarray) -> float:
        """The NLL terms of the data: Poisson terms of the bins, and for per-event channels
        :func:`per_event_terms` plus the extended term ``sum_j N_j``."""
        m, n, nu = self.m, self.n, state.nu
        if not m.any_unbinned:
            if self._all_observed and obs is self.has_obs:
                # every bin observed and active (the common case): poisson_terms without its masks
                x = (nu - n) / n
                return float(np.sum(n * (x - np.log1p(x))))
            return float(np.sum(np.where(active, poisson_terms(nu, n, obs), 0.0)))
        bi, ei = self._binned_bins, self._event_bins
        val = 0.0
        if bi.size:
            val += float(np.sum(np.where(active[bi], poisson_terms(nu[bi], n[bi], obs[bi]), 0.0)))
        val += float(np.sum(per_event_terms(nu[ei], n[ei], obs[ei])))
        us = self._per_event_samples(active)
        return val + float(np.sum(state.N[us]))

    def _per_event_samples(self, active: np.ndarray) -> np.ndarray:
        """The samples of the unmasked per-event channels, whose NLL is
        ``sum_j N_j - sum_i w_i ln nu_i`` (up to a constant: :func:`per_event_terms`)."""
        m = self.m
        return m.sample_unbinned & active[m.sample_bin0]

    def _constraints(self, theta: np.ndarray, grad: bool):
        m = self.m
        glob = self.data.glob
        val = 0.0
        g = np.zeros(m.P) if grad else None
        i = m.gauss_idx
        if i.size:
            d = (theta[i] - glob[i]) / m.gauss_sigma
            val += 0.5 * float(d @ d)
            if grad:
                g[i] += d / m.gauss_sigma
        i = m.bifur_idx
        if i.size:
            diff = theta[i] - glob[i]
            s = np.where(diff < 0, m.bifur_lo, m.bifur_hi)
            d = diff / s
            val += 0.5 * float(d @ d)
            if grad:
                g[i] += d / s
        i = m.poisson_idx
        if i.size:
            th = theta[i]
            gi = glob[i]
            with np.errstate(divide="ignore", invalid="ignore"):
                val += float(np.sum(th - np.where(gi != 0, gi * np.log(th), 0.0))) + self._poisson_constant(gi)
                if grad:
                    g[i] += 1.0 - np.where(gi != 0, gi / th, 0.0)
        i = m.gamma_idx
        if i.size:
            th = theta[i]
            k = glob[i]
            val += float(np.sum(-(k - 1.0) * np.log(th) + th / m.gamma_scale))
            if grad:
                g[i] += -(k - 1.0) / th + 1.0 / m.gamma_scale
        for idx, kk, shifted in ((m.dfd_idx, m.dfd_k, True), (m.dfd2_idx, m.dfd2_k, False)):
            if idx.size:
                d = theta[idx] - glob[idx] if shifted else theta[idx]
                a = kk * (d - 1.0)
                b = -kk * (d + 1.0)
                val += float(np.sum(np.logaddexp(0.0, a) + np.logaddexp(0.0, b)))
                if grad:
                    g[idx] += kk * sigmoid(a) - kk * sigmoid(b)
        return val, g

    def _poisson_constant(self, gi: np.ndarray) -> float:
        """sum ln Gamma(g + 1) of the Poisson constraints' observables (cached: constant per dataset)."""
        key = gi.tobytes()
        if self._poisson_const is None or self._poisson_const[0] != key:
            self._poisson_const = (key, lgamma_sum(gi + 1.0))
        return self._poisson_const[1]

    def _templates_backward(self, theta, w_t, state: State, c) -> np.ndarray:
        """dNLL/dtheta through the template morphing, given dNLL/dt per entry."""
        m = self.m
        g = np.zeros(m.P)
        if not m.M:
            return g
        w = w_t
        if "t_scaled" in c:
            w = np.where(self._amc_log & (c["t_scaled"] < FLOOR), 0.0, w)
        # through t = t_pre * target / sum(t_pre) for normalised groups
        t_pre = c["t_pre"]
        ni, ns = self._norm_idx, self._norm_sample
        w_pre = w
        if ni.size:
            sums = c["sums"]
            dot = np.bincount(ns, weights=w[ni] * t_pre[ni], minlength=m.S)
            w_pre = w.copy()
            w_pre[ni] = c["scale"][ns] * (w[ni] - dot[ns] / np.where(sums != 0, sums, 1.0)[ns])
        # through the floor (linear groups) or the exponential (log groups)
        u = c["u"]
        if self._all_lin:
            w_u = np.where(u >= FLOOR, w_pre, 0.0)
        else:
            w_u = np.where(c["lin"], np.where(u >= FLOOR, w_pre, 0.0), w_pre * t_pre)
            w_u = np.where(self._counting, 0.0, w_u)  # counting samples have no morphs
        gD = m.morph_diff_T @ w_u
        gS = m.morph_sum_T @ w_u
        a, b, db = c["a"], c["b"], c["db"]
        w_x = 0.5 * (gD + gS * b) + gS * a * db
        g += np.bincount(m.pair_k, weights=w_x * m.pair_v, minlength=m.P)
        return g

    def _normalisation_backward(self, theta, state: State, w_N: np.ndarray) -> np.ndarray:
        m = self.m
        g = np.zeros(m.P_ext)
        wN = w_N * state.N
        s, k, logk = m.sym
        if s.size:
            g[: m.P] += np.bincount(k, weights=wN[s] * logk, minlength=m.P)
        s, k, _lo, _hi = m.asym
        if s.size:
            g[: m.P] += np.bincount(k, weights=wN[s] * state.asym_slope, minlength=m.P)
        if m.fac.shape[1]:
            vals = self._factor_values(state.x_ext)
            F = vals.shape[1]
            base = m.sample_norm * np.exp(state.A)
            # dN/dx_k = (product of the other factors) * a1
            if F == 1:  # no other factors
                d = m.fac_a1 * (base * w_N)[:, None]
            else:
                prefix = np.ones_like(vals)
                suffix = np.ones_like(vals)
                for j in range(1, F):
                    prefix[:, j] = prefix[:, j - 1] * vals[:, j - 1]
                    suffix[:, F - 1 - j] = suffix[:, F - j] * vals[:, F - j]
                d = prefix * suffix * m.fac_a1 * (base * w_N)[:, None]
            g += np.bincount(self._fac_cols, weights=d[self._fac_valid], minlength=m.P_ext)
        return g

    def _exponent(self, theta):
        m = self.m
        A = np.zeros(m.S)
        s, k, logk = m.sym
        if s.size:
            A += np.bincount(s, weights=theta[k] * logk, minlength=m.S)
        s, k, lo, hi = m.asym
        if s.size:
            val, _ = asym_factor_log(theta[k], lo, hi, m.asym_code)
            A += np.bincount(s, weights=val, minlength=m.S)
        return A

    def _formula_backward(self, x_ext: np.ndarray, g_ext: np.ndarray, g: np.ndarray) -> None:
        """Chain rule through formula rateParams (reverse dependency order)."""
        m = self.m
        acc = g_ext.copy()
        for k, f, args in reversed(m.formulas):
            if acc[k] == 0.0:
                continue
            grad = f.gradient(x_ext[args])
            np.add.at(acc, args, acc[k] * grad)
        g += acc[: m.P] - g_ext[: m.P]

    # ------------------------------------------------------------------ outputs
    def process_yields(self, theta: np.ndarray, include_bb_share: bool = True) -> np.ndarray:
        """Per-entry expected events, with each process's share of the BB-lite term (FitDiagnostics)."""
        self._current_theta = np.asarray(theta, float)
        state, _, _ = self.forward(self._current_theta)
        y = state.y.copy()
        m = self.m
        if include_bb_share and m.bb_bin.size:
            sig_e = state.sigma[m.entry_bin]
            x_e = state.bb_x[m.entry_bin]
            Ne = state.N[m.entry_sample]
            share = np.where(self._bb_entry & (sig_e > 0), (Ne * m.errors) ** 2 * x_e / np.where(sig_e > 0, sig_e, 1.0), 0.0)
            y = y + share
        if m.any_unbinned:
            y = y * m.bin_ref[m.entry_bin]  # per-event channels: expected weights of the events
        return y

    def expected(self, theta: np.ndarray) -> np.ndarray:
        """Expected events per bin (nu; per-event channels: the Asimov weight of each event)."""
        self._current_theta = np.asarray(theta, float)
        state, _, _ = self.forward(self._current_theta)
        if self.m.any_unbinned:
            return state.nu * self.m.bin_ref
        return state.nu

    def bb_values(self, theta: np.ndarray) -> np.ndarray:
        """theta with the BB-lite parameters set to their profiled values."""
        m = self.m
        out = np.array(theta, dtype=float)
        if m.bb_bin.size and self.analytic_bb:
            self._current_theta = out
            state, _, _ = self.forward(out)
            out[m.bb_par] = state.bb_x[m.bb_bin]  # pinned ones keep their value
        return out

    def pin(self, indices) -> None:
        """Pin BB-lite parameters (by parameter index) to their values; others stay profiled."""
        m = self.m
        self.pinned = np.isin(m.bb_par, np.asarray(list(indices), dtype=int))
