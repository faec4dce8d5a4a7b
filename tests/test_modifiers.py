"""The likelihood model, modifier by modifier, against values computed by hand from the formulas.

Every expected number in this file is computed here, in the test, from the formulas of
COMBINE_SEMANTICS.md (§3.1-§3.8 and items 3-7, 12, 13 of the list at its top), using only the
numbers written in the tiny datacards and tables below; nothing is compared with pycombine's own
earlier output. The engine is reached through the public entry points: ``pycombine.load_datacard``
(-> ``Model.expected`` / ``Model.nll``) and, for the Barlow-Beeston checks, ``Likelihood`` and
``Fitter``.
"""

# printf-style formats below restate Combine's own printf/TString::Format strings verbatim
# ruff: noqa: UP031

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import pycombine
from pycombine.fit.minimize import Fitter, MinimizerOptions, ParameterState
from pycombine.model.likelihood import Dataset, Likelihood

REL = 1e-12  # our engine and the hand formulas both work in double precision


# ============================================================================ hand formulas
def smooth_step(x: float, q: float) -> float:
    """Vertical-morphing step (§3.5): sign(x) for |x| >= q, else u(3u^4 - 10u^2 + 15)/8, u = x/q."""
    if abs(x) >= q:
        return math.copysign(1.0, x)
    u = x / q
    return u * (3 * u**4 - 10 * u**2 + 15) / 8


def log_kappa(theta: float, klo: float, khi: float) -> float:
    """L(theta) of the asymmetric log-normal / AsymPow (§3.4)."""
    if theta >= 0.5:
        return math.log(khi)
    if theta <= -0.5:
        return -math.log(klo)
    x = 2 * theta
    h = (3 * x**5 - 10 * x**3 + 15 * x) / 8
    return 0.5 * (math.log(khi) - math.log(klo)) + 0.5 * (math.log(khi) + math.log(klo)) * h


def asym_factor(theta: float, klo: float, khi: float) -> float:
    return math.exp(theta * log_kappa(theta, klo, khi))


def f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def shape_kappa(nominal, up, down, v):
    """AsymPow kappas of a shape systematic (item 3): (lo, hi) rounded to 6 decimals, or None."""
    ku, kd = float(np.sum(up)) / float(np.sum(nominal)), float(np.sum(down)) / float(np.sum(nominal))
    if abs(ku - 1) < 1e-3 and abs(kd - 1) < 1e-3:
        return None
    return float("%f" % kd**v), float("%f" % ku**v)


def morphed_yield(nominal, systs, thetas, *, amc: bool, hist_mode: int = 1, log: bool = False, rate=None):
    """Expected yield per bin of one process with shape systematics (§3.3-§3.5, items 2-5).

    ``systs`` = [(up, down, datacard value)], ``thetas`` the nuisance values.
    """
    nominal = np.asarray(nominal, float)
    q = min([1.0] + [v for _, _, v in systs if v < 1])
    i0 = float(np.sum(nominal))
    if amc:
        t0 = nominal
    else:
        t0 = nominal / i0
    pairs = []
    for up, down, v in systs:
        up, down = np.asarray(up, float), np.asarray(down, float)
        if amc and hist_mode == 1:
            up, down = f32(up * (i0 / up.sum())), f32(down * (i0 / down.sum()))
        elif not amc:
            up, down = up / up.sum(), down / down.sum()
        pairs.append((up, down, v))
    base = np.log(t0) if log else t0.copy()
    u = base.copy()
    for (up, down, v), th in zip(pairs, thetas):
        if log:
            dp, dm = np.log(up / t0), np.log(down / t0)
        else:
            dp, dm = up - t0, down - t0
        x = v * th
        u += 0.5 * x * ((dp - dm) + smooth_step(x, q) * (dp + dm))
    if log:
        t = np.exp(u)
        t = t * ((i0 if amc else 1.0) / t.sum())
        if amc:
            t = np.maximum(t, 1e-9)
    else:
        t = np.maximum(u, 1e-9)
        if not amc:
            t = t / t.sum()
    norm = (i0 if rate is None else rate) if not amc else 1.0
    if not (amc and hist_mode == 2):
        for (up, down, v), th in zip(systs, thetas):
            k = shape_kappa(nominal, up, down, v)
            if k is not None:
                norm *= asym_factor(th, *k)
    return norm * t


# ============================================================================ card helpers
COUNTING = """imax *
jmax *
kmax *
------------
bin         {bins}
observation {obs}
------------
bin      {cbins}
process  {procs}
process  {ids}
rate     {rates}
------------
{syst}
"""


def counting_card(tmp_path: Path, syst: str, *, rates=(3.0, 5.0), obs=10, name="card.txt") -> Path:
    """One channel b1 with signal 'sig' and background 'bkg'."""
    text = COUNTING.format(
        bins="b1", obs=obs, cbins="b1 b1", procs="sig bkg", ids="0 1",
        rates=" ".join(str(r) for r in rates), syst=syst,
    )
    path = tmp_path / name
    path.write_text(text)
    return path


def write_table(path: Path, templates: dict) -> None:
    """templates: {(channel, process, systematic): (sum_w list, sum_ww list or None)} -> csv."""
    lines = ["channel,process,systematic,bin,sum_w,sum_ww"]
    for (ch, proc, syst), (w, ww) in templates.items():
        ww = w if ww is None else ww
        for j, (a, b) in enumerate(zip(w, ww)):
            lines.append(f"{ch},{proc},{syst},{j},{a!r},{abs(b)!r}")
    path.write_text("\n".join(lines) + "\n")


SHAPE_CARD = """imax 1
jmax *
kmax *
------------
shapes * * t.csv $CHANNEL:$PROCESS $CHANNEL:$PROCESS:$SYSTEMATIC
------------
bin         ch
observation -1
------------
bin      {cbins}
process  {procs}
process  {ids}
rate     {rates}
------------
{syst}
"""


def shape_card(tmp_path: Path, templates: dict, syst: str, procs=("sig", "bkg"), rates=None, name="card.txt") -> Path:
    write_table(tmp_path / "t.csv", templates)
    rates = rates or ["-1"] * len(procs)
    text = SHAPE_CARD.format(
        cbins=" ".join(["ch"] * len(procs)), procs=" ".join(procs),
        ids=" ".join(str(i) for i in range(len(procs))), rates=" ".join(map(str, rates)), syst=syst,
    )
    path = tmp_path / name
    path.write_text(text)
    return path


