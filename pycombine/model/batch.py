"""The model evaluated for many parameter points and datasets at once (toys, grids, scans).

:class:`~.likelihood.Likelihood` evaluates one parameter vector on one dataset; with thousands
of pseudo-experiments of a small model its cost is the fixed cost of each numpy call, not the
arithmetic. :class:`BatchModel` runs the same steps with a leading batch axis (``N`` points,
each with its own data counts and global observables), so ``N`` evaluations cost about as much
as a handful of single ones:

* :meth:`BatchModel.expected` -- expected events per bin, ``(N, P) -> (N, B)``;
* :meth:`BatchModel.nll` -- the NLL of each point on its own dataset, ``(N,)``, with the
  Barlow-Beeston-lite parameters profiled in closed form and every constraint term, exactly the
  value :meth:`Likelihood.nll` gives (tested to rounding on every reference model).

The sums over entries (per sample, per bin) are products with incidence matrices, dense for
small models and scipy.sparse for large ones; formulas (rateParam expressions) are evaluated
column-wise by :meth:`~.formula.Formula.values`. The NLL's gradient at many points is
:mod:`.batch_gradient`'s (the forward pass here keeps what it needs when asked, ``cache``); the
batched fitter (:mod:`pycombine.fit.batch`) takes finite differences of :meth:`expected`, which
for a batch costs one more evaluation of a larger batch.
"""

from __future__ import annotations

import math

import numpy as np

from .compile import AMC_LIN, AMC_LOG, COUNT, FLOOR, TH1_LIN, TH1_LOG, CompiledModel, entry_factor_layers, product_of_others
from .interpolation import asym_factor_log, smooth_step
from .likelihood import BAD_NLL, Likelihood
from .nll_terms import per_event_terms, poisson_terms
from .morph import BlockMorph

#: incidence matrices up to this many elements are dense (fast matmul); larger ones are sparse
DENSE_MAX = 2_000_000


class _GroupSum:
    """``X (N, n) -> (N, G)``: sums the columns of X into groups (``group[j]`` of column j)."""

    def __init__(self, group: np.ndarray, n_groups: int, weights: np.ndarray | None = None):
        n = group.size
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
        self.shape = (n, n_groups)
        if n * n_groups <= DENSE_MAX:
            mat = np.zeros((n, n_groups))
            np.add.at(mat, (np.arange(n), group), w)
            self.mat = mat
            self.sparse = False
        else:
            import scipy.sparse as sp

            self.mat = sp.csr_matrix((w, (np.arange(n), group)), shape=(n, n_groups))
            self.sparse = True

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.sparse:
            return np.asarray((self.mat.T @ x.T).T)
        return x @ self.mat


class _BlockBatch:
    """A :class:`~.morph.BlockMorph` for batches: ``(N, M) -> (N, E)`` block by block."""

    def __init__(self, matrix: BlockMorph, shape: tuple[int, int]):
        self.rest = _dense(matrix.rest, shape)
        self.blocks = matrix.blocks

    def left(self, x: np.ndarray) -> np.ndarray:
        out = np.array(x @ self.rest)
        for b in self.blocks:
            out[:, b.rows] += x[:, b.cols] @ b.values.T
        return out


def _dense(matrix, shape: tuple[int, int]):
    """A morph matrix (E, M) of :mod:`.compile` as something ``(N, M) @ X -> (N, E)`` works with."""
    if isinstance(matrix, BlockMorph):
        return _BlockBatch(matrix, shape)
    if hasattr(matrix, "rows"):  # morph._Triplets
        if shape[0] * shape[1] <= DENSE_MAX:
            out = np.zeros(shape)
            np.add.at(out, (matrix.rows, matrix.cols), matrix.vals)
            return out.T  # (M, E)
        import scipy.sparse as sp

        return sp.csr_matrix((matrix.vals, (matrix.rows, matrix.cols)), shape=shape).T.tocsr()
    return matrix.a.T.tocsr()  # compile's CSR wrapper: (E, M) -> (M, E)


def _matmul(x: np.ndarray, mat) -> np.ndarray:
    if isinstance(mat, _BlockBatch):
        return mat.left(x)
    out = x @ mat
    return np.asarray(out)


