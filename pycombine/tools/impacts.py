"""Nuisance-parameter impacts: what ``combineTool.py -M Impacts`` computes (spec §5.7).

combineTool runs one ``combine -M MultiDimFit --algo singles`` for the POI intervals and then,
for every floating non-POI parameter θ of the model, one ``combine -M MultiDimFit --algo
impact -P θ --floatOtherPOIs 1``: the 68 % crossings ``[θ_lo, θ_hi]`` of the NLL profiled in θ
(everything else floating) and two more fits with θ fixed at each crossing, whose POI values
give the impact ``max(|poi(θ_hi) - poi_best|, |poi(θ_lo) - poi_best|)``. The results are
collected in ``impacts.json``.

Here the same quantities are computed in one process, without redoing work:

* the model is built and fitted once (the initial fit, with the POI intervals of
  ``--algo singles``: :func:`pycombine.methods.multidimfit.multidimfit`);
* the Hessian of the NLL in *all* floating parameters (Barlow-Beeston-lite ones included) at
  the best fit gives, for each θ, the linear prediction of every other parameter along the
  profile, ``x(θ) ≈ x̂ + Cov[:, θ] / Cov[θ, θ] · (θ - θ̂)``. Every profile fit starts there (or
  from the nearest point already profiled, shifted the same way), so Migrad needs few steps,
  and Migrad is given that Hessian (fixed parameter removed, analytic Barlow-Beeston ones
  integrated out) instead of recomputing it numerically for every fit (:class:`WarmFitter`);
  because such a start is already within Combine's EDM goal, these fits use a 100 times
  tighter goal so that they end as converged as Combine's (:func:`_profile_minimizer`);
* the crossing is solved on ``g(θ) = sign(q)·sqrt(2q)``, ``q = NLL_prof(θ) - NLL_min``, which is
  linear in θ for a Gaussian profile: the first guess ``θ̂ ± sqrt(2δ)·σ_θ`` is usually within a
  fraction of a percent, and secant steps (kept inside the bracket once there is one) finish it;
* the profile fit at the crossing already holds the POI values there, so the two extra fits
  combineTool makes per parameter are not needed;
* parameters are independent tasks for :func:`pycombine.parallel.run_tasks` (process pool or
  Dask); each task builds its own fitter, so results do not depend on the scheduling.

Level of the crossings: with ``--robustFit 1`` Combine's crossing search uses ΔNLL = 0.494473
(68 % of χ²₁); without it Minos runs at the minimiser's error level, which is 0.5 for shape
cards and 0.494473 for counting cards (:func:`pycombine.methods.multidimfit.minos_delta`). When
the profile stays below the level up to the end of θ's range, Minos reports the range end while
the robust search gives up and Combine reports no shift (θ_lo = θ̂ or θ_hi = θ̂); both are kept.

``--approx hesse`` takes everything from the covariance of the best fit instead
(``θ̂ ∓ σ_θ``, POI shifts ``∓ Cov[poi, θ] / σ_θ``), as combineTool's ``--approx hesse`` does
from the fit's RooFitResult.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ModelError, OptionError
from ..fit.minimize import Fitter
from ..fit.scan import DELTA_NLL_68, Profiler
from ..fit.warm import WarmFitter, full_hessian

#: combineTool's ``type`` of a parameter, from the class of its constraint pdf
TYPE_BY_CONSTRAINT = {
    "gauss": "Gaussian",
    "bifur": "AsymmetricGaussian",
    "poisson": "Poisson",
    "none": "Unconstrained",
    "uniform": "Unconstrained",  # RooUniform counts as unconstrained in utils.prefit_from_workspace
}


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


# ---------------------------------------------------------------------------------------- results
@dataclass
class ParamImpact:
    """One parameter's entry of impacts.json."""

    name: str
    type: str
    prefit: list[float]
    groups: list[str]
    fit: list[float] | None = None  # [θ_lo, θ̂, θ_hi]
    pois: dict[str, list[float]] = field(default_factory=dict)  # poi -> [at θ_lo, best, at θ_hi]
    ok: bool = True
    nfits: int = 0
    at_limit: tuple[bool, bool] = (False, False)

    def impact(self, poi: str) -> float:
        lo, best, hi = self.pois[poi]
        return max(abs(hi - best), abs(lo - best))

    def to_json(self) -> dict:
        d: dict[str, Any] = {"name": self.name, "type": self.type, "prefit": list(self.prefit),
                             "groups": list(self.groups)}
        if self.fit is not None:
            d["fit"] = list(self.fit)
            for p, v in self.pois.items():
                d[p] = list(v)
                d["impact_" + p] = self.impact(p)
        return d


