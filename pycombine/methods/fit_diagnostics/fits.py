"""FitDiagnostics' fits of one dataset: background-only and signal+background fits, Hesse, the
POI interval, the covariance-quality warnings; :func:`fit_diagnostics` is the numerical core.

Conventions kept from Combine:

* In autoMCStats channels the Barlow-Beeston-lite parameters are profiled analytically during
  the fits; Combine's Hesse first re-minimises with them floating (``CascadeMinimizer::hesse``),
  which moves the reported best fit slightly, and the covariance covers them. We do the same.
* Without Minos (``--minos none``) RooFit stores the parabolic error as both asymmetric
  errors, so Combine's low error comes out negative: ``Best fit r: x  <err>/+<err>`` and the
  0.16 quantile entry is r̂ + err. Reproduced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...fit.intervals import DELTA68, DELTA95, minos_interval, robust_crossing
from ...fit.minimize import (
    FitResult,
    Fitter,
    MinimizerOptions,
    ParameterState,
    use_exact_hessian,
)
from ...fit.warm import warm_fitter
from ...model.likelihood import Dataset, Likelihood
from ...outputs.console import cpp
from ..reporting import range_edge_rule
from .options import FitDiagnosticsOptions
from .sampling import method_ranges, postfit_sampling, prefit_sampling, prefit_widths, tree_nuisances
from .summary import ERR_SCALE, FitSummary, extend_covariance_to_bb, summarize
from .yields import YieldCalculator, Yields


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
    #: (loErr, hiErr) of the POI's Minos / robustFit interval before Combine's range-edge rule
    #: (what the ``err68`` range of ``fit_s`` holds); None where no interval search ran
    poi_interval: tuple[float, float] | None = None


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
        # BB-lite parameters at explicit values: NLL0 at the start point, yields, Hessian blocks
        self.lik_na = Likelihood(m, dataset, analytic_bb=False)
        self.yields = YieldCalculator(session, self.lik_na, opt.save_overall_shapes)
        self.analytic = (m.analytic.copy() if self.profiled_bb else np.zeros(m.P, dtype=bool))
        tol = opt.robust_tolerance if opt.robust_tolerance is not None else minimizer.tolerance
        self.robust_fitter = Fitter(
            m, dataset, MinimizerOptions(strategy=opt.robust_strategy, tolerance=tol, retries=False),
            remove_bounds=True, analytic_bb=session.analytic_bb)

    def nll(self, values: np.ndarray) -> float:
        return float(self.lik_na.nll(values))

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

    def summarize(self, name: str, res: FitResult, nll0: float, ok: bool) -> FitSummary:
        return summarize(self.lik_na, self.analytic, name, res, nll0, ok)

    def postfit_yields(self, fit: FitSummary, stage: str, save_unc: bool) -> Yields:
        """Yields at the fit's best values; with ``save_unc``, sampled from its covariance (which
        first gets the BB-lite parameters added, as Combine's covers them)."""
        if save_unc:
            extend_covariance_to_bb(self.lik_na, self.analytic, fit)
        return self.yields.compute(fit.values, stage, postfit_sampling(self.session, fit) if save_unc else None)


def _minos_all(ctx: _Context, state: ParameterState, res: FitResult, fit: FitSummary) -> None:
    """``--minos all``: 68 % crossings of every floating parameter (stored in the fit result)."""
    lo = np.full(ctx.model.P, np.nan)
    hi = np.full(ctx.model.P, np.nan)
    st = state.copy()
    # the crossing search stops at the range edge: removed ranges are unbounded
    st.lo, st.hi = method_ranges(ctx.model, st)
    for i in res.free:
        iv = minos_interval(ctx.fitter, st, res, int(i), DELTA68, scale=fit.errors[i] / ERR_SCALE,
                            strategy=ctx.profile_strategy)
        lo[i] = -iv.lo_err if iv.lo.ok else -fit.errors[i]
        hi[i] = iv.hi_err if iv.hi.ok else fit.errors[i]
    fit.err_lo, fit.err_hi = lo, hi


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
    clean = session.state.copy()
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
        res.yields["prefit"] = ctx.yields.compute(prefit, "prefit", sampling)
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
        fb = ctx.summarize("fit_b", fit_b_final, res.nll0, ok=fit_b_res.valid)
        fb.start = st_b.values.copy()
        res.fit_b = fb
        if fb.ok:
            if opt.minos == "all":
                _minos_all(ctx, st_b, fit_b_res, fb)
            if fb.cov_quality < 3:
                save_unc = _cov_warning(res, "b-only", opt, save_unc)
            if want_yields:
                res.yields["fit_b"] = ctx.postfit_yields(fb, "fit_b", save_unc)
            if opt.skip_sb_fit:
                res.limit_rows.append((r_b, 0.0, -1.0))
        elif opt.skip_sb_fit:
            res.lines += ["", " --- FitDiagnostics ---", "Fit failed."]

    # ------------------------------------------------------------------ signal+background fit
    st_s = clean.copy()
    if opt.init_from_bonly and fit_b_res is not None and res.fit_b is not None and res.fit_b.ok:
        st_s.values = res.fit_b.values.copy()
    st_s.values[ir] = prefit[ir]
    st_s.frozen[ir] = False
    if opt.skip_sb_fit:
        return res
    res.s_attempted = True
    fit_s_res, fit_s_final = ctx.fit(_sb_start(ctx, st_s, res.fit_b), None, hesse=not opt.no_errors)
    fs = ctx.summarize("fit_s", fit_s_final, res.nll0, ok=fit_s_res.valid)
    fs.start = st_s.values.copy()
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
    if opt.robust_fit or opt.minos in ("poi", "all"):
        res.poi_interval = (lo_err, hi_err)
    lo_err, hi_err, max_error, _, _ = range_edge_rule(r_hat, lo_err, hi_err, r_err, r_lo, r_hi)
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
        res.yields["fit_s"] = ctx.postfit_yields(fs, "fit_s", save_unc)
    return res


def _sb_start(ctx: _Context, st_s: ParameterState, fit_b: FitSummary | None) -> ParameterState:
    """Where the s+b fit starts: ``st_s`` (Combine's pre-fit state), or for models fitted by
    Newton steps the b-only minimum (the POI at its b-only value; :meth:`Fitter.start_near`), from
    which the first Newton step is the linear response of the nuisances to the POI."""
    minimum = fit_b.values if fit_b is not None and fit_b.ok else None
    values = ctx.fitter.start_near(st_s.values, minimum, st_s.lo, st_s.hi, int((~st_s.frozen).sum()))
    if values is st_s.values:
        return st_s
    start = st_s.copy()
    start.values = values
    return start


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
