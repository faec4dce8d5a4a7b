"""MultiDimFit: the reference cases recorded from Combine, plus hand-derived checks.

The hand-derived checks use a counting card without systematics (s = 3, b = 5, n = 10), whose
profile likelihood is known in closed form: NLL(r) = (3r + 5) - 10 ln(3r + 5) + const, minimum
at r = 5/3.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from refsuite import case_params, needs_reference, compare, expected, run_case

from pycombine.fit.scan import DELTA_NLL_68, chi2_quantile, grid_1d, grid_2d, grid_nd

CARD = """imax 1
jmax 1
kmax {kmax}
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


def _write(tmp_path, syst: str = "", name: str = "card.txt") -> str:
    kmax = len([l for l in syst.splitlines() if l.strip()])
    path = tmp_path / name
    path.write_text(CARD.format(kmax=kmax, syst=syst))
    return str(path)


def _session(path: str, **opts):
    from pycombine.run.session import Session

    return Session.from_card(path, "MultiDimFit", out=lambda m: None, **opts)


def _run(path: str, **opts):
    from pycombine.methods.multidimfit import MultiDimFitConfig, multidimfit

    s = _session(path, **opts)
    lines: list[str] = []
    return multidimfit(s, s.observed, MultiDimFitConfig.from_options(s.opts), out=lines.append), lines


def _nll(r):
    nu = 3.0 * np.asarray(r, float) + 5.0
    return nu - 10.0 * np.log(nu)


# ---------------------------------------------------------------------------------------- reference
@pytest.mark.parametrize("case_id", case_params("MultiDimFit"))
def test_reference_case(case_id, tmp_path):
    exp, proc = run_case(case_id, tmp_path)
    assert proc.returncode == exp["rc"], proc.stderr[-2000:]
    assert compare(exp, tmp_path) == []


@needs_reference
def test_reference_console_lines(tmp_path):
    """The printed block of a singles run matches Combine's text line for line."""
    exp, proc = run_case("count_realistic_mdf_singles", tmp_path)
    assert proc.stdout.splitlines() == exp["stdout"].splitlines()


# ---------------------------------------------------------------------------------------- grids
def test_grid_1d_positions_and_reverse_order():
    pts = grid_1d(0.0, 3.0, 7, best=0.73)
    assert [p.index for p in pts] == list(range(7))
    assert np.allclose([p.coords[0] for p in pts], [(i + 0.5) * 3.0 / 7 for i in range(7)])
    # best fit beyond lastPoint: points visited from the far end (x of last + first - i)
    pts = grid_1d(0.0, 1.0, 10, first_point=2, last_point=4, best=0.95)
    assert [p.index for p in pts] == [2, 3, 4]
    assert np.allclose([p.coords[0] for p in pts], [0.45, 0.35, 0.25])
    # aligned edges include both ends exactly
    pts = grid_1d(-1.0, 1.0, 5, align_edges=True, best=0.0)
    assert [p.coords[0] for p in pts] == [-1.0, -0.5, 0.0, 0.5, 1.0]


@needs_reference
def test_grid_2d_matches_combine_h4l():
    exp = expected("seed_h4l_grid2d")["outputs"]["higgsCombineTest.MultiDimFit.mH125.root"]["limit"]
    pts, total = grid_2d((0.0, 0.9), (4.0, 1.6), 100)
    assert total == 100
    assert np.allclose([p.coords[0] for p in pts], exp["r"][1:], atol=1e-6)
    assert np.allclose([p.coords[1] for p in pts], exp["s_b"][1:], atol=1e-6)
    assert pts[13].ij == (1, 3)
    pts, total = grid_2d((0.0, 0.0), (1.0, 1.0), 10, first_point=5, last_point=7)
    assert total == 16 and [p.index for p in pts] == [5, 6, 7]


def test_grid_nd_first_axis_fastest():
    pts, total = grid_nd([0, 0, 0], [1, 1, 1], 8)
    assert total == 8
    assert [p.ij for p in pts[:3]] == [(0, 0, 0), (1, 0, 0), (0, 1, 0)]