@dataclass
class ImpactsResult:
    """Everything ``pycombine impacts`` computed; :meth:`to_json` is combineTool's layout."""

    pois: list[str]
    poi_fits: dict[str, list[float]]  # poi -> [lo, best, hi]
    params: list[ParamImpact]
    method: str  # "default" or "hesse"
    missing: list[str] = field(default_factory=list)
    best: dict[str, float] = field(default_factory=dict)  # all parameters at the best fit
    seconds: float = 0.0
    nfits: int = 0

    def to_json(self) -> dict:
        return {
            "POIs": [{"name": p, "fit": list(self.poi_fits[p])} for p in self.pois],
            "method": self.method,
            "params": [p.to_json() for p in self.params if p.ok],
        }

    def dumps(self) -> str:
        """The text combineTool writes (sorted keys, indent 2, no trailing newline)."""
        return dumps(self.to_json())


def dumps(data: dict) -> str:
    return json.dumps(data, sort_keys=True, indent=2, separators=(",", ": "))


def write_json(path: str, result: ImpactsResult | dict) -> None:
    """Write impacts.json atomically."""
    text = result.dumps() if isinstance(result, ImpactsResult) else dumps(result)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _f32(x: float) -> float:
    """Combine's limit-tree branches are floats: combineTool reads float32 values."""
    return float(np.float32(x))


# ---------------------------------------------------------------------------------------- parameters
def impact_parameters(session, named: list[str] | None = None, exclude: list[str] | tuple = ()) -> list[str]:
    """The parameters combineTool would run: every floating non-POI parameter, sorted by name.

    combineTool lists ``pdf.getParameters(observables)`` (ROOT returns them sorted by name)
    without the POIs and the constant ones; here "constant" is taken after the run-time options
    (--freezeParameters etc.), so frozen parameters are left out instead of giving empty fits.
    ``exclude`` items are names or ``rgx{pattern}`` (``re.search``, as combineTool); an item that
    is not a parameter name is also used as a pattern.
    """
    m = session.model
    spec = session.spec
    pois = set(session.pois)
    if named:
        names = []
        for n in named:
            if n not in m.index:
                raise OptionError(f"--named: no parameter called {n!r} in the model")
            i = m.index[n]
            if n in pois:
                raise OptionError(f"--named: {n} is a parameter of interest")
            if session.state.frozen[i]:
                raise OptionError(f"--named: {n} is frozen")
            names.append(n)
    else:
        names = sorted(
            (n for i, n in enumerate(m.names)
             if n not in pois and not session.state.frozen[i] and spec.parameters[n].kind != "mass"),
            key=lambda s: s.encode(),
        )
    drop: set[str] = set()
    for item in exclude:
        item = item.strip()
        if not item:
            continue
        if "rgx{" in item:
            pattern = item.replace("'rgx{", "").replace("}'", "").replace("rgx{", "").replace("}", "")
        elif item in m.index:
            drop.add(item)
            continue
        else:
            pattern = item
        try:
            rx = re.compile(pattern)
        except re.error as e:
            raise OptionError(f"--exclude: bad pattern {pattern!r}: {e}") from None
        drop.update(n for n in names if rx.search(n))
    return [n for n in names if n not in drop]


