"""The plain data :mod:`.roofit` serialises: RooRealVar, RooArgSet/RooArgList and RooFitResult
contents as dataclasses, and the matrices a RooFitResult derives from its covariance.

Kept apart from the byte layout so that callers (FitDiagnostics, impacts) build these without
reading the serialiser, and the serialiser stays one screenful of ROOT's layout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ArgSet", "FitResult", "RealVar", "correlation_matrix", "global_correlations"]


@dataclass(slots=True)  # slots: a large model's fit results hold ~10^5 of them
class RealVar:
    """One ``RooRealVar``.

    ``error`` < 0 means "no error" (RooFit's default -1); ``asym_lo``/``asym_hi`` are RooFit's
    asymmetric errors (its "none" state is (+1, -1); ``hasAsymError()`` needs lo <= 0 <= hi);
    ``lo``/``hi`` the range (infinite: no limit). ``attributes`` are boolean attributes besides
    ``Constant`` (set from ``constant``), e.g. ``optimizeBounds`` or ``SnapShot_ExtRefClone``;
    ``ranges`` named ranges such as Combine's ``err68``; ``string_attributes`` RooFit's string
    attributes (``setStringAttribute``). ``uuid`` (16 bytes) identifies the
    variable's shared properties: ROOT shares named ranges between variables read with the same
    one, so every variable gets a fresh random one unless given.
    """

    name: str
    value: float
    error: float = -1.0
    asym_lo: float = 1.0
    asym_hi: float = -1.0
    lo: float = -math.inf
    hi: float = math.inf
    constant: bool = False
    title: str | None = None
    attributes: Sequence[str] = ()
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    uuid: bytes | None = None
    string_attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class ArgSet:
    """A ``RooArgSet`` (or, with ``classname="RooArgList"``, a RooArgList) of :class:`RealVar`.

    ``owned``: the collection owns its variables (snapshots, ``addOwned``); ``name`` is the
    collection's own name (``RooAbsCollection::setName``; Combine names ``norm_fit_s`` so).
    """

    variables: list[RealVar]
    name: str = ""
    owned: bool = True
    classname: str = "RooArgSet"


@dataclass
class FitResult:
    """A ``RooFitResult``: ``final`` parameters in the order of ``covariance`` (n x n, or None)."""

    name: str
    title: str
    status: int
    cov_quality: int
    min_nll: float
    edm: float
    constant: list[RealVar]
    initial: list[RealVar]
    final: list[RealVar]
    covariance: np.ndarray | None
    num_bad_nll: int = 0
    history: list[tuple[str, int]] = field(default_factory=list)


def global_correlations(cov: np.ndarray) -> np.ndarray:
    """Minuit's global correlation coefficients sqrt(1 - 1 / (V_ii (V^-1)_ii)), 0 where undefined."""
    cov = np.asarray(cov, dtype=float)
    if cov.size == 0:
        return np.zeros(0)
    diag = np.diag(cov)
    inv_diag = _inverse_diagonal(cov)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = 1.0 - 1.0 / (diag * inv_diag)
    return np.sqrt(np.clip(np.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0))


def _inverse_diagonal(cov: np.ndarray) -> np.ndarray:
    """diag(cov^-1): from the Cholesky factor L (the squared column norms of L^-1; a third of the
    work of a general inverse, which matters for thousands of parameters), else from the
    (pseudo-)inverse."""
    if cov.shape[0] > 200:
        from scipy.linalg import lapack

        chol, info = lapack.dpotrf(cov, lower=True)
        if info == 0:
            inv_l, info = lapack.dtrtri(chol, lower=True)
            if info == 0:
                return np.einsum("ij,ij->j", inv_l, inv_l)
    try:
        return np.diag(np.linalg.inv(cov))
    except np.linalg.LinAlgError:
        return np.diag(np.linalg.pinv(cov))


def correlation_matrix(cov: np.ndarray) -> np.ndarray:
    """cov_ij / sqrt(cov_ii cov_jj), with 0 off the diagonal (1 on it) where a variance is 0."""
    cov = np.asarray(cov, dtype=float)
    d = np.sqrt(np.maximum(np.diag(cov), 0.0))
    # in place on one new matrix (a 10^4-parameter fit's is 800 MB)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = cov / d[:, None]
        c /= d[None, :]
    np.nan_to_num(c, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    np.fill_diagonal(c, 1.0)
    return c
