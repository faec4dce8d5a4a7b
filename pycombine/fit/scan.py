"""Grid points and profile-likelihood scans (Combine's ``MultiDimFit`` grid and crossing searches).

Three pieces, all independent of console output so the toy and parallel drivers can reuse them:

* grid generation with Combine's exact point positions and visiting order
  (``MultiDimFit::doGrid``, spec §5.5): :func:`grid_1d`, :func:`grid_2d`, :func:`grid_nd`;
* :class:`Profiler`: the NLL of one dataset profiled with some parameters held at given values,
  warm-started from a snapshot (Combine resets every parameter to the best-fit snapshot before
  each grid point);
* crossing searches for intervals: :func:`profile_crossing` (where the profiled NLL reaches a
  level, as Minos finds it, reporting "at limit" when the range ends first) and
  :func:`find_crossing` (Combine's ``--robustFit`` stepping algorithm,
  ``FitterAlgoBase::findCrossing``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..model.likelihood import BAD_NLL

#: half the 68 % quantile of chi2(1): Combine's "1 sigma" NLL rise (spec item 9), one definition
from .intervals import DELTA68 as DELTA_NLL_68  # noqa: E402,F401  (re-exported)
from .intervals import stepping_crossing
from .minimize import FitResult, Fitter, ParameterState

#: half the 95 % quantile of chi2(1)
DELTA_NLL_95 = 1.9207294103471975


# ---------------------------------------------------------------------------------------- grids
@dataclass(frozen=True)
class GridPoint:
    """One scan point: its running number, per-axis indices and coordinates."""

    index: int  # Combine's point number (printed as "Point <index>/<total>")
    ij: tuple[int, ...]  # per-axis indices (2-D: (i, j))
    coords: tuple[float, ...]


def grid_1d(pmin: float, pmax: float, points: int, first_point: int = 0, last_point: int | None = None,
            align_edges: bool = False, best: float | None = None) -> list[GridPoint]:
    """Points of a 1-D scan in the order Combine visits them.

    ``x_i = pmin + (i + 1/2) * (pmax - pmin) / points`` (``align_edges``: ``pmin + i * (pmax - pmin) /
    (points - 1)`` and exactly ``pmax`` last). When the best fit lies beyond ``last_point`` the
    points are visited from the far end (``x`` of point ``i`` is taken at ``last + first - i``),
    as Combine does so that split scans start near the minimum.
    """
    if points <= 0:
        return []
    if align_edges:
        spacing = (pmax - pmin) / (points - 1) if points > 1 else 0.0
        offset = 0.0
    else:
        spacing = (pmax - pmin) / points
        offset = 0.5
    last = points - 1 if last_point is None or last_point < 0 else last_point
    if best is None:
        xbest = -math.inf
    elif spacing != 0.0:
        xbest = (best - pmin) / spacing
    else:  # C++ division by zero: +inf, -inf or nan
        d = best - pmin
        xbest = math.inf if d > 0 else (-math.inf if d < 0 else math.nan)
    out = []
    for i in range(points):
        if i < first_point:
            continue
        if i > last:
            break
        x = pmin + (i + offset) * spacing
        if align_edges and i == points - 1:
            x = pmax
        if xbest > last:
            x = pmin + ((last - i + first_point) + offset) * spacing
        out.append(GridPoint(i, (i,), (x,)))
    return out


def _axis(pmin: float, pmax: float, n: int, align_edges: bool) -> tuple[float, float]:
    """(spacing, offset) of one axis of a multi-dimensional grid."""
    if n == 1:
        return 0.0, 0.0
    if align_edges:
        return (pmax - pmin) / (n - 1), 0.0
    return (pmax - pmin) / n, 0.5


def grid_2d(pmin: tuple[float, float], pmax: tuple[float, float], points: int,
            grid_points: tuple[int, int] | None = None, first_point: int = 0, last_point: int | None = None,
            align_edges: bool = False) -> tuple[list[GridPoint], int]:
    """Points of a 2-D scan (x-major) and the total number of points ``nX * nY``.

    Without ``--gridPoints`` both axes get ``ceil(sqrt(points))`` points.
    """
    if grid_points:
        nx, ny = grid_points
    else:
        nx = ny = int(math.ceil(math.sqrt(float(points))))
    dx, ox = _axis(pmin[0], pmax[0], nx, align_edges)
    dy, oy = _axis(pmin[1], pmax[1], ny, align_edges)
    last = math.inf if last_point is None or last_point < 0 else last_point
    out = []
    k = 0
    for i in range(nx):
        for j in range(ny):
            if k > last:
                return out, nx * ny
            if k >= first_point:
                out.append(GridPoint(k, (i, j), (pmin[0] + (i + ox) * dx, pmin[1] + (j + oy) * dy)))
            k += 1
    return out, nx * ny


def grid_nd(pmin: list[float], pmax: list[float], points: int, grid_points: list[int] | None = None,
            first_point: int = 0, last_point: int | None = None, align_edges: bool = False) -> tuple[list[GridPoint], int]:
    """Points of an n-D scan (n > 2): the first axis runs fastest (``utils::generateCombinations``)."""
    n = len(pmin)
    if grid_points:
        axis_points = list(grid_points)
    else:
        axis_points = [int(math.ceil(float(points) ** (1.0 / n)))] * n
    total = int(np.prod(axis_points))
    last = math.inf if last_point is None or last_point < 0 else last_point
    axes = []
    for a in range(n):
        if align_edges:
            d = (pmax[a] - pmin[a]) / (axis_points[a] - 1) if axis_points[a] > 1 else 0.0
            off = 0.0
        else:
            d = (pmax[a] - pmin[a]) / axis_points[a]
            off = 0.5
        axes.append((d, off))
    out = []
    idx = [0] * n
    for k in range(total):
        if k > last:
            break
        if k >= first_point:
            coords = tuple(pmin[a] + axes[a][0] * (idx[a] + axes[a][1]) for a in range(n))
            out.append(GridPoint(k, tuple(idx), coords))
        for a in range(n):  # first index fastest
            if idx[a] + 1 < axis_points[a]:
                idx[a] += 1
                break
            idx[a] = 0
    return out, total


def parse_grid_points(text: str) -> list[int]:
    """``--gridPoints n1,n2,...``."""
    return [int(t) for t in text.split(",") if t.strip()]


# ---------------------------------------------------------------------------------------- profiles
class LimitSafeFitter(Fitter):
    """Kept for the methods built on it: :class:`Fitter` itself now converges at parameter
    limits and supports ``keep_range`` (MultiDimFit's ``-P`` nuisances keep their range)."""

@dataclass
class ProfilePoint:
    values: np.ndarray  # (P,) all parameters at the profiled minimum
    nll: float  # NLL at ``values`` (comparable between points of the same Profiler)
    ok: bool  # the minimisation converged (or nothing floated)
    result: FitResult | None = None


class Profiler:
    """NLL of one dataset, minimised over the floating parameters with others held fixed.

    ``state`` fixes what floats (its ``frozen`` flags) and the ranges; every call starts the
    minimiser from the values given to it, so callers decide the warm start (the best-fit
    snapshot for grid points, the previous point for crossing searches). A Barlow-Beeston-lite
    parameter among the fixed ones is pinned to its value instead of being profiled in closed
    form (Combine does the same when such a parameter is scanned or given to Minos).
    """

    def __init__(self, fitter: Fitter, state: ParameterState):
        self.fitter = fitter
        self.model = fitter.model
        self.state = state
        self.lik = fitter.lik
        bb = self.model.bb_par
        self._bb = bb if (self.lik.analytic_bb and bb.size) else None
        # the likelihood adds a BB-lite parameter's Gaussian term both from its profiled value
        # and, through the generic constraint sum, from its entry in theta; NLL values are
        # compared with those entries at their global observables, where the second copy is 0
        self._bb_in_gauss = bool(self._bb is not None and np.isin(bb, self.model.gauss_idx).any())

    def _pinned(self, fixed) -> list[int]:
        if self._bb is None:
            return []
        return [i for i in fixed if self.model.analytic[i]]

    def nll(self, values: np.ndarray, pinned=()) -> float:
        """NLL at ``values`` without minimising (BB-lite parameters profiled in closed form,
        except the ``pinned`` ones, which keep their value)."""
        if self._bb is None:
            return float(self.lik.nll(values))
        v = np.array(values, dtype=float)
        pinned = list(pinned)
        free_bb = self._bb[~np.isin(self._bb, pinned)]
        v[free_bb] = self.lik.data.glob[free_bb]
        if not pinned:
            return float(self.lik.nll(v))
        self.lik.pin(pinned)
        try:
            val = float(self.lik.nll(v))
        finally:
            self.lik.pin(())
        if self._bb_in_gauss:
            d = v[pinned] - self.lik.data.glob[pinned]
            val -= 0.5 * float(d @ d)
        return val

    def n_floating(self, fixed=()) -> int:
        fl = ~(self.state.frozen | self.model.analytic)
        fl[list(fixed)] = False
        return int(fl.sum())

    def minimize(self, start: np.ndarray, fixed: dict[int, float] | None = None, hesse: bool = False,
                 strategy: int | None = None) -> ProfilePoint:
        """Minimise from ``start`` with ``fixed`` parameters pinned to values."""
        st = self.state.copy()
        st.values = np.array(start, dtype=float)
        fixed = fixed or {}
        for i, v in fixed.items():
            st.values[i] = v
        res = self.fitter.minimize(st, fixed, hesse=hesse, strategy=strategy)
        values = res.values.copy()
        for i, v in fixed.items():
            values[i] = v
        if self._bb is None and np.array_equal(values, res.values):
            nll = res.nll  # the fit's NLL is the likelihood's value at ``values`` already
        else:
            nll = self.nll(values, self._pinned(fixed))
        ok = bool(res.valid or res.free.size == 0) and math.isfinite(nll) and nll < BAD_NLL
        return ProfilePoint(values, nll, ok, res)

    def at(self, start: np.ndarray, fixed: dict[int, float], profile: bool = True,
           strategy: int | None = None) -> ProfilePoint:
        """The NLL with ``fixed`` set: profiled (``profile``) or just evaluated at ``start``."""
        if not profile or self.n_floating(fixed) == 0:
            v = np.array(start, dtype=float)
            for i, x in fixed.items():
                v[i] = x
            pinned = self._pinned(fixed)
            if self._bb is not None:
                self.lik.pin(pinned)
                try:
                    v = self.lik.bb_values(v)
                finally:
                    self.lik.pin(())
            nll = self.nll(v, pinned)
            return ProfilePoint(v, nll, math.isfinite(nll) and nll < BAD_NLL)
        return self.minimize(start, fixed, strategy=strategy)


# ---------------------------------------------------------------------------------------- crossings
@dataclass
class Crossing:
    """Where the profiled NLL reaches ``level`` on one side of the minimum."""

    value: float  # the crossing, or the range end when ``at_limit``
    at_limit: bool  # the range ended before the NLL reached the level
    values: np.ndarray | None = None  # parameters profiled at ``value``
    n_profiles: int = 0


def profile_crossing(prof: Profiler, index: int, best: np.ndarray, nll_best: float, delta: float,
                     bound: float, sigma: float | None = None, rtol: float = 1e-5) -> Crossing:
    """Solve ``profiled NLL(x) = nll_best + delta`` between the minimum and ``bound``.

    This is what Minos reports: the crossing of the profile likelihood, or, when the parameter
    range ends first, the range end (Minuit2's ``MinosError`` "at limit" value is the distance to
    the limit). The search steps out from the minimum with a parabolic guess from ``sigma``
    (the Hesse error), then brackets and refines with Brent's method; every profile is
    warm-started from the nearest point already profiled.
    """
    from .roots import brent_root as brentq

    x0 = float(best[index])
    direction = 1.0 if bound > x0 else -1.0
    if bound == x0 or not math.isfinite(x0):
        return Crossing(x0, True, best.copy())
    level = nll_best + delta
    cache: dict[float, ProfilePoint] = {}
    count = [0]

    def f(x: float) -> float:
        if x in cache:
            return cache[x].nll - level
        # warm start from the closest profiled point (or the best fit)
        near = min(cache, key=lambda y: abs(y - x), default=None)
        start = best if near is None or abs(near - x) > abs(x - x0) else cache[near].values
        p = prof.minimize(start, {index: x})
        count[0] += 1
        if not p.ok:
            # retry from the best fit: a failed warm start should not end the search
            p2 = prof.minimize(best, {index: x})
            count[0] += 1
            if p2.ok or p2.nll < p.nll:
                p = p2
        cache[x] = p
        return p.nll - level

    span = abs(bound - x0)
    s = sigma if sigma is not None and math.isfinite(sigma) and sigma > 0 else 0.1 * (span if math.isfinite(span) else 1.0)
    if math.isfinite(span):
        # a Hesse error squeezed by a nearby limit would make the first steps needlessly short
        s = max(s, 1e-3 * span)
    step = s * math.sqrt(2.0 * delta)
    lo_x, _lo_f = x0, -delta
    x = x0 + direction * step
    hi_x = None
    for _ in range(60):
        if direction * (x - bound) >= 0:
            x = bound
        fx = f(x)
        if fx >= 0:
            hi_x = x
            break
        if x == bound:
            p = cache[x]
            return Crossing(bound, True, p.values.copy(), count[0])
        # parabolic extrapolation through the minimum and this point, with growth limits
        d = abs(x - x0)
        rise = fx + delta
        if rise > 1e-12:
            guess = d * math.sqrt(delta / rise)
            nxt = min(max(guess * 1.05, d * 1.2), d * 4.0)
        else:
            nxt = d * 4.0
        lo_x, _lo_f = x, fx
        x = x0 + direction * nxt
    if hi_x is None:
        return Crossing(lo_x, True, cache[lo_x].values.copy() if lo_x in cache else best.copy(), count[0])
    a, b = (lo_x, hi_x) if lo_x < hi_x else (hi_x, lo_x)
    xtol = max(rtol * max(s, 1e-12), 1e-12)
    try:
        root = brentq(f, a, b, xtol=xtol, rtol=1e-10, maxiter=60)
    except (ValueError, RuntimeError):
        root = hi_x
    near = min(cache, key=lambda y: abs(y - root))
    return Crossing(float(root), False, cache[near].values.copy(), count[0])


def find_crossing(prof: Profiler, index: int, level: float, start: float, bound: float, values: np.ndarray,
                  step_size: float = 0.1, crossing_tolerance: float = 1e-4, max_failed_steps: int = 5,
                  strategy: int | None = 0) -> float:
    """Combine's robust crossing search (``--robustFit 1``, ``FitterAlgoBase::findCrossing``,
    :func:`pycombine.fit.intervals.stepping_crossing`) on the profile fits of ``prof``."""
    def profile(x: float, start_values: np.ndarray) -> tuple[bool, float, np.ndarray]:
        p = prof.minimize(start_values, {index: x}, strategy=strategy)
        return p.ok, p.nll, p.values.copy()

    return stepping_crossing(profile, level, start, bound, values, step_size, crossing_tolerance, max_failed_steps)


def chi2_quantile(delta_nll: float, ndof: int) -> float:
    """Combine's ``quantileExpected`` of a scan point: chi2 survival probability of 2*deltaNLL.

    ``deltaNLL`` is a C ``float`` in Combine, so the probability is computed from the float32
    value.
    """
    q = 2.0 * float(np.float32(delta_nll))
    if ndof <= 0:
        return 0.0 if q > 0 else 1.0
    if q <= 0:
        return 1.0
    return chi2_survival(q, int(ndof))


def chi2_survival(q: float, ndof: int) -> float:
    """P(chi2 with ``ndof`` degrees of freedom > ``q``), closed form for integer ``ndof``.

    Q(k/2, q/2) by the recurrence Q(a + 1, y) = Q(a, y) + y^a e^-y / Gamma(a + 1), started from
    Q(1, y) = e^-y (even k) or Q(1/2, y) = erfc(sqrt(y)) (odd k). Written out instead of calling
    scipy.special.chdtrc: importing scipy.special costs ~0.15 s, a third of a small grid scan.
    """
    y = 0.5 * q
    if ndof % 2:
        total, a = math.erfc(math.sqrt(y)), 0.5
    else:
        total, a = math.exp(-y), 1.0
    while a + 1.0 <= 0.5 * ndof:
        total += math.exp(a * math.log(y) - y - math.lgamma(a + 1.0))
        a += 1.0
    return min(total, 1.0)
