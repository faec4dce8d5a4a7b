"""Pseudo-experiments (``-t N``): statistics of the toys, per-method outputs, summary, GoF p-value.

Expectations are derived independently of pycombine: by a numpy Monte Carlo of the statistic
written out here, by coverage (the 68 % interval must cover the true r in about 68 % of toys),
and from Combine's own recorded summary lines (spec §7).
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pycombine.outputs.limit_tree import LimitTree
from pycombine.run.toys import run_toys, summary_lines
from pycombine.tools.gof_pvalue import gof_pvalue

BIN = str(Path(sys.executable).parent)

# ----------------------------------------------------------------------------------- inputs
#: a 10-bin shape channel without nuisance parameters (only r floats): the saturated statistic's
#: distribution can be computed exactly by the numpy Monte Carlo of test_gof_saturated_toy_mean
NBINS = 10
BKG = 100.0 * np.exp(-0.3 * np.arange(NBINS)) / np.sum(np.exp(-0.3 * np.arange(NBINS)))
SIG = 30.0 * np.exp(-0.5 * ((np.arange(NBINS) - 4.5) / 1.5) ** 2)
SIG = 30.0 * SIG / SIG.sum()

SHAPE_CARD = """imax 1
jmax 1
kmax 0
------------
shapes * * shapes.csv $CHANNEL:$PROCESS $CHANNEL:$PROCESS:$SYSTEMATIC
------------
bin         ch1
observation {obs}
------------
bin         ch1   ch1
process     sig   bkg
process     0     1
rate        -1    -1
"""

#: a counting card with two Gaussian (lnN) nuisances and large yields: the profile-likelihood
#: interval is close to its asymptotic coverage
COUNTING_CARD = """imax 1
jmax 1
kmax 2
------------
bin         b1
observation 150
------------
bin           b1    b1
process       sig   bkg
process       0     1
rate          50    100
------------
lumi  lnN     1.05  -
bnorm lnN     -     1.05
"""


def write_shape_card(d: Path) -> Path:
    data = np.round(BKG + SIG)
    rows = ["channel,process,systematic,bin,sum_w,sum_ww"]
    for proc, vals in (("sig", SIG), ("bkg", BKG), ("data_obs", data)):
        rows += [f"ch1,{proc},nominal,{i}.0,{float(v)!r},{float(v)!r}" for i, v in enumerate(vals)]
    (d / "shapes.csv").write_text("\n".join(rows) + "\n")
    card = d / "shape_card.txt"
    card.write_text(SHAPE_CARD.format(obs=int(data.sum())))
    return card


def write_counting_card(d: Path) -> Path:
    card = d / "counting.txt"
    card.write_text(COUNTING_CARD)
    return card


def session_for(card: Path, **opts):
    from pycombine.run.loading import load
    from pycombine.run.options import RunOptions
    from pycombine.run.session import Session

    o = RunOptions.defaults(**opts)
    _, spec = load(str(card), o)
    return Session(spec, o, out=lambda m: None)


def combine(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    p = subprocess.run([f"{BIN}/combine", *args], cwd=cwd, check=False, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    return p


def read_limit(path: Path) -> dict[str, np.ndarray]:
    import uproot

    with uproot.open(path) as f:
        return f["limit"].arrays(library="np")


# ----------------------------------------------------------------------------------- 1. GoF toys
def _saturated_mc(r_true: float, n_toys: int, seed: int, r_lo: float = 0.0, r_hi: float = 20.0) -> np.ndarray:
    """The saturated statistic of ``n_toys`` Poisson toys of nu(r) = r s + b, written in numpy.

    r is fitted by bisection of the score sum_j n_j s_j / (r s_j + b_j) - sum_j s_j (decreasing
    in r), restricted to [r_lo, r_hi] like the POI's range; the statistic is
    2 sum_j [nu_j - n_j + n_j ln(n_j / nu_j)] at the fit (empty bins contribute nu_j).
    """
    s = SIG.astype(np.float32).astype(float)  # pycombine, like Combine, stores templates as float32
    b = BKG.astype(np.float32).astype(float)
    rng = np.random.default_rng(seed)
    n = rng.poisson(r_true * s + b, size=(n_toys, NBINS)).astype(float)

    def score(r):
        return np.sum(n * s / (r[:, None] * s + b), axis=1) - s.sum()

    lo = np.full(n_toys, r_lo)
    hi = np.full(n_toys, r_hi)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        up = score(mid) > 0
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
    r_hat = 0.5 * (lo + hi)
    r_hat = np.where(score(np.full(n_toys, r_lo)) <= 0, r_lo, r_hat)
    r_hat = np.where(score(np.full(n_toys, r_hi)) >= 0, r_hi, r_hat)
    nu = r_hat[:, None] * s + b
    with np.errstate(divide="ignore", invalid="ignore"):
        log = np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / nu), 0.0)
    return 2.0 * np.sum(nu - n + log, axis=1)


def test_gof_saturated_toy_mean(tmp_path, monkeypatch):
    """Mean of the saturated GoF statistic over 400 toys vs. its exact expectation.

    The card has 10 bins with 2-30 expected events and one fitted parameter (r), no nuisances.
    With so few events per bin the asymptotic chi2(9) is not accurate (the Poisson deviance of a
    low-count bin has a mean noticeably different from 1), so the expectation is computed by a
    200000-toy numpy Monte Carlo of the same statistic (fit of r in its range [0, 20] included),
    whose own uncertainty (~0.01) is negligible against the 3 standard errors allowed (~0.6).
    """
    monkeypatch.chdir(tmp_path)
    card = write_shape_card(tmp_path)
    s = session_for(card, method="GoodnessOfFit", algo="saturated", toys=400, seed=11, expect_signal=1.0)
    toys = run_toys(s, parallel=2, progress=None)
    t = np.array([o.limit for o in toys.outcomes if o.counted])
    assert t.size == 400
    expected = _saturated_mc(1.0, 200_000, seed=5)
    se = t.std(ddof=1) / math.sqrt(t.size)
    assert abs(t.mean() - expected.mean()) < 3 * se, (t.mean(), expected.mean(), se)
    # the spread agrees too (loose: the sample std of 400 toys is known to ~4 %)
    assert abs(t.std(ddof=1) / expected.std() - 1) < 0.2


# ----------------------------------------------------------------------------------- 2. coverage
def test_fitdiagnostics_coverage(tmp_path):
    """500 toys at r = 1: the 68 % interval [r - loErr, r + hiErr] covers r = 1 in 63-73 % of them."""
    card = write_counting_card(tmp_path)
    combine(["-M", "FitDiagnostics", card.name, "-t", "500", "--expectSignal", "1", "-s", "1"], tmp_path)
    a = read_limit(tmp_path / "higgsCombineTest.FitDiagnostics.mH120.1.root")
    q, lim, it = a["quantileExpected"], a["limit"], a["iToy"]
    lo = lim[np.isclose(q, 0.16)]
    hi = lim[np.isclose(q, 0.84)]
    assert lo.size == hi.size == 500
    assert np.array_equal(it[np.isclose(q, 0.16)], np.arange(1, 501))
    coverage = np.mean((lo <= 1.0) & (hi >= 1.0))
    assert 0.63 <= coverage <= 0.73, coverage


# ----------------------------------------------------------------------------------- 4. every method
METHODS = {
    # method args, rows per toy, summary values are the `limit` of these quantiles
    "AsymptoticLimits": ([], 6),
    "Significance": ([], 1),
    "FitDiagnostics": ([], 4),
    "MultiDimFit": (["--algo", "singles"], 3),
    "GoodnessOfFit": (["--algo", "saturated"], 1),
}


@pytest.mark.parametrize("method", list(METHODS))
def test_method_toys(tmp_path, method):
    args, per_toy = METHODS[method]
    card = write_counting_card(tmp_path)
    n = 3
    p = combine(["-M", method, *args, card.name, "-t", str(n), "-s", "42", "--expectSignal", "1", "--parallel", "2"],
                tmp_path)
    out = p.stdout
    assert ">>> Random number generator seed is 42" in out
    # Generate toy lines in order, each before its method block
    gen = [m.group(0) for m in re.finditer(r"Generate toy \d+/\d+", out)]
    assert gen == [f"Generate toy {i}/{n}" for i in range(1, n + 1)]
    assert re.search(rf"^mean   expected limit: r < \S+ \+/- \S+ @ 95%CL \({n} toyMC\)$", out, re.MULTILINE)
    assert re.search(rf"^median expected limit: r < \S+ @ 95%CL \({n} toyMC\)$", out, re.MULTILINE)
    assert re.search(r"^   68% expected band : \S+ < r < \S+$", out, re.MULTILINE)
    assert re.search(r"^   95% expected band : \S+ < r < \S+$", out, re.MULTILINE)
    assert out.index("Generate toy 3/3") < out.index("mean   expected limit")
    path = tmp_path / f"higgsCombineTest.{method}.mH120.42.root"
    assert path.exists()
    a = read_limit(path)
    assert np.array_equal(a["iToy"], np.repeat(np.arange(1, n + 1), per_toy).astype(np.int32))
    assert np.all(a["iSeed"] == 42)
    assert a["iToy"].dtype == np.int32 and a["limit"].dtype == np.float64
    if method == "FitDiagnostics":
        import uproot

        with uproot.open(tmp_path / "fitDiagnosticsTest.root") as f:
            for tree in ("tree_fit_sb", "tree_fit_b", "tree_prefit"):
                assert f[tree].num_entries == n


def test_summary_uses_each_toys_limit(tmp_path):
    """The summary lines are computed from the toys' `limit` values (the final -1 row here)."""
    card = write_counting_card(tmp_path)
    p = combine(["-M", "FitDiagnostics", card.name, "-t", "5", "-s", "3", "--expectSignal", "1"], tmp_path)
    a = read_limit(tmp_path / "higgsCombineTest.FitDiagnostics.mH120.3.root")
    r = a["limit"][a["quantileExpected"] == -1]
    assert r.size == 5
    for line in summary_lines(list(r)):
        assert line in p.stdout.splitlines()


