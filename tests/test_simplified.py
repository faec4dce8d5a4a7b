"""Simplified likelihoods: ``pycombine simplify`` and ``combine ... sl.json``.

* the moments are Combine's FitDiagnostics ``overall_total_M1/M2/M3`` (central moments, 1/N),
  checked against the closed-form moments of log-normal yields (lnN nuisances drawn pre-fit);
* the quadratic expansion (Buckley et al., eqs. 2.9-2.12) reproduces the moments it is built from,
  checked against the closed form and against samples of ``a + b t + c t^2``;
* the model ``combine`` builds from an SL file has the SL's likelihood, written out by hand here;
* on the H->WW and T' analyses the SL limit is within 10 % of Combine's full-likelihood limit
  (the reference suite), and spey's third-moment-expansion model on our file gives our limit
  within 1 %;
* bad files and options are refused with one line, exit 1, and no output file.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from pycombine.interop.simplified import SimplifiedLikelihood, coefficients, read, write
from pycombine.interop.simplified import moments as expansion_moments
from pycombine.interop.simplified.expansion import Expansion
from pycombine.interop.simplified.moments import moments, sample_totals, standard_errors
from pycombine.tools.simplify import SimplifyOptions, simplify

from contract import assert_refused, limit_values, run_cli
from refsuite import AVAILABLE, SKIP_REASON, expected

REPO = Path(__file__).resolve().parents[1]
CARDS = REPO / "datacards"

LOGNORMAL_CARD = """\
imax 2 number of bins
jmax 1 number of processes minus 1
kmax 2 number of nuisance parameters
----------
bin          A     B
observation  104   57
----------
bin          A     A     B     B
process      sig   bkg   sig   bkg
process      0     1     0     1
rate         10    100   5     50
----------
shared lnN   -     1.2   -     1.2
own    lnN   -     -     -     1.1
"""


# ------------------------------------------------------------------------------ moments
def test_moments_are_combines_raw_sum_definitions():
    """FitDiagnostics.cc fills sums of x, x_i x_j and x^3 and then takes M2 = <x_i x_j> - m1_i m1_j
    and M3 = <x^3> + 2 m1^3 - 3 m1 <x^2>: the same numbers as our central moments."""
    rng = np.random.default_rng(7)
    X = rng.gamma(3.0, 10.0, size=(5000, 4))
    m1, m2, m3 = moments(X)
    N = X.shape[0]
    raw1 = X.sum(0) / N
    raw2 = X.T @ X / N
    raw3 = (X ** 3).sum(0) / N
    np.testing.assert_allclose(m1, raw1, rtol=1e-12)
    np.testing.assert_allclose(m2, raw2 - np.outer(raw1, raw1), rtol=1e-9)
    np.testing.assert_allclose(m3, raw3 + 2 * raw1 ** 3 - 3 * raw1 * np.diag(raw2), rtol=1e-6)


def test_sampled_moments_are_deterministic_for_a_seed():
    f = lambda Z: np.exp(Z)  # noqa: E731
    a = sample_totals(f, 2, 25_000, seed=5, chunk=7_000)
    b = sample_totals(f, 2, 25_000, seed=5, chunk=10_000)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sample_totals(f, 2, 25_000, seed=6))


def test_lognormal_moments_of_a_card(tmp_path):
    """Type B draws lnN nuisances from N(0, 1): yields b kappa^theta are log-normal, whose
    mean, covariance and third central moment are known in closed form."""
    card = tmp_path / "card.txt"
    card.write_text(LOGNORMAL_CARD)
    sl = simplify(str(card), SimplifyOptions(toys=200_000, seed=11), out=lambda _m: None)
    s1, s2 = math.log(1.2), math.log(1.1)
    vA, vB = s1 ** 2, s1 ** 2 + s2 ** 2

    def lognormal(b, v):
        mean = b * math.exp(v / 2)
        var = b * b * math.exp(v) * (math.exp(v) - 1)
        m3 = (math.exp(v) + 2) * math.sqrt(math.exp(v) - 1) * var ** 1.5
        return mean, var, m3

    (mA, varA, m3A), (mB, varB, m3B) = lognormal(100, vA), lognormal(50, vB)
    cov = 5000 * math.exp(s1 ** 2 + s2 ** 2 / 2) * (math.exp(s1 ** 2) - 1)
    assert sl.bins == ["A_0", "B_0"]
    np.testing.assert_allclose(sl.signal, [10.0, 5.0], rtol=1e-12)
    np.testing.assert_array_equal(sl.data, [104.0, 57.0])
    # within 5 standard errors of the sampled moments
    X = sample_totals(lambda Z: np.column_stack([100 * np.exp(s1 * Z[:, 0]),
                                                 50 * np.exp(s1 * Z[:, 0] + s2 * Z[:, 1])]), 2, 200_000, seed=11)
    e1, e2, e3 = standard_errors(X)
    assert abs(sl.m1[0] - mA) < 5 * e1[0] and abs(sl.m1[1] - mB) < 5 * e1[1]
    assert abs(sl.m2[0, 0] - varA) < 5 * e2[0] and abs(sl.m2[1, 1] - varB) < 5 * e2[1]
    assert abs(sl.m3[0] - m3A) < 5 * e3[0] and abs(sl.m3[1] - m3B) < 5 * e3[1]
    assert sl.m2[0, 1] == pytest.approx(cov, rel=0.03)
    assert sl.m2[0, 1] == sl.m2[1, 0]


# ------------------------------------------------------------------------------ expansion
def _random_expansion(rng, n=4) -> Expansion:
    A = rng.normal(size=(n, n))
    cov = A @ A.T + n * np.eye(n)
    d = np.sqrt(np.diag(cov))
    rho = cov / np.outer(d, d)
    b = rng.uniform(2, 10, n)
    c = rng.uniform(-0.5, 0.5, n) * b / 4
    return Expansion(a=rng.uniform(50, 100, n), b=b, c=c, rho=rho)


def test_expansion_inverts_its_moments():
    e = _random_expansion(np.random.default_rng(3))
    m1, m2, m3 = expansion_moments(e)
    back = coefficients(m1, m2, m3)
    for name in ("a", "b", "c", "rho"):
        np.testing.assert_allclose(getattr(back, name), getattr(e, name), rtol=1e-9, atol=1e-12, err_msg=name)


def test_expansion_moments_match_samples():
    """Isserlis' closed form against 10^6 samples of a + b t + c t^2, t ~ MVN(0, rho)."""
    rng = np.random.default_rng(4)
    e = _random_expansion(rng, 3)
    t = rng.multivariate_normal(np.zeros(3), e.rho, size=1_000_000)
    X = e.a + e.b * t + e.c * t * t
    m1, m2, m3 = expansion_moments(e)
    s1, s2, s3 = moments(X)
    e1, e2, e3 = standard_errors(X)
    assert (np.abs(s1 - m1) < 5 * e1).all()
    assert (np.abs(np.diag(s2) - np.diag(m2)) < 5 * e2).all()
    assert (np.abs(s3 - m3) < 5 * e3).all()
    np.testing.assert_allclose(s2, m2, rtol=0.02, atol=0.02 * np.sqrt(np.outer(np.diag(m2), np.diag(m2))).max())