def load(path: Path, **kw):
    return pycombine.load_datacard(path, warn=False, **kw)


def yields(model, params=None) -> dict:
    return model.expected(params or {})


# ============================================================================ lnN
@pytest.mark.parametrize("theta", [-2.0, -0.7, 0.0, 0.4, 1.0, 2.5])
def test_symmetric_lnN_is_kappa_to_the_theta(tmp_path, theta):
    model = load(counting_card(tmp_path, "lnB lnN - 1.2\nlnS lnN 0.8 -"))
    y = yields(model, {"lnB": theta, "lnS": -theta})
    assert y[("b1", "bkg")][0] == pytest.approx(5.0 * 1.2**theta, rel=REL)
    assert y[("b1", "sig")][0] == pytest.approx(3.0 * 0.8 ** (-theta), rel=REL)


@pytest.mark.parametrize("theta", [-2.0, -1.0, -0.5, -0.3, 0.0, 0.3, 0.5, 1.0, 1.3])
def test_asymmetric_lnN_quintic_blend(tmp_path, theta):
    """0.9/1.15 (down/up): kappa_lo^-theta below -0.5, kappa_hi^theta above 0.5, blend inside."""
    model = load(counting_card(tmp_path, "a lnN - 0.9/1.15"))
    got = yields(model, {"a": theta})[("b1", "bkg")][0]
    if theta <= -0.5:
        want = 5.0 * 0.9 ** (-theta)
    elif theta >= 0.5:
        want = 5.0 * 1.15**theta
    else:
        x = 2 * theta
        h = (3 * x**5 - 10 * x**3 + 15 * x) / 8
        L = 0.5 * (math.log(1.15) - math.log(0.9)) + 0.5 * (math.log(1.15) + math.log(0.9)) * h
        want = 5.0 * math.exp(theta * L)
    assert got == pytest.approx(want, rel=REL)


def test_asymmetric_lnN_reference_points(tmp_path):
    """Spec item 6's points: θ = -2, -0.3, 0.3, 1.3 for 0.9/1.15; ±1 reproduce the kappas."""
    model = load(counting_card(tmp_path, "a lnN - 0.9/1.15"))
    for theta in (-2.0, -0.3, 0.3, 1.3):
        got = yields(model, {"a": theta})[("b1", "bkg")][0]
        assert got == pytest.approx(5.0 * asym_factor(theta, 0.9, 1.15), rel=REL)
    assert yields(model, {"a": -2.0})[("b1", "bkg")][0] == pytest.approx(5.0 * 0.81, rel=REL)
    assert yields(model, {"a": -1.0})[("b1", "bkg")][0] == pytest.approx(5.0 * 0.9, rel=REL)
    assert yields(model, {"a": 1.0})[("b1", "bkg")][0] == pytest.approx(5.0 * 1.15, rel=REL)


@pytest.mark.parametrize("theta", [-0.8, 0.2, 0.45, 1.7])
def test_asymmetric_pair_collapses_to_symmetric_kappa_hi(tmp_path, theta):
    """|κlo·κhi − 1| < 1e-5: the pair 0.95/1.052631 is the symmetric κ = 1.052631."""
    model = load(counting_card(tmp_path, "a lnN - 0.95/1.052631\nb lnN - 0.95/1.06"))
    y = yields(model, {"a": theta})[("b1", "bkg")][0]
    sym = 5.0 * 1.052631**theta
    assert y == pytest.approx(sym, rel=1e-13)
    if theta < 0.5:
        # below θ = 0.5 the un-collapsed formula differs measurably (3e-10 to 4e-7 relative at
        # these points), far above the tolerance: the test can tell the two apart
        assert abs(5.0 * asym_factor(theta, 0.95, 1.052631) / sym - 1) > 1e-10
    # 0.95 * 1.06 = 1.007: no collapse
    y2 = yields(model, {"b": theta})[("b1", "bkg")][0]
    assert y2 == pytest.approx(5.0 * asym_factor(theta, 0.95, 1.06), rel=REL)


# ============================================================================ vertical morphing
NOM = [10.0, 20.0, 30.0, 40.0]
S1 = ([12.0, 22.0, 28.0, 44.0], [9.0, 18.0, 33.0, 38.0])  # integrals 106 / 98
S2 = ([11.0, 19.0, 31.0, 41.0], [10.0, 21.0, 28.0, 40.0])  # integrals 102 / 99
SIG = [1.0, 2.0, 2.0, 1.0]


def _morph_tables(with_s2: bool = True, nominal=NOM) -> dict:
    t = {
        ("ch", "data_obs", "nominal"): (list(nominal), None),
        ("ch", "sig", "nominal"): (SIG, None),
        ("ch", "bkg", "nominal"): (list(nominal), None),
        ("ch", "bkg", "s1Up"): (S1[0], None),
        ("ch", "bkg", "s1Down"): (S1[1], None),
    }
    if with_s2:
        t[("ch", "bkg", "s2Up")] = (S2[0], None)
        t[("ch", "bkg", "s2Down")] = (S2[1], None)
    return t


MODES = {
    # name: (autoMCStats line, amc, hist_mode)
    "th1": ("", False, 1),
    "amc_hist1": ("* autoMCStats -1", True, 1),
    "amc_hist2": ("* autoMCStats -1 0 2", True, 2),
}
THETAS = [(0.3, 0.0), (0.9, 0.0), (-1.3, 0.0), (0.0, 0.6), (0.0, -1.6), (0.45, -0.7), (1.7, 2.5), (-0.2, 0.9)]


