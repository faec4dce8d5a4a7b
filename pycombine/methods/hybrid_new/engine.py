"""One HybridNew point: the data's test statistic, then toys until the requested accuracy.

:class:`PointEvaluator` holds what all points of a run share (the batched model, the dataset,
the options) and :meth:`PointEvaluator.evaluate` runs Combine's ``HybridNew::eval`` at one POI
value: fits of the two hypotheses, the statistic of the data, a first set of toys (S+B: -T,
B: a quarter of -T for CLs, all of them with --fullBToys or for two-sigma expected quantiles,
none for Pmu and for significances, where only one hypothesis matters), then, when adaptive
(--clsAcc > 0), more toys while the CLs (or CLs+b) error is at least --clsAcc and, during a
limit search, CLs is within three errors of the target. Where Combine adds -T toys per round,
rounds here double the toy count (the same stopping rule, fewer and larger batches); the first,
small rounds are evaluated in one batch and then used one at a time (see SPECULATE).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field

import numpy as np

from ...model.batch import BatchModel
from .hypotest import HypoTest
from .options import HybridNewOptions
from .sampling import ToyGenerator, fit_hypotheses
from .statistic import TestStatistic

#: the data's test statistic is moved by this before comparing (Combine's HybridNew::EPS): toys
#: equal to the data count as at least as extreme (discrete models have many ties)
EPS = 1e-4
#: at most this many toys per hypothesis and point (a warning says when it stops there)
MAX_TOYS = 2_000_000
#: toys per task: one batched fit each; fixed, so that results do not depend on --parallel
CHUNK = 500
#: the first adaptive rounds of a point are evaluated together up to this many toys (see evaluate)
SPECULATE = 5000

HYPOTHESIS_STREAM = {"sb": 1, "b": 2}


@dataclass
class PointResult:
    test: HypoTest
    value: float  # CLs, CLs+b (Pmu) or the significance p-value (CLb), see PointEvaluator.value
    error: float
    capped: bool = False


@dataclass
class PointEvaluator:
    session: object
    data: object  # Dataset analysed (observed or Asimov)
    opt: HybridNewOptions
    seed: int
    with_systematics: bool
    bm: BatchModel = field(init=False)
    token: str = field(init=False)
    n_points: int = field(default=0, init=False)
    toys_run: int = field(default=0, init=False)
    warnings: list[str] = field(default_factory=list, init=False)
    tests: list[HypoTest] = field(default_factory=list, init=False)  # every point tested, in order
    _b_fit: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        self.bm = BatchModel(self.session.model)
        # what the worker processes need besides their tasks: registered before the pool forks
        self.token = uuid.uuid4().hex
        _SHARED[self.token] = self

    # ------------------------------------------------------------------ p-values
    def cut(self, test: HypoTest) -> float:
        """The data statistic moved by EPS (or the expected quantile's statistic, when asked)."""
        q = test.q_data
        if self.opt.expected_quantile is not None and self.opt.mode != "significance":
            q = test.quantile_statistic(self.opt.expected_quantile, self.opt.cls)
        return q - EPS

    def value(self, test: HypoTest) -> tuple[float, float]:
        """CLs or CLs+b of the test (``HybridNew::eval(HypoTestResult)``)."""
        cut = self.cut(test)
        if self.opt.cls:
            return test.cls(cut)
        return test.cls_plus_b(cut)

    # ------------------------------------------------------------------ toys
    def _toys_needed(self, significance: bool) -> tuple[int, int]:
        """(S+B, B) toys of the first round (``HybridNew::create``'s SetToys)."""
        t = self.opt.toys
        two_sigma = self.opt.expected_quantile is not None and abs(0.5 - self.opt.expected_quantile) >= 0.4
        if significance:
            return 0, t
        if not self.opt.cls:
            return t, (t if self.opt.full_b_toys else 0)
        if self.opt.full_b_toys or two_sigma:
            return t, t
        return t, int(0.25 * t)

    def _run_toys(self, test: HypoTest, spec: "_PointSpec", n_sb: int, n_b: int, round_: int) -> None:
        """Draw and evaluate the toys of one round and add them to ``test``."""
        (q_sb, q_b), = self._toys(spec, [(n_sb, n_b, round_)])
        test.append(q_sb, q_b)
        self.toys_run += n_sb + n_b

    def _toys(self, spec: "_PointSpec", rounds: list[tuple[int, int, int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """The test statistics (S+B, B) of the toys of each round ``(n_sb, n_b, round)``, all evaluated in
        one batch. Each chunk of CHUNK toys has its own random stream, so the toys do not depend on how
        the work is shared or batched; each worker process fits its share of the chunks in one batch
        (a batch's fits are independent of each other, so the results do not either)."""
        chunks = []
        for n_sb, n_b, round_ in rounds:
            for which, n in (("sb", n_sb), ("b", n_b)):
                for start in range(0, n, CHUNK):
                    key = (self.seed & 0xFFFFFFFF, self.n_points, round_, HYPOTHESIS_STREAM[which], start)
                    chunks.append((which, min(CHUNK, n - start), key))
        workers = max(1, min(self.session.workers(), len(chunks)))
        shares = [chunks[i::workers] for i in range(workers)]
        results = self.session.map_tasks(_evaluate_toys, [_ToyTask(self.token, spec, share) for share in shares])
        parts = {}
        for share, qs in zip(shares, results):
            for (which, _n, key), q in zip(share, qs):
                parts.setdefault((key[2], which), []).append((key, q))
        out = []
        for _n_sb, _n_b, round_ in rounds:
            out.append(tuple(np.concatenate([q for _k, q in sorted(parts[(round_, w)], key=lambda x: x[0])])
                             if (round_, w) in parts else np.zeros(0) for w in ("sb", "b")))
        return out

    def data_statistic(self, point: dict[str, float], significance: bool = False) -> tuple[float, "_PointSpec"]:
        """The test statistic of the analysed dataset at ``point`` (and what defines its toys)."""
        mu = float(point[self.session.pois[0]])
        hyp = fit_hypotheses(self.session, self.data, self.opt, mu, self._b_fit)
        self._b_fit = hyp.b  # the background-only fit does not depend on mu: done once
        spec = _PointSpec(0.0 if significance else mu, hyp.sb, hyp.b)
        q = float(spec.statistic(self).evaluate(self.data.counts[None], self.data.glob[None])[0])
        return q, spec

    def evaluate(self, point: dict[str, float], adaptive: bool, target: float | None = None,
                 significance: bool = False) -> PointResult:
        """Test the POI point (``point[first POI]`` = mu) with toys; see the module docstring."""
        q_data, spec = self.data_statistic(point, significance)
        test = HypoTest(dict(point), q_data)
        self.tests.append(test)
        n_sb, n_b = self._toys_needed(significance)
        adaptive = adaptive and self.opt.cls_acc > 0
        # the first adaptive rounds are small, and cost mostly their fixed overhead: they are
        # evaluated together up to SPECULATE toys (their sizes are known in advance, since every round
        # doubles the count), and used one by one under the stopping rule below; toys of rounds it
        # does not reach are dropped, so the result is the one of running the rounds in turn
        plan = [(n_sb, n_b, 0)]
        while adaptive and sum(a + b for a, b, _r in plan) < SPECULATE:
            k = len(plan)
            plan.append((n_sb << (k - 1), n_b << (k - 1), k))
        ready = self._toys(spec, plan)
        test.append(*ready[0])
        self.toys_run += n_sb + n_b
        value, err = self._value(test, significance)
        capped = False
        if adaptive:
            round_ = 1
            while err >= self.opt.cls_acc and (target is None or abs(value - target) < 3 * err):
                total = max(test.q_sb.size, test.q_b.size)
                if total >= MAX_TOYS:
                    capped = True
                    self.warnings.append(f"stopped at {total} toys at {_point_text(point)} with an error of "
                                         f"{err:.3g} (--clsAcc {self.opt.cls_acc:g} not reached)")
                    break
                grow = max(1, test.q_sb.size) if n_sb else max(1, test.q_b.size)
                grow_sb, grow_b = grow if n_sb else 0, (max(1, test.q_b.size) if n_b else 0)
                if round_ < len(ready) and plan[round_][:2] == (grow_sb, grow_b):
                    test.append(*ready[round_])
                    self.toys_run += grow_sb + grow_b
                else:
                    self._run_toys(test, spec, grow_sb, grow_b, round_)
                value, err = self._value(test, significance)
                round_ += 1
        else:
            for round_ in range(1, self.opt.iterations):
                self._run_toys(test, spec, n_sb, n_b, round_)
            value, err = self._value(test, significance)
        self.n_points += 1
        return PointResult(test, value, err, capped)

    def result(self, test: HypoTest, significance: bool = False) -> PointResult:
        """The value of a test read from a file (no toys thrown)."""
        value, err = self._value(test, significance)
        return PointResult(test, value, err)

    def _value(self, test: HypoTest, significance: bool) -> tuple[float, float]:
        if significance:
            return test.cl_b(test.q_data - EPS)
        return self.value(test)


def _point_text(point: dict[str, float]) -> str:
    return ", ".join(f"{k} = {v:g}" for k, v in point.items())


def significance_from_pvalue(p: float) -> float:
    """RooStats::PValueToSignificance: the one-sided Gaussian quantile of 1 - p."""
    from ...fit.normal import norm_quantile_c

    if p <= 0:
        return math.inf
    if p >= 1:
        return -math.inf
    return norm_quantile_c(p)


# ------------------------------------------------------------------------------ worker side
#: evaluators by token, inherited by the forked worker processes
_SHARED: dict[str, PointEvaluator] = {}


@dataclass
class _PointSpec:
    """What defines the toys of one point (small and picklable)."""

    mu: float  # the POI value of the test statistic (0 for significances)
    sb: np.ndarray  # generation point of the S+B toys
    b: np.ndarray  # generation point of the B toys

    def statistic(self, ev: PointEvaluator) -> TestStatistic:
        return TestStatistic(ev.session, ev.bm, ev.opt.test_stat, self.mu, self.sb, self.b)


@dataclass
class _ToyTask:
    token: str
    spec: _PointSpec
    chunks: list  # [(which "sb"/"b", number of toys, random-stream key)]


def _evaluate_toys(task: _ToyTask) -> list[np.ndarray]:
    """Draw the task's chunks of toys and return the test statistics of each chunk."""
    ev = _SHARED[task.token]
    gens = {}
    counts, globs, sizes = [], [], []
    for which, n, key in task.chunks:
        if which not in gens:
            values = task.spec.sb if which == "sb" else task.spec.b
            gens[which] = ToyGenerator(ev.session, ev.bm, ev.opt, values, ev.with_systematics)
        c, g = gens[which].draw(np.random.default_rng(list(key)), n)
        counts.append(c)
        globs.append(g)
        sizes.append(n)
    if not sizes:
        return []
    q = task.spec.statistic(ev).evaluate(np.concatenate(counts), np.concatenate(globs))
    return np.split(q, np.cumsum(sizes)[:-1])
