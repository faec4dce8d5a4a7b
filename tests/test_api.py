"""The Python API (``pycombine.load_datacard`` -> ``Model``) against closed-form results.

The counting card without systematics (s = 3, b = 5, n = 10) has NLL(r) = (3r + 5) − 10 ln(3r + 5)
+ const: r̂ = 5/3, Hesse variance 1/NLL''(r̂) = ν²/(9n) = 10/9, and the 68 % interval is where
NLL − NLL(r̂) = 0.494473 (= ½ χ²₁ quantile at 0.68), solved here with brentq.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

import pycombine

CARD = """imax 1
jmax 1
kmax *
------------
bin         b1
observation 10
------------
bin           b1   b1
process       sig  bkg
process         0      1
rate           3  5
------------
{syst}
"""

DNLL68 = 0.4944732407390115  # chi2.ppf(0.68, 1) / 2


def _card(tmp_path, syst: str = "", name: str = "card.txt"):
    p = tmp_path / name
    p.write_text(CARD.format(syst=syst))
    return p


def _nll(r: float) -> float:
    nu = 3 * r + 5
    return nu - 10 * math.log(nu)


def _interval() -> tuple[float, float]:
    from scipy.optimize import brentq

    r0 = 5 / 3
    f = lambda r: _nll(r) - _nll(r0) - DNLL68
    return brentq(f, 0.0, r0, xtol=1e-12), brentq(f, r0, 10.0, xtol=1e-12)


def test_closed_form_interval_matches_spec():
    """Sanity of the hand solution itself: spec item 9 gives −0.94137/+1.16090."""
    lo, hi = _interval()
    assert 5 / 3 - lo == pytest.approx(0.94137, abs=2e-5)
    assert hi - 5 / 3 == pytest.approx(1.16090, abs=2e-5)
    from scipy.stats import chi2

    assert chi2.ppf(0.68, 1) / 2 == pytest.approx(DNLL68, abs=1e-12)


def test_model_description(tmp_path):
    model = pycombine.load_datacard(_card(tmp_path, "lumi lnN 1.1 1.1"))
    assert model.pois == ["r"]
    assert model.parameters == ["r", "lumi"]
    assert model.channels == ["b1"]
    np.testing.assert_array_equal(model.observed()["b1"], [10.0])


def test_fit_counting_card_closed_form(tmp_path):
    model = pycombine.load_datacard(_card(tmp_path))
    res = model.fit(intervals=["r"])
    assert res.valid and res.status in (0, 1)
    # default Minuit tolerance (0.1, like Combine) stops within ~1e-2 of the optimum
    assert res.values["r"] == pytest.approx(5 / 3, abs=1e-2)
    tight = model.fit(tolerance=1e-4, intervals=["r"])
    assert tight.values["r"] == pytest.approx(5 / 3, abs=1e-4)
    assert tight.errors["r"] == pytest.approx(math.sqrt(10 / 9), rel=1e-3)
    lo, hi = _interval()
    assert tight.intervals["r"][0] == pytest.approx(lo, abs=1e-3)
    assert tight.intervals["r"][1] == pytest.approx(hi, abs=1e-3)
    assert res.intervals["r"][0] == pytest.approx(lo, abs=2e-3)
    assert res.intervals["r"][1] == pytest.approx(hi, abs=2e-3)
    assert "r" in repr(res)


def test_fit_yields_and_totals(tmp_path):
    model = pycombine.load_datacard(_card(tmp_path))
    res = model.fit(tolerance=1e-4)
    r = res.values["r"]
    np.testing.assert_allclose(res.yields[("b1", "sig")], [3 * r], rtol=1e-12)
    np.testing.assert_allclose(res.yields[("b1", "bkg")], [5.0], rtol=1e-12)
    np.testing.assert_allclose(res.totals["b1"], res.yields[("b1", "sig")] + res.yields[("b1", "bkg")], rtol=1e-12)
    assert res.totals["b1"][0] == pytest.approx(10.0, abs=1e-3)


def test_expected_and_nll_differences(tmp_path):
    model = pycombine.load_datacard(_card(tmp_path, "lumi lnN 1.1 1.1"))
    y = model.expected()
    assert y[("b1", "sig")][0] == pytest.approx(3.0, rel=1e-14)
    y = model.expected({"r": 2.0, "lumi": 0.5})
    assert y[("b1", "sig")][0] == pytest.approx(6.0 * 1.1**0.5, rel=1e-13)
    assert y[("b1", "bkg")][0] == pytest.approx(5.0 * 1.1**0.5, rel=1e-13)
    np.testing.assert_allclose(model.asimov({"r": 2.0}), [11.0], rtol=1e-13)

    def hand(r, lumi):
        nu = (3 * r + 5) * 1.1**lumi
        return nu - 10 * math.log(nu) + 0.5 * lumi**2

    for (r1, l1), (r2, l2) in (((2.0, 0.5), (1.0, 0.0)), ((0.3, -1.2), (4.0, 2.0))):
        d = model.nll({"r": r1, "lumi": l1}) - model.nll({"r": r2, "lumi": l2})
        assert d == pytest.approx(hand(r1, l1) - hand(r2, l2), abs=1e-10)
    # NLL on an explicit data array and on the Asimov data set
    d = model.nll({"r": 2.0}, data=np.array([7.0])) - model.nll({"r": 1.0}, data=np.array([7.0]))
    assert d == pytest.approx((11 - 7 * math.log(11)) - (8 - 7 * math.log(8)), abs=1e-10)


def test_covariance_shape_and_symmetry(tmp_path):
    model = pycombine.load_datacard(_card(tmp_path, "lumi lnN 1.1 1.1\nbk lnN - 1.3"))
    res = model.fit(tolerance=1e-3)
    P = len(model.parameters)
    assert res.covariance.shape == (P, P)
    np.testing.assert_allclose(res.covariance, res.covariance.T, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(res.covariance) > 0)
    np.testing.assert_allclose(np.sqrt(np.diag(res.covariance)), [res.errors[n] for n in res.names], rtol=1e-12)
    corr = res.correlation()
    np.testing.assert_allclose(np.diag(corr), 1.0, rtol=1e-12)
    assert np.all(np.abs(corr) <= 1 + 1e-12)
    # r and the background normalisation are anti-correlated
    assert corr[res.names.index("r"), res.names.index("bk")] < -0.1


def test_fixed_parameters(tmp_path):
    model = pycombine.load_datacard(_card(tmp_path, "lumi lnN 1.1 1.1"))
    res = model.fit(fixed={"r": 1.0}, tolerance=1e-4)
    assert res.values["r"] == 1.0
    assert res.errors["r"] == 0.0
    i = res.names.index("r")
    assert np.all(res.covariance[i] == 0) and np.all(res.covariance[:, i] == 0)
    # lumi alone: minimise (8·1.1^l − 10 ln(8·1.1^l)) + l²/2  <=>  ln1.1 (ν − 10) + l = 0
    from scipy.optimize import brentq

    lhat = brentq(lambda l: math.log(1.1) * (8 * 1.1**l - 10) + l, -5, 5, xtol=1e-12)
    assert res.values["lumi"] == pytest.approx(lhat, abs=1e-3)
    # fixing a nuisance: r̂ solves 3r + 5·1.1^0.5... with lumi = 0.5 on both
    res = model.fit(fixed={"lumi": 0.5}, tolerance=1e-4)
    assert res.values["lumi"] == 0.5
    assert res.values["r"] == pytest.approx((10 / 1.1**0.5 - 5) / 3, abs=1e-3)


def test_fit_asimov_returns_the_generating_point(tmp_path):
    model = pycombine.load_datacard(_card(tmp_path, "lumi lnN 1.1 1.1"))
    res = model.fit(data="asimov", tolerance=1e-4)
    assert res.values["r"] == pytest.approx(1.0, abs=1e-3)
    assert res.values["lumi"] == pytest.approx(0.0, abs=1e-3)


def test_start_values_and_remove_bounds(tmp_path):
    model = pycombine.load_datacard(_card(tmp_path))
    res = model.fit(start={"r": 4.0}, tolerance=1e-4)
    assert res.values["r"] == pytest.approx(5 / 3, abs=1e-3)


def test_unknown_parameter_is_a_key_error(tmp_path):
    model = pycombine.load_datacard(_card(tmp_path))
    with pytest.raises(KeyError, match="nosuch"):
        model.expected({"nosuch": 1.0})


def test_mass_and_keyword_values(tmp_path):
    """load_datacard substitutes $MASS and --keyword-value words like text2workspace."""
    rows = ["channel,process,systematic,bin,sum_w,sum_ww", "b1,sig,nominal,0,3,3", "b1,bkg,nominal,0,5,5",
            "b1,data_obs,nominal,0,10,10"]
    (tmp_path / "t_125_x.csv").write_text("\n".join(rows) + "\n")
    card = CARD.format(syst="").replace("------------\nbin         b1",
                                        "shapes * * t_$MASS_$W.csv $CHANNEL:$PROCESS\n------------\nbin         b1", 1)
    (tmp_path / "s.txt").write_text(card)
    model = pycombine.load_datacard(tmp_path / "s.txt", mass=125, keyword_values=["W=x"])
    assert model.expected()[("b1", "bkg")][0] == 5.0


def test_import_is_lazy():
    """`import pycombine` must not import the heavy packages (start-up time of the CLI)."""
    code = (
        "import sys, json, pycombine\n"
        "heavy = ['numpy', 'scipy', 'iminuit', 'uproot', 'lark', 'pandas', 'click']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    loaded = json.loads(p.stdout)
    assert [m for m in loaded if m != "click"] == []
    # the lazy attributes resolve
    p = subprocess.run([sys.executable, "-c", "import pycombine; pycombine.load_datacard; pycombine.parse_datacard"],
                       check=False, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def test_totals_equal_the_sum_of_process_yields_with_autoMCStats(tmp_path):
    """In an autoMCStats channel each process's yield carries its share (C_p e_p)²/σ² of the
    BB-lite term σ·x, so the per-process yields add up to the channel total ν."""
    from test_modifiers import BB_TABLES, PROCS3, shape_card

    path = shape_card(tmp_path, BB_TABLES, "lumi lnN 1.1 1.1 -\n* autoMCStats 25", procs=PROCS3)
    model = pycombine.load_datacard(path)
    res = model.fit(tolerance=1e-3)
    assert res.valid
    total = sum(res.yields[("ch", p)] for p in PROCS3)
    np.testing.assert_allclose(total, res.totals["ch"], rtol=1e-12)
    # the BB-lite parameter moved: the shares are not trivially zero
    assert abs(res.values["prop_binch_bin0"]) > 1e-3
    # and the total is ν = Σ C_p T_p + σ x in bin 0, computed by hand from the fitted values
    k = 1.1 ** res.values["lumi"]
    C = {"sig": res.values["r"] * k, "b1": k, "b2": 1.0}
    mu = sum(C[p] * BB_TABLES[("ch", p, "nominal")][0][0] for p in PROCS3)
    sigma = math.sqrt(sum((C[p] * math.sqrt(BB_TABLES[("ch", p, "nominal")][1][0])) ** 2 for p in PROCS3))
    assert res.totals["ch"][0] == pytest.approx(mu + sigma * res.values["prop_binch_bin0"], rel=1e-12)
