"""Which parameters get impacts, and what combineTool reports about them before any fit.

:func:`impact_parameters` selects them as combineTool does (``--named``, ``--exclude``);
:func:`prefit_info` gives each one's ``type``, ``prefit`` range and ``groups`` for impacts.json.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ...errors import OptionError

__all__ = ["TYPE_BY_CONSTRAINT", "impact_parameters", "prefit_info"]

#: combineTool's ``type`` of a parameter, from the class of its constraint pdf
TYPE_BY_CONSTRAINT = {
    "gauss": "Gaussian",
    "bifur": "AsymmetricGaussian",
    "poisson": "Poisson",
    "none": "Unconstrained",
    "uniform": "Unconstrained",  # RooUniform counts as unconstrained in utils.prefit_from_workspace
}


def impact_parameters(session, named: list[str] | None = None, exclude: list[str] | tuple = ()) -> list[str]:
    """The parameters combineTool would run: every floating non-POI parameter, sorted by name.

    combineTool lists ``pdf.getParameters(observables)`` (ROOT returns them sorted by name)
    without the POIs and the constant ones; here "constant" is taken after the run-time options
    (--freezeParameters etc.), so frozen parameters are left out instead of giving empty fits.
    ``exclude`` items are names or ``rgx{pattern}`` (``re.search``, as combineTool); an item that
    is not a parameter name is also used as a pattern.
    """
    m = session.model
    spec = session.spec
    pois = set(session.pois)
    if named:
        names = []
        for n in named:
            if n not in m.index:
                raise OptionError(f"--named: no parameter called {n!r} in the model")
            i = m.index[n]
            if n in pois:
                raise OptionError(f"--named: {n} is a parameter of interest")
            if session.state.frozen[i]:
                raise OptionError(f"--named: {n} is frozen")
            names.append(n)
    else:
        names = sorted(
            (n for i, n in enumerate(m.names)
             if n not in pois and not session.state.frozen[i] and spec.parameters[n].kind != "mass"),
            key=lambda s: s.encode(),
        )
    drop: set[str] = set()
    for item in exclude:
        item = item.strip()
        if not item:
            continue
        if "rgx{" in item:
            pattern = item.replace("'rgx{", "").replace("}'", "").replace("rgx{", "").replace("}", "")
        elif item in m.index:
            drop.add(item)
            continue
        else:
            pattern = item
        try:
            rx = re.compile(pattern)
        except re.error as e:
            raise OptionError(f"--exclude: bad pattern {pattern!r}: {e}") from None
        drop.update(n for n in names if rx.search(n))
    return [n for n in names if n not in drop]


def prefit_info(session, names: list[str]) -> dict[str, dict]:
    """``type``, ``prefit`` and ``groups`` of each parameter (``utils.prefit_from_workspace``).

    combineTool fits the constraint pdf alone and runs Minos at ΔNLL = 0.5: for a Gaussian that
    is the mean ± sigma, for a bifurcated Gaussian mean - sigma_lo / + sigma_hi; other
    constraints (Poisson of gmN and per-process bin statistics, gamma, ...) are solved
    numerically. Unconstrained parameters get their current value three times.
    """
    m = session.model
    out: dict[str, dict] = {}
    for n in names:
        p = session.spec.parameters[n]
        i = m.index[n]
        kind = p.constraint
        ptype = TYPE_BY_CONSTRAINT.get(kind, "Unrecognised")
        # the workspace range (combineTool reads the workspace, not the run-time ranges); Minos
        # reports a crossing beyond it at the range end
        lo_r, hi_r = float(m.lo[i]), float(m.hi[i])
        if kind == "gauss":
            prefit = [max(p.glob - p.sigma, lo_r), p.glob, min(p.glob + p.sigma, hi_r)]
        elif kind == "bifur":
            prefit = [max(p.glob - p.sigma_lo, lo_r), p.glob, min(p.glob + p.sigma_hi, hi_r)]
        elif kind in ("none", "uniform"):
            v = float(session.state.values[i])
            prefit = [v, v, v]
        else:
            prefit = _constraint_minos(session, i)
        # groups are the variable's group_<name> attributes (a std::set: sorted); the autoMCStats
        # group is a workspace set, not an attribute, so combineTool does not list it
        groups = sorted(g for g in p.groups if not (g == "autoMCStats" and p.kind == "bb"))
        out[n] = {"type": ptype, "prefit": [float(x) for x in prefit], "groups": groups}
    return out


def _constraint_minos(session, i: int) -> list[float]:
    """Minimum and ΔNLL = 0.5 crossings of one parameter's constraint term alone (within its
    range; a crossing beyond the range is reported at the range end, as Minos does)."""
    from scipy.optimize import minimize_scalar

    from ...fit.roots import brent_root as brentq
    from ...model.likelihood import Dataset, Likelihood

    m = session.model
    lo, hi = float(m.lo[i]), float(m.hi[i])
    # the constraint terms at the nominal global observables; only parameter i varies, so the
    # other terms are a constant
    lik = Likelihood(m, Dataset(np.zeros(m.B), m.glob0.copy()), analytic_bb=False)
    base = session.state.values.copy()

    def c(x: float) -> float:
        v = base.copy()
        v[i] = x
        val = lik._constraints(v, False)[0]
        return val if math.isfinite(val) else 1e300

    g = float(m.glob0[i]) if math.isfinite(m.glob0[i]) else float(base[i])
    width = max(abs(g), 1.0) * 100.0
    a = lo if math.isfinite(lo) else g - width
    b = hi if math.isfinite(hi) else g + width
    p = session.spec.parameters[m.names[i]]
    if p.constraint == "poisson" and p.glob > 0 and a <= p.glob <= b:
        x0 = float(p.glob)  # -ln Poisson(N; x) is smallest at x = N
    else:
        x0 = float(minimize_scalar(c, bounds=(a, b), method="bounded", options={"xatol": 1e-10}).x)
    for edge in (a, b):  # a minimum on the range edge (gmN 0: the Poisson peaks at 0)
        if c(edge) < c(x0):
            x0 = edge
    f0 = c(x0)

    def side(end: float) -> float:
        if abs(end - x0) < 1e-12 or c(end) - f0 < 0.5:
            return end
        return float(brentq(lambda x: c(x) - f0 - 0.5, min(x0, end), max(x0, end), xtol=1e-10))

    return [side(a), x0, side(b)]
