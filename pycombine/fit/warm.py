"""Profile fits warm-started with a known Hessian.

Migrad starts every fit by computing the Hessian at its starting point and, with strategy 1,
often again at the end. A series of profile fits around one minimum (impacts, the intervals of
MultiDimFit ``--algo singles``) can instead reuse the Hessian of the NLL at the best fit in all
floating parameters: :func:`full_hessian` computes it once, :class:`WarmFitter` hands the part
each fit needs to Migrad.
"""

from __future__ import annotations

import numpy as np

from ..model.batch_gradient import shifted_gradients
from ..model.likelihood import Likelihood
from .minimize import Fitter, ParameterState, use_exact_hessian

__all__ = ["NewtonWarmFitter", "WarmFitter", "full_hessian", "newton_warm", "warm_fitter"]


def full_hessian(model, data, values: np.ndarray, floating: np.ndarray, lo: np.ndarray | None = None,
                 hi: np.ndarray | None = None, step: float = 1e-4) -> np.ndarray:
    """Hessian (P, P) of the NLL in every floating parameter, BB-lite ones included.

    Differences of the analytic gradient of the likelihood with all parameters explicit (no
    analytic Barlow-Beeston profiling): central, or one-sided next to a range end ``lo``/``hi``
    (a POI fitted at its limit). Zero rows for fixed parameters.
    """
    lik = Likelihood(model, data, analytic_bb=False)
    idx = np.nonzero(floating)[0]
    H = np.zeros((model.P, model.P))
    x = np.asarray(values, dtype=float)
    lo = np.full(model.P, -np.inf) if lo is None else lo
    hi = np.full(model.P, np.inf) if hi is None else hi
    # one pair of gradients per parameter (P ~ 100), not per bin, all in one batched pass
    h = step * np.maximum(1.0, np.abs(x[idx]))
    up = np.where(x[idx] + h <= hi[idx], x[idx] + h, x[idx])
    down = np.where(x[idx] - h >= lo[idx], x[idx] - h, x[idx])
    n = idx.size
    G = shifted_gradients(lik, x, np.concatenate([idx, idx]), np.concatenate([up, down]), idx)
    width = up - down  # 0: a range narrower than the step
    with np.errstate(divide="ignore", invalid="ignore"):
        rows = np.where(width[:, None] != 0, (G[:n] - G[n:]) / width[:, None], 0.0)
    rows = np.where(np.isfinite(rows), rows, 0.0)
    H[np.ix_(idx, idx)] = 0.5 * (rows + rows.T)
    return H


class WarmFitter(Fitter):
    """A :class:`~pycombine.fit.minimize.Fitter` whose Migrad runs are seeded with a known Hessian.

    Migrad starts by computing the Hessian at the starting point (here one gradient per free
    parameter) and often repeats it at the end; for profile fits started next to their minimum
    that is most of the cost. The Hessian of the NLL at the best fit, with the fixed parameters
    removed and the analytically profiled Barlow-Beeston parameters integrated out (a Schur
    complement), is an accurate metric for these fits; Migrad's variable-metric updates and its
    EDM test still decide convergence on the true gradient, so the minimum is the same (on the
    H->WW card the crossings agree with exact-Hessian fits to 3e-8 and the impacts to 5e-6).
    """

    def __init__(self, *args, hessian: np.ndarray, floating: np.ndarray, **kwargs):
        super().__init__(*args, **kwargs)
        self._H = hessian
        self._floating = np.nonzero(floating)[0]
        self._fixed: frozenset = frozenset()
        self._cache: dict = {}

    def minimize(self, state, fixed=None, hesse=False, strategy=None):
        self._fixed = frozenset((fixed or {}).keys())
        return super().minimize(state, fixed, hesse=hesse, strategy=strategy)

    def _effective_hessian(self, free: np.ndarray) -> np.ndarray:
        key = (free.tobytes(), self._fixed)
        He = self._cache.get(key)
        if He is None:
            H = self._H
            fs = set(free.tolist())
            out = np.array([j for j in self._floating if j not in fs and j not in self._fixed], dtype=int)
            He = H[np.ix_(free, free)]
            if out.size:  # parameters profiled analytically: integrate them out
                Hfo = H[np.ix_(free, out)]
                try:
                    He = He - Hfo @ np.linalg.solve(H[np.ix_(out, out)], Hfo.T)
                except np.linalg.LinAlgError:
                    pass
            He = 0.5 * (He + He.T)
            self._cache = {key: He}
        return He

    def _run_migrad(self, obj, z0, limits, steps, strategy):
        He = self._effective_hessian(np.asarray(obj.free))
        if np.all(np.isfinite(He)) and np.all(np.diag(He) > 0):
            obj.hessian = lambda z, step=1e-5, _H=He: _H.copy()
        return super()._run_migrad(obj, z0, limits, steps, strategy)


