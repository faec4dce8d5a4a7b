"""``combine -M AsymptoticLimits``: asymptotic CLs limits (Combine's ``src/AsymptoticLimits.cc``).

The algorithm itself lives in :mod:`pycombine.fit.asymptotic`; this module connects it to a
:class:`~pycombine.session.Session` (datasets, fits, the Asimov dataset of ``src/AsimovUtils.cc``)
and produces Combine's console block and ``limit`` tree.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelError, OptionError
from ..fit.asymptotic import (
    AsymptoticSettings,
    ExpectedLimits,
    ObservedLimit,
    PoiFit,
    PoiRange,
    expected_limits,
    observed_limit,
)
from ..fit.minimize import free_indices
from ..fit.newton import gauss_newton, newton_minimize
from .base import ToyOutcome, limit_row

RUN_CHOICES = ("both", "observed", "expected", "blind")


# ---------------------------------------------------------------------- options
def single_point_value(opts) -> float | None:
    """``--singlePoint r`` as a number (the option is a string: HybridNew also takes ``r=1,x=2``)."""
    text = getattr(opts, "single_point", None)
    if text is None or text == "":
        return None
    if isinstance(text, (int, float)):
        return float(text)
    value = text.split("=", 1)[1] if "=" in text else text
    try:
        out = float(value)
    except ValueError:
        raise OptionError(f"--singlePoint: {text!r} is not a number") from None
    if not math.isfinite(out):
        raise OptionError(f"--singlePoint: {text!r} is not a finite number")
    return out


def _number(opts, dest: str, default: float) -> float:
    """An option whose default depends on the method (None in the shared option table)."""
    value = getattr(opts, dest, None)
    return default if value is None else float(value)


def check_options(opts) -> None:
    single = single_point_value(opts)
    run = getattr(opts, "run", "both")
    if single is not None:
        if run != "both":
            raise OptionError("AsymptoticLimits: when using --singlePoint you can't use --run (at least for now)")
    elif run not in RUN_CHOICES:
        raise OptionError("AsymptoticLimits: option 'run' can only be 'observed', 'expected', 'both' (the default) "
                          "or 'blind' (a-priori expected)")
    if getattr(opts, "rule", "CLs") not in ("CLs", "Pmu"):
        raise OptionError("AsymptoticLimits: Rule must be either 'CLs' or 'Pmu'")
    algo = getattr(opts, "minos_algo", "stepping")
    if algo not in ("stepping", "bisection"):
        raise OptionError(f"AsymptoticLimits: --minosAlgo {algo} is not supported by pycombine "
                          "(use 'stepping', the default, or 'bisection')")
    if getattr(opts, "get_limit_from_grid", ""):
        raise OptionError("AsymptoticLimits: --getLimitFromGrid is not supported by pycombine")


def no_fit_asimov(opts) -> bool:
    return bool(getattr(opts, "no_fit_asimov", False) or getattr(opts, "bypass_frequentist_fit", False)
                or getattr(opts, "run", "both") == "blind")


def option_messages(opts) -> list[str]:
    if no_fit_asimov(opts):
        return ["Will use a-priori instead of a-posteriori expected background."]
    return []


def settings_from_options(opts) -> AsymptoticSettings:
    sse = float(getattr(opts, "signal_strength_for_expected", 0.0) or 0.0)
    return AsymptoticSettings(
        cl=float(getattr(opts, "cl", 0.95)),
        rule=getattr(opts, "rule", "CLs"),
        qtilde=bool(getattr(opts, "qtilde", True)),
        r_abs_acc=_number(opts, "r_abs_acc", 0.0005),
        r_rel_acc=_number(opts, "r_rel_acc", 0.005),
        strict_bounds=bool(getattr(opts, "strict_bounds", False)),
        crossing_tolerance=0.05 * float(getattr(opts, "cmin_tolerance", 0.1)),
        new_expected=bool(getattr(opts, "new_expected", True)),
        minos_algo=getattr(opts, "minos_algo", "stepping"),
        picky=bool(getattr(opts, "picky", False)),
        # Combine treats an explicitly given value as "non-standard" even if it is 0; we cannot
        # tell a given 0 from the default, and with 0 both paths give the same numbers
        signal_strength_for_expected=sse if sse != 0.0 else None,
    )


# ---------------------------------------------------------------------- model adapter
class ModelNLL:
    """:class:`~pycombine.fit.asymptotic.ProfileNLL` of one dataset of a session's model.

    The state is the full parameter vector; ranges and frozen flags come from ``base`` (the
    clean state), the POI range from the caller. Fits keep the parameter bounds.

    Free fits use the shared Migrad :class:`~pycombine.fit.minimize.Fitter`. Conditional fits,
    dozens to hundreds per run and each warm-started next to its minimum, use a Newton
    iteration on the analytic gradient with a Hessian carried over from the previous point
    (refreshed when convergence slows), and fall back to Migrad whenever that does not converge
    cleanly inside the parameter ranges.
    """

    #: Newton stops when 0.5 g^T H^-1 g is below this (Migrad's goal is 1e-4 at tolerance 0.1)
    EDM_GOAL = 1e-5
    #: Hessian recomputations allowed per conditional fit before falling back to Migrad
    MAX_REFRESH = 3

    def __init__(self, session, data, base, fast: bool = True):
        self.fitter = session.fitter(data, remove_bounds=False)
        self.base = base
        self.ir = session.poi_index
        self.fits = 0
        self.fast = fast
        self.newton_fits = 0
        self._hess: np.ndarray | None = None
        #: (r, minimum) of the last two Newton profile fits, for :meth:`_predicted_start`
        self._path: tuple = ()
        st = self._state(base.values)
        self._free = free_indices(self.fitter.model, st, [self.ir], self.fitter.lik.analytic_bb)
        self._lo = st.lo[self._free]
        self._hi = st.hi[self._free]

    def _state(self, values: np.ndarray):
        st = self.base.copy()
        st.values = np.array(values, dtype=float)
        st.frozen[self.ir] = False
        return st

    def start_near(self, minimum: np.ndarray | None) -> np.ndarray:
        """Where the free fit starts: the clean state, or for models fitted by Newton steps a
        nearby ``minimum`` (the fit at r = 0 made for the Asimov dataset; :meth:`Fitter.start_near`)."""
        b = self.base
        return np.array(self.fitter.start_near(b.values, minimum, b.lo, b.hi, self._free.size), dtype=float)

    def fit(self, start, r_start: float, r_lo: float, r_hi: float) -> PoiFit:
        st = self._state(start)
        ir = self.ir
        st.lo[ir], st.hi[ir] = r_lo, r_hi
        st.values[ir] = min(max(r_start, r_lo), r_hi)
        res = self.fitter.minimize(st)
        self.fits += 1
        return PoiFit(res.nll, float(res.values[ir]), float(res.errors[ir]), res.values, res.status in (0, 1))

    def profile(self, start, r: float) -> PoiFit:
        self.fits += 1
        if self.fast:
            out = self._newton(self._predicted_start(start, r), r)
            if out is not None:
                self.newton_fits += 1
                self._path = (self._path[-1], (r, out.state)) if self._path else ((r, out.state),)
                return out
        self._path = ()
        res = self.fitter.minimize(self._state(start), {self.ir: r})
        self._hess = None
        return PoiFit(res.nll, r, 0.0, res.values, res.status in (0, 1))

    #: the profile path is extrapolated at most this many times its last step
    MAX_EXTRAPOLATION = 2.0

    def _predicted_start(self, start, r: float) -> np.ndarray:
        """Where the Newton profile fit at ``r`` starts: ``start`` itself, or, when ``start`` is
        the minimum of the previous profile fit and the one before is known, the straight line
        through the two minima evaluated at ``r`` (the profiled parameters move smoothly with r:
        the search's next point is then often a minimum already, to the fit tolerance)."""
        x = np.array(start, dtype=float)
        if len(self._path) < 2 or self._path[-1][1] is not start:
            return x
        (r1, x1), (r2, x2) = self._path
        if r2 == r1 or not abs(r - r2) <= self.MAX_EXTRAPOLATION * abs(r2 - r1):
            return x
        free = self._free
        x[free] = np.clip(x2[free] + (r - r2) / (r2 - r1) * (x2[free] - x1[free]), self._lo, self._hi)
        return x

    def value(self, state, r: float) -> float:
        v = np.array(state, dtype=float)
        v[self.ir] = r
        return self.fitter.nll(v)

    # ------------------------------------------------------------------ Newton profiling
    def _grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        val, g, _ = self.fitter.lik.evaluate(x, grad=True)
        return float(val), g[self._free]

    def _hessian(self, x: np.ndarray) -> np.ndarray:
        """The analytic Gauss-Newton matrix (pycombine.model.hessian); newton_minimize refines it
        by BFGS updates. It costs one Jacobian, where differences of the gradient would cost one
        NLL evaluation per free parameter; the profile fits only need it to converge, the limits
        depend on the minima alone."""
        return gauss_newton(self.fitter.lik, x, self._free)

    def _newton(self, x: np.ndarray, r: float) -> PoiFit | None:
        """Conditional minimum at r by projected Newton steps (pycombine.fit.newton), reusing the
        Hessian of the previous point; None lets Migrad do it."""
        free = self._free
        x = np.array(x, dtype=float)
        x[self.ir] = r
        if free.size == 0:
            return PoiFit(self.fitter.nll(x), r, 0.0, x, True)
        out = newton_minimize(self._grad, self._hessian, x, free, self._lo, self._hi, edm_goal=self.EDM_GOAL,
                              max_refresh=self.MAX_REFRESH, H=self._hess, bfgs=True, max_iter=80)
        if out is None:
            return None
        self._hess = out.hessian
        return PoiFit(out.nll, r, 0.0, out.x, True)


def asimov_global_observables(model, values: np.ndarray, glob: np.ndarray) -> np.ndarray:
    """Global observables for which ``values`` is the constraint's best fit (``asimovDatasetWithFit``).

    Gaussian, bifurcated-Gaussian, Poisson and Fermi-Dirac terms take the parameter value; a
    Gamma term (gmM) takes x/theta + 1. Frozen parameters move too: that only shifts the NLL by
    a constant.
    """
    out = glob.copy()
    has = ~np.isnan(out)
    out[has] = values[has]
    g = model.gamma_idx
    if g.size:
        out[g] = values[g] / model.gamma_scale + 1.0
    return out


def build_asimov(session, data, mu: float, fit: bool):
    """The Asimov dataset of this method and the parameter state it leaves (``asimovDataset``).

    With ``fit`` (a-posteriori): r fixed at ``mu``, the other parameters fitted to ``data``, the
    Asimov generated there and its global observables moved to the fitted values. Without: the
    expectation at the clean state with r = ``mu`` and the data's global observables.
    """
    clean = session.state
    ir = session.poi_index
    values = clean.values.copy()
    values[ir] = mu
    if not fit:
        return session.asimov(values, data.glob.copy()), values
    fitter = session.fitter(data, remove_bounds=False)
    st = clean.copy()
    st.values = values
    res = fitter.minimize(st, {ir: mu})
    values = res.values.copy()
    glob = asimov_global_observables(session.model, values, data.glob)
    return session.asimov(values, glob), values


# ---------------------------------------------------------------------- the method
@dataclass
class AsymptoticResult:
    run: str
    poi: str
    rule: str
    expected: ExpectedLimits | None = None
    observed: ObservedLimit | None = None
    single_point: float | None = None
    failed_fits: int = 0
    fits: int = 0
    error: str = ""
    warnings: list[str] = field(default_factory=list)

    def tree_rows(self) -> list[tuple[float, float, float]]:
        """(limit, limitErr, quantileExpected) in Combine's order."""
        rows = []
        if self.expected is not None:
            rows += [(v, 0.0, q) for q, v in self.expected.rows]
        if self.observed is not None:
            o = self.observed
            if self.single_point is not None:
                rows += [(v, 0.0, q) for q, v in o.expected_cls]
            if o.ok:
                rows.append((o.limit, o.limit_err, -1.0))
        return rows


def asymptotic_limits(session, data, run: str = "both", fit_asimov: bool = True,
                      settings: AsymptoticSettings | None = None, single_point: float | None = None,
                      trace=None) -> AsymptoticResult:
    """Expected and/or observed asymptotic limits on ``data`` (Combine's order of operations).

    ``run`` is 'both', 'expected' or 'observed' ('blind' = 'expected' with ``fit_asimov=False``).
    Partial results stay in the returned object if a step raises.
    """
    s = settings or AsymptoticSettings()
    if run == "blind":
        run, fit_asimov = "expected", False
    ir = session.poi_index
    clean = session.state
    res = AsymptoticResult(run if single_point is None else "singlePoint", session.pois[0], s.rule,
                           single_point=single_point)
    poi = PoiRange(float(clean.lo[ir]), float(clean.hi[ir]))
    mu_exp = s.signal_strength_for_expected or 0.0
    nlls: list[ModelNLL] = []
    asimov = None
    b_only = None  # the parameters of the fit r = 0 to the data, when one was made
    try:
        if single_point is None and run in ("both", "expected"):
            asimov, start = build_asimov(session, data, mu_exp, fit_asimov)
            if fit_asimov and mu_exp == 0.0:
                b_only = start
            nll_a = ModelNLL(session, asimov, clean)
            nlls.append(nll_a)
            res.expected = ExpectedLimits()
            expected_limits(nll_a, start, poi, s, trace, result=res.expected)
            res.warnings += res.expected.warnings
            res.failed_fits += res.expected.failed_fits
        if single_point is not None or run in ("both", "observed"):
            if asimov is None or s.signal_strength_for_expected is not None:
                asimov, start = build_asimov(session, data, 0.0, fit_asimov)
                b_only = start if fit_asimov else None
            nll_d = ModelNLL(session, data, clean)
            nll_a = ModelNLL(session, asimov, clean)
            nlls += [nll_d, nll_a]
            res.observed = observed_limit(nll_d, nll_a, nll_d.start_near(b_only), poi, s, trace, single_point)
            res.warnings += res.observed.warnings
            res.failed_fits += res.observed.failed_fits
    except (ArithmeticError, ValueError, np.linalg.LinAlgError) as e:
        res.error = str(e) or type(e).__name__
    res.fits = sum(n.fits for n in nlls)
    return res


def print_block(res: AsymptoticResult, out=print) -> None:
    """Combine's console block (printf formats of ``AsymptoticLimits::run``)."""
    out("")
    out(f" -- AsymptoticLimits ( {res.rule} ) --")
    o = res.observed
    if res.single_point is not None:
        if o is not None and o.ok:
            out("Observed %s for %s = %.1f: %6.4f " % (res.rule, res.poi, res.single_point, o.limit))
    elif o is not None and o.ok and res.run != "expected":
        out("Observed Limit: %s < %6.4f" % (res.poi, o.limit))
    if res.expected is not None:
        for q, v in res.expected.printed:
            out("Expected %4.1f%%: %s < %6.4f" % (q * 100, res.poi, v))
    out("")


def run(session) -> int:
    opts = session.opts
    data, i_toy = session.main_dataset()
    settings = settings_from_options(opts)
    verbose = int(getattr(opts, "verbose", 0) or 0)

    def trace(level: int, message: str) -> None:
        if verbose >= level:
            print(message)

    single = single_point_value(opts)
    res = asymptotic_limits(session, data, getattr(opts, "run", "both"), not no_fit_asimov(opts), settings,
                            single_point=single, trace=trace if verbose >= 1 else None)
    if res.observed is not None:
        for line in res.observed.messages:
            print(line)
    err = session.err
    for w in res.warnings:
        err(f"Warning: AsymptoticLimits: {w}")
    if res.failed_fits:
        err(f"Warning: AsymptoticLimits: {res.failed_fits} of {res.fits} fits did not converge "
            "(Minuit status not 0/1); the limits may be inaccurate")
    if res.error:
        # Combine prints "Caught exception ..." and exits 0 with an empty tree; a run on the data
        # that produced no limit is an error here (exit 1, no output file), naming the cause
        what = "the Asimov data set (-t -1)" if i_toy == -1 else "the observed data"
        raise ModelError(f"AsymptoticLimits failed on {what} of {session.spec.path or 'the model'}: {res.error}")
    print_block(res)
    tree = session.limit_tree()
    extra = {}
    if single is not None:
        tree.branches.append(("r", np.dtype("f8")))
        extra = {"r": float(single)}
    for limit, limit_err, q in res.tree_rows():
        tree.add(limit, limit_err, q, i_toy, **extra)
    tree.write(session.output_filename())
    sys.stdout.flush()
    return 0


def run_toy(session, data, i_toy: int, generation, first: bool) -> ToyOutcome:
    """One toy: the limits' block and rows; the toy counts when its observed limit was found
    (Combine's ``AsymptoticLimits::run`` returns the observed result only)."""
    opts = session.opts
    single = single_point_value(opts)
    res = asymptotic_limits(session, data, getattr(opts, "run", "both"), not no_fit_asimov(opts),
                            settings_from_options(opts), single_point=single)
    if res.observed is not None:
        for line in res.observed.messages:
            print(line)
    for w in res.warnings:
        session.err(f"Warning: AsymptoticLimits: {w}")
    if res.failed_fits:
        session.err(f"Warning: AsymptoticLimits: {res.failed_fits} of {res.fits} fits did not converge "
                    "(Minuit status not 0/1); the limits may be inaccurate")
    if res.error:
        session.err(f"Caught exception {res.error}")
    else:
        print_block(res)
    branches, extra = [], {}
    if single is not None:
        branches, extra = [("r", np.dtype("f8"))], {"r": float(single)}
    rows = [limit_row(limit, err, q, i_toy, extra) for limit, err, q in res.tree_rows()]
    o = res.observed
    counted = o is not None and o.ok and not res.error
    return ToyOutcome(i_toy, rows, branches, counted=counted, limit=float(o.limit) if counted else 0.0)