def prefit_info(session, names: list[str]) -> dict[str, dict]:
    """``type``, ``prefit`` and ``groups`` of each parameter (``utils.prefit_from_workspace``).

    combineTool fits the constraint pdf alone and runs Minos at ΔNLL = 0.5: for a Gaussian that
    is the mean ± sigma, for a bifurcated Gaussian mean - sigma_lo / + sigma_hi; other
    constraints (Poisson of gmN and per-process bin statistics, gamma, ...) are solved
    numerically. Unconstrained parameters get their current value three times.
    """
    m = session.model
    out: dict[str, dict] = {}
    for n in names:
        p = session.spec.parameters[n]
        i = m.index[n]
        kind = p.constraint
        ptype = TYPE_BY_CONSTRAINT.get(kind, "Unrecognised")
        # the workspace range (combineTool reads the workspace, not the run-time ranges); Minos
        # reports a crossing beyond it at the range end
        lo_r, hi_r = float(m.lo[i]), float(m.hi[i])
        if kind == "gauss":
            prefit = [max(p.glob - p.sigma, lo_r), p.glob, min(p.glob + p.sigma, hi_r)]
        elif kind == "bifur":
            prefit = [max(p.glob - p.sigma_lo, lo_r), p.glob, min(p.glob + p.sigma_hi, hi_r)]
        elif kind in ("none", "uniform"):
            v = float(session.state.values[i])
            prefit = [v, v, v]
        else:
            prefit = _constraint_minos(session, i)
        # groups are the variable's group_<name> attributes (a std::set: sorted); the autoMCStats
        # group is a workspace set, not an attribute, so combineTool does not list it
        groups = sorted(g for g in p.groups if not (g == "autoMCStats" and p.kind == "bb"))
        out[n] = {"type": ptype, "prefit": [float(x) for x in prefit], "groups": groups}
    return out


def _constraint_minos(session, i: int) -> list[float]:
    """Minimum and ΔNLL = 0.5 crossings of one parameter's constraint term alone (within its
    range; a crossing beyond the range is reported at the range end, as Minos does)."""
    from scipy.optimize import minimize_scalar

    from ..fit.roots import brent_root as brentq
    from ..model.likelihood import Dataset, Likelihood

    m = session.model
    lo, hi = float(m.lo[i]), float(m.hi[i])
    # the constraint terms at the nominal global observables; only parameter i varies, so the
    # other terms are a constant
    lik = Likelihood(m, Dataset(np.zeros(m.B), m.glob0.copy()), analytic_bb=False)
    base = session.state.values.copy()

    def c(x: float) -> float:
        v = base.copy()
        v[i] = x
        val = lik._constraints(v, False)[0]
        return val if math.isfinite(val) else 1e300

    g = float(m.glob0[i]) if math.isfinite(m.glob0[i]) else float(base[i])
    width = max(abs(g), 1.0) * 100.0
    a = lo if math.isfinite(lo) else g - width
    b = hi if math.isfinite(hi) else g + width
    p = session.spec.parameters[m.names[i]]
    if p.constraint == "poisson" and p.glob > 0 and a <= p.glob <= b:
        x0 = float(p.glob)  # -ln Poisson(N; x) is smallest at x = N
    else:
        x0 = float(minimize_scalar(c, bounds=(a, b), method="bounded", options={"xatol": 1e-10}).x)
    for edge in (a, b):  # a minimum on the range edge (gmN 0: the Poisson peaks at 0)
        if c(edge) < c(x0):
            x0 = edge
    f0 = c(x0)

    def side(end: float) -> float:
        if abs(end - x0) < 1e-12 or c(end) - f0 < 0.5:
            return end
        return float(brentq(lambda x: c(x) - f0 - 0.5, min(x0, end), max(x0, end), xtol=1e-10))

    return [side(a), x0, side(b)]


