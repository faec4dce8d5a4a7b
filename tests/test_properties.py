"""Property-based tests of the input contract (hypothesis): generated datacards, shape tables and
command-line options, each run through ``combine`` in-process.

Every example must keep the contract of :mod:`contract` (exit 0 with a non-empty, finite limit tree,
or exit 1 with one error line and no output file; never a traceback, an "Internal error" or a
"Caught exception"). Inputs a statistics tool must not compute on (NaN, infinite or negative
counts, NaN kappas, impossible option values) must be refused.

Bounded in time: ``PYCOMBINE_HYPOTHESIS_EXAMPLES`` examples per test (default 15, what CI runs),
a deadline per example, and derandomised under CI so that a run is reproducible. A long run:
``PYCOMBINE_HYPOTHESIS_EXAMPLES=2000 python -m pytest tests/test_properties.py``.
"""

from __future__ import annotations

import math
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="the property tests need hypothesis (pip install '.[test]')")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from contract import assert_contract, run_cli  # noqa: E402

EXAMPLES = int(os.environ.get("PYCOMBINE_HYPOTHESIS_EXAMPLES", "15"))
PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    # legal but degenerate cards can take ~40 s (a free rateParam starting at 1e-300: every profile
    # fit of the limit search crawls); the deadline catches hangs, not slow fits
    deadline=timedelta(seconds=90),
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    database=None,
)

# -------------------------------------------------------------------------------- number tokens
#: numbers as a user (or a broken script) writes them: ordinary values and the pathological ones
NASTY = st.sampled_from(["nan", "inf", "-inf", "1e300", "-1e300", "1e-300", "0", "-0", "-1", "-5", "1e20",
                         "NaN", "Infinity"])


def positive(lo=0.01, hi=1e4):
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False).map(lambda x: f"{x:.6g}")


def number(lo=0.01, hi=1e4):
    return st.one_of(positive(lo, hi), NASTY)


def kappa():
    sym = st.one_of(st.floats(min_value=0.5, max_value=3.0).map(lambda x: f"{x:.4g}"), NASTY, st.just("-"))
    asym = st.tuples(st.one_of(positive(0.3, 1.0), NASTY), st.one_of(positive(1.0, 3.0), NASTY)).map("/".join)
    return st.one_of(sym, sym, asym)


def bad_number(token: str) -> bool:
    try:
        v = float(token)
    except ValueError:
        return False
    return not math.isfinite(v)


def negative(token: str) -> bool:
    try:
        return float(token) < 0
    except ValueError:
        return False


def negative32(token: str) -> bool:
    import numpy as np

    try:
        with np.errstate(over="ignore"):
            return bool(np.float32(float(token)) < 0)
    except ValueError:
        return False


def run(card_text: str, *args: str, files: dict[str, str] | None = None):
    with tempfile.TemporaryDirectory(prefix="prop_") as d:
        work = Path(d)
        (work / "card.txt").write_text(card_text)
        for name, text in (files or {}).items():
            (work / name).write_text(text)
        res = run_cli(["card.txt", *args], work)
        assert_contract(res, work, card_text + "\nargs: " + " ".join(args))
        return res


# ---------------------------------------------------------------------------------- datacards
@st.composite
def counting_cards(draw):
    obs = draw(number(0, 200))
    rates = [draw(number(0.01, 100)) for _ in range(3)]
    lines = []
    n_syst = draw(st.integers(0, 4))
    for i in range(n_syst):
        kind = draw(st.sampled_from(["lnN", "lnN", "lnU", "gmN", "param", "rateParam", "shape"]))
        if kind in ("lnN", "lnU"):
            lines.append(f"k{i} {kind} " + " ".join(draw(kappa()) for _ in range(3)))
        elif kind == "gmN":
            n = draw(st.one_of(st.integers(0, 50).map(str), st.sampled_from(["-3", "99999999999999999999"])))
            alpha = draw(number(0.01, 2))
            lines.append(f"g{i} gmN {n} - {alpha} -")
        elif kind == "param":
            lines.append(f"p{i} param {draw(number(-2, 2))} {draw(number(0.1, 2))}"
                         + (f" [{draw(number(-5, 0))},{draw(number(0, 5))}]" if draw(st.booleans()) else ""))
        elif kind == "rateParam":
            lines.append(f"rp{i} rateParam b1 bkgA {draw(number(0.1, 3))}"
                         + (f" [{draw(number(0, 1))},{draw(number(1, 10))}]" if draw(st.booleans()) else ""))
        else:
            lines.append(f"s{i} shape {draw(number(0.1, 2))} - -")
    text = ("imax 1\njmax 2\nkmax *\n---\nbin b1\nobservation {obs}\n---\nbin b1 b1 b1\nprocess sig bkgA bkgB\n"
            "process 0 1 2\nrate {r0} {r1} {r2}\n---\n").format(obs=obs, r0=rates[0], r1=rates[1], r2=rates[2])
    return text + "\n".join(lines) + "\n", obs, rates, lines


@PROPERTY_SETTINGS
@given(counting_cards())
def test_generated_counting_cards_keep_the_contract(card):
    text, obs, rates, lines = card
    res = run(text)
    must_refuse = (bad_number(obs) or negative(obs) or any(bad_number(r) or negative(r) for r in rates)
                   or any(bad_number(tok) for line in lines for tok in line.replace("/", " ").split()[2:]
                          if not tok.startswith("[")))
    if must_refuse:
        assert res.code == 1, f"garbage computed on:\n{text}"