# ------------------------------------------------------------------------------ the likelihood
def _small_sl() -> SimplifiedLikelihood:
    rng = np.random.default_rng(9)
    e = _random_expansion(rng, 3)
    m1, m2, m3 = expansion_moments(e)
    return SimplifiedLikelihood(bins=["a", "b", "c"], signal=np.array([4.0, 9.0, 2.0]), m1=m1, m2=m2, m3=m3,
                                data=np.round(m1 + np.array([6.0, 10.0, -3.0])))


def _hand_profile(sl: SimplifiedLikelihood, r: float) -> float:
    """min over z of sum(lambda - n log lambda) + z.z/2, lambda = r s + a + b t + c t^2, t = L z."""
    from scipy.optimize import minimize

    e = coefficients(sl.m1, sl.m2, sl.m3)
    L = np.linalg.cholesky(e.rho)

    def nll(z):
        t = L @ z
        lam = r * sl.signal + e.a + e.b * t + e.c * t * t
        return float(np.sum(lam - sl.data * np.log(lam)) + 0.5 * z @ z)

    return min(minimize(nll, np.zeros(3), method="BFGS", options={"gtol": 1e-9}).fun,
               minimize(nll, np.full(3, 0.3), method="Nelder-Mead",
                        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000}).fun)


def test_sl_file_has_the_sl_likelihood(tmp_path):
    sl = _small_sl()
    path = tmp_path / "sl.json"
    write(sl, str(path))
    res = run_cli(["-M", "MultiDimFit", "sl.json", "--algo", "grid", "--points", "5",
                   "--setParameterRanges", "r=0,4", "-n", "scan"], tmp_path)
    assert res.code == 0, res.err
    import uproot

    with uproot.open(tmp_path / "higgsCombinescan.MultiDimFit.mH120.root") as f:
        t = f["limit"].arrays(["r", "deltaNLL"], library="np")
    rs, dn = t["r"][1:], t["deltaNLL"][1:]
    hand = np.array([_hand_profile(sl, float(r)) for r in rs])
    # deltaNLL is relative to the best fit: compare the differences between scan points
    np.testing.assert_allclose(dn - dn[0], hand - hand[0], atol=2e-3)


