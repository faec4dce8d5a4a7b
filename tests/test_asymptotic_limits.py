"""AsymptoticLimits: the algorithm on hand-derived likelihoods, the command, and the reference cases.

The closed-form numbers come from the spec (§5.2, behaviours 10 and 11), which quotes Combine
v10.6.0's output for a counting experiment s = 3, b = 5 (n = 10 without systematics; n = 12
with an lnN 1.3 on the background).
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest
from refsuite import case_params, compare, env, read_tree, run_case
from scipy.optimize import brentq, minimize_scalar

from pycombine.fit.asymptotic import (
    QUANTILES,
    AsymptoticSettings,
    PoiFit,
    PoiRange,
    cls_from_q,
    expected_limits,
    expected_threshold,
    f32,
    observed_limit,
)


# ---------------------------------------------------------------------- hand-written likelihoods
class Counting:
    """NLL(r) = (r s + b) - n ln(r s + b): nothing to profile.

    ``fit`` returns the analytic minimum r = (n - b)/s with sigma = sqrt(n)/s, or a given
    (r_hat, sigma) to stand in for where Combine's Migrad stopped.
    """

    def __init__(self, n: float, s: float = 3.0, b: float = 5.0, r_hat: float | None = None,
                 r_err: float | None = None, flat: bool = False):
        self.n, self.s, self.b = n, s, b
        self.r_hat, self.r_err = r_hat, r_err
        self.flat = flat
        self.profiles: list[float] = []

    def nll(self, r: float) -> float:
        mu = (0.0 if self.flat else r * self.s) + self.b
        return mu - self.n * math.log(mu)

    def fit(self, start, r_start, r_lo, r_hi):
        r = self.r_hat if self.r_hat is not None else min(max((self.n - self.b) / self.s, r_lo), r_hi)
        err = self.r_err if self.r_err is not None else math.sqrt(self.n) / self.s
        return PoiFit(self.nll(r), r, err, None)

    def profile(self, start, r):
        self.profiles.append(r)
        return PoiFit(self.nll(r), r, 0.0, None)

    def value(self, state, r):
        return self.nll(r)


class CountingLnN:
    """NLL(r, t) = mu - n ln mu + (t - g)^2 / 2 with mu = r s + b kappa^t; t profiled exactly.

    The state is t. ``g`` is the global observable (moved to t_hat for the post-fit Asimov).
    """

    def __init__(self, n: float, s: float = 3.0, b: float = 5.0, kappa: float = 1.3, glob: float = 0.0):
        self.n, self.s, self.b, self.lk, self.g = n, s, b, math.log(kappa), glob

    def full(self, r: float, t: float) -> float:
        mu = r * self.s + self.b * math.exp(self.lk * t)
        return mu - self.n * math.log(mu) + 0.5 * (t - self.g) ** 2

    def theta(self, r: float) -> float:
        def dnll(t):
            e = self.b * math.exp(self.lk * t)
            return e * self.lk * (1.0 - self.n / (r * self.s + e)) + (t - self.g)

        return brentq(dnll, -7.0, 7.0, xtol=1e-14)

    def prof(self, r: float) -> float:
        return self.full(r, self.theta(r))

    def fit(self, start, r_start, r_lo, r_hi):
        res = minimize_scalar(self.prof, bounds=(r_lo, r_hi), method="bounded", options={"xatol": 1e-10})
        h = 1e-4
        r = max(res.x, 2 * h)
        curv = (self.prof(r + h) - 2 * self.prof(r) + self.prof(r - h)) / h**2
        return PoiFit(res.fun, res.x, 1.0 / math.sqrt(curv), self.theta(res.x))

    def profile(self, start, r):
        return PoiFit(self.prof(r), r, 0.0, self.theta(r))

    def value(self, state, r):
        return self.full(r, state)


# ---------------------------------------------------------------------- formulas
def test_thresholds_and_target():
    s = AsymptoticSettings()
    assert s.cls_target == pytest.approx(0.0500000119, abs=1e-10)  # 1 - float32(0.95)
    # median: 0.5 * Phi^-1(1 - 0.025)^2 (with the float32 cl)
    assert expected_threshold(0.5, s) == pytest.approx(1.92073, abs=2e-5)
    assert expected_threshold(0.5, AsymptoticSettings(rule="Pmu")) == pytest.approx(0.5 * 1.644853**2, rel=1e-5)


def test_cls_formula():
    # q_mu <= q_A: the plain asymptotic formulas
    cls, pmu, pb = cls_from_q(2.0, 8.0)
    assert pmu == pytest.approx(0.5 * math.erfc(math.sqrt(2.0) / math.sqrt(2.0)))
    assert pb == pytest.approx(0.5 * math.erfc(-(math.sqrt(8.0) - math.sqrt(2.0)) / math.sqrt(2.0)))
    assert cls == pytest.approx(pmu / pb)
    # qtilde region q_mu > q_A
    cls, pmu, pb = cls_from_q(9.0, 4.0)
    assert pmu == pytest.approx(0.5 * math.erfc((13.0 / 4.0) / math.sqrt(2.0)))
    assert pb == pytest.approx(0.5 * math.erfc((5.0 / 4.0) / math.sqrt(2.0)))
    # q_A = 0 in that region: both tails vanish and CLs is 0, not a division by zero
    assert cls_from_q(1.0, 0.0)[0] == 0.0
    assert cls_from_q(0.0, 0.0)[0] == pytest.approx(1.0)
    assert cls_from_q(2.0, 8.0, use_cls=False)[0] == cls_from_q(2.0, 8.0)[1]  # rule Pmu


# ---------------------------------------------------------------------- s = 3, b = 5, n = 10
def test_counting_expected_limits_digit_for_digit():
    asimov = Counting(n=5.0)  # post-fit Asimov without nuisances = b
    poi = PoiRange(0.0, 20.0)
    res = expected_limits(asimov, None, poi, AsymptoticSettings())
    printed = ["%6.4f" % v for _, v in res.printed]
    assert printed == ["0.9271", "1.2895", "1.9141", "2.9288", "4.3068"]
    # float32 values, the median a short binary fraction of rMax
    assert [q for q, _ in res.rows] == list(QUANTILES)
    assert res.rows[0][1] == 0.9271240234375
    assert res.rows[2][1] == pytest.approx(245 / 128, abs=1e-12)
    assert all(f32(v) == v for _, v in res.printed)
    # the stepping trial points of the median (Combine -v 2), then the 2.5% bisection
    assert asimov.profiles[:7] == [1.0, 1.5, 1.75, 1.875, 1.9375, 1.90625, 1.921875]
    assert asimov.profiles[7:9] == pytest.approx([0.957031, 0.478516], abs=1e-6)
    # no trial point reached rMax: the range is untouched
    assert poi.hi == 20.0


def test_counting_observed_limit_exact_minimum():
    res = observed_limit(Counting(n=10.0), Counting(n=5.0), None, PoiRange(0.0, 20.0), AsymptoticSettings())
    assert res.ok
    assert "%6.4f" % res.limit == "3.7478"
    assert res.limit_err == pytest.approx(0.016788, abs=2e-6)


def test_counting_observed_limit_from_combines_minimum():
    # Combine's Migrad stopped at r = 1.67391 with error 1.04897: the same trial points follow
    data = Counting(n=10.0, r_hat=1.67391, r_err=1.04897)
    poi = PoiRange(0.0, 20.0)
    res = observed_limit(data, Counting(n=5.0), None, poi, AsymptoticSettings())
    combine_points = [4.820816, 3.247362, 4.034089, 3.641283, 3.806616, 3.729697, 3.763093, 3.747775]
    assert [r for r, _ in res.points] == pytest.approx(combine_points, abs=1e-5)
    assert res.limit == pytest.approx(3.7477751, abs=1e-6)
    assert res.limit_err == pytest.approx(0.0166980, abs=1e-6)
    # each CLs evaluation sets rMax to 1.1 r (Combine does not restore it)
    assert poi.hi == pytest.approx(1.1 * res.limit)


# ---------------------------------------------------------------------- lnN 1.3, n = 12
def test_lnn_expected_limits_prefit_and_postfit():
    s = AsymptoticSettings()
    prefit = expected_limits(CountingLnN(n=5.0), 0.0, PoiRange(0.0, 20.0), s)
    assert ["%6.4f" % v for _, v in prefit.printed] == ["1.0074", "1.3972", "2.0469", "3.0749", "4.4773"]
    # a-posteriori: b-only fit to the data moves theta and its global observable
    data = CountingLnN(n=12.0)
    t_hat = data.theta(0.0)
    assert t_hat == pytest.approx(1.302, abs=5e-4)
    post_asimov = CountingLnN(n=5.0 * 1.3**t_hat, glob=t_hat)
    post = expected_limits(post_asimov, t_hat, PoiRange(0.0, 20.0), s)
    # Combine prints 5.0790 for 97.5%: its Migrad minima are ~1e-3 above the exact profile, and
    # the |NLL - threshold| < 0.005 early stop of the bisection turns that into one step
    assert ["%6.4f" % v for _, v in post.printed] == ["1.2219", "1.6660", "2.4062", "3.5476", "5.0937"]


# ---------------------------------------------------------------------- failures
def test_flat_likelihood_gives_no_expected_limit():
    flat = Counting(n=5.0, flat=True)
    s = AsymptoticSettings(max_crossing_steps=40)
    res = expected_limits(flat, None, PoiRange(0.0, 20.0), s)
    assert math.isnan(res.median)
    assert res.rows == [] and res.printed == []
    assert res.warnings and "median" in res.warnings[0]


def test_strict_bounds_uses_upper_bound():
    s = AsymptoticSettings(strict_bounds=True)
    poi = PoiRange(0.0, 1.0)
    res = observed_limit(Counting(n=10.0), Counting(n=5.0), None, poi, s)
    assert res.ok and res.limit == 1.0 and res.limit_err == -1.0
    assert res.messages and "Stopping search" in res.messages[0]
    exp = expected_limits(Counting(n=5.0), None, PoiRange(0.0, 1.0), s)
    assert all(v <= 1.0 for _, v in exp.rows)


# ---------------------------------------------------------------------- the command
COUNTING_CARD = """imax 1
jmax 1
kmax {k}
------------
bin         b1
observation {n}
------------
bin         b1    b1
process     sig   bkg
process     0     1
rate        {s}   5
------------
{syst}
"""


def write_card(tmp_path: Path, n=10, s=3, syst="") -> str:
    (tmp_path / "card.txt").write_text(COUNTING_CARD.format(n=n, s=s, k=1 if syst else 0, syst=syst))
    return "card.txt"


def combine(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["combine", *args], cwd=tmp_path, capture_output=True, text=True, env=env(), timeout=120)


def block(stdout: str) -> list[str]:
    i = stdout.index("\n -- AsymptoticLimits")
    return stdout[i:].split("\n")


def test_command_counting_card(tmp_path):
    card = write_card(tmp_path)
    p = combine(tmp_path, "-M", "AsymptoticLimits", card)
    assert p.returncode == 0, p.stderr
    assert block(p.stdout) == ["", " -- AsymptoticLimits ( CLs ) --", "Observed Limit: r < 3.7478",
                               "Expected  2.5%: r < 0.9271", "Expected 16.0%: r < 1.2895",
                               "Expected 50.0%: r < 1.9141", "Expected 84.0%: r < 2.9288",
                               "Expected 97.5%: r < 4.3068", "", ""]
    t = read_tree(tmp_path / "higgsCombineTest.AsymptoticLimits.mH120.root", "limit")
    assert list(t["quantileExpected"]) == [np.float32(q) for q in (*QUANTILES, -1.0)]
    assert t["quantileExpected"].dtype == np.float32
    assert t["limit"][0] == 0.9271240234375
    assert t["limit"][2] == pytest.approx(1.9140625, abs=1e-12)
    assert list(t["limitErr"][:5]) == [0.0] * 5
    assert t["limitErr"][5] == pytest.approx(0.0168, abs=3e-4)
    assert list(t["iToy"]) == [0] * 6


def test_command_run_modes(tmp_path):
    card = write_card(tmp_path, syst="bunc lnN - 1.3")
    p = combine(tmp_path, "-M", "AsymptoticLimits", card, "--run", "blind", "-n", "Blind")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.split("\n")
    assert lines.index("Will use a-priori instead of a-posteriori expected background.") + 1 == \
        lines.index(">>> Method used is AsymptoticLimits")
    assert "Observed" not in p.stdout
    t = read_tree(tmp_path / "higgsCombineBlind.AsymptoticLimits.mH120.root", "limit")
    assert len(t["limit"]) == 5 and -1.0 not in t["quantileExpected"]
    # a-priori expected limits of s = 3, b = 5, lnN 1.3 (spec: 1.0074/1.3972/2.0469/3.0749/4.4773)
    assert ["%6.4f" % v for v in t["limit"]] == ["1.0074", "1.3972", "2.0469", "3.0749", "4.4773"]
    p = combine(tmp_path, "-M", "AsymptoticLimits", card, "--run", "observed", "-n", "Obs")
    assert p.returncode == 0, p.stderr
    assert "Expected" not in p.stdout and "Observed Limit: r < " in p.stdout
    t = read_tree(tmp_path / "higgsCombineObs.AsymptoticLimits.mH120.root", "limit")
    assert list(t["quantileExpected"]) == [-1.0]


def test_command_single_point(tmp_path):
    card = write_card(tmp_path)
    p = combine(tmp_path, "-M", "AsymptoticLimits", card, "--singlePoint", "3")
    assert p.returncode == 0, p.stderr
    # by hand: q_mu on the data (r_hat = 5/3), q_A on the Asimov b = 5 (r_hat = 0)
    d, a = Counting(n=10.0), Counting(n=5.0)
    q_mu, q_a = 2 * (d.nll(3.0) - d.nll(5 / 3)), 2 * (a.nll(3.0) - a.nll(0.0))
    cls = cls_from_q(q_mu, q_a)[0]
    assert "Observed CLs for r = 3.0: %6.4f \n" % cls in p.stdout
    t = read_tree(tmp_path / "higgsCombineTest.AsymptoticLimits.mH120.root", "limit")
    assert list(t["r"]) == [3.0] * 6
    assert t["limit"][-1] == pytest.approx(cls, abs=1e-4)
    # the expected CLs values Phi_c(sqrt(q_A) - Phi^-1(p)) / p
    for i, q in enumerate(QUANTILES):
        n = NormalDist().inv_cdf(q)
        assert t["limit"][i] == pytest.approx(0.5 * math.erfc((math.sqrt(q_a) - n) / math.sqrt(2)) / q, rel=1e-3)


def test_limit_outside_range_still_writes_file(tmp_path):
    # strict bounds: CLs at rMax = 1 is still above 5%; Combine uses the bound with limitErr -1
    card = write_card(tmp_path)
    p = combine(tmp_path, "-M", "AsymptoticLimits", card, "--rMax", "1", "--strictBounds")
    assert p.returncode == 0, p.stderr
    assert "Stopping search and using upper bound as limit." in p.stdout
    assert "Observed Limit: r < 1.0000" in p.stdout
    t = read_tree(tmp_path / "higgsCombineTest.AsymptoticLimits.mH120.root", "limit")
    assert t["limit"][-1] == 1.0 and t["limitErr"][-1] == -1.0
    # a negligible signal: no expected crossing can be reached by stepping; warn, write the rest
    card = write_card(tmp_path, n=5, s=0.0005, syst="bunc lnN - 1.1")
    p = combine(tmp_path, "-M", "AsymptoticLimits", card, "-n", "Tiny")
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    assert "Warning: AsymptoticLimits: could not find the median expected limit" in p.stderr
    assert "Expected" not in p.stdout
    t = read_tree(tmp_path / "higgsCombineTiny.AsymptoticLimits.mH120.root", "limit")
    assert list(t["quantileExpected"]) == [-1.0]


# ---------------------------------------------------------------------- reference suite
@pytest.mark.parametrize("case_id", case_params("AsymptoticLimits"))
def test_reference_case(case_id, tmp_path):
    exp, proc = run_case(case_id, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert compare(exp, tmp_path) == []
    # the console block has Combine's layout (numbers may differ in the last digits)
    got = [line.split(":")[0] for line in block(proc.stdout)]
    want = [line.split(":")[0] for line in block(exp["stdout"])]
    assert got == want
