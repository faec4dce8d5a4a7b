"""GoodnessOfFit: the reference cases recorded from Combine, plus hand-derived checks.

Saturated statistic: with Combine's NLL the statistic is 2 sum_j [nu_j - n_j + n_j ln(n_j/nu_j)]
at the best fit plus twice the constraint penalty, which is checked on counting cards whose best
fit is known in closed form.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from refsuite import case_params, needs_reference, compare, run_case

from pycombine.methods.goodness_of_fit import scan_cdf


def _saturated(nu, n):
    nu, n = np.asarray(nu, float), np.asarray(n, float)
    log = np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / nu), 0.0)
    return 2.0 * float(np.sum(nu - n + log))


def _session(path: str, **opts):
    from pycombine.run.session import Session

    return Session.from_card(path, "GoodnessOfFit", out=lambda m: None, **opts)


def _gof(path: str, **opts):
    from pycombine.methods.goodness_of_fit import goodness_of_fit

    s = _session(path, **opts)
    return goodness_of_fit(s, s.observed)


ONE_BIN = """imax 1
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

TWO_CHANNELS = """imax 2
jmax 1
kmax 0
------------
bin         A    B
observation 10   4
------------
bin           A    A    B    B
process       sig  bkg  sig  bkg
process         0    1    0    1
rate           3    5    1    6
"""


# ---------------------------------------------------------------------------------------- reference
@pytest.mark.parametrize("case_id", case_params("GoodnessOfFit"))
def test_reference_case(case_id, tmp_path):
    exp, proc = run_case(case_id, tmp_path)
    assert proc.returncode == exp["rc"], proc.stderr[-2000:]
    assert compare(exp, tmp_path) == []


@needs_reference
def test_reference_console_lines(tmp_path):
    exp, proc = run_case("gof_saturated_hww", tmp_path)
    assert proc.stdout.splitlines() == exp["stdout"].splitlines()


# ---------------------------------------------------------------------------------------- hand-derived
def test_saturated_fixed_signal(tmp_path):
    """r frozen at 1: nu = 8 against n = 10, nothing else floats."""
    path = tmp_path / "c.txt"
    path.write_text(ONE_BIN.format(syst=""))
    res = _gof(str(path), algo="saturated", freeze_parameters="r")
    assert res.statistic == pytest.approx(_saturated([8.0], [10.0]), abs=1e-9)
    assert res.lines[-1] == f"Best fit test statistic: {res.statistic:.6g}"


def test_saturated_floating_signal_zero_for_one_bin(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(ONE_BIN.format(syst=""))
    res = _gof(str(path), algo="saturated")
    assert res.statistic == pytest.approx(0.0, abs=1e-4)


def test_saturated_two_channels(tmp_path):
    """r shared by two channels: solve d/dr NLL = 0 by hand, then the saturated formula."""
    from scipy.optimize import brentq

    path = tmp_path / "c2.txt"
    path.write_text(TWO_CHANNELS)
    s, b, n = np.array([3.0, 1.0]), np.array([5.0, 6.0]), np.array([10.0, 4.0])
    r_hat = brentq(lambda r: float(np.sum(s - n * s / (s * r + b))), 0.0, 20.0)
    want = _saturated(s * r_hat + b, n)
    res = _gof(str(path), algo="saturated")
    assert res.statistic == pytest.approx(want, abs=2e-4)
    # a masked channel drops out of both likelihoods
    masked = _gof(str(path), algo="saturated", text2workspace="--channel-masks", set_parameters="mask_B=1")
    assert masked.statistic == pytest.approx(0.0, abs=1e-4)


def test_saturated_with_constraint_penalty(tmp_path):
    """With r frozen and a background lnN, the fitted theta pays its Gaussian penalty.

    nu(theta) = 3 + 5 * 1.1^theta; theta_hat minimises nu - 10 ln nu + theta^2/2, and the
    statistic is 2 [nu - n + n ln(n/nu)] + theta_hat^2 (the saturated fit leaves theta at 0).
    """
    from scipy.optimize import minimize_scalar

    path = tmp_path / "c.txt"
    path.write_text(ONE_BIN.format(syst="lnb lnN - 1.1"))
    nll = lambda t: (3 + 5 * 1.1**t) - 10 * math.log(3 + 5 * 1.1**t) + 0.5 * t * t  # noqa: E731
    t_hat = minimize_scalar(nll, bounds=(-7, 7), method="bounded", options={"xatol": 1e-10}).x
    want = _saturated([3 + 5 * 1.1**t_hat], [10.0]) + t_hat**2
    res = _gof(str(path), algo="saturated", freeze_parameters="r")
    assert res.statistic == pytest.approx(want, abs=2e-4)


def test_scan_cdf_close_to_exact():
    """RooFit's scanned CDF differs from the exact cumulative sum by about half a cache bin."""
    nu = np.array([5.0, 3.0, 0.0, 2.0, 10.0])
    exact = np.cumsum(nu) / nu.sum()
    cdf = scan_cdf(nu, 5)
    assert cdf[-1] == pytest.approx(1.0, abs=1e-9)
    assert np.all(np.abs(cdf - exact) < 5 * 5 / 10000)
    # bins beyond the channel's own carry no probability
    cdf8 = scan_cdf(nu, 8)
    assert np.allclose(cdf8[5:], 1.0, atol=1e-9)


@needs_reference
def test_ks_ad_fixed_model(tmp_path):
    """KS/AD on a shape card with r frozen: compare with the exact EDF/CDF distance."""
    import shutil

    from refsuite import ref_path

    shutil.copytree(ref_path("cards", "shapes"), tmp_path, dirs_exist_ok=True)
    path = str(tmp_path / "simple-shapes-TH1.txt")
    s = _session(path, algo="KS", freeze_parameters="r,lumi,bgnorm,alpha,sigma")
    from pycombine.methods.goodness_of_fit import goodness_of_fit
    from pycombine.model.likelihood import Likelihood

    nu = Likelihood(s.model, s.observed).expected(s.state.values)
    n = s.observed.counts
    edf, cdf = np.cumsum(n) / n.sum(), np.cumsum(nu) / nu.sum()
    ks = goodness_of_fit(s, s.observed, "KS")
    assert ks.per_channel["bin1"] == pytest.approx(np.max(np.abs(edf - cdf)), abs=3e-4)
    ad = goodness_of_fit(s, s.observed, "AD")
    prob = np.diff(np.r_[0.0, cdf])
    terms = np.where(cdf >= 1, 0.0, n.sum() * (edf - cdf) ** 2 / cdf / (1 - cdf) * prob)
    assert ad.statistic == pytest.approx(terms.sum(), rel=5e-3)
    assert ks.lines[-1].startswith("Kolmogorov-Smirnov test statistic: ")
