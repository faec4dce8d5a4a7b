"""``combine -M FitDiagnostics`` against CMS Combine v10.6.0's recorded outputs, plus hand-derived checks.

Every FitDiagnostics case of the reference suite is run once through the console script (cached
per session); the tests then compare:

* the judge's rules (``refsuite.compare``: r̂, its asymmetric errors, total shapes);
* the ``tree_fit_sb``/``tree_fit_b``/``tree_prefit`` layout (branch names, order, ROOT types) and
  values (``nll_min``, ``nll_nll0``, fitted nuisances);
* the ``limit`` tree entries;
* per-process yields of ``shapes_*``: pre-fit to 1e-5 relative (5e-4 in autoMCStats channels,
  where Combine's numerical integral differs by up to 1.6e-4, spec item 16), post-fit to 0.5 %
  (signal processes scaled by r̂/r̂_Combine: the POI's own agreement is tested by the judge);
* ``--saveWithUncertainties`` errors. Combine's are RMS values over 200 random parameter draws,
  which scatter by ~7 % per bin (up to ~13 % when the POI is clipped at its range edge) around
  their expectation; we compute that expectation. The bound used (median ratio per histogram
  within 20 %, each bin within 25 %) is about three standard deviations of Combine's scatter;
  the 2 % the linear-propagation plan aimed at is below Combine's own noise.
* the ``data`` graphs (class, values, title).

Hand-derived: the 68 % interval of a counting experiment without systematics (closed-form NLL),
Combine's robust crossing search on the same likelihood, and the sampled second moments of
:mod:`pycombine.fit.uncertainty` for functions whose expectations are known.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from refsuite import built_case_ids, built_case_params, case_params, compare, params, run_case

uproot = pytest.importorskip("uproot")

CASES = built_case_ids("FitDiagnostics")
_RUNS: dict[str, tuple[dict, object, Path]] = {}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run each case at most once per test session: case id -> (record, process, workdir)."""

    def get(cid: str):
        if cid not in _RUNS:
            work = tmp_path_factory.mktemp(cid)
            exp, proc = run_case(cid, work)
            _RUNS[cid] = (exp, proc, work)
        return _RUNS[cid]

    return get


def _fd_file(exp: dict) -> str:
    return next(k for k in exp["outputs"] if k.startswith("fitDiagnostics"))


def _poi_name(rec: dict) -> str:
    """The POI of the reference's trees (``r``, or e.g. ``r_ggH`` with a physics model)."""
    return next(k for k in rec["tree_fit_sb"] if k != "fit_status")


def _ran(runs, cid):
    exp, proc, work = runs(cid)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return exp, proc, work


# ------------------------------------------------------------------------------------- judge
@pytest.mark.parametrize("cid", case_params("FitDiagnostics"))
def test_reference_case(runs, cid):
    exp, proc, work = _ran(runs, cid)
    assert compare(exp, work) == []


@pytest.mark.parametrize("cid", built_case_params("FitDiagnostics"))
def test_console_block(runs, cid):
    exp, proc, work = _ran(runs, cid)
    head = "\n --- FitDiagnostics ---\n"
    if head not in exp["stdout"]:  # no signal+background fit (--skipSBFit): no block
        assert head not in proc.stdout
        return
    poi = _poi_name(exp["outputs"][_fd_file(exp)])
    want = exp["stdout"].split(head, 1)[1].splitlines()[0]
    got = proc.stdout.split(head, 1)[1].splitlines()[0]
    assert got.startswith(f"Best fit {poi}: ") and got.endswith("  (68% CL)")
    # same layout; the numbers are compared by the judge
    assert want.split(":")[0] == got.split(":")[0]