class BatchModel:
    """Expected events and NLLs of a compiled model for batches of parameter points."""

    def __init__(self, model: CompiledModel):
        m = self.m = model
        g = m.entry_group
        self.lin = (g == TH1_LIN) | (g == AMC_LIN)
        self.log = (g == TH1_LOG) | (g == AMC_LOG)
        self.norm_mask = m.entry_renormalised
        self.amc_log = g == AMC_LOG
        self.any_amc_log = bool(m.any_log and self.amc_log.any())
        self.counting = g == COUNT
        self.to_sample = _GroupSum(m.entry_sample, m.S) if m.E else None
        self.to_bin = _GroupSum(m.entry_bin, m.B) if m.E else None
        s, _k, _ = m.sym
        self.sym_sum = _GroupSum(s, m.S) if s.size else None
        s, _k, _lo, _hi = m.asym
        self.asym_sum = _GroupSum(s, m.S) if s.size else None
        if m.M:
            self.morph_diff = _dense(m.morph_diff, (m.E, m.M))
            self.morph_sum = _dense(m.morph_sum, (m.E, m.M))
        self.bb_entry = np.zeros(m.E, dtype=bool)
        if m.bb_bin.size:
            is_bin = np.zeros(m.B, dtype=bool)
            is_bin[m.bb_bin] = True
            self.bb_entry = is_bin[m.entry_bin]
        self.mask_index = np.array([c.mask_index for c in m.channels], dtype=int)
        self.entry_is_sample = m.E == m.S and bool((m.entry_sample == np.arange(m.E)).all())

    # ------------------------------------------------------------------ forward
    def extend(self, theta: np.ndarray) -> np.ndarray:
        """(N, P) -> (N, P_ext): formula values appended in dependency order."""
        m = self.m
        if not m.formulas:
            return theta
        x = np.empty((theta.shape[0], m.P_ext))
        x[:, : m.P] = theta
        for k, f, args in m.formulas:
            x[:, k] = f.values([x[:, a] for a in args])
        return x

    # ``cache``, where given, receives the intermediate values the gradient needs (batch_gradient)
    def normalisation(self, theta: np.ndarray, x_ext: np.ndarray, cache: dict | None = None) -> np.ndarray:
        m = self.m
        A = np.zeros((theta.shape[0], m.S))
        _s, k, logk = m.sym
        if self.sym_sum is not None:
            A += self.sym_sum(theta[:, k] * logk)
        _s, k, lo, hi = m.asym
        slope = None
        if self.asym_sum is not None:
            val, slope = asym_factor_log(theta[:, k], lo, hi, m.asym_code)
            A += self.asym_sum(val)
        N = m.sample_norm * np.exp(A)
        vals = None
        if m.fac.shape[1]:
            vals = m.fac_a0 + m.fac_a1 * x_ext[:, np.maximum(m.fac, 0)]  # (N, S, F)
            N = N * vals.prod(axis=2)
        if cache is not None:
            cache.update(A=A, slope=slope, fac_vals=vals, N=N)
        return N

    def templates(self, theta: np.ndarray, cache: dict | None = None) -> np.ndarray:
        m = self.m
        n = theta.shape[0]
        u = np.broadcast_to(m.base, (n, m.E))
        if m.M:
            x = m.pair_v * theta[:, m.pair_k]
            b, db = smooth_step(x, m.pair_q)
            a = 0.5 * x
            u = m.base + _matmul(a, self.morph_diff) + _matmul(a * b, self.morph_sum)
            if cache is not None:
                cache.update(a=a, b=b, db=db)
        t = np.ones((n, m.E))
        t[:, self.lin] = np.maximum(u[:, self.lin], FLOOR)
        if m.any_log:
            t[:, self.log] = np.exp(u[:, self.log])
        if cache is not None:
            cache.update(u=u, t_pre=t)
        nm = self.norm_mask
        if nm.any():
            sums = self.to_sample(np.where(nm, t, 0.0))
            safe = np.where(sums != 0, sums, 1.0)
            scale = np.where(sums != 0, m.sample_target / safe, 1.0)
            t = np.where(nm, t * scale[:, m.entry_sample], t)
            if cache is not None:
                cache.update(sums=sums, scale=scale)
        if self.any_amc_log:
            if cache is not None:
                cache["t_scaled"] = t
                t = t.copy()
            t[:, self.amc_log] = np.maximum(t[:, self.amc_log], FLOOR)
        return t

    def _entries(self, theta: np.ndarray, cache: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(N_s of each entry's sample, the entry's template) without the BB-lite term, (N, E) each."""
        m = self.m
        x_ext = self.extend(theta)
        N = self.normalisation(theta, x_ext, cache)
        t = self.templates(theta, cache)
        if cache is not None:
            cache["t"] = t
            if m.pp_pois[0].size or m.pp_gauss[0].size:
                t = t.copy()  # the templates before the per-process modifiers stay in the cache
        e, par, n0 = m.pp_pois
        if e.size:
            t[:, e] = t[:, e] * theta[:, par] / n0
            for e2, par2, n2 in m.pp_layers:
                t[:, e2] = t[:, e2] * theta[:, par2] / n2
        e, par = m.pp_gauss
        if e.size:
            t[:, e] = t[:, e] + theta[:, par] * m.errors[e]
        return N[:, m.entry_sample], t

    def _mu_sigma(self, theta: np.ndarray):
        """Per-bin sums without the BB-lite term, and the BB-lite widths."""
        Ne, t = self._entries(theta)
        mu = self.to_bin(Ne * t)
        sigma = None
        if self.m.bb_bin.size:
            sigma = np.sqrt(self.to_bin(self._bb_err2(Ne)))
        return mu, sigma

    def _bb_err2(self, Ne: np.ndarray) -> np.ndarray:
        """(N, E): each entry's squared BB-lite width (zero outside BB-lite bins)."""
        return np.where(self.bb_entry, (Ne * self.m.errors) ** 2, 0.0)

    def entry_yields(self, theta: np.ndarray) -> np.ndarray:
        """Expected events per entry, ``(N, P) -> (N, E)``, with each process's share of the
        BB-lite term (BB-lite parameters at their values in ``theta``): the rows are
        :meth:`Likelihood.process_yields` of a likelihood with ``analytic_bb=False``."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        m = self.m
        Ne, t = self._entries(theta)
        y = Ne * t
        if m.bb_bin.size:
            err2 = self._bb_err2(Ne)
            sigma = np.sqrt(self.to_bin(err2))[:, m.entry_bin]
            x = np.zeros((theta.shape[0], m.B))
            x[:, m.bb_bin] = theta[:, m.bb_par]
            has = self.bb_entry & (sigma > 0)
            y = y + np.where(has, err2 * x[:, m.entry_bin] / np.where(has, sigma, 1.0), 0.0)
        if m.any_unbinned:
            y = y * m.bin_ref[m.entry_bin]  # per-event channels: expected weights of the events
        return y

    # ------------------------------------------------------------------ derivatives
    @property
    def has_analytic_jacobian(self) -> bool:
        """Whether :meth:`jacobian` applies: no template morphing and no formulas (whose
        derivatives the fitter takes by finite differences instead)."""
        return self.m.M == 0 and not self.m.formulas

    def jacobian(self, theta: np.ndarray, free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expected events (N, B) and their exact derivatives (N, B, F) in the parameters ``free``
        (BB-lite parameters held at their values in ``theta``), for models without morphing or
        formulas (:attr:`has_analytic_jacobian`): the yields are then normalisations times fixed
        templates, and d nu / d theta follows from d ln N_s / d theta."""
        m = self.m
        n = theta.shape[0]
        F = free.size
        col = np.full(m.P, -1)
        col[free] = np.arange(F)
        N0 = m.sample_norm * np.exp(self._exponent(theta))  # normalisation() without the factors
        N = N0
        if m.fac.shape[1]:
            vals = m.fac_a0 + m.fac_a1 * theta[:, np.maximum(m.fac, 0)]  # (n, S, Fac)
            N = N0 * vals.prod(axis=2)
        # d ln N_s / d theta_free: the symmetric lnN part is constant (kept per set of free parameters)
        dlnN = self._sym_dlnN(free, col)[None]
        s, k, lo, hi = m.asym
        use = col[k] >= 0
        if use.any():
            dlnN = np.repeat(dlnN, n, axis=0)
            _v, slope = asym_factor_log(theta[:, k[use]], lo[use], hi[use], None if m.asym_code is None else m.asym_code[use])
            np.add.at(dlnN, (slice(None), s[use], col[k[use]]), slope)
        dN = N[:, :, None] * dlnN  # (n, S, F)
        if m.fac.shape[1]:
            fac_col = np.where(m.fac >= 0, col[np.maximum(m.fac, 0)], -1)
            for j in range(m.fac.shape[1]):
                sel = np.nonzero(fac_col[:, j] >= 0)[0]
                if not sel.size:
                    continue
                others = np.prod(np.delete(vals[:, sel, :], j, axis=2), axis=2)  # (n, sel)
                dN[:, sel, fac_col[sel, j]] += N0[:, sel] * others * m.fac_a1[sel, j]
        t = np.broadcast_to(self._fixed_templates(), (n, m.E))
        dt = None  # (n, E, F) derivatives of the per-process BB-modified templates
        e, par, n0 = m.pp_pois
        eg, parg = m.pp_gauss
        if e.size or eg.size:
            dt = np.zeros((n, m.E, F))
            tt = t.copy()
            if e.size and m.pp_layers:
                layers = entry_factor_layers(m, theta)
                tt = t * product_of_others(layers, -1)
                for j, (ej, pj, nj) in enumerate([m.pp_pois, *m.pp_layers]):
                    use = col[pj] >= 0
                    others = product_of_others(layers, j)
                    dt[:, ej[use], col[pj[use]]] += t[:, ej[use]] * others[:, ej[use]] / nj[use]
            elif e.size:
                tt[:, e] = t[:, e] * theta[:, par] / n0
                use = col[par] >= 0
                dt[:, e[use], col[par[use]]] = t[:, e[use]] / n0[use]
            if eg.size:
                tt[:, eg] = t[:, eg] + theta[:, parg] * m.errors[eg]
                use = col[parg] >= 0
                dt[:, eg[use], col[parg[use]]] = m.errors[eg[use]]
            t = tt
        if self.entry_is_sample:  # one entry per sample, in order
            Ne, dNe = N, dN
        else:
            Ne = N[:, m.entry_sample]  # (n, E)
            dNe = dN[:, m.entry_sample, :]  # (n, E, F)
        dy = dNe * t[:, :, None]
        if dt is not None:
            dy += Ne[:, :, None] * dt
        mu = self.to_bin(Ne * t)
        if not F:
            J = np.zeros((n, m.B, 0))
        elif not self.to_bin.sparse:
            J = np.einsum("nef,eb->nbf", dy, self.to_bin.mat)
        else:
            J = np.stack([self.to_bin(dy[:, :, f]) for f in range(F)], axis=2)
        nu = mu
        if m.bb_bin.size:
            jb = m.bb_bin
            err2 = self._bb_err2(Ne)
            sigma = np.sqrt(self.to_bin(err2))
            x = theta[:, m.bb_par]
            nu = mu.copy()
            nu[:, jb] = mu[:, jb] + sigma[:, jb] * x
            dsig2 = np.where(self.bb_entry[None, :, None], 2.0 * Ne[:, :, None] * m.errors[None, :, None] ** 2 * dNe, 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                for f in range(F):
                    ds = self.to_bin(dsig2[:, :, f])[:, jb] / np.where(sigma[:, jb] > 0, 2.0 * sigma[:, jb], np.inf)
                    J[:, jb, f] += ds * x
            bb_col = col[m.bb_par]
            use = bb_col >= 0
            if use.any():
                J[:, jb[use], bb_col[use]] += sigma[:, jb[use]]
        if m.bin_amc.any():
            low = m.bin_amc & (nu < FLOOR)
            nu = np.where(m.bin_amc, np.maximum(nu, FLOOR), nu)
            J = np.where(low[:, :, None], 0.0, J)
        return nu, J

    def _fixed_templates(self) -> np.ndarray:
        """(1, E): the fixed templates :meth:`jacobian` uses (models without morphing, whose templates
        do not depend on the parameters), computed once."""
        if getattr(self, "_t_fixed", None) is None:
            m = self.m
            t = m.base[None].astype(float)
            t[:, self.lin] = np.maximum(m.base[self.lin], FLOOR)
            if m.any_log:
                t[:, self.log] = np.exp(m.base[self.log])
            nm = self.norm_mask
            if nm.any():
                sums = self.to_sample(np.where(nm, t, 0.0))
                safe = np.where(sums != 0, sums, 1.0)
                scale = np.where(sums != 0, m.sample_target / safe, 1.0)
                t = np.where(nm, t * scale[:, m.entry_sample], t)
            if self.any_amc_log:
                t[:, self.amc_log] = np.maximum(t[:, self.amc_log], FLOOR)
            self._t_fixed = t
        return self._t_fixed

    def _sym_dlnN(self, free: np.ndarray, col: np.ndarray) -> np.ndarray:
        """(S, F): d ln N_s / d theta_free of the symmetric lnN terms (constant), cached per ``free``."""
        key = free.tobytes()
        cache = self.__dict__.setdefault("_sym_cache", {})
        if key not in cache:
            m = self.m
            out = np.zeros((m.S, free.size))
            s, k, logk = m.sym
            use = col[k] >= 0
            if use.any():
                np.add.at(out, (s[use], col[k[use]]), logk[use])
            if len(cache) > 64:
                cache.clear()
            cache[key] = out
        return cache[key]

    def _exponent(self, theta: np.ndarray) -> np.ndarray:
        m = self.m
        A = np.zeros((theta.shape[0], m.S))
        _s, k, logk = m.sym
        if self.sym_sum is not None:
            A += self.sym_sum(theta[:, k] * logk)
        _s, k, lo, hi = m.asym
        if self.asym_sum is not None:
            val, _ = asym_factor_log(theta[:, k], lo, hi, m.asym_code)
            A += self.asym_sum(val)
        return A

    def masked_bins(self, theta: np.ndarray) -> np.ndarray:
        """(N, B): bins of channels masked by their mask parameter."""
        m = self.m
        masks = self.mask_index
        if (masks < 0).all():
            return np.zeros((theta.shape[0], m.B), dtype=bool)
        vals = np.where(masks >= 0, theta[:, np.maximum(masks, 0)], 0.0)  # (N, C)
        return (vals != 0)[:, m.bin_channel]

    def expected(self, theta: np.ndarray, counts: np.ndarray | None = None, glob: np.ndarray | None = None,
                 bb: np.ndarray | None = None) -> np.ndarray:
        """Expected events per bin, ``(N, P) -> (N, B)``.

        BB-lite parameters take their values in ``theta`` (``bb`` None and no data), or are
        profiled in closed form for the datasets ``counts``/``glob`` (``bb="profile"``), as
        :class:`Likelihood` with ``analytic_bb`` does.
        """
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        m = self.m
        mu, sigma = self._mu_sigma(theta)
        x = None
        if m.bb_bin.size:
            jb = m.bb_bin
            if bb == "profile":
                x = self.bb_lite_values(theta, mu, sigma, True, np.nan_to_num(counts[:, jb]), glob[:, m.bb_par],
                                        self.masked_bins(theta))
            else:
                x = self.bb_lite_values(theta, mu, sigma, False, None, None, None)
        nu = self.with_bb_lite(mu, sigma, x)
        if m.any_unbinned:
            nu = nu * m.bin_ref  # per-event channels: the expected (Asimov) weight of each event
        return nu

    def bb_lite_values(self, theta: np.ndarray, mu: np.ndarray, sigma: np.ndarray, profiled: bool,
                       n: np.ndarray | None, glob: np.ndarray | None, masked: np.ndarray | None,
                       pinned: np.ndarray | None = None) -> np.ndarray:
        """The BB-lite parameters of the BB-lite bins, (N, |bb|): profiled in closed form for the
        data ``n`` and observables ``glob`` of those bins (``profiled``; ``pinned`` ones keep their
        value in ``theta``), else their values in ``theta``."""
        m = self.m
        if not profiled:
            return theta[:, m.bb_par]
        jb = m.bb_bin
        x = Likelihood._bb_solve(mu[:, jb], sigma[:, jb], n, glob, masked[:, jb])
        return x if pinned is None else np.where(pinned, theta[:, m.bb_par], x)

    def with_bb_lite(self, mu: np.ndarray, sigma: np.ndarray, x: np.ndarray | None) -> np.ndarray:
        """Expected events per bin (N, B): ``mu`` plus the BB-lite term ``sigma x`` in the BB-lite
        bins, floored where autoMCStats floors them."""
        m = self.m
        nu = mu
        if x is not None:
            jb = m.bb_bin
            nu = mu.copy()
            nu[:, jb] = mu[:, jb] + sigma[:, jb] * x
        if m.bin_amc.any():
            nu = np.where(m.bin_amc, np.maximum(nu, FLOOR), nu)
        return nu

    # ------------------------------------------------------------------ NLL
    def nll(self, theta: np.ndarray, counts: np.ndarray, glob: np.ndarray, analytic_bb: bool = True,
            constants: np.ndarray | None = None) -> np.ndarray:
        """NLL of every point on its own dataset: ``theta`` (N, P), ``counts`` (N, B), ``glob`` (N, P).

        The same value as ``Likelihood(model, Dataset(counts[i], glob[i]), analytic_bb).nll(theta[i])``,
        including Combine's 9e9 for data in a bin without expectation. ``constants`` (N,), when
        given, is :meth:`constants` of ``glob`` (computed once by callers that evaluate the same
        datasets many times, e.g. the batched fitter).
        """
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        m = self.m
        analytic = analytic_bb and m.bb_bin.size > 0
        mu, sigma = self._mu_sigma(theta)
        masked = self.masked_bins(theta)
        bb_x = None
        if m.bb_bin.size:
            jb = m.bb_bin
            bb_x = self.bb_lite_values(theta, mu, sigma, analytic, np.nan_to_num(counts[:, jb]), glob[:, m.bb_par], masked)
        nu = self.with_bb_lite(mu, sigma, bb_x)
        n = np.nan_to_num(counts)
        active = ~masked
        obs = (n != 0) & active
        bad = (obs & ~(nu > 0)).any(axis=1)
        if m.any_unbinned:
            # per-event channels: -w (1 + ln(s / w)) per event and the extended term sum_j N_j
            terms = np.where(m.bin_unbinned, per_event_terms(nu, n, obs), poisson_terms(nu, n, obs))
            val = np.where(active, terms, 0.0).sum(axis=1)
            N = self.normalisation(theta, self.extend(theta))
            act_s = active[:, m.sample_bin0] & m.sample_unbinned
            val += np.where(act_s, N, 0.0).sum(axis=1)
        else:
            val = np.where(active, poisson_terms(nu, n, obs), 0.0).sum(axis=1)
        if bb_x is not None:
            val += 0.5 * ((bb_x - glob[:, m.bb_par]) ** 2).sum(axis=1)
        val += self.constraints(theta, glob, constants)
        return np.where(bad, BAD_NLL, val)

    def constants(self, glob: np.ndarray) -> np.ndarray:
        """The parameter-independent part of the constraint terms of each dataset (N,): the
        ln N! of the Poisson constraints' global observables."""
        i = self.m.poisson_idx
        if not i.size:
            return np.zeros(glob.shape[0])
        return _lgamma(glob[:, i] + 1.0).sum(axis=1)

    def constraints(self, theta: np.ndarray, glob: np.ndarray, constants: np.ndarray | None = None) -> np.ndarray:
        """The constraint terms of every point (Likelihood._constraints, batched); ``constants``:
        :meth:`constants` of ``glob``, when already known."""
        m = self.m
        val = np.zeros(theta.shape[0])
        i = m.gauss_idx
        if i.size:
            d = (theta[:, i] - glob[:, i]) / m.gauss_sigma
            val += 0.5 * (d * d).sum(axis=1)
        i = m.bifur_idx
        if i.size:
            diff = theta[:, i] - glob[:, i]
            s = np.where(diff < 0, m.bifur_lo, m.bifur_hi)
            val += 0.5 * ((diff / s) ** 2).sum(axis=1)
        i = m.poisson_idx
        if i.size:
            th, gi = theta[:, i], glob[:, i]
            with np.errstate(divide="ignore", invalid="ignore"):
                val += (th - np.where(gi != 0, gi * np.log(th), 0.0)).sum(axis=1)
            val += self.constants(glob) if constants is None else constants
        i = m.gamma_idx
        if i.size:
            th, k = theta[:, i], glob[:, i]
            val += (-(k - 1.0) * np.log(th) + th / m.gamma_scale).sum(axis=1)
        for idx, kk, shifted in ((m.dfd_idx, m.dfd_k, True), (m.dfd2_idx, m.dfd2_k, False)):
            if idx.size:
                d = theta[:, idx] - glob[:, idx] if shifted else theta[:, idx]
                a = kk * (d - 1.0)
                b = -kk * (d + 1.0)
                val += (np.logaddexp(0.0, a) + np.logaddexp(0.0, b)).sum(axis=1)
        return val


def _lgamma(x: np.ndarray) -> np.ndarray:
    """ln Gamma(x) elementwise (the ln N! constants of Poisson constraints).

    Toys' global observables of Poisson constraints take few distinct (integer) values: those are
    looked up with math.lgamma (as :class:`Likelihood` computes them), which spares importing
    scipy.special (0.25 s); scipy's gammaln for many distinct values."""
    x = np.asarray(x, dtype=float)
    values, inverse = np.unique(x, return_inverse=True)
    if values.size <= 4096 and (values > 0).all():
        return np.array([math.lgamma(v) for v in values])[inverse.reshape(x.shape)]
    from scipy.special import gammaln  # toys and grids only: not on the start-up path

    return gammaln(x)