@pytest.mark.parametrize("morph", ["shape", "shapeN"])
@pytest.mark.parametrize("mode", list(MODES))
def test_vertical_morphing_two_scales(tmp_path, mode, morph):
    """Values 1 and 0.5: q = 0.5 for both systematics; inside and outside the polynomial region."""
    amc_line, amc, hist_mode = MODES[mode]
    syst = f"s1 {morph} - 1\ns2 {morph} - 0.5\n{amc_line}"
    model = load(shape_card(tmp_path, _morph_tables(), syst))
    systs = [(S1[0], S1[1], 1.0), (S2[0], S2[1], 0.5)]
    for th1, th2 in THETAS:
        got = yields(model, {"s1": th1, "s2": th2})[("ch", "bkg")]
        want = morphed_yield(NOM, systs, (th1, th2), amc=amc, hist_mode=hist_mode, log=morph == "shapeN")
        np.testing.assert_allclose(got, want, rtol=REL, err_msg=f"theta = {th1}, {th2}")
    # ±1σ reproduces the input templates in shape (θ = +1 for the value-1 systematic)
    got = yields(model, {"s1": 1.0})[("ch", "bkg")]
    if morph == "shapeN":
        return  # log morphing: renormalised to the nominal integral, checked above
    if not amc:
        np.testing.assert_allclose(got / got.sum(), np.array(S1[0]) / sum(S1[0]), rtol=1e-12)
    elif hist_mode == 2:
        np.testing.assert_allclose(got, S1[0], rtol=1e-12)


def test_smoothing_region_is_shared_by_all_shape_systematics_of_a_process(tmp_path):
    """x = 0.9 for a value-1 systematic: linear when the process also has a value-0.5 systematic
    (q = 0.5), in the polynomial region when it is alone (q = 1) (item 5; 5e-5 relative here)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    both = load(shape_card(tmp_path / "a", _morph_tables(), "s1 shape - 1\ns2 shape - 0.5"))
    alone = load(shape_card(tmp_path / "b", _morph_tables(with_s2=False), "s1 shape - 1"))
    y_both = yields(both, {"s1": 0.9})[("ch", "bkg")]
    y_alone = yields(alone, {"s1": 0.9})[("ch", "bkg")]
    lin = morphed_yield(NOM, [(S1[0], S1[1], 1.0), (S2[0], S2[1], 0.5)], (0.9, 0.0), amc=False)
    poly = morphed_yield(NOM, [(S1[0], S1[1], 1.0)], (0.9,), amc=False)
    np.testing.assert_allclose(y_both, lin, rtol=REL)
    np.testing.assert_allclose(y_alone, poly, rtol=REL)
    assert np.max(np.abs(lin / poly - 1)) > 1e-5
    # outside |x| >= q the shift is linear: x * d+ (TH1 path: normalised templates)
    t0 = np.array(NOM) / 100
    lin_shape = t0 + 0.9 * (np.array(S1[0]) / 106 - t0)
    np.testing.assert_allclose(y_both / y_both.sum(), lin_shape / lin_shape.sum(), rtol=1e-12)


def test_shape_normalisation_kappas_rounded_and_dropped(tmp_path):
    """κ = (∫±/∫0)^v rounded to 6 decimals; no normalisation effect if both |κ−1| < 1e-3 (item 3)."""
    tables = _morph_tables()
    # integrals 100.0078125 / 99.99609375: ratios within 1e-3 of 1 (values exact in float32)
    tables[("ch", "bkg", "s3Up")] = ([10.0078125, 20.0, 30.0, 40.0], None)
    tables[("ch", "bkg", "s3Down")] = ([10.0, 20.0, 30.0, 39.99609375], None)
    model = load(shape_card(tmp_path, tables, "s1 shape - 1\ns2 shape - 0.5\ns3 shape - 1"))
    bkg = model.spec.channel("ch").processes[1]
    kappas = {e.name: e.kappa for e in bkg.shapes}
    assert kappas["s1"] == (0.98, 1.06)
    assert kappas["s2"] == (float("%f" % 0.99**0.5), float("%f" % 1.02**0.5))
    assert kappas["s2"] == (0.994987, 1.009950)
    assert kappas["s3"] is None
    # s3 at +2σ: shape changes, the TH1-path yield stays exactly the rate
    y = yields(model, {"s3": 2.0})[("ch", "bkg")]
    assert y.sum() == pytest.approx(100.0, rel=1e-14)
    assert not np.allclose(y, NOM, rtol=1e-6)
    # the s2 AsymPow acts on the unscaled θ (not on x = 0.5 θ)
    y = yields(model, {"s2": 1.0})[("ch", "bkg")]
    assert y.sum() == pytest.approx(100.0 * 1.009950, rel=1e-13)


def test_shape_question_mark_falls_back_to_lnN(tmp_path):
    """`shape?`: a shape where the Up/Down templates exist (bkg), an lnN with the same value where
    they do not (sig; asymmetric allowed); the parameter is created with the lnN range [−7, 7]."""
    model = load(shape_card(tmp_path, _morph_tables(with_s2=False), "s1 shape? 0.8/1.25 1"))
    p = model.spec.parameters["s1"]
    assert (p.lo, p.hi, p.constraint) == (-7.0, 7.0, "gauss")
    for th in (-1.3, 0.2, 0.9):
        y = yields(model, {"s1": th})
        np.testing.assert_allclose(y[("ch", "sig")], np.array(SIG) * asym_factor(th, 0.8, 1.25), rtol=REL)
        want = morphed_yield(NOM, [(S1[0], S1[1], 1.0)], (th,), amc=False)
        np.testing.assert_allclose(y[("ch", "bkg")], want, rtol=REL)


def test_rate_column_wins_without_autoMCStats_template_integral_with_it(tmp_path):
    """Item 2: rate 99.5 with a template of integral 100: yield 99.5 (TH1) vs 100 (autoMCStats)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    th1 = load(shape_card(tmp_path / "a", _morph_tables(), "s1 shape - 1", rates=[6, 99.5]))
    amc = load(shape_card(tmp_path / "b", _morph_tables(), "s1 shape - 1\n* autoMCStats -1", rates=[6, 99.5]))
    np.testing.assert_allclose(yields(th1)[("ch", "bkg")], np.array(NOM) * 0.995, rtol=REL)
    np.testing.assert_allclose(yields(amc)[("ch", "bkg")], NOM, rtol=REL)