class NewtonWarmFitter(Fitter):
    """A :class:`~pycombine.fit.minimize.Fitter` for models fitted by Newton steps (too large for
    exact Hessians) whose fits each start from the Hessian the previous fit over the same
    parameters ended with (Gauss-Newton with its BFGS refinements, kept factorised), instead of
    computing a new one at every start point: the profile fits of an interval search start next
    to each other. Newton recomputes it wherever convergence slows, and stops on the same
    criterion on the true gradient, so the minima are the same to the fit tolerance."""

    #: the profile fits of a series need their minima only: no covariance (NaN errors)
    newton_covariance = False

    def __init__(self, *args, seed: tuple[np.ndarray, object] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._last: tuple[bytes, object] | None = None
        #: (free parameters, Hessian) of the fit the series starts next to (the best fit): its
        #: restriction to the first profile fit's parameters spares that fit a new Gauss-Newton matrix
        self._seed = seed

    def _newton_start(self, free: np.ndarray):
        if self._last is not None and self._last[0] == free.tobytes():
            return self._last[1]
        if self._seed is not None:
            from .newton import restricted

            # used once: later fits start from their predecessor's (a large model's Hessian is
            # hundreds of MB)
            seed_free, H = self._seed
            self._seed = None
            keep = np.isin(seed_free, free)
            if np.array_equal(seed_free[keep], free):
                return restricted(H, keep)
        return None

    def _newton_end(self, free: np.ndarray, hessian) -> None:
        super()._newton_end(free, hessian)
        self._last = (free.tobytes(), hessian)


def warm_fitter(fitter: Fitter, state: ParameterState, best: np.ndarray) -> Fitter:
    """A :class:`WarmFitter` with ``fitter``'s settings, seeded with the Hessian at ``best``.

    For the profile fits of an interval search. Models too large for exact Hessians are fitted
    by Newton steps on the Gauss-Newton matrix instead: a :class:`NewtonWarmFitter` with
    ``fitter``'s settings is returned for them.
    """
    floating = ~state.frozen
    if not use_exact_hessian(fitter.model, int(floating.sum())):
        # seeded with the Hessian ``fitter``'s last Newton fit ended with (the best fit's, when
        # the interval search follows it)
        return NewtonWarmFitter(fitter.model, fitter.data, fitter.options, remove_bounds=fitter.remove_bounds,
                                analytic_bb=fitter.lik.analytic_bb, keep_range=np.nonzero(fitter.keep_range)[0],
                                seed=fitter.last_newton, lik=fitter.lik)
    H = full_hessian(fitter.model, fitter.data, best, floating, state.lo, state.hi)
    return WarmFitter(fitter.model, fitter.data, fitter.options, remove_bounds=fitter.remove_bounds,
                      analytic_bb=fitter.lik.analytic_bb, keep_range=np.nonzero(fitter.keep_range)[0],
                      hessian=H, floating=floating)


def newton_warm(fitter: Fitter, state: ParameterState) -> Fitter:
    """For a series of profile fits (a likelihood scan) of a model fitted by Newton steps: a
    :class:`NewtonWarmFitter` with ``fitter``'s settings, each fit starting from the Hessian the
    previous one ended with; ``fitter`` itself for models Migrad fits (their scans stay exactly
    as before)."""
    if not fitter.fits_by_newton(int((~state.frozen).sum())):
        return fitter
    m = fitter.model
    return NewtonWarmFitter(m, fitter.data, fitter.options, remove_bounds=fitter.remove_bounds,
                            analytic_bb=fitter.lik.analytic_bb, keep_range=np.nonzero(fitter.keep_range)[0],
                            lik=fitter.lik)
