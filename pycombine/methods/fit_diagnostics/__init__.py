"""``combine -M FitDiagnostics``: background-only and signal+background fits, pre/post-fit yields.

Flow per dataset (Combine's ``FitDiagnostics::runSpecific``, spec §5.4):

1. **pre-fit**: parameters at the generation state (``clean`` for observed data) with the first
   POI at ``--preFitValue``; yields (``norm_prefit``, ``shapes_prefit``) and the ``tree_prefit``
   entry (global observables, nuisance values);
2. **background-only fit**: from ``clean`` with the POI fixed at 0 (``--customStartingPoint``: at
   its clean value), nuisance ranges of lnN/shape/BB Gaussians removed; ``nll_min`` = NLL(fit) −
   NLL₀ with NLL₀ the NLL at the start point;
3. **signal+background fit**: from ``clean`` (``--initFromBonly``: from the b-only fit), POI at
   ``--preFitValue`` and floating; Hesse; the 68 % interval of the POI at ΔNLL = 0.494473 by a
   Minos-like profile crossing search (:func:`pycombine.fit.intervals.minos_interval`) or
   Combine's ``--robustFit`` stepping search; Combine's rule replaces an error below
   0.001·max(hiErr, loErr, Hesse error) by the distance to the range edge.

Modules:

* :mod:`.options`: the options after Combine's implications, their validation;
* :mod:`.fits`: the fits of one dataset; :func:`fit_diagnostics` (session, dataset ->
  :class:`FitDiagnosticsResult`) is the numerical core;
* :mod:`.summary`: one fit at Combine's error level (:class:`FitSummary`), its covariance
  extended to the BB-lite parameters;
* :mod:`.yields` and :mod:`.sampling`: pre/post-fit yields and their uncertainties over Combine's
  parameter draws.

This package adds the console block and the output files (:func:`run`, and :func:`run_toy` for the
toy driver); the ``fitDiagnostics*.root`` writer is :mod:`pycombine.outputs.fit_diagnostics_file`.
"""

from __future__ import annotations

import os

import numpy as np

from ...errors import OptionError
from ...model.likelihood import Dataset
from ..base import ToyOutcome, limit_row
from .fits import FitDiagnosticsResult, fit_diagnostics
from .options import FitDiagnosticsOptions, check_options, option_messages
from .summary import FitSummary
from .yields import Yields

__all__ = [
    "FitDiagnosticsOptions",
    "FitSummary",
    "Yields",
    "FitDiagnosticsResult",
    "fit_diagnostics",
    "fit_diagnostics_path",
    "output_files",
    "check_options",
    "option_messages",
    "run",
    "run_toy",
]


def fit_diagnostics_path(session, opt: FitDiagnosticsOptions) -> str:
    """``<out>/fitDiagnostics<name>.root`` (``--X-rtd longName``: with the mass/toy tags)."""
    name = session.opts.name
    long_name = bool(session.runtime_define("longName"))
    base = f"fitDiagnostics{name}"
    if long_name:
        higgs = session.output_filename("FitDiagnostics")
        tail = higgs[len(f"higgsCombine{name}.FitDiagnostics."):]
        base += "." + tail[: -len("root")] + "root"
    else:
        base += ".root"
    return os.path.join(opt.out, base)


def output_files(opts) -> list[str]:
    """The ``fitDiagnostics*.root`` file of a run (without the ``--X-rtd longName`` tags), for the
    check of output paths before any computation."""
    opt = FitDiagnosticsOptions.from_opts(opts)
    return [os.path.join(opt.out, f"fitDiagnostics{opts.name}.root")] if opt.writes_file else []


def _run_options(session) -> FitDiagnosticsOptions:
    """The options of one dataset's run, after ``FitDiagnostics::runSpecific``'s own check."""
    opt = FitDiagnosticsOptions.from_opts(session.opts)
    if opt.init_from_bonly and opt.minos != "none":
        # printed by Combine's FitDiagnostics::runSpecific for every dataset
        print("Cannot re-use b-only fit parameters when running minos. Parameters will be reset when running S+B fit")
        opt.init_from_bonly = False
    return opt


def run(session) -> int:
    from ...outputs.fit_diagnostics_file import write_fit_diagnostics

    opt = _run_options(session)
    dataset, i_toy = session.main_dataset()
    result = fit_diagnostics(session, dataset, i_toy, opt)
    for line in result.lines:
        print(line)
    if opt.writes_file:
        path = fit_diagnostics_path(session, opt)
        if os.path.dirname(path) and not os.path.isdir(os.path.dirname(path)):
            raise OptionError(f"--out: directory {os.path.dirname(path)} does not exist")
        session.release_free_memory()  # the fits' working arrays, before the writer's
        write_fit_diagnostics(path, session, [result], opt)
    tree = session.limit_tree()
    for limit, err, q in result.limit_rows:
        tree.add(limit, err, q, i_toy)
    tree.write(session.output_filename())
    return 0


def run_toy(session, data: Dataset, i_toy: int, generation: np.ndarray | None, first: bool) -> ToyOutcome:
    """One toy: both fits; the first toy also computes the yields saved in the output file."""
    opt = _run_options(session)
    res = fit_diagnostics(session, data, i_toy, opt, with_yields=first, generation=generation)
    for line in res.lines:
        print(line)
    rows = [limit_row(limit, err, q, i_toy) for limit, err, q in res.limit_rows]
    final = [r for r in rows if r.quantile == -1.0]
    # keep only what the output file needs: the first toy's yields, everyone's tree values
    return ToyOutcome(i_toy, rows, [], counted=bool(final), limit=final[-1].limit if final else 0.0, payload=res)
