"""Nuisance parameters from the datacard's systematic lines and their constraint terms.

Ranges, initial values and global observables are those of Combine's ``ModelTools.py``
(``doNuisances``): lnN and shape nuisances are unit Gaussians in [-7, 7] (``shape`` lines: [-4, 4]), gmN
get a Poisson constraint with the ranges found by scanning ``TMath::Poisson``, param lines a
(bifurcated) Gaussian around their mean. Numbers pass through ``%f``/``%g`` as in Combine.
"""

from __future__ import annotations

import math

from ..datacard.model import Systematic, is_shape_type
from ..datacard.parse import parse_range
from ..errors import DatacardError
from .build_numeric import is_float, round_f, round_g, tmath_poisson
from .spec import Parameter


def _add(params: dict[str, Parameter], p: Parameter) -> Parameter:
    params[p.name] = p
    return p


def _gauss(params: dict[str, Parameter], s: Systematic, lo: float, hi: float) -> None:
    """A unit-Gaussian nuisance in [lo, hi] (lnN and shape lines)."""
    name = s.name
    p = params.get(name)
    if p is None:
        p = _add(params, Parameter(name, 0.0, lo, hi, line=s.line, origin=s.pdf))
        p.global_obs_range = (lo, hi)
    if p.constraint == "none" or p.kind != "nuisance":
        p.constraint = "gauss"
        p.sigma = 1.0
        p.glob = 0.0
        p.global_obs = name + "_In"
        if p.global_obs_range is None:
            p.global_obs_range = (lo, hi)
    p.init = 0.0
    p.optimize_bounds = True
    p.kind = "nuisance"


def add_nuisance(params: dict[str, Parameter], global_obs: list[str], s: Systematic) -> None:
    """Create (or complete) the parameter of systematic line ``s`` in ``params``.

    Appends the name of its global observable to ``global_obs`` (one entry per line, so a name
    may repeat; the caller deduplicates). A name that exists already (a POI, an earlier line) is
    completed, not recreated.
    """
    name, pdf = s.name, s.pdf
    if pdf == "lnN" or (is_shape_type(pdf) and pdf != "shapeU"):
        r = 4.0 if pdf == "shape" else 7.0
        _gauss(params, s, -r, r)
        global_obs.append(name + "_In")
    elif pdf == "gmN":
        n = s.args[0]
        min_exp = n + 1 if n > 0 else 0
        while tmath_poisson(n, min_exp) > 1e-12 and min_exp > 0:
            min_exp *= 0.8
        max_exp = n + 1
        while tmath_poisson(n, max_exp) > 1e-12:
            max_exp *= 1.2
        min_obs = n
        while min_obs > 0 and tmath_poisson(min_obs, n + 1) > 1e-12:
            min_obs -= math.sqrt(n) if n > 10 else 1
        max_obs = n + 2
        while tmath_poisson(max_obs, n + 1) > 1e-12:
            max_obs += math.sqrt(n) if n > 10 else 2
        if name not in params:
            p = _add(params, Parameter(name, round_f(n + 1), round_f(min_exp), round_f(max_exp), constraint="poisson",
                                       line=s.line, origin="gmN"))
            p.glob = float(n)
            p.global_obs = name + "_In"
            p.global_obs_range = (round_f(min_obs), round_f(max_obs))
        global_obs.append(name + "_In")
    elif pdf == "gmM":
        val = 0.0
        for row in s.effects.values():
            for v in row.values():
                if v != 0:
                    if val != 0 and v != val:
                        raise DatacardError(f"gmM line '{name}' has two different values {v:g} and {val:g}",
                                            line=s.line)
                    val = v
        theta = val * val
        kappa = 1.0 / theta
        if name not in params:
            p = _add(params, Parameter(name, 1.0, round_f(max(0.01, 1 - 5 * val)), round_f(1 + 5 * val),
                                       constraint="gamma", line=s.line, origin="gmM"))
            p.sigma = theta  # the gamma scale
            p.glob = kappa  # the gamma shape (global observable)
            p.global_obs = name + "_In"
            p.global_obs_range = (1.0, 2 * kappa + 4)
        global_obs.append(name + "_In")
    elif pdf == "trG":
        lo, hi = -7.0, 7.0
        for row in s.effects.values():
            for v in row.values():
                if v > 0 and 1.0 + lo * v < 0:
                    lo = -1.0 / v
                if v < 0 and 1.0 + hi * v < 0:
                    hi = -1.0 / v
        if name not in params:
            p = _add(params, Parameter(name, 0.0, round_f(lo), round_f(hi), constraint="gauss", line=s.line,
                                       origin="trG"))
            p.global_obs = name + "_In"
            p.global_obs_range = (round_f(lo), round_f(hi))
        global_obs.append(name + "_In")
    elif pdf in ("lnU", "shapeU"):
        if name not in params:
            _add(params, Parameter(name, 0.0, -1.0, 1.0, constraint="uniform", line=s.line, origin=pdf))
    elif pdf == "unif":
        if name not in params:
            lo, hi = s.args
            _add(params, Parameter(name, 0.5 * (lo + hi), round_f(lo), round_f(hi), constraint="uniform", line=s.line,
                                   origin="unif"))
    elif pdf in ("dFD", "dFD2"):
        k = s.args[0]
        lo, hi = -(1 + 8 / k), 1 + 8 / k
        for row in s.effects.values():
            for v in row.values():
                if v > 0 and 1.0 + lo * v < 0:
                    lo = -1.0 / v
                if v < 0 and 1.0 + hi * v < 0:
                    hi = -1.0 / v
        if name not in params:
            constraint = "dfd" if pdf == "dFD" else "dfd2"
            p = _add(params, Parameter(name, 0.0, round_f(lo), round_f(hi), constraint=constraint, line=s.line,
                                       origin=pdf))
            p.sigma = k
            p.global_obs = name + "_In"
            p.global_obs_range = (round_f(lo), round_f(hi))
        global_obs.append(name + "_In")
    elif pdf == "constr":
        raise DatacardError(
            f"'{name} constr ...' regularisation terms are not supported by pycombine", line=s.line
        )
    elif pdf == "param":
        _param(params, s)
        global_obs.append(name + "_In")
    else:
        raise DatacardError(f"unsupported systematic type '{pdf}' for '{name}'", line=s.line)
    p = params[name]
    p.is_nuisance = True
    if s.nofloat:
        p.nofloat = True


