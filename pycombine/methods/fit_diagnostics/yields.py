"""Pre- and post-fit yields (``--saveNormalizations``/``--saveShapes``) and their uncertainties.

The yields are the exact per-process expectations from
:meth:`~pycombine.model.likelihood.Likelihood.process_yields` with the BB-lite parameters at their
values (0 pre-fit, fitted post-fit), including each process's share of the BB-lite term. Combine's
autoMCStats-channel numbers carry a numerical-integration factor 1 − O(1e-4) (spec item 16) that we
do not reproduce.

``--saveWithUncertainties``: Combine stores the RMS about the central value over 200 parameter
draws (pre-fit from the constraint pdfs, post-fit from the fit covariance, values clipped to the
parameter ranges, so e.g. r̂ near r = 0 gives much smaller signal uncertainties than linear
propagation; the draws are in :mod:`.sampling`). We compute the same expectation,
E[(y(θ) − y(θ̂))²], with 1000 draws (at least ``--numToysForShapes``) and a linear control variate
(:class:`pycombine.fit.uncertainty.SampledSpread`), deterministic for a given ``-s``. Combine's own
200-toy values scatter by ~7 % per bin (up to ~13 % for clipped POIs) around that expectation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ...model.compile import CompiledModel
from ...model.likelihood import Likelihood
from .sampling import Sampling, method_ranges

#: seed of the parameter draws of each stage (with ``-s``): the stages' draws are independent
STAGE_SEEDS = {"prefit": 1, "fit_b": 2, "fit_s": 3}
#: values per block of sampled yields (points x entries): 16 MB arrays at most
BATCH_VALUES = 2_000_000

#: incidence matrices up to this many elements are dense numpy arrays (32 MB); larger ones are
#: scipy.sparse CSR matrices (importing scipy.sparse costs ~0.07 s, more than the whole
#: aggregation of a typical card)
DENSE_INCIDENCE_MAX = 4_000_000


@dataclass
class Yields:
    """Per-process and total expected events at one parameter point, with uncertainties."""

    stage: str  # "prefit", "fit_b", "fit_s"
    values: np.ndarray  # (P,) parameters used
    entry: np.ndarray  # (E,) per (process, bin) yields
    entry_err: np.ndarray  # (E,)
    norm: np.ndarray  # (S,) per-process totals
    norm_err: np.ndarray  # (S,)
    total: np.ndarray  # (B,) per-bin totals; same for signal/background below
    total_err: np.ndarray
    signal: np.ndarray
    signal_err: np.ndarray
    background: np.ndarray
    background_err: np.ndarray
    channel_norms: np.ndarray  # (C, 3): total, signal, background per channel
    channel_norms_err: np.ndarray  # (C, 3)
    total_covar: list[np.ndarray]  # per channel (nbins, nbins) covariance of ``total``
    with_uncertainties: bool = False
    overall_covariance: np.ndarray | None = None  # (B, B) E[Δ_i Δ_j] of all bins' totals
    #: (B,), (B, B), (B,): mean, central second and third moments of the totals over the draws
    #: (Combine's overall_total_M1/M2/M3, --saveOverallShapes with uncertainties)
    overall_moments: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def _incidence(rows: np.ndarray, n_rows: int, n_cols: int, weights: np.ndarray):
    """(n_rows, n_cols) matrix with ``weights[j]`` at (rows[j], j): sums entries into groups."""
    if n_rows * n_cols <= DENSE_INCIDENCE_MAX:
        out = np.zeros((n_rows, n_cols))
        out[rows, np.arange(n_cols)] = weights
        return out
    import scipy.sparse as sp

    return sp.csr_matrix((weights, (rows, np.arange(n_cols))), shape=(n_rows, n_cols))


class Aggregation:
    """Maps from per-entry yields to samples, bins and channels (dense or sparse, see _incidence)."""

    def __init__(self, model: CompiledModel):
        m = model
        E = m.E
        ones = np.ones(E)
        sig = (m.sample_signal[m.entry_sample] if E else np.zeros(0, bool)).astype(float)
        bkg = 1.0 - sig
        ch = m.channel_of_entry if E else np.zeros(0, int)
        C = len(m.channels)
        self.S = _incidence(m.entry_sample, m.S, E, ones)
        self.B = _incidence(m.entry_bin, m.B, E, ones)
        self.Bs = _incidence(m.entry_bin, m.B, E, sig)
        self.Bb = _incidence(m.entry_bin, m.B, E, bkg)
        self.C = _incidence(ch, C, E, ones)
        self.Cs = _incidence(ch, C, E, sig)
        self.Cb = _incidence(ch, C, E, bkg)


class YieldCalculator:
    """The yields of one dataset's model at parameter points, with Combine's uncertainties."""

    def __init__(self, session, lik: Likelihood, save_overall_shapes: bool):
        self.session = session
        self.model = lik.m
        self.lik = lik  # BB-lite parameters explicit (their values are part of the point)
        self.save_overall_shapes = save_overall_shapes
        #: parameter draws for --saveWithUncertainties (Combine: --numToysForShapes, default 200)
        self.n_samples = max(1000, int(getattr(session.opts, "num_toys_for_shapes", 200) or 0))

    @cached_property
    def _batch(self):
        from ...model.batch import BatchModel

        return BatchModel(self.model)

    def _entry_yields(self, X: np.ndarray) -> np.ndarray:
        """The rows of ``X`` (N, P) -> per-entry yields (N, E) of ``lik``'s process_yields, a
        block of points per call (vectorised, yet no block larger than ~BATCH_VALUES values)."""
        X = np.atleast_2d(X)
        rows = max(1, BATCH_VALUES // max(self.model.E, 1))
        out = np.empty((X.shape[0], self.model.E))
        for i in range(0, X.shape[0], rows):
            out[i:i + rows] = self._batch.entry_yields(X[i:i + rows])
        return out

    @cached_property
    def aggregation(self) -> Aggregation:
        """Sums from per-entry yields to processes, bins and channels (one set per model)."""
        return Aggregation(self.model)

    def compute(self, values: np.ndarray, stage: str, sampling: Sampling | None = None) -> Yields:
        """Yields at ``values``; with ``sampling``, their uncertainties as Combine defines them.

        The uncertainty of every saved number is sqrt(E[(y(θ) − y(θ̂))²]) over Combine's sampling
        distribution (:class:`pycombine.fit.uncertainty.SampledSpread`), estimated from
        ``n_samples`` draws with a linear control variate.
        """
        from ...fit.uncertainty import jacobian, sample_spread

        m = self.model
        lik = self.lik
        agg = self.aggregation

        def f(th):
            return lik.process_yields(th)

        with_unc = sampling is not None
        if sampling is None or sampling.index.size == 0:
            y = f(values)
            sp = None
        else:
            lo, hi = method_ranges(m, self.session.state)
            steps = 1e-3 * np.sqrt(np.maximum(np.sum(sampling.scale ** 2, axis=1), 0.0))
            y, J = jacobian(f, values, sampling.index, steps, lo, hi, batch=self._entry_yields)
            rng = np.random.default_rng([int(self.session.opts.seed) & 0xFFFFFFFF, STAGE_SEEDS[stage]])
            sp = sample_spread(f, values, sampling.index, J, sampling.scale, sampling.draw, self.n_samples, rng,
                               batch=self._entry_yields)

        def err(A):
            return np.zeros(A.shape[0]) if sp is None else sp.errors(A)

        total_covar = []
        for c in m.channels:
            if m.any_unbinned and m.bin_unbinned[c.bin_start]:
                # a per-event channel: events x events would not fit in memory, and its shapes
                # (the only reader of this matrix) are never saved (refused by the runner)
                total_covar.append(np.zeros((0, 0)))
            elif sp is None:
                total_covar.append(np.zeros((c.nbins, c.nbins)))
            else:
                total_covar.append(sp.second_moments(agg.B[c.bin_start:c.bin_start + c.nbins], full=True))
        cn = np.stack([agg.C @ y, agg.Cs @ y, agg.Cb @ y], axis=1)
        cne = np.stack([err(agg.C), err(agg.Cs), err(agg.Cb)], axis=1)
        overall = None
        moments = None
        if sp is not None and self.save_overall_shapes:
            overall = sp.second_moments(agg.B, full=True)
            DB = np.asarray((agg.B @ sp.D.T).T)
            mean = DB.mean(axis=0)
            c = DB - mean
            moments = (agg.B @ y + mean, c.T @ c / DB.shape[0], (c ** 3).mean(axis=0))
        return Yields(
            stage=stage,
            values=np.asarray(values, dtype=float).copy(),
            entry=y,
            entry_err=np.zeros(m.E) if sp is None else sp.errors(),
            norm=agg.S @ y,
            norm_err=err(agg.S),
            total=agg.B @ y,
            total_err=err(agg.B),
            signal=agg.Bs @ y,
            signal_err=err(agg.Bs),
            background=agg.Bb @ y,
            background_err=err(agg.Bb),
            channel_norms=cn,
            channel_norms_err=cne,
            total_covar=total_covar,
            with_uncertainties=with_unc,
            overall_covariance=overall,
            overall_moments=moments,
        )