@pytest.mark.parametrize("amc", [False, True])
def test_negative_template_bin_is_floored(tmp_path, amc):
    """Item 4: [3, 2, -0.5, 1] with rate -1 -> 5.5 spread as [3, 2, 1e-9, 1]/6 (TH1 path), or the
    absolute [3, 2, 1e-9, 1] (total 6) with autoMCStats.

    Exactly (``FastVerticalInterpHistPdf2::initNominal``/``setActiveBins``): the TH1-path
    nominal is first normalised to unit sum, *then* floored at 1e-9, then renormalised, so the
    floored bin is 1e-9 on the unit-normalised scale.
    """
    tables = {
        ("ch", "data_obs", "nominal"): ([3.0, 2.0, 1.0, 1.0], None),
        ("ch", "sig", "nominal"): (SIG, None),
        ("ch", "bkg", "nominal"): ([3.0, 2.0, -0.5, 1.0], [9.0, 4.0, 0.25, 1.0]),
    }
    model = load(shape_card(tmp_path, tables, "* autoMCStats -1" if amc else ""))
    got = yields(model)[("ch", "bkg")]
    floored = np.array([3.0, 2.0, 1e-9, 1.0])
    if amc:
        np.testing.assert_allclose(got, floored, rtol=REL)
        assert got.sum() == pytest.approx(6.0 + 1e-9, rel=1e-14)
    else:
        unit = np.maximum(np.array([3.0, 2.0, -0.5, 1.0]) / 5.5, 1e-9)
        np.testing.assert_allclose(got, 5.5 * unit / unit.sum(), rtol=REL)
        np.testing.assert_allclose(got, 5.5 * floored / 6.0, rtol=2e-9, atol=1e-8)  # the spec's wording
        assert got.sum() == pytest.approx(5.5, rel=1e-14)


def test_shapeU_is_flat_on_minus_one_one(tmp_path):
    model = load(shape_card(tmp_path, _morph_tables(with_s2=False), "s1 shapeU - 1"))
    p = model.spec.parameters["s1"]
    assert (p.lo, p.hi, p.constraint) == (-1.0, 1.0, "uniform")
    # a flat constraint: the NLL difference is the Poisson part only
    d = model.observed()["ch"]
    nu = {th: yields(model, {"s1": th})[("ch", "bkg")] + yields(model, {"s1": th})[("ch", "sig")] for th in (-0.6, 0.8)}
    want = sum(np.sum(nu[t] - d * np.log(nu[t])) * s for t, s in ((-0.6, 1), (0.8, -1)))
    assert model.nll({"s1": -0.6}) - model.nll({"s1": 0.8}) == pytest.approx(want, abs=1e-10)


# ============================================================================ gmN
def test_gmN_starts_at_N_plus_1_and_has_a_poisson_constraint(tmp_path):
    """gmN 7 with α = 0.3: pre-fit yield 0.3 * 8 = 2.4 (item 7); n ∈ [0.059030, 49.533891],
    `_In` ∈ [0, 37] (§3.1); the constraint is n − N ln n (+ const)."""
    model = load(counting_card(tmp_path, "bkgA gmN 7 - 0.3", rates=(1.0, 2.1), obs=3))
    p = model.spec.parameters["bkgA"]
    assert p.init == 8.0
    assert (p.lo, p.hi) == (0.05903, 49.533891)
    assert p.glob == 7.0 and p.constraint == "poisson"
    assert p.global_obs_range == (0.0, 37.0)
    assert yields(model)[("b1", "bkg")][0] == pytest.approx(2.4, rel=REL)
    assert yields(model, {"bkgA": 5.5})[("b1", "bkg")][0] == pytest.approx(0.3 * 5.5, rel=REL)

    def hand(n):
        nu = 1.0 + 0.3 * n
        return nu - 3 * math.log(nu) + n - 7 * math.log(n)

    for a, b in ((8.0, 5.5), (2.0, 12.0), (7.0, 0.5)):
        assert model.nll({"bkgA": a}) - model.nll({"bkgA": b}) == pytest.approx(hand(a) - hand(b), abs=1e-10)


def test_gmN_range_for_N_zero_and_large_N(tmp_path):
    """The range recipe of §3.1 restated: minExp·0.8 / maxExp·1.2 while Poisson(N; x) > 1e-12."""

    def pois(x, lam):
        if x == 0:
            return math.exp(-lam)
        return math.exp(x * math.log(lam) - math.lgamma(x + 1) - lam) if lam > 0 else 0.0

    for N in (0, 25):
        lo = N + 1 if N > 0 else 0
        while lo > 0 and pois(N, lo) > 1e-12:
            lo *= 0.8
        hi = N + 1
        while pois(N, hi) > 1e-12:
            hi *= 1.2
        path = counting_card(tmp_path, f"g gmN {N} - 0.2", rates=(1.0, 0.2 * N if N else 0.2), name=f"c{N}.txt")
        p = load(path).spec.parameters["g"]
        assert (p.lo, p.hi) == (float("%f" % lo), float("%f" % hi))
        assert p.init == N + 1


def test_gmN_with_N_zero(tmp_path):
    """gmN 0 with α = 0.2 on a rate-0 process: the process stays (rate 1e-6 at parse time) and its
    pre-fit yield is α·(0 + 1) = 0.2; the constraint n − 0·ln n is linear in n."""
    model = load(counting_card(tmp_path, "g gmN 0 - 0.2", rates=(1.0, 0.0), obs=2))
    p = model.spec.parameters["g"]
    assert (p.init, p.lo, p.hi, p.glob) == (1.0, 0.0, float("%f" % 1.2**19), 0.0)
    assert p.global_obs_range == (0.0, 16.0)
    assert yields(model)[("b1", "bkg")][0] == pytest.approx(0.2, rel=REL)

    def hand(n):
        nu = 1.0 + 0.2 * n
        return nu - 2 * math.log(nu) + n

    assert model.nll({"g": 3.0}) - model.nll({"g": 0.5}) == pytest.approx(hand(3.0) - hand(0.5), abs=1e-10)