def test_random_seed(tmp_path):
    card = write_counting_card(tmp_path)
    p = combine(["-M", "Significance", card.name, "-t", "2", "-s", "-1"], tmp_path)
    # Combine's line for -s -1 (bin/combine.cpp)
    seed = int(re.search(r">>> Used OpenSSL to get a truly random seed (-?\d+)", p.stdout).group(1))
    assert seed != -1
    a = read_limit(tmp_path / f"higgsCombineTest.Significance.mH120.{seed}.root")
    assert np.all(a["iSeed"] == seed) and list(a["iToy"]) == [1, 2]


def test_pick_toy_same_as_in_full_run(tmp_path):
    """--pickToy k runs toy k alone and reproduces its rows of the full run (streams per toy)."""
    card = write_counting_card(tmp_path)
    combine(["-M", "Significance", card.name, "-t", "4", "-s", "9", "-n", "All"], tmp_path)
    combine(["-M", "Significance", card.name, "-t", "4", "-s", "9", "--pickToy", "3", "-n", "Pick"], tmp_path)
    full = read_limit(tmp_path / "higgsCombineAll.Significance.mH120.9.root")
    one = read_limit(tmp_path / "higgsCombinePick.Significance.mH120.9.root")
    assert list(one["iToy"]) == [3]
    assert one["limit"][0] == full["limit"][full["iToy"] == 3][0]