# -------------------------------------------------------------------------------- shape tables
def cell():
    return st.one_of(st.floats(min_value=0, max_value=1e3, allow_nan=False).map(lambda x: f"{x:.5g}"),
                     st.floats(min_value=-50, max_value=0, allow_nan=False).map(lambda x: f"{x:.5g}"), NASTY,
                     st.just("abc"))


@st.composite
def shape_inputs(draw):
    nbins = draw(st.integers(1, 4))
    rows = ["channel,process,systematic,bin,sum_w,sum_ww"]
    values = {}
    for proc, syst in (("data_obs", "nominal"), ("sig", "nominal"), ("bkg", "nominal"), ("bkg", "aUp"),
                       ("bkg", "aDown")):
        for b in range(nbins):
            w = draw(cell()) if draw(st.integers(0, 3)) == 0 else f"{draw(st.floats(1, 50)):.4g}"
            ww = draw(cell()) if draw(st.integers(0, 5)) == 0 else "1"
            values[(proc, syst, b)] = (w, ww)
            rows.append(f"ch1,{proc},{syst},{b},{w},{ww}")
    amc = draw(st.booleans())
    card = ("imax 1\njmax 1\nkmax *\n---\nshapes * * in.csv ch1:$PROCESS ch1:$PROCESS:$SYSTEMATIC\n---\n"
            "bin ch1\nobservation -1\n---\nbin ch1 ch1\nprocess sig bkg\nprocess 0 1\nrate -1 -1\n---\n"
            f"lumi lnN 1.05 1.05\na shape - {draw(st.sampled_from(['1', '0.5', '2']))}\n"
            + ("ch1 autoMCStats 0\n" if amc else ""))
    return card, "\n".join(rows) + "\n", values


@PROPERTY_SETTINGS
@given(shape_inputs())
def test_generated_shape_tables_keep_the_contract(inputs):
    card, csv, values = inputs
    res = run(card, files={"in.csv": csv})
    # templates are float32 (Combine's TH1F): -1e-300 is -0 there, a count of zero
    data_bad = any(bad_number(w) or negative32(w) or w == "abc"
                   for (proc, _s, _b), (w, _ww) in values.items() if proc == "data_obs")
    templates_bad = any(bad_number(w) or w == "abc" for (_p, _s, _b), (w, _ww) in values.items())
    if data_bad or templates_bad:
        assert res.code == 1, f"garbage computed on:\n{csv}"


# ------------------------------------------------------------------------------------- options
CARD = ("imax 1\njmax 1\nkmax *\n---\nbin b1\nobservation 7\n---\nbin b1 b1\nprocess sig bkg\nprocess 0 1\n"
        "rate 2 5\n---\nlumi lnN 1.05 1.05\nbnorm lnN - 1.2\n")


@st.composite
def option_sets(draw):
    args = []
    impossible = False
    if draw(st.booleans()):
        v = draw(st.one_of(st.floats(0.01, 0.99).map(lambda x: f"{x:.3g}"), st.sampled_from(["0", "1", "nan", "-0.5", "1.5"])))
        args += ["-C", v]
        impossible |= not (0 < float(v) < 1)
    if draw(st.booleans()):
        lo = draw(st.one_of(st.floats(-5, 5).map(lambda x: f"{x:.3g}"), NASTY))
        hi = draw(st.one_of(st.floats(0.5, 30).map(lambda x: f"{x:.3g}"), NASTY))
        args += ["--rMin", lo, "--rMax", hi]
        flo, fhi = float(lo), float(hi)
        impossible |= not (math.isfinite(flo) and math.isfinite(fhi) and flo < fhi and abs(flo) < 3e38 and abs(fhi) < 3e38)
    if draw(st.booleans()):
        v = draw(st.integers(-3, 5))
        args += ["--cminDefaultMinimizerStrategy", str(v)]
        impossible |= v not in (0, 1, 2)
    if draw(st.booleans()):
        v = draw(st.one_of(st.floats(0.001, 1).map(lambda x: f"{x:.3g}"), st.sampled_from(["nan", "-1", "inf"])))
        args += ["--cminDefaultMinimizerTolerance", v]
        impossible |= not (math.isfinite(float(v)) and float(v) >= 0)
    if draw(st.booleans()):
        v = draw(st.one_of(st.integers(0, 2**31 - 1), st.sampled_from([2**31, 2**70, -(2**40)])))
        args += ["-s", str(v)]
        impossible |= not (-(2**31) <= v < 2**31)
    if draw(st.booleans()):
        v = draw(st.one_of(st.floats(100, 1000).map(lambda x: f"{x:.5g}"), st.sampled_from(["nan", "inf"])))
        args += ["-m", v]
        impossible |= not math.isfinite(float(v))
    if draw(st.booleans()):
        rx = draw(st.text(alphabet="ab[](){}*+?.\\^$|", min_size=1, max_size=6))
        args += ["--freezeParameters", "rgx{" + rx + "}"]
    if draw(st.booleans()):
        v = draw(st.one_of(st.floats(0, 3).map(lambda x: f"{x:.3g}"), st.sampled_from(["nan", "inf"])))
        args += ["--setParameters", f"lumi={v}"]
        impossible |= not math.isfinite(float(v))
    method = draw(st.sampled_from(["AsymptoticLimits", "Significance", "MultiDimFit", "FitDiagnostics"]))
    return ["-M", method, *args], impossible


@PROPERTY_SETTINGS
@given(option_sets())
def test_generated_options_keep_the_contract(case):
    args, impossible = case
    res = run(CARD, *args)
    if impossible:
        assert res.code == 1, f"impossible options accepted: {args}"