def test_gmN_in_autoMCStats_channel(tmp_path):
    """With autoMCStats the template is absolute and the gmN coefficient is n/N (§3.4): pre-fit
    T·(N+1)/N."""
    tables = {
        ("ch", "data_obs", "nominal"): ([5.0, 3.0], None),
        ("ch", "sig", "nominal"): ([1.0, 1.0], None),
        ("ch", "bkg", "nominal"): ([1.5, 0.5], [0.5, 0.1]),
    }
    model = load(shape_card(tmp_path, tables, "g gmN 4 - 0.5\n* autoMCStats -1"))
    np.testing.assert_allclose(yields(model)[("ch", "bkg")], np.array([1.5, 0.5]) * 5 / 4, rtol=REL)
    np.testing.assert_allclose(yields(model, {"g": 2.0})[("ch", "bkg")], np.array([1.5, 0.5]) * 2 / 4, rtol=REL)


# ============================================================================ lnU, param, rateParam, trG
def test_lnU_is_flat_and_multiplicative(tmp_path):
    model = load(counting_card(tmp_path, "u lnU 1.5 -"))
    p = model.spec.parameters["u"]
    assert (p.lo, p.hi, p.constraint) == (-1.0, 1.0, "uniform")
    assert yields(model, {"u": -0.7})[("b1", "sig")][0] == pytest.approx(3.0 * 1.5**-0.7, rel=REL)

    def pois(th):
        nu = 3.0 * 1.5**th + 5.0
        return nu - 10 * math.log(nu)

    assert model.nll({"u": -0.7}) - model.nll({"u": 0.9}) == pytest.approx(pois(-0.7) - pois(0.9), abs=1e-10)


def test_param_gaussian_constraint(tmp_path):
    """`p param 1.0 0.5`: starts at 1, range [−1, 3], constraint ½((θ−1)/0.5)²."""
    model = load(counting_card(tmp_path, "p param 1.0 0.5"))
    p = model.spec.parameters["p"]
    assert (p.init, p.lo, p.hi) == (1.0, -1.0, 3.0)
    for a, b in ((1.0, 2.0), (0.2, 2.6), (-0.5, 1.3)):
        want = 0.5 * ((a - 1) / 0.5) ** 2 - 0.5 * ((b - 1) / 0.5) ** 2
        assert model.nll({"p": a}) - model.nll({"p": b}) == pytest.approx(want, abs=1e-10)


def test_param_asymmetric_is_bifurcated(tmp_path):
    """`p param 1.0 -0.5/+1.0`: range [1 − 4·0.5, 1 + 4·1] = [−1, 5]; σ = 0.5 below, 1 above."""
    model = load(counting_card(tmp_path, "p param 1.0 -0.5/+1.0"))
    p = model.spec.parameters["p"]
    assert (p.lo, p.hi) == (-1.0, 5.0)

    def c(t):
        return 0.5 * ((t - 1) / (0.5 if t < 1 else 1.0)) ** 2

    for a, b in ((0.6, 2.2), (1.0, 0.0), (3.5, -0.8), (1.2, 0.9)):
        assert model.nll({"p": a}) - model.nll({"p": b}) == pytest.approx(c(a) - c(b), abs=1e-10)


def test_param_range_given_explicitly(tmp_path):
    model = load(counting_card(tmp_path, "p param 0.0 1.0 [-2,3]"))
    p = model.spec.parameters["p"]
    assert (p.lo, p.hi) == (-2.0, 3.0)


RATEPARAM_CARD = """imax 2
jmax 1
kmax *
------------
bin         b1 b2
observation 10 6
------------
bin      b1  b1  b2
process  sig bkg bkg
process  0   1   1
rate     2   5   4
------------
rp rateParam b1 bkg 1.5
rq rateParam b2 bkg 1 [0,5]
rf rateParam b1 sig (@0*@1) rp,rq
"""


def test_rateParam_value_range_and_formula(tmp_path):
    path = tmp_path / "card.txt"
    path.write_text(RATEPARAM_CARD)
    model = load(path)
    rp, rq = model.spec.parameters["rp"], model.spec.parameters["rq"]
    assert rp.init == 1.5 and rp.lo is None and rp.hi is None  # no range: unbounded
    assert (rq.init, rq.lo, rq.hi) == (1.0, 0.0, 5.0)
    y = yields(model)
    assert y[("b1", "bkg")][0] == pytest.approx(7.5, rel=REL)
    assert y[("b1", "sig")][0] == pytest.approx(2 * 1.5 * 1.0, rel=REL)
    y = yields(model, {"rp": 2.0, "rq": 0.5, "r": 1.3})
    assert y[("b1", "bkg")][0] == pytest.approx(10.0, rel=REL)
    assert y[("b2", "bkg")][0] == pytest.approx(2.0, rel=REL)
    assert y[("b1", "sig")][0] == pytest.approx(2 * 1.3 * 2.0 * 0.5, rel=REL)
    # rateParams are unconstrained: NLL differences are Poisson terms only
    def pois(rp_, rq_):
        n1 = 2 * rp_ * rq_ + 5 * rp_
        n2 = 4 * rq_
        return n1 - 10 * math.log(n1) + n2 - 6 * math.log(n2)

    assert model.nll({"rp": 2.0, "rq": 0.5}) - model.nll({"rp": 0.8, "rq": 3.0}) == pytest.approx(
        pois(2.0, 0.5) - pois(0.8, 3.0), abs=1e-10
    )


@pytest.mark.parametrize(
    "name",
    [
        "q",
        "p",  # an argument named like the internal vector must work too
    ],
)
def test_rateParam_formula_of_a_param(tmp_path, name):
    """`rf rateParam b1 bkg (1+0.1*@0) <name>` with `<name> param 0 1`: yield × (1 + 0.1·value)."""
    model = load(counting_card(tmp_path, f"{name} param 0 1\nrf rateParam b1 bkg (1+0.1*@0) {name}"))
    assert yields(model, {name: 2.0})[("b1", "bkg")][0] == pytest.approx(5.0 * 1.2, rel=REL)