# ---------------------------------------------------------------------------------------- covariance
def covariance(H: np.ndarray, floating: np.ndarray) -> np.ndarray:
    """H⁻¹ on the floating parameters (errordef 0.5: the covariance of the NLL's minimum).

    A matrix that is not positive definite (a flat direction) is inverted on its positive
    eigenspace, roughly what Minuit does when it forces a matrix positive definite.
    """
    idx = np.nonzero(floating)[0]
    cov = np.zeros_like(H)
    if idx.size == 0:
        return cov
    w, V = np.linalg.eigh(H[np.ix_(idx, idx)])
    w = np.where(w > 1e-12 * max(float(w.max()), 1e-300), w, np.inf)
    cov[np.ix_(idx, idx)] = (V / w) @ V.T
    return cov


def full_covariance(model, data, values: np.ndarray, floating: np.ndarray) -> np.ndarray:
    """Covariance (P, P) of the NLL in every floating parameter, BB-lite ones included."""
    return covariance(full_hessian(model, data, values, floating), floating)


# ---------------------------------------------------------------------------------------- crossings
@dataclass
class Crossing:
    """One end of a parameter's 68 % interval and the profile fit there."""

    x: float
    values: np.ndarray
    ok: bool
    at_limit: bool
    nfits: int


def solve_crossing(prof, index: int, best: np.ndarray, nll_best: float, delta: float, bound: float,
                   slope: np.ndarray, sigma: float, ftol: float = 1e-4, max_fits: int = 30) -> Crossing:
    """Where the NLL profiled in parameter ``index`` rises by ``delta``, between θ̂ and ``bound``.

    Solves ``g(x) = sqrt(2 δ)`` with ``g = sign(q) sqrt(2|q|)``, ``q`` the profiled NLL minus
    ``nll_best``: first at ``θ̂ ± sqrt(2δ) σ`` (exact for a Gaussian profile), then by secant
    steps, extrapolating outwards (at most ×3 per step) until the level is bracketed and staying
    inside the bracket afterwards. Each fit starts from the nearest profiled point moved along
    ``slope`` (``Cov[:, θ] / Cov[θ, θ]``). Stops when ``|q - δ| < ftol``; the returned values are
    those of the profile fit at ``x``. When the profile stays below the level up to ``bound``,
    returns ``bound`` with ``at_limit``.
    """
    x0 = float(best[index])
    if not math.isfinite(x0) or bound == x0:
        return Crossing(x0, best.copy(), True, True, 0)
    d = 1.0 if bound > x0 else -1.0
    t = math.sqrt(2.0 * delta)
    span = abs(bound - x0)
    s = sigma if (math.isfinite(sigma) and sigma > 0) else (0.1 * span if math.isfinite(span) else 1.0)
    pts: list[tuple[float, float, float, np.ndarray, bool]] = [(x0, 0.0, 0.0, best, True)]  # x, g, q, values, ok
    nfits = 0

    def evaluate(x: float):
        nonlocal nfits
        near = min((p for p in pts if p[4]), key=lambda p: abs(p[0] - x))
        start = near[3] + slope * (x - near[0])
        p = prof.minimize(start, {index: x})
        nfits += 1
        if not p.ok:
            # a poor warm start should not end the search: retry from the best fit
            p2 = prof.minimize(best, {index: x})
            nfits += 1
            if p2.ok or p2.nll < p.nll:
                p = p2
        q = p.nll - nll_best
        good = math.isfinite(q) and abs(q) < 1e8
        g = math.copysign(math.sqrt(2.0 * abs(q)), q) if good else math.inf
        pts.append((x, g, q, p.values, good))
        return g, q, p.values, good

    lo = (x0, 0.0)  # last point below the level
    hi = None  # last point above it
    prev = (x0, 0.0)
    x = x0 + d * t * s
    closest = None
    bad = 0
    while nfits < max_fits:
        if d * (x - bound) >= 0:
            x = bound
        g, q, vals, good = evaluate(x)
        if not good:
            # the NLL is not defined there (e.g. a yield went negative): come back halfway
            bad += 1
            if bad >= 5:
                break
            x = lo[0] + 0.5 * (x - lo[0])
            continue
        if closest is None or abs(q - delta) < abs(closest[2] - delta):
            closest = (x, g, q, vals)
        if abs(q - delta) < ftol:
            return Crossing(float(x), vals.copy(), True, False, nfits)
        if g < t:
            if x == bound:
                return Crossing(float(bound), vals.copy(), True, True, nfits)
            lo = (x, g)
        else:
            hi = (x, g)
        xn = x + (t - g) * (x - prev[0]) / (g - prev[1]) if g != prev[1] else math.nan
        if hi is None:
            # not bracketed yet: step outwards (the profile is rising more slowly than a parabola)
            dist = abs(x - x0)
            if not math.isfinite(xn) or d * (xn - x) <= 0:
                xn = x0 + d * 2.0 * dist
            xn = x0 + d * min(abs(xn - x0), 3.0 * dist)
        else:
            a, b = sorted((lo[0], hi[0]))
            if not (math.isfinite(xn) and a < xn < b):
                # false position between the bracket ends
                xn = lo[0] + (t - lo[1]) * (hi[0] - lo[0]) / (hi[1] - lo[1])
            if b - a < 1e-9 * max(s, 1e-12):
                break
        prev = (x, g)
        x = xn
    if closest is not None and abs(closest[2] - delta) < max(50 * ftol, 0.01):
        return Crossing(float(closest[0]), closest[3].copy(), True, False, nfits)
    return Crossing(math.nan, best.copy(), False, False, nfits)