# ------------------------------------------------------------------------------------- trees
@pytest.mark.parametrize("cid", built_case_params("FitDiagnostics"))
def test_tree_layout(runs, cid):
    exp, _, work = _ran(runs, cid)
    rec = exp["outputs"][_fd_file(exp)]
    with uproot.open(work / _fd_file(exp)) as f:
        for tree in ("tree_fit_sb", "tree_fit_b", "tree_prefit"):
            if not rec[tree]:
                # Combine writes a tree without branches (no nuisances); uproot cannot
                continue
            t = f[tree]
            assert list(t.keys()) == list(rec[tree]), tree
            assert t.num_entries == 1
            for b in t.keys():
                want = np.dtype(">i4") if b in ("fit_status", "numbadnll") else np.dtype(">f8")
                assert t[b].interpretation.from_dtype == want, (tree, b)


@pytest.mark.parametrize("cid", built_case_params("FitDiagnostics"))
def test_tree_values(runs, cid):
    """nll_min / nll_nll0 and fitted nuisances (the judge checks only r and its errors)."""
    exp, _, work = _ran(runs, cid)
    rec = exp["outputs"][_fd_file(exp)]
    with uproot.open(work / _fd_file(exp)) as f:
        poi = _poi_name(rec)
        errors = (f"{poi}Err", f"{poi}LoErr", f"{poi}HiErr")
        for tree in ("tree_fit_sb", "tree_fit_b"):
            got = f[tree].arrays(library="np")
            want = rec[tree]
            assert int(got["fit_status"][0]) == want["fit_status"][0]
            if want["fit_status"][0] == -1:  # a fit not run (--skipSBFit): Combine's placeholders
                for name, v in want.items():
                    assert got[name][0] == v[0], (tree, name)
                continue
            assert want["fit_status"][0] == 0
            assert int(got["numbadnll"][0]) == want["numbadnll"][0]
            # Migrad stops within EDM 1e-4 of the minimum (both programs)
            assert got["nll_min"][0] == pytest.approx(want["nll_min"][0], abs=2e-3)
            if tree == "tree_fit_sb":
                assert got["nll_nll0"][0] == pytest.approx(want["nll_nll0"][0], abs=2e-3)
            else:
                assert got[poi][0] == want[poi][0] == 0.0
                for k in errors:
                    assert got[k][0] == want[k][0] == 0.0
            for name, v in want.items():
                if name.endswith("_In"):
                    assert got[name][0] == pytest.approx(v[0], abs=1e-9), name
                elif name not in ("fit_status", poi, *errors, "numbadnll", "nll_min", "nll_nll0"):
                    # nuisances: a flat NLL lets Migrad stop anywhere within ~0.01 sigma
                    assert got[name][0] == pytest.approx(v[0], abs=0.02), (tree, name)
        pre = f["tree_prefit"].arrays(library="np") if rec["tree_prefit"] else {}
        for name, v in rec["tree_prefit"].items():
            assert pre[name][0] == pytest.approx(v[0], abs=1e-12), name


@pytest.mark.parametrize("cid", built_case_params("FitDiagnostics"))
def test_limit_tree(runs, cid):
    exp, _, work = _ran(runs, cid)
    fname = next(k for k in exp["outputs"] if k.startswith("higgsCombine"))
    want = exp["outputs"][fname]["limit"]
    with uproot.open(work / fname) as f:
        got = f["limit"].arrays(library="np")
    assert list(got["quantileExpected"]) == pytest.approx(want["quantileExpected"])
    assert list(got["iToy"]) == want["iToy"]
    n = len(want["limit"])
    assert list(got["limitErr"][:3]) == [0.0] * min(n, 3)
    if n > 3:
        assert got["limit"][3] == got["limit"][0]
    for k in ("mh", "syst", "iSeed", "iChannel"):
        assert list(got[k]) == pytest.approx(want[k])


# ------------------------------------------------------------------------------------- shapes
def _shape_cases() -> list[str]:
    from refsuite import expected

    out = []
    for c in CASES:
        exp = expected(c)
        if "shapes_prefit" in exp["outputs"][_fd_file(exp)]:
            out.append(c)
    return out


SHAPE_CASES = _shape_cases()