# ----------------------------------------------------------------------------------- summary rules
def test_summary_lines_match_combine():
    """Combine v10.6.0, FitDiagnostics -t 2 with toy results 1 and 0.340495 (spec §7)."""
    lines = summary_lines([1.0, 0.340495])
    assert lines == [
        "mean   expected limit: r < 0.670247 +/- 0.329753 @ 95%CL (2 toyMC)",
        "median expected limit: r < 0.670247 @ 95%CL (2 toyMC)",
        "   68% expected band : 0.340495 < r < 1",
        "   95% expected band : 0.340495 < r < 1",
    ]


def test_summary_quantile_indices():
    """Combine's indices: lo = sorted[floor(q n)], hi = sorted[min(n-1, ceil(q n))]; no rms for n = 1."""
    x = list(range(100, 0, -1))  # toy order must not matter for the bands
    lines = summary_lines([float(v) for v in x])
    # n = 100: 68 % band sorted[16] = 17 .. sorted[84] = 85; 95 % band sorted[2] = 3 .. sorted[98] = 99
    assert lines[2] == "   68% expected band : 17 < r < 85"
    assert lines[3] == "   95% expected band : 3 < r < 99"
    assert lines[1] == "median expected limit: r < 50.5 @ 95%CL (100 toyMC)"
    one = summary_lines([2.5])
    assert one[0] == "mean   expected limit: r < 2.5 @ 95%CL (1 toyMC)"
    assert summary_lines([], 0.68)[0] == "mean   expected limit: r < -nan @ 68%CL (0 toyMC)"