# ---------------------------------------------------------------------------------------- tasks
@dataclass
class _Context:
    """What a worker needs for the per-parameter fits (picklable, sent once per worker)."""

    model: Any
    data: Any
    state: Any  # ParameterState: ranges, frozen flags
    minimizer: Any
    analytic_bb: bool
    best: np.ndarray
    hessian: np.ndarray  # (P, P) at the best fit, all floating parameters
    cov: np.ndarray
    delta: float
    robust: bool
    poi_idx: list[int]
    ftol: float
    max_fits: int


#: contexts by key: set before a process pool forks (workers inherit it), or unpickled once per
#: Dask worker from the blob that comes with the tasks
_CONTEXTS: dict[str, _Context] = {}


def _context(key: str, blob: bytes | None) -> _Context:
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


def parameter_impact(ctx: _Context, i: int) -> dict:
    """[θ_lo, θ̂, θ_hi] and the POIs at those points, for parameter index ``i``."""
    m = ctx.model
    state = ctx.state.copy()
    # MultiDimFit -P θ keeps θ's range (optimizeBounds is dropped for it), the others lose theirs
    fitter = WarmFitter(m, ctx.data, ctx.minimizer, remove_bounds=True, analytic_bb=ctx.analytic_bb, keep_range=[i],
                        hessian=ctx.hessian, floating=~state.frozen)
    prof = Profiler(fitter, state)
    best = ctx.best.copy()
    lo_b, hi_b = float(state.lo[i]), float(state.hi[i])
    nfits = 0
    if not (lo_b <= best[i] <= hi_b):
        # θ̂ of the unbounded fit lies outside θ's own range: that run's best fit is at the edge
        best[i] = min(max(best[i], lo_b), hi_b)
        p = prof.minimize(best)
        nfits += 1
        best = p.values.copy()
    nll_best = prof.nll(best)
    var = float(ctx.cov[i, i])
    sigma = math.sqrt(var) if var > 0 else math.nan
    slope = np.nan_to_num(ctx.cov[:, i] / var) if var > 0 else np.zeros(m.P)
    out = {"ok": True, "fit": None, "pois": None, "at_limit": [False, False]}
    ends = []
    for side, bound in enumerate((lo_b, hi_b)):
        c = solve_crossing(prof, i, best, nll_best, ctx.delta, bound, slope, sigma, ctx.ftol, ctx.max_fits)
        nfits += c.nfits
        if not c.ok:
            out["ok"] = False
            ends.append((math.nan, best))
            continue
        if c.at_limit and ctx.robust:
            # Combine's robust search returns nan at the range end: no error, θ stays at θ̂
            ends.append((float(best[i]), best))
        else:
            ends.append((c.x, c.values))
        out["at_limit"][side] = c.at_limit
    (x_lo, v_lo), (x_hi, v_hi) = ends
    out["fit"] = [x_lo, float(best[i]), x_hi]
    out["pois"] = [[float(v_lo[j]), float(best[j]), float(v_hi[j])] for j in ctx.poi_idx]
    out["nfits"] = nfits
    return out


