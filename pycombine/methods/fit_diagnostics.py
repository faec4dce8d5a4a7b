"""``combine -M FitDiagnostics``: background-only and signal+background fits, pre/post-fit yields.

Flow per dataset (Combine's ``FitDiagnostics::runSpecific``, spec §5.4):

1. **pre-fit**: parameters at the generation state (``clean`` for observed data) with the first
   POI at ``--preFitValue``; yields (``norm_prefit``, ``shapes_prefit``) and the ``tree_prefit``
   entry (global observables, nuisance values);
2. **background-only fit**: from ``clean`` with the POI fixed at 0 (``--customStartingPoint``: at
   its clean value), nuisance ranges of lnN/shape/BB Gaussians removed; ``nll_min`` = NLL(fit) −
   NLL₀ with NLL₀ the NLL at the start point;
3. **signal+background fit**: from ``clean`` (``--initFromBonly``: from the b-only fit), POI at
   ``--preFitValue`` and floating; Hesse; the 68 % interval of the POI at ΔNLL = 0.494473 by a
   Minos-like profile crossing search (:func:`pycombine.fit.intervals.minos_interval`) or
   Combine's ``--robustFit`` stepping search; Combine's rule replaces an error below
   0.001·max(hiErr, loErr, Hesse error) by the distance to the range edge.

Conventions kept from Combine:

* Minuit's error level is 0.494473 in these fits, so Hesse errors and covariances are those of
  errordef 0.5 scaled by sqrt(2·0.494473) and 2·0.494473. Errors are Minuit's external errors,
  the covariance Minuit's external covariance; both include Minuit's treatment of a parameter
  next to its range edge (the Fitter's Hessian carries the internal-coordinate term Minuit's
  numerical Hesse contains), e.g. the POI error 15.8 of the T' search card and a vanishing POI
  covariance when r̂ sits on r = 0.
* In autoMCStats channels the Barlow-Beeston-lite parameters are profiled analytically during
  the fits; Combine's Hesse first re-minimises with them floating (``CascadeMinimizer::hesse``),
  which moves the reported best fit slightly, and the covariance covers them. We do the same.
* Without Minos (``--minos none``) RooFit stores the parabolic error as both asymmetric
  errors, so Combine's low error comes out negative: ``Best fit r: x  <err>/+<err>`` and the
  0.16 quantile entry is r̂ + err. Reproduced.

Yields (``--saveNormalizations``/``--saveShapes``) are the exact per-process expectations from
:meth:`~pycombine.model.likelihood.Likelihood.process_yields` with the BB-lite parameters at their
values (0 pre-fit, fitted post-fit), including each process's share of the BB-lite term. Combine's
autoMCStats-channel numbers carry a numerical-integration factor 1 − O(1e-4) (spec item 16) that we
do not reproduce.

``--saveWithUncertainties``: Combine stores the RMS about the central value over 200 parameter
draws (pre-fit from the constraint pdfs, post-fit from the fit covariance, values clipped to the
parameter ranges, so e.g. r̂ near r = 0 gives much smaller signal uncertainties than linear
propagation). We compute the same expectation, E[(y(θ) − y(θ̂))²], with 1000 draws (at least
``--numToysForShapes``) and a linear control variate (:class:`pycombine.fit.uncertainty.
SampledSpread`), deterministic for a given ``-s``. Combine's own 200-toy values scatter by ~7 %
per bin (up to ~13 % for clipped POIs) around that expectation.

The numerical core is :func:`fit_diagnostics` (session, dataset -> :class:`FitDiagnosticsResult`);
:func:`run` adds the console block and the output files.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..errors import OptionError
from ..fit.intervals import DELTA68, DELTA95, minos_interval, robust_crossing
from ..fit.minimize import (
    FitResult,
    Fitter,
    MinimizerOptions,
    ParameterState,
    use_exact_hessian,
)
from ..fit.warm import warm_fitter
from ..model.compile import CompiledModel
from ..model.hessian import gauss_newton_hessian
from ..model.likelihood import Dataset, Likelihood
from ..outputs.console import cpp
from .base import ToyOutcome, limit_row

#: largest number of parameters for which the BB-lite-extended covariance is built as a dense
#: matrix (12k x 12k doubles: 1.1 GB); beyond, the BB-lite parameters stay profiled out
MAX_DENSE_COVARIANCE = 12_000

#: Combine's fits use Minuit error level DELTA68 instead of 0.5: covariances scale by this
COV_SCALE = 2.0 * DELTA68
ERR_SCALE = math.sqrt(COV_SCALE)

__all__ = [
    "FitDiagnosticsOptions",
    "FitSummary",
    "Yields",
    "FitDiagnosticsResult",
    "fit_diagnostics",
    "check_options",
    "option_messages",
    "run",
    "run_toy",
]


# ====================================================================================== options


@dataclass
class FitDiagnosticsOptions:
    """The method's options after Combine's implications (``FitDiagnostics::applyOptions``)."""

    pre_fit_value: float = 1.0
    minos: str = "poi"
    robust_fit: bool = False
    step_size: float = 0.1
    crossing_tolerance: float = 1e-4
    max_failed_steps: int = 5
    robust_strategy: int = 0
    robust_tolerance: float | None = None
    skip_b_only_fit: bool = False
    skip_sb_fit: bool = False
    just_fit: bool = False
    no_errors: bool = False
    save_normalizations: bool = False
    save_shapes: bool = False
    save_overall_shapes: bool = False
    save_with_uncertainties: bool = False
    ignore_cov_warning: bool = False
    plots: bool = False
    out: str = "."
    custom_starting_point: bool = False
    init_from_bonly: bool = False
    do95: bool = False

    @classmethod
    def from_opts(cls, opts) -> "FitDiagnosticsOptions":
        g = lambda name, default=None: getattr(opts, name, default)  # noqa: E731
        o = cls(
            pre_fit_value=float(g("pre_fit_value", 1.0)),
            minos=str(g("minos", "poi")),
            robust_fit=bool(g("robust_fit", False)),
            step_size=float(g("step_size", 0.1)),
            crossing_tolerance=float(g("crossing_tolerance", 1e-4)),
            max_failed_steps=int(g("max_failed_steps", 5)),
            robust_strategy=int(g("robust_fit_strategy", 0)),
            robust_tolerance=(None if (g("robust_fit_tolerance", -1.0) or -1.0) < 0 else float(g("robust_fit_tolerance"))),
            skip_b_only_fit=bool(g("skip_b_only_fit", False)),
            skip_sb_fit=bool(g("skip_sb_fit", False)),
            just_fit=bool(g("just_fit", False)),
            no_errors=bool(g("no_errors", False)),
            save_normalizations=bool(g("save_normalizations", False)),
            save_shapes=bool(g("save_shapes", False)),
            save_overall_shapes=bool(g("save_overall_shapes", False)),
            save_with_uncertainties=bool(g("save_with_uncertainties", False)),
            ignore_cov_warning=bool(g("ignore_cov_warning", False)),
            plots=bool(g("plots", False)),
            out=str(g("out", ".") or "."),
            custom_starting_point=bool(g("custom_starting_point", False)),
            init_from_bonly=bool(g("init_from_bonly", False)),
            do95=bool(g("do95", False)),
        )
        # implications, in Combine's order
        o.save_shapes = o.save_overall_shapes or o.save_shapes
        o.save_normalizations = o.save_shapes or o.save_normalizations
        if o.just_fit:
            o.out = "none"
            o.plots = False
            o.save_normalizations = o.save_shapes = o.save_overall_shapes = False
            o.init_from_bonly = False
            o.skip_b_only_fit = True
            o.skip_sb_fit = False
        return o

    @property
    def writes_file(self) -> bool:
        return not self.just_fit and self.out != "none"


def check_options(opts) -> None:
    o = FitDiagnosticsOptions.from_opts(opts)
    if o.do95 and not o.robust_fit:
        # Combine throws this from FitterAlgoBase::doFit when Minos is asked for 95 % intervals
        raise OptionError("95% CL uncertainties with Minos are not working at the moment (use --robustFit 1)")
    if o.step_size <= 0:
        raise OptionError("--stepSize must be positive")


def option_messages(opts) -> list[str]:
    return []


# ====================================================================================== fitting


@dataclass
class FitSummary:
    """One FitDiagnostics fit as saved in ``fit_b``/``fit_s`` and the trees."""

    name: str
    ok: bool
    status: int  # fit_status: Minuit status of the fit, -1 if it failed
    values: np.ndarray  # (P,) all parameters (BB-lite values filled in)
    errors: np.ndarray  # (P,) Minuit external errors at Combine's error level (0 if not floating)
    #: (n, n) covariance at Combine's error level of the parameters ``floating`` (in that order);
    #: compact because a (P, P) matrix would not fit in memory with tens of thousands of BB-lite bins
    covariance: np.ndarray
    floating: np.ndarray  # indices of the parameters of ``covariance`` (incl. BB-lite once extended)
    nll: float  # absolute NLL (only differences are meaningful)
    nll_min: float  # NLL - NLL0
    edm: float = float("nan")
    cov_quality: int = 3  # Minuit's covariance quality (3 accurate)
    err_lo: np.ndarray | None = None  # (P,) Minos lower errors (negative), nan where not computed
    err_hi: np.ndarray | None = None
    bb_extended: bool = False

    def correlation(self) -> np.ndarray:
        c = self.covariance
        d = np.sqrt(np.maximum(np.diag(c), 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = c / np.outer(d, d)
        return np.nan_to_num(r)


@dataclass
class Yields:
    """Per-process and total expected events at one parameter point, with uncertainties."""

    stage: str  # "prefit", "fit_b", "fit_s"
    values: np.ndarray  # (P,) parameters used
    entry: np.ndarray  # (E,) per (process, bin) yields
    entry_err: np.ndarray  # (E,)
    norm: np.ndarray  # (S,) per-process totals
    norm_err: np.ndarray  # (S,)
    total: np.ndarray  # (B,) per-bin totals; same for signal/background below
    total_err: np.ndarray
    signal: np.ndarray
    signal_err: np.ndarray
    background: np.ndarray
    background_err: np.ndarray
    channel_norms: np.ndarray  # (C, 3): total, signal, background per channel
    channel_norms_err: np.ndarray  # (C, 3)
    total_covar: list[np.ndarray]  # per channel (nbins, nbins) covariance of ``total``
    with_uncertainties: bool = False
    overall_covariance: np.ndarray | None = None  # (B, B) E[Δ_i Δ_j] of all bins' totals
    #: (B,), (B, B), (B,): mean, central second and third moments of the totals over the draws
    #: (Combine's overall_total_M1/M2/M3, --saveOverallShapes with uncertainties)
    overall_moments: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


@dataclass
class FitDiagnosticsResult:
    """Everything FitDiagnostics reports for one dataset."""

    poi: str
    poi_index: int
    i_toy: int
    dataset: Dataset
    prefit_values: np.ndarray  # (P,) generation state with the POI at --preFitValue
    nll0: float
    fit_b: FitSummary | None = None
    fit_s: FitSummary | None = None
    b_attempted: bool = False
    s_attempted: bool = False
    r: float = float("nan")
    r_err: float = 0.0  # Hesse error of the POI (Minuit external, Combine's error level)
    lo_err: float = 0.0  # r̂ - (lower end), after Combine's edge rule
    hi_err: float = 0.0
    max_error: float = 0.0  # max(hiErr, loErr, Hesse) before the edge rule (limitErr)
    lo95: float = float("nan")
    hi95: float = float("nan")
    nll_nll0: float = -1.0
    limit_rows: list[tuple[float, float, float]] = field(default_factory=list)  # (limit, limitErr, quantile)
    lines: list[str] = field(default_factory=list)  # console output, in Combine's order
    warnings: list[str] = field(default_factory=list)  # covariance warnings (also in ``lines``)
    yields: dict[str, Yields] = field(default_factory=dict)
    nuisance_names: list[str] = field(default_factory=list)
    prefit_errors: np.ndarray | None = None  # (P,) pre-fit constraint widths (nuisances)
    #: POI (Err, LoErr, HiErr) of the previous dataset's s+b fit: Combine fills tree_fit_b before
    #: the s+b fit of the current dataset, so these are what its POI error branches hold
    prev_poi_errors: tuple[float, float, float] = (0.0, 0.0, 0.0)


class _Context:
    """Model, data and fitters shared by the fits of one dataset."""

    def __init__(self, session, dataset: Dataset, opt: FitDiagnosticsOptions):
        self.session = session
        self.opt = opt
        self.model = session.model
        self.data = dataset
        self.ir = session.poi_index
        minimizer = session.minimizer
        m = self.model
        self.profiled_bb = bool(m.bb_bin.size) and session.analytic_bb
        self.fitter = Fitter(m, dataset, minimizer, remove_bounds=True, analytic_bb=session.analytic_bb)
        # Combine's Hesse re-minimises with the BB-lite parameters floating (CascadeMinimizer::hesse),
        # starting at the minimum of the profiled fit
        self.full_fitter = Fitter(m, dataset, minimizer, remove_bounds=True,
                                  analytic_bb=False) if self.profiled_bb else None
        #: Migrad strategy of the profile fits of the interval searches (Combine: the same as the fit)
        self.profile_strategy = None
        #: parameter draws for --saveWithUncertainties (Combine: --numToysForShapes, default 200)
        self.n_samples = max(1000, int(getattr(session.opts, "num_toys_for_shapes", 200) or 0))
        # BB-lite parameters at explicit values: NLL0 at the start point, yields, Hessian blocks
        self.lik_na = Likelihood(m, dataset, analytic_bb=False)
        self.analytic = (m.analytic.copy() if self.profiled_bb else np.zeros(m.P, dtype=bool))
        tol = opt.robust_tolerance if opt.robust_tolerance is not None else minimizer.tolerance
        self.robust_fitter = Fitter(
            m, dataset, MinimizerOptions(strategy=opt.robust_strategy, tolerance=tol, retries=False),
            remove_bounds=True, analytic_bb=session.analytic_bb)

    def nll(self, values: np.ndarray) -> float:
        return float(self.lik_na.nll(values))

    @cached_property
    def aggregation(self) -> "_Aggregation":
        """Sums from per-entry yields to processes, bins and channels (one set per model)."""
        return _Aggregation(self.model)

    def fit(self, state: ParameterState, fixed: dict[int, float] | None, hesse: bool) -> tuple[FitResult, FitResult]:
        """(minimisation result, result holding the final values/covariance).

        Like Combine: Migrad (BB-lite profiled), then for Hesse a second Migrad with every
        BB-lite parameter floating, started from the first minimum, and Hesse there. The first
        result is the reference for profile scans (which profile BB-lite analytically again).
        """
        n_full = int((~state.frozen).sum())
        if not hesse or self.full_fitter is None or not use_exact_hessian(self.model, n_full):
            # (large models: Minuit with thousands of floating BB-lite parameters is slow; their
            # covariance comes from the block inverse in extend_covariance_to_bb instead)
            r = self.fitter.minimize(state, fixed, hesse=hesse)
            return r, r
        first = self.fitter.minimize(state, fixed)
        if not first.valid:
            return first, first
        st = state.copy()
        st.values = first.values.copy()
        full = self.full_fitter.minimize(st, fixed, hesse=True)
        if not full.valid:
            return first, first
        return first, full


def _cov_quality(mn) -> int:
    fmin = getattr(mn, "fmin", None)
    if fmin is None or mn.covariance is None:
        return 0
    if fmin.has_accurate_covar:
        return 3
    if fmin.has_made_posdef_covar:
        return 2
    return 1


def _summarize(ctx: _Context, name: str, res: FitResult, nll0: float, ok: bool) -> FitSummary:
    m = ctx.model
    P = m.P
    errors = np.zeros(P)
    free = np.asarray(res.free, dtype=int)
    cov = np.zeros((free.size, free.size))
    mn = res.minuit
    if mn is not None and free.size:
        errors[free] = np.asarray(mn.errors, dtype=float) * ERR_SCALE
        if mn.covariance is not None:
            cov = np.asarray(mn.covariance, dtype=float) * COV_SCALE
    elif free.size:
        # a Newton fit (large models): the covariance is the inverse Gauss-Newton Hessian
        errors[free] = res.errors[free] * ERR_SCALE
        if res.cov_free is not None:
            cov = res.cov_free * COV_SCALE
    nll = ctx.nll(res.values)
    return FitSummary(
        name=name,
        ok=bool(ok),
        status=int(res.status) if ok else -1,
        values=res.values.copy(),
        errors=errors,
        covariance=cov,
        floating=free,
        nll=nll,
        nll_min=nll - nll0,
        edm=float(res.edm),
        cov_quality=_cov_quality(mn) if mn is not None else 3,
        bb_extended=bool(ctx.analytic.any() and np.isin(np.nonzero(ctx.analytic)[0], free).all()),
    )


def extend_covariance_to_bb(ctx: _Context, fit: FitSummary) -> None:
    """Add the analytically profiled BB-lite parameters to ``fit.covariance``.

    Combine's Hesse re-minimises with the BB-lite parameters floating, so its covariance covers
    them. With H the Hessian of the NLL in (f = Minuit's parameters, b = BB-lite) and C_ff the
    Minuit covariance: C_bf = −H_bb⁻¹ H_bf C_ff and C_bb = H_bb⁻¹ + H_bb⁻¹ H_bf C_ff H_fb H_bb⁻¹
    (block inverse; C_ff = (H_ff − H_fb H_bb⁻¹ H_bf)⁻¹ is what Minuit computed with b profiled).
    """
    if fit.bb_extended or not ctx.analytic.any():
        return
    b = np.nonzero(ctx.analytic)[0]
    f = np.asarray(fit.floating, dtype=int)
    if b.size + f.size > MAX_DENSE_COVARIANCE:
        import sys

        sys.stderr.write(f"Warning: {b.size} autoMCStats (BB-lite) parameters are too many for a dense covariance; "
                         f"the {fit.name} uncertainties leave them out\n")
        return
    x = fit.values
    lik = ctx.lik_na

    def grad(th):
        return lik.evaluate(th, grad=True)[1]

    # columns of the Hessian for every b and f parameter; only rows b are needed
    cols = np.concatenate([b, f])
    if use_exact_hessian(ctx.model, cols.size):
        Hb = np.empty((b.size, cols.size))
        for j, i in enumerate(cols):
            h = 1e-5 * max(1.0, abs(x[i]))
            xp = x.copy()
            xp[i] += h
            xm = x.copy()
            xm[i] -= h
            Hb[:, j] = (grad(xp)[b] - grad(xm)[b]) / (2 * h)
    else:
        # large models: the analytic Gauss-Newton matrix with the BB-lite parameters explicit
        Hb = gauss_newton_hessian(lik, x, cols)[: b.size]
    H_bb = 0.5 * (Hb[:, : b.size] + Hb[:, : b.size].T)
    H_bf = Hb[:, b.size:]
    try:
        Hbb_inv = np.linalg.inv(H_bb)
    except np.linalg.LinAlgError:
        Hbb_inv = np.linalg.pinv(H_bb)
    C_ff = fit.covariance / COV_SCALE  # errordef-0.5 units, like the Hessian
    K = Hbb_inv @ H_bf  # (nb, nf)
    C_bf = -K @ C_ff
    C_bb = Hbb_inv + K @ C_ff @ K.T
    order = np.argsort(np.concatenate([f, b]), kind="stable")
    cov = np.block([[C_ff, C_bf.T], [C_bf, 0.5 * (C_bb + C_bb.T)]])[np.ix_(order, order)] * COV_SCALE
    fit.covariance = cov
    fit.floating = np.concatenate([f, b])[order]
    fit.errors = fit.errors.copy()
    fit.errors[b] = np.sqrt(np.maximum(np.diag(C_bb), 0.0)) * ERR_SCALE
    fit.bb_extended = True


def _minos_all(ctx: _Context, state: ParameterState, res: FitResult, fit: FitSummary) -> None:
    """``--minos all``: 68 % crossings of every floating parameter (stored in the fit result)."""
    lo = np.full(ctx.model.P, np.nan)
    hi = np.full(ctx.model.P, np.nan)
    st = state.copy()
    # the crossing search stops at the range edge: removed ranges are unbounded
    ob = ctx.model.optimize_bounds
    st.lo = np.where(ob, -np.inf, st.lo)
    st.hi = np.where(ob, np.inf, st.hi)
    for i in res.free:
        iv = minos_interval(ctx.fitter, st, res, int(i), DELTA68, scale=fit.errors[i] / ERR_SCALE,
                            strategy=ctx.profile_strategy)
        lo[i] = -iv.lo_err if iv.lo.ok else -fit.errors[i]
        hi[i] = iv.hi_err if iv.hi.ok else fit.errors[i]
    fit.err_lo, fit.err_hi = lo, hi


def _clean_state(session) -> ParameterState:
    return session.state.copy()


def _clip(v: float, lo: float, hi: float) -> float:
    return float(min(max(v, lo), hi))


def fit_diagnostics(session, dataset: Dataset, i_toy: int = 0, options: FitDiagnosticsOptions | None = None,
                    previous: FitDiagnosticsResult | None = None, with_yields: bool = True,
                    generation: np.ndarray | None = None) -> FitDiagnosticsResult:
    """Run FitDiagnostics on one dataset (observed, Asimov or toy).

    ``previous`` is the result of the previous toy (Combine keeps the POI errors of the last s+b
    fit in ``tree_fit_b``); ``with_yields`` computes the pre/post-fit yields requested by the
    options (Combine saves them for the first dataset only); ``generation`` are the parameter
    values the dataset was generated from (Combine's ``toyGenSnapshot``: a toy's drawn nuisance
    values), where the pre-fit stage is evaluated; default the clean state.
    """
    opt = options or FitDiagnosticsOptions.from_opts(session.opts)
    ctx = _Context(session, dataset, opt)
    ir = ctx.ir
    poi = session.pois[0]
    clean = _clean_state(session)
    r_lo, r_hi = float(clean.lo[ir]), float(clean.hi[ir])

    # ------------------------------------------------------------------ pre-fit
    prefit = (clean.values if generation is None else np.asarray(generation, dtype=float)).copy()
    prefit[ir] = _clip(opt.pre_fit_value, r_lo, r_hi)
    res = FitDiagnosticsResult(poi=poi, poi_index=ir, i_toy=i_toy, dataset=dataset, prefit_values=prefit, nll0=0.0)
    res.nuisance_names = tree_nuisances(session)
    if previous is not None:
        res.r_err, res.lo_err, res.hi_err = previous.r_err, previous.lo_err, previous.hi_err
        res.prev_poi_errors = (previous.r_err, previous.lo_err, previous.hi_err)
    want_yields = with_yields and opt.save_normalizations
    if want_yields:
        sampling = prefit_sampling(session, dataset, prefit, res.nuisance_names) if opt.save_with_uncertainties else None
        res.yields["prefit"] = compute_yields(ctx, prefit, "prefit", sampling)
    res.prefit_errors = prefit_widths(session, dataset)

    # ------------------------------------------------------------------ background-only fit
    st_b = clean.copy()
    if opt.custom_starting_point:
        res.lines.append(f"customStartingPoint set to true, background-only fit will correspond to {poi} = {cpp(st_b.values[ir])}")
    else:
        st_b.values[ir] = 0.0
    r_b = float(st_b.values[ir])
    res.nll0 = ctx.nll(st_b.values)
    save_unc = opt.save_with_uncertainties
    fit_b_res = None
    if not (opt.just_fit or opt.skip_b_only_fit):
        res.b_attempted = True
        fit_b_res, fit_b_final = ctx.fit(st_b, {ir: r_b}, hesse=True)
        fb = _summarize(ctx, "fit_b", fit_b_final, res.nll0, ok=fit_b_res.valid)
        res.fit_b = fb
        if fb.ok:
            if opt.minos == "all":
                _minos_all(ctx, st_b, fit_b_res, fb)
            if fb.cov_quality < 3:
                save_unc = _cov_warning(res, "b-only", opt, save_unc)
            if want_yields:
                if save_unc:
                    extend_covariance_to_bb(ctx, fb)
                res.yields["fit_b"] = compute_yields(ctx, fb.values, "fit_b",
                                                     postfit_sampling(ctx, fb) if save_unc else None)
            if opt.skip_sb_fit:
                res.limit_rows.append((r_b, 0.0, -1.0))
        elif opt.skip_sb_fit:
            res.lines += ["", " --- FitDiagnostics ---", "Fit failed."]

    # ------------------------------------------------------------------ signal+background fit
    if opt.init_from_bonly and fit_b_res is not None and res.fit_b is not None and res.fit_b.ok:
        st_s = clean.copy()
        st_s.values = res.fit_b.values.copy()
    else:
        st_s = clean.copy()
    st_s.values[ir] = prefit[ir]
    st_s.frozen[ir] = False
    if opt.skip_sb_fit:
        return res
    res.s_attempted = True
    fit_s_res, fit_s_final = ctx.fit(st_s, None, hesse=not opt.no_errors)
    fs = _summarize(ctx, "fit_s", fit_s_final, res.nll0, ok=fit_s_res.valid)
    res.fit_s = fs
    if not fs.ok:
        res.nll_nll0 = -1.0
        res.lines += ["", " --- FitDiagnostics ---", "Fit failed."]
        return res
    save_unc = opt.save_with_uncertainties
    if fs.cov_quality < 3:
        save_unc = _cov_warning(res, "s+b", opt, save_unc)
    if res.fit_b is not None:
        res.nll_nll0 = fs.nll_min - res.fit_b.nll_min
    else:
        res.nll_nll0 = fs.nll_min - (-1.0)  # Combine's nll_bonly_ keeps its initial -1
    r_hat = float(fs.values[ir])
    r_err = float(fs.errors[ir])
    lo_err, hi_err = _poi_interval(ctx, st_s, fit_s_res, fs, opt, res)
    max_error = max(hi_err, lo_err, r_err)
    if abs(hi_err) < 0.001 * max_error:
        hi_err = r_hi - r_hat
    if abs(lo_err) < 0.001 * max_error:
        lo_err = r_hat - r_lo
    res.r, res.r_err, res.lo_err, res.hi_err, res.max_error = r_hat, r_err, lo_err, hi_err, max_error
    if opt.minos == "all":
        _minos_all(ctx, st_s, fit_s_res, fs)
    if not opt.no_errors:
        res.limit_rows += [(r_hat, 0.0, 0.5), (r_hat - lo_err, 0.0, 0.16), (r_hat + hi_err, 0.0, 0.84)]
        if opt.do95 and (math.isfinite(res.hi95) or math.isfinite(res.lo95)):
            # Combine's "err95" range: a side without a crossing collapses to r̂
            res.limit_rows += [(res.hi95 if math.isfinite(res.hi95) else r_hat, 0.0, 0.975),
                               (res.lo95 if math.isfinite(res.lo95) else r_hat, 0.0, 0.025)]
    res.limit_rows.append((r_hat, max_error, -1.0))
    res.lines += ["", " --- FitDiagnostics ---", f"Best fit {poi}: {cpp(r_hat)}  {cpp(-lo_err)}/+{cpp(hi_err)}  (68% CL)"]
    if opt.do95:
        lo95 = res.lo95 if math.isfinite(res.lo95) else r_hat
        hi95 = res.hi95 if math.isfinite(res.hi95) else r_hat
        res.lines.append(f"         {poi}: {cpp(r_hat)}  {cpp(lo95 - r_hat)}/+{cpp(hi95 - r_hat)}  (95% CL)")
    if want_yields:
        if save_unc:
            extend_covariance_to_bb(ctx, fs)
        res.yields["fit_s"] = compute_yields(ctx, fs.values, "fit_s", postfit_sampling(ctx, fs) if save_unc else None)
    return res


def _cov_warning(res: FitDiagnosticsResult, which: str, opt: FitDiagnosticsOptions, save_unc: bool) -> bool:
    url = "https://cms-analysis.github.io/HiggsAnalysis-CombinedLimit/part3/nonstandard/#fit-parameter-uncertainties"
    head = f"[WARNING]: Unable to determine uncertainties on all fit parameters in {which} fit."
    if not save_unc:
        msg, keep = f"{head} Have a look at {url} for more information.", save_unc
    elif opt.ignore_cov_warning:
        msg, keep = (f"{head} Caution: by passing --ignoreCovWarning the shapes and uncertainties will be stored as "
                     f"configured via the command line despite this issue. Have a look at {url} for more information."), True
    else:
        msg, keep = (f"{head} The option --saveWithUncertainties will be ignored as it would lead to incorrect "
                     f"results. Have a look at {url} for more information."), False
    # CombineLogger echoes to stdout when it is logged, i.e. between the fits
    res.warnings.append(msg)
    res.lines.append(msg)
    return keep


def _poi_interval(ctx: _Context, st_s: ParameterState, fit_res: FitResult, fs: FitSummary,
                  opt: FitDiagnosticsOptions, res: FitDiagnosticsResult) -> tuple[float, float]:
    """(loErr, hiErr) of the POI before Combine's edge rule."""
    ir = ctx.ir
    r_hat = float(fs.values[ir])
    r_err = float(fs.errors[ir])
    lo_b, hi_b = float(st_s.lo[ir]), float(st_s.hi[ir])
    if opt.robust_fit:
        fitter = warm_fitter(ctx.robust_fitter, st_s, fit_res.values)
        level = fit_res.nll + DELTA68
        kw = dict(step_size=opt.step_size, crossing_tolerance=opt.crossing_tolerance,
                  max_failed_steps=opt.max_failed_steps)
        hi68 = robust_crossing(fitter, st_s, fit_res, ir, level, r_hat, hi_b, **kw)
        lo68 = robust_crossing(fitter, st_s, fit_res, ir, level, r_hat, lo_b, **kw)
        if opt.do95:
            level95 = fit_res.nll + DELTA95
            hi_start = r_hat if math.isnan(hi68) else hi68
            hi_bound = max(hi_b, r_hat if math.isnan(hi68 * 2 - r_hat) else hi68 * 2 - r_hat)
            res.hi95 = robust_crossing(fitter, st_s, fit_res, ir, level95, hi_start, hi_bound, **kw)
            lo_start = r_hat if math.isnan(lo68) else lo68
            res.lo95 = robust_crossing(fitter, st_s, fit_res, ir, level95, lo_start, lo_b, **kw)
        top = hi68 if not math.isnan(hi68) else r_hat
        bottom = lo68 if not math.isnan(lo68) else r_hat
        return r_hat - bottom, top - r_hat
    if opt.minos in ("poi", "all"):
        fitter = warm_fitter(ctx.fitter, st_s, fit_res.values)
        iv = minos_interval(fitter, st_s, fit_res, ir, DELTA68, scale=r_err / ERR_SCALE if r_err > 0 else None,
                            strategy=ctx.profile_strategy)
        # errors are measured from the reported best fit (after Hesse's re-minimisation); a side
        # Minos cannot determine falls back to the parabolic error, as Minuit2 reports it
        hi = iv.hi.value - r_hat if iv.hi.ok else r_err
        lo = r_hat - iv.lo.value if iv.lo.ok else r_err
        return lo, hi
    # no Minos: RooFit stores the parabolic error as *both* asymmetric errors (RooMinimizer's
    # lowerError() returns +error when Minos did not run), so Combine's loErr = -(+error) is
    # negative: it prints "Best fit r: x  <err>/+<err>" and writes r̂ + err at quantile 0.16
    return -r_err, r_err


# ====================================================================================== yields


def tree_nuisances(session) -> list[str]:
    """Nuisance parameters as in Combine's ``mc->GetNuisanceParameters()`` at run time.

    Combine removes frozen nuisances (``--freezeParameters``/``--freezeNuisanceGroups``) and
    redefined POIs from the set; the order is the model's.
    """
    m = session.model
    pois = set(session.pois)
    out = []
    for n in session.spec.nuisances:
        i = m.index.get(n)
        if i is None or n in pois or session.state.frozen[i]:
            continue
        out.append(n)
    return out


def _constraint_moments(p, theta0: float, glob: float) -> float:
    """E[(θ − θ0)²] for θ drawn from its constraint pdf (Combine's pre-fit toy sampler)."""
    c = p.constraint
    if c == "gauss":
        return p.sigma ** 2 + (glob - theta0) ** 2
    if c == "bifur":
        lo, hi = p.sigma_lo, p.sigma_hi
        mean = glob + math.sqrt(2 / math.pi) * (hi - lo)
        var = (lo ** 3 + hi ** 3) / (lo + hi) - (mean - glob) ** 2
        return var + (mean - theta0) ** 2
    if c == "poisson":
        # θ sampled from Poisson(N; θ) as a function of θ: a Gamma(N+1, 1) distribution
        k = glob + 1.0
        return k + (k - theta0) ** 2
    if c == "gamma":
        k, s = glob, p.sigma
        return k * s * s + (k * s - theta0) ** 2
    if c == "uniform":
        lo = p.lo if p.lo is not None else -1.0
        hi = p.hi if p.hi is not None else 1.0
        return (hi - lo) ** 2 / 12.0 + (0.5 * (lo + hi) - theta0) ** 2
    if c in ("dfd", "dfd2"):
        centre = glob if c == "dfd" else 0.0
        return 1.0 / 3.0 + (centre - theta0) ** 2
    return 0.0


def prefit_widths(session, dataset: Dataset) -> np.ndarray:
    """Pre-fit uncertainty of every nuisance (constraint width; sqrt(N) for Poisson ones)."""
    m = session.model
    out = np.zeros(m.P)
    for n in session.spec.nuisances:
        i = m.index[n]
        p = session.spec.parameters[n]
        if p.constraint == "gauss":
            out[i] = p.sigma
        elif p.constraint == "bifur":
            out[i] = 0.5 * (p.sigma_lo + p.sigma_hi)
        elif p.constraint == "poisson":
            out[i] = math.sqrt(max(float(dataset.glob[i]) if np.isfinite(dataset.glob[i]) else p.glob, 1.0))
        elif p.constraint == "gamma":
            out[i] = math.sqrt(max(p.glob, 1.0)) * p.sigma
    return out


#: incidence matrices up to this many elements are dense numpy arrays (32 MB); larger ones are
#: scipy.sparse CSR matrices (importing scipy.sparse costs ~0.07 s, more than the whole
#: aggregation of a typical card)
DENSE_INCIDENCE_MAX = 4_000_000


def _incidence(rows: np.ndarray, n_rows: int, n_cols: int, weights: np.ndarray):
    """(n_rows, n_cols) matrix with ``weights[j]`` at (rows[j], j): sums entries into groups."""
    if n_rows * n_cols <= DENSE_INCIDENCE_MAX:
        out = np.zeros((n_rows, n_cols))
        out[rows, np.arange(n_cols)] = weights
        return out
    import scipy.sparse as sp

    return sp.csr_matrix((weights, (rows, np.arange(n_cols))), shape=(n_rows, n_cols))


class _Aggregation:
    """Maps from per-entry yields to samples, bins and channels (dense or sparse, see _incidence)."""

    def __init__(self, model: CompiledModel):
        m = model
        E = m.E
        ones = np.ones(E)
        sig = (m.sample_signal[m.entry_sample] if E else np.zeros(0, bool)).astype(float)
        bkg = 1.0 - sig
        ch = m.channel_of_entry if E else np.zeros(0, int)
        C = len(m.channels)
        self.S = _incidence(m.entry_sample, m.S, E, ones)
        self.B = _incidence(m.entry_bin, m.B, E, ones)
        self.Bs = _incidence(m.entry_bin, m.B, E, sig)
        self.Bb = _incidence(m.entry_bin, m.B, E, bkg)
        self.C = _incidence(ch, C, E, ones)
        self.Cs = _incidence(ch, C, E, sig)
        self.Cb = _incidence(ch, C, E, bkg)


@dataclass
class Sampling:
    """How Combine draws parameter points for ``--saveWithUncertainties`` at one stage."""

    index: np.ndarray  # (n,) parameters that vary
    scale: np.ndarray  # (n, n) L: linearised shifts L z for standard-normal z
    draw: object  # callable (N, n) standard normals -> (N, P) parameter vectors


def postfit_sampling(ctx: _Context, fit: FitSummary) -> Sampling:
    """Multivariate Gaussian with the fit covariance (``RooFitResult::randomizePars``).

    Combine sets the drawn values with ``RooRealVar::setVal``, which clips them to the parameter
    ranges in force during the method: the POI and rateParams keep theirs, lnN/shape/BB-lite
    parameters are unbounded (their ranges are removed for FitDiagnostics).
    """
    m = ctx.model
    idx = np.asarray(fit.floating, dtype=int)
    cov = fit.covariance
    cov = 0.5 * (cov + cov.T)
    try:
        L = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        w, V = np.linalg.eigh(cov)
        L = V * np.sqrt(np.maximum(w, 0.0))
    lo = np.where(m.optimize_bounds, -np.inf, ctx.session.state.lo)[idx]
    hi = np.where(m.optimize_bounds, np.inf, ctx.session.state.hi)[idx]
    centre = fit.values.copy()

    def draw(Z):
        X = np.tile(centre, (Z.shape[0], 1))
        X[:, idx] = np.clip(centre[idx] + Z @ L.T, lo, hi)
        return X

    return Sampling(idx, L, draw)


def prefit_sampling(session, dataset: Dataset, values: np.ndarray, names: list[str]) -> Sampling:
    """Nuisances drawn independently from their constraint pdfs (Combine's ``ToySampler``)."""
    # scipy.special is imported only when a non-Gaussian constraint needs it (0.1 s of import)
    def ndtr(z):
        from scipy.special import ndtr as f

        return f(z)

    def ndtri(p):
        from scipy.special import ndtri as f

        return f(p)

    def gammaincinv(k, p):
        from scipy.special import gammaincinv as f

        return f(k, p)

    m = session.model
    idx, sig, transforms = [], [], []
    for n in names:
        i = m.index[n]
        p = session.spec.parameters[n]
        g = float(dataset.glob[i]) if np.isfinite(dataset.glob[i]) else float(p.glob)
        c = p.constraint
        if c == "gauss":
            t = (lambda z, g=g, s=p.sigma: g + s * z)
        elif c == "bifur":
            sl, sh = p.sigma_lo, p.sigma_hi
            pl = sl / (sl + sh)

            def t(z, g=g, sl=sl, sh=sh, pl=pl):
                u = ndtr(z)
                lo_side = g + sl * ndtri(np.clip(u / (2 * pl), 1e-300, 1.0))
                hi_side = g + sh * ndtri(np.clip(0.5 + (u - pl) / (2 * (1 - pl)), 0.0, 1 - 1e-16))
                return np.where(u < pl, lo_side, hi_side)
        elif c == "poisson":
            # Poisson(N; θ) as a density of θ is Gamma(N + 1, 1)
            t = (lambda z, k=g + 1.0: gammaincinv(k, ndtr(z)))
        elif c == "gamma":
            t = (lambda z, k=g, s=p.sigma: s * gammaincinv(k, ndtr(z)))
        elif c == "uniform":
            lo_ = p.lo if p.lo is not None else -1.0
            hi_ = p.hi if p.hi is not None else 1.0
            t = (lambda z, a=lo_, b=hi_: a + (b - a) * ndtr(z))
        else:
            continue
        v = _constraint_moments(p, float(values[i]), g)
        if not v > 0:
            continue
        idx.append(i)
        sig.append(math.sqrt(v))
        transforms.append(t)
    idx_a = np.array(idx, dtype=int)
    centre = np.asarray(values, dtype=float).copy()

    def draw(Z):
        X = np.tile(centre, (Z.shape[0], 1))
        for j, (i, t) in enumerate(zip(idx_a, transforms)):
            X[:, i] = t(Z[:, j])
        return X

    return Sampling(idx_a, np.diag(np.array(sig, dtype=float)), draw)


def compute_yields(ctx: _Context, values: np.ndarray, stage: str, sampling: Sampling | None = None) -> Yields:
    """Yields at ``values``; with ``sampling``, their uncertainties as Combine defines them.

    The uncertainty of every saved number is sqrt(E[(y(θ) − y(θ̂))²]) over Combine's sampling
    distribution (:class:`pycombine.fit.uncertainty.SampledSpread`), estimated from
    ``ctx.n_samples`` draws with a linear control variate.
    """
    from ..fit.uncertainty import jacobian, sample_spread

    m = ctx.model
    lik = ctx.lik_na
    agg = ctx.aggregation

    def f(th):
        return lik.process_yields(th)

    with_unc = sampling is not None
    if sampling is None or sampling.index.size == 0:
        y = f(values)
        sp = None
    else:
        lo = np.where(m.optimize_bounds, -np.inf, ctx.session.state.lo)
        hi = np.where(m.optimize_bounds, np.inf, ctx.session.state.hi)
        steps = 1e-3 * np.sqrt(np.maximum(np.sum(sampling.scale ** 2, axis=1), 0.0))
        y, J = jacobian(f, values, sampling.index, steps, lo, hi)
        rng = np.random.default_rng([int(ctx.session.opts.seed) & 0xFFFFFFFF, STAGE_SEEDS[stage]])
        sp = sample_spread(f, values, sampling.index, J, sampling.scale, sampling.draw, ctx.n_samples, rng)

    def err(A):
        return np.zeros(A.shape[0]) if sp is None else sp.errors(A)

    total_covar = []
    for c in m.channels:
        if sp is None:
            total_covar.append(np.zeros((c.nbins, c.nbins)))
        else:
            total_covar.append(sp.second_moments(agg.B[c.bin_start:c.bin_start + c.nbins], full=True))
    cn = np.stack([agg.C @ y, agg.Cs @ y, agg.Cb @ y], axis=1)
    cne = np.stack([err(agg.C), err(agg.Cs), err(agg.Cb)], axis=1)
    overall = None
    moments = None
    if sp is not None and ctx.opt.save_overall_shapes:
        overall = sp.second_moments(agg.B, full=True)
        DB = np.asarray((agg.B @ sp.D.T).T)
        mean = DB.mean(axis=0)
        c = DB - mean
        moments = (agg.B @ y + mean, c.T @ c / DB.shape[0], (c ** 3).mean(axis=0))
    return Yields(
        stage=stage,
        values=np.asarray(values, dtype=float).copy(),
        entry=y,
        entry_err=np.zeros(m.E) if sp is None else sp.errors(),
        norm=agg.S @ y,
        norm_err=err(agg.S),
        total=agg.B @ y,
        total_err=err(agg.B),
        signal=agg.Bs @ y,
        signal_err=err(agg.Bs),
        background=agg.Bb @ y,
        background_err=err(agg.Bb),
        channel_norms=cn,
        channel_norms_err=cne,
        total_covar=total_covar,
        with_uncertainties=with_unc,
        overall_covariance=overall,
        overall_moments=moments,
    )


STAGE_SEEDS = {"prefit": 1, "fit_b": 2, "fit_s": 3}


# ====================================================================================== driver


def fit_diagnostics_path(session, opt: FitDiagnosticsOptions) -> str:
    """``<out>/fitDiagnostics<name>.root`` (``--X-rtd longName``: with the mass/toy tags)."""
    name = session.opts.name
    long_name = bool(session.runtime_define("longName"))
    base = f"fitDiagnostics{name}"
    if long_name:
        higgs = session.output_filename("FitDiagnostics")
        tail = higgs[len(f"higgsCombine{name}.FitDiagnostics."):]
        base += "." + tail[: -len("root")] + "root"
    else:
        base += ".root"
    return os.path.join(opt.out, base)


def run(session) -> int:
    from ..outputs.fit_diagnostics_file import write_fit_diagnostics

    opt = FitDiagnosticsOptions.from_opts(session.opts)
    if opt.init_from_bonly and opt.minos != "none":
        print("Cannot re-use b-only fit parameters when running minos. Parameters will be reset when running S+B fit")
        opt.init_from_bonly = False
    dataset, i_toy = session.main_dataset()
    result = fit_diagnostics(session, dataset, i_toy, opt)
    for line in result.lines:
        print(line)
    if opt.writes_file:
        path = fit_diagnostics_path(session, opt)
        if os.path.dirname(path) and not os.path.isdir(os.path.dirname(path)):
            raise OptionError(f"--out: directory {os.path.dirname(path)} does not exist")
        write_fit_diagnostics(path, session, [result], opt)
    tree = session.limit_tree()
    for limit, err, q in result.limit_rows:
        tree.add(limit, err, q, i_toy)
    tree.write(session.output_filename())
    return 0


def run_toy(session, data, i_toy: int, generation, first: bool) -> ToyOutcome:
    """One toy: both fits; the first toy also computes the yields saved in the output file."""
    opt = FitDiagnosticsOptions.from_opts(session.opts)
    if opt.init_from_bonly and opt.minos != "none":
        # printed by Combine's FitDiagnostics::runSpecific for every dataset
        print("Cannot re-use b-only fit parameters when running minos. Parameters will be reset when running S+B fit")
        opt.init_from_bonly = False
    res = fit_diagnostics(session, data, i_toy, opt, with_yields=first, generation=generation)
    for line in res.lines:
        print(line)
    rows = [limit_row(limit, err, q, i_toy) for limit, err, q in res.limit_rows]
    final = [r for r in rows if r.quantile == -1.0]
    # keep only what the output file needs: the first toy's yields, everyone's tree values
    return ToyOutcome(i_toy, rows, [], counted=bool(final), limit=final[-1].limit if final else 0.0, payload=res)