def test_trG_is_an_additive_factor(tmp_path):
    """trG v: factor 1 + v·θ, Gaussian θ, lower bound −1/v when 1 − 7v < 0 (here −5)."""
    model = load(counting_card(tmp_path, "t trG 0.2 -"))
    p = model.spec.parameters["t"]
    assert (p.lo, p.hi) == (-5.0, 7.0)
    for th in (-3.0, 1.5):
        assert yields(model, {"t": th})[("b1", "sig")][0] == pytest.approx(3.0 * (1 + 0.2 * th), rel=REL)

    def hand(th):
        nu = 3.0 * (1 + 0.2 * th) + 5.0
        return nu - 10 * math.log(nu) + 0.5 * th * th

    assert model.nll({"t": -3.0}) - model.nll({"t": 1.5}) == pytest.approx(hand(-3.0) - hand(1.5), abs=1e-10)


# ============================================================================ NLL differences
def test_counting_nll_differences(tmp_path):
    """NLL(θ1) − NLL(θ2) = Σ(ν − n ln ν) differences + ½Σθ² differences (§3.8, item 13)."""
    path = tmp_path / "card.txt"
    path.write_text(
        COUNTING.format(bins="b1 b2", obs="10 4", cbins="b1 b1 b2 b2", procs="sig bkg sig bkg", ids="0 1 0 1",
                        rates="3 5 1 2.5", syst="x lnN 1.1 1.2 - 1.3\ny lnN - 0.8/1.25 1.05 -")
    )
    model = load(path)

    def hand(r, x, y):
        n1 = 3 * r * 1.1**x + 5 * 1.2**x * asym_factor(y, 0.8, 1.25)
        n2 = 1 * r * 1.05**y + 2.5 * 1.3**x
        return n1 - 10 * math.log(n1) + n2 - 4 * math.log(n2) + 0.5 * (x * x + y * y)

    pts = [(1.0, 0.0, 0.0), (0.4, 1.3, -0.2), (2.2, -0.6, 0.45), (0.0, 2.0, -1.5)]
    ref = model.nll({"r": pts[0][0], "x": pts[0][1], "y": pts[0][2]})
    for r, x, y in pts[1:]:
        got = model.nll({"r": r, "x": x, "y": y}) - ref
        assert got == pytest.approx(hand(r, x, y) - hand(*pts[0]), abs=1e-10)


def test_shape_nll_differences_with_data_zero_bins(tmp_path):
    """TH1 path: bins without data only enter through Σν (§3.6, §3.8)."""
    tables = _morph_tables(with_s2=False)
    tables[("ch", "data_obs", "nominal")] = ([12.0, 0.0, 25.0, 44.0], None)
    model = load(shape_card(tmp_path, tables, "s1 shape - 1"))
    d = np.array([12.0, 0.0, 25.0, 44.0])

    def hand(r, s):
        nu = r * np.array(SIG) + morphed_yield(NOM, [(S1[0], S1[1], 1.0)], (s,), amc=False)
        return float(np.sum(nu) - np.sum(np.where(d > 0, d * np.log(nu), 0.0))) + 0.5 * s * s

    ref = model.nll({"r": 1.0, "s1": 0.0})
    for r, s in ((0.5, 0.7), (2.0, -1.4), (3.3, 0.2)):
        assert model.nll({"r": r, "s1": s}) - ref == pytest.approx(hand(r, s) - hand(1.0, 0.0), abs=1e-9)


# ============================================================================ autoMCStats
def bb_minimum_numeric(mu, sigma, n, g):
    from scipy.optimize import minimize_scalar

    def f(x):
        nu = mu + sigma * x
        return nu - (n * math.log(nu) if n else 0.0) + 0.5 * (x - g) ** 2

    lo = -mu / sigma + 1e-12
    res = minimize_scalar(f, bounds=(lo, 50.0), method="bounded", options={"xatol": 1e-12, "maxiter": 2000})
    return res.x


@pytest.mark.parametrize(
    "mu, sigma, n, g",
    [
        (10.0, 1.0, 12.0, 0.0),
        (10.0, 3.0, 4.0, 0.0),
        (0.5, 0.4, 3.0, 0.3),
        (100.0, 8.0, 80.0, -0.5),
        (5.0, 1.0, 0.0, 0.0),
        (2.0, 0.5, 0.0, 1.2),
        (1e-3, 1e-2, 1.0, 0.0),
        (50.0, 0.01, 51.0, 0.0),
    ],
)
def test_bb_lite_closed_form_is_the_minimum(mu, sigma, n, g):
    """§3.7: x = max(t, c/t) minimises (μ+σx) − n ln(μ+σx) + ½(x − g)²."""
    x = Likelihood._bb_solve(np.array([mu]), np.array([sigma]), np.array([n]), np.array([g]), np.array([False]))[0]
    want = bb_minimum_numeric(mu, sigma, n, g)
    assert x == pytest.approx(want, abs=1e-6)


# A channel for the autoMCStats decisions (threshold 25), computed by hand in the docstrings.
#   bin0: excl. signal S = 80, E² = 34 -> n_eff = floor(0.5 + 188.2) = 188 > 25 -> BB-lite
#   bin1: S = 10, E² = 5 -> n_eff = 20 <= 25 -> per process: sig (2 ± 1, n0 = 4 Poisson),
#         b1 (4 ± 2, n0 = 4 Poisson), b2 (6 ± 1, n0 = 36 > 25 -> Gaussian)
#   bin2: E = 0 without the signal -> no parameter (the signal error is ignored)
#   bin3: S = 2.5, E² = 1 -> n_eff = 6 -> per process: sig (1 ± 1, n0 = 1 Poisson),
#         b1 (0.5 ± 1: e > v -> "Poisson not viable" Gaussian), b2 (e = 0 -> nothing)
BB_TABLES = {
    ("ch", "data_obs", "nominal"): ([90.0, 14.0, 6.0, 3.0], None),
    ("ch", "sig", "nominal"): ([5.0, 2.0, 1.0, 1.0], [4.0, 1.0, 1.0, 1.0]),
    ("ch", "b1", "nominal"): ([50.0, 4.0, 3.0, 0.5], [25.0, 4.0, 0.0, 1.0]),
    ("ch", "b2", "nominal"): ([30.0, 6.0, 2.0, 2.0], [9.0, 1.0, 0.0, 0.0]),
}
PROCS3 = ("sig", "b1", "b2")


def _bb_model(tmp_path, line="* autoMCStats 25", extra=""):
    return load(shape_card(tmp_path, BB_TABLES, f"lumi lnN 1.1 1.1 -\n{extra}\n{line}", procs=PROCS3))


