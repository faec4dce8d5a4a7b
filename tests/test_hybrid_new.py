"""``combine -M HybridNew`` against exact results, coverage, the grid workflow and Combine's records.

Exact references: for a counting experiment without systematics every p-value is a finite sum
over Poisson outcomes, so CLs, CLs+b (Feldman-Cousins) and the significance's null p-value are
computed here by enumeration and compared with ours within three binomial errors of our toys.
Coverage: pseudo-experiments drawn at a known true signal strength; the CLs 95 % upper limit
covers it when CLs(r_true) > 0.05 (CLs falls with r), a Feldman-Cousins 68 % interval when
Pmu(r_true) > 0.32.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
from refsuite import bin_dir, case_params, compare, env, run_case

from pycombine.methods.hybrid_new import hybrid_new
from pycombine.methods.hybrid_new.engine import EPS, PointEvaluator
from pycombine.methods.hybrid_new.grid import read_grid
from pycombine.methods.hybrid_new.options import HybridNewOptions
from pycombine.methods.hybrid_new.search import limit_from_points
from pycombine.model.likelihood import Dataset
from pycombine.outputs.root.file import RootFileWriter
from pycombine.run.session import Session

B, S = 5.5, 1.0  # background and signal per unit r


def _card(tmp_path: Path, n_obs: int, syst: str = "") -> Path:
    text = f"""imax 1
