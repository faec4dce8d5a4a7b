"""The ``--algo`` implementations of MultiDimFit after the initial fit, and :func:`multidimfit`,
which runs one on a dataset."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ...errors import OptionError
from ...fit.scan import Profiler, chi2_quantile, grid_1d, grid_2d, grid_nd
from ...fit.warm import newton_warm
from ...model.likelihood import Dataset
from ...outputs.console import cpp
from ..base import parse_assignments
from ..reporting import range_edge_rule
from .fit import MultiDimFitResult, MultiDimFitRun
from .options import MultiDimFitConfig


def _f32(x: float) -> float:
    return float(np.float32(x))


def _apply(r: MultiDimFitRun, values: np.ndarray, text: str) -> None:
    """Set ``values`` from ``name=value,...`` (unknown names warned about and skipped)."""
    for name, v in parse_assignments(text):
        if name not in r.model.index:
            r.out(f"Warning: Did not find a parameter with name {name}")
            continue
        values[r.model.index[name]] = v


# ---------------------------------------------------------------------------------------- none, singles
def print_none(r: MultiDimFitRun, values: np.ndarray) -> None:
    r.out("")
    r.out(" --- MultiDimFit ---")
    r.out("best fit parameter values: ")
    width = max(len(p) for p in r.pois)
    for p, i in zip(r.pois, r.poi_idx):
        r.out(f"   {p:>{width}} :  {_f32(values[i]):+8.3f}")


def singles(r: MultiDimFitRun, values: np.ndarray) -> None:
    """The intervals of the initial fit, after Combine's edge rule, as rows and console lines."""
    r.out("")
    r.out(" --- MultiDimFit ---")
    r.out("best fit parameter values and profile-likelihood uncertainties: ")
    width = max(len(p) for p in r.pois)
    poi_vals = [values[i] for i in r.poi_idx]
    for k, (p, i) in enumerate(zip(r.pois, r.poi_idx)):
        best = float(values[i])
        lo_err, hi_err = r.intervals.get(p, (0.0, 0.0))
        err = float(r.best_errors[i]) if r.best_errors is not None else 0.0
        lo_err, hi_err, _, lo_at_edge, hi_at_edge = range_edge_rule(
            best, lo_err, hi_err, err, float(r.state.lo[i]), float(r.state.hi[i]))
        if hi_at_edge:
            r.out(f" Warning - No valid high-error found, will report difference to maximum of range for : {p}")
        if lo_at_edge:
            r.out(f" Warning - No valid low-error found, will report difference to minimum of range for : {p}")
        r.intervals[p] = (lo_err, hi_err)
        row = list(poi_vals)
        row[k] = best - lo_err
        r.commit(-0.32, row, values, 0.0)
        row[k] = best + hi_err
        r.commit(0.32, row, values, 0.0)
        r.out(f"   {p:>{width}} :  {_f32(best):+8.3f}   {-lo_err:+6.3f}/{hi_err:+6.3f} (68%)")


# ---------------------------------------------------------------------------------------- grid, fixed
def grid(r: MultiDimFitRun, values: np.ndarray) -> None:
    """The profiled deltaNLL on Combine's grid of 1, 2 or n dimensions."""
    cfg = r.cfg
    # large models: each point's Newton fit starts from the Hessian the previous point ended with
    prof = Profiler(newton_warm(r.fitter, r.state), r.state)
    nll0 = prof.nll(values)
    snap = values.copy()
    if cfg.set_parameters_for_grid:
        _apply(r, snap, cfg.set_parameters_for_grid)
    if cfg.start_from_pre_fit:
        snap = r.session.state.values.copy()
    n = len(r.pois)
    pmin = [float(r.state.lo[i]) for i in r.poi_idx]
    pmax = [float(r.state.hi[i]) for i in r.poi_idx]
    for p, i, lo, hi in zip(r.pois, r.poi_idx, pmin, pmax):
        r.out(f" POI: {p}= {cpp(snap[i])} -> [{cpp(lo)},{cpp(hi)}]")
    ndof = n + r.n_other_floating
    gp = cfg.grid_points
    if gp is not None and len(gp) != n:
        raise OptionError(f"Number of passed gridPoints {len(gp)} does not match number of POIs {n}")
    if n == 1:
        points = gp[0] if gp else cfg.points
        pts = grid_1d(pmin[0], pmax[0], points, cfg.first_point, cfg.last_point, cfg.align_edges,
                      best=float(snap[r.poi_idx[0]]))
        total = points
        bad = 9990.0
    elif n == 2:
        pts, total = grid_2d((pmin[0], pmin[1]), (pmax[0], pmax[1]), cfg.points, tuple(gp) if gp else None,
                             cfg.first_point, cfg.last_point, cfg.align_edges)
        bad = 9999.0
    else:
        pts, total = grid_nd(pmin, pmax, cfg.points, gp, cfg.first_point, cfg.last_point, cfg.align_edges)
        bad = 9999.0
    fixed_names = r.pois
    for pt in pts:
        if n == 1:
            r.out(f"Point {pt.index}/{total} {fixed_names[0]} = {cpp(pt.coords[0])}")
        elif n == 2:
            i, j = pt.ij
            r.out(f"Point {pt.index}/{total} (i,j)= ({i},{j}) {fixed_names[0]} = {cpp(pt.coords[0])} "
                  f"{fixed_names[1]} = {cpp(pt.coords[1])}")
        _point(r, prof, snap, pt.coords, nll0, ndof, bad)


