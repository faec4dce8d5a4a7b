"""Profile-likelihood intervals of one parameter (Combine's Minos and ``--robustFit`` searches).

Combine reports "68 %" intervals as the points where the profiled NLL rises by
``DELTA68 = chi2.ppf(0.68, 1) / 2 = 0.494473`` above its minimum (``FitterAlgoBase::doFit`` sets
that as Minuit's error level), not by 0.5 (spec item 9).

Two searches are provided:

* :func:`minos_interval` plays the role of Minuit's Minos: for each side it brackets the crossing
  by stepping outwards from the best fit (step sizes predicted from a parabola through the last
  point) and then solves ``sqrt(2 q(x)) = sqrt(2 level)`` by regula falsi (Illinois variant),
  where ``q(x) = NLL_profiled(x) - NLL_min``; the square root makes the function nearly linear,
  so a handful of profile fits suffices. Each profile fit starts from the parameters of the
  nearest point already profiled. As in Minos, a crossing beyond the parameter's range is
  reported at the range edge (``at_bound``), e.g. r̂ = 0.996 with r <= 1 gives a high error of
  0.0038.
* :func:`robust_crossing` is Combine's ``findCrossing`` (``--robustFit 1``): fixed relative
  steps towards a bound, step back and shrink by 0.3 when the level is overshot, stop when the
  NLL is within ``4 * crossing tolerance`` of the level (spec §5.4).

Both only need a :class:`~pycombine.fit.minimize.Fitter`, the parameter state (ranges, frozen
flags) and the best fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .minimize import FitResult, Fitter, ParameterState
from .normal import norm_quantile


def half_chi2_quantile(cl: float) -> float:
    """chi2.ppf(cl, 1) / 2: the ΔNLL of a two-sided interval with coverage ``cl``."""
    z = norm_quantile(0.5 * (1.0 + cl))
    return 0.5 * z * z


DELTA68 = half_chi2_quantile(0.68)  # 0.4944726...
DELTA95 = half_chi2_quantile(0.95)  # 1.9207294...

__all__ = [
    "DELTA68",
    "DELTA95",
    "Crossing",
    "Interval",
    "Profile",
    "find_crossing",
    "half_chi2_quantile",
    "minos_interval",
    "robust_crossing",
    "stepping_crossing",
]


@dataclass
class Crossing:
    """One end of an interval."""

    value: float  # parameter value at the crossing (nan if not found)
    ok: bool  # a crossing (or the range edge, see at_bound) was determined
    at_bound: bool = False  # the profile stays below the level up to the range edge
    nfits: int = 0


@dataclass
class Interval:
    """``lo <= x <= hi`` around the best fit ``best`` at ΔNLL = ``level``."""

    best: float
    lo: Crossing
    hi: Crossing
    level: float
    nll_min: float  # minimum NLL seen (lower than the fit's if profiling found a better point)
    better_minimum: np.ndarray | None = None  # parameters of that better point, if any

    @property
    def lo_err(self) -> float:
        """best - lo (positive), nan if not found."""
        return self.best - self.lo.value

    @property
    def hi_err(self) -> float:
        """hi - best (positive), nan if not found."""
        return self.hi.value - self.best


@dataclass
class _Point:
    x: float
    nll: float
    values: np.ndarray
    ok: bool


@dataclass
class Profile:
    """The NLL minimised over all other floating parameters, as a function of parameter ``index``.

    Results are cached; every fit starts from the parameters of the closest point profiled so
    far (the best fit to begin with), moved along the best fit's linear response to the
    parameter (its covariance column over its variance: where a quadratic NLL has its profile
    minimum), which keeps each Migrad run short.
    """

    fitter: Fitter
    state: ParameterState
    index: int
    best: FitResult
    strategy: int | None = None
    points: list[_Point] = field(default_factory=list)
    nfits: int = 0

    def __post_init__(self) -> None:
        self.nll_min = float(self.best.nll)
        self.best_values = self.best.values.copy()
        self.points.append(_Point(float(self.best.values[self.index]), self.nll_min, self.best.values.copy(), True))
        self.slope = self._response()

    def _response(self) -> np.ndarray:
        """d(other parameters)/d(parameter) along the profile, from the best fit's covariance."""
        slope = np.zeros(self.best.values.size)
        cov, free = self.best.cov_free, np.asarray(self.best.free, dtype=int)
        k = np.nonzero(free == self.index)[0]
        if cov is None or k.size != 1 or not cov[k[0], k[0]] > 0:
            return slope
        col = cov[:, k[0]] / cov[k[0], k[0]]
        if np.all(np.isfinite(col)):
            slope[free] = col
        slope[self.index] = 0.0
        return slope

    def nearest(self, x: float) -> _Point:
        good = [p for p in self.points if p.ok] or self.points
        return min(good, key=lambda p: abs(p.x - x))

    def fit(self, x: float, start: np.ndarray | None = None) -> _Point:
        """Profile at ``x`` (starting from ``start`` or the nearest profiled point)."""
        for p in self.points:
            if p.x == x and start is None:
                return p
        st = self.state.copy()
        if start is None:
            near = self.nearest(x)
            st.values = np.clip(near.values + (x - near.x) * self.slope, st.lo, st.hi)
        else:
            st.values = start.copy()
        st.values[self.index] = x
        res = self.fitter.minimize(st, {self.index: x}, strategy=self.strategy)
        self.nfits += 1
        ok = bool(res.valid) and res.nll < 1e8
        p = _Point(float(x), float(res.nll), res.values.copy(), ok)
        self.points.append(p)
        if ok and p.nll < self.nll_min:
            self.nll_min = p.nll
            self.best_values = p.values.copy()
        return p

    def q(self, x: float) -> float:
        """Profiled NLL at ``x`` minus the best fit's NLL."""
        return self.fit(x).nll - float(self.best.nll)


