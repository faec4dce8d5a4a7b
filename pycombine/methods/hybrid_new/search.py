"""The HybridNew upper limit: the POI value where CLs (or CLs+b) crosses 1 - CL.

Combine brackets the crossing, interpolates log CLs between the bracket ends (``logSecant``) and
finally fits ``target * exp(b (r - r0))`` to the points near the crossing. pycombine does the
fit from the start, which uses every toy thrown:

1. the first point is the asymptotic limit of the same quantity (observed, or the requested
   expected quantile), a good guess that costs a fraction of a second; points are then added
   in steps of 40 % until the crossing is bracketed;
2. ln CLs is fitted by weighted least squares with a straight line in r through the points
   around the crossing (their toy errors as weights); the crossing and its standard error come
   from the fit;
3. the next point goes to the estimated crossing, toys being added there until CLs is known to
   --clsAcc or lies three errors away from the target; the search stops when the error on the
   crossing is below max(--rAbsAcc, --rRelAcc x limit).

The reported error is the fit's statistical error, which is what Combine's ``limitErr`` means;
unlike Combine's stopping rule (its issue #1232) the search does not stop before that error is
reached, unless the toy or point budget ends it (a warning then says so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: at most this many points in one limit search
MAX_POINTS = 24
STEP = 1.4


@dataclass
class LimitSearch:
    limit: float = math.nan
    error: float = math.nan
    points: list[tuple[float, float, float]] = field(default_factory=list)  # (r, value, error)
    converged: bool = False


def _fit(points, target: float) -> tuple[float, float] | None:
    """Crossing of a straight line in (r, ln value) through the points, and its error."""
    pts = [(r, v, e) for r, v, e in points if v > 0 and e > 0]
    if len(pts) < 2:
        return None
    r = np.array([p[0] for p in pts])
    y = np.log([p[1] for p in pts])
    sy = np.array([max(p[2] / p[1], 1e-6) for p in pts])
    w = 1.0 / sy**2
    r0 = float(np.average(r, weights=w))
    X = np.stack([np.ones_like(r), r - r0], axis=1)
    A = X.T @ (w[:, None] * X)
    try:
        cov = np.linalg.inv(A)
    except np.linalg.LinAlgError:
        return None
    a, b = cov @ (X.T @ (w * y))
    if not b < 0:
        return None
    lt = math.log(target)
    x = r0 + (lt - a) / b
    grad = np.array([-1.0 / b, -(lt - a) / b**2])
    err = math.sqrt(max(float(grad @ cov @ grad), 0.0))
    return float(x), err


def _window(points, estimate: float, target: float):
    """The points used for the fit: the nearest ones on each side of the crossing, then others near
    the estimate (ln CLs is straight only near the crossing)."""
    ordered = sorted(points, key=lambda p: p[0])
    above = [p for p in ordered if p[1] >= target]
    below = [p for p in ordered if p[1] < target]
    chosen = above[-2:] + below[:2]
    span = max(0.35 * abs(estimate), 1e-9)
    chosen += [p for p in ordered if abs(p[0] - estimate) <= span and p not in chosen]
    return chosen


def find_limit(evaluate, lo: float, hi: float, target: float, guess: float | None, r_abs: float, r_rel: float,
               cls: bool) -> LimitSearch:
    """``evaluate(r) -> (value, error)`` with adaptive toys; returns the crossing of ``target``."""
    res = LimitSearch()
    pts = res.points

    def add(r: float) -> tuple[float, float]:
        v, e = evaluate(r)
        pts.append((r, v, e))
        return v, e

    span = hi - lo
    r = guess if guess is not None and lo < guess < hi and math.isfinite(guess) else lo + 0.5 * span
    v, e = add(r)
    # bracket the crossing: CLs decreases with r
    up = v > target
    for _ in range(12):
        if any(p[1] - 2 * p[2] > target for p in pts) and any(p[1] + 2 * p[2] < target for p in pts):
            break
        if cls and not up and all(p[1] < target for p in pts) and r <= lo:
            break
        r = min(hi, r * STEP) if up else max(lo, r / STEP)
        if r in (p[0] for p in pts):
            break
        v, e = add(r)
        up = v > target
    estimate = None
    for _ in range(MAX_POINTS - len(pts)):
        centre = estimate if estimate is not None else float(np.median([p[0] for p in pts]))
        fit = _fit(_window(pts, centre, target), target)
        if fit is None:
            # no usable line (zeros, or a flat CLs): bisect between the nearest points around the target
            above = [p for p in pts if p[1] > target]
            below = [p for p in pts if p[1] <= target]
            if not above or not below:
                break
            r = 0.5 * (max(p[0] for p in above) + min(p[0] for p in below))
            estimate = r
            if any(abs(r - p[0]) < 1e-12 for p in pts):
                break
            add(r)
            continue
        estimate, err = fit
        estimate = min(max(estimate, lo), hi)
        res.limit, res.error = estimate, err
        if err < max(r_abs, r_rel * abs(estimate)) and len(pts) >= 3:
            res.converged = True
            break
        # a new point at the estimate (moved a little if one is already there)
        r = estimate
        if any(abs(r - p[0]) < 1e-3 * max(abs(r), 1e-3) for p in pts):
            r = estimate + (0.5 if len(pts) % 2 else -0.5) * max(err, 1e-3 * abs(estimate))
        add(min(max(r, lo), hi))
    if not res.converged and estimate is not None:
        fit = _fit(_window(pts, estimate, target), target)
        if fit is not None:
            res.limit, res.error = fit
    return res


def limit_from_points(points: list[tuple[float, float, float]], target: float) -> LimitSearch:
    """The crossing from a fixed grid of (r, value, error): the line fit through the points next to
    the crossing (``--readHybridResults --grid``)."""
    res = LimitSearch(points=sorted(points))
    pts = res.points
    cross = next((i for i in range(1, len(pts)) if pts[i - 1][1] >= target > pts[i][1]), None)
    if cross is None:
        return res
    estimate = 0.5 * (pts[cross - 1][0] + pts[cross][0])
    fit = _fit(_window(pts, estimate, target), target)
    if fit is not None:
        res.limit, res.error = fit
        res.converged = True
    return res


def interval_from_points(points: list[tuple[float, float, float]], target: float) -> list[tuple[float, float]]:
    """Feldman-Cousins: where Pmu crosses ``target`` on a grid (the accepted region has Pmu > target).

    Crossings are interpolated linearly in Pmu between neighbouring grid points; their errors
    propagate the two points' toy errors. Returns [(r, error)] in increasing r; a region that
    reaches the edge of the grid has only its inner crossing.
    """
    pts = sorted(points)
    out = []
    for (r0, v0, e0), (r1, v1, e1) in zip(pts, pts[1:]):
        if (v0 - target) * (v1 - target) < 0:
            t = (target - v0) / (v1 - v0)
            r = r0 + t * (r1 - r0)
            slope = (v1 - v0) / (r1 - r0)
            err = math.hypot((1 - t) * e0, t * e1) / abs(slope)
            out.append((r, err))
    return out