# ---------------------------------------------------------------------------------------- hand-derived
def test_grid_delta_nll_counting_card(tmp_path):
    path = _write(tmp_path)
    res, lines = _run(path, algo="grid", points=20, set_parameter_ranges="r=0,4")
    rows = res.rows
    assert len(rows) == 21
    r = np.array([row["r"] for _, row in rows[1:]])
    assert np.allclose(r, [(i + 0.5) * 0.2 for i in range(20)])
    dnll = np.array([row["deltaNLL"] for _, row in rows[1:]])
    want = _nll(r) - _nll(5.0 / 3.0)
    assert np.allclose(dnll, want, atol=2e-4)
    q = np.array([qq for qq, _ in rows[1:]])
    from scipy.stats import chi2

    assert np.allclose(q, chi2.sf(2 * want, 1), atol=2e-4)
    assert rows[0][0] == -1.0 and abs(rows[0][1]["r"] - 5.0 / 3.0) < 0.02
    assert lines[0] == "Doing initial fit: "
    assert lines[1].startswith(" POI: r= 1.66") and lines[1].endswith(" -> [0,4]")
    assert lines[2] == "Point 0/20 r = 0.1"


def test_singles_interval_counting_card(tmp_path):
    """68 % interval at deltaNLL = 0.494473 on a counting card (Combine: -0.941384/+1.16088)."""
    from scipy.optimize import brentq

    path = _write(tmp_path)
    res, lines = _run(path, algo="singles")
    f = lambda x: _nll(x) - _nll(5.0 / 3.0) - DELTA_NLL_68  # noqa: E731
    lo = 5.0 / 3.0 - brentq(f, 0.0, 5.0 / 3.0)
    hi = brentq(f, 5.0 / 3.0, 10.0) - 5.0 / 3.0
    assert abs(lo - 0.94137) < 1e-4 and abs(hi - 1.16090) < 1e-4  # spec item 9
    got_lo, got_hi = res.intervals["r"]
    best = res.rows[0][1]["r"]
    assert abs((best - got_lo) - (5.0 / 3.0 - lo)) < 2e-3
    assert abs((best + got_hi) - (5.0 / 3.0 + hi)) < 2e-3
    assert [q for q, _ in res.rows] == [-1.0, -0.32, 0.32]
    assert lines[-1] == "   r :    +1.667   -0.941/+1.161 (68%)"


def test_singles_at_boundary_reports_range(tmp_path):
    """n below b: r hits 0, the low error is the distance to the range end, with the warning."""
    path = tmp_path / "low.txt"
    path.write_text(CARD.format(kmax=0, syst="").replace("observation 10", "observation 2"))
    res, lines = _run(str(path), algo="singles")
    assert " Warning - No valid low-error found, will report difference to minimum of range for : r" in lines
    assert res.rows[1][1]["r"] == pytest.approx(0.0, abs=1e-6)
    # upper crossing: (3r+5) - 2 ln(3r+5) rises by 0.494473 above its value at r = 0
    from scipy.optimize import brentq

    g = lambda x: (3 * x + 5 - 2 * math.log(3 * x + 5)) - (5 - 2 * math.log(5)) - DELTA_NLL_68  # noqa: E731
    assert res.rows[2][1]["r"] == pytest.approx(brentq(g, 0.0, 5.0), abs=2e-3)


def test_algo_none_and_fixed(tmp_path):
    path = _write(tmp_path)
    res, lines = _run(path)
    assert lines == ["Doing initial fit: ", "", " --- MultiDimFit ---", "best fit parameter values: ", "   r :    +1.667"]
    assert len(res.rows) == 1
    res, lines = _run(path, algo="fixed", fixed_point_pois="r=1")
    (q0, _), (q1, row) = res.rows
    assert row["r"] == 1.0
    assert row["deltaNLL"] == pytest.approx(float(_nll(1.0) - _nll(5.0 / 3.0)), abs=2e-4)