def _model_info(work: Path, exp: dict) -> tuple[set[str], set[tuple[str, str]]]:
    """(channels with autoMCStats, (channel, process) pairs of signal processes) of the case's card."""
    from pycombine.run.loading import load
    from pycombine.run.options import RunOptions

    path = str(work / next(a for a in exp["command"].split() if a.endswith((".txt", ".root"))))
    _, spec = load(path, RunOptions.defaults(cards=(path,)))
    amc = {c.name for c in spec.channels if c.auto_mc_stats is not None}
    sig = {(c.name, p.name) for c in spec.channels for p in c.processes if p.is_signal}
    return amc, sig


def _poi(exp, work, tree="tree_fit_sb"):
    rec = exp["outputs"][_fd_file(exp)]
    poi = _poi_name(rec)
    with uproot.open(work / _fd_file(exp)) as f:
        ours = float(f[tree][poi].array(library="np")[0])
    return ours, rec[tree][poi][0]


def _stages(rec: dict) -> list[str]:
    """The shapes folders Combine wrote (no shapes_fit_s without the signal+background fit)."""
    return [s for s in ("shapes_prefit", "shapes_fit_b", "shapes_fit_s") if s in rec]


@pytest.mark.parametrize("cid", params(SHAPE_CASES, ids=str))
def test_process_yields(runs, cid):
    exp, _, work = _ran(runs, cid)
    rec = exp["outputs"][_fd_file(exp)]
    amc, signal = _model_info(work, exp)
    r_ours, r_comb = _poi(exp, work)
    with uproot.open(work / _fd_file(exp)) as f:
        for stage in _stages(rec):
            for key, v in rec[stage].items():
                if key.endswith("/data"):
                    continue
                ch, proc = key.split("/")
                got = f[stage][key].values()
                want = np.array(v["values"])
                assert got.shape == want.shape, key
                if stage == "shapes_fit_s" and proc == "total":
                    continue  # signal and background scale differently: covered by its parts
                if stage == "shapes_fit_s" and (proc == "total_signal" or (ch, proc) in signal):
                    got = got * (r_comb / r_ours)
                if stage == "shapes_prefit":
                    sel = want > 1e-6 * max(want.max(), 1e-300)
                    rtol = 5e-4 if ch in amc else 1e-5
                else:
                    # far tails (< 0.1 % of the peak) move by tens of % with a nearly flat shape
                    # nuisance (e.g. 'sigma' -0.0122 vs -0.0128 in simple-shapes-TH1)
                    sel = want > 1e-3 * max(want.max(), 1e-300)
                    rtol = 5e-3
                assert got[sel] == pytest.approx(want[sel], rel=rtol, abs=1e-9), (stage, key)


@pytest.mark.parametrize("cid", params(SHAPE_CASES, ids=str))
def test_uncertainties(runs, cid):
    exp, _, work = _ran(runs, cid)
    rec = exp["outputs"][_fd_file(exp)]
    _, r_comb = _poi(exp, work)
    _, signal = _model_info(work, exp)
    with uproot.open(work / _fd_file(exp)) as f:
        for stage in _stages(rec):
            for key, v in rec[stage].items():
                if key.endswith("/data"):
                    continue
                ch, proc = key.split("/")
                if stage == "shapes_fit_s" and r_comb < 1e-6 and (proc == "total_signal" or (ch, proc) in signal):
                    # r̂ on its range edge: both covariances of r vanish like sqrt(r̂), and the two
                    # r̂ differ by orders of magnitude (Migrad stopping points 3e-9 vs 7e-13)
                    continue
                want = np.array(v["errors"])
                got = f[stage][key].errors()
                sel = want > 1e-3 * max(want.max(), 1e-300)
                if not sel.any():
                    assert np.all(got < 1e-6 + 1e-3 * max(got.max(), 0)), (stage, key)
                    continue
                ratio = got[sel] / want[sel]
                assert abs(np.median(ratio) - 1) < 0.20, (stage, key, np.median(ratio))
                assert np.all(np.abs(ratio - 1) < 0.25), (stage, key, ratio)