# ----------------------------------------------------------------------------------- generation
def test_toy_dataset_is_make_toy(tmp_path, monkeypatch):
    """The driver's datasets are fit.toys.make_toy's; a-priori toys report the drawn nuisances."""
    from pycombine.fit.toys import make_toy
    from pycombine.run.toys import prepare, toy_dataset

    card = write_counting_card(tmp_path)
    s = session_for(card, method="FitDiagnostics", toys=3, seed=5, expect_signal=1.0)
    plan = prepare(s)
    assert plan.randomise and not plan.frequentist
    for i in (1, 2, 3):
        data, gen = toy_dataset(s, plan, i)
        ref = make_toy(s.model, plan.values, plan.glob, ~plan.frozen, 5, i)
        assert np.array_equal(data.counts, ref.counts) and np.array_equal(data.glob, ref.glob, equal_nan=True)
        nuis = [s.index(n) for n in ("lumi", "bnorm")]
        assert np.all(gen[nuis] != 0.0)  # drawn from their constraints
        assert gen[s.index("r")] == 1.0


def test_frequentist_toys_start_from_postfit(tmp_path):
    """--toysFrequentist: the data are fitted with r fixed; toys come from (and fits start at) that state."""
    card = write_counting_card(tmp_path)
    s = session_for(card, method="FitDiagnostics", toys=2, seed=5, expect_signal=0.0, toys_frequentist=True)
    from pycombine.run.toys import prepare, toy_dataset

    plan = prepare(s)
    # r = 0 fixed, 150 observed over 100 expected: the background nuisance must pull up
    assert plan.values[s.index("r")] == 0.0
    assert plan.values[s.index("bnorm")] > 1.0
    assert np.array_equal(s.state.values, plan.values)
    data, gen = toy_dataset(s, plan, 1)
    assert np.array_equal(gen, plan.values)
    # global observables drawn around the post-fit values
    assert data.glob[s.index("bnorm")] != 0.0
    # --bypassFrequentistFit: no fit
    s2 = session_for(card, method="FitDiagnostics", toys=2, seed=5, toys_frequentist=True, bypass_frequentist_fit=True)
    assert prepare(s2).values[s2.index("bnorm")] == 0.0


def test_fitdiagnostics_chain_matches_serial_previous(tmp_path, monkeypatch):
    """Carrying POI errors from toy to toy afterwards equals running fit_diagnostics(previous=...)."""
    from pycombine.methods.fit_diagnostics import fit_diagnostics
    from pycombine.run.toys import toy_dataset

    monkeypatch.chdir(tmp_path)
    card = write_counting_card(tmp_path)
    s = session_for(card, method="FitDiagnostics", toys=4, seed=2, expect_signal=1.0)
    toys = run_toys(s, parallel=1, progress=None)
    prev = None
    for o in toys.outcomes:
        data, gen = toy_dataset(s, toys.plan, o.i_toy)
        ref = fit_diagnostics(s, data, o.i_toy, previous=prev, with_yields=o.i_toy == 1, generation=gen)
        got = o.payload
        assert got.prev_poi_errors == ref.prev_poi_errors
        assert (got.r_err, got.lo_err, got.hi_err) == (ref.r_err, ref.lo_err, ref.hi_err)
        prev = ref


# ----------------------------------------------------------------------------------- GoF p-value
def _limit_file(path: Path, values, i_toys) -> None:
    tree = LimitTree(120.0, 1)
    for v, i in zip(values, i_toys):
        tree.add(float(v), 0.0, -1.0, int(i))
    tree.write(str(path))


