"""The input contract, one test per failure class of issue 13 (inputs written here).

Datacard numbers and shape inputs (``pycombine.model.validate``), option values
(``pycombine.run.validate_options``), output paths (``pycombine.outputs.paths``), the honesty of
fits and results at run time, the error handling of every console script, and the performance
guards. The contract itself is checked by :func:`contract.assert_contract`.
"""

from __future__ import annotations

import math
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from contract import assert_contract, assert_refused, limit_values, run_cli

# ----------------------------------------------------------------------------------------- inputs
COUNTING = """\
imax 1
jmax 2
kmax *
------------
bin b1
observation {obs}
------------
bin     b1   b1   b1
process sig  bkgA bkgB
process 0    1    2
rate    {rs}  {ra}  {rb}
------------
lumi  lnN  {lumi}  1.05  -
bnorm lnN  -    1.20  -
{extra}
"""


def counting(tmp_path: Path, obs="10", rs="3", ra="5", rb="1", lumi="1.05", extra="", name="card.txt") -> Path:
    p = tmp_path / name
    p.write_text(COUNTING.format(obs=obs, rs=rs, ra=ra, rb=rb, lumi=lumi, extra=extra))
    return p


SHAPES = """\
imax 1
jmax 1
kmax *
---
shapes * * {table} ch1:$PROCESS ch1:$PROCESS:$SYSTEMATIC
---
bin ch1
observation -1
---
bin     ch1  ch1
process sig  bkg
process 0    1
rate    -1   -1
---
lumi  lnN    1.05  1.05
alpha shape  -     {alpha}
{extra}
"""


def table(rows: dict[tuple[str, str], list[tuple[float, float]]]) -> str:
    out = ["channel,process,systematic,bin,sum_w,sum_ww"]
    for (proc, syst), bins in rows.items():
        for i, (w, ww) in enumerate(bins):
            out.append(f"ch1,{proc},{syst},{i},{w},{ww}")
    return "\n".join(out) + "\n"


def default_rows() -> dict:
    return {
        ("data_obs", "nominal"): [(12, 12), (9, 9), (5, 5)],
        ("sig", "nominal"): [(1, 0.1), (2, 0.2), (1, 0.1)],
        ("bkg", "nominal"): [(10, 1), (7, 0.7), (4, 0.4)],
        ("bkg", "alphaUp"): [(11, 1), (7.5, 0.7), (4.2, 0.4)],
        ("bkg", "alphaDown"): [(9, 1), (6.5, 0.7), (3.8, 0.4)],
    }


def shapes(tmp_path: Path, rows: dict | None = None, alpha="1", extra="", table_text: str | None = None,
           ext: str = "csv") -> Path:
    name = f"input.{ext}"
    (tmp_path / name).write_text(table_text if table_text is not None else table(rows or default_rows()))
    p = tmp_path / "shapes.txt"
    p.write_text(SHAPES.format(table=name, alpha=alpha, extra=extra))
    return p


def combine(tmp_path: Path, *args: str):
    return run_cli(list(args), tmp_path)


# ----------------------------------------------------------------------------- datacard numbers
@pytest.mark.parametrize("obs, fragment", [
    ("nan", "must be a finite number"),
    ("inf", "must be a finite number"),
    ("-5", "cannot be negative"),
    ("-1", "needs shapes lines"),
])
def test_observation_must_be_a_finite_non_negative_count(tmp_path, obs, fragment):
    res = combine(tmp_path, "-M", "AsymptoticLimits", str(counting(tmp_path, obs=obs)))
    assert_refused(res, tmp_path, "card.txt:6:", fragment, what=f"observation {obs}")


@pytest.mark.parametrize("rate", ["nan", "-inf", "-3"])
def test_rates_must_be_finite_and_not_negative(tmp_path, rate):
    res = combine(tmp_path, str(counting(tmp_path, ra=rate)))
    assert_refused(res, tmp_path, "card.txt:11:", "bkgA", what=f"rate {rate}")


