"""Combine's asymptotic CLs limit algorithm (``src/AsymptoticLimits.cc``), free of model code.

The algorithm only needs the negative log-likelihood of one dataset as a function of the
parameter of interest r, with everything else profiled. That is the :class:`ProfileNLL`
protocol: a free fit, a conditional fit at fixed r and an evaluation at fixed parameters, each
taking the starting state explicitly (Combine warm-starts every fit from the parameter values
left by the previous one, and where it starts changes where Migrad stops). The state is opaque
here: the model adapter uses the full parameter vector, unit tests use a tuple or ``None``.

What is reproduced (spec §5.2, behaviours 10, 11 and 14):

* expected limits by NLL-crossing searches on the Asimov dataset: the median by *stepping*
  (early stop when |NLL - threshold| < 0.05 x minimiser tolerance), the other quantiles by
  bisection on fixed brackets, every value returned as a float32;
* the observed limit by the bracketing + log-interpolation/bisection iteration on CLs(r), with
  its stopping rule and half-bracket error;
* the r range bookkeeping: Combine raises r_max whenever a trial point reaches it and sets it to
  1.1 r at each CLs evaluation; later fits start from (and rErr uses) the raised range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np

from .normal import norm_cdf, norm_cdf_c, norm_quantile, norm_quantile_c  # noqa: F401 (re-exported)

QUANTILES: tuple[float, ...] = (0.025, 0.16, 0.5, 0.84, 0.975)

#: receives (verbosity level at which Combine prints it, message)
Trace = Callable[[int, str], None]


def f32(x: float) -> float:
    """Round a double to the nearest float32 (Combine stores these as C ``float``)."""
    return float(np.float32(x))


# ---------------------------------------------------------------------- interface
#: every this many steps the stepping search checks that it can still reach the crossing
FLATNESS_CHECK = 100


@dataclass
class PoiFit:
    """One fit of a :class:`ProfileNLL`: the minimum and the parameter state it left."""

    nll: float
    r: float
    r_err: float
    state: Any
    ok: bool = True


class ProfileNLL(Protocol):
    """The NLL of one dataset as a function of r, the other parameters profiled."""

    def fit(self, start: Any, r_start: float, r_lo: float, r_hi: float) -> PoiFit:
        """Minimise with r floating in [r_lo, r_hi], starting at r_start and ``start``."""
        ...

    def profile(self, start: Any, r: float) -> PoiFit:
        """Minimise the other parameters with r fixed, starting from ``start``."""
        ...

    def value(self, state: Any, r: float) -> float:
        """The NLL at ``state`` with r set to ``r`` (no minimisation)."""
        ...


@dataclass
class PoiRange:
    """The range of r, mutable like the RooRealVar range Combine keeps changing."""

    lo: float
    hi: float


@dataclass
class AsymptoticSettings:
    """AsymptoticLimits options (defaults as in Combine)."""

    cl: float = 0.95
    rule: str = "CLs"  # or "Pmu"
    qtilde: bool = True
    r_abs_acc: float = 0.0005
    r_rel_acc: float = 0.005
    strict_bounds: bool = False
    #: |NLL - threshold| below which a crossing search stops (0.05 x minimiser tolerance)
    crossing_tolerance: float = 0.005
    new_expected: bool = True
    minos_algo: str = "stepping"  # median search: "stepping" or "bisection"
    picky: bool = False
    #: --signalStrengthForExpected when given explicitly (None: the standard r = 0 Asimov)
    signal_strength_for_expected: float | None = None
    #: guards against searches that cannot end (flat likelihoods); Combine has none
    max_crossing_steps: int = 3000
    max_limit_iterations: int = 200

    @property
    def cl32(self) -> float:
        return f32(self.cl)

    @property
    def use_cls(self) -> bool:
        return self.rule == "CLs"

    @property
    def cls_target(self) -> float:
        """1 - cl with cl a float32 (0.0500000119 for 0.95)."""
        return 1.0 - self.cl32


# ---------------------------------------------------------------------- CLs at a point
def cls_from_q(q_mu: float, q_a: float, use_cls: bool = True, qtilde: bool = True) -> tuple[float, float, float]:
    """(CLs or Pmu, Pmu, 1-Pb) from q_mu on data and q_A on the Asimov dataset (``getCLs``)."""
    pmu = norm_cdf_c(math.sqrt(q_mu))
    one_m_pb = norm_cdf(math.sqrt(q_a) - math.sqrt(q_mu))
    if qtilde and q_mu > q_a:
        # qtilde region: the distributions are shifted Gaussians in q itself
        mos = math.sqrt(q_a)
        if mos > 0:
            pmu = norm_cdf_c((q_mu + q_a) / (2.0 * mos))
            one_m_pb = norm_cdf_c((q_mu - q_a) / (2.0 * mos))
        else:  # q_A = 0: both arguments are +inf
            pmu = 0.0
            one_m_pb = 0.0
    cls = 0.0 if one_m_pb == 0 else pmu / one_m_pb
    return (cls if use_cls else pmu), pmu, one_m_pb


def expected_threshold(p: float, settings: AsymptoticSettings, pb_expected: float | None = None) -> float:
    """NLL rise e(p) of the Asimov profile at the expected limit of quantile p."""
    n = norm_quantile(p)
    pb = p if pb_expected is None else pb_expected
    alpha = 1.0 - settings.cl32
    return 0.5 * (n + norm_quantile_c((pb if settings.use_cls else 1.0) * alpha)) ** 2


# ---------------------------------------------------------------------- crossing searches
@dataclass
class CrossingSearch:
    """Result of one expected-limit crossing search."""

    r: float  # float32 value, or nan when no crossing was found
    state: Any  # parameter state after the last fit (the next search starts there)
    points: list[tuple[float, float]] = field(default_factory=list)  # (r, NLL - nll0) evaluated
    failed_fits: int = 0
    message: str = ""


def find_crossing(nll: ProfileNLL, state: Any, poi: PoiRange, r_lo: float, r_hi: float, nll0: float, p: float,
                  settings: AsymptoticSettings, algo: str, trace: Trace | None = None) -> CrossingSearch:
    """Combine's ``findExpectedLimitFromCrossing`` with the stepping or bisection algorithm."""
    pb_expected = None
    failed = 0
    if settings.signal_strength_for_expected is not None:
        # non-standard Asimov: shift the quantile by the Asimov's own q(0) - q(mu_exp)
        f0 = nll.profile(state, 0.0)
        f1 = nll.profile(f0.state, settings.signal_strength_for_expected)
        state = f1.state
        q_mu_a = 2.0 * f0.nll - 2.0 * f1.nll
        n_exp = norm_quantile(p) + (math.sqrt(q_mu_a) if q_mu_a >= 0 else math.nan)
        pb_expected = norm_cdf(n_exp)
    threshold = nll0 + expected_threshold(p, settings, pb_expected)
    tol = settings.crossing_tolerance
    strict = settings.strict_bounds
    out = CrossingSearch(math.nan, state)
    if strict:
        if r_hi > poi.hi:
            r_hi = poi.hi
        if r_hi == r_lo:
            out.r = f32(r_hi)
            return out
    r_cross = 0.5 * (r_lo + r_hi)
    r_err = 0.5 * (r_hi - r_lo)
    r_current = min(r_cross, poi.hi)  # RooRealVar::setVal clips to the range
    found = strict and algo == "bisection"  # the bracket is right by construction then
    steps = 0

    def accuracy(rc: float) -> float:
        return max(settings.r_rel_acc * rc, settings.r_abs_acc)

    if algo == "bisection":
        while r_err > accuracy(r_cross):
            steps += 1
            if steps > settings.max_crossing_steps:
                out.message = f"bisection did not converge after {settings.max_crossing_steps} steps"
                found = False
                break
            if not strict and r_cross >= poi.hi:
                poi.hi = r_cross * 1.1
            fit = nll.profile(state, r_cross)
            state = fit.state
            if not fit.ok:
                failed += 1
                if settings.picky:
                    break
            found = True
            here = fit.nll
            out.points.append((r_cross, here - nll0))
            if trace:
                trace(2, f"At r = {r_cross:f}:\tdelta(nll) = {here - nll0:.5f}")
            if abs(here - threshold) < tol:
                break
            if here < threshold:
                r_lo = r_cross
            else:
                r_hi = r_cross
            r_cross = 0.5 * (r_lo + r_hi)
            r_err = 0.5 * (r_hi - r_lo)
    elif algo == "stepping":
        r_cross = 0.05 * r_hi
        r_err = r_hi
        stride = r_cross
        overstepped = False
        there = None
        last_here = -math.inf
        while r_err > accuracy(r_cross):
            steps += 1
            if steps > settings.max_crossing_steps:
                out.message = (f"no crossing found after {settings.max_crossing_steps} steps "
                               f"(reached r = {r_cross:g})")
                found = False
                break
            if r_cross >= poi.hi:
                if not strict:
                    poi.hi = r_cross * 1.1
                else:
                    r_cross = poi.hi
            # NLL at the current parameters: the previous profile, or the start point
            if there is None:
                there = nll.value(state, r_current)
            fit = nll.profile(state, r_cross)
            state = fit.state
            r_current = r_cross
            if not fit.ok:
                failed += 1
                if settings.picky:
                    break
            found = True
            here = fit.nll
            out.points.append((r_cross, here - nll0))
            if trace:
                trace(2, f"At r = {r_cross:f}:\tdelta(nll) = {here - nll0:.5f}")
            if abs(here - threshold) < tol:
                break
            if not overstepped and steps % FLATNESS_CHECK == 0:
                # a profile that hardly rises with r (a free normalisation absorbs the signal)
                # would take every remaining step in vain: say so now
                gained = here - last_here
                if not gained > 0 or (threshold - here) / gained * FLATNESS_CHECK > settings.max_crossing_steps - steps:
                    out.message = (f"no crossing found: the profiled likelihood rises too slowly with r to reach "
                                   f"the crossing within {settings.max_crossing_steps} steps (at r = {r_cross:g}, "
                                   f"delta(nll) = {here - nll0:.3g})")
                    found = False
                    break
                last_here = here
            if here < threshold:
                if (threshold - here) < 0.5 * abs(threshold - there):
                    stride *= 0.5
                if strict and r_cross == poi.hi:
                    break
                r_cross += stride
            else:
                stride *= 0.5
                overstepped = True
                r_cross -= stride
            if overstepped:
                r_err = stride
            there = here
    else:
        raise ValueError(f"unsupported crossing search algorithm {algo!r}")
    out.state = state
    out.failed_fits = failed
    if found:
        out.r = f32(r_cross)
    elif not out.message:
        out.message = "the search interval was empty" if steps == 0 else "the fits failed"
    return out


