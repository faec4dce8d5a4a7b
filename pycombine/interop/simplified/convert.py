"""A simplified likelihood as a :class:`~pycombine.model.spec.ModelSpec`, so every method runs on it.

Each SL bin becomes a counting channel (named by its bin label) with two processes:

* ``signal``: yield ``s_i``, multiplied by the POI (``r``, range [0, 20] as Combine's default);
* ``background``: yield 1 times a formula ``a_i + b_i t_i + c_i t_i^2`` (:mod:`.expansion`),
  where ``t = L z`` with ``L`` the Cholesky factor of the expansion's correlation matrix rho and
  ``z_k`` independent nuisances with unit Gaussian constraints (``SL_z<k>``, k the bin index).

Going through ``z`` rather than a multivariate-normal constraint keeps the model inside what the
compiled likelihood already evaluates (Gaussian constraints, formula factors): fits, Asimov
datasets, toys (z and its global observables are drawn as for any ``param`` nuisance) and every
``-M`` work unchanged. The formula is exact (no approximation beyond the SL itself).
"""

from __future__ import annotations

import numpy as np

from ...model.spec import ChannelSpec, FormulaSpec, ModelSpec, Parameter, ProcessSpec, gaussian_nuisance
from .expansion import coefficients
from .format import SimplifiedLikelihood

#: range of the unit-Gaussian nuisances z_k (as Combine's lnN nuisances)
Z_RANGE = 7.0
#: range of the POI (Combine's default r range)
POI_RANGE = (0.0, 20.0)


def z_name(k: int) -> str:
    return f"SL_z{k}"


def background_expression(a: float, b: float, c: float, row: np.ndarray) -> tuple[str, list[int]]:
    """The RooFormulaVar-style expression of one bin's background and the z indices it uses.

    ``row`` is the bin's row of L (lower triangular); zero entries are left out.
    """
    used = [k for k in range(row.size) if row[k] != 0.0]
    terms = " + ".join(f"({float(row[k])!r})*@{j}" for j, k in enumerate(used)) or "0"
    t = f"({terms})"
    expr = f"({a!r}) + ({b!r})*{t}"
    if c != 0.0:
        expr += f" + ({c!r})*{t}*{t}"
    return expr, used


def build_model(sl: SimplifiedLikelihood, path: str, mass: float | None = None) -> ModelSpec:
    """The :class:`ModelSpec` of a (checked) simplified likelihood."""
    e = coefficients(sl.m1, sl.m2, sl.m3)
    try:
        L = np.linalg.cholesky(e.rho)
    except np.linalg.LinAlgError:
        # rho of a positive-definite m2 can lose definiteness only through rounding; clip its spectrum
        w, V = np.linalg.eigh(e.rho)
        rho = (V * np.maximum(w, 1e-12)) @ V.T
        d = np.sqrt(np.diag(rho))
        L = np.linalg.cholesky(rho / np.outer(d, d))
    poi = sl.poi or "r"
    params: dict[str, Parameter] = {poi: Parameter(poi, 1.0, POI_RANGE[0], POI_RANGE[1], kind="poi", origin="POI")}
    n = len(sl.bins)
    for k in range(n):
        name = z_name(k)
        p = gaussian_nuisance(name, 0.0, -Z_RANGE, Z_RANGE, "simplified")
        p.global_obs_range = (-Z_RANGE, Z_RANGE)
        p.optimize_bounds = True
        params[name] = p
    formulas: dict[str, FormulaSpec] = {}
    channels = []
    for i, label in enumerate(sl.bins):
        expr, used = background_expression(float(e.a[i]), float(e.b[i]), float(e.c[i]), L[i])
        fname = f"SL_bkg_{label}"
        formulas[fname] = FormulaSpec(fname, expr, [z_name(k) for k in used])
        sig = ProcessSpec(channel=label, name="signal", is_signal=True, rate=float(sl.signal[i]),
                          norm=float(sl.signal[i]), factors=[poi])
        bkg = ProcessSpec(channel=label, name="background", is_signal=False, rate=1.0, norm=1.0, factors=[fname])
        channels.append(ChannelSpec(label, False, 1, [sig, bkg], data=np.array([float(sl.data[i])])))
    nuisances = [z_name(k) for k in range(n)]
    return ModelSpec(
        channels=channels, parameters=params, formulas=formulas, pois=[poi], nuisances=nuisances,
        global_observables=[z + "_In" for z in nuisances], groups={}, mass=float(sl.mass if mass is None else mass),
        counting=True, max_bins=0, path=path,
    )
