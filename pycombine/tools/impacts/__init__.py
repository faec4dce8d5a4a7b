"""Nuisance-parameter impacts: what ``combineTool.py -M Impacts`` computes (spec §5.7).

combineTool runs one ``combine -M MultiDimFit --algo singles`` for the POI intervals and then,
for every floating non-POI parameter θ of the model, one ``combine -M MultiDimFit --algo
impact -P θ --floatOtherPOIs 1``: the 68 % crossings ``[θ_lo, θ_hi]`` of the NLL profiled in θ
(everything else floating) and two more fits with θ fixed at each crossing, whose POI values
give the impact ``max(|poi(θ_hi) - poi_best|, |poi(θ_lo) - poi_best|)``. The results are
collected in ``impacts.json``.

Here the same quantities are computed in one process, without redoing work:

* the model is built and fitted once (the initial fit, with the POI intervals of
  ``--algo singles``: :func:`pycombine.methods.multidimfit.multidimfit`);
* the Hessian of the NLL in *all* floating parameters (Barlow-Beeston-lite ones included) at
  the best fit gives, for each θ, the linear prediction of every other parameter along the
  profile, ``x(θ) ≈ x̂ + Cov[:, θ] / Cov[θ, θ] · (θ - θ̂)``. Every profile fit starts there (or
  from the nearest point already profiled, shifted the same way), so Migrad needs few steps,
  and Migrad is given that Hessian (fixed parameter removed, analytic Barlow-Beeston ones
  integrated out) instead of recomputing it numerically for every fit (:class:`WarmFitter`);
  because such a start is already within Combine's EDM goal, these fits use a 100 times
  tighter goal so that they end as converged as Combine's (:func:`.driver._profile_minimizer`);
* the crossing is solved on ``g(θ) = sign(q)·sqrt(2q)``, ``q = NLL_prof(θ) - NLL_min``, which is
  linear in θ for a Gaussian profile: the first guess ``θ̂ ± sqrt(2δ)·σ_θ`` is usually within a
  fraction of a percent, and secant steps (kept inside the bracket once there is one) finish it;
* the profile fit at the crossing already holds the POI values there, so the two extra fits
  combineTool makes per parameter are not needed;
* parameters are independent tasks for :func:`pycombine.run.parallel.run_tasks` (process pool or
  Dask); each task builds its own fitter, so results do not depend on the scheduling.

The modules, in the order data flows through them:

* :mod:`.parameters` -- which parameters, and their pre-fit type/range/groups;
* :mod:`.profile` -- one parameter: the profile fits and crossing solver, or the Hesse shortcut
  (the ΔNLL level of the crossings and ``--approx hesse`` are explained there);
* :mod:`.driver` -- :func:`impacts`: the initial fit, then every parameter as a parallel task;
* :mod:`.result` -- :class:`ImpactsResult`, ``impacts.json`` and the summary table;
* :mod:`.command` -- :func:`run`, the ``pycombine impacts`` command.
"""

from .command import run
from .driver import ImpactsOptions, impacts
from .parameters import TYPE_BY_CONSTRAINT, impact_parameters, prefit_info
from .profile import Crossing, covariance, full_covariance, parameter_impact, solve_crossing
from .result import ImpactsResult, ParamImpact, dumps, summary_lines, write_json

__all__ = [
    "TYPE_BY_CONSTRAINT",
    "Crossing",
    "ImpactsOptions",
    "ImpactsResult",
    "ParamImpact",
    "covariance",
    "dumps",
    "full_covariance",
    "impact_parameters",
    "impacts",
    "parameter_impact",
    "prefit_info",
    "run",
    "solve_crossing",
    "summary_lines",
    "write_json",
]