def test_autoMCStats_build_decisions(tmp_path):
    from scipy.stats import chi2, norm

    model = _bb_model(tmp_path)
    amc = model.spec.channel("ch").auto_mc_stats
    kinds = [b.kind for b in amc.bins]
    assert kinds == ["bblite", "per_process", "none", "per_process"]
    assert amc.bins[0].parameter == "prop_binch_bin0"
    pp1 = {(PROCS3[i], kind, par, n0) for i, kind, par, n0 in amc.bins[1].per_process}
    assert pp1 == {
        ("sig", "poisson", "prop_binch_bin1_sig", 4.0),
        ("b1", "poisson", "prop_binch_bin1_b1", 4.0),
        ("b2", "gauss", "prop_binch_bin1_b2", 0.0),
    }
    pp3 = {(PROCS3[i], kind, par) for i, kind, par, _ in amc.bins[3].per_process}
    assert pp3 == {("sig", "poisson", "prop_binch_bin3_sig"), ("b1", "gauss", "prop_binch_bin3_b1")}
    params = model.spec.parameters
    # Poisson parameters start at n0 with range [½χ²q(Φc(7); 2n0), ½χ²q(1−Φc(7); 2n0+2)]
    for name, n0 in (("prop_binch_bin1_sig", 4), ("prop_binch_bin1_b1", 4), ("prop_binch_bin3_sig", 1)):
        p = params[name]
        assert p.init == n0 and p.constraint == "poisson" and p.glob == n0
        assert p.lo == pytest.approx(0.5 * chi2.ppf(norm.sf(7.0), 2 * n0), rel=1e-6)
        assert p.hi == pytest.approx(0.5 * chi2.ppf(1 - norm.sf(7.0), 2 * n0 + 2), rel=1e-6)
    for name in ("prop_binch_bin0", "prop_binch_bin1_b2", "prop_binch_bin3_b1"):
        p = params[name]
        assert (p.init, p.lo, p.hi, p.constraint) == (0.0, -7.0, 7.0, "gauss")
    assert "prop_binch_bin2" not in params
    # group autoMCStats, nuisances order: systematics then BB parameters
    bb = [n for n in model.spec.nuisances if n.startswith("prop_")]
    assert model.spec.nuisances[0] == "lumi" and len(bb) == 6
    assert set(model.spec.groups["autoMCStats"]) == set(bb)


def test_autoMCStats_include_signal_changes_decisions(tmp_path):
    """include-signal = 1: bin0 n_eff = floor(0.5 + 85²/38) = 190; bin2 S = 6, E² = 1 -> 36 > 25 -> BB-lite."""
    model = _bb_model(tmp_path, "* autoMCStats 25 1")
    kinds = [b.kind for b in model.spec.channel("ch").auto_mc_stats.bins]
    assert kinds == ["bblite", "per_process", "bblite", "per_process"]
    assert "Processes excluded for sums" not in "\n".join(model.spec.build_log)


def test_autoMCStats_threshold_decides_poisson_vs_gaussian(tmp_path):
    """Threshold 3: bin1 n_eff = 20 > 3 -> BB-lite; bin3 n_eff = 6 > 3 -> BB-lite."""
    model = _bb_model(tmp_path, "* autoMCStats 3")
    kinds = [b.kind for b in model.spec.channel("ch").auto_mc_stats.bins]
    assert kinds == ["bblite", "bblite", "none", "bblite"]


def test_autoMCStats_printed_table(tmp_path):
    """The text2workspace table (§3.7) for bin 0 and the per-process lines of bin 1."""
    log = _bb_model(tmp_path).spec.build_log
    i = log.index("Analyzing bin errors for: prop_binch")
    assert log[i - 2] == "Channel ch will use autoMCStats with settings: event-threshold=25, include-signal=0, hist-mode=1"
    assert log[i - 1] == "=" * 60
    assert log[i + 1] == "Poisson cut-off: 25"
    assert log[i + 2] == "Processes excluded for sums: sig"
    assert log[i + 3] == "=" * 60
    assert log[i + 4] == "%-10s %-15s %-15s %-30s" % ("Bin", "Contents", "Error", "Notes")
    bin0 = [
        "%-10i %-15f %-15f %-30s" % (0, 85.0, math.sqrt(38.0), "total sum"),
        "%-10i %-15f %-15f %-30s" % (0, 80.0, math.sqrt(34.0), "excluding marked processes"),
        "%-10i %-15f %-15f %-30s" % (0, 188.0, math.sqrt(188.0), "Unweighted events, alpha=%f" % (85.0 / 188.0)),
        "  => Total parameter prop_binch_bin0[0.00,-7.00,7.00] to be Gaussian constrained",
        "-" * 60,
    ]
    assert log[i + 5 : i + 10] == bin0
    assert bin0[2] == "0          188.000000      13.711309       Unweighted events, alpha=0.452128"
    j = i + 10
    assert log[j] == "%-10i %-15f %-15f %-30s" % (1, 12.0, math.sqrt(6.0), "total sum")
    assert log[j + 2] == "%-10i %-15f %-15f %-30s" % (1, 20.0, math.sqrt(20.0), "Unweighted events, alpha=%f" % 0.6)
    assert log[j + 3] == "  => Number of weighted events is below Poisson threshold".ljust(32)
    assert log[j + 4] == "    %-20s %-15f %-15f %-30s" % ("sig", 2.0, 1.0, "")
    assert log[j + 5] == "    %-20s %-15f %-15f %-30s" % ("", 4.0, 2.0, "Unweighted events, alpha=%f" % 0.5)
    from scipy.special import gammaincinv, ndtr

    lo, hi = gammaincinv(4, ndtr(-7.0)), gammaincinv(5, 1 - ndtr(-7.0))
    assert log[j + 6] == (
        "      => Product of prop_binch_bin1_sig[4.00,%.2f,%.2f] and const [0.2500] to be Poisson constrained" % (lo, hi)
    )
    rest = "\n".join(log[j:])
    assert "      => Parameter prop_binch_bin1_b2[0.00,-7.00,7.00] to be Gaussian constrained" in rest
    assert "      => Poisson not viable, prop_binch_bin3_b1[0.00,-7.00,7.00] to be Gaussian constrained" in rest
    assert "  => Error is zero, ignore".ljust(32) in rest


