"""The two hypotheses of one HybridNew test and their pseudo-experiments (``HybridNew::create``).

At a POI point mu the signal+background hypothesis generates at r = mu and the background-only
one at r = 0. With ``--fitNuisances`` (the LHC modes) the other parameters are first fitted to
the data at r = 0 and at r = mu, and each hypothesis generates at its fit (Combine's
``fitZero``/``fitMu``); otherwise both generate at the run's clean values. Then, per toy:

* ``--generateExternalMeasurements`` (frequentist, the LHC modes): the global observables are
  drawn around the generation values and the counts are Poisson at them; the toy's fits use its
  global observables;
* ``--generateNuisances`` (hybrid, the default): the constrained nuisances are drawn from their
  constraints around the nominal global observables and the counts are Poisson at the drawn
  point; the toy's fits use the nominal global observables;
* neither (or no systematics): Poisson counts at the generation values.

Every batch of toys has its own random stream, ``default_rng([seed, point, round, hypothesis])``,
so results depend only on the seed and the sequence of points, not on how they are computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...fit.toys import randomise_global_observables_batch, randomise_nuisances_batch
from ...model.batch import BatchModel
from .options import HybridNewOptions


@dataclass
class Hypotheses:
    """Generation points of the S+B (r = mu) and B (r = 0) toys at one POI point."""

    sb: np.ndarray  # (P,)
    b: np.ndarray  # (P,)


def fit_hypotheses(session, data, opt: HybridNewOptions, mu: float, b_fit: np.ndarray | None = None) -> Hypotheses:
    """The generation points; with --fitNuisances the conditional fits to ``data`` at 0 and mu.

    ``b_fit``: the fit at 0 of an earlier call on the same data (it does not depend on mu)."""
    st = session.state.copy()
    ir = session.poi_index
    sb = st.values.copy()
    sb[ir] = mu
    b = st.values.copy()
    b[ir] = 0.0
    floating_other = ~st.frozen
    floating_other[ir] = False
    if opt.fit_nuisances and floating_other.any():
        fitter = session.fitter(data, remove_bounds=False)
        if b_fit is not None:
            b = np.array(b_fit, dtype=float, copy=True)
        else:
            start = st.copy()
            start.values[ir] = 0.0
            b = fitter.minimize(start, {ir: 0.0}).values.copy()
        start = st.copy()
        start.values = b.copy()
        start.values[ir] = mu
        sb = fitter.minimize(start, {ir: mu}).values.copy()
    return Hypotheses(sb, b)


class ToyGenerator:
    """Pseudo-datasets of one hypothesis, drawn in batches."""

    def __init__(self, session, bm: BatchModel, opt: HybridNewOptions, values: np.ndarray, with_systematics: bool):
        self.m = session.model
        self.bm = bm
        self.values = np.asarray(values, float)
        self.glob = self.m.glob0.copy()
        self.floating = ~session.state.frozen
        self.mode = "none"
        if with_systematics and opt.gen_nuisances:
            self.mode = "nuisances"
        elif with_systematics and opt.gen_global_obs:
            self.mode = "global"
        self._nu = None

    def draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(counts (n, B), global observables (n, P))."""
        m = self.m
        if self.mode == "nuisances":
            theta = randomise_nuisances_batch(m, self.values, self.glob, self.floating, rng, n)
            nu = self.bm.expected(theta)
            glob = np.tile(self.glob, (n, 1))
        else:
            if self._nu is None:
                self._nu = self.bm.expected(self.values[None])[0]
            nu = np.broadcast_to(self._nu, (n, m.B))
            if self.mode == "global":
                glob = randomise_global_observables_batch(m, self.values, self.glob, self.floating, rng, n)
            else:
                glob = np.tile(self.glob, (n, 1))
        counts = rng.poisson(np.maximum(nu, 0.0)).astype(float)
        return counts, glob