# ---------------------------------------------------------------------- expected limits
@dataclass
class ExpectedLimits:
    """Expected limits of one dataset, in Combine's order (0.025, 0.16, 0.5, 0.84, 0.975)."""

    #: (quantile, value written to the tree) for every committed quantile
    rows: list[tuple[float, float]] = field(default_factory=list)
    #: (quantile, float32 value) printed; cleared when a search fails (as in Combine)
    printed: list[tuple[float, float]] = field(default_factory=list)
    nll0: float = math.nan
    r_hat: float = math.nan
    median: float = math.nan
    sigma: float = math.nan
    state: Any = None
    failed_fits: int = 0
    warnings: list[str] = field(default_factory=list)


def expected_limits(asimov: ProfileNLL, start: Any, poi: PoiRange, settings: AsymptoticSettings,
                    trace: Trace | None = None, result: ExpectedLimits | None = None) -> ExpectedLimits:
    """``runLimitExpected``: the five expected limits from the profiled Asimov NLL.

    ``start`` is the parameter state after the Asimov dataset was built (nuisances at their
    fitted values for the a-posteriori Asimov); ``poi`` is updated in place. Rows are appended
    to ``result`` (if given) as they are found, so they survive an exception in a later search,
    as Combine's committed tree entries do.
    """
    res = result if result is not None else ExpectedLimits()
    poi.lo = 0.0 if settings.qtilde else -poi.hi
    fit = asimov.fit(start, 0.01 * poi.hi, poi.lo, poi.hi)
    if not fit.ok:
        res.failed_fits += 1
    res.nll0, res.r_hat = fit.nll, fit.r
    if trace and fit.r / poi.hi > 1e-3 and settings.signal_strength_for_expected is None:
        trace(1, f"[WARNING] Best fit of asimov dataset is at r = {fit.r:f} ({fit.r / poi.hi:f} times rMax), "
              "while it should be at zero")
    nll0 = fit.nll
    state = fit.state
    search = find_crossing(asimov, state, poi, poi.lo, poi.hi, nll0, 0.5, settings, settings.minos_algo, trace)
    state = search.state
    res.failed_fits += search.failed_fits
    median = search.r
    if math.isnan(median):
        res.warnings.append(f"could not find the median expected limit: {search.message}")
    alpha = 1.0 - settings.cl32
    sigma = median / norm_quantile(1.0 - (0.5 if settings.use_cls else 1.0) * alpha)
    res.median, res.sigma = median, sigma
    expected: list[tuple[float, float]] = []
    printed_ok = True
    for iq, q in enumerate(QUANTILES):
        n = norm_quantile(q)
        if settings.new_expected and iq != 2:
            algo = "bisection" if settings.minos_algo == "stepping" else settings.minos_algo
            if iq == 0:
                lo, hi = poi.lo, median
            elif iq == 1:
                lo, hi = expected[-1][1], median
            elif iq == 3:
                lo, hi = expected[-1][1], median + 2.0 * sigma
            else:
                lo, hi = expected[-1][1], median + 4.0 * sigma
            search = find_crossing(asimov, state, poi, lo, hi, nll0, q, settings, algo, trace)
            state = search.state
            res.failed_fits += search.failed_fits
            limit = search.r
            if math.isnan(limit):
                if not math.isnan(median):
                    res.warnings.append(f"could not find the {100 * q:.1f}% expected limit: {search.message}")
                printed_ok = False
                break
        else:
            limit = sigma * (norm_quantile(1.0 - alpha * (q if settings.use_cls else 1.0)) + n)
        if settings.strict_bounds and limit > poi.hi:
            limit = poi.hi
        res.rows.append((q, limit))
        expected.append((q, f32(limit)))
    res.printed = expected if printed_ok else []
    res.state = state
    return res


