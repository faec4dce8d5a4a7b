"""One hypothesis test: the data's test statistic against the toys of both hypotheses.

RooStats' ``HypoTestResult`` as HybridNew uses it, with plain arrays: the null hypothesis is
background only (B toys), the alternative signal+background (S+B toys). p-values are right
tails including the boundary (``SamplingDistribution::IntegralAndError`` on the closed interval
[t_data, inf)), so CLs+b = P(q_sb >= q_data), CLb = P(q_b >= q_data) (Combine's "1 - Pb"),
CLs = CLs+b / CLb, each with the binomial error sqrt(p (1 - p) / N) and
err(CLs) = sqrt(err_sb^2 + CLs^2 err_b^2) / CLb, as RooStats computes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class HypoTest:
    """Test statistics of the data and of the toys at one POI point."""

    point: dict[str, float]
    q_data: float
    q_sb: np.ndarray = field(default_factory=lambda: np.zeros(0))
    q_b: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def append(self, q_sb: np.ndarray, q_b: np.ndarray) -> None:
        self.q_sb = np.concatenate([self.q_sb, np.asarray(q_sb, float)])
        self.q_b = np.concatenate([self.q_b, np.asarray(q_b, float)])

    @property
    def n_toys(self) -> int:
        return int(self.q_sb.size + self.q_b.size)

    # ------------------------------------------------------------------ p-values
    @staticmethod
    def _tail(q: np.ndarray, cut: float) -> tuple[float, float]:
        n = q.size
        if n == 0:
            return math.nan, 0.0
        p = float(np.count_nonzero(q >= cut)) / n
        return p, math.sqrt(max(p * (1.0 - p), 0.0) / n)

    def cls_plus_b(self, cut: float) -> tuple[float, float]:
        return self._tail(self.q_sb, cut)

    def cl_b(self, cut: float) -> tuple[float, float]:
        return self._tail(self.q_b, cut)

    def cls(self, cut: float) -> tuple[float, float]:
        sb, esb = self.cls_plus_b(cut)
        b, eb = self.cl_b(cut)
        if not b > 0:
            return 0.0, 0.0  # RooStats: CLb = 0 gives CLs 0 and no error
        value = sb / b
        return value, math.sqrt(esb * esb + value * value * eb * eb) / b

    def quantile_statistic(self, quantile: float, cls: bool) -> float:
        """The test statistic whose CLs (or CLs+b) is the ``quantile`` of its distribution over the
        background-only toys (``HybridNew::applyClsQuantile``): the expected result for that quantile.

        Each B toy, taken as if it were the data, has a CLs value; the B toys are ordered by it and
        the one at the requested cumulative fraction gives the test statistic.
        """
        qb = np.sort(self.q_b)
        qs = np.sort(self.q_sb)
        nb, ns = qb.size, qs.size
        if nb == 0:
            return math.nan
        # fraction of S+B toys at or above each B value, and of B toys at or above (in sorted order)
        above_s = (ns - np.searchsorted(qs, qb, side="left")) / max(ns, 1)
        at_or_above_b = (nb - np.arange(nb)) / nb  # descending cumulative count, ties kept in order
        with np.errstate(divide="ignore", invalid="ignore"):
            value = above_s / at_or_above_b if cls else above_s
        order = np.lexsort((qb, value))  # by CLs, then by the statistic
        k = min(nb - 1, max(0, math.ceil(quantile * nb) - 1))
        return float(qb[order[k]])
