"""The profiled test statistics of HybridNew, evaluated for a batch of datasets at once.

Combine's ``ProfiledLikelihoodTestStatOpt::Evaluate`` (``src/ProfiledLikelihoodRatioTestStatExt.cc``)
for a POI value mu, starting every fit from the hypothesis' snapshot (the free fit's Gaussian-constrained
nuisances moved with the dataset's global observables, where its minimum moves with them):

* a free fit (the "null NLL"): ``LHC`` (one-sided) with r in [0, 1.1 mu] (r >= 0 unbounded above
  for mu = 0), ``LHCFC`` (sign flip) with r above its lower bound, ``Profile`` (two-sided) with r
  in its range; r starts at mu/2;
* a conditional fit at r = mu, unless (``LHC``) the free fit found r >= mu: then q = 0;
* if the conditional fit is better than the free one by more than 0.02, the free fit is redone
  from there (and ``LHC`` gives 0 if r then ends above mu);
* q = NLL(mu) - NLL(free) (a difference of NLLs, not twice it), negative for ``LHCFC`` when the
  fitted r lies above mu (or below it for mu = 0);
* ``LEP``: -ln(L(mu, theta_sb) / L(0, theta_b)) with the nuisances at the hypotheses' values (no
  fits); ``TEV``: NLL(mu, profiled) - NLL(0, profiled).

All datasets are fitted together (:func:`pycombine.fit.batch.minimize_batch`); the few that the
batched minimiser does not converge are refitted one by one with Minuit (:class:`Fitter`).
"""

from __future__ import annotations

import math

import numpy as np

from ...fit.batch import minimize_batch
from ...fit.minimize import Fitter, MinimizerOptions, ParameterState
from ...model.batch import BatchModel
from ...model.likelihood import Dataset

#: the conditional fit is better than the free one by more than this: the free fit is redone
REFIT_THRESHOLD = 0.02
#: the batched fits stop when the expected NLL decrease (EDM) is below this: q is then exact to
#: ~1e-8, far below the 1e-4 by which the data's statistic is moved (engine.EPS) and below Minuit's
#: own precision (Combine's fits stop at an EDM of ~1e-3 x tolerance)
TOY_EDM = 1e-6


