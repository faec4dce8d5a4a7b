"""Minimisation of the NLL with iminuit (Minuit2's Migrad, like Combine's CascadeMinimizer).

The likelihood supplies its analytic gradient; the Hessian given to Minuit is the forward
difference of that gradient (one gradient call per free parameter instead of Minuit's n^2
function calls). Combine's conventions are kept: errordef 0.5, strategy 1 and tolerance 0.1 by
default (Migrad stops when EDM < 0.002 * tol * errordef), the NLL is offset by its value at the
starting point (``--cminSetZeroPoint``), and a failed Migrad is retried with strategy 2, then
with Minuit's numerical derivatives (where the NLL has kinks: template bins at their floor). The
fit status is Migrad's, as Combine's; Hesse sets the covariance. A fit whose NLL is not finite is
never converged. "Wide" models (many more free parameters than bins) are minimised by Newton steps
with a diagonal-plus-low-rank Hessian (:class:`pycombine.fit.newton.LowRankHessian`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..model.compile import CompiledModel
from ..model.hessian import is_wide
from ..model.likelihood import BAD_NLL, Dataset, Likelihood

#: The Hessian is the finite difference of the analytic gradient (exact, what Minuit's Hesse
#: gives Combine) while that is cheap: (free parameters) x (entries + bins + stored morph values)
#: below this work estimate; above it the analytic Gauss-Newton matrix (pycombine.model.hessian).
#: Deterministic (no timing), so results do not depend on the machine.
EXACT_HESSIAN_MAX_WORK = 2_000_000
#: a failed Migrad is retried with Minuit's numerical derivatives (2n NLL evaluations per
#: gradient) up to this many free parameters
NUMERICAL_FALLBACK_MAX_FREE = 400


def use_exact_hessian(model: CompiledModel, n_free: int) -> bool:
    return n_free * model.stored_values <= EXACT_HESSIAN_MAX_WORK


@dataclass
class MinimizerOptions:
    strategy: int = 1
    tolerance: float = 0.1
    max_calls: int = 0  # 0: Minuit's default
    retries: bool = True
    #: large models (see use_exact_hessian): Newton steps before Migrad
    newton: bool = True


@dataclass(eq=False)  # numpy fields: a generated __eq__ could not compare them
class ParameterState:
    """Values and ranges of all parameters, and which are constant."""

    values: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    frozen: np.ndarray

    @classmethod
    def initial(cls, model: CompiledModel) -> "ParameterState":
        return cls(model.init.copy(), model.lo.copy(), model.hi.copy(), model.frozen.copy())

    def copy(self) -> "ParameterState":
        return ParameterState(self.values.copy(), self.lo.copy(), self.hi.copy(), self.frozen.copy())


@dataclass(eq=False)  # numpy fields: a generated __eq__ could not compare them
class FitResult:
    values: np.ndarray  # (P,) all parameters at the minimum (BB-lite profiled values filled in)
    nll: float
    status: int  # Minuit-like: 0 converged, 1 covariance made positive definite, 3 EDM above goal, 4 failed
    valid: bool
    free: np.ndarray  # indices of the parameters the minimiser moved
    errors: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (P,) parabolic errors (0 if fixed)
    #: (n_free, n_free) covariance of the free parameters, rows/columns in the order of ``free``.
    #: Kept compact: with tens of thousands of BB-lite parameters a (P, P) matrix would not fit in memory.
    cov_free: np.ndarray | None = None
    edm: float = float("nan")
    nfcn: int = 0
    minuit: object = None

    @property
    def covariance(self) -> np.ndarray:
        """(P, P) covariance in the full parameter space (zeros for fixed parameters)."""
        P = self.values.size
        cov = np.zeros((P, P))
        if self.cov_free is not None and self.free.size:
            cov[np.ix_(self.free, self.free)] = self.cov_free
        return cov


class _Objective:
    """The NLL restricted to the free parameters, with caching of the last evaluation."""

    def __init__(self, lik: Likelihood, base: np.ndarray, free: np.ndarray, offset: float = 0.0):
        self.lik = lik
        self.base = base.copy()
        self.free = free
        self.offset = offset
        self._key = None
        self._val = None
        self._grad = None

    def full(self, z: np.ndarray) -> np.ndarray:
        x = self.base.copy()
        x[self.free] = z
        return x

    def _eval(self, z):
        z = np.asarray(z, dtype=float)
        key = z.tobytes()
        if key != self._key:
            val, g, _ = self.lik.evaluate(self.full(z), grad=True)
            self._key, self._val, self._grad = key, val, g[self.free]
        return self._val, self._grad

    def __call__(self, z):
        val = self._eval(z)[0]
        return val - self.offset if val < BAD_NLL else val

    def grad(self, z):
        return self._eval(z)[1]

    def g2(self, z):
        """Diagonal of the Hessian (Minuit2 needs it, e.g. to seed bounded parameters)."""
        return np.diag(self.hessian(z)).copy()

    def hessian(self, z, step: float = 1e-5):
        # Minuit asks for g2 and the Hessian at the same point: compute the matrix once
        z = np.asarray(z, dtype=float)
        key = z.tobytes()
        if getattr(self, "_hkey", None) == key:
            return self._hess.copy()
        H = self._hessian(z, step)
        self._hkey, self._hess = key, H
        return H.copy()

    def _hessian(self, z, step: float):
        if not use_exact_hessian(self.lik.m, z.size):
            # large models: the analytic Gauss-Newton matrix (one Jacobian pass instead of
            # gradient evaluation per parameter); see pycombine.model.hessian
            from ..model.hessian import gauss_newton_hessian

            return gauss_newton_hessian(self.lik, self.full(z), self.free)
        # forward differences of the analytic gradient: one gradient per parameter (central
        # differences cost two for an O(h) = 1e-5 relative gain that no printed digit shows;
        # Hesse errors on the reference cases agree either way)
        from ..model.batch_gradient import shifted_gradients

        g0 = self.grad(z)
        h = step * np.maximum(1.0, np.abs(z))
        # row i: the gradient at z with z_i + h_i, the rows in batched passes
        G = shifted_gradients(self.lik, self.full(z), self.free, z + h, self.free)
        H = (G - g0) / h[:, None]
        return 0.5 * (H + H.T)


def free_indices(model: CompiledModel, state: ParameterState, extra_fixed=(), analytic_bb: bool = True) -> np.ndarray:
    fixed = state.frozen.copy()
    if analytic_bb:
        fixed |= model.analytic
    for i in extra_fixed:
        fixed[i] = True
    return np.nonzero(~fixed)[0]


def step_sizes(model: CompiledModel, state: ParameterState, free: np.ndarray) -> np.ndarray:
    """Initial step sizes: the constraint width, else a fraction of the range or value."""
    steps = np.empty(free.size)
    spec = model.spec.parameters
    for j, i in enumerate(free):
        p = spec[model.names[i]]
        lo, hi = state.lo[i], state.hi[i]
        if p.constraint in ("gauss", "bifur"):
            s = p.sigma
        elif p.constraint == "poisson":
            s = max(np.sqrt(max(p.glob, 1.0)), 0.1)
        elif np.isfinite(lo) and np.isfinite(hi):
            s = 0.1 * (hi - lo) if p.kind == "poi" else min(1.0, 0.1 * (hi - lo))
        else:
            s = 0.1 * max(abs(state.values[i]), 1.0)
        if np.isfinite(lo) and np.isfinite(hi):
            s = min(s, 0.5 * (hi - lo))
        steps[j] = s if s > 0 else 0.1
    return steps


class Fitter:
    """Fits one dataset of one model."""

    def __init__(self, model: CompiledModel, data: Dataset, options: MinimizerOptions | None = None,
                 remove_bounds: bool = False, analytic_bb: bool = True, keep_range=(),
                 lik: Likelihood | None = None):
        self.model = model
        self.data = data
        self.options = options or MinimizerOptions()
        self.remove_bounds = remove_bounds
        # ``lik``: another fitter's likelihood of the same model and data, shared (with its caches:
        # hundreds of MB for a large model) by the fitters of an interval search
        self.lik = lik if lik is not None else Likelihood(model, data, analytic_bb=analytic_bb)
        # parameters whose range stays even with remove_bounds (MultiDimFit's -P nuisances)
        self.keep_range = np.zeros(model.P, dtype=bool)
        self.keep_range[list(keep_range)] = True
        #: (free parameters, Hessian) the last fit by Newton steps ended with, or None
        self.last_newton: tuple[np.ndarray, object] | None = None

    def nll(self, values: np.ndarray) -> float:
        return self.lik.nll(values)

    def limits(self, state: ParameterState, free: np.ndarray) -> list[tuple[float, float]]:
        lo, hi = state.lo[free].copy(), state.hi[free].copy()
        if self.remove_bounds:
            ob = self.model.optimize_bounds[free] & ~self.keep_range[free]
            lo[ob] = -np.inf
            hi[ob] = np.inf
        return list(zip(lo, hi))

    #: whether fits by Newton steps invert their final Hessian for the errors and covariance
    #: (O(n^3): ~0.3 s at 2000 parameters); without, the errors of the free parameters are NaN
    newton_covariance = True

    def fits_by_newton(self, n_free: int) -> bool:
        """Whether a fit over ``n_free`` parameters takes Newton steps on the Gauss-Newton matrix
        (large or wide models) rather than Migrad's."""
        m = self.model
        return self.options.newton and (not use_exact_hessian(m, n_free) or is_wide(m, n_free))

    def start_near(self, values: np.ndarray, minimum: np.ndarray | None, lo: np.ndarray, hi: np.ndarray,
                   n_free: int) -> np.ndarray:
        """Where a fit over ``n_free`` parameters starts: ``values`` (Combine's start), except for
        models fitted by Newton steps when a nearby ``minimum`` is known (clipped to ``lo``/``hi``):
        from there the fit takes about a third of the evaluations, and it stops on the same
        criterion on the true gradient, so the minimum is the same to the fit tolerance."""
        if minimum is None or not self.fits_by_newton(n_free):
            return values
        return np.clip(minimum, lo, hi)

    def minimize(self, state: ParameterState, fixed: dict[int, float] | None = None, hesse: bool = False,
                 strategy: int | None = None) -> FitResult:
        """Minimise over the floating parameters; ``fixed`` pins extra parameters to values."""
        try:
            return self._minimize(state, fixed, hesse, strategy)
        finally:
            self.lik.pin(())

    def _minimize(self, state, fixed, hesse, strategy) -> FitResult:
        m = self.model
        x0 = state.values.copy()
        fixed = fixed or {}
        for i, v in fixed.items():
            x0[i] = v
        free = free_indices(m, state, fixed.keys(), self.lik.analytic_bb)
        # a BB-lite parameter given a fixed value is not profiled analytically during this fit
        self.lik.pin([i for i in fixed if m.analytic[i]])
        x0 = self.lik.bb_values(x0)
        if free.size == 0:
            val = self.lik.nll(x0)
            ok = bool(val < BAD_NLL and np.isfinite(val))
            return FitResult(x0, val, 0 if ok else 4, ok, free, np.zeros(m.P), np.zeros((0, 0)), 0.0, 1)
        limits = self.limits(state, free)
        z0 = np.clip(x0[free], [l for l, _ in limits], [h for _, h in limits])
        if self.fits_by_newton(free.size):
            # large models: Newton steps with the analytic Gauss-Newton Hessian converge in a few
            # iterations where Migrad needs O(n) gradients and O(n^3) internal algebra
            res = self._newton(x0, free, limits)
            if res is not None:
                return res
        offset = self.lik.nll(self._full(x0, free, z0))
        obj = _Objective(self.lik, x0, free, offset if offset < BAD_NLL else 0.0)
        strategy = self.options.strategy if strategy is None else strategy
        mn = self._run_migrad(obj, z0, limits, self.step_sizes(state, free), strategy)
        if self.options.retries and not mn.valid:
            mn2 = self._run_migrad(obj, np.array(mn.values), limits, np.array(mn.errors), 2)
            if mn2.valid or mn2.fval < mn.fval:
                mn = mn2
        numerical = self.options.retries and free.size <= NUMERICAL_FALLBACK_MAX_FREE
        if numerical and not mn.valid:
            # the analytic gradient jumps where a morphed template bin meets its 1e-9 floor (a kink
            # of the NLL, often right at the minimum) and Migrad's EDM then never reaches its goal;
            # Combine's Minuit differentiates numerically, over steps that straddle such kinks:
            # so does this last attempt, from where the others stopped
            mn3 = self._run_migrad(obj, np.array(mn.values), limits, np.array(mn.errors), self.options.strategy,
                                   numerical=True)
            if mn3.valid or mn3.fval < mn.fval:
                mn = mn3
        # the fit status is Migrad's (Combine's RooFitResult::status is the minimisation's); Hesse,
        # which re-estimates the EDM, only sets the covariance and its quality
        status, valid = self._status(mn)
        if hesse:
            self._hesse(mn)
            if numerical and valid and mn.fmin is not None and mn.fmin.is_above_max_edm:
                # Hesse's exact matrix puts the EDM above Migrad's estimate (again a kink near the
                # minimum): go on with numerical derivatives, keep that if it is lower
                mn4 = self._run_migrad(obj, np.array(mn.values), limits, np.array(mn.errors), self.options.strategy,
                                       numerical=True)
                if mn4.valid and mn4.fval < mn.fval:
                    mn = mn4
                    status, valid = self._status(mn)
                    self._hesse(mn)
        return self._result(mn, obj, free, status, valid)

    @staticmethod
    def _hesse(mn) -> None:
        try:
            mn.hesse()
        except Exception:  # pragma: no cover - numerical trouble: keep Migrad's matrix
            pass

    def _newton(self, x0: np.ndarray, free: np.ndarray, limits) -> FitResult | None:
        from .newton import covariance_of, gauss_newton, newton_minimize

        lik = self.lik
        lo = np.array([l for l, _ in limits], dtype=float)
        hi = np.array([h for _, h in limits], dtype=float)

        def value_and_grad(x):
            val, g, _ = lik.evaluate(x, grad=True)
            return val, g[free]

        out = newton_minimize(value_and_grad, lambda x: gauss_newton(lik, x, free), x0, free, lo, hi,
                              edm_goal=0.1 * 0.002 * self.options.tolerance * 0.5, max_iter=80, bfgs=True,
                              H=self._newton_start(free))
        if out is None:
            return None
        self._newton_end(free, out.hessian)
        m = self.model
        x = lik.bb_values(out.x)
        errors = np.zeros(m.P)
        if self.newton_covariance:
            var, c = covariance_of(out.hessian)
            errors[free] = np.sqrt(np.maximum(var, 0.0))
        else:
            c = None
            errors[free] = np.nan
        return FitResult(x, out.nll, 0, True, free, errors, c, out.edm, out.evaluations, None)

    def _newton_start(self, free: np.ndarray):
        """The Hessian a Newton fit over ``free`` starts from (None: computed at its start point);
        :class:`pycombine.fit.warm.NewtonWarmFitter` carries it from one profile fit to the next."""
        return None

    def _newton_end(self, free: np.ndarray, hessian) -> None:
        """Receives the Hessian a Newton fit ended with: kept as :attr:`last_newton` (without its
        factorisations: a large model's are tens of MB each)."""
        from .newton import without_factors

        self.last_newton = (free.copy(), without_factors(hessian))

    def step_sizes(self, state: ParameterState, free: np.ndarray) -> np.ndarray:
        return step_sizes(self.model, state, free)

    @staticmethod
    def _full(x0, free, z):
        x = x0.copy()
        x[free] = z
        return x

    def _run_migrad(self, obj: _Objective, z0, limits, steps, strategy: int, numerical: bool = False):
        """Migrad with the analytic gradient and a Hessian that survives Minuit2's transform.

        Minuit2 maps a user Hessian to its internal (sine/sqrt-transformed) coordinates as
        ``J H J`` and leaves out the ``g * d2x/dint2`` term of the chain rule. For a parameter at
        a limit ``J`` vanishes, the internal Hessian becomes singular and Migrad reports an
        invalid minimum although the point is the minimum (r = 0 fits). The missing term is added
        here in external units, ``g * x'' / J^2`` on the diagonal, so that Minuit's ``J H J`` is
        the exact internal Hessian. A start exactly on a limit is a stationary point of the
        internal coordinates (dx/dint = 0), so it is moved a hair inside. iminuit picks up
        ``grad``/``g2``/``hessian`` attributes of a function object: a plain function is passed.
        """
        from iminuit import Minuit

        lo = np.array([l for l, _ in limits], dtype=float)
        hi = np.array([h for _, h in limits], dtype=float)
        z0 = np.array(z0, dtype=float)
        width = np.where(np.isfinite(hi - lo), hi - lo, np.inf)
        nudge = np.minimum(1e-3 * np.abs(np.asarray(steps, dtype=float)), 1e-3 * width)
        at_lo = np.isfinite(lo) & (z0 <= lo)
        at_hi = np.isfinite(hi) & (z0 >= hi)
        z0[at_lo] = lo[at_lo] + nudge[at_lo]
        z0[at_hi] = hi[at_hi] - nudge[at_hi]
        bounded = bool(np.isfinite(lo).any() or np.isfinite(hi).any())

        def fcn(z):
            return obj(z)

        def hessian(z):
            z = np.asarray(z, dtype=float)
            H = obj.hessian(z)
            if bounded:
                H[np.diag_indices_from(H)] += obj.grad(z) * _limit_curvature(z, lo, hi)
            return H

        def g2(z):
            return np.diag(hessian(z)).copy()

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "hessian overrides g2": Minuit2 still asks for G2
            mn = Minuit(fcn, z0) if numerical else Minuit(fcn, z0, grad=obj.grad, g2=g2, hessian=hessian)
        mn.errordef = Minuit.LIKELIHOOD
        mn.limits = limits
        mn.errors = steps
        mn.strategy = strategy
        mn.tol = self.options.tolerance
        mn.print_level = 0
        mn.throw_nan = False
        try:
            if self.options.max_calls:
                mn.migrad(ncall=self.options.max_calls)
            else:
                mn.migrad()
        except RuntimeError:
            pass
        return mn

    @staticmethod
    def _status(mn) -> tuple[int, bool]:
        """(Minuit-like status, valid) of a Migrad result."""
        fmin = mn.fmin
        valid = bool(mn.valid)
        status = 0 if valid else 4
        if valid and fmin is not None and fmin.has_made_posdef_covar:
            status = 1
        if fmin is not None and fmin.is_above_max_edm:
            status = 3
        return status, valid

    def _result(self, mn, obj: _Objective, free: np.ndarray, status: int | None = None,
                valid: bool | None = None) -> FitResult:
        m = self.model
        z = np.array(mn.values)
        x = self.lik.bb_values(obj.full(z))
        val = self.lik.nll(x)
        fmin = mn.fmin
        if status is None:
            status, valid = self._status(mn)
        if not (val < BAD_NLL and np.isfinite(val)):
            # the minimum is not a point where the likelihood is defined (NaN/inf expectations, a
            # formula outside its domain): never a converged fit, whatever Minuit says
            valid, status = False, 4
        errors = np.zeros(m.P)
        cov = None
        if mn.covariance is not None:
            cov = np.array(mn.covariance)
            errors[free] = np.sqrt(np.maximum(np.diag(cov), 0.0))
        return FitResult(x, val, status, valid, free, errors, cov, float(fmin.edm) if fmin else float("nan"),
                         int(mn.nfcn), mn)

    # ------------------------------------------------------------------ profiles
    def profile(self, state: ParameterState, index: int, value: float) -> FitResult:
        """Minimise with parameter ``index`` fixed at ``value``."""
        return self.minimize(state, {index: value})


