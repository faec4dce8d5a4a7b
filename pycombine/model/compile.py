"""Compile a :class:`ModelSpec` into flat numpy arrays for fast likelihood evaluation.

Vocabulary of the arrays:

* **parameters** ``P``: every model parameter, in :attr:`ModelSpec.parameters` order; formulas
  (``rateParam`` expressions) are appended as derived entries of an *extended* vector.
* **samples** ``S``: one per (channel, process) with a non-zero rate.
* **entries** ``E``: one per (sample, histogram bin); counting samples have one entry.
* **bins** ``B``: all histogram bins of all channels, concatenated (a counting channel is one bin).
* **morph pairs** ``M``: one per (sample, shape systematic); their per-bin differences live in two
  sparse ``E x M`` matrices so a template update is two sparse mat-vec products.

Building is done once and is allowed to loop in Python; evaluation (:mod:`.likelihood`) is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .formula import Formula
from .morph import SPARSE_THRESHOLD, morph_matrices
from .spec import ModelSpec

FLOOR = 1e-9
LOG_ZERO = -999.0  # FastTemplate::Log for non-positive bins

# template groups: how a sample's morphed template becomes its shape
TH1_LIN, TH1_LOG, AMC_LIN, AMC_LOG, COUNT = 0, 1, 2, 3, 4


def _f32(x):
    return np.asarray(x, dtype=np.float32).astype(np.float64)


@dataclass
class ChannelLayout:
    name: str
    bin_start: int
    nbins: int
    binned: bool
    auto_mc_stats: bool
    mask_index: int  # parameter index of mask_<channel>, or -1
    process_names: list[str] = field(default_factory=list)
    sample_start: int = 0


class CompiledModel:
    """Flat arrays describing one model. Immutable after construction."""

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self._parameters(spec)
        self._formulas(spec)
        self._samples(spec)

    # ------------------------------------------------------------------ parameters
    def _parameters(self, spec: ModelSpec) -> None:
        params = list(spec.parameters.values())
        self.names = [p.name for p in params]
        self.index = {n: i for i, n in enumerate(self.names)}
        self.P = len(params)
        self.init = np.array([p.init for p in params], dtype=float)
        self.lo = np.array([-np.inf if p.lo is None else p.lo for p in params], dtype=float)
        self.hi = np.array([np.inf if p.hi is None else p.hi for p in params], dtype=float)
        self.frozen = np.array([p.frozen for p in params], dtype=bool)
        self.optimize_bounds = np.array([p.optimize_bounds for p in params], dtype=bool)
        self.is_nuisance = np.array([p.is_nuisance for p in params], dtype=bool)
        self.kind = [p.kind for p in params]
        c = [p.constraint for p in params]

        def idx(kind):
            return np.array([i for i, k in enumerate(c) if k == kind], dtype=int)

        # BB-lite parameters (autoMCStats totals) are excluded: their Gaussian term is added by the
        # likelihood from the profiled (or pinned) value, exactly once
        bblite = {b.parameter for ch in spec.channels if ch.auto_mc_stats for b in ch.auto_mc_stats.bins if b.kind == "bblite"}
        self.gauss_idx = np.array([i for i, k in enumerate(c) if k == "gauss" and params[i].name not in bblite], dtype=int)
        self.gauss_sigma = np.array([params[i].sigma for i in self.gauss_idx], dtype=float)
        #: the BB-lite parameters (unit Gaussian constraints too, kept apart for the reason above)
        self.bblite_idx = np.array([i for i, p in enumerate(params) if p.name in bblite], dtype=int)
        self.bifur_idx = idx("bifur")
        self.bifur_lo = np.array([params[i].sigma_lo for i in self.bifur_idx], dtype=float)
        self.bifur_hi = np.array([params[i].sigma_hi for i in self.bifur_idx], dtype=float)
        self.poisson_idx = idx("poisson")
        self.gamma_idx = idx("gamma")
        self.gamma_scale = np.array([params[i].sigma for i in self.gamma_idx], dtype=float)
        #: per gamma term, how toys draw its observable k from a Poisson count n: gmM (Combine)
        #: max(n, 1), marked 0; HistFactory shapesys (pyhf workspaces) n + 1, marked 1
        self.gamma_aux_offset = np.array([1.0 if params[i].origin == "shapesys" else 0.0 for i in self.gamma_idx])
        self.dfd_idx = idx("dfd")
        self.dfd_k = np.array([params[i].sigma for i in self.dfd_idx], dtype=float)
        self.dfd2_idx = idx("dfd2")
        self.dfd2_k = np.array([params[i].sigma for i in self.dfd2_idx], dtype=float)
        #: nominal global observable per parameter (nan: none)
        self.glob0 = np.array([p.glob if p.global_obs else np.nan for p in params], dtype=float)
        self.constrained = np.array([k != "none" for k in c], dtype=bool)
        self.pois = [self.index[n] for n in spec.pois]

    def _formulas(self, spec: ModelSpec) -> None:
        """Formulas become extended entries P, P+1, ... evaluated in dependency order."""
        self.formulas: list[tuple[int, Formula, np.ndarray]] = []
        ext = dict(self.index)
        pending = list(spec.formulas.values())
        while pending:
            for f in list(pending):
                if all(a in ext for a in f.args):
                    k = self.P + len(self.formulas)
                    self.formulas.append((k, Formula(f.name, f.expression, f.args, f.line), np.array([ext[a] for a in f.args], dtype=int)))
                    ext[f.name] = k
                    pending.remove(f)
        self.ext_index = ext
        self.P_ext = self.P + len(self.formulas)

    # ------------------------------------------------------------------ samples, entries, bins
    def _samples(self, spec: ModelSpec) -> None:
        ext = self.ext_index
        layouts: list[ChannelLayout] = []
        sample_channel, sample_norm, sample_signal, sample_group, sample_proc = [], [], [], [], []
        sample_target = []
        sym_s, sym_k, sym_log = [], [], []
        asym_s, asym_k, asym_lo, asym_hi, asym_code = [], [], [], [], []
        fac_s, fac_k = [], []
        add_s, add_k, add_v = [], [], []
        entry_sample, entry_bin, base, errors = [], [], [], []
        d_rows, d_vals, s_vals = [], [], []  # per morph pair: (first entry, entries), values
        pair_k, pair_v, pair_q = [], [], []
        dense_blocks = []  # per-event samples' pairs: (first entry, first pair, diffs, sums) (.morph)
        bin_channel, bin_amc = [], []
        bin_unbinned = []  # per-event channels (docs/UNBINNED.md)
        data = []
        has_data = True
        bb_bin, bb_par = [], []
        pp_pois_entry, pp_pois_par, pp_pois_n0 = [], [], []
        entry_factors: dict[int, int] = {}  # per-bin factors so far per entry
        layers: list[tuple[list, list, list]] = []
        pp_gauss_entry, pp_gauss_par = [], []
        n_bins = 0
        n_entries = 0
        # large models keep every sample's morphs as a dense (bins x pairs) block: BLAS products
        # and a block-wise Jacobian instead of sparse matrices with an index per stored value;
        # small cards keep the sparse triplets (and every digit of their fits)
        all_dense = sum(len(p.shapes) * ch.nbins for ch in spec.channels for p in ch.processes
                        if p.template is not None) > SPARSE_THRESHOLD
        for ch in spec.channels:
            amc = ch.auto_mc_stats is not None or ch.absolute  # absolute template contents
            mask = self.index.get(f"mask_{ch.name}", -1)
            lay = ChannelLayout(ch.name, n_bins, ch.nbins, ch.binned, amc, mask, ch.process_names, len(sample_channel))
            layouts.append(lay)
            ci = len(layouts) - 1
            # per-bin and per-entry arrays are collected as numpy chunks (a per-event channel has
            # 10^6 bins: Python lists of them cost seconds and gigabytes)
            bin_channel.append(np.full(ch.nbins, ci))
            bin_amc.append(np.full(ch.nbins, amc))
            bin_unbinned.append(np.full(ch.nbins, ch.unbinned))
            if ch.data is None:
                has_data = False
                data.append(np.full(ch.nbins, np.nan))
            else:
                data.append(np.asarray(ch.data, dtype=float))
            proc_entry_start = {}
            for proc in ch.processes:
                s = len(sample_channel)
                sample_channel.append(ci)
                sample_norm.append(proc.norm)
                sample_signal.append(proc.is_signal)
                sample_proc.append(proc.name)
                for name, kappa in proc.lnN:
                    sym_s.append(s)
                    sym_k.append(self.index[name])
                    sym_log.append(np.log(kappa))
                for name, klo, khi in proc.asym_lnN:
                    asym_s.append(s)
                    asym_k.append(self.index[name])
                    asym_lo.append(np.log(klo))
                    asym_hi.append(np.log(khi))
                    asym_code.append(0)
                for name, klo, khi, code in proc.hf_norm:
                    asym_s.append(s)
                    asym_k.append(self.index[name])
                    asym_lo.append(np.log(klo))
                    asym_hi.append(np.log(khi))
                    asym_code.append(code)
                for f in proc.factors:
                    fac_s.append(s)
                    fac_k.append(ext[f])
                if proc.gmN:
                    fac_s.append(s)
                    fac_k.append(self.index[proc.gmN[0]])
                for g in proc.gmM:
                    fac_s.append(s)
                    fac_k.append(self.index[g])
                for name, v in proc.additive:
                    add_s.append(s)
                    add_k.append(self.index[name])
                    add_v.append(v)  # factor 1 + v*theta
                for eff in proc.shapes:
                    if eff.kappa is not None:
                        asym_s.append(s)
                        asym_k.append(self.index[eff.name])
                        asym_lo.append(np.log(eff.kappa[0]))
                        asym_hi.append(np.log(eff.kappa[1]))
                        asym_code.append(0)
                e0 = n_entries
                proc_entry_start[proc.name] = e0
                if proc.template is None:
                    group = COUNT
                    t = np.ones(1)
                    err = np.zeros(1)
                    target = 1.0
                    nb = 1
                else:
                    nb = ch.nbins
                    log_mode = proc.morph == "shapeN" and bool(proc.shapes)
                    tmpl = np.asarray(proc.template, dtype=float)
                    err = np.asarray(proc.errors, dtype=float)
                    if amc:
                        group = AMC_LOG if log_mode else AMC_LIN
                        nominal = tmpl
                        target = float(np.sum(nominal))
                    else:
                        group = TH1_LOG if log_mode else TH1_LIN
                        nominal = tmpl / np.sum(tmpl)
                        target = 1.0
                    t = _log(nominal) if log_mode else nominal
                    dense = None
                    if (ch.unbinned or all_dense) and proc.shapes:  # written in place: 10^6 events x pairs each
                        dense = (np.empty((nb, len(proc.shapes)), order="F"), np.empty((nb, len(proc.shapes)), order="F"))
                        dense_blocks.append((e0, len(pair_k), *dense))
                    for j, eff in enumerate(proc.shapes):
                        if eff.up is None or eff.down is None:
                            raise ValueError(f"the templates of shape systematic {eff.name!r} of {proc.name!r} in "
                                             f"{ch.name!r} were released (ModelSpec.release_shape_templates)")
                        up, down = np.asarray(eff.up, float), np.asarray(eff.down, float)
                        if amc:
                            if ch.auto_mc_stats is not None and ch.auto_mc_stats.hist_mode == 1:
                                # float32 TH1F::Scale to the nominal integral
                                i0 = float(np.sum(tmpl))
                                iu, idn = float(np.sum(up)), float(np.sum(down))
                                if iu > 0:
                                    up = _f32(up * (i0 / iu))
                                if idn > 0:
                                    down = _f32(down * (i0 / idn))
                        else:
                            up = up / np.sum(up)
                            down = down / np.sum(down)
                        if log_mode:
                            dp = _log_ratio(up, nominal)
                            dm = _log_ratio(down, nominal)
                        else:
                            dp = up - nominal
                            dm = down - nominal
                        pair_k.append(self.index[eff.name])
                        pair_v.append(eff.scale)
                        pair_q.append(proc.smooth_region)
                        if dense is not None:
                            np.subtract(dp, dm, out=dense[0][:, j])
                            np.add(dp, dm, out=dense[1][:, j])
                            d_rows.append((e0, 0))  # no sparse values
                            d_vals.append(_EMPTY)
                            s_vals.append(_EMPTY)
                        else:
                            d_rows.append((e0, nb))  # column m: entries e0 .. e0 + nb - 1
                            d_vals.append(dp - dm)  # diff
                            s_vals.append(dp + dm)  # sum
                sample_group.append(group)
                sample_target.append(target)
                entry_sample.append(np.full(nb, s))
                entry_bin.append(np.arange(n_bins, n_bins + nb))
                base.append(t)
                errors.append(err)
                n_entries += nb
                for j, par, n0 in proc.bin_factors:  # pyhf per-bin modifiers (Poisson-BB mechanism)
                    rank = entry_factors.get(e0 + j, 0)
                    entry_factors[e0 + j] = rank + 1
                    if rank == 0:
                        pp_pois_entry.append(e0 + j)
                        pp_pois_par.append(self.index[par])
                        pp_pois_n0.append(n0)
                    else:  # a second, third... factor of the same entry goes to a further layer
                        while len(layers) < rank:
                            layers.append(([], [], []))
                        layers[rank - 1][0].append(e0 + j)
                        layers[rank - 1][1].append(self.index[par])
                        layers[rank - 1][2].append(n0)
            if ch.auto_mc_stats is not None:
                for stat in ch.auto_mc_stats.bins:
                    if stat.kind == "bblite":
                        bb_bin.append(n_bins + stat.bin)
                        bb_par.append(self.index[stat.parameter])
                    elif stat.kind == "per_process":
                        for pi, kind, par, n0 in stat.per_process:
                            e = proc_entry_start[ch.processes[pi].name] + stat.bin
                            if kind == "poisson":
                                pp_pois_entry.append(e)
                                pp_pois_par.append(self.index[par])
                                pp_pois_n0.append(n0)
                            else:
                                pp_gauss_entry.append(e)
                                pp_gauss_par.append(self.index[par])
            n_bins += ch.nbins
        self.channels = layouts
        self.S = len(sample_channel)
        self.E = n_entries
        self.B = n_bins
        self.sample_channel = np.array(sample_channel, dtype=int)
        self.sample_norm = np.array(sample_norm, dtype=float)
        self.sample_signal = np.array(sample_signal, dtype=bool)
        self.sample_group = np.array(sample_group, dtype=int)
        self.sample_target = np.array(sample_target, dtype=float)
        self.sample_process = sample_proc
        self.sym = (np.array(sym_s, int), np.array(sym_k, int), np.array(sym_log, float))
        self.asym = (np.array(asym_s, int), np.array(asym_k, int), np.array(asym_lo, float), np.array(asym_hi, float))
        #: interpolation code per asym term (0 Combine's, 1/4 HistFactory's); None when all are Combine's
        self.asym_code = np.array(asym_code, dtype=int) if any(asym_code) else None
        # multiplicative factors as a padded matrix [S, F]: factor = a0 + a1 * x_ext[k]
        # (a0, a1) = (0, 1) for POIs, rateParams, formulas, gmN/gmM parameters and
        # (1, v) for the additive trG/unif/dFD effects; padding slots are the constant 1
        all_s = fac_s + add_s
        all_k = fac_k + add_k
        all_a0 = [0.0] * len(fac_s) + [1.0] * len(add_s)
        all_a1 = [1.0] * len(fac_s) + list(add_v)
        fmax = max([all_s.count(s) for s in set(all_s)] or [0])
        self.fac = np.full((self.S, fmax), -1, dtype=int)
        self.fac_a0 = np.ones((self.S, fmax))
        self.fac_a1 = np.zeros((self.S, fmax))
        fill = np.zeros(self.S, dtype=int)
        for s, k, a0, a1 in zip(all_s, all_k, all_a0, all_a1):
            self.fac[s, fill[s]] = k
            self.fac_a0[s, fill[s]] = a0
            self.fac_a1[s, fill[s]] = a1
            fill[s] += 1
        self.entry_sample = _joined(entry_sample, int)
        self.entry_bin = _joined(entry_bin, int)
        self.base = np.concatenate(base) if base else np.zeros(0)
        self.errors = np.concatenate(errors) if errors else np.zeros(0)
        self.entry_group = self.sample_group[self.entry_sample]
        self.M = len(pair_k)
        if self.M:
            self.morph_diff, self.morph_sum = morph_matrices(d_rows, d_vals, s_vals, (self.E, self.M), dense_blocks)
            self.morph_diff_T = self.morph_diff.T
            self.morph_sum_T = self.morph_sum.T
        self.pair_k = np.array(pair_k, dtype=int)
        self.pair_v = np.array(pair_v, dtype=float)
        self.pair_q = np.array(pair_q, dtype=float)
        self.bin_channel = _joined(bin_channel, int)
        self.bin_amc = _joined(bin_amc, bool)
        #: per-event channels: their bins (events) and samples, and each sample's first bin (for
        #: channel masks); the likelihood replaces the sum of their bins' expectations by sum_j N_j
        self.bin_unbinned = _joined(bin_unbinned, bool)
        self.sample_unbinned = self.bin_unbinned[[layouts[c].bin_start for c in sample_channel]] if sample_channel else np.zeros(0, bool)
        self.sample_bin0 = np.array([layouts[c].bin_start for c in sample_channel], dtype=int)
        self.any_unbinned = bool(self.bin_unbinned.any())
        #: per bin, the factor from the likelihood's per-bin value to the expected events: 1, except
        #: in per-event channels (reference weights: Asimov weights = v_i sum_j N_j r_ij)
        self.bin_ref = np.ones(self.B)
        for ch, lay in zip(spec.channels, layouts):
            if ch.unbinned and ch.ref_weights is not None:
                self.bin_ref[lay.bin_start: lay.bin_start + lay.nbins] = ch.ref_weights
        self.data = _joined(data, float)
        self.has_data = has_data and len(spec.channels) > 0
        self.bb_bin = np.array(bb_bin, dtype=int)
        self.bb_par = np.array(bb_par, dtype=int)
        self.pp_pois = (np.array(pp_pois_entry, int), np.array(pp_pois_par, int), np.array(pp_pois_n0, float))
        #: further multiplicative per-entry factors, one (entries, parameters, n0) triple per layer with
        #: unique entries, for entries carrying several (pyhf: staterror and shapesys on one sample);
        #: the yield is t * prod over layers (``pp_pois`` is layer 0) of theta / n0. Empty for datacards
        self.pp_layers = [(np.array(e, int), np.array(k, int), np.array(n, float)) for e, k, n in layers]
        self.pp_gauss = (np.array(pp_gauss_entry, int), np.array(pp_gauss_par, int))
        # parameters handled by the analytic Barlow-Beeston-lite profiling
        self.analytic = np.zeros(self.P, dtype=bool)
        self.analytic[self.bb_par] = True
        # entries that take part in the BB-lite error sum of their bin
        self.entry_amc = self.bin_amc[self.entry_bin] if self.E else np.zeros(0, bool)
        self.any_log = bool(np.any((self.sample_group == TH1_LOG) | (self.sample_group == AMC_LOG)))
        self.counting_card = spec.counting
        self.channel_of_entry = self.sample_channel[self.entry_sample] if self.E else np.zeros(0, int)
        #: entries whose morphed templates are normalised back to their sample's target integral
        #: (shape templates); never those of per-event channels, whose extended term sum_j N_j
        #: carries the yields while the ratios stay as morphed
        g = self.entry_group
        renorm = (g == TH1_LIN) | (g == TH1_LOG) | (g == AMC_LOG)
        self.entry_renormalised = renorm & ~self.bin_unbinned[self.entry_bin] if self.E else renorm

    # ------------------------------------------------------------------ helpers
    @property
    def stored_values(self) -> int:
        """How many numbers an evaluation reads: entries, bins and morph-matrix values."""
        return self.E + self.B + (self.morph_diff.nnz if self.M else 0)

    def parameter_index(self, name: str) -> int:
        try:
            return self.index[name]
        except KeyError:
            raise KeyError(f"no parameter named {name!r}") from None


def entry_factor_layers(m: "CompiledModel", theta: np.ndarray) -> list[np.ndarray]:
    """The multipliers of every layer of per-entry factors (``pp_pois`` then ``pp_layers``) as
    (..., E) arrays (one where a layer has no factor); ``theta`` is (P,) or (N, P)."""
    out = []
    for e, k, n0 in [m.pp_pois, *m.pp_layers]:
        f = np.ones(theta.shape[:-1] + (m.E,))
        f[..., e] = theta[..., k] / n0
        out.append(f)
    return out


def product_of_others(layers: list[np.ndarray], j: int) -> np.ndarray:
    """The product of all layers but layer ``j`` (``j = -1``: of all of them)."""
    out = np.ones_like(layers[0])
    for i, f in enumerate(layers):
        if i != j:
            out = out * f
    return out


_EMPTY = np.zeros(0)


def _joined(chunks: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(chunks).astype(dtype, copy=False) if chunks else np.zeros(0, dtype=dtype)


def _log(t: np.ndarray) -> np.ndarray:
    out = np.full_like(t, LOG_ZERO, dtype=float)
    pos = t > 0
    out[pos] = np.log(t[pos])
    return out


def _log_ratio(t: np.ndarray, ref: np.ndarray) -> np.ndarray:
    out = np.zeros_like(t, dtype=float)
    ok = (t > 0) & (ref > 0)
    out[ok] = np.log(t[ok] / ref[ok])
    return out
