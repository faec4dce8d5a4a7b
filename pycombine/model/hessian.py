"""Jacobian of the bin expectations and the Gauss-Newton Hessian of the NLL.

Finite differences of the analytic gradient cost one gradient evaluation per free parameter; for
models with hundreds of nuisances that dominates every fit. Here ``J = dnu/dtheta`` is assembled
analytically from the compiled arrays, channel by channel as dense blocks (bins of the channel x
parameters that touch it), so that ``J^T W J`` is a handful of BLAS matrix products:

* normalisation factors: ``dN_s/dtheta_k`` (log-normal, asymmetric/AsymPow, multiplicative
  factors and formulas) times the sample's templates: one outer product per sample;
* template morphs: per (sample, shape systematic) pair the derivative of the morphed template,
  through Combine's floors, exponentials (shapeN) and per-sample normalisations;
* per-process autoMCStats parameters, and the dependence of the BB-lite widths on the
  normalisations.

The Poisson part of the Hessian is approximated by ``J^T diag(n / nu^2) J`` (exact where the
model describes the data; the neglected term is ``sum (1 - n/nu) d2nu``). BB-lite parameters
profiled in closed form are integrated out exactly in this approximation: their bin gets the
weight ``w / (1 + w sigma^2)``. Constraint terms are added exactly.
"""

from __future__ import annotations

import numpy as np

from .compile import AMC_LIN, AMC_LOG, FLOOR, TH1_LIN, CompiledModel, entry_factor_layers, product_of_others
from .interpolation import asym_factor_log
from .likelihood import Likelihood
from .morph import BlockMorph