@pytest.mark.parametrize("kappa", ["nan", "inf", "1.1/inf", "nan/1.2"])
def test_lnN_kappas_must_be_finite(tmp_path, kappa):
    t0 = time.perf_counter()
    res = combine(tmp_path, str(counting(tmp_path, lumi=kappa)))
    assert_refused(res, tmp_path, "card.txt:13:", "lumi", "finite", what=f"lnN {kappa}")
    assert time.perf_counter() - t0 < 10, "lnN 1.1/inf must be refused at once, not fitted"


@pytest.mark.parametrize("line, fragments", [
    ("p1 param 0 -1", ("card.txt:15:", "sigma must be positive")),
    ("p1 param 0 0", ("card.txt:15:", "sigma must be positive")),
    ("p1 param nan 1", ("card.txt:15:", "finite")),
    ("p1 param 0 1 [5,-5]", ("card.txt:15:", "reversed")),
    ("p1 param 0 -1/+nan", ("card.txt:15:", "finite")),
    ("e1 extArg 1 [5,0]", ("card.txt:15:", "reversed")),
    ("e1 extArg nan", ("card.txt:15:", "finite")),
    ("rp rateParam b1 bkgA 1 [3,0]", ("card.txt:15:", "reversed")),
    ("rp rateParam b1 bkgA nan", ("card.txt:15:", "finite")),
    ("ww gmN -4 - 0.2 -", ("card.txt:15:", "cannot be negative")),
    ("u1 unif 1 -1 - 0.1 -", ("card.txt:15:", "unif")),
])
def test_parameter_lines_state_their_contract(tmp_path, line, fragments):
    extra = line
    if line.startswith("ww gmN"):
        card = counting(tmp_path, extra=line)
    elif line.startswith("rp "):
        card = counting(tmp_path, extra=line)
    else:
        card = counting(tmp_path, extra=line + ("\nbx rateParam b1 bkgA (@0*1) e1" if "extArg" in line else ""))
    res = combine(tmp_path, str(card))
    assert_refused(res, tmp_path, *fragments, what=extra)


def test_gmN_with_a_huge_count_is_refused_cleanly(tmp_path):
    card = counting(tmp_path, rb="0.64", extra="ww gmN 99999999999999999999 - - 0.16")
    res = combine(tmp_path, str(card))
    assert_refused(res, tmp_path, "card.txt:15:", "does not match the rate", what="gmN 1e20")


@pytest.mark.parametrize("formula, fragment", [("(@0/@1) bnorm,lumi", "division by zero"),
                                               ("log(@0) lumi", "math domain error")])
def test_formula_not_finite_at_the_start_is_refused(tmp_path, formula, fragment):
    card = counting(tmp_path, extra=f"rf rateParam b1 bkgB {formula}")
    res = combine(tmp_path, str(card))
    assert_refused(res, tmp_path, "card.txt:15:", "rf", fragment, what=formula)


def test_formula_outside_its_domain_during_a_fit_is_an_invalid_point_not_a_crash():
    from pycombine.model.formula import Formula

    f = Formula("f", "log(@0)/@1", ["a", "b"])
    assert math.isnan(f.value([0.0, 1.0])) or math.isinf(f.value([0.0, 1.0]))
    assert math.isnan(f.value([1.0, 0.0]))
    value, why = f.evaluate([1.0, 0.0])
    assert math.isnan(value) and "division by zero" in why
    assert np.isnan(f.gradient([1.0, 0.0])).any()


def test_systematics_errors_name_the_absolute_line(tmp_path):
    card = counting(tmp_path, extra="\n\n# a comment\nbad lnX 1 1 1")
    res = combine(tmp_path, str(card))
    assert_refused(res, tmp_path, "card.txt:18:", "lnX")


def test_no_break_space_and_cr_line_endings_are_read_like_combine(tmp_path):
    text = COUNTING.format(obs="10", rs="3", ra="5", rb="1", lumi="1.05", extra="")
    (tmp_path / "nbsp.txt").write_text(text.replace("bnorm lnN", "bnorm\u00a0lnN"))
    (tmp_path / "cr.txt").write_bytes(text.replace("\n", "\r").encode())
    for name in ("nbsp.txt", "cr.txt"):
        res = combine(tmp_path, name, "-n", name[:-4])
        assert res.code == 0, res.err
        assert_contract(res, tmp_path, name)


