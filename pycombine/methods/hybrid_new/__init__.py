"""``combine -M HybridNew``: toy-based CLs limits, significances and Feldman-Cousins p-values.

Combine's ``src/HybridNew.cc`` on pycombine's batched fits. The modes (after ``--LHCmode``):

* **limit** (default, ``--LHCmode LHC-limits``): the POI value where CLs = 1 - CL
  (:mod:`.search`), printed as ``Limit: r < x +/- err @ 95% CL``; with ``--expectedFromGrid q``
  the expected limit of quantile q, from the same toys;
* **single point** (``--singlePoint r`` or ``r=1,x=2``): ``CLs = x +/- err`` (``Pmu`` with
  ``--rule Pmu`` and in Feldman-Cousins mode, ``--LHCmode LHC-feldman-cousins``);
* **significance** (``--LHCmode LHC-significance``): the p-value of the data under the
  background-only hypothesis from its toys, ``Significance: Z -lo/+hi`` and
  ``Null p-value: p +/- err``;
* **test statistic** (``--onlyTestStat``): ``-2 ln Q`` of the data.

How a point is tested is in :mod:`.engine` (fits of both hypotheses, toys, adaptive accuracy),
the test statistics in :mod:`.statistic`, the toys in :mod:`.sampling`, the p-values in
:mod:`.hypotest`.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from ...errors import ModelError, OptionError
from ...outputs.console import cpp
from ..base import ToyOutcome, limit_row
from .engine import PointEvaluator, significance_from_pvalue
from .options import HybridNewOptions, parse_point
from .grid import columns, read_grid, tree_name
from .search import find_limit, interval_from_points, limit_from_points

__all__ = ["HybridNewOptions", "check_options", "option_messages", "run", "run_toy"]


def _with_systematics(session) -> bool:
    """Combine's ``withSystematics``: the model has floating constrained nuisances."""
    m = session.model
    return bool((m.is_nuisance & ~session.state.frozen).any())


def check_options(opts) -> None:
    HybridNewOptions.from_opts(opts)


def option_messages(opts) -> list[str]:
    return [HybridNewOptions.from_opts(opts).message()]


# ---------------------------------------------------------------------------------------- modes
def _hint(session, data, opt: HybridNewOptions) -> float | None:
    """The asymptotic limit of the same quantity: where the limit search starts."""
    from ..asymptotic_limits import asymptotic_limits, settings_from_options

    try:
        if opt.expected_quantile is None:
            res = asymptotic_limits(session, data, "observed", True, settings_from_options(session.opts))
            return float(res.observed.limit) if res.observed is not None and res.observed.ok else None
        res = asymptotic_limits(session, data, "expected", True, settings_from_options(session.opts))
        rows = res.expected.rows if res.expected is not None else []
        near = min(rows, key=lambda r: abs(r[0] - opt.expected_quantile), default=None)
        return float(near[1]) if near is not None else None
    except (ArithmeticError, ValueError, np.linalg.LinAlgError, RuntimeError):
        return None


