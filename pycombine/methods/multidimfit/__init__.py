"""``combine -M MultiDimFit`` (Combine's ``src/MultiDimFit.cc``, spec §5.5, §6.2-6.3).

A free fit of the model with the selected POIs (``-P``, default all model POIs; any parameter
may be named) floating and the other model POIs fixed unless ``--floatOtherPOIs 1``; the
Gaussian-constrained nuisances lose their ranges for the duration of the method, except a
nuisance named with ``-P`` (``FitterAlgoBase::optimizeBounds``). Then, by ``--algo``:

``none``
    the best fit only;
``singles``
    a 68 % profile-likelihood interval per POI (NLL rise 0.494473, the other parameters
    profiled), with Combine's replacement of a vanishing error by the distance to the range end;
``grid``
    the profiled deltaNLL on Combine's grid of 1, 2 or n dimensions, every point profiled from
    the best-fit snapshot;
``fixed``
    one profiled point given by ``--fixedPointPOIs`` (or ``--setParameters``);
``impact``
    the interval of one parameter (usually a nuisance) and the fits with it fixed at both
    ends, as combineTool's ``Impacts.py`` runs it.

Modules: :mod:`.options` (the options, their validation), :mod:`.fit` (the state of one run: the
initial fit, its intervals, the rows), :mod:`.algorithms` (the ``--algo`` implementations and
:func:`multidimfit`, which does the work and returns rows and console lines). Here, :func:`run`
prints and writes the ``limit`` tree (one float32 branch per POI, saved parameters, ``deltaNLL``);
:func:`run_toy` does the same for one toy of the toy driver.
"""

from __future__ import annotations

import sys

import numpy as np

from ...model.likelihood import Dataset
from ...outputs.limit_tree import LimitRow, LimitTree
from ..base import ToyOutcome
from .algorithms import multidimfit
from .fit import MultiDimFitResult, minos_delta, unfactorized_pdf_dump
from .options import ALGOS, SUPPORTED, MultiDimFitConfig, check_options, option_messages

__all__ = [
    "ALGOS",
    "SUPPORTED",
    "MultiDimFitConfig",
    "MultiDimFitResult",
    "add_rows",
    "check_options",
    "minos_delta",
    "multidimfit",
    "option_messages",
    "run",
    "run_toy",
    "unfactorized_pdf_dump",
]


def add_rows(tree: LimitTree, result: MultiDimFitResult, i_toy: int) -> None:
    """Append a result's rows to a :class:`~pycombine.outputs.limit_tree.LimitTree`.

    ``limit`` is never assigned by Combine's MultiDimFit (an uninitialised value); 0 is written.
    """
    if not tree.branches:
        tree.branches = list(result.branches)
    for q, values in result.rows:
        tree.rows.append(LimitRow(0.0, 0.0, q, i_toy, dict(values)))


def run(session) -> int:
    data, i_toy = session.main_dataset()
    cfg = MultiDimFitConfig.from_options(session.opts)
    result = multidimfit(session, data, cfg, out=print)
    if cfg.save_fit_result:
        sys.stderr.write("Warning: --saveFitResult (RooFitResult fit_mdf) needs ROOT; multidimfit*.root is not written\n")
    tree = session.limit_tree()
    add_rows(tree, result, i_toy)
    sys.stdout.flush()
    # --saveWorkspace: the workspace goes beside the tree, with the best fit as snapshot "MultiDimFit"
    session.write_limit_file(tree, session.output_filename(), snapshot=("MultiDimFit", result.best_fit))
    return 0


def run_toy(session, data: Dataset, i_toy: int, generation: np.ndarray | None, first: bool) -> ToyOutcome:
    """One toy: the fit's console text and its rows (Combine's MultiDimFit never sets ``limit``
    and always counts the toy)."""
    res = multidimfit(session, data, MultiDimFitConfig.from_options(session.opts), out=print)
    tree = LimitTree(0.0, 0)
    add_rows(tree, res, i_toy)
    return ToyOutcome(i_toy, tree.rows, list(res.branches), counted=True, limit=0.0)