class TestStatistic:
    """q at one POI point for batches of datasets (counts (N, B), global observables (N, P))."""

    def __init__(self, session, bm: BatchModel, kind: str, mu: float, snapshot: np.ndarray,
                 snapshot_b: np.ndarray | None = None):
        self.session = session
        self.m = session.model
        self.bm = bm
        self.kind = kind
        self.mu = float(mu)
        self.ir = session.poi_index
        clean = session.state
        self.snapshot = np.asarray(snapshot, float)
        self.snapshot_b = self.snapshot if snapshot_b is None else np.asarray(snapshot_b, float)
        self.lo = clean.lo.copy()
        self.hi = clean.hi.copy()
        self.floating = ~clean.frozen
        self.floating[self.ir] = True
        ir, mu = self.ir, self.mu
        lo_r, hi_r = self.lo[ir], self.hi[ir]
        if kind == "LHC":
            lo_r = 0.0
            hi_r = math.inf if mu == 0 else 1.1 * mu
        elif kind == "LHCFC":
            hi_r = math.inf
        self.free_lo, self.free_hi = self.lo.copy(), self.hi.copy()
        self.free_lo[ir], self.free_hi[ir] = lo_r, hi_r
        if mu == 0:
            old = clean.hi[ir]
            self.r_start = 0.1 * old if math.isfinite(old) and abs(old) < 1e28 and old != 0 else 0.5
        else:
            self.r_start = 0.5 * mu

    # ------------------------------------------------------------------ fits
    def _fit(self, counts, glob, start, lo, hi, floating):
        res = minimize_batch(self.bm, counts, glob, start, lo, hi, floating, analytic_bb=self.session.analytic_bb,
                             edm=TOY_EDM)
        values, nll = res.values, res.nll
        for i in np.nonzero(~res.converged)[0]:  # the stragglers: Minuit from where the batch stopped
            st = ParameterState(values[i].copy(), lo.copy(), hi.copy(), ~floating)
            fitter = Fitter(self.m, Dataset(counts[i], glob[i]), MinimizerOptions(strategy=1, tolerance=0.01),
                            analytic_bb=self.session.analytic_bb)
            r = fitter.minimize(st, {})
            if r.nll < nll[i]:
                values[i], nll[i] = r.values, r.nll
        return values, nll

    def evaluate(self, counts: np.ndarray, glob: np.ndarray) -> np.ndarray:
        counts = np.atleast_2d(counts)
        glob = np.atleast_2d(glob)
        if self.kind == "LEP":
            return self._lep(counts, glob)
        if self.kind == "TEV":
            return self._tev(counts, glob)
        n = counts.shape[0]
        ir, mu = self.ir, self.mu
        start = self._start(glob)
        free_vals, null_nll = self._fit(counts, glob, start, self.free_lo, self.free_hi, self.floating)
        r_hat = free_vals[:, ir]
        this_nll = null_nll.copy()
        cond = np.ones(n, bool) if (mu == 0 or self.kind != "LHC") else r_hat < mu
        idx = np.nonzero(cond)[0]
        if idx.size:
            st = free_vals[idx].copy()
            st[:, ir] = mu
            fixed = self.floating.copy()
            fixed[ir] = False
            if fixed.any():
                _v, nll_c = self._fit(counts[idx], glob[idx], st, self.lo, self.hi, fixed)
            else:
                nll_c = self.bm.nll(st, counts[idx], glob[idx], self.session.analytic_bb)
            this_nll[idx] = nll_c
            better = idx[nll_c - null_nll[idx] < -REFIT_THRESHOLD]
            if better.size:  # the free fit missed: redo it from the conditional minimum
                st2 = _v[np.searchsorted(idx, better)].copy() if fixed.any() else st[np.searchsorted(idx, better)]
                v2, n2 = self._fit(counts[better], glob[better], st2, self.free_lo, self.free_hi, self.floating)
                null_nll[better] = np.minimum(null_nll[better], n2)
                r_hat[better] = v2[:, ir]
                if self.kind == "LHC":
                    above = better[v2[:, ir] > mu]
                    this_nll[above] = null_nll[above]
        q = this_nll - null_nll
        if self.kind == "LHCFC":
            flip = (r_hat < mu) if mu == 0 else (r_hat > mu)
            q = np.where(flip & cond, -q, q)
        return q

    def _start(self, glob: np.ndarray) -> np.ndarray:
        """Starting points of the free fits: the snapshot, with r at ``r_start`` and the
        Gaussian-constrained nuisances moved with the datasets' global observables."""
        m = self.m
        start = np.tile(self.snapshot, (glob.shape[0], 1))
        i = m.gauss_idx[self.floating[m.gauss_idx]]
        if i.size:
            shift = np.nan_to_num(glob[:, i] - m.glob0[i])
            start[:, i] = np.clip(start[:, i] + shift, self.free_lo[i], self.free_hi[i])
        start[:, self.ir] = self.r_start
        return start

    # ------------------------------------------------------------------ LEP, TEV
    def _lep(self, counts, glob):
        n = counts.shape[0]
        sb = np.tile(self.snapshot, (n, 1))
        sb[:, self.ir] = self.mu
        b = np.tile(self.snapshot_b, (n, 1))
        b[:, self.ir] = 0.0
        return self.bm.nll(sb, counts, glob, self.session.analytic_bb) - self.bm.nll(b, counts, glob, self.session.analytic_bb)

    def _tev(self, counts, glob):
        n = counts.shape[0]
        fixed = self.floating.copy()
        fixed[self.ir] = False
        sb = np.tile(self.snapshot, (n, 1))
        sb[:, self.ir] = self.mu
        b = np.tile(self.snapshot_b, (n, 1))
        b[:, self.ir] = 0.0
        if fixed.any():
            _, nll_sb = self._fit(counts, glob, sb, self.lo, self.hi, fixed)
            _, nll_b = self._fit(counts, glob, b, self.lo, self.hi, fixed)
        else:
            nll_sb = self.bm.nll(sb, counts, glob, self.session.analytic_bb)
            nll_b = self.bm.nll(b, counts, glob, self.session.analytic_bb)
        return nll_sb - nll_b