def hybrid_new(session, data, opt: HybridNewOptions | None = None, seed: int | None = None, out=print):
    """Run HybridNew on ``data``; returns (rows [(limit, limitErr, quantileExpected)], evaluator)."""
    opt = opt or HybridNewOptions.from_opts(session.opts, _with_systematics(session))
    seed = int(session.opts.seed if seed is None else seed)
    ev = PointEvaluator(session, data, opt, seed, _with_systematics(session))
    pois = list(session.pois)
    quantile = -1.0 if opt.expected_quantile is None else float(np.float32(opt.expected_quantile))
    grid = _read_grid(session, ev, opt) if opt.read_hybrid_results else None
    if opt.mode == "single_point":
        point = parse_point(opt.point, pois, "--singlePoint")
        res = ev.result(_grid_point(grid, point, opt)) if grid is not None else ev.evaluate(point, adaptive=opt.cls_acc != 0)
        out("")
        out(" -- Hybrid New -- ")
        out(f"{'CLs' if opt.cls else 'Pmu'} = {cpp(res.value)} +/- {cpp(res.error)}")
        return [(res.value, res.error, quantile)], ev
    if opt.mode == "significance":
        point = parse_point(opt.point, pois, "--signalForSignificance")
        if grid is not None:
            res = ev.result(_grid_point(grid, point, opt), significance=True)
        else:
            res = ev.evaluate(point, adaptive=False, significance=True)
        p, perr = res.value, res.error
        sig = significance_from_pvalue(p)
        sig_hi = significance_from_pvalue(p - perr) - sig
        sig_lo = significance_from_pvalue(p + perr) - sig
        out("")
        out(" -- Hybrid New -- ")
        out(f"Significance: {cpp(sig)}  {cpp(sig_lo)}/+{cpp(sig_hi)}")
        out(f"Null p-value: {cpp(p)} +/- {cpp(perr)}")
        if opt.report_pvalue:
            return [(p, perr, -1.0)], ev
        return [(sig, max(sig_hi, -sig_lo), -1.0)], ev
    if opt.mode == "test_statistic":
        point = parse_point(opt.point, pois, "--singlePoint")
        res_q = _test_statistic(ev, point, significance=opt.point == "0" and opt.mode == "test_statistic")
        out("")
        out(" -- Hybrid New -- ")
        out(f"-2 ln Q_{{{opt.test_stat}}} = {cpp(res_q)}")
        return [(res_q, 0.0, quantile)], ev
    # the upper limit
    if len(pois) != 1:
        raise OptionError("HybridNew: Cannot run limits in more than one dimension, for the moment.")
    ir = session.poi_index
    lo, hi = float(session.state.lo[ir]), float(session.state.hi[ir])
    target = 1.0 - float(np.float32(opt.cl))
    poi = pois[0]

    def evaluate(r: float) -> tuple[float, float]:
        res = ev.evaluate({poi: r}, adaptive=True, target=target)
        return res.value, res.error

    if grid is not None:
        pts = []
        for test in grid:
            value, err = ev.value(test)
            pts.append((test.point[poi], value, err))
        if opt.fc:
            return _fc_interval(pts, target, poi, opt, out), ev
        search = limit_from_points(pts, target)
    else:
        search = find_limit(evaluate, lo, hi, target, _hint(session, data, opt), opt.r_abs_acc, opt.r_rel_acc,
                            opt.cls)
    if not math.isfinite(search.limit):
        raise ModelError(f"HybridNew: could not find where {'CLs' if opt.cls else 'Pmu'} crosses {target:g} for "
                         f"{poi} in [{lo:g}, {hi:g}] (values: " +
                         ", ".join(f"{r:g}: {v:.4g}" for r, v, _e in sorted(search.points)) + ")")
    if not search.converged:
        ev.warnings.append(f"the limit search stopped after {len(search.points)} points with an error of "
                           f"{search.error:.3g} above --rAbsAcc/--rRelAcc")
    out("")
    out(" -- Hybrid New -- ")
    cl_pct = cpp(float(np.float32(opt.cl)) * 100)
    out(f"Limit: {poi} < {cpp(search.limit)} +/- {cpp(search.error)} @ {cl_pct}% CL")
    return [(search.limit, search.error, quantile)], ev


def _fc_interval(points, target: float, poi: str, opt: HybridNewOptions, out) -> list[tuple[float, float, float]]:
    """Feldman-Cousins regions from a grid of Pmu values: the crossings, one tree row each
    (quantileExpected = the target), as Combine commits them."""
    crossings = interval_from_points(points, target)
    if not crossings:
        raise ModelError(f"HybridNew: Pmu does not cross {target:g} on the grid (values: " +
                         ", ".join(f"{r:g}: {v:.4g}" for r, v, _e in sorted(points)) + ")")
    out("")
    out(" -- HybridNew -- ")
    out(f"found {cpp(100 * float(np.float32(opt.cl)))} % confidence regions")
    inside_first = sorted(points)[0][1] > target
    bounds = ([(None, None)] if inside_first else []) + crossings
    if len(bounds) % 2:
        bounds.append((None, None))
    for (lo, elo), (hi, ehi) in zip(bounds[::2], bounds[1::2]):
        if lo is None:
            out(f" {poi} < {cpp(hi)} (+/- {cpp(ehi)}) ")
        elif hi is None:
            out(f" {poi} > {cpp(lo)} (+/- {cpp(elo)}) ")
        else:
            out(f"  {cpp(lo)} (+/- {cpp(elo)}) < {poi} < {cpp(hi)} (+/- {cpp(ehi)}) ")
    q = float(np.float32(target))
    return [(r, e, q) for r, e in crossings]