@pytest.mark.parametrize("cid", params(SHAPE_CASES, ids=str))
def test_data_graph_and_covariance(runs, cid):
    exp, _, work = _ran(runs, cid)
    rec = exp["outputs"][_fd_file(exp)]
    with uproot.open(work / _fd_file(exp)) as f:
        for stage in _stages(rec):
            for key, v in rec[stage].items():
                if not key.endswith("/data"):
                    continue
                ch = key.split("/")[0]
                g = f[stage][key]
                assert g.classname == "TGraphAsymmErrors"
                x, y = g.values()
                assert list(y) == pytest.approx(v["y"])
                assert list(x) == pytest.approx(np.arange(len(y)) + 0.5)
                first = sorted(k.split(";")[0] for k in f[stage][ch].keys()
                               if k.split(";")[0] not in ("data", "total", "total_signal", "total_background", "total_covar"))
                assert g.member("fTitle").endswith(f" in {ch}")
                assert g.member("fTitle").split(" in ")[0] in first
                cov = f[stage][f"{ch}/total_covar"]
                assert cov.classname == "TH2F"
                err = f[stage][f"{ch}/total"].errors()
                assert np.sqrt(np.diag(cov.values())) == pytest.approx(err, rel=1e-4, abs=1e-6)


# ------------------------------------------------------------------------------------- hand-derived
COUNTING = """imax 1
jmax 1
kmax 0
bin b
observation 10
bin b b
process s bkg
process 0 1
rate 3 5
"""


def _session(tmp_path, text, **opts):
    from pycombine.run.session import Session

    card = tmp_path / "card.txt"
    card.write_text(text)
    return Session.from_card(str(card), "FitDiagnostics", out=lambda *a: None, **opts)


def _exact_crossings(level):
    """NLL(r) = (3r + 5) - 10 ln(3r + 5); r̂ = 5/3: bisection on each side."""
    nll = lambda r: (3 * r + 5) - 10 * math.log(3 * r + 5)  # noqa: E731
    r0 = 5.0 / 3.0
    target = nll(r0) + level

    def solve(a, b):
        for _ in range(200):
            m = 0.5 * (a + b)
            if (nll(m) - target) * (nll(a) - target) <= 0:
                b = m
            else:
                a = m
        return 0.5 * (a + b)

    return r0, solve(0.0, r0), solve(r0, 20.0)


def test_interval_counting(tmp_path):
    from pycombine.fit.intervals import DELTA68
    from pycombine.methods.fit_diagnostics import fit_diagnostics

    assert DELTA68 == pytest.approx(0.4944732407390115, abs=1e-14)
    s = _session(tmp_path, COUNTING)
    res = fit_diagnostics(s, s.observed, 0)
    r0, lo, hi = _exact_crossings(DELTA68)
    assert res.r == pytest.approx(r0, abs=2e-3)
    assert res.r - res.lo_err == pytest.approx(lo, abs=2e-4)
    assert res.r + res.hi_err == pytest.approx(hi, abs=2e-4)
    # Combine prints -0.941384/+1.16088 for this card (spec item 9)
    assert res.lo_err == pytest.approx(0.941384, rel=2e-3)
    assert res.hi_err == pytest.approx(1.16088, rel=2e-3)
    # nll_min = NLL(fit) - NLL(r = 0): 3 r̂ - 10 ln((3 r̂ + 5) / 5)
    assert res.fit_s.nll_min == pytest.approx(5.0 - 10 * math.log(2.0), abs=1e-5)
    assert res.fit_b.nll_min == 0.0
    assert [q for _, _, q in res.limit_rows] == [0.5, 0.16, 0.84, -1.0]


def test_robust_crossing_counting(tmp_path):
    from pycombine.fit.intervals import DELTA68
    from pycombine.methods.fit_diagnostics import fit_diagnostics

    s = _session(tmp_path, COUNTING, robust_fit=True)
    res = fit_diagnostics(s, s.observed, 0)
    _, lo, hi = _exact_crossings(DELTA68)
    # the search stops within 4e-4 of the level: |dr| < 4e-4 / |dNLL/dr| ~ 1e-3
    assert res.r - res.lo_err == pytest.approx(lo, abs=2e-3)
    assert res.r + res.hi_err == pytest.approx(hi, abs=2e-3)