def _hesse_impact(cov: np.ndarray, best: np.ndarray, i: int, poi_idx: list[int]) -> dict:
    """combineTool's ``--approx hesse`` (utils.get_roofitresult): shifts from correlations."""
    s = math.sqrt(max(float(cov[i, i]), 0.0))
    fit = [best[i] - s, best[i], best[i] + s]
    pois = []
    for j in poi_idx:
        shift = float(cov[j, i]) / s if s > 0 else 0.0
        pois.append([best[j] - shift, best[j], best[j] + shift])
    return {"ok": True, "fit": [float(x) for x in fit], "pois": [[float(x) for x in p] for p in pois],
            "nfits": 0, "at_limit": [False, False]}


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
    from ..methods.multidimfit import MultiDimFitConfig, minos_delta, multidimfit
    from ..run.parallel import run_tasks

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
        raw = [_hesse_impact(cov, best, m.index[n], poi_idx) for n in names]
    else:
        ctx = _Context(
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


def summary_lines(result: ImpactsResult) -> list[str]:
    """A table like MultiDimFit's ``--algo impact`` lines, one per parameter."""
    width = max([9] + [len(p.name) for p in result.params])
    head = f"  {'Parameter':<{width}} :   {'Best-fit':<21}" + "".join(f"  {p:<13}" for p in result.pois)
    lines = [head]
    for p in result.params:
        if not p.ok:
            lines.append(f"  {p.name:<{width}} :   fit failed")
            continue
        lo, b, hi = p.fit
        line = f"  {p.name:<{width}} : {b:+8.3f}  {lo - b:+6.3f}/{hi - b:+6.3f}"
        for poi in result.pois:
            plo, pb, phi = p.pois[poi]
            line += f"  {plo - pb:+6.3f}/{phi - pb:+6.3f}"
        lines.append(line)
    return lines


# ---------------------------------------------------------------------------------------- command
def run(opts, options: ImpactsOptions, output: str | None = "impacts.json", plot: str | None = None,
        plot_per_page: int = 30, out: Callable[[str], None] = print) -> int:
    """``pycombine impacts``: load the card, compute, write impacts.json (and the plot)."""
    from ..run.loading import load
    from ..run.options import datacard_path
    from ..run.session import Session

    t0 = time.perf_counter()
    path = datacard_path(opts)
    _card, spec = load(path, opts)
    session = Session(spec, opts, out=out)
    result = impacts(session, options=options, out=out)
    for line in summary_lines(result):
        out(line)
    if output:
        write_json(output, result)
        out(f"Wrote {output}")
    if result.missing:
        out("Missing inputs: " + ",".join(result.missing))
    if plot:
        from ..plots.impacts import plot_impacts

        try:
            plot_impacts(result.to_json(), plot, per_page=plot_per_page)
            out(f"Wrote {plot}")
        except ImportError:
            sys.stderr.write("Warning: --plot needs matplotlib: pip install 'pycombine[plot]'\n")
    wall = time.perf_counter() - t0
    n = len(result.params)
    out(f"Impacts of {n} parameters: {result.nfits} profile fits, {result.seconds:.2f} s "
        f"({wall:.2f} s including model building)")
    return 0