def _limit_curvature(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``x'' / J^2`` of Minuit2's parameter transformations, per parameter (0 without limits).

    Two limits: ``x = a + (b-a)/2 (sin t + 1)``; lower only: ``x = a - 1 + sqrt(t^2 + 1)``; upper
    only: ``x = b + 1 - sqrt(t^2 + 1)``. Written in terms of the external value, with the
    vanishing ``J^2`` at a limit clamped (Minuit's own ``J^2`` there is tiny but not zero).
    """
    out = np.zeros_like(x)
    both = np.isfinite(lo) & np.isfinite(hi)
    low = np.isfinite(lo) & ~np.isfinite(hi)
    up = ~np.isfinite(lo) & np.isfinite(hi)
    tiny = 1e-30
    if both.any():
        half = 0.5 * (hi[both] - lo[both])
        s = np.clip((x[both] - lo[both]) / half - 1.0, -1.0, 1.0)
        out[both] = -s / (half * np.maximum(1.0 - s * s, tiny))
    if low.any():
        u = np.maximum(x[low] - lo[low] + 1.0, 1.0)
        out[low] = 1.0 / (u * np.maximum(u * u - 1.0, tiny))
    if up.any():
        u = np.maximum(hi[up] - x[up] + 1.0, 1.0)
        out[up] = -1.0 / (u * np.maximum(u * u - 1.0, tiny))
    return out