def _read_grid(session, ev: PointEvaluator, opt: HybridNewOptions):
    """The points of --grid (or --toysFile), with the data's statistic recomputed on this data and
    model unless --noUpdateGrid (then the one stored with the toys)."""
    path = opt.grid or str(getattr(session.opts, "toys_file", "") or "")
    tests = read_grid(path, list(session.pois))
    for test in tests:
        if not opt.no_update_grid or not np.isfinite(test.q_data):
            test.q_data, _ = ev.data_statistic(test.point, significance=opt.mode == "significance")
    return tests


def _grid_point(grid, point: dict[str, float], opt: HybridNewOptions):
    for test in grid:
        if all(abs(test.point[k] - v) <= 1e-9 * max(1.0, abs(v)) for k, v in point.items()):
            return test
    have = ", ".join(",".join(f"{k}={v:g}" for k, v in t.point.items()) for t in grid)
    raise OptionError(f"HybridNew: no results for {','.join(f'{k}={v:g}' for k, v in point.items())} in "
                      f"{opt.grid or 'the toys file'} (points: {have})")


def _test_statistic(ev: PointEvaluator, point: dict[str, float], significance: bool) -> float:
    """-2 ln Q of the data (twice our q, whose sign makes every statistic right-tailed)."""
    from .sampling import fit_hypotheses
    from .statistic import TestStatistic

    session = ev.session
    mu = float(point[session.pois[0]])
    hyp = fit_hypotheses(session, ev.data, ev.opt, mu)
    stat = TestStatistic(session, ev.bm, ev.opt.test_stat, 0.0 if significance else mu, hyp.sb, hyp.b)
    return 2.0 * float(stat.evaluate(ev.data.counts[None], ev.data.glob[None])[0])


def _notes(session) -> None:
    o = session.opts
    if getattr(o, "plot", ""):
        session.err(f"Note: HybridNew --plot {o.plot}: not supported by pycombine, no plot written")
    if (getattr(o, "adaptive_toys", -1.0) or -1.0) > 0:
        session.err("Note: HybridNew --adaptiveToys is not supported by pycombine: every point gets -T toys")
    if int(getattr(o, "fork", 0) or 0) > 1:
        session.err("Note: HybridNew --fork has no effect in pycombine: toys run on --parallel workers")


def run(session) -> int:
    _notes(session)
    data, i_toy = session.main_dataset()
    rows, ev = hybrid_new(session, data)
    for w in ev.warnings:
        session.err(f"Warning: HybridNew: {w}")
    tree = session.limit_tree()
    for limit, err, q in rows:
        tree.add(limit, err, q, i_toy)
    if ev.opt.save_hybrid_result:
        tree.toys = {tree_name(t, session.opts.mass): columns(t) for t in ev.tests}
    sys.stdout.flush()
    tree.write(session.output_filename())
    return 0


def run_toy(session, data, i_toy: int, generation, first: bool) -> ToyOutcome:
    """One toy dataset analysed as if it were the data (e.g. expected limits from toys)."""
    rows, ev = hybrid_new(session, data, seed=int(session.opts.seed) * 1000003 + i_toy)
    for w in ev.warnings:
        session.err(f"Warning: HybridNew: {w}")
    out = [limit_row(v, e, q, i_toy) for v, e, q in rows]
    final = [r for r in out if r.quantile == -1.0] or out
    return ToyOutcome(i_toy, out, [], counted=bool(final), limit=final[-1].limit if final else 0.0)

