"""The state of one MultiDimFit run: the selected POIs, the initial fit with its intervals, the
rows of the ``limit`` tree, and the console text Combine prints along the way."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ...errors import OptionError
from ...fit.minimize import ParameterState
from ...fit.scan import DELTA_NLL_68, LimitSafeFitter, ProfilePoint, Profiler, find_crossing, profile_crossing
from ...fit.warm import warm_fitter
from ...model.likelihood import Dataset
from ...outputs.console import cpp
from .options import MultiDimFitConfig


@dataclass
class MultiDimFitResult:
    """Everything one MultiDimFit run produced for one dataset."""

    pois: list[str]
    branches: list[tuple[str, np.dtype]]  # method branches of the limit tree, in order
    rows: list[tuple[float, dict[str, float]]]  # (quantileExpected, branch values)
    best_fit: dict[str, float] | None  # all parameters at the best fit (None: no fit)
    best_nll: float | None
    fit_ok: bool
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # singles: (lo, hi) errors
    lines: list[str] = field(default_factory=list)  # console text (also passed to ``out``)


def minos_delta(session) -> float:
    """The NLL rise at which Combine's Minos intervals end (``FitterAlgoBase::doFit``).

    ``doFit`` sets the error level 0.494473 (68 % of chi2(1)) on its minimiser, but for models
    whose NLL is Combine's ``CachingSimNLL`` (every card with a ``shapes`` line: the pdf is a
    ``RooSimultaneousOpt``) ``CascadeMinimizer::improve`` and ``::minos`` rebuild the
    ``RooMinimizer`` for the analytic Barlow-Beeston handling, which drops the setting and leaves
    RooFit's default 0.5. Pure counting cards (a product of Poisson terms, plain RooFit NLL)
    keep 0.494473. Checked against Combine's recorded intervals: profiled deltaNLL at its
    crossings is 0.4944 on counting cards and 0.5000 on TH1 and autoMCStats shape cards.
    """
    return DELTA_NLL_68 if session.spec.counting else 0.5


def unfactorized_pdf_dump(session, values: np.ndarray) -> list[str]:
    """What Combine's ``CachingSimNLL`` prints when the model has no constraint term at all.

    A shape model whose parameters are all unconstrained (POIs, rateParams) does not factorize
    into observables x constraints; ``CachingSimNLL::setup_`` then writes ``PDF didn't
    factorize!`` on stderr and dumps the pdf parameters (sorted by name, current values) and the
    data variables on stdout, each time the NLL is created. Checked against Combine's output on
    a one-channel card (``Parameters:``, ``r``/``s_b`` lines, ``CMS_th1x = 33.5``,
    ``CMS_channel = m4l(idx = 0)``, an empty line); for several channels the data row shown is
    taken to be the last one (not verified).
    """
    m = session.model
    if session.spec.counting or m.constrained.any() or not m.channels:
        return []
    names = sorted(n for n in m.names if session.spec.parameters[n].kind != "mass")
    lines = ["Parameters: "]
    w = max([len(n) for n in names] + [1]) + 1
    for k, n in enumerate(names, 1):
        lines.append(f"{k:>3}) RooRealVar::{n:>{w}} = {cpp(values[m.index[n]])}")
    obs = [("RooRealVar", "CMS_th1x", cpp(max(int(session.spec.max_bins), 1) - 0.5)),
           ("RooCategory", "CMS_channel", f"{m.channels[-1].name}(idx = {len(m.channels) - 1})")]
    w = max(len(n) for _, n, _ in obs) + 1
    lines.append("Obs: ")
    for k, (cls, n, v) in enumerate(obs, 1):
        lines.append(f"{k:>3}) {cls}::{n:>{w}} = {v}")
    lines.append("")
    return lines



class MultiDimFitRun:
    """State of one MultiDimFit execution (Combine keeps it in static members).

    :meth:`initial_fit` runs first; the ``--algo`` implementations (:mod:`.algorithms`) then add
    rows with :meth:`commit` and console lines with :meth:`out`; :meth:`result` collects them.
    """

    def __init__(self, session, data: Dataset, cfg: MultiDimFitConfig, out: Callable[[str], None]):
        self.session = session
        self.model = session.model
        self.data = data
        self.cfg = cfg
        self._out = out
        self.lines: list[str] = []
        m = self.model
        self.pois = list(cfg.pois) if cfg.pois else list(session.pois)
        if not self.pois:
            raise OptionError("MultiDimFit: the model has no parameters of interest; name one with -P")
        for p in self.pois:
            if p not in m.index:
                raise OptionError(f"Parameter of interest {p} not in model.")
        self.poi_idx = [m.index[p] for p in self.pois]
        # a non-POI named with -P loses its optimizeBounds attribute: it keeps its range
        self.keep_range = [i for p, i in zip(self.pois, self.poi_idx) if p not in session.pois]
        self.state: ParameterState = session.state.copy()
        self.fitter = LimitSafeFitter(m, data, session.minimizer, remove_bounds=True,
                                      analytic_bb=session.analytic_bb, keep_range=self.keep_range)
        self.prof = Profiler(self.fitter, self.state)
        self.rows: list[tuple[float, dict[str, float]]] = []
        self.n_other_floating = 0
        #: saved parameters besides the POIs (--saveSpecifiedNuis, --saveInactivePOI)
        self.specified: list[str] = []
        self.best: np.ndarray | None = None
        self.best_nll: float | None = None
        self.best_errors: np.ndarray | None = None
        self.intervals: dict[str, tuple[float, float]] = {}

    # ------------------------------------------------------------------ helpers
    def out(self, line: str) -> None:
        self.lines.append(line)
        self._out(line)

    def _other_pois(self) -> None:
        """Fix (or float, with --floatOtherPOIs) the model POIs that were not selected."""
        const = []
        for p in self.session.pois:
            if p in self.pois:
                continue
            i = self.model.index[p]
            self.state.frozen[i] = not self.cfg.float_other_pois
            if self.cfg.float_other_pois:
                self.n_other_floating += 1
            else:
                const.append(p)
        if const:
            self.out("Following POIs have been set constant (use --floatOtherPOIs to let them float): "
                     + "".join(f"{p}, " for p in const))

    def _specified_names(self) -> list[str]:
        """--saveSpecifiedNuis parameters then the inactive POIs (--saveInactivePOI)."""
        s = self.session
        names: list[str] = []
        text = self.cfg.save_specified_nuis
        nuis = [n for n in s.spec.nuisances if n in self.model.index and not self.state.frozen[self.model.index[n]]]
        if text:
            if text == "all":
                names = [n for n in nuis if n not in self.pois]
            else:
                for tok in text.split(","):
                    if not tok:
                        continue
                    if tok in s.spec.groups:
                        names += list(s.spec.groups[tok])
                    elif tok not in self.pois:
                        names.append(tok)
                for n in names:
                    if n not in nuis:
                        raise OptionError(f"Nuisance parameter {n} not in model.")
                names = [n for n in names if n not in self.pois]
        if self.cfg.save_inactive_poi:
            for p in s.pois:
                if p not in self.pois and p not in names:
                    names.append(p)
        return names

    def branches(self) -> list[tuple[str, np.dtype]]:
        br = [(p, np.dtype(np.float32)) for p in self.pois]
        br += [(n, np.dtype(np.float32)) for n in self.specified]
        br.append(("deltaNLL", np.dtype(np.float32)))
        return br

    def commit(self, quantile: float, poi_values: Sequence[float], values: np.ndarray, delta_nll: float) -> None:
        """One ``limit`` tree row: the POIs at ``poi_values``, the saved parameters from ``values``."""
        row = {p: float(v) for p, v in zip(self.pois, poi_values)}
        for n in self.specified:
            row[n] = float(values[self.model.index[n]])
        row["deltaNLL"] = float(delta_nll)
        self.rows.append((quantile, row))

    def _dump(self, values: np.ndarray) -> None:
        dump = unfactorized_pdf_dump(self.session, values)
        if dump:
            sys.stdout.flush()
            sys.stderr.write("PDF didn't factorize!\n")
        for line in dump:
            self.out(line)

    # ------------------------------------------------------------------ initial fit
    def initial_fit(self) -> tuple[np.ndarray, bool]:
        """The initial fit (with the intervals where the algorithm needs Hesse), its row, and the
        POI ranges of the algorithm (--autoRange, --centeredRange); (start values, fit ok)."""
        cfg = self.cfg
        self._other_pois()
        self.specified = self._specified_names()
        do_hesse = cfg.algo in ("singles", "impact") or cfg.save_fit_result
        values = self.state.values.copy()
        fit_ok = False
        if not cfg.skip_initial_fit:
            self.out("Doing initial fit: ")
            self._dump(values)
            p = self.prof.minimize(values, hesse=do_hesse)
            fit_ok = p.ok
            if fit_ok:
                self.best = p.values.copy()
                self.best_nll = p.nll
                self.best_errors = p.result.errors.copy() if p.result is not None else np.zeros(self.model.P)
                if do_hesse:
                    self._intervals(p)
                values = self.best.copy()
            else:
                for text in ("", " ---------------------------", " WARNING: MultiDimFit failed",
                             " ---------------------------", ""):
                    self.out("")
                    self.out(" " + text.strip() if text else " ")
                values = p.values.copy()
        else:
            self.out("MultiDimFit -- Skipping initial global fit")
            self._dump(values)
        if fit_ok:
            self.commit(-1.0, [values[i] for i in self.poi_idx], values, 0.0)
        if cfg.auto_range is not None and cfg.auto_range > 0 and self.best_errors is not None:
            for i in self.poi_idx:
                v, e = values[i], self.best_errors[i]
                self.state.lo[i] = max(self.state.lo[i], v - cfg.auto_range * e)
                self.state.hi[i] = min(self.state.hi[i], v + cfg.auto_range * e)
        if cfg.centered_range is not None and cfg.centered_range > 0:
            for i in self.poi_idx:
                v = values[i]
                self.state.lo[i] = max(self.state.lo[i], v - cfg.centered_range)
                self.state.hi[i] = min(self.state.hi[i], v + cfg.centered_range)
        return values, fit_ok

    def result(self, fit_ok: bool) -> MultiDimFitResult:
        return MultiDimFitResult(
            pois=self.pois,
            branches=self.branches(),
            rows=self.rows,
            best_fit=self.session.values_dict(self.best) if self.best is not None else None,
            best_nll=self.best_nll,
            fit_ok=fit_ok,
            intervals=self.intervals,
            lines=self.lines,
        )

    # ------------------------------------------------------------------ intervals
    def _intervals(self, best: ProfilePoint) -> None:
        """68 % profile-likelihood interval of every selected POI (Minos, or --robustFit)."""
        cfg = self.cfg
        bestv = best.values
        prof = self._interval_profiler(bestv)
        for p, i in zip(self.pois, self.poi_idx):
            x0 = float(bestv[i])
            lo_b, hi_b = float(self.state.lo[i]), float(self.state.hi[i])
            if self.fitter.remove_bounds and self.model.optimize_bounds[i] and i not in self.keep_range:
                lo_b, hi_b = -math.inf, math.inf
            if self.state.frozen[i]:
                self.intervals[p] = (0.0, 0.0)
                continue
            if cfg.robust_fit:
                level = best.nll + DELTA_NLL_68
                hi = find_crossing(prof, i, level, x0, hi_b, bestv, cfg.step_size, cfg.crossing_tolerance,
                                   cfg.max_failed_steps, cfg.robust_fit_strategy)
                lo = find_crossing(prof, i, level, x0, lo_b, bestv, cfg.step_size, cfg.crossing_tolerance,
                                   cfg.max_failed_steps, cfg.robust_fit_strategy)
                lo_err = x0 - lo if not math.isnan(lo) else 0.0
                hi_err = hi - x0 if not math.isnan(hi) else 0.0
            else:
                sigma = float(best.result.errors[i]) if best.result is not None else None
                delta = minos_delta(self.session)
                c_hi = profile_crossing(prof, i, bestv, best.nll, delta, hi_b, sigma)
                c_lo = profile_crossing(prof, i, bestv, best.nll, delta, lo_b, sigma)
                hi_err = c_hi.value - x0
                lo_err = x0 - c_lo.value
            self.intervals[p] = (lo_err, hi_err)

    def _interval_profiler(self, best: np.ndarray) -> Profiler:
        """The profiler of the interval searches: Migrad seeded with the Hessian at the best fit
        (:func:`pycombine.fit.warm.warm_fitter`) instead of differencing the gradient per fit."""
        return Profiler(warm_fitter(self.fitter, self.state, best), self.state)