def test_impact_counting_card(tmp_path):
    """Impact of a background lnN: the profile in theta is theta^2/2 (r absorbs the rest)."""
    path = _write(tmp_path, "lnb  lnN    -   1.1")
    res, lines = _run(path, algo="impact", parameters=("lnb",))
    assert [b for b, _ in res.branches] == ["lnb", "r", "deltaNLL"]
    e = math.sqrt(2 * DELTA_NLL_68)
    (q0, best), (q1, lo), (q2, hi) = res.rows
    assert (q0, q1, q2) == (-1.0, 0.32, 0.32)
    assert lo["lnb"] == pytest.approx(-e, abs=2e-3) and hi["lnb"] == pytest.approx(e, abs=2e-3)
    assert lo["r"] == pytest.approx((10 - 5 * 1.1 ** (-e)) / 3, abs=1e-2)
    assert hi["r"] == pytest.approx((10 - 5 * 1.1**e) / 3, abs=1e-2)
    assert lines[1:4] == ["", " --- MultiDimFit ---", "Parameter impacts: "]


def test_other_pois_set_constant_message(tmp_path):
    path = tmp_path / "rp.txt"
    path.write_text(CARD.format(kmax=1, syst="sb rateParam b1 bkg 1 [0.5,2]").replace("kmax 1", "kmax *"))
    res, lines = _run(str(path), algo="none", parameters=("sb",))
    assert lines[0] == "Following POIs have been set constant (use --floatOtherPOIs to let them float): r, "
    # r fixed at 1: sb absorbs the excess, 3 + 5 sb = 10
    assert res.rows[0][1]["sb"] == pytest.approx(1.4, abs=5e-3)


def test_quantile_from_float32_delta_nll():
    # Combine computes the probability from the float deltaNLL
    assert chi2_quantile(0.5, 1) == pytest.approx(0.3173105, abs=1e-7)
    assert chi2_quantile(-1e-6, 2) == 1.0


def test_fit_converges_on_a_limit():
    """Minimum on a limit: Minuit2's user-Hessian transform alone would report it invalid."""
    from pycombine.fit.minimize import MinimizerOptions
    from pycombine.fit.scan import LimitSafeFitter

    class Quadratic:
        def __call__(self, z):
            return float((z[0] + 1) ** 2 + 0.5 * (z[1] - 2) ** 2 + 0.1 * z[0] * z[1])

        def grad(self, z):
            return np.array([2 * (z[0] + 1) + 0.1 * z[1], (z[1] - 2) + 0.1 * z[0]])

        def hessian(self, z):
            return np.array([[2.0, 0.1], [0.1, 1.0]])

    fitter = LimitSafeFitter.__new__(LimitSafeFitter)
    fitter.options = MinimizerOptions()
    for limits, start, want in (
        ([(0.0, 3.0), (-5.0, 5.0)], [1.0, 0.0], [0.0, 2.0]),  # two-sided limit, minimum on it
        ([(0.0, np.inf), (-np.inf, np.inf)], [1.0, 0.0], [0.0, 2.0]),  # one-sided limit
        ([(-np.inf, -0.5), (1.0, np.inf)], [-0.5, 1.0], [-2.2 / 1.99, 2 + 0.22 / 1.99]),  # start on limits
    ):
        mn = fitter._run_migrad(Quadratic(), np.array(start), limits, np.array([0.1, 0.1]), 1)
        assert mn.valid
        assert np.allclose(mn.values, want, atol=2e-2)


def test_chi2_survival_matches_scipy():
    """quantileExpected of scan points: our closed-form chi2 tail equals scipy.special.chdtrc."""
    from scipy.special import chdtrc

    from pycombine.fit.scan import chi2_survival

    for k in range(1, 7):
        for q in (1e-6, 0.01, 0.5, 1.0, 3.84, 10.0, 50.0, 200.0):
            assert abs(chi2_survival(q, k) - chdtrc(k, q)) <= 1e-13 * chdtrc(k, q) + 1e-300