def test_minos_none_quirk(tmp_path):
    """Without Minos Combine's low error is the negative parabolic error (RooFit quirk)."""
    from pycombine.methods.fit_diagnostics import fit_diagnostics

    s = _session(tmp_path, COUNTING, minos="none")
    res = fit_diagnostics(s, s.observed, 0)
    assert res.lo_err == pytest.approx(-res.hi_err)
    assert res.limit_rows[1][0] == pytest.approx(res.r + res.hi_err)
    assert res.lines[-1].startswith(f"Best fit r: {res.lines[-1].split()[3]}  {res.lines[-1].split()[4]}")
    assert not res.lines[-1].split()[4].startswith("-")


def test_sample_spread_linear_is_exact():
    from pycombine.fit.uncertainty import sample_spread

    rng = np.random.default_rng(3)
    A = rng.normal(size=(4, 3))
    C = np.array([[1.0, 0.3, 0.0], [0.3, 2.0, -0.4], [0.0, -0.4, 0.5]])
    L = np.linalg.cholesky(C)
    x0 = np.array([0.2, -1.0, 3.0])
    f = lambda x: A @ x  # noqa: E731
    sp = sample_spread(f, x0, np.arange(3), A, L, lambda Z: x0 + Z @ L.T, 50, rng)
    assert sp.second_moments(full=True) == pytest.approx(A @ C @ A.T, rel=1e-12, abs=1e-12)


def test_batched_jacobian_and_draws_equal_the_point_by_point_ones():
    """The vectorised path (one call for all shifted points / draws) gives the loop's numbers,
    including the one-sided difference at a range edge; derivatives checked by hand: d exp(x) = exp(x)."""
    from pycombine.fit.uncertainty import jacobian, sample_spread

    def f(x):
        return np.exp(x[:2]) * x[2]

    def f_batch(X):
        return np.exp(X[:, :2]) * X[:, 2:3]

    x0 = np.array([0.3, -0.2, 2.0])
    lo, hi = np.array([-5.0, -5.0, 2.0]), np.array([5.0, 5.0, 9.0])  # x2 sits on its lower edge
    steps = np.array([1e-4, 1e-4, 1e-4])
    index = np.arange(3)
    y0, J0 = jacobian(f, x0, index, steps, lo, hi)
    y1, J1 = jacobian(f, x0, index, steps, lo, hi, batch=f_batch)
    np.testing.assert_array_equal(y0, y1)
    np.testing.assert_allclose(J1, J0, rtol=1e-12)
    np.testing.assert_allclose(J1[:, :2], np.diag(np.exp(x0[:2]) * 2.0), rtol=1e-7)
    np.testing.assert_allclose(J1[:, 2], np.exp(x0[:2]), rtol=1e-7)  # one-sided: x2 + h and x2
    L = np.diag([0.1, 0.2, 0.0])
    args = (x0, index, J1, L, lambda Z: x0 + Z @ L.T, 64)
    a = sample_spread(f, *args, np.random.default_rng(5))
    b = sample_spread(f, *args, np.random.default_rng(5), batch=f_batch)
    np.testing.assert_allclose(b.D, a.D, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(b.errors(), a.errors(), rtol=1e-12)


def test_sample_spread_lognormal():
    """E[(exp(k z) - 1)^2] = exp(2k^2) - 2 exp(k^2/2) + 1 for z ~ N(0, 1)."""
    from pycombine.fit.uncertainty import sample_spread

    k = math.log(1.5)
    f = lambda x: np.array([math.exp(k * x[0])])  # noqa: E731
    sp = sample_spread(f, np.zeros(1), np.arange(1), np.array([[k]]), np.eye(1), lambda Z: Z.copy(), 4000,
                       np.random.default_rng(7))
    exact = math.exp(2 * k * k) - 2 * math.exp(k * k / 2) + 1
    assert sp.errors()[0] == pytest.approx(math.sqrt(exact), rel=0.01)