def normalisation_jacobian(lik: Likelihood, theta: np.ndarray, state) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dN_s/dtheta_k as triplets (sample, parameter, value) in the plain parameter space."""
    m = lik.m
    N = state.N
    S_list, K_list, V_list = [], [], []
    s, k, logk = m.sym
    if s.size:
        S_list.append(s), K_list.append(k), V_list.append(N[s] * logk)
    s, k, lo, hi = m.asym
    if s.size:
        _, dval = asym_factor_log(theta[k], lo, hi, m.asym_code)
        S_list.append(s), K_list.append(k), V_list.append(N[s] * dval)
    if m.fac.shape[1]:
        vals = lik._factor_values(state.x_ext)
        F = vals.shape[1]
        prefix = np.ones_like(vals)
        suffix = np.ones_like(vals)
        for j in range(1, F):
            prefix[:, j] = prefix[:, j - 1] * vals[:, j - 1]
            suffix[:, F - 1 - j] = suffix[:, F - j] * vals[:, F - j]
        base = m.sample_norm * np.exp(lik._exponent(theta))
        d = prefix * suffix * m.fac_a1 * base[:, None]
        ss, jj = np.nonzero(m.fac >= 0)
        kk = m.fac[ss, jj]
        dv = d[ss, jj]
        plain = kk < m.P
        S_list.append(ss[plain]), K_list.append(kk[plain]), V_list.append(dv[plain])
        if m.formulas and (~plain).any():
            # chain formula entries to their arguments (formulas may depend on formulas)
            grads = {k_: f.gradient(state.x_ext[args]) for k_, f, args in m.formulas}
            argmap = {k_: args for k_, f, args in m.formulas}
            pending = list(zip(ss[~plain], kk[~plain], dv[~plain]))
            while pending:
                nxt = []
                for s_, k_, v_ in pending:
                    for a, g in zip(argmap[k_], grads[k_]):
                        if a < m.P:
                            S_list.append(np.array([s_])), K_list.append(np.array([a])), V_list.append(np.array([v_ * g]))
                        else:
                            nxt.append((s_, a, v_ * g))
                pending = nxt
    if not S_list:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    return np.concatenate(S_list), np.concatenate(K_list), np.concatenate(V_list)


class _MorphTriplets:
    """The parameter-independent parts of the morph derivatives, computed once per model."""

    def __init__(self, m: CompiledModel):
        D, Sg = _sparse_part(m.morph_diff), _sparse_part(m.morph_sum)
        self.rows, self.cols = _triplets(D)
        self.half_diff = 0.5 * m.pair_v[self.cols] * _values(D)
        self.sum_v = m.pair_v[self.cols] * _values(Sg)
        grp = m.entry_group[self.rows]
        self.lin = (grp == TH1_LIN) | (grp == AMC_LIN)
        self.norm = m.entry_renormalised[self.rows]
        self.amc_log = grp == AMC_LOG
        self.any_norm = bool(self.norm.any())
        small = np.int32 if max(m.S, m.P) < 2**31 else np.int64  # ~10^7 values in large models
        self.sample = m.entry_sample[self.rows].astype(small)
        self.param = m.pair_k[self.cols].astype(small)


def _morph_derivatives(lik: Likelihood, theta: np.ndarray, state, tc, mult: np.ndarray):
    """dy_e/dtheta for every stored morph entry: (entry, parameter, value) triplets."""
    m = lik.m
    mt = getattr(m, "_morph_triplets", None)
    if mt is None:
        mt = m._morph_triplets = _MorphTriplets(m)
    x, b, db = tc["x"], tc["b"], tc["db"]  # the forward pass's smoothing of the pairs
    r_, c_ = mt.rows, mt.cols
    # the arithmetic is done in place where it can (large models hold ~10^7 triplets: every
    # temporary is ~80 MB); the operations and their order are those of the plain expressions
    du = (0.5 * (b + x * db))[c_]
    du *= mt.sum_v
    du += mt.half_diff
    t_pre = tc["t_pre"][r_]
    # through the floor (linear groups) or the exponential (shapeN groups)
    dv = np.where(mt.lin, tc["u"][r_] >= FLOOR, t_pre)
    dv *= du
    del du
    if mt.any_norm:
        ps = np.bincount(c_, weights=np.where(mt.norm, dv, 0.0), minlength=m.M)  # d(sum)/dtheta per pair
        sums = tc["sums"][mt.sample]
        q = t_pre / np.where(sums != 0, sums, 1.0)
        del sums, t_pre
        q *= ps[c_]
        np.subtract(dv, q, out=q)
        q *= tc["scale"][mt.sample]
        dt = np.where(mt.norm, q, dv)
        del q, dv
    else:
        dt = dv
        del t_pre
    if "t_scaled" in tc:
        dt = np.where(mt.amc_log & (tc["t_scaled"][r_] < FLOOR), 0.0, dt)
    out = state.N[mt.sample]
    out *= mult[r_]
    out *= dt
    return r_, mt.param, out


def _sparse_part(mat):
    """The sparse remainder of a morph matrix (all of it unless it has dense blocks)."""
    return mat.rest if isinstance(mat, BlockMorph) else mat


class DenseMorphDerivative:
    """dy_e/dtheta of one dense morph block (one sample, :mod:`.morph`) in factored form.

    Column j (parameter ``params[j]``) is ``post * R(gate * (diff[:, j] cd[j] + sums[:, j] cs[j]))``
    over the entries ``rows``: ``gate`` is the floor's step (linear templates) or the template
    (shapeN), ``R`` the renormalisation to the sample's target (``renorm``: the scale and
    ``t_pre / sum(t_pre)``; None where the sample is not renormalised) and ``post`` the
    normalisation, per-entry factors and shapeN floors. :meth:`add_to` works on groups of columns:
    whole binned blocks, single columns of per-event samples (no events x pairs temporaries:
    80 MB each at 10^6 events)."""

    #: entries x columns handled at once (per-event samples: one column at a time)
    CHUNK = 1 << 16

    def __init__(self, rows: slice, params: np.ndarray, gate: np.ndarray, cd: np.ndarray, cs: np.ndarray,
                 diff: np.ndarray, sums: np.ndarray, renorm: tuple[float, np.ndarray] | None, post: np.ndarray):
        self.rows, self.params, self.gate, self.cd, self.cs = rows, params, gate, cd, cs
        self.diff, self.sums, self.renorm, self.post = diff, sums, renorm, post

    def add_to(self, block: np.ndarray, r0: int, cols: np.ndarray) -> None:
        n, k = self.diff.shape
        rows = slice(r0, r0 + n)
        step = max(1, self.CHUNK // max(n, 1))  # whole binned blocks; single columns of 10^6 events
        for j0 in range(0, k, step):
            js = slice(j0, min(k, j0 + step))
            d = self.diff[:, js] * self.cd[js]
            d += self.sums[:, js] * self.cs[js]
            d *= self.gate[:, None]
            if self.renorm is not None:
                scale, share = self.renorm
                d -= share[:, None] * d.sum(axis=0)
                d *= scale
            d *= self.post[:, None]
            _add_columns(block, rows, cols[js], d.T)  # d is Fortran-ordered like diff: d.T is C


def _dense_morph_derivatives(lik: Likelihood, theta: np.ndarray, state, tc, mult: np.ndarray) -> list[DenseMorphDerivative]:
    """The derivatives of the dense morph blocks: the chain of :func:`_morph_derivatives`
    (floor or exponential, renormalisation, shapeN floor, normalisation) in dense form."""
    m = lik.m
    if not isinstance(m.morph_diff, BlockMorph):
        return []
    x, b, db = tc["x"], tc["b"], tc["db"]  # the forward pass's smoothing of the pairs
    c = 0.5 * (b + x * db)
    out = []
    for bd, bs in zip(m.morph_diff.blocks, m.morph_sum.blocks):
        rows, cols = bd.rows, bd.cols
        smp = m.entry_sample[bd.row0]
        group = m.entry_group[bd.row0]
        t_pre = tc["t_pre"][rows]
        gate = (tc["u"][rows] >= FLOOR).astype(float) if group in (TH1_LIN, AMC_LIN) else t_pre
        renorm = None
        if m.entry_renormalised[bd.row0]:
            total = tc["sums"][smp]
            renorm = (tc["scale"][smp], t_pre / (total if total != 0 else 1.0))
        post = state.N[smp] * mult[rows]
        if "t_scaled" in tc and group == AMC_LOG:
            post = np.where(tc["t_scaled"][rows] < FLOOR, 0.0, post)
        v = m.pair_v[cols]
        out.append(DenseMorphDerivative(rows, m.pair_k[cols], gate, 0.5 * v, v * c[cols], bd.values, bs.values,
                                        renorm, post))
    return out


def _triplets(mat):
    if hasattr(mat, "rows"):
        return mat.rows, mat.cols
    coo = mat.a.tocoo()
    return coo.row, coo.col


def _values(mat):
    if hasattr(mat, "vals"):
        return mat.vals
    return mat.a.tocoo().data


class ChannelJacobian:
    """dnu/dtheta of one channel as a dense block: rows = its bins, columns = ``params``."""

    def __init__(self, bins: slice, params: np.ndarray, block: np.ndarray):
        self.bins, self.params, self.block = bins, params, block


def channel_jacobians(lik: Likelihood, theta: np.ndarray):
    """Per-channel dense Jacobian blocks of nu at fixed BB-lite values; returns (blocks, state)."""
    m = lik.m
    theta = np.asarray(theta, dtype=float)
    lik._current_theta = theta
    state, _, tc = lik.forward(theta)
    mult = np.ones(m.E)
    e_p, par_p, n0_p = m.pp_pois
    layers = entry_factor_layers(m, theta) if m.pp_layers else None
    if layers is not None:
        mult = product_of_others(layers, -1)
    elif e_p.size:
        mult[e_p] = theta[par_p] / n0_p
    # every contribution as (entry, parameter, value); the normalisation part is kept as
    # (sample, parameter, dN) and expanded per channel as outer products
    s_n, k_n, v_n = normalisation_jacobian(lik, theta, state)
    ent_parts = []
    if m.M:
        ent_parts.append(_morph_derivatives(lik, theta, state, tc, mult))
    Ne = state.N[m.entry_sample]
    if layers is not None:
        for j, (ej, pj, nj) in enumerate([m.pp_pois, *m.pp_layers]):
            ent_parts.append((ej, pj, Ne[ej] * state.t[ej] * product_of_others(layers, j)[ej] / nj))
    elif e_p.size:
        ent_parts.append((e_p, par_p, Ne[e_p] * state.t[e_p] / n0_p))
    e_g, par_g = m.pp_gauss
    if e_g.size:
        ent_parts.append((e_g, par_g, Ne[e_g] * m.errors[e_g]))
    ent_v = np.concatenate([p[2] for p in ent_parts]) if ent_parts else np.zeros(0)
    # dnu_b/dN_s per entry: the template, plus x_b dsigma_b/dN_s = x_b N_s e^2 / sigma_b in BB-lite
    # bins (the bin-wise statistical term grows with the normalisations)
    dnu_dN = state.tt
    if m.bb_bin.size:
        sig_e = state.sigma[m.entry_bin]
        ok = lik._bb_entry & (sig_e > 0)
        dnu_dN = dnu_dN + np.where(ok, state.bb_x[m.entry_bin] * Ne * m.errors**2 / np.where(ok, sig_e, 1.0), 0.0)
    blocks = []
    sample_starts = np.concatenate([[0], np.cumsum(np.bincount(m.entry_sample, minlength=m.S))])
    dense = _dense_morph_derivatives(lik, theta, state, tc, mult) if m.M else []
    dense_channel = [int(m.channel_of_entry[d.rows.start]) for d in dense]
    layout = _jacobian_layout(m, ent_parts, s_n, k_n, [(c, d.params) for c, d in zip(dense_channel, dense)])
    for ci, ch in enumerate(m.channels):
        lay = layout[ci]
        if lay is None:
            continue
        sel_e, flat, params, sel_n, kk_n = lay
        # per-event channels: 10^6 rows x a few columns, filled and used column by column
        # Fortran order: every update below adds whole columns (a parameter's derivative over the
        # channel's bins), each contiguous then
        block = np.zeros((ch.nbins, params.size), order="F")
        if sel_e.size:
            block += np.bincount(flat, weights=ent_v[sel_e], minlength=block.size).reshape(block.shape)
        for c, d in zip(dense_channel, dense):
            if c == ci:  # a sample's entries are its channel's bins in order
                d.add_to(block, int(m.entry_bin[d.rows.start]) - ch.bin_start, np.searchsorted(params, d.params))
        if sel_n.size:
            # normalisations: per sample an outer product (its templates) x (its dN/dtheta row)
            ss, kk, vv = s_n[sel_n], kk_n, v_n[sel_n]
            for smp in _unique(ss):
                mine = ss == smp
                row = np.bincount(kk[mine], weights=vv[mine], minlength=params.size)  # duplicates summed
                e0, e1 = sample_starts[smp], sample_starts[smp + 1]
                cols = np.nonzero(row)[0]
                r0 = int(m.entry_bin[e0]) - ch.bin_start
                _add_columns(block, slice(r0, r0 + e1 - e0), cols, np.outer(row[cols], dnu_dN[e0:e1]))
        blocks.append(ChannelJacobian(slice(ch.bin_start, ch.bin_start + ch.nbins), params, block))
    return blocks, state


def _add_columns(block: np.ndarray, rows: slice, cols: np.ndarray, values_t: np.ndarray) -> None:
    """``block[rows, cols] += values_t.T`` for a Fortran-ordered ``block`` (``values_t``: one row
    per column), summing repeated columns.

    Distinct columns: gathered from the transposed view (its rows are the block's contiguous
    columns), added to and scattered back -- an explicit gather/add/scatter, because numpy's
    fancy-indexed ``+=`` takes a slow path here (~5x on 10^3 x 45 updates). Repeated ones
    column by column."""
    bt = block.T
    if cols.size == _unique(cols).size:
        part = bt[cols, rows]
        part += values_t
        bt[cols, rows] = part
    else:
        for j, c in enumerate(cols):
            bt[c, rows] += values_t[j]


def _jacobian_layout(m: CompiledModel, ent_parts, s_n: np.ndarray, k_n: np.ndarray, dense: list) -> list:
    """Where every Jacobian contribution goes, per channel: (its contributions, their flat
    positions in the channel's block, the block's parameters, its normalisation terms and their
    columns), or None for a channel without parameters. ``dense``: (channel, parameters) of the
    dense morph blocks, whose columns the blocks need too.

    The (entry, parameter) pattern depends on the model alone: it is computed once and kept on
    the model (large combinations hold ~10^7 morph contributions; sorting them by channel and
    locating their columns took most of each Hessian). The arithmetic is unchanged: each block
    sums the same values in the same order."""
    key = (tuple(int(p[0].size) for p in ent_parts), s_n.tobytes(), k_n.tobytes())
    cached = getattr(m, "_jacobian_layout", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    ent_e = np.concatenate([p[0] for p in ent_parts]) if ent_parts else np.zeros(0, int)
    ent_k = np.concatenate([p[1] for p in ent_parts]) if ent_parts else np.zeros(0, int)
    ent_c = m.channel_of_entry[ent_e]
    n_c = m.sample_channel[s_n]
    nch = len(m.channels)
    # each channel's contributions as an index range of a (stable) channel ordering
    order_e = np.argsort(ent_c, kind="stable")
    cut_e = np.concatenate([[0], np.cumsum(np.bincount(ent_c, minlength=nch))])
    del ent_c
    order_n = np.argsort(n_c, kind="stable")
    cut_n = np.concatenate([[0], np.cumsum(np.bincount(n_c, minlength=nch))])
    small = np.int32 if ent_e.size < 2**31 else np.int64
    layout = []
    for ci, ch in enumerate(m.channels):
        sel_e = order_e[cut_e[ci] : cut_e[ci + 1]]
        sel_n = order_n[cut_n[ci] : cut_n[ci + 1]]
        params = _unique(np.concatenate([ent_k[sel_e], k_n[sel_n]] + [k for c, k in dense if c == ci]))
        if params.size == 0:
            layout.append(None)
            continue
        rows = m.entry_bin[ent_e[sel_e]] - ch.bin_start
        flat = rows * params.size + np.searchsorted(params, ent_k[sel_e])
        ftype = np.int32 if ch.nbins * params.size < 2**31 else np.int64
        layout.append((sel_e.astype(small), flat.astype(ftype), params, sel_n, np.searchsorted(params, k_n[sel_n])))
    m._jacobian_layout = (key, layout)
    return layout


def constraint_hessian_diag(lik: Likelihood, theta: np.ndarray) -> np.ndarray:
    """Second derivatives of the constraint terms (they are separable: a diagonal)."""
    m = lik.m
    glob = lik.data.glob
    h = np.zeros(m.P)
    h[m.gauss_idx] += 1.0 / m.gauss_sigma**2
    i = m.bifur_idx
    if i.size:
        h[i] += 1.0 / np.where(theta[i] < glob[i], m.bifur_lo, m.bifur_hi) ** 2
    i = m.poisson_idx
    if i.size:
        h[i] += glob[i] / np.maximum(theta[i], 1e-300) ** 2
    i = m.gamma_idx
    if i.size:
        h[i] += (glob[i] - 1.0) / np.maximum(theta[i], 1e-300) ** 2
    for idx, kk, shifted in ((m.dfd_idx, m.dfd_k, True), (m.dfd2_idx, m.dfd2_k, False)):
        if idx.size:
            d = theta[idx] - glob[idx] if shifted else theta[idx]
            for z in (kk * (d - 1.0), -kk * (d + 1.0)):
                s = 0.5 * (1.0 + np.tanh(0.5 * z))
                h[idx] += kk * kk * s * (1.0 - s)
    if m.bb_bin.size:
        explicit = np.logical_or(not lik.analytic_bb, lik.pinned)  # analytic_bb is a bool: ~True is -2
        if np.any(explicit):
            h[m.bb_par[explicit]] += 1.0
    return h


def gauss_newton_hessian(lik: Likelihood, theta: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Gauss-Newton approximation of d2NLL/dtheta2 for the free parameters (dense)."""
    m = lik.m
    blocks, state = channel_jacobians(lik, theta)
    nu = state.nu
    active = ~lik._masked_bins()
    w = np.where(active & lik.has_obs & (nu > 0), lik.n / np.maximum(nu, 1e-300) ** 2, 0.0)
    if m.bin_amc.any():
        pre = state.mu + state.sigma * state.bb_x
        w = np.where(m.bin_amc & (pre < FLOOR), 0.0, w)
    explicit_bb = np.zeros(0, dtype=int)
    if m.bb_bin.size:
        jb = m.bb_bin
        sig = state.sigma[jb]
        analytic = lik.analytic_bb & ~lik.pinned
        if np.any(analytic):
            # the closed-form BB-lite parameter of the bin is profiled out (Schur complement)
            w[jb] = np.where(analytic, w[jb] / (1.0 + w[jb] * sig**2), w[jb])
        explicit_bb = np.nonzero(~analytic)[0]
    pos = np.full(m.P, -1, dtype=int)
    pos[free] = np.arange(free.size)
    H = np.zeros((free.size, free.size))
    for blk in blocks:
        keep = pos[blk.params] >= 0
        if not keep.any():
            continue
        J = blk.block if keep.all() else blk.block[:, keep]
        idx = pos[blk.params[keep]]
        H[np.ix_(idx, idx)] += _weighted_gram(J, w[blk.bins])
    for j in explicit_bb:
        # an explicit BB-lite parameter: dnu_b/dx_b = sigma_b (and its cross terms)
        b, k = m.bb_bin[j], m.bb_par[j]
        if pos[k] < 0:
            continue
        sig_b = state.sigma[b]
        H[pos[k], pos[k]] += w[b] * sig_b * sig_b
        for blk in blocks:
            if blk.bins.start <= b < blk.bins.stop:
                keep = pos[blk.params] >= 0
                row = blk.block[b - blk.bins.start, keep] * w[b] * sig_b
                idx = pos[blk.params[keep]]
                H[pos[k], idx] += row
                H[idx, pos[k]] += row
    H[np.diag_indices_from(H)] += constraint_hessian_diag(lik, theta)[free]
    return 0.5 * (H + H.T)