def test_truncated_gzip_card_is_one_line(tmp_path):
    import gzip

    data = gzip.compress(COUNTING.format(obs="10", rs="3", ra="5", rb="1", lumi="1.05", extra="").encode())
    (tmp_path / "c.txt.gz").write_bytes(data[: len(data) // 2])
    assert_refused(combine(tmp_path, "c.txt.gz"), tmp_path, "c.txt.gz", "gzip")


# -------------------------------------------------------------------------------- shape inputs
def test_a_valid_shape_card_passes(tmp_path):
    res = combine(tmp_path, str(shapes(tmp_path)))
    assert res.code == 0, res.err
    assert_contract(res, tmp_path)


@pytest.mark.parametrize("proc, row, fragment", [
    ("data_obs", (1, "nan"), "holds nan"),
    ("data_obs", (1, "-3"), "cannot be negative"),
    ("bkg", (2, "inf"), "holds inf"),
])
def test_template_contents_must_be_finite_and_data_non_negative(tmp_path, proc, row, fragment):
    rows = default_rows()
    i, v = row
    rows[(proc, "nominal")][i] = (v, 1)
    res = combine(tmp_path, str(shapes(tmp_path, rows)))
    assert_refused(res, tmp_path, "shapes.txt:5:", fragment, what=f"{proc} {row}")


def test_negative_template_bins_are_accepted_as_in_combine(tmp_path):
    rows = default_rows()
    rows[("sig", "nominal")][0] = (-0.5, 0.1)
    res = combine(tmp_path, str(shapes(tmp_path, rows)))
    assert res.code == 0, res.err
    assert_contract(res, tmp_path)


def test_negative_sum_ww_is_refused_where_errors_are_used(tmp_path):
    rows = default_rows()
    rows[("bkg", "nominal")][1] = (7, -0.7)
    assert combine(tmp_path, str(shapes(tmp_path, rows))).code == 0  # no autoMCStats: errors unused
    for f in tmp_path.glob("*.root"):
        f.unlink()
    res = combine(tmp_path, str(shapes(tmp_path, rows, extra="ch1 autoMCStats 0")))
    assert_refused(res, tmp_path, "shapes.txt:5:", "bin 2", "autoMCStats")


def test_non_numeric_table_cell_names_the_row(tmp_path):
    text = table(default_rows()).replace("ch1,bkg,nominal,1,7,0.7", "ch1,bkg,nominal,1,abc,0.7")
    res = combine(tmp_path, str(shapes(tmp_path, table_text=text)))
    assert_refused(res, tmp_path, "input.csv", "'abc' is not a number")


def test_pickle_holding_csv_text_is_not_a_missing_package(tmp_path):
    res = combine(tmp_path, str(shapes(tmp_path, table_text=table(default_rows()), ext="pkl")))
    msg = assert_refused(res, tmp_path, "not a pickle file")
    assert "optional package" not in msg


def test_shape_scale_whose_kappa_overflows_is_refused(tmp_path):
    res = combine(tmp_path, str(shapes(tmp_path, alpha="1e300")))
    assert_refused(res, tmp_path, "shapes.txt:16:", "alpha", "normalisation effect")


def test_negative_nominal_integral_with_shape_templates_is_refused(tmp_path):
    rows = default_rows()
    rows[("bkg", "nominal")] = [(-10, 1), (2, 0.7), (1, 0.4)]
    res = combine(tmp_path, str(shapes(tmp_path, rows, extra="ch1 autoMCStats 0")))
    assert_refused(res, tmp_path, "alpha", "must be positive")


def test_negative_integral_as_rate_without_autoMCStats_is_refused(tmp_path):
    rows = default_rows()
    rows[("bkg", "nominal")] = [(-10, 1), (2, 0.7), (1, 0.4)]
    rows.pop(("bkg", "alphaUp")), rows.pop(("bkg", "alphaDown"))
    res = combine(tmp_path, str(shapes(tmp_path, rows, alpha="-")))
    assert_refused(res, tmp_path, "rate of 'bkg'", "negative number of expected events")


def test_corrupt_root_shape_file_is_one_line_naming_it(tmp_path):
    (tmp_path / "in.root").write_bytes(b"root" + b"\x00" * 40)
    card = tmp_path / "r.txt"
    card.write_text(SHAPES.format(table="in.root", alpha="1", extra="").replace("ch1:$PROCESS ch1:$PROCESS:$SYSTEMATIC",
                                                                               "$PROCESS $PROCESS_$SYSTEMATIC"))
    msg = assert_refused(combine(tmp_path, "r.txt"), tmp_path, "in.root")
    assert "Chunk" not in msg and "FSSpec" not in msg


# -------------------------------------------------------------------------------------- options
OPTION_CASES = [
    (["-C", "0"], "--cl"), (["-C", "1"], "--cl"), (["-C", "nan"], "--cl"),
    (["--cminDefaultMinimizerStrategy", "5"], "Strategy"), (["--cminDefaultMinimizerStrategy", "-1"], "Strategy"),
    (["--cminDefaultMinimizerTolerance", "nan"], "Tolerance"), (["--cminDefaultMinimizerTolerance", "-1"], "Tolerance"),
    (["--rMin", "5", "--rMax", "1"], "--rMin/--rMax"), (["--rMin", "25"], "--rMin"),
    (["-s", str(2**70)], "--seed"), (["-m", "nan"], "--mass"), (["--rMax", "inf"], "--rMax"),
    (["--rMax", "1e39"], "single-precision"), (["--singlePoint", "nan"], "--singlePoint"),
    (["--freezeParameters", "rgx{[}"], "regular expression"), (["--setParameterRanges", "lumi=3,-3"], "reversed"),
    (["--setParameters", "r=nan"], "finite"), (["--text2workspace", "'--channel-masks"], "--text2workspace"),
    (["-t", "-2"], "--toys"), (["--expectSignal", "inf"], "--expectSignal"),
]


@pytest.mark.parametrize("args, fragment", OPTION_CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_impossible_option_values_are_refused(tmp_path, args, fragment):
    card = counting(tmp_path)
    res = combine(tmp_path, str(card), *args)
    assert_refused(res, tmp_path, fragment, what=" ".join(args))


@pytest.mark.parametrize("method", ["AsymptoticLimits", "Significance", "FitDiagnostics", "MultiDimFit",
                                    "GoodnessOfFit"])
def test_reversed_poi_range_is_refused_for_every_method(tmp_path, method):
    res = combine(tmp_path, str(counting(tmp_path)), "-M", method, "--rMin", "5", "--rMax", "1")
    assert_refused(res, tmp_path, "--rMin/--rMax", what=method)
    assert not list(tmp_path.glob("fitDiagnostics*"))


def test_keyword_value_without_equals_follows_combine(tmp_path):
    res = combine(tmp_path, str(shapes(tmp_path)), "--keyword-value", "FOO")
    assert_refused(res, tmp_path, "--keyword-value", "WORD=VALUE")
    res = combine(tmp_path, str(counting(tmp_path)), "--keyword-value", "FOO")
    assert res.code == 0 and "no value found" in res.err
    assert (tmp_path / "higgsCombineTest.AsymptoticLimits.mH120.root").is_file()


# ---------------------------------------------------------------------------------- output paths
def test_name_with_a_slash_is_refused_before_computing(tmp_path):
    res = combine(tmp_path, str(counting(tmp_path)), "-n", "a/b")
    assert_refused(res, tmp_path, "higgsCombinea", "does not exist")
    assert "Observed Limit" not in res.out, "the check must come before the computation"


def test_name_too_long_and_directory_in_the_way(tmp_path):
    res = combine(tmp_path, str(counting(tmp_path)), "-n", "x" * 300)
    assert_refused(res, tmp_path, "bytes long")
    (tmp_path / "higgsCombineTest.AsymptoticLimits.mH120.root").mkdir()
    res = combine(tmp_path, str(counting(tmp_path)))
    assert_refused(res, tmp_path, "a directory of that name exists")


def test_missing_fitdiagnostics_out_directory(tmp_path):
    res = combine(tmp_path, str(counting(tmp_path)), "-M", "FitDiagnostics", "--out", "nodir")
    assert_refused(res, tmp_path, "nodir")


def test_read_only_directory(tmp_path):
    work = tmp_path / "ro"
    work.mkdir()
    counting(work)
    if subprocess.run(["chattr", "+i", str(work)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here (the directory cannot be made read-only for root)")
    try:
        res = combine(work, "card.txt")
    finally:
        subprocess.run(["chattr", "-i", str(work)], capture_output=True)
    assert_refused(res, work, "does not accept new files")


# ------------------------------------------------------------------------------- run-time honesty
def test_non_finite_nll_is_never_a_converged_fit():
    from pycombine.api import load_datacard  # noqa: F401  (the package imports)
    from pycombine.datacard import parse_datacard_text
    from pycombine.fit.minimize import Fitter, ParameterState
    from pycombine.model.build import build_model
    from pycombine.model.compile import CompiledModel
    from pycombine.model.likelihood import BAD_NLL, Dataset, Likelihood

    text = COUNTING.format(obs="10", rs="3", ra="5", rb="1", lumi="1.05", extra="rf rateParam b1 bkgB log(@0) q\nq extArg 1")
    model = CompiledModel(build_model(parse_datacard_text(text)))
    data = Dataset(model.data.copy(), model.glob0.copy())
    lik = Likelihood(model, data)
    theta = model.init.copy()
    theta[model.index["q"]] = -1.0  # log of a negative number: undefined
    assert lik.nll(theta) == BAD_NLL
    st = ParameterState.initial(model)
    st.values[model.index["q"]] = -1.0
    st.frozen[:] = True
    res = Fitter(model, data).minimize(st)
    assert res.status != 0 and not res.valid


def test_negative_expectation_at_the_start_is_refused(tmp_path):
    card = counting(tmp_path, extra="k extArg -2 [-5,5]\nrk rateParam b1 bkgA (@0*1) k")
    res = combine(tmp_path, str(card))
    assert_refused(res, tmp_path, "expected number of events", "channel 'b1'")


def test_huge_yields_keep_their_digits(tmp_path):
    """1e15 events: the NLL in the form nu - n ln nu would lose every difference (spec F06)."""
    card = tmp_path / "big.txt"
    card.write_text("imax *\njmax *\nkmax *\n---\nbin ch1\nobservation 1e15\n---\nbin ch1 ch1\nprocess s b\n"
                    "process 0 1\nrate 1e7 1e15\n---\nlumi lnN 1.05 1.05\n")
    res = combine(tmp_path, "big.txt", "--rMax", "1e8", "--run", "blind")
    assert res.code == 0, res.err
    lim = limit_values(tmp_path / "higgsCombineTest.AsymptoticLimits.mH120.root")
    # lumi moves s and b together: the median needs r s / b ~ 1.96 ln(1.05), r ~ 1e7
    assert 5e6 < lim[2] < 2e7


def test_poisson_terms_are_nu_minus_n_ln_nu_up_to_a_constant():
    from pycombine.model.nll_terms import poisson_terms

    n = np.array([0.0, 3.0, 10.0, 7.5])
    nu1, nu2 = np.array([1.0, 2.0, 12.0, 7.0]), np.array([0.5, 4.0, 9.0, 8.0])
    obs = n > 0
    d = poisson_terms(nu1, n, obs).sum() - poisson_terms(nu2, n, obs).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        want = (nu1 - np.where(obs, n * np.log(nu1), 0)).sum() - (nu2 - np.where(obs, n * np.log(nu2), 0)).sum()
    assert d == pytest.approx(want, abs=1e-12)
    assert poisson_terms(n, n, obs)[obs] == pytest.approx(0.0, abs=0)


def test_limit_tree_warns_about_non_finite_values(tmp_path, capsys):
    from pycombine.outputs.limit_tree import LimitTree

    t = LimitTree(120.0, 123456)
    t.add(float("nan"), 0.0, 0.5)
    t.write(str(tmp_path / "x.root"))
    assert "non-finite" in capsys.readouterr().err


def test_asymptotic_failure_on_data_is_an_error_not_caught_exception(tmp_path, monkeypatch):
    import pycombine.methods.asymptotic_limits as al

    def boom(*a, **k):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(al, "observed_limit", boom)
    res = combine(tmp_path, str(counting(tmp_path)), "--run", "observed")
    assert_refused(res, tmp_path, "AsymptoticLimits failed on the observed data", "card.txt", "division by zero")


# --------------------------------------------------------------------------------------- tools
def test_pycombine_subcommands_fail_in_one_line(tmp_path):
    counting(tmp_path)
    cases = [
        (["gof-pvalue", "card.txt", "card.txt"], "card.txt"),
        (["regress", "nosuch.json"], "nosuch.json"),
        (["inspect", "nosuch.txt"], "nosuch.txt"),
        (["impacts", "card.txt", "-m", "125", "-o", "nodir/x.json"], "nodir"),
    ]
    (tmp_path / "bad.json").write_text("{not json")
    cases.append((["regress", "bad.json"], "bad.json"))
    for argv, fragment in cases:
        res = run_cli(argv, tmp_path, script="pycombine")
        assert_refused(res, tmp_path, fragment, what=" ".join(argv))


def test_debug_shows_the_traceback(tmp_path):
    counting(tmp_path)
    with pytest.raises(Exception):
        from pycombine.cli.combine import main

        import os

        old = os.getcwd()
        os.chdir(tmp_path)
        try:
            main(["card.txt", "-C", "0", "--debug"])
        finally:
            os.chdir(old)


def test_internal_errors_name_the_input(tmp_path, monkeypatch):
    import pycombine.run.runner as runner

    def broken(*a, **k):
        raise KeyError("bug")

    monkeypatch.setattr(runner, "load", broken)
    res = combine(tmp_path, str(counting(tmp_path)))
    assert res.code == 1
    assert "Internal error while processing" in res.err and "card.txt" in res.err and "Traceback" not in res.err


# ---------------------------------------------------------------------------------- performance
def test_5000_lnN_lines_take_seconds(tmp_path):
    lines = "\n".join(f"s{i} lnN 1.01 - -" for i in range(5000))
    counting(tmp_path, obs="3", rs="1.5", ra="0.6", rb="0.3", extra=lines, name="many.txt")
    t0 = time.perf_counter()
    res = combine(tmp_path, "many.txt")
    assert res.code == 0, res.err
    assert_contract(res, tmp_path)
    assert time.perf_counter() - t0 < 40


def test_junk_file_is_refused_without_reading_it_all(tmp_path):
    junk = tmp_path / "junk.txt"
    with open(junk, "w") as f:
        line = "x" * 70 + " y z\n"
        f.write(line * (20 * 1024 * 1024 // len(line)))
    t0 = time.perf_counter()
    res = combine(tmp_path, "junk.txt")
    assert_refused(res, tmp_path, "does not look like a datacard")
    assert time.perf_counter() - t0 < 5


def test_junk_after_the_header_is_refused_at_its_first_line(tmp_path):
    card = counting(tmp_path)
    with open(card, "a") as f:
        f.write("garbage line here\n" * 1_000_000)
    t0 = time.perf_counter()
    assert_refused(combine(tmp_path, "card.txt"), tmp_path, "card.txt:16:", "garbage")
    assert time.perf_counter() - t0 < 10


def test_low_rank_hessian_agrees_with_the_dense_one():
    from pycombine.fit.newton import LowRankHessian

    rng = np.random.default_rng(1)
    n, r = 40, 3
    d = rng.uniform(0.5, 2.0, n)
    d[[3, 7]] = 0.0  # unconstrained parameters
    U = rng.normal(size=(n, r))
    U[[3, 7]] += 1.0
    H = LowRankHessian.from_factors(d, U)
    dense = np.diag(d) + U @ U.T
    assert H.dense() == pytest.approx(dense)
    g = rng.normal(size=n)
    inact = np.ones(n, bool)
    inact[5] = False
    assert H.solve(g[inact], inact) == pytest.approx(np.linalg.solve(dense[np.ix_(inact, inact)], g[inact]))
    inv = np.linalg.inv(dense)
    assert H.inverse_diag() == pytest.approx(np.diag(inv))
    assert H.dense_inverse() == pytest.approx(inv)
    s, y = rng.normal(size=n), rng.normal(size=n)
    y = dense @ s + 0.1 * y
    Hs = dense @ s
    want = dense + np.outer(y, y) / (s @ y) - np.outer(Hs, Hs) / (s @ Hs)
    assert H.updated(s, y, float(s @ y)).dense() == pytest.approx(want)


# --------------------------------------------------------------------------- fits at a kink
KINK_ROWS = {
    ("data_obs", "nominal"): [(20, 20), (0, 0), (15, 15)],
    ("sig", "nominal"): [(1, 0.1), (1, 0.1), (1, 0.1)],
    ("bkg", "nominal"): [(20, 1), (0, 0.1), (15, 1)],
    ("bkg", "alphaUp"): [(20, 1), (4, 0.1), (15, 1)],
    ("bkg", "alphaDown"): [(20, 1), (-4, 0.1), (15, 1)],
}


def test_background_only_fit_at_a_floored_bin_converges(tmp_path):
    """The control-regions tutorial: a template bin meets Combine's 1e-9 floor at the minimum, a kink
    of the NLL; the fit status is Migrad's (not Hesse's EDM re-estimate), as in Combine."""
    import uproot

    res = combine(tmp_path, str(shapes(tmp_path, KINK_ROWS)), "-M", "FitDiagnostics")
    assert res.code == 0, res.err
    with uproot.open(tmp_path / "fitDiagnosticsTest.root") as f:
        assert f["tree_fit_b"]["fit_status"].array(library="np")[0] >= 0
        assert f["tree_fit_sb"]["fit_status"].array(library="np")[0] >= 0


def test_subnormal_sum_ww_with_autoMCStats_is_not_an_internal_error(tmp_path):
    """Found by the property tests: an effective count that overflows (1 / 2e-311) crashed the
    autoMCStats set-up; C++ carries on with inf, and so does the builder."""
    rows = default_rows()
    rows[("bkg", "nominal")][0] = (10, 2.2251e-311)
    res = combine(tmp_path, str(shapes(tmp_path, rows, extra="ch1 autoMCStats 0")))
    assert_contract(res, tmp_path)


def test_flat_profile_does_not_step_for_minutes():
    """Found by the property tests: a free rateParam absorbs the signal of an empty bin, the profile
    hardly depends on r and the stepping search used to take its 3000 steps (two minutes). The
    search must give up after its first flatness check, with a message, instead of stepping on.
    (A unit test of the search on a profile that rises by 1e-6 per unit of r: deterministic, and
    free of fit timing.)"""
    from pycombine.fit.asymptotic import FLATNESS_CHECK, AsymptoticSettings, PoiFit, PoiRange, find_crossing

    class SlowlyRising:
        calls = 0

        def profile(self, start, r):
            self.calls += 1
            return PoiFit(nll=1e-6 * r, r=r, r_err=0.0, state=start)

        def value(self, state, r):
            return 1e-6 * r

        def fit(self, start, r_start, r_lo, r_hi):  # pragma: no cover - not used by the search
            raise AssertionError

    nll = SlowlyRising()
    out = find_crossing(nll, None, PoiRange(0.0, 20.0), 0.0, 20.0, 0.0, 0.5, AsymptoticSettings(), "stepping")
    assert math.isnan(out.r)
    assert "rises too slowly" in out.message
    assert nll.calls == 2 * FLATNESS_CHECK  # the first check only records where the profile is
    # a profile that does rise is not stopped by the check: the median crossing of a parabola,
    # as far beyond the first bracket as Asimov profiles put it
    class Parabola(SlowlyRising):
        def profile(self, start, r):
            self.calls += 1
            return PoiFit(nll=0.5 * (r / 10.0) ** 2, r=r, r_err=0.0, state=start)

    par = Parabola()
    out = find_crossing(par, None, PoiRange(0.0, 20.0), 0.0, 20.0, 0.0, 0.5, AsymptoticSettings(), "stepping")
    # e(0.5) = 0.5 * z(1 - 0.5 * 0.05)^2 for CLs at the median: the crossing is at r = 10 * 1.95996
    assert out.r == pytest.approx(19.5996, rel=5e-3), out.message
