"""Statistical methods (``combine -M <Method>``), one module each.

Every method module exposes the same functions, used by the run layer (:mod:`pycombine.run`):

``check_options(opts) -> None``
    raise :class:`~pycombine.errors.OptionError` for invalid method options, before any output;
``option_messages(opts) -> list[str]``
    lines Combine prints before ``>>> Method used is ...`` (e.g. AsymptoticLimits' note about
    a-priori expected limits);
``run(session) -> int``
    analyse ``session.main_dataset()``, print the method's console block, write
    ``higgsCombine*.root`` (and method files) atomically, return the exit status;
``run_toy(session, data, i_toy, generation, first) -> ToyOutcome``
    analyse one pseudo-experiment for the toy driver (:mod:`pycombine.run.toys`): print the
    method's per-toy console text and return the ``limit`` rows (:class:`.base.ToyOutcome`).

The numerical work lives in functions that take a session (:class:`pycombine.run.session.Session`,
passed in, never imported: methods sit below the run layer) and a
:class:`~pycombine.model.likelihood.Dataset` and return a result object, so the toy driver,
the Python API and the parallel runners reuse them without the console/file layer.

A new method is a module here plus one line in :data:`METHODS`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: ``-M`` name -> module implementing it (imported only when the method runs)
METHODS = {
    "AsymptoticLimits": "pycombine.methods.asymptotic_limits",
    "Significance": "pycombine.methods.significance",
    "FitDiagnostics": "pycombine.methods.fit_diagnostics",
    "MultiDimFit": "pycombine.methods.multidimfit",
    "GoodnessOfFit": "pycombine.methods.goodness_of_fit",
    "HybridNew": "pycombine.methods.hybrid_new",
    "GenerateOnly": "pycombine.methods.generate_only",
}


def method_module(name: str) -> ModuleType:
    """The module of ``-M name`` (KeyError for an unknown method)."""
    return importlib.import_module(METHODS[name])