# ---------------------------------------------------------------------- observed limit
@dataclass
class ObservedLimit:
    limit: float = math.nan
    limit_err: float = 0.0
    ok: bool = False
    r_hat: float = math.nan
    r_err: float = math.nan
    nll_data: float = math.nan
    nll_asimov: float = math.nan
    #: (r, CLs) of every evaluation, in order
    points: list[tuple[float, float]] = field(default_factory=list)
    failed_fits: int = 0
    warnings: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # lines Combine prints on stdout
    #: --singlePoint: the five expected CLs values (quantile, value)
    expected_cls: list[tuple[float, float]] = field(default_factory=list)
    #: --singlePoint: (q_mu on the data, q_A on the Asimov dataset) at the point
    q_values: tuple[float, float] | None = None


class _ClsEvaluator:
    """``getCLs``: q_mu and q_A at fixed r, each profile warm-started from the previous one."""

    def __init__(self, data: ProfileNLL, asimov: ProfileNLL, data_fit: PoiFit, asimov_fit: PoiFit, poi: PoiRange,
                 settings: AsymptoticSettings, trace: Trace | None, single_point: bool = False):
        self.data, self.asimov = data, asimov
        self.min_d, self.min_a = data_fit.nll, asimov_fit.nll
        self.r_best = data_fit.r
        self.state_d, self.state_a = data_fit.state, asimov_fit.state
        self.poi = poi
        self.s = settings
        self.trace = trace
        self.single_point = single_point
        self.failed = 0
        self.last_q = (math.nan, math.nan)

    def __call__(self, r: float) -> float:
        s = self.s
        if s.strict_bounds and r > self.poi.hi:
            raise OverflowError("Overflow in getCLs")
        if not s.strict_bounds:
            self.poi.hi = 1.1 * r
        fd = self.data.profile(self.state_d, r)
        self.state_d = fd.state
        fa = self.asimov.profile(self.state_a, r)
        self.state_a = fa.state
        if not fd.ok or not fa.ok:
            self.failed += 1
            if s.picky:
                return -999.0
        q_mu = max(2.0 * (fd.nll - self.min_d), 0.0)
        if self.single_point and r < self.r_best:
            q_mu = 0.0  # q_mu is zero below the best fit: no exclusion from below
        q_a = max(2.0 * (fa.nll - self.min_a), 0.0)
        value, pmu, one_m_pb = cls_from_q(q_mu, q_a, s.use_cls, s.qtilde)
        self.last_q = (q_mu, q_a)
        if self.trace:
            cls = 0.0 if one_m_pb == 0 else pmu / one_m_pb
            self.trace(1, f"At r = {r:f}:\tq_mu = {q_mu:.5f}\tq_A  = {q_a:.5f}\tPmu = {pmu:7.5f}\t"
                       f"1-Pb  = {one_m_pb:7.5f}\tCLs  = {cls:7.5f}")
        return value


