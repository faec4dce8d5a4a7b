"""The driver of ``pycombine impacts``: the initial fit, then every parameter as a parallel task.

:func:`impacts` fits the model once (combineTool's ``--doInitialFit``), computes the Hessian and
covariance at the best fit, and runs :func:`.profile.parameter_impact` for every parameter
(combineTool's ``--doFits``) through :func:`pycombine.run.parallel.run_tasks`: a process pool
inherits the :class:`~.profile.ProfileContext` when it forks, Dask workers unpickle it once.
"""

from __future__ import annotations

import math
import pickle
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import ModelError, OptionError
from ...fit.minimize import Fitter
from ...fit.scan import DELTA_NLL_68, Profiler
from ...fit.warm import full_hessian
from .parameters import impact_parameters, prefit_info
from .profile import ProfileContext, covariance, hesse_impact, parameter_impact
from .result import ImpactsResult, ParamImpact

__all__ = ["ImpactsOptions", "impacts"]


# ---------------------------------------------------------------------------------------- options
@dataclass
class ImpactsOptions:
    """What ``pycombine impacts`` adds to the combine run-time options."""

    approx: str | None = None  # None (profile fits) or "hesse"
    named: list[str] | None = None  # --named: only these parameters
    exclude: list[str] = field(default_factory=list)  # --exclude: names or rgx{...} patterns
    parallel: int | None = 1  # worker processes (None: one per core)
    dask_scheduler: Any = None  # "tcp://...", "local" or a distributed.Client
    crossing_tolerance: float = 1e-4  # |ΔNLL - level| accepted at a crossing
    #: Migrad tolerance of the per-parameter profile fits (None: the run's, 0.1 by default, x 0.01)
    profile_tolerance: float | None = None
    max_fits: int = 30  # profile fits per crossing before giving up


# ---------------------------------------------------------------------------------------- tasks
#: contexts by key: set before a process pool forks (workers inherit it), or unpickled once per
#: Dask worker from the blob that comes with the tasks
_CONTEXTS: dict[str, ProfileContext] = {}


def _context(key: str, blob: bytes | None) -> ProfileContext:
    ctx = _CONTEXTS.get(key)
    if ctx is None:
        if blob is None:
            raise RuntimeError("impacts: worker has no context")
        ctx = pickle.loads(blob)
        _CONTEXTS[key] = ctx
    return ctx


def _impact_task(task: tuple[str, bytes | None, str, int]) -> dict:
    """One parameter: both crossings and the POI values there (module level for pickling)."""
    key, blob, _name, index = task
    return parameter_impact(_context(key, blob), index)


def _f32(x: float) -> float:
    """Combine's limit-tree branches are floats: combineTool reads float32 values."""
    return float(np.float32(x))


# ---------------------------------------------------------------------------------------- driver
def _profile_minimizer(base, options: ImpactsOptions):
    """Minimiser settings of the per-parameter fits.

    Combine starts each of them from the best-fit snapshot with θ moved by about one sigma, so
    Migrad iterates and ends well below its EDM goal (0.002 * tolerance * 0.5). Started from the
    linear prediction, Migrad is within that goal at once and would stop with the POI off by up
    to sqrt(2 EDM) sigma_POI (0.7 % of sigma for tolerance 0.1), which is as large as the small
    impacts; a goal 100 times tighter gives converged profiles for one or two extra iterations.
    """
    from dataclasses import replace

    tol = options.profile_tolerance if options.profile_tolerance is not None else 0.01 * base.tolerance
    return replace(base, tolerance=tol)


