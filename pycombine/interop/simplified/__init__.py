"""Simplified likelihoods (CMS-NOTE-2017-001; Buckley et al., JHEP 04 (2019) 064).

A simplified likelihood (SL) replaces a full model by per-bin moments of its background
distribution: mean m1, covariance m2 and diagonal third central moment m3, plus the signal
yields and the data. The likelihood is ``prod_i Pois(n_i | mu s_i + a_i + b_i t_i + c_i t_i^2)
x MVN(t | 0, rho)``, with a, b, c, rho fixed by the three moments (:mod:`.expansion`).

* :mod:`.format`: the JSON file (layout in its docstring and docs/SIMPLIFIED.md; spey reads its
  ``model`` object directly), reading, writing, detection and the checks of its numbers;
* :mod:`.expansion`: m1, m2, m3 -> a, b, c, rho and back (closed form);
* :mod:`.moments`: m1, m2, m3 of sampled background totals (what Combine's FitDiagnostics
  calls ``overall_total_M1/M2/M3``), drawn in chunks, deterministic for a seed;
* :mod:`.convert`: an SL as a :class:`~pycombine.model.spec.ModelSpec` (``combine sl.json``).

Making an SL from a datacard needs fits and the parameter sampling of FitDiagnostics (layers
above this one): that driver is :mod:`pycombine.tools.simplify` (``pycombine simplify``).
"""

from __future__ import annotations

from .convert import build_model
from .expansion import Expansion, coefficients, moments, violations
from .format import FORMAT_VERSION, SimplifiedLikelihood, check, is_simplified, read, write

__all__ = ["FORMAT_VERSION", "Expansion", "SimplifiedLikelihood", "build_model", "check", "coefficients",
           "is_simplified", "moments", "read", "violations", "write"]
