"""One parameter's impact: profile fits to its 68 % crossings, or the Hesse shortcut.

:func:`parameter_impact` finds both crossings of the NLL profiled in θ with :func:`solve_crossing`
and takes the POI values from the profile fits there; it needs only a :class:`ProfileContext`
(picklable), so parameters can be run as independent tasks in any process.

Level of the crossings: with ``--robustFit 1`` Combine's crossing search uses ΔNLL = 0.494473
(68 % of χ²₁); without it Minos runs at the minimiser's error level, which is 0.5 for shape
cards and 0.494473 for counting cards (:func:`pycombine.methods.multidimfit.minos_delta`). When
the profile stays below the level up to the end of θ's range, Minos reports the range end while
the robust search gives up and Combine reports no shift (θ_lo = θ̂ or θ_hi = θ̂); both are kept.

``--approx hesse`` takes everything from the covariance of the best fit instead
(``θ̂ ∓ σ_θ``, POI shifts ``∓ Cov[poi, θ] / σ_θ``), as combineTool's ``--approx hesse`` does
from the fit's RooFitResult (:func:`hesse_impact`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...fit.scan import Profiler
from ...fit.warm import WarmFitter, full_hessian

__all__ = ["Crossing", "ProfileContext", "covariance", "full_covariance", "hesse_impact", "parameter_impact",
           "solve_crossing"]


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


# ---------------------------------------------------------------------------------------- one parameter
@dataclass
class ProfileContext:
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


def parameter_impact(ctx: ProfileContext, i: int) -> dict:
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


def hesse_impact(cov: np.ndarray, best: np.ndarray, i: int, poi_idx: list[int]) -> dict:
    """combineTool's ``--approx hesse`` (utils.get_roofitresult): shifts from correlations."""
    s = math.sqrt(max(float(cov[i, i]), 0.0))
    fit = [best[i] - s, best[i], best[i] + s]
    pois = []
    for j in poi_idx:
        shift = float(cov[j, i]) / s if s > 0 else 0.0
        pois.append([best[j] - shift, best[j], best[j] + shift])
    return {"ok": True, "fit": [float(x) for x in fit], "pois": [[float(x) for x in p] for p in pois],
            "nfits": 0, "at_limit": [False, False]}