def _point(r: MultiDimFitRun, prof: Profiler, snap: np.ndarray, coords, nll0: float, ndof: int, bad: float) -> None:
    cfg = r.cfg
    fixed = {i: float(x) for i, x in zip(r.poi_idx, coords)}
    start = snap.copy()
    for i, x in fixed.items():
        start[i] = x
    start_nll = prof.nll(start)
    if not math.isfinite(start_nll) or start_nll >= 9e9:
        # Combine: evaluation errors before the fit give a fixed large deltaNLL
        r.commit(0.0, coords, start, bad)
        return
    skip = cfg.max_delta_nll_for_prof is not None and (start_nll - nll0) > cfg.max_delta_nll_for_prof
    p = prof.at(start, fixed, profile=not (cfg.fast_scan or skip))
    if not math.isfinite(p.nll) or p.nll >= 9e9:
        return  # a failed minimisation writes no entry
    dnll = p.nll - nll0
    r.commit(chi2_quantile(dnll, ndof), coords, p.values, dnll)


def fixed(r: MultiDimFitRun, values: np.ndarray) -> None:
    """One profiled point given by --fixedPointPOIs (or --setParameters)."""
    cfg = r.cfg
    nll0 = r.prof.nll(values)
    start = values.copy()
    text = cfg.fixed_point_pois
    if not text and cfg.set_parameters:
        r.out(" --fixedPointPOIs option not used, so will use the argument of --setParameters instead")
        text = cfg.set_parameters
    if text:
        _apply(r, start, text)
    coords = [float(start[i]) for i in r.poi_idx]
    for p, x in zip(r.pois, coords):
        r.out(f" Evaluating fixed point with {p}= {cpp(_f32(x))}")
    pinned = dict(zip(r.poi_idx, coords))
    p = r.prof.at(start, pinned, profile=True)
    if p.ok:
        dnll = p.nll - nll0
        r.commit(chi2_quantile(dnll, len(r.pois) + r.n_other_floating), coords, p.values, dnll)


# ---------------------------------------------------------------------------------------- impact
def impact(r: MultiDimFitRun, values: np.ndarray) -> None:
    """The fits with each selected parameter fixed at both ends of its interval (combineTool's
    ``Impacts.py``), the saved parameters' shifts printed."""
    r.out("")
    r.out(" --- MultiDimFit ---")
    r.out("Parameter impacts: ")
    width = max([9] + [len(p) for p in r.pois])
    header = f"  {'Parameter':<{width}} :   {'Best-fit':<21}" + "".join(f"  {n:<13}" for n in r.specified)
    r.out(header)
    spec_best = [float(values[r.model.index[n]]) for n in r.specified]
    for k, (p, i) in enumerate(zip(r.pois, r.poi_idx)):
        best = float(values[i])
        lo_err, hi_err = r.intervals.get(p, (0.0, 0.0))
        line = f"  {p:<{width}} : {best:+8.3f}  {-lo_err:+6.3f}/{hi_err:+6.3f}"
        impacts_lo = list(spec_best)
        impacts_hi = list(spec_best)
        for side, x in enumerate((best - lo_err, best + hi_err)):
            pt = r.prof.at(values, {i: x}, profile=True)
            if pt.ok:
                row_pois = [pt.values[j] for j in r.poi_idx]
                row_pois[k] = x
                r.commit(0.32, row_pois, pt.values, 0.0)
            for j, n in enumerate(r.specified):
                d = float(pt.values[r.model.index[n]]) - spec_best[j]
                if side == 0:
                    impacts_lo[j] = d
                else:
                    impacts_hi[j] = d
        line += "".join(f"  {lo:+6.3f}/{hi:+6.3f}" for lo, hi in zip(impacts_lo, impacts_hi))
        r.out(line)


# ---------------------------------------------------------------------------------------- driver
def multidimfit(session, data: Dataset, cfg: MultiDimFitConfig | None = None,
                out: Callable[[str], None] | None = None) -> MultiDimFitResult:
    """Run MultiDimFit on one dataset; ``out`` receives the console lines as they are produced."""
    cfg = cfg or MultiDimFitConfig.from_options(session.opts)
    r = MultiDimFitRun(session, data, cfg, out or (lambda line: None))
    values, fit_ok = r.initial_fit()
    algo = cfg.algo
    if algo == "none":
        print_none(r, values)
    elif algo == "singles":
        if fit_ok:
            singles(r, values)
    elif algo in ("grid",):
        grid(r, values)
    elif algo == "fixed":
        fixed(r, values)
    elif algo == "impact":
        if fit_ok:
            impact(r, values)
    return r.result(fit_ok)