def test_per_process_bb_parameters_act_on_yields(tmp_path):
    """Poisson parameter m: yield T·m/n0; Gaussian x: yield T + x·e (§3.7)."""
    model = _bb_model(tmp_path)
    y = yields(model, {"prop_binch_bin1_sig": 6.0, "prop_binch_bin1_b2": 1.5, "prop_binch_bin3_b1": -0.4, "r": 2.0})
    assert y[("ch", "sig")][1] == pytest.approx(2.0 * 2.0 * 6.0 / 4.0, rel=REL)
    assert y[("ch", "b2")][1] == pytest.approx(6.0 + 1.5 * 1.0, rel=REL)
    assert y[("ch", "b1")][3] == pytest.approx(0.5 - 0.4 * 1.0, rel=REL)
    assert y[("ch", "b1")][1] == pytest.approx(4.0, rel=REL)  # still at n0: m/n0 = 1


def _bb_setup(tmp_path):
    model = _bb_model(tmp_path)
    m = model.compiled
    data = Dataset(m.data.copy(), m.glob0.copy())
    return model, m, data


def test_bb_lite_width_uses_current_coefficients(tmp_path):
    """σ_b = sqrt(Σ_p (C_p e_pb)²) over all processes with the current r and lnN (item 12)."""
    _, m, data = _bb_setup(tmp_path)
    lik = Likelihood(m, data)
    theta = m.init.copy()
    theta[m.index["r"]] = 2.5
    theta[m.index["lumi"]] = 0.7
    state = lik.evaluate(theta)[2]
    k = 1.1**0.7
    want = math.sqrt((2.5 * k * 2.0) ** 2 + (k * 5.0) ** 2 + 3.0**2)
    assert state.sigma[0] == pytest.approx(want, rel=1e-13)
    # and the profiled x_0 is the closed form with μ = Σ C_p T_p
    mu = 2.5 * k * 5 + k * 50 + 30
    b = want + mu / want
    c = mu - 90
    t = -0.5 * (b + math.sqrt(b * b - 4 * c))
    assert state.bb_x[0] == pytest.approx(max(t, c / t), rel=1e-12)
    assert state.nu[0] == pytest.approx(mu + want * max(t, c / t), rel=1e-12)


@pytest.mark.parametrize("point", [{}, {"r": 2.5, "lumi": 0.7}, {"r": 0.0, "lumi": -1.2}, {"r": 6.0}])
def test_analytic_bb_equals_numerical_minimisation(tmp_path, point):
    """NLL with BB-lite profiled in closed form = NLL minimised numerically over the BB-lite
    parameters (Likelihood(analytic_bb=False) + Fitter), everything else fixed."""
    _, m, data = _bb_setup(tmp_path)
    theta = m.init.copy()
    for k, v in point.items():
        theta[m.index[k]] = v
    analytic = Likelihood(m, data, analytic_bb=True).nll(theta)
    state = ParameterState.initial(m)
    state.values = theta.copy()
    state.frozen[:] = True
    state.frozen[m.analytic] = False
    assert m.analytic.sum() == 1  # prop_binch_bin0 only
    fit = Fitter(m, data, MinimizerOptions(tolerance=1e-4), analytic_bb=False).minimize(state)
    assert fit.nll == pytest.approx(analytic, abs=2e-7)
    # and the minimiser landed where the closed form says
    prof = Likelihood(m, data, analytic_bb=True).bb_values(theta)
    i = m.index["prop_binch_bin0"]
    assert fit.values[i] == pytest.approx(prof[i], abs=2e-3)


def test_bb_lite_nll_by_hand(tmp_path):
    """The full NLL difference of the autoMCStats channel, written out by hand (§3.8)."""
    _, m, data = _bb_setup(tmp_path)
    lik = Likelihood(m, data, analytic_bb=False)
    d = np.array([90.0, 14.0, 6.0, 3.0])
    T = {p: np.array(BB_TABLES[("ch", p, "nominal")][0]) for p in PROCS3}
    E = {p: np.sqrt(BB_TABLES[("ch", p, "nominal")][1]) for p in PROCS3}

    def hand(r, lumi, x0, m1s, m1b1, x1b2, m3s, x3b1):
        k = 1.1**lumi
        C = {"sig": r * k, "b1": k, "b2": 1.0}
        t = {p: T[p].copy() for p in PROCS3}
        t["sig"][1] *= m1s / 4
        t["b1"][1] *= m1b1 / 4
        t["b2"][1] += x1b2 * E["b2"][1]
        t["sig"][3] *= m3s / 1
        t["b1"][3] += x3b1 * E["b1"][3]
        nu = sum(C[p] * t[p] for p in PROCS3)
        sig0 = math.sqrt(sum((C[p] * E[p][0]) ** 2 for p in PROCS3))
        nu[0] += sig0 * x0
        nll = float(np.sum(nu - d * np.log(nu)))
        nll += 0.5 * (lumi**2 + x0**2 + x1b2**2 + x3b1**2)
        nll += (m1s - 4 * math.log(m1s)) + (m1b1 - 4 * math.log(m1b1)) + (m3s - 1 * math.log(m3s))
        return nll

    names = ["r", "lumi", "prop_binch_bin0", "prop_binch_bin1_sig", "prop_binch_bin1_b1", "prop_binch_bin1_b2",
             "prop_binch_bin3_sig", "prop_binch_bin3_b1"]

    def vec(vals):
        th = m.init.copy()
        for n, v in zip(names, vals):
            th[m.index[n]] = v
        return th

    p0 = (1.0, 0.0, 0.0, 4.0, 4.0, 0.0, 1.0, 0.0)
    for p in [(1.7, 0.3, 0.8, 5.0, 3.5, -0.6, 1.8, 0.3), (0.2, -1.0, -1.5, 2.0, 6.0, 1.1, 0.5, -0.2)]:
        assert lik.nll(vec(p)) - lik.nll(vec(p0)) == pytest.approx(hand(*p) - hand(*p0), abs=1e-9)