jmax 1
kmax {1 if syst else 0}
------------
bin b1
observation {n_obs}
------------
bin b1 b1
process sig bkg
process 0 1
rate {S} {B}
------------
{syst}
"""
    path = tmp_path / "card.txt"
    path.write_text(text)
    return path


def _session(path: Path, **options) -> Session:
    return Session.from_card(str(path), "HybridNew", out=lambda m: None, **options)


# ------------------------------------------------------------------------ exact counting results
def _poisson_pmf(n: np.ndarray, mean: float) -> np.ndarray:
    from scipy.stats import poisson

    return poisson.pmf(n, mean)


N = np.arange(0, 200)


def _nll(r, n):
    nu = r * S + B
    return nu - n * np.log(nu)


def _q_lhc(mu: float, n: np.ndarray) -> np.ndarray:
    """One-sided: r_hat in [0, mu] (q = 0 when the free fit lies above mu)."""
    r_hat = np.clip((n - B) / S, 0.0, 1.1 * mu)
    return np.where(r_hat >= mu, 0.0, _nll(mu, n) - _nll(r_hat, n))


def _q_profile(mu: float, n: np.ndarray, hi: float = 20.0) -> np.ndarray:
    r_hat = np.clip((n - B) / S, 0.0, hi)
    return _nll(mu, n) - _nll(r_hat, n)


def _tail(q, cut, mean):
    return float(np.sum(_poisson_pmf(N, mean)[q >= cut]))


def test_single_point_cls_is_the_exact_one(tmp_path):
    mu, n_obs = 2.0, 7
    s = _session(_card(tmp_path, n_obs), lhc_mode="LHC-limits", single_point="2", toys_h=20000, cls_acc=0.0, seed=3,
                 parallel=1)
    rows, ev = hybrid_new(s, s.main_dataset()[0], out=lambda m: None)
    q = _q_lhc(mu, N)
    cut = float(_q_lhc(mu, np.array([n_obs]))[0]) - EPS
    cls_exact = _tail(q, cut, mu * S + B) / _tail(q, cut, B)
    value, err = rows[0][0], rows[0][1]
    assert abs(value - cls_exact) < 3 * err, (value, err, cls_exact)


def test_feldman_cousins_point_is_the_exact_pmu(tmp_path):
    """B 5.5, 11 observed, r = 1 (the reference case toys_hybrid_fc_point): Pmu = 0.06684 exactly."""
    s = _session(_card(tmp_path, 11), lhc_mode="LHC-feldman-cousins", single_point="r=1", toys_h=20000,
                 cls_acc=0.0, seed=5, parallel=1)
    rows, _ = hybrid_new(s, s.main_dataset()[0], out=lambda m: None)
    q = _q_profile(1.0, N)
    exact = _tail(q, float(_q_profile(1.0, np.array([11]))[0]) - EPS, 1.0 * S + B)
    assert exact == pytest.approx(0.06684, abs=1e-5)
    value, err = rows[0][:2]
    assert abs(value - exact) < 3 * err
    assert err == pytest.approx(math.sqrt(exact * (1 - exact) / 20000), rel=0.1)


def test_significance_is_the_exact_null_pvalue(tmp_path):
    s = _session(_card(tmp_path, 11), lhc_mode="LHC-significance", toys_h=40000, seed=4, parallel=1)
    rows, _ = hybrid_new(s, s.main_dataset()[0], out=lambda m: None)
    r_hat = np.maximum((N - B) / S, 0.0)
    q0 = _nll(0.0, N) - _nll(r_hat, N)
    q_obs = float(q0[11])
    p_exact = _tail(q0, q_obs - EPS, B)
    z, z_err = rows[0][:2]
    from statistics import NormalDist

    assert abs(z - NormalDist().inv_cdf(1 - p_exact)) < 3 * z_err


# ------------------------------------------------------------------------------------ coverage
def _pseudo_tests(tmp_path, mode: str, mu_true: float, n_pseudo: int, toys: int, seed: int):
    """Value at r = mu_true of HybridNew run on pseudo-datasets drawn at mu_true."""
    s = _session(_card(tmp_path, 0), lhc_mode=mode, single_point=str(mu_true), toys_h=toys, cls_acc=0.0, seed=seed,
                 parallel=1)
    opt = HybridNewOptions.from_opts(s.opts, with_systematics=False)
    rng = np.random.default_rng(seed)
    counts = rng.poisson(mu_true * S + B, size=n_pseudo)
    values = []
    for i, n in enumerate(counts):
        data = Dataset(np.array([float(n)]), s.model.glob0.copy())
        ev = PointEvaluator(s, data, opt, seed * 1000 + i, with_systematics=False)
        values.append(ev.evaluate({"r": mu_true}, adaptive=False).value)
    return np.array(values)


def test_cls_upper_limits_cover_the_true_signal(tmp_path):
    values = _pseudo_tests(tmp_path, "LHC-limits", 3.0, 300, 1500, 11)
    covered = np.mean(values > 0.05)
    err = math.sqrt(0.95 * 0.05 / values.size)
    assert covered >= 0.95 - 2 * err, covered  # CLs is conservative: at least 95 %


def test_feldman_cousins_intervals_cover_68_percent(tmp_path):
    values = _pseudo_tests(tmp_path, "LHC-feldman-cousins", 2.0, 300, 1500, 12)
    covered = np.mean(values > 0.32)
    err = math.sqrt(0.68 * 0.32 / values.size)
    # discrete counts make FC over-cover a little: within +-3 binomial errors of 68 %, or above
    assert covered >= 0.68 - 3 * err, covered


# -------------------------------------------------------------------------------- grid workflow
def _combine(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    p = subprocess.run([str(Path(bin_dir()) / "combine"), *args], cwd=cwd, capture_output=True, text=True,
                       env=env(), timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return p


def _merge(files: list[Path], out: Path) -> None:
    """What ``hadd`` does with these files: every tree of ``toys`` copied, one ``limit`` tree kept."""
    import uproot

    with RootFileWriter(out) as w:
        for f in files:
            with uproot.open(f) as g:
                for name in g["toys"].keys(cycle=False):
                    w.tree(f"toys/{name}", g["toys"][name].arrays(library="np"))
        with uproot.open(files[0]) as g:
            w.tree("limit", g["limit"].arrays(library="np"))


def test_grid_jobs_merged_give_the_limit_of_their_points(tmp_path):
    card = _card(tmp_path, 7, syst="bkg_unc lnN - 1.2")
    files = []
    for k, r in enumerate(("2", "3", "4", "5", "6", "7", "8")):
        _combine(tmp_path, "-M", "HybridNew", "--LHCmode", "LHC-limits", card.name, "--singlePoint", r,
                 "--saveHybridResult", "-T", "1500", "--clsAcc", "0", "-s", str(100 + k), "-n", "grid")
        files.append(tmp_path / f"higgsCombinegrid.HybridNew.mH120.{100 + k}.root")
    _merge(files, tmp_path / "merged.root")
    tests = read_grid(str(tmp_path / "merged.root"), ["r"])
    assert [t.point["r"] for t in tests] == [2, 3, 4, 5, 6, 7, 8]
    assert all(t.q_sb.size == 1500 and t.q_b.size == 375 for t in tests)
    p = _combine(tmp_path, "-M", "HybridNew", "--LHCmode", "LHC-limits", card.name, "--readHybridResults", "--grid",
                 "merged.root", "--noUpdateGrid")
    line = next(x for x in p.stdout.splitlines() if x.startswith("Limit: r < "))
    limit, err = float(line.split()[3]), float(line.split()[5])
    # the same points computed in this process from the stored statistics
    s = _session(card, lhc_mode="LHC-limits")
    ev = PointEvaluator(s, s.main_dataset()[0], HybridNewOptions.from_opts(s.opts), 1, True)
    pts = [(t.point["r"], *ev.value(t)) for t in tests]
    direct = limit_from_points(pts, 0.05)
    assert limit == pytest.approx(direct.limit, rel=1e-5) and err == pytest.approx(direct.error, rel=1e-5)
    # and a limit search with toys of its own agrees within the statistical errors
    p = _combine(tmp_path, "-M", "HybridNew", "--LHCmode", "LHC-limits", card.name, "-s", "9")
    line = next(x for x in p.stdout.splitlines() if x.startswith("Limit: r < "))
    limit2, err2 = float(line.split()[3]), float(line.split()[5])
    assert abs(limit2 - limit) < 3 * math.hypot(err, err2) + 0.01


def test_results_do_not_depend_on_the_number_of_processes(tmp_path):
    card = _card(tmp_path, 7, syst="bkg_unc lnN - 1.2")
    out = []
    for par in ("1", "2"):
        p = _combine(tmp_path, "-M", "HybridNew", "--LHCmode", "LHC-limits", card.name, "--singlePoint", "3",
                     "-T", "3000", "-s", "5", "--parallel", par)
        out.append(p.stdout)
    assert out[0] == out[1]


def test_unsupported_options_are_refused(tmp_path):
    card = _card(tmp_path, 7)
    p = subprocess.run([str(Path(bin_dir()) / "combine"), "-M", "HybridNew", "--LHCmode", "LHC-nope", card.name],
                       cwd=tmp_path, capture_output=True, text=True, env=env())
    assert p.returncode == 1 and "invalid LHCmode" in p.stderr and "Traceback" not in p.stderr
    p = subprocess.run([str(Path(bin_dir()) / "combine"), "-M", "HybridNew", "--LHCmode", "LHC-feldman-cousins",
                        card.name], cwd=tmp_path, capture_output=True, text=True, env=env())
    assert p.returncode == 1 and "feldman-cousins without --singlePoint" in p.stderr


# ------------------------------------------------------------------------------ reference suite
@pytest.mark.parametrize("case_id", case_params("HybridNew"))
def test_reference_case(case_id, tmp_path):
    exp, proc = run_case(case_id, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert compare(exp, tmp_path) == []
    want = [line for line in exp["stdout"].splitlines() if line.startswith(">>> using")]
    assert [line for line in proc.stdout.splitlines() if line.startswith(">>> using")] == want


def test_feldman_cousins_interval_from_a_grid(tmp_path):
    """A grid of Feldman-Cousins points (written as --saveHybridResult writes them), read back:
    the 68 % interval lies within one grid step of the exact one, [2.34, 9.31] for 11 observed
    over a background of 5.5 (Pmu > 0.32 by enumeration, as in the tests above)."""
    from pycombine.methods.hybrid_new.grid import columns, tree_name

    card = _card(tmp_path, 11)
    s = _session(card, lhc_mode="LHC-feldman-cousins", single_point="1", toys_h=3000, cls_acc=0.0, seed=2, parallel=1)
    ev = PointEvaluator(s, s.main_dataset()[0], HybridNewOptions.from_opts(s.opts, False), 2, False)
    with RootFileWriter(tmp_path / "fc.root") as out:
        for r in range(1, 14):
            test = ev.evaluate({"r": float(r)}, adaptive=False).test
            out.tree(f"toys/{tree_name(test, 120.0)}", columns(test))
        out.tree("limit", {"limit": np.zeros(1)})
    p = _combine(tmp_path, "-M", "HybridNew", "--LHCmode", "LHC-feldman-cousins", card.name, "--readHybridResults",
                 "--grid", "fc.root", "-C", "0.68")
    line = p.stdout.splitlines()[-1].split()
    lo, hi = float(line[0]), float(line[6])
    assert abs(lo - 2.34) < 1.0 and abs(hi - 9.31) < 1.0, (lo, hi)
    import uproot

    with uproot.open(tmp_path / "higgsCombineTest.HybridNew.mH120.root") as f:
        t = f["limit"].arrays(library="np")
    assert list(t["limit"]) == pytest.approx([lo, hi], abs=1e-4)
    assert list(t["quantileExpected"]) == pytest.approx([0.32, 0.32])
