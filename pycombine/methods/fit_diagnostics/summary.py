"""One FitDiagnostics fit as it is reported: values, errors and covariance at Combine's error level.

Minuit's error level is 0.494473 in these fits, so Hesse errors and covariances are those of
errordef 0.5 scaled by sqrt(2·0.494473) and 2·0.494473. Errors are Minuit's external errors, the
covariance Minuit's external covariance; both include Minuit's treatment of a parameter next to its
range edge (the Fitter's Hessian carries the internal-coordinate term Minuit's numerical Hesse
contains), e.g. the POI error 15.8 of the T' search card and a vanishing POI covariance when r̂ sits
on r = 0.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from ...fit.intervals import DELTA68
from ...fit.minimize import FitResult, use_exact_hessian
from ...model.hessian import gauss_newton_hessian
from ...model.likelihood import Likelihood

#: largest number of parameters for which the BB-lite-extended covariance is built as a dense
#: matrix (12k x 12k doubles: 1.1 GB); beyond, the BB-lite parameters stay profiled out
MAX_DENSE_COVARIANCE = 12_000

#: Combine's fits use Minuit error level DELTA68 instead of 0.5: covariances scale by this
COV_SCALE = 2.0 * DELTA68
ERR_SCALE = math.sqrt(COV_SCALE)


@dataclass
class FitSummary:
    """One FitDiagnostics fit as saved in ``fit_b``/``fit_s`` and the trees."""

    name: str
    ok: bool
    status: int  # fit_status: Minuit status of the fit, -1 if it failed
    values: np.ndarray  # (P,) all parameters (BB-lite values filled in)
    errors: np.ndarray  # (P,) Minuit external errors at Combine's error level (0 if not floating)
    #: (n, n) covariance at Combine's error level of the parameters ``floating`` (in that order);
    #: compact because a (P, P) matrix would not fit in memory with tens of thousands of BB-lite bins
    covariance: np.ndarray
    floating: np.ndarray  # indices of the parameters of ``covariance`` (incl. BB-lite once extended)
    nll: float  # absolute NLL (only differences are meaningful)
    nll_min: float  # NLL - NLL0
    edm: float = float("nan")
    cov_quality: int = 3  # Minuit's covariance quality (3 accurate)
    err_lo: np.ndarray | None = None  # (P,) Minos lower errors (negative), nan where not computed
    err_hi: np.ndarray | None = None
    bb_extended: bool = False
    start: np.ndarray | None = None  # (P,) the values the fit started from (RooFitResult's initial values)

    def correlation(self) -> np.ndarray:
        c = self.covariance
        d = np.sqrt(np.maximum(np.diag(c), 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = c / np.outer(d, d)
        return np.nan_to_num(r)


def _cov_quality(mn) -> int:
    fmin = getattr(mn, "fmin", None)
    if fmin is None or mn.covariance is None:
        return 0
    if fmin.has_accurate_covar:
        return 3
    if fmin.has_made_posdef_covar:
        return 2
    return 1


def summarize(lik: Likelihood, analytic: np.ndarray, name: str, res: FitResult, nll0: float,
              ok: bool) -> FitSummary:
    """``res`` at Combine's error level; ``lik`` has the BB-lite parameters explicit (the NLL is
    evaluated there), ``analytic`` marks the BB-lite parameters the fits profiled analytically."""
    P = lik.m.P
    errors = np.zeros(P)
    free = np.asarray(res.free, dtype=int)
    cov = np.zeros((free.size, free.size))
    mn = res.minuit
    if mn is not None and free.size:
        errors[free] = np.asarray(mn.errors, dtype=float) * ERR_SCALE
        if mn.covariance is not None:
            cov = np.asarray(mn.covariance, dtype=float) * COV_SCALE
    elif free.size:
        # a Newton fit (large models): the covariance is the inverse Gauss-Newton Hessian
        errors[free] = res.errors[free] * ERR_SCALE
        if res.cov_free is not None:
            cov = res.cov_free * COV_SCALE
    nll = float(lik.nll(res.values))
    return FitSummary(
        name=name,
        ok=bool(ok),
        status=int(res.status) if ok else -1,
        values=res.values.copy(),
        errors=errors,
        covariance=cov,
        floating=free,
        nll=nll,
        nll_min=nll - nll0,
        edm=float(res.edm),
        cov_quality=_cov_quality(mn) if mn is not None else 3,
        bb_extended=bool(analytic.any() and np.isin(np.nonzero(analytic)[0], free).all()),
    )


def extend_covariance_to_bb(lik: Likelihood, analytic: np.ndarray, fit: FitSummary) -> None:
    """Add the analytically profiled BB-lite parameters (``analytic``) to ``fit.covariance``.

    Combine's Hesse re-minimises with the BB-lite parameters floating, so its covariance covers
    them. With H the Hessian of the NLL in (f = Minuit's parameters, b = BB-lite) and C_ff the
    Minuit covariance: C_bf = −H_bb⁻¹ H_bf C_ff and C_bb = H_bb⁻¹ + H_bb⁻¹ H_bf C_ff H_fb H_bb⁻¹
    (block inverse; C_ff = (H_ff − H_fb H_bb⁻¹ H_bf)⁻¹ is what Minuit computed with b profiled).
    ``lik`` has the BB-lite parameters explicit.
    """
    if fit.bb_extended or not analytic.any():
        return
    b = np.nonzero(analytic)[0]
    f = np.asarray(fit.floating, dtype=int)
    if b.size + f.size > MAX_DENSE_COVARIANCE:
        sys.stderr.write(f"Warning: {b.size} autoMCStats (BB-lite) parameters are too many for a dense covariance; "
                         f"the {fit.name} uncertainties leave them out\n")
        return
    x = fit.values

    def grad(th):
        return lik.evaluate(th, grad=True)[1]

    # columns of the Hessian for every b and f parameter; only rows b are needed
    cols = np.concatenate([b, f])
    if use_exact_hessian(lik.m, cols.size):
        Hb = np.empty((b.size, cols.size))
        for j, i in enumerate(cols):
            h = 1e-5 * max(1.0, abs(x[i]))
            xp = x.copy()
            xp[i] += h
            xm = x.copy()
            xm[i] -= h
            Hb[:, j] = (grad(xp)[b] - grad(xm)[b]) / (2 * h)
    else:
        # large models: the analytic Gauss-Newton matrix with the BB-lite parameters explicit
        Hb = gauss_newton_hessian(lik, x, cols)[: b.size]
    H_bb = 0.5 * (Hb[:, : b.size] + Hb[:, : b.size].T)
    H_bf = Hb[:, b.size:]
    try:
        Hbb_inv = np.linalg.inv(H_bb)
    except np.linalg.LinAlgError:
        Hbb_inv = np.linalg.pinv(H_bb)
    C_ff = fit.covariance / COV_SCALE  # errordef-0.5 units, like the Hessian
    K = Hbb_inv @ H_bf  # (nb, nf)
    C_bf = -K @ C_ff
    C_bb = Hbb_inv + K @ C_ff @ K.T
    order = np.argsort(np.concatenate([f, b]), kind="stable")
    cov = np.block([[C_ff, C_bf.T], [C_bf, 0.5 * (C_bb + C_bb.T)]])[np.ix_(order, order)] * COV_SCALE
    fit.covariance = cov
    fit.floating = np.concatenate([f, b])[order]
    fit.errors = fit.errors.copy()
    fit.errors[b] = np.sqrt(np.maximum(np.diag(C_bb), 0.0)) * ERR_SCALE
    fit.bb_extended = True