def test_gof_pvalue_function_and_cli(tmp_path):
    _limit_file(tmp_path / "data.root", [10.0], [0])
    _limit_file(tmp_path / "t1.root", [5.0, 12.0, 10.0, 3.0], [1, 2, 3, 4])
    _limit_file(tmp_path / "t2.root", [11.0, 9.0, 20.0, 1.0], [1, 2, 3, 4])
    res = gof_pvalue(str(tmp_path / "data.root"), [str(tmp_path / "t1.root"), str(tmp_path / "t2.root")])
    assert res.statistic == 10.0 and res.n_toys == 8 and res.n_above == 4
    assert res.pvalue == 0.5 and res.error == pytest.approx(math.sqrt(0.25 / 8))
    p = subprocess.run([f"{BIN}/pycombine", "gof-pvalue", "data.root", "t1.root", "t2.root"], cwd=tmp_path,
                       check=False, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        "Data test statistic: 10",
        "Toys: 8 (4 with a test statistic >= data)",
        "p-value: 0.5 +/- 0.176777",
    ]


def test_gof_pvalue_end_to_end(tmp_path):
    """Observed GoF and toys from the command line; the helper finds every toy of both jobs."""
    card = write_shape_card(tmp_path)
    combine(["-M", "GoodnessOfFit", "--algo", "saturated", card.name], tmp_path)
    for seed in ("1", "2"):
        combine(["-M", "GoodnessOfFit", "--algo", "saturated", card.name, "-t", "20", "-s", seed,
                 "--toysFrequentist"], tmp_path)
    res = gof_pvalue(str(tmp_path / "higgsCombineTest.GoodnessOfFit.mH120.root"),
                     [str(tmp_path / f"higgsCombineTest.GoodnessOfFit.mH120.{s}.root") for s in (1, 2)])
    assert res.n_toys == 40
    t_data = read_limit(tmp_path / "higgsCombineTest.GoodnessOfFit.mH120.root")["limit"][0]
    assert res.statistic == t_data
    assert res.n_above == int(np.sum(res.toys >= t_data))


def test_failed_toy_is_reported_and_not_counted(tmp_path, monkeypatch):
    """A numerical error in one toy: `Caught exception` on stderr, no rows, not in the summary."""
    from pycombine.methods import significance

    card = write_counting_card(tmp_path)
    s = session_for(card, method="Significance", toys=3, seed=4)
    core = significance.run_toy

    def flaky(session, data, i_toy, generation, first):
        if i_toy == 2:
            raise FloatingPointError("overflow in toy 2")
        return core(session, data, i_toy, generation, first)

    monkeypatch.setattr(significance, "run_toy", flaky)
    toys = run_toys(s, parallel=1, progress=None)
    assert [o.counted for o in toys.outcomes] == [True, False, True]
    assert toys.outcomes[1].stderr == "Caught exception overflow in toy 2\n"
    assert [r.i_toy for r in toys.limit_tree().rows] == [1, 3]
    assert toys.summary_lines()[0].endswith("(2 toyMC)")


def test_toys_for_card_api(tmp_path, monkeypatch):
    from pycombine.run.toys import toys_for_card

    monkeypatch.chdir(tmp_path)
    card = write_counting_card(tmp_path)
    run = toys_for_card(str(card), "Significance", 3, seed=8, parallel=1, progress=None)
    assert [o.i_toy for o in run.outcomes] == [1, 2, 3]
    assert len(run.limits) == 3 and run.summary_lines()[0].endswith("(3 toyMC)")
    tree = run.limit_tree()
    assert [r.i_toy for r in tree.rows] == [1, 2, 3] and tree.seed == 8