def impacts(session, data=None, options: ImpactsOptions | None = None,
            out: Callable[[str], None] | None = None) -> ImpactsResult:
    """Impacts of every floating non-POI parameter on the POIs of ``session`` for ``data``.

    ``data`` defaults to the session's main dataset (observed, or Asimov for ``-t -1``).
    """
    from ...methods.multidimfit import MultiDimFitConfig, minos_delta, multidimfit
    from ...run.parallel import run_tasks

    options = options or ImpactsOptions()
    say = out or (lambda line: None)
    t0 = time.perf_counter()
    m = session.model
    opts = session.opts
    pois = list(session.pois)
    poi_idx = [m.index[p] for p in pois]
    robust = bool(getattr(opts, "robust_fit", False))
    if options.approx not in (None, "hesse"):
        raise OptionError(f"--approx {options.approx}: only 'hesse' is supported")
    say(f"Have POIs: {pois}")
    names = impact_parameters(session, options.named, options.exclude)
    # pre-fit values from the clean state (a --toysFrequentist Asimov moves it to the post-fit)
    prefit = prefit_info(session, names)
    if data is None:
        data, _ = session.main_dataset()
    state = session.state.copy()
    for i in poi_idx:
        state.frozen[i] = False

    # ---- the initial fit (combineTool --doInitialFit: MultiDimFit --algo singles)
    if options.approx is None:
        cfg = MultiDimFitConfig.from_options(opts)
        cfg.algo, cfg.pois, cfg.float_other_pois = "singles", pois, False
        cfg.save_specified_nuis, cfg.save_inactive_poi, cfg.skip_initial_fit = "", False, False
        cfg.auto_range = cfg.centered_range = None
        res = multidimfit(session, data, cfg)
        if not res.fit_ok or res.best_fit is None:
            raise ModelError("impacts: the initial fit failed")
        for line in res.lines:
            if line.startswith("   "):  # the "   r :  +1.048  -0.498/+0.506 (68%)" lines
                say("Initial fit:" + line[2:])
            elif line.startswith(" Warning"):
                say(line)
        best = np.array([res.best_fit[n] for n in m.names], dtype=float)
        poi_fits = {}
        for k, p in enumerate(pois):
            rows = res.rows
            poi_fits[p] = [_f32(rows[1 + 2 * k][1][p]), _f32(rows[0][1][p]), _f32(rows[2 + 2 * k][1][p])]
    else:
        fitter = Fitter(m, data, session.minimizer, remove_bounds=True, analytic_bb=session.analytic_bb)
        p = Profiler(fitter, state).minimize(state.values)
        if not p.ok:
            raise ModelError("impacts: the fit failed")
        best = p.values.copy()
        poi_fits = {}
    floating = ~state.frozen
    hess = full_hessian(m, data, best, floating, state.lo, state.hi)
    cov = covariance(hess, floating)
    if options.approx == "hesse":
        for p, j in zip(pois, poi_idx):
            s = math.sqrt(max(cov[j, j], 0.0))
            poi_fits[p] = [float(best[j] - s), float(best[j]), float(best[j] + s)]
            say(f"Fit: {p} = {best[j]:+.3f} +/- {s:.3f} (Hesse)")
    say(f"Have parameters: {len(names)}")

    # ---- the per-parameter fits (combineTool --doFits: MultiDimFit --algo impact -P θ)
    if options.approx == "hesse":
        raw = [hesse_impact(cov, best, m.index[n], poi_idx) for n in names]
    else:
        ctx = ProfileContext(
            model=m, data=data, state=state, minimizer=_profile_minimizer(session.minimizer, options),
            analytic_bb=session.analytic_bb, best=best, hessian=hess, cov=cov,
            delta=(DELTA_NLL_68 if robust else minos_delta(session)), robust=robust, poi_idx=poi_idx,
            ftol=options.crossing_tolerance, max_fits=options.max_fits,
        )
        key = uuid.uuid4().hex
        blob = pickle.dumps(ctx) if options.dask_scheduler is not None else None
        _CONTEXTS[key] = ctx
        try:
            tasks = [(key, blob, n, m.index[n]) for n in names]
            raw = run_tasks(_impact_task, tasks, parallel=options.parallel, dask_scheduler=options.dask_scheduler,
                            progress="impacts")
        finally:
            _CONTEXTS.pop(key, None)

    f = _f32 if options.approx is None else float
    params = []
    missing = []
    nfits = 0
    for n, r in zip(names, raw):
        info = prefit[n]
        pi = ParamImpact(n, info["type"], info["prefit"], info["groups"], ok=bool(r["ok"]), nfits=r["nfits"],
                         at_limit=tuple(r["at_limit"]))
        nfits += r["nfits"]
        if r["ok"]:
            pi.fit = [f(x) for x in r["fit"]]
            pi.pois = {p: [f(x) for x in v] for p, v in zip(pois, r["pois"])}
        else:
            missing.append(n)
        params.append(pi)
    result = ImpactsResult(pois, poi_fits, params, "hesse" if options.approx == "hesse" else "default", missing,
                           session.values_dict(best), time.perf_counter() - t0, nfits)
    return result