def observed_limit(data: ProfileNLL, asimov: ProfileNLL, start: Any, poi: PoiRange, settings: AsymptoticSettings,
                   trace: Trace | None = None, single_point: float | None = None) -> ObservedLimit:
    """``runLimit``: the observed CLs limit (or, with ``single_point``, CLs at that r).

    ``start`` is the clean parameter state; ``poi`` carries the range left by the expected-limit
    search (Combine does not restore ranges) and is updated in place.
    """
    s = settings
    res = ObservedLimit()
    poi.lo = 0.0 if s.qtilde else -poi.hi
    fd = data.fit(start, 0.1 * poi.hi, poi.lo, poi.hi)
    if not fd.ok:
        res.failed_fits += 1
    res.nll_data, res.r_hat = fd.nll, fd.r
    r_err = max(fd.r_err if math.isfinite(fd.r_err) else 0.0, 0.02 * (poi.hi - poi.lo))
    res.r_err = r_err
    if trace:
        trace(1, f"NLL at global minimum of data = {fd.nll:g} (r={fd.r:g})")
    poi.lo = 0.0
    fa = asimov.fit(fd.state, max(fd.r, poi.lo), poi.lo, poi.hi)
    if not fa.ok:
        res.failed_fits += 1
    res.nll_asimov = fa.nll
    if trace:
        trace(1, f"NLL at global minimum of asimov = {fa.nll:g} (r={fa.r:g})")
    cls_at = _ClsEvaluator(data, asimov, fd, fa, poi, s, trace, single_point is not None)

    def finish() -> ObservedLimit:
        res.failed_fits += cls_at.failed
        return res

    if single_point is not None:
        value = cls_at(single_point)
        res.q_values = cls_at.last_q
        q_a = cls_at.last_q[1]
        for q in QUANTILES:
            n = norm_quantile(q)
            pmu = norm_cdf_c(math.sqrt(q_a) - n)
            res.expected_cls.append((q, (pmu / q if q != 0 else 0.0) if s.use_cls else pmu))
        res.limit, res.limit_err, res.ok = value, 0.0, True
        res.points.append((single_point, value))
        return finish()

    target = s.cls_target
    r_lo = max(0.0, fd.r)
    r_hi = r_lo + 3.0 * r_err
    if s.strict_bounds and r_hi > poi.hi:
        r_hi = poi.hi
    cls_hi, cls_lo = 1.0, 0.0
    bracketed = False
    for _ in range(5):
        c = cls_at(r_hi)
        res.points.append((r_hi, c))
        if c == -999:
            res.warnings.append("minimization failed in an unrecoverable way for the calculation of the limit")
            break
        if c < target:
            cls_lo = c
            bracketed = True
            break
        if s.strict_bounds and r_hi == poi.hi:
            rule = s.rule
            res.messages.append(f" {rule} at upper bound r = {r_hi:g} is {c:g}. Stopping search and using upper "
                                "bound as limit.")
            res.limit, res.limit_err, res.ok = r_hi, -1.0, True
            return finish()
        r_hi *= 2.0
    if not bracketed:
        res.warnings.append(f"{s.rule} is still above {target:g} at r = {r_hi:g} after widening the search "
                            "interval 5 times: the observed limit is outside the explored range and unreliable")
    iterations = 0
    while True:
        iterations += 1
        if cls_hi < 3 * target and cls_lo > 0.3 * target:
            # log-linear interpolation, pulled 20% towards the far end of the bracket
            r_x = r_lo + (r_hi - r_lo) * math.log(cls_hi / target) / math.log(cls_hi / cls_lo)
            if (r_x - r_lo) < (r_hi - r_x):
                limit = 0.8 * r_x + 0.2 * r_hi
            else:
                limit = 0.8 * r_x + 0.2 * r_lo
        else:
            limit = 0.5 * (r_lo + r_hi)
        limit_err = 0.5 * (r_hi - r_lo)
        c = cls_at(limit)
        res.points.append((limit, c))
        res.limit, res.limit_err = limit, limit_err
        if c == -999:
            res.warnings.append("minimization failed in an unrecoverable way for the calculation of the limit")
            break
        if c > target:
            cls_hi, r_lo = c, limit
        else:
            cls_lo, r_hi = c, limit
        if not limit_err > max(s.r_rel_acc * limit, s.r_abs_acc):
            break
        if iterations >= s.max_limit_iterations:
            res.warnings.append(f"the observed-limit iteration did not converge in {iterations} steps")
            break
    res.ok = True
    return finish()