def _param(params: dict[str, Parameter], s: Systematic) -> None:
    """``name param mean sigma [range]``: a Gaussian (``-x/+y``: bifurcated) constraint around ``mean``."""
    name = s.name
    mean_text, sigma_text = s.args[0], s.args[1]
    mean = float(mean_text) if is_float(mean_text) else None
    if mean is None:
        raise DatacardError(f"param '{name}': the mean must be a number, got {mean_text!r}", line=s.line)
    existing = params.get(name)
    rng = None
    if len(s.args) >= 3:
        rng = parse_range(s.args[2], f"param '{name}'", s.line)
    if "/" in sigma_text:
        lo_t, _, hi_t = sigma_text.partition("/")
        if not lo_t.startswith("-") or not hi_t.startswith("+"):
            raise DatacardError(
                f"param '{name}': asymmetric uncertainties must be written -x/+y, got {sigma_text!r}", line=s.line
            )
        try:
            sig_lo, sig_hi = float(lo_t[1:]), float(hi_t[1:])
        except ValueError:
            raise DatacardError(f"param '{name}': {sigma_text!r} is not of the form -x/+y", line=s.line) from None
        if rng is not None:
            lo, hi = rng
        else:
            if existing:
                lo, hi = mean - 4 * sig_lo, mean + 4 * sig_hi
            else:
                lo, hi = round_g(mean - 4 * sig_lo), round_g(mean + 4 * sig_hi)
        constraint, sigma = "bifur", 0.5 * (sig_lo + sig_hi)
    else:
        try:
            sigma = float(sigma_text)
        except ValueError:
            raise DatacardError(
                f"param '{name}': the sigma must be a number, got {sigma_text!r}", line=s.line
            ) from None
        sig_lo = sig_hi = sigma
        if rng is not None:
            if existing is not None and (existing.lo, existing.hi) == rng:
                lo, hi = existing.lo, existing.hi
            else:
                lo, hi = rng
        else:
            if existing:
                lo, hi = mean - 4 * sigma, mean + 4 * sigma
            else:
                lo, hi = round_g(mean - 4 * sigma), round_g(mean + 4 * sigma)
        constraint = "gauss"
    if existing is None:
        existing = _add(params, Parameter(name, mean, lo, hi, line=s.line, origin="param"))
    existing.lo, existing.hi = lo, hi
    existing.init = mean
    existing.kind = "nuisance"
    existing.constraint = constraint
    existing.sigma = sigma
    existing.sigma_lo, existing.sigma_hi = sig_lo, sig_hi
    existing.glob = mean
    existing.global_obs = name + "_In"
    existing.global_obs_range = (lo, hi)
    existing.optimize_bounds = False
    existing.origin = "param"
