"""The parameters behind FitDiagnostics' uncertainties: the nuisance set, the pre-fit constraint
widths, and the parameter points Combine draws for ``--saveWithUncertainties`` (pre-fit from the
constraint pdfs, post-fit from the fit covariance)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ...fit.minimize import ParameterState
from ...model.compile import CompiledModel
from ...model.likelihood import Dataset
from .summary import FitSummary


def tree_nuisances(session) -> list[str]:
    """Nuisance parameters as in Combine's ``mc->GetNuisanceParameters()`` at run time.

    Combine removes frozen nuisances (``--freezeParameters``/``--freezeNuisanceGroups``) and
    redefined POIs from the set; the order is the model's.
    """
    m = session.model
    pois = set(session.pois)
    out = []
    for n in session.spec.nuisances:
        i = m.index.get(n)
        if i is None or n in pois or session.state.frozen[i]:
            continue
        out.append(n)
    return out


def method_ranges(model: CompiledModel, state: ParameterState) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of every parameter while FitDiagnostics runs: the POI and rateParams keep their
    ranges, lnN/shape/BB-lite parameters (``optimizeBounds``) have theirs removed."""
    ob = model.optimize_bounds
    return np.where(ob, -np.inf, state.lo), np.where(ob, np.inf, state.hi)


def _constraint_moments(p, theta0: float, glob: float) -> float:
    """E[(θ − θ0)²] for θ drawn from its constraint pdf (Combine's pre-fit toy sampler)."""
    c = p.constraint
    if c == "gauss":
        return p.sigma ** 2 + (glob - theta0) ** 2
    if c == "bifur":
        lo, hi = p.sigma_lo, p.sigma_hi
        mean = glob + math.sqrt(2 / math.pi) * (hi - lo)
        var = (lo ** 3 + hi ** 3) / (lo + hi) - (mean - glob) ** 2
        return var + (mean - theta0) ** 2
    if c == "poisson":
        # θ sampled from Poisson(N; θ) as a function of θ: a Gamma(N+1, 1) distribution
        k = glob + 1.0
        return k + (k - theta0) ** 2
    if c == "gamma":
        k, s = glob, p.sigma
        return k * s * s + (k * s - theta0) ** 2
    if c == "uniform":
        lo = p.lo if p.lo is not None else -1.0
        hi = p.hi if p.hi is not None else 1.0
        return (hi - lo) ** 2 / 12.0 + (0.5 * (lo + hi) - theta0) ** 2
    if c in ("dfd", "dfd2"):
        centre = glob if c == "dfd" else 0.0
        return 1.0 / 3.0 + (centre - theta0) ** 2
    return 0.0


def prefit_widths(session, dataset: Dataset) -> np.ndarray:
    """Pre-fit uncertainty of every nuisance (constraint width; sqrt(N) for Poisson ones)."""
    m = session.model
    out = np.zeros(m.P)
    for n in session.spec.nuisances:
        i = m.index[n]
        p = session.spec.parameters[n]
        if p.constraint == "gauss":
            out[i] = p.sigma
        elif p.constraint == "bifur":
            out[i] = 0.5 * (p.sigma_lo + p.sigma_hi)
        elif p.constraint == "poisson":
            out[i] = math.sqrt(max(float(dataset.glob[i]) if np.isfinite(dataset.glob[i]) else p.glob, 1.0))
        elif p.constraint == "gamma":
            out[i] = math.sqrt(max(p.glob, 1.0)) * p.sigma
    return out


@dataclass
class Sampling:
    """How Combine draws parameter points for ``--saveWithUncertainties`` at one stage."""

    index: np.ndarray  # (n,) parameters that vary
    scale: np.ndarray  # (n, n) L: linearised shifts L z for standard-normal z
    draw: Callable[[np.ndarray], np.ndarray]  # (N, n) standard normals -> (N, P) parameter vectors


def postfit_sampling(session, fit: FitSummary) -> Sampling:
    """Multivariate Gaussian with the fit covariance (``RooFitResult::randomizePars``).

    Combine sets the drawn values with ``RooRealVar::setVal``, which clips them to the parameter
    ranges in force during the method (:func:`method_ranges`).
    """
    idx = np.asarray(fit.floating, dtype=int)
    cov = fit.covariance
    cov = 0.5 * (cov + cov.T)
    try:
        L = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        w, V = np.linalg.eigh(cov)
        L = V * np.sqrt(np.maximum(w, 0.0))
    lo, hi = method_ranges(session.model, session.state)
    lo, hi = lo[idx], hi[idx]
    centre = fit.values.copy()

    def draw(Z):
        X = np.tile(centre, (Z.shape[0], 1))
        X[:, idx] = np.clip(centre[idx] + Z @ L.T, lo, hi)
        return X

    return Sampling(idx, L, draw)


def prefit_sampling(session, dataset: Dataset, values: np.ndarray, names: list[str]) -> Sampling:
    """Nuisances drawn independently from their constraint pdfs (Combine's ``ToySampler``)."""
    # scipy.special is imported only when a non-Gaussian constraint needs it (0.1 s of import)
    def ndtr(z):
        from scipy.special import ndtr as f

        return f(z)

    def ndtri(p):
        from scipy.special import ndtri as f

        return f(p)

    def gammaincinv(k, p):
        from scipy.special import gammaincinv as f

        return f(k, p)

    m = session.model
    idx, sig, transforms = [], [], []
    for n in names:
        i = m.index[n]
        p = session.spec.parameters[n]
        g = float(dataset.glob[i]) if np.isfinite(dataset.glob[i]) else float(p.glob)
        c = p.constraint
        if c == "gauss":
            t = (lambda z, g=g, s=p.sigma: g + s * z)
        elif c == "bifur":
            sl, sh = p.sigma_lo, p.sigma_hi
            pl = sl / (sl + sh)

            def t(z, g=g, sl=sl, sh=sh, pl=pl):
                u = ndtr(z)
                lo_side = g + sl * ndtri(np.clip(u / (2 * pl), 1e-300, 1.0))
                hi_side = g + sh * ndtri(np.clip(0.5 + (u - pl) / (2 * (1 - pl)), 0.0, 1 - 1e-16))
                return np.where(u < pl, lo_side, hi_side)
        elif c == "poisson":
            # Poisson(N; θ) as a density of θ is Gamma(N + 1, 1)
            t = (lambda z, k=g + 1.0: gammaincinv(k, ndtr(z)))
        elif c == "gamma":
            t = (lambda z, k=g, s=p.sigma: s * gammaincinv(k, ndtr(z)))
        elif c == "uniform":
            lo_ = p.lo if p.lo is not None else -1.0
            hi_ = p.hi if p.hi is not None else 1.0
            t = (lambda z, a=lo_, b=hi_: a + (b - a) * ndtr(z))
        else:
            continue
        v = _constraint_moments(p, float(values[i]), g)
        if not v > 0:
            continue
        idx.append(i)
        sig.append(math.sqrt(v))
        transforms.append(t)
    idx_a = np.array(idx, dtype=int)
    centre = np.asarray(values, dtype=float).copy()

    def draw(Z):
        X = np.tile(centre, (Z.shape[0], 1))
        for j, (i, t) in enumerate(zip(idx_a, transforms)):
            X[:, i] = t(Z[:, j])
        return X

    return Sampling(idx_a, np.diag(np.array(sig, dtype=float)), draw)