# ------------------------------------------------------------------- saved toys (GenerateOnly)
def test_generate_only_saves_the_toys_the_driver_makes(tmp_path):
    """``-M GenerateOnly -t 3 --saveToys``: toys/toy_<i> hold the counts toy i has in any method's
    toy loop with the same seed; the limit tree has Combine's quantileExpected -2 rows only."""
    import uproot

    from pycombine.run.toys import prepare, toy_dataset

    card = write_shape_card(tmp_path)
    combine(["-M", "GenerateOnly", card.name, "-t", "3", "--saveToys", "-s", "21", "--expectSignal", "1"], tmp_path)
    path = tmp_path / "higgsCombineTest.GenerateOnly.mH120.21.root"
    s = session_for(card, method="GenerateOnly", toys=3, seed=21, expect_signal=1.0)
    plan = prepare(s)
    with uproot.open(path) as f:
        assert sorted(f["toys"].keys(cycle=False)) == ["toy_1", "toy_2", "toy_3"]
        t = f["limit"].arrays(library="np")
        assert list(t["quantileExpected"]) == [-2.0, -2.0, -2.0] and list(t["iToy"]) == [1, 2, 3]
        for i in (1, 2, 3):
            cols = f[f"toys/toy_{i}"].arrays(library="np")
            data, _ = toy_dataset(s, plan, i)
            np.testing.assert_array_equal(cols["weight"], data.counts)
            np.testing.assert_array_equal(cols["CMS_th1x"], np.arange(NBINS) + 0.5)
            np.testing.assert_array_equal(cols["CMS_channel"], np.zeros(NBINS, np.int32))


@pytest.mark.parametrize("frequentist", [False, True])
def test_toys_read_back_give_the_results_of_generated_toys(tmp_path, frequentist):
    """--toysFile: a method on saved toys gives what it gives on the same toys generated in the run
    (frequentist toys carry their global observables in toy_<i>_snapshot)."""
    card = write_counting_card(tmp_path)
    extra = ["--toysFrequentist"] if frequentist else []
    combine(["-M", "GenerateOnly", card.name, "-t", "4", "--saveToys", "-s", "8", *extra, "-n", "Gen"], tmp_path)
    saved = tmp_path / "higgsCombineGen.GenerateOnly.mH120.8.root"
    if frequentist:
        import uproot

        with uproot.open(saved) as f:
            snap = f["toys/toy_2_snapshot"].arrays(library="np")
        assert sorted(snap) == ["bnorm_In", "lumi_In"]
    a = combine(["-M", "MultiDimFit", card.name, "-t", "4", "-s", "8", *extra, "-n", "Direct"], tmp_path)
    b = combine(["-M", "MultiDimFit", card.name, "-t", "4", "-s", "8", *extra, "-n", "FromFile",
                 "--toysFile", saved.name], tmp_path)
    ta = read_limit(tmp_path / "higgsCombineDirect.MultiDimFit.mH120.8.root")
    tb = read_limit(tmp_path / "higgsCombineFromFile.MultiDimFit.mH120.8.root")
    if frequentist:
        # Combine skips the fit to the data before the toy loop when it reads toys: the fits start
        # elsewhere and Minuit stops within its tolerance of the same minimum
        np.testing.assert_allclose(ta["r"], tb["r"], atol=0.02)
    else:
        assert a.stdout == b.stdout
        np.testing.assert_array_equal(ta["r"], tb["r"])


def test_asimov_saved_and_read_back(tmp_path):
    card = write_counting_card(tmp_path)
    combine(["-M", "GenerateOnly", card.name, "-t", "-1", "--saveToys", "--expectSignal", "1", "-n", "Asimov"],
            tmp_path)
    saved = tmp_path / "higgsCombineAsimov.GenerateOnly.mH120.123456.root"  # --saveToys adds the seed
    a = combine(["-M", "Significance", card.name, "-t", "-1", "--expectSignal", "1"], tmp_path)
    b = combine(["-M", "Significance", card.name, "-t", "-1", "--expectSignal", "1", "--toysFile", saved.name],
                tmp_path)
    assert a.stdout.splitlines()[-1] == b.stdout.splitlines()[-1]
    assert "Significance: " in a.stdout


def test_toys_file_errors_are_clean(tmp_path):
    from pycombine.outputs.root.file import RootFileWriter

    card = write_counting_card(tmp_path)
    with RootFileWriter(tmp_path / "other.root") as out:
        out.th1("toys/toy_1", np.ones(3))
    for name, message in (("nosuch.root", "file not found"), ("other.root", "is a TH1")):
        p = subprocess.run([f"{BIN}/combine", "-M", "Significance", card.name, "-t", "1", "--toysFile", name],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert p.returncode == 1 and message in p.stderr and "Traceback" not in p.stderr, p.stderr