def find_crossing(profile: Profile, level: float, bound: float, scale: float, xtol: float | None = None) -> Crossing:
    """Where ``profile.q`` reaches ``level`` between the best fit and ``bound``.

    ``scale`` is a first guess of the distance (e.g. the parabolic error).
    """
    x0 = float(profile.best.values[profile.index])
    n0 = profile.nfits
    if bound == x0:
        return Crossing(bound, True, True, 0)
    sign = 1.0 if bound > x0 else -1.0
    span = abs(bound - x0)
    d = scale if (np.isfinite(scale) and scale > 0) else (0.1 * span if np.isfinite(span) else 1.0)
    d = min(d, span)
    target = math.sqrt(2.0 * level)

    def g(x: float) -> float:
        q = profile.q(x)
        return math.copysign(math.sqrt(2.0 * abs(q)), q) - target

    a = x0
    b = x0 + sign * d
    for _ in range(60):
        qb = profile.q(b)
        if qb >= level:
            break
        if b == bound:
            return Crossing(bound, True, True, profile.nfits - n0)
        a = b
        dist = abs(b - x0)
        # a parabola through (x0, 0) and (b, qb) predicts the crossing at dist*sqrt(level/qb);
        # aim slightly beyond so the next point brackets it
        grow = 1.2 * math.sqrt(level / qb) if qb > 1e-3 * level else 4.0
        grow = min(max(grow, 1.1), 10.0)
        b = x0 + sign * dist * grow
        if sign * (b - bound) > 0:
            b = bound
    else:
        return Crossing(float("nan"), False, False, profile.nfits - n0)
    tol = xtol if xtol is not None else 1e-4 * max(d, 1e-6)
    x = _illinois(g, a, b, g(a), g(b), tol)
    if x is None:
        return Crossing(float("nan"), False, False, profile.nfits - n0)
    return Crossing(float(x), True, False, profile.nfits - n0)


def _illinois(g, a: float, b: float, ga: float, gb: float, xtol: float, maxiter: int = 30) -> float | None:
    """Root of ``g`` in the bracket [a, b] (g(a) < 0 <= g(b)) by the Illinois regula falsi.

    ``g`` is close to linear here, so secant steps converge in a few evaluations; halving the
    weight of a retained end point keeps the bracket shrinking from both sides.
    """
    if not (ga < 0 <= gb):
        return None
    if gb == 0:
        return b
    side = 0
    x_prev = None
    for _ in range(maxiter):
        x = (a * gb - b * ga) / (gb - ga)
        if not (min(a, b) <= x <= max(a, b)):
            x = 0.5 * (a + b)
        gx = g(x)
        if gx == 0 or (x_prev is not None and abs(x - x_prev) < xtol):
            return x
        x_prev = x
        if (gx < 0) == (ga < 0):
            a, ga = x, gx
            if side == -1:
                gb *= 0.5
            side = -1
        else:
            b, gb = x, gx
            if side == 1:
                ga *= 0.5
            side = 1
        if abs(b - a) < xtol:
            return x
    return None