#: rows per chunk of :func:`_weighted_gram` (per-event channels: 10^6 rows)
GRAM_CHUNK = 1 << 16


def _weighted_gram(J: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``J^T diag(w) J``, in row chunks for tall blocks (no full-size weighted copy of J)."""
    if J.shape[0] <= GRAM_CHUNK:
        return J.T @ (J * w[:, None])
    out = np.zeros((J.shape[1], J.shape[1]))
    for i in range(0, J.shape[0], GRAM_CHUNK):
        Jc = J[i:i + GRAM_CHUNK]
        out += Jc.T @ (Jc * w[i:i + GRAM_CHUNK, None])
    return out


def bin_jacobian(lik: Likelihood, theta: np.ndarray) -> tuple[np.ndarray, object]:
    """The full (B x P) Jacobian of nu as a dense array (for tests and small models)."""
    m = lik.m
    blocks, state = channel_jacobians(lik, theta)
    J = np.zeros((m.B, m.P))
    for blk in blocks:
        J[blk.bins.start : blk.bins.stop, blk.params] = blk.block
    return J, state


#: a model is "wide" when it has many more free parameters than bins: thousands of systematics on
#: a counting experiment. Its Gauss-Newton matrix is a diagonal (the constraints) plus a matrix of
#: rank at most the number of bins, which :func:`gauss_newton_factors` returns as such
WIDE_MIN_FREE = 300


def is_wide(model: CompiledModel, n_free: int) -> bool:
    """Whether fits over ``n_free`` parameters should use the diagonal-plus-low-rank Hessian."""
    return n_free >= WIDE_MIN_FREE and 4 * model.B <= n_free


def gauss_newton_factors(lik: Likelihood, theta: np.ndarray, free: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The Gauss-Newton matrix of :func:`gauss_newton_hessian` as ``diag(d) + U U^T`` (``U``: free
    parameters x bins), without forming the dense matrix; None where that form does not hold
    (explicit BB-lite parameters couple to their bins beyond it)."""
    m = lik.m
    if m.bb_bin.size and not np.all(lik.analytic_bb & ~lik.pinned):
        return None
    blocks, state = channel_jacobians(lik, theta)
    nu = state.nu
    active = ~lik._masked_bins()
    w = np.where(active & lik.has_obs & (nu > 0), lik.n / np.maximum(nu, 1e-300) ** 2, 0.0)
    if m.bin_amc.any():
        pre = state.mu + state.sigma * state.bb_x
        w = np.where(m.bin_amc & (pre < FLOOR), 0.0, w)
    if m.bb_bin.size:
        jb = m.bb_bin
        w[jb] = w[jb] / (1.0 + w[jb] * state.sigma[jb] ** 2)
    pos = np.full(m.P, -1, dtype=int)
    pos[free] = np.arange(free.size)
    U = np.zeros((free.size, m.B))
    for blk in blocks:
        keep = pos[blk.params] >= 0
        if keep.any():
            rows = blk.block[:, keep] * np.sqrt(w[blk.bins])[:, None]
            U[np.ix_(pos[blk.params[keep]], np.arange(blk.bins.start, blk.bins.stop))] = rows.T
    used = np.any(U != 0.0, axis=0)
    return constraint_hessian_diag(lik, theta)[free], U[:, used]


def _unique(a: np.ndarray) -> np.ndarray:
    """``np.unique(a)`` (sorted distinct values) without np.unique, whose first call imports numpy.ma
    (~20 ms of every command's start-up, numpy >= 2)."""
    a = np.sort(np.asarray(a).ravel())
    if a.size == 0:
        return a
    return a[np.concatenate(([True], a[1:] != a[:-1]))]
