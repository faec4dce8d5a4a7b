"""Nominal (pre-fit) yields of a :class:`ModelSpec`, computed directly from its description.

Every parameter sits at its initial value (r = 1, nuisances 0, gmN at N+1, rateParams at their
initial value), so no morphing happens; what remains is Combine's choice of normalisation and
its bin floors. This is deliberately independent of the vectorised likelihood engine: tests use
it as a second, simple computation of the same numbers.
"""

from __future__ import annotations

import numpy as np

from .formula import Formula
from .spec import ModelSpec, ProcessSpec

FLOOR = 1e-9


def parameter_values(model: ModelSpec, overrides: dict[str, float] | None = None) -> dict[str, float]:
    """Initial values of all parameters and formulas (``overrides`` replaces some of them)."""
    values = {n: p.init for n, p in model.parameters.items()}
    if overrides:
        values.update(overrides)
    remaining = dict(model.formulas)
    while remaining:
        for name, f in list(remaining.items()):
            if all(a in values for a in f.args):
                values[name] = Formula(f.name, f.expression, f.args).value([values[a] for a in f.args])
                del remaining[name]
    return values


def coefficient(proc: ProcessSpec, values: dict[str, float]) -> float:
    """The process normalisation coefficient at nominal nuisances (lnN/AsymPow factors are 1)."""
    c = proc.norm
    for f in proc.factors:
        c *= values[f]
    if proc.gmN:
        c *= values[proc.gmN[0]]
    for g in proc.gmM:
        c *= values[g]
    for name, v in proc.additive:
        c *= 1.0 + v * values[name]
    return c


def prefit_yields(model: ModelSpec, overrides: dict[str, float] | None = None) -> dict[tuple[str, str], np.ndarray]:
    """Per (channel, process) expected events per bin at the initial parameter values."""
    values = parameter_values(model, overrides)
    out = {}
    for ch in model.channels:
        self_norm = ch.auto_mc_stats is not None or ch.absolute
        for proc in ch.processes:
            c = coefficient(proc, values)
            if proc.template is None:
                out[(ch.name, proc.name)] = np.array([c])
            elif self_norm:
                # absolute template contents, floored per bin
                out[(ch.name, proc.name)] = c * np.maximum(proc.template, FLOOR)
            else:
                # unit-normalised template, floored and renormalised, times the coefficient
                t = proc.template / proc.template.sum()
                t = np.maximum(t, FLOOR)
                out[(ch.name, proc.name)] = c * t / t.sum()
    return out