# ------------------------------------------------------------------------------ the analyses
def _observed(stdout: str) -> float:
    return float(re.search(r"Observed Limit: r < ([0-9.eE+-]+)", stdout).group(1))


def _spey_observed(path: Path) -> float:
    spey = pytest.importorskip("spey", reason="spey (a test dependency) is not installed")
    model = spey.get_backend("default.third_moment_expansion")(**json.loads(path.read_text())["model"])
    return float(model.poi_upper_limit(expected=spey.ExpectationType.observed))


ANALYSES = [
    # case of the reference suite with the full-likelihood limit, card, simplify options
    ("seed_hww_asym_obs", CARDS / "hww" / "combined_datacard.txt", ["-m", "125"]),
    ("seed_tprime_asym", CARDS / "tprime" / "combined_search.txt", ["--type", "A", "--mask-regex", "signal"]),
]


@pytest.mark.skipif(not AVAILABLE, reason=SKIP_REASON)
@pytest.mark.parametrize("case_id,card,opts", ANALYSES, ids=[a[0] for a in ANALYSES])
def test_sl_limit_near_combines_full_limit_and_spey(tmp_path, case_id, card, opts):
    res = run_cli(["simplify", str(card), "-o", "sl.json", *opts], tmp_path, script="pycombine")
    assert res.code == 0, res.err
    mass = ["-m", "125"] if "-m" in opts else []
    lim = run_cli(["-M", "AsymptoticLimits", "sl.json", *mass], tmp_path)
    assert lim.code == 0, lim.err
    ours = _observed(lim.out)
    full = _observed(expected(case_id)["stdout"])
    assert abs(ours / full - 1) < 0.10, (ours, full)
    assert limit_values(tmp_path / f"higgsCombineTest.AsymptoticLimits.mH{125 if mass else 120}.root").size == 6
    assert abs(_spey_observed(tmp_path / "sl.json") / ours - 1) < 0.01


# ------------------------------------------------------------------------------ refusals
def test_round_trip_of_the_file(tmp_path):
    sl = _small_sl()
    write(sl, str(tmp_path / "sl.json"))
    back = read(str(tmp_path / "sl.json"))
    assert back.bins == sl.bins
    np.testing.assert_array_equal(back.m2, sl.m2)
    np.testing.assert_array_equal(back.m3, sl.m3)


@pytest.mark.parametrize("edit,fragment", [
    (lambda m: m["covariance_matrix"][0].__setitem__(0, -1.0), "variance of bin a"),
    (lambda m: m["third_moment"].__setitem__(1, 1e9), "too skewed"),
    (lambda m: m["data"].__setitem__(2, -3.0), "negative"),
    (lambda m: m["background_yields"].pop(), "bins"),
    (lambda m: m["covariance_matrix"][1].__setitem__(0, 1e6), "not symmetric"),
])
def test_bad_files_are_refused(tmp_path, edit, fragment):
    write(_small_sl(), str(tmp_path / "sl.json"))
    doc = json.loads((tmp_path / "sl.json").read_text())
    edit(doc["model"])
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    res = run_cli(["-M", "AsymptoticLimits", "bad.json"], tmp_path)
    assert_refused(res, tmp_path, "bad.json", fragment)


def test_non_finite_numbers_are_refused(tmp_path):
    write(_small_sl(), str(tmp_path / "sl.json"))
    doc = json.loads((tmp_path / "sl.json").read_text())
    doc["model"]["signal_yields"][0] = float("nan")
    (tmp_path / "bad.json").write_text(json.dumps(doc))  # Python writes the NaN literal
    assert "NaN" in (tmp_path / "bad.json").read_text()
    assert_refused(run_cli(["-M", "AsymptoticLimits", "bad.json"], tmp_path), tmp_path, "not a finite number")


def test_impossible_options_are_refused(tmp_path):
    card = tmp_path / "card.txt"
    card.write_text(LOGNORMAL_CARD)
    assert_refused(run_cli(["simplify", "card.txt", "--type", "A"], tmp_path, script="pycombine"), tmp_path,
                   "--mask-regex")
    assert_refused(run_cli(["simplify", "card.txt", "--mask-regex", "nope"], tmp_path, script="pycombine"), tmp_path,
                   "matches no channel")
    assert not (tmp_path / "simplified.json").exists()
