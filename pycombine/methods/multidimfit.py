"""``combine -M MultiDimFit`` (Combine's ``src/MultiDimFit.cc``, spec §5.5, §6.2-6.3).

A free fit of the model with the selected POIs (``-P``, default all model POIs; any parameter
may be named) floating and the other model POIs fixed unless ``--floatOtherPOIs 1``; the
Gaussian-constrained nuisances lose their ranges for the duration of the method, except a
nuisance named with ``-P`` (``FitterAlgoBase::optimizeBounds``). Then, by ``--algo``:

``none``
    the best fit only;
``singles``
    a 68 % profile-likelihood interval per POI (NLL rise 0.494473, the other parameters
    profiled), with Combine's replacement of a vanishing error by the distance to the range end;
``grid``
    the profiled deltaNLL on Combine's grid of 1, 2 or n dimensions, every point profiled from
    the best-fit snapshot;
``fixed``
    one profiled point given by ``--fixedPointPOIs`` (or ``--setParameters``);
``impact``
    the interval of one parameter (usually a nuisance) and the fits with it fixed at both
    ends, as combineTool's ``Impacts.py`` runs it.

:func:`multidimfit` does the work and returns rows and console lines; :func:`run` prints,
writes the ``limit`` tree (one float32 branch per POI, saved parameters, ``deltaNLL``).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import OptionError
from ..fit.minimize import ParameterState
from ..fit.scan import (
    DELTA_NLL_68,
    LimitSafeFitter,
    Profiler,
    chi2_quantile,
    find_crossing,
    grid_1d,
    grid_2d,
    grid_nd,
    parse_grid_points,
    profile_crossing,
)
from ..fit.warm import warm_fitter
from ..outputs.console import cpp
from ..outputs.limit_tree import LimitRow, LimitTree
from .base import ToyOutcome

ALGOS = ("none", "singles", "grid", "grid3x3", "fixed", "impact", "cross", "random", "contour2d", "stitch2d")
SUPPORTED = ("none", "singles", "grid", "fixed", "impact")


# ---------------------------------------------------------------------------------------- options
@dataclass
class MultiDimFitConfig:
    """The MultiDimFit options (defaults as in Combine)."""

    algo: str = "none"
    pois: list[str] = field(default_factory=list)  # -P; empty = all model POIs
    float_other_pois: bool = False
    points: int = 50
    first_point: int = 0
    last_point: int | None = None
    grid_points: list[int] | None = None
    align_edges: bool = False
    fast_scan: bool = False
    max_delta_nll_for_prof: float | None = None
    start_from_pre_fit: bool = False
    skip_initial_fit: bool = False
    auto_range: float | None = None
    centered_range: float | None = None
    fixed_point_pois: str = ""
    set_parameters: str = ""  # --setParameters (fallback point of --algo fixed)
    set_parameters_for_grid: str = ""
    save_specified_nuis: str = ""
    save_inactive_poi: bool = False
    save_fit_result: bool = False
    robust_fit: bool = False
    step_size: float = 0.1
    crossing_tolerance: float = 1e-4
    max_failed_steps: int = 5
    robust_fit_strategy: int = 0

    @classmethod
    def from_options(cls, opts) -> "MultiDimFitConfig":
        g = lambda name, default=None: getattr(opts, name, default)  # noqa: E731
        algo = g("algo") or "none"
        last = g("last_point", -1)
        gp = g("grid_points", "") or ""
        cfg = cls(
            algo=algo,
            pois=[p for p in (g("parameters", ()) or ()) if p],
            float_other_pois=bool(g("float_other_pois", False)),
            points=int(g("points", 50)),
            first_point=int(g("first_point", 0) or 0),
            last_point=None if last is None or int(last) < 0 else int(last),
            grid_points=parse_grid_points(gp) if gp else None,
            align_edges=bool(g("align_edges", False)),
            fast_scan=bool(g("fast_scan", False)),
            max_delta_nll_for_prof=g("max_delta_nll_for_prof"),
            start_from_pre_fit=bool(g("start_from_pre_fit", False)),
            skip_initial_fit=bool(g("skip_initial_fit", False)),
            auto_range=g("auto_range"),
            centered_range=g("centered_range"),
            fixed_point_pois=g("fixed_point_pois", "") or "",
            set_parameters=g("set_parameters", "") or "",
            set_parameters_for_grid=g("set_parameters_for_grid", "") or "",
            save_specified_nuis=g("save_specified_nuis", "") or "",
            save_inactive_poi=bool(g("save_inactive_poi", False)),
            save_fit_result=bool(g("save_fit_result", False)),
            robust_fit=bool(g("robust_fit", False)),
            step_size=float(g("step_size", 0.1)),
            crossing_tolerance=float(g("crossing_tolerance", 1e-4)),
            max_failed_steps=int(g("max_failed_steps", 5)),
            robust_fit_strategy=int(g("robust_fit_strategy", 0) or 0),
        )
        if algo == "impact":
            # combineTool's impacts: the other POIs float and are saved unless said otherwise
            if not _given(opts, "float_other_pois"):
                cfg.float_other_pois = True
            if not _given(opts, "save_inactive_poi"):
                cfg.save_inactive_poi = True
        return cfg


def _given(opts, dest: str) -> bool:
    """Whether an option was given on the command line (falls back to 'differs from default')."""
    given = getattr(opts, "_given", None)
    if given is not None:
        return dest in given
    return bool(getattr(opts, dest, False))


def check_options(opts) -> None:
    algo = getattr(opts, "algo", None) or "none"
    if algo not in ALGOS:
        raise OptionError(f"Unknown algorithm: {algo}")
    if algo not in SUPPORTED:
        raise OptionError(f"MultiDimFit --algo {algo} is not supported by pycombine (supported: {', '.join(SUPPORTED)})")
    if int(getattr(opts, "points", 50)) < 0:
        raise OptionError("--points must be non-negative")
    gp = getattr(opts, "grid_points", "") or ""
    if gp:
        try:
            parse_grid_points(gp)
        except ValueError:
            raise OptionError(f"--gridPoints: expected comma-separated integers, got {gp!r}") from None


def option_messages(opts) -> list[str]:
    return []


# ---------------------------------------------------------------------------------------- results
@dataclass
class MultiDimFitResult:
    """Everything one MultiDimFit run produced for one dataset."""

    pois: list[str]
    branches: list[tuple[str, np.dtype]]  # method branches of the limit tree, in order
    rows: list[tuple[float, dict[str, float]]]  # (quantileExpected, branch values)
    best_fit: dict[str, float] | None  # all parameters at the best fit (None: no fit)
    best_nll: float | None
    fit_ok: bool
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # singles: (lo, hi) errors
    lines: list[str] = field(default_factory=list)  # console text (also passed to ``out``)


def minos_delta(session) -> float:
    """The NLL rise at which Combine's Minos intervals end (``FitterAlgoBase::doFit``).

    ``doFit`` sets the error level 0.494473 (68 % of chi2(1)) on its minimiser, but for models
    whose NLL is Combine's ``CachingSimNLL`` (every card with a ``shapes`` line: the pdf is a
    ``RooSimultaneousOpt``) ``CascadeMinimizer::improve`` and ``::minos`` rebuild the
    ``RooMinimizer`` for the analytic Barlow-Beeston handling, which drops the setting and leaves
    RooFit's default 0.5. Pure counting cards (a product of Poisson terms, plain RooFit NLL)
    keep 0.494473. Checked against Combine's recorded intervals: profiled deltaNLL at its
    crossings is 0.4944 on counting cards and 0.5000 on TH1 and autoMCStats shape cards.
    """
    return DELTA_NLL_68 if session.spec.counting else 0.5


def unfactorized_pdf_dump(session, values: np.ndarray) -> list[str]:
    """What Combine's ``CachingSimNLL`` prints when the model has no constraint term at all.

    A shape model whose parameters are all unconstrained (POIs, rateParams) does not factorize
    into observables x constraints; ``CachingSimNLL::setup_`` then writes ``PDF didn't
    factorize!`` on stderr and dumps the pdf parameters (sorted by name, current values) and the
    data variables on stdout, each time the NLL is created. Checked against Combine's output on
    a one-channel card (``Parameters:``, ``r``/``s_b`` lines, ``CMS_th1x = 33.5``,
    ``CMS_channel = m4l(idx = 0)``, an empty line); for several channels the data row shown is
    taken to be the last one (not verified).
    """
    m = session.model
    if session.spec.counting or m.constrained.any() or not m.channels:
        return []
    names = sorted(n for n in m.names if session.spec.parameters[n].kind != "mass")
    lines = ["Parameters: "]
    w = max([len(n) for n in names] + [1]) + 1
    for k, n in enumerate(names, 1):
        lines.append(f"{k:>3}) RooRealVar::{n:>{w}} = {cpp(values[m.index[n]])}")
    obs = [("RooRealVar", "CMS_th1x", cpp(max(int(session.spec.max_bins), 1) - 0.5)),
           ("RooCategory", "CMS_channel", f"{m.channels[-1].name}(idx = {len(m.channels) - 1})")]
    w = max(len(n) for _, n, _ in obs) + 1
    lines.append("Obs: ")
    for k, (cls, n, v) in enumerate(obs, 1):
        lines.append(f"{k:>3}) {cls}::{n:>{w}} = {v}")
    lines.append("")
    return lines


def _f32(x: float) -> float:
    return float(np.float32(x))


def _setter_items(text: str) -> list[tuple[str, float]]:
    out = []
    for item in text.split(","):
        if not item.strip():
            continue
        name, eq, val = item.partition("=")
        if not eq:
            raise OptionError(f"expected name=value, got {item!r}")
        try:
            out.append((name.strip(), float(val)))
        except ValueError:
            raise OptionError(f"value of {name} is not a number: {val!r}") from None
    return out


class _Run:
    """State of one MultiDimFit execution (Combine keeps it in static members)."""

    def __init__(self, session, data, cfg: MultiDimFitConfig, out: Callable[[str], None]):
        self.session = session
        self.model = session.model
        self.data = data
        self.cfg = cfg
        self._out = out
        self.lines: list[str] = []
        m = self.model
        self.pois = list(cfg.pois) if cfg.pois else list(session.pois)
        if not self.pois:
            raise OptionError("MultiDimFit: the model has no parameters of interest; name one with -P")
        for p in self.pois:
            if p not in m.index:
                raise OptionError(f"Parameter of interest {p} not in model.")
        self.poi_idx = [m.index[p] for p in self.pois]
        # a non-POI named with -P loses its optimizeBounds attribute: it keeps its range
        self.keep_range = [i for p, i in zip(self.pois, self.poi_idx) if p not in session.pois]
        self.state: ParameterState = session.state.copy()
        self.fitter = LimitSafeFitter(m, data, session.minimizer, remove_bounds=True,
                                      analytic_bb=session.analytic_bb, keep_range=self.keep_range)
        self.prof = Profiler(self.fitter, self.state)
        self.rows: list[tuple[float, dict[str, float]]] = []
        self.n_other_floating = 0
        self._specified: list[str] = []
        self.best: np.ndarray | None = None
        self.best_nll: float | None = None
        self.best_errors: np.ndarray | None = None
        self.intervals: dict[str, tuple[float, float]] = {}

    # ------------------------------------------------------------------ helpers
    def out(self, line: str) -> None:
        self.lines.append(line)
        self._out(line)

    def _other_pois(self) -> None:
        """Fix (or float, with --floatOtherPOIs) the model POIs that were not selected."""
        const = []
        for p in self.session.pois:
            if p in self.pois:
                continue
            i = self.model.index[p]
            self.state.frozen[i] = not self.cfg.float_other_pois
            if self.cfg.float_other_pois:
                self.n_other_floating += 1
            else:
                const.append(p)
        if const:
            self.out("Following POIs have been set constant (use --floatOtherPOIs to let them float): "
                     + "".join(f"{p}, " for p in const))

    def _specified_names(self) -> list[str]:
        """--saveSpecifiedNuis parameters then the inactive POIs (--saveInactivePOI)."""
        s = self.session
        names: list[str] = []
        text = self.cfg.save_specified_nuis
        nuis = [n for n in s.spec.nuisances if n in self.model.index and not self.state.frozen[self.model.index[n]]]
        if text:
            if text == "all":
                names = [n for n in nuis if n not in self.pois]
            else:
                for tok in text.split(","):
                    if not tok:
                        continue
                    if tok in s.spec.groups:
                        names += list(s.spec.groups[tok])
                    elif tok not in self.pois:
                        names.append(tok)
                for n in names:
                    if n not in nuis:
                        raise OptionError(f"Nuisance parameter {n} not in model.")
                names = [n for n in names if n not in self.pois]
        if self.cfg.save_inactive_poi:
            for p in s.pois:
                if p not in self.pois and p not in names:
                    names.append(p)
        return names

    def branches(self) -> list[tuple[str, np.dtype]]:
        br = [(p, np.dtype(np.float32)) for p in self.pois]
        br += [(n, np.dtype(np.float32)) for n in self._specified]
        br.append(("deltaNLL", np.dtype(np.float32)))
        return br

    def commit(self, quantile: float, poi_values, values: np.ndarray, delta_nll: float) -> None:
        row = {p: float(v) for p, v in zip(self.pois, poi_values)}
        for n in self._specified:
            row[n] = float(values[self.model.index[n]])
        row["deltaNLL"] = float(delta_nll)
        self.rows.append((quantile, row))

    def _dump(self, values: np.ndarray) -> None:
        dump = unfactorized_pdf_dump(self.session, values)
        if dump:
            sys.stdout.flush()
            sys.stderr.write("PDF didn't factorize!\n")
        for line in dump:
            self.out(line)

    # ------------------------------------------------------------------ main
    def run(self) -> MultiDimFitResult:
        cfg = self.cfg
        self._other_pois()
        self._specified = self._specified_names()
        do_hesse = cfg.algo in ("singles", "impact") or cfg.save_fit_result
        values = self.state.values.copy()
        fit_ok = False
        if not cfg.skip_initial_fit:
            self.out("Doing initial fit: ")
            self._dump(values)
            p = self.prof.minimize(values, hesse=do_hesse)
            fit_ok = p.ok
            if fit_ok:
                self.best = p.values.copy()
                self.best_nll = p.nll
                self.best_errors = p.result.errors.copy() if p.result is not None else np.zeros(self.model.P)
                if do_hesse:
                    self._intervals(p)
                values = self.best.copy()
            else:
                for text in ("", " ---------------------------", " WARNING: MultiDimFit failed",
                             " ---------------------------", ""):
                    self.out("")
                    self.out(" " + text.strip() if text else " ")
                values = p.values.copy()
        else:
            self.out("MultiDimFit -- Skipping initial global fit")
            self._dump(values)
        if fit_ok:
            self.commit(-1.0, [values[i] for i in self.poi_idx], values, 0.0)
        algo = cfg.algo
        if cfg.auto_range is not None and cfg.auto_range > 0 and self.best_errors is not None:
            for i in self.poi_idx:
                v, e = values[i], self.best_errors[i]
                self.state.lo[i] = max(self.state.lo[i], v - cfg.auto_range * e)
                self.state.hi[i] = min(self.state.hi[i], v + cfg.auto_range * e)
        if cfg.centered_range is not None and cfg.centered_range > 0:
            for i in self.poi_idx:
                v = values[i]
                self.state.lo[i] = max(self.state.lo[i], v - cfg.centered_range)
                self.state.hi[i] = min(self.state.hi[i], v + cfg.centered_range)
        if algo == "none":
            self._print_none(values)
        elif algo == "singles":
            if fit_ok:
                self._singles(values)
        elif algo in ("grid",):
            self._grid(values)
        elif algo == "fixed":
            self._fixed(values)
        elif algo == "impact":
            if fit_ok:
                self._impact(values)
        return MultiDimFitResult(
            pois=self.pois,
            branches=self.branches(),
            rows=self.rows,
            best_fit=self.session.values_dict(self.best) if self.best is not None else None,
            best_nll=self.best_nll,
            fit_ok=fit_ok,
            intervals=self.intervals,
            lines=self.lines,
        )

    # ------------------------------------------------------------------ intervals
    def _intervals(self, best: "object") -> None:
        """68 % profile-likelihood interval of every selected POI (Minos, or --robustFit)."""
        cfg = self.cfg
        bestv = best.values
        prof = self._interval_profiler(bestv)
        for p, i in zip(self.pois, self.poi_idx):
            x0 = float(bestv[i])
            lo_b, hi_b = float(self.state.lo[i]), float(self.state.hi[i])
            if self.fitter.remove_bounds and self.model.optimize_bounds[i] and i not in self.keep_range:
                lo_b, hi_b = -math.inf, math.inf
            if self.state.frozen[i]:
                self.intervals[p] = (0.0, 0.0)
                continue
            if cfg.robust_fit:
                level = best.nll + DELTA_NLL_68
                hi = find_crossing(prof, i, level, x0, hi_b, bestv, cfg.step_size, cfg.crossing_tolerance,
                                   cfg.max_failed_steps, cfg.robust_fit_strategy)
                lo = find_crossing(prof, i, level, x0, lo_b, bestv, cfg.step_size, cfg.crossing_tolerance,
                                   cfg.max_failed_steps, cfg.robust_fit_strategy)
                lo_err = x0 - lo if not math.isnan(lo) else 0.0
                hi_err = hi - x0 if not math.isnan(hi) else 0.0
            else:
                sigma = float(best.result.errors[i]) if best.result is not None else None
                delta = minos_delta(self.session)
                c_hi = profile_crossing(prof, i, bestv, best.nll, delta, hi_b, sigma)
                c_lo = profile_crossing(prof, i, bestv, best.nll, delta, lo_b, sigma)
                hi_err = c_hi.value - x0
                lo_err = x0 - c_lo.value
            self.intervals[p] = (lo_err, hi_err)

    def _interval_profiler(self, best: np.ndarray) -> Profiler:
        """The profiler of the interval searches: Migrad seeded with the Hessian at the best fit
        (:func:`pycombine.fit.warm.warm_fitter`) instead of differencing the gradient per fit."""
        return Profiler(warm_fitter(self.fitter, self.state, best), self.state)

    def _singles(self, values: np.ndarray) -> None:
        self.out("")
        self.out(" --- MultiDimFit ---")
        self.out("best fit parameter values and profile-likelihood uncertainties: ")
        width = max(len(p) for p in self.pois)
        poi_vals = [values[i] for i in self.poi_idx]
        for k, (p, i) in enumerate(zip(self.pois, self.poi_idx)):
            best = float(values[i])
            lo_err, hi_err = self.intervals.get(p, (0.0, 0.0))
            err = float(self.best_errors[i]) if self.best_errors is not None else 0.0
            max_err = max(hi_err, lo_err, err)
            if abs(hi_err) < 0.001 * max_err:
                self.out(f" Warning - No valid high-error found, will report difference to maximum of range for : {p}")
                hi_err = -best + float(self.state.hi[i])
            if abs(lo_err) < 0.001 * max_err:
                self.out(f" Warning - No valid low-error found, will report difference to minimum of range for : {p}")
                lo_err = best - float(self.state.lo[i])
            self.intervals[p] = (lo_err, hi_err)
            row = list(poi_vals)
            row[k] = best - lo_err
            self.commit(-0.32, row, values, 0.0)
            row[k] = best + hi_err
            self.commit(0.32, row, values, 0.0)
            self.out(f"   {p:>{width}} :  {_f32(best):+8.3f}   {-lo_err:+6.3f}/{hi_err:+6.3f} (68%)")

    def _print_none(self, values: np.ndarray) -> None:
        self.out("")
        self.out(" --- MultiDimFit ---")
        self.out("best fit parameter values: ")
        width = max(len(p) for p in self.pois)
        for p, i in zip(self.pois, self.poi_idx):
            self.out(f"   {p:>{width}} :  {_f32(values[i]):+8.3f}")

    # ------------------------------------------------------------------ grid / fixed
    def _nll0(self, values: np.ndarray) -> float:
        return self.prof.nll(values)

    def _apply(self, values: np.ndarray, text: str) -> None:
        for name, v in _setter_items(text):
            if name not in self.model.index:
                self.out(f"Warning: Did not find a parameter with name {name}")
                continue
            values[self.model.index[name]] = v

    def _grid(self, values: np.ndarray) -> None:
        cfg = self.cfg
        nll0 = self._nll0(values)
        snap = values.copy()
        if cfg.set_parameters_for_grid:
            self._apply(snap, cfg.set_parameters_for_grid)
        if cfg.start_from_pre_fit:
            snap = self.session.state.values.copy()
        n = len(self.pois)
        pmin = [float(self.state.lo[i]) for i in self.poi_idx]
        pmax = [float(self.state.hi[i]) for i in self.poi_idx]
        for p, i, lo, hi in zip(self.pois, self.poi_idx, pmin, pmax):
            self.out(f" POI: {p}= {cpp(snap[i])} -> [{cpp(lo)},{cpp(hi)}]")
        ndof = n + self.n_other_floating
        gp = cfg.grid_points
        if gp is not None and len(gp) != n:
            raise OptionError(f"Number of passed gridPoints {len(gp)} does not match number of POIs {n}")
        if n == 1:
            points = gp[0] if gp else cfg.points
            grid = grid_1d(pmin[0], pmax[0], points, cfg.first_point, cfg.last_point, cfg.align_edges,
                           best=float(snap[self.poi_idx[0]]))
            total = points
            bad = 9990.0
        elif n == 2:
            grid, total = grid_2d((pmin[0], pmin[1]), (pmax[0], pmax[1]), cfg.points, tuple(gp) if gp else None,
                                  cfg.first_point, cfg.last_point, cfg.align_edges)
            bad = 9999.0
        else:
            grid, total = grid_nd(pmin, pmax, cfg.points, gp, cfg.first_point, cfg.last_point, cfg.align_edges)
            bad = 9999.0
        fixed_names = self.pois
        for pt in grid:
            if n == 1:
                self.out(f"Point {pt.index}/{total} {fixed_names[0]} = {cpp(pt.coords[0])}")
            elif n == 2:
                i, j = pt.ij
                self.out(f"Point {pt.index}/{total} (i,j)= ({i},{j}) {fixed_names[0]} = {cpp(pt.coords[0])} "
                         f"{fixed_names[1]} = {cpp(pt.coords[1])}")
            self._point(snap, pt.coords, nll0, ndof, bad)

    def _point(self, snap: np.ndarray, coords, nll0: float, ndof: int, bad: float) -> None:
        cfg = self.cfg
        fixed = {i: float(x) for i, x in zip(self.poi_idx, coords)}
        start = snap.copy()
        for i, x in fixed.items():
            start[i] = x
        start_nll = self.prof.nll(start)
        if not math.isfinite(start_nll) or start_nll >= 9e9:
            # Combine: evaluation errors before the fit give a fixed large deltaNLL
            self.commit(0.0, coords, start, bad)
            return
        skip = cfg.max_delta_nll_for_prof is not None and (start_nll - nll0) > cfg.max_delta_nll_for_prof
        p = self.prof.at(start, fixed, profile=not (cfg.fast_scan or skip))
        if not math.isfinite(p.nll) or p.nll >= 9e9:
            return  # a failed minimisation writes no entry
        dnll = p.nll - nll0
        self.commit(chi2_quantile(dnll, ndof), coords, p.values, dnll)

    def _fixed(self, values: np.ndarray) -> None:
        cfg = self.cfg
        nll0 = self._nll0(values)
        start = values.copy()
        text = cfg.fixed_point_pois
        if not text and cfg.set_parameters:
            self.out(" --fixedPointPOIs option not used, so will use the argument of --setParameters instead")
            text = cfg.set_parameters
        if text:
            self._apply(start, text)
        coords = [float(start[i]) for i in self.poi_idx]
        for p, x in zip(self.pois, coords):
            self.out(f" Evaluating fixed point with {p}= {cpp(_f32(x))}")
        fixed = dict(zip(self.poi_idx, coords))
        p = self.prof.at(start, fixed, profile=True)
        if p.ok:
            dnll = p.nll - nll0
            self.commit(chi2_quantile(dnll, len(self.pois) + self.n_other_floating), coords, p.values, dnll)

    # ------------------------------------------------------------------ impact
    def _impact(self, values: np.ndarray) -> None:
        self.out("")
        self.out(" --- MultiDimFit ---")
        self.out("Parameter impacts: ")
        width = max([9] + [len(p) for p in self.pois])
        header = f"  {'Parameter':<{width}} :   {'Best-fit':<21}" + "".join(f"  {n:<13}" for n in self._specified)
        self.out(header)
        spec_best = [float(values[self.model.index[n]]) for n in self._specified]
        for k, (p, i) in enumerate(zip(self.pois, self.poi_idx)):
            best = float(values[i])
            lo_err, hi_err = self.intervals.get(p, (0.0, 0.0))
            line = f"  {p:<{width}} : {best:+8.3f}  {-lo_err:+6.3f}/{hi_err:+6.3f}"
            impacts_lo = list(spec_best)
            impacts_hi = list(spec_best)
            for side, x in enumerate((best - lo_err, best + hi_err)):
                pt = self.prof.at(values, {i: x}, profile=True)
                if pt.ok:
                    row_pois = [pt.values[j] for j in self.poi_idx]
                    row_pois[k] = x
                    self.commit(0.32, row_pois, pt.values, 0.0)
                for j, n in enumerate(self._specified):
                    d = float(pt.values[self.model.index[n]]) - spec_best[j]
                    if side == 0:
                        impacts_lo[j] = d
                    else:
                        impacts_hi[j] = d
            line += "".join(f"  {lo:+6.3f}/{hi:+6.3f}" for lo, hi in zip(impacts_lo, impacts_hi))
            self.out(line)


def multidimfit(session, data, cfg: MultiDimFitConfig | None = None,
                out: Callable[[str], None] | None = None) -> MultiDimFitResult:
    """Run MultiDimFit on one dataset; ``out`` receives the console lines as they are produced."""
    cfg = cfg or MultiDimFitConfig.from_options(session.opts)
    return _Run(session, data, cfg, out or (lambda line: None)).run()


def add_rows(tree, result: MultiDimFitResult, i_toy: int) -> None:
    """Append a result's rows to a :class:`~pycombine.outputs.limit_tree.LimitTree`.

    ``limit`` is never assigned by Combine's MultiDimFit (an uninitialised value); 0 is written.
    """
    if not tree.branches:
        tree.branches = list(result.branches)
    for q, values in result.rows:
        tree.rows.append(LimitRow(0.0, 0.0, q, i_toy, dict(values)))


def run(session) -> int:
    data, i_toy = session.main_dataset()
    cfg = MultiDimFitConfig.from_options(session.opts)
    result = multidimfit(session, data, cfg, out=print)
    if cfg.save_fit_result:
        sys.stderr.write("Warning: --saveFitResult (RooFitResult fit_mdf) needs ROOT; multidimfit*.root is not written\n")
    tree = session.limit_tree()
    add_rows(tree, result, i_toy)
    sys.stdout.flush()
    tree.write(session.output_filename())
    return 0


def run_toy(session, data, i_toy: int, generation, first: bool) -> ToyOutcome:
    """One toy: the fit's console text and its rows (Combine's MultiDimFit never sets ``limit``
    and always counts the toy)."""
    res = multidimfit(session, data, MultiDimFitConfig.from_options(session.opts), out=print)
    tree = LimitTree(0.0, 0)
    add_rows(tree, res, i_toy)
    return ToyOutcome(i_toy, tree.rows, list(res.branches), counted=True, limit=0.0)