def minos_interval(
    fitter: Fitter,
    state: ParameterState,
    best: FitResult,
    index: int,
    level: float = DELTA68,
    scale: float | None = None,
    strategy: int | None = None,
) -> Interval:
    """Both crossings of the profile of parameter ``index`` at ``level`` within its range.

    If profiling finds a point lower than ``best`` by more than 1 % of ``level`` the search is
    repeated once around that point (Minos would report a new minimum).
    """
    lo_b, hi_b = float(state.lo[index]), float(state.hi[index])
    s = float(best.errors[index]) if scale is None and best.errors.size else (scale or float("nan"))
    for _attempt in range(2):
        prof = Profile(fitter, state, index, best, strategy)
        hi = find_crossing(prof, level, hi_b, s)
        lo = find_crossing(prof, level, lo_b, s)
        better = prof.nll_min < best.nll - 0.01 * level
        if not better:
            break
        # restart from the better minimum found while profiling
        vals = prof.best_values
        st = state.copy()
        st.values = vals.copy()
        best = fitter.minimize(st, strategy=strategy)
    return Interval(float(best.values[index]), lo, hi, level, prof.nll_min,
                    prof.best_values if better else None)


#: profile(x, start) -> (converged, NLL, parameters): one profile fit with the parameter at x
ProfileFit = Callable[[float, np.ndarray], tuple[bool, float, np.ndarray]]


def stepping_crossing(
    profile: ProfileFit,
    level: float,
    start: float,
    bound: float,
    values: np.ndarray,
    step_size: float = 0.1,
    crossing_tolerance: float = 1e-4,
    max_failed_steps: int = 5,
) -> float:
    """Combine's ``FitterAlgoBase::findCrossing`` on any profile fit: where the profiled NLL
    reaches the absolute value ``level`` between ``start`` and ``bound`` (nan if not found).

    Steps by ``step_size * (bound - start)``, each profile fit starting from the last accepted
    point (``values`` for the first); an overshoot takes the step back and shrinks it by 0.3, a
    step in the wrong direction by more than 0.1 (round-off) halves it, a failed fit returns to
    the last accepted point and halves the step. Stops with Combine's interpolation once
    ``|NLL - level| < 4 * crossing_tolerance``, when the step falls below
    ``crossing_tolerance * step_size * max(1, bound - x)`` (checked after failed fits too: the
    C++ loop is a do-while), or after ``max_failed_steps`` failures in a row.
    """
    r_inc = step_size * (bound - start)
    ok, here, current = profile(start, np.array(values, dtype=float))
    if not ok:
        return float("nan")
    checkpoint = current.copy()
    last_x = start
    nfail = 0
    x = start
    while True:
        x += r_inc
        if r_inc * (x - bound) > 0:  # went beyond the bound: half the remaining distance
            x -= r_inc
            r_inc = 0.5 * (bound - x)
        ok, val, vals = profile(x, current)
        last_x = x
        if not ok:
            nfail += 1
            if nfail >= max_failed_steps:
                return float("nan")
            current = checkpoint.copy()
            x -= r_inc
            r_inc *= 0.5
        else:
            nfail = 0
            current = vals
            there, here = here, val
            if abs(here - level) < 4 * crossing_tolerance:
                # Combine's interpolation (it mixes NLL and parameter units; the term is < 4e-4)
                return x + (level - here) * (level - there) / (here - there) if here != there else x
            if here > level:
                x -= r_inc
                r_inc *= 0.3
                current = checkpoint.copy()
            elif (here - there) * (level - there) < 0 and abs(here - there) > 0.1:
                current = checkpoint.copy()
                x -= r_inc
                r_inc *= 0.5
            else:
                checkpoint = current.copy()
        if not abs(r_inc) > crossing_tolerance * step_size * max(1.0, bound - x):
            break
    if abs(here - level) > 0.01:
        return float("nan")
    return last_x


def robust_crossing(
    fitter: Fitter,
    state: ParameterState,
    best: FitResult,
    index: int,
    level: float,
    start: float,
    bound: float,
    step_size: float = 0.1,
    crossing_tolerance: float = 1e-4,
    max_failed_steps: int = 5,
    start_values: np.ndarray | None = None,
) -> float:
    """:func:`stepping_crossing` with the profile fits of ``fitter`` (FitDiagnostics ``--robustFit``).

    ``fitter`` should carry the robust-fit minimiser settings (``--setRobustFitStrategy`` ...).
    """
    def profile(x: float, values: np.ndarray) -> tuple[bool, float, np.ndarray]:
        st = state.copy()
        st.values = values.copy()
        st.values[index] = x
        res = fitter.minimize(st, {index: x})
        return bool(res.valid) and res.nll < 1e8, float(res.nll), res.values.copy()

    values = best.values if start_values is None else start_values
    return stepping_crossing(profile, level, start, bound, values, step_size, crossing_tolerance, max_failed_steps)
