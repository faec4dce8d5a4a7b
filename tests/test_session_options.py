"""The run-time options of spec §4.1 (and §6.1, §8), through the real ``combine`` console script.

Each test runs ``combine`` in a subprocess on a tiny counting card and checks the printed lines
and the ``limit`` tree. Expected numbers are hand-derived from the card: s = 3, b = 5, n = 10,
``lumi`` (κ = 1.1 on both processes), ``bkgunc`` (κ = 1.3 on b), ``sigth`` (κ = 1.2 on s).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from refsuite import bin_dir, env, read_tree

CARD = """imax 1
jmax 1
kmax *
------------
{shapes}
bin         b1
observation 10
------------
bin           b1   b1
process       sig  bkg
process         0      1
rate           3  5
------------
lumi    lnN   1.1   1.1
bkgunc  lnN   -     1.3
sigth   lnN   1.2   -
theory group = sigth
exp group = lumi bkgunc
"""


@pytest.fixture
def card(tmp_path) -> Path:
    p = tmp_path / "card.txt"
    p.write_text(CARD.format(shapes=""))
    return p


def combine(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    exe = str(Path(bin_dir()) / "combine")
    return subprocess.run([exe, *args], check=False, cwd=cwd, capture_output=True, text=True, env=env(), timeout=120)


def mdf(cwd: Path, *args: str, name: str = "Test", check: bool = True) -> subprocess.CompletedProcess:
    p = combine(cwd, "-M", "MultiDimFit", "card.txt", "-n", name, *args)
    if check:
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return p


def tree(cwd: Path, name: str = "Test", mass: str = "120", extra: str = "") -> dict:
    path = cwd / f"higgsCombine{name}.MultiDimFit.mH{mass}{extra}.root"
    assert path.exists(), sorted(p.name for p in cwd.iterdir())
    return read_tree(path, "limit")


def branches(cwd: Path, name: str = "Test") -> list[str]:
    import uproot

    with uproot.open(cwd / f"higgsCombine{name}.MultiDimFit.mH120.root") as f:
        return list(f["limit"].keys())


def best_fit_line(stdout: str, name: str = "r") -> str:
    lines = [l for l in stdout.splitlines() if l.strip().startswith(f"{name} :")]
    assert lines, stdout
    return lines[-1]


def last_error_line(p: subprocess.CompletedProcess) -> str:
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    return lines[-1] if lines else ""


def nll_card(r, lumi=0.0, bkgunc=0.0, sigth=0.0):
    nu = 3 * r * 1.1**lumi * 1.2**sigth + 5 * 1.1**lumi * 1.3**bkgunc
    return nu - 10 * math.log(nu) + 0.5 * (lumi**2 + bkgunc**2 + sigth**2)


# ----------------------------------------------------------------------------------- r range
def test_rMin_rMax_reset_r_to_the_midpoint(card):
    """§5.5: --rMin 2 --rMax 10 --skipInitialFit --algo none prints the start value 6 and no entry."""
    p = mdf(card.parent, "--rMin", "2", "--rMax", "10", "--skipInitialFit", "--algo", "none")
    assert "   r :    +6.000" in p.stdout.splitlines()
    assert len(tree(card.parent)["limit"]) == 0
    # only --rMin: range [1, 20], midpoint 10.5
    p = mdf(card.parent, "--rMin", "1", "--skipInitialFit", name="Lo")
    assert best_fit_line(p.stdout) == "   r :   +10.500"


def test_r_range_limits_the_fit(card):
    """The unconstrained optimum r̂ ≈ 1.667 lies below --rMin 2: the fit stops at the edge."""
    mdf(card.parent, "--rMin", "2", "--rMax", "10", "--saveSpecifiedNuis", "all")
    t = tree(card.parent)
    assert t["r"][0] == pytest.approx(2.0, abs=1e-3)
    assert t["quantileExpected"][0] == np.float32(-1)


def test_setParameters_applies_after_the_range_midpoint(card):
    p = mdf(card.parent, "--rMin", "1", "--rMax", "3", "--setParameters", "r=2.5,lumi=0.4", "--skipInitialFit")
    out = p.stdout.splitlines()
    assert "Set Default Value of Parameter r To : 2.5" in out
    assert "Set Default Value of Parameter lumi To : 0.4" in out
    assert out.index("Set Default Value of Parameter r To : 2.5") > out.index(">>> Method used is MultiDimFit")
    assert best_fit_line(p.stdout) == "   r :    +2.500"


def test_setParameterRanges(card):
    p = mdf(card.parent, "--setParameterRanges", "r=0,1.5:lumi=-2,2:nosuch=1,2")
    out = p.stdout.splitlines()
    assert "Set Range of Parameter r To : (0,1.5)" in out
    assert "Set Range of Parameter lumi To : (-2,2)" in out
    assert "Warning: Did not find a parameter with name nosuch" in out
    assert out.index("Set Range of Parameter r To : (0,1.5)") > out.index(">>> Method used is MultiDimFit")
    assert best_fit_line(p.stdout) == "   r :    +1.500"  # r̂ ≈ 1.667 is outside the new range


def test_setParameterRanges_minus_inf_inf_removes_the_range(card):
    p = mdf(card.parent, "--setParameterRanges", "r=-inf,inf", "--skipInitialFit")
    assert "Leave Parameter r freely floating, with no range" in p.stdout.splitlines()


def test_regex_options_announce_the_regex(card):
    p = mdf(card.parent, "--setParameters", "rgx{lumi|bkgunc}=0.3", "--setParameterRanges", "rgx{sig.*}=-3,3",
            "--skipInitialFit")
    out = p.stdout.splitlines()
    assert "interpreting sig.* as regex " in out
    assert "interpreting lumi|bkgunc as regex " in out
    assert out.index("interpreting sig.* as regex ") < out.index("Set Range of Parameter sigth To : (-3,3)")
    assert out.index("interpreting lumi|bkgunc as regex ") < out.index("Set Default Value of Parameter lumi To : 0.3")


def test_setParameters_out_of_range_is_an_error(card):
    p = mdf(card.parent, "--setParameters", "r=30", check=False)
    assert p.returncode == 1
    assert "Traceback" not in p.stderr
    msg = last_error_line(p)
    assert "Parameter r value 30 is outside its range [0, 20]" in msg
    assert not list(card.parent.glob("higgsCombine*.root"))


def test_setParameters_regex(card):
    p = mdf(card.parent, "--setParameters", "rgx{lumi|bkgunc}=0.3", "--skipInitialFit")
    out = p.stdout.splitlines()
    assert "Set Default Value of Parameter lumi To : 0.3" in out
    assert "Set Default Value of Parameter bkgunc To : 0.3" in out
    assert not any("sigth To" in l for l in out)


# ----------------------------------------------------------------------------------- freezing
R_FROZEN = (10 - 5 * 1.3**0.7) / 3  # r̂ with bkgunc frozen at 0.7 and the other nuisances at 0


@pytest.mark.parametrize(
    "freeze",
    ["bkgunc,lumi,sigth", "allConstrainedNuisances", "rgx{.*unc|lumi|sig.*}", "rgx{.*},nosuch"],
)
def test_frozen_nuisances_keep_their_value(card, freeze):
    p = mdf(card.parent, "--setParameters", "bkgunc=0.7", "--freezeParameters", freeze, "--saveSpecifiedNuis", "all")
    t = tree(card.parent)
    assert t["r"][0] == pytest.approx(R_FROZEN, abs=2e-3)
    assert best_fit_line(p.stdout) == f"   r :  {R_FROZEN:+8.3f}"
    # frozen parameters leave the nuisance set: no branches for them
    assert branches(card.parent)[-2:] == ["r", "deltaNLL"]
    if "nosuch" in freeze:
        assert "WARNING: cannot freeze nuisance parameter nosuch if it doesn't exist!" in p.stdout.splitlines()


def test_freeze_regex_matches_nuisances_only_var_matches_everything(card):
    """§4.1 item 9: rgx{} is matched against the nuisance set (r is not in it), var{} against all."""
    mdf(card.parent, "--freezeParameters", "rgx{r|lumi}", "--saveSpecifiedNuis", "all", name="Rgx")
    assert branches(card.parent, "Rgx")[-4:] == ["r", "bkgunc", "sigth", "deltaNLL"]
    assert tree(card.parent, "Rgx")["r"][0] == pytest.approx(5 / 3, abs=2e-2)  # r still floats
    p = mdf(card.parent, "--freezeParameters", "var{r}", name="Var")
    assert best_fit_line(p.stdout) == "   r :    +1.000"


def test_freeze_one_nuisance_others_float(card):
    mdf(card.parent, "--setParameters", "bkgunc=0.7", "--freezeParameters", "bkgunc", "--saveSpecifiedNuis", "all")
    assert branches(card.parent)[-4:] == ["r", "lumi", "sigth", "deltaNLL"]


def test_freezeNuisanceGroups(card):
    mdf(card.parent, "--freezeNuisanceGroups", "theory", "--saveSpecifiedNuis", "all", name="A")
    assert branches(card.parent, "A")[-4:] == ["r", "lumi", "bkgunc", "deltaNLL"]
    mdf(card.parent, "--freezeNuisanceGroups", "^theory", "--saveSpecifiedNuis", "all", name="B")
    assert branches(card.parent, "B")[-3:] == ["r", "sigth", "deltaNLL"]
    t = tree(card.parent, "B")
    # lumi, bkgunc frozen at 0: 3 r 1.2^s = 5 is reached with s = 0 (its constraint): r̂ = 5/3
    assert t["r"][0] == pytest.approx(5 / 3, abs=2e-3)
    assert t["sigth"][0] == pytest.approx(0.0, abs=2e-3)
    mdf(card.parent, "--freezeNuisanceGroups", "theory,exp", "--saveSpecifiedNuis", "all", name="C")
    assert branches(card.parent, "C")[-2:] == ["r", "deltaNLL"]


def test_unknown_nuisance_group_is_an_error(card):
    p = mdf(card.parent, "--freezeNuisanceGroups", "nosuch", check=False)
    assert p.returncode == 1
    assert "Traceback" not in p.stderr
    assert "Unknown nuisance group" in last_error_line(p)


# ----------------------------------------------------------------------------------- POIs
FAKE_CARD = CARD.format(shapes="shapes * * FAKE")


def test_redefineSignalPOIs_changes_the_printed_pois(tmp_path):
    (tmp_path / "card.txt").write_text(FAKE_CARD)
    p = mdf(tmp_path, "--redefineSignalPOIs", "bkgunc", "--freezeParameters", "r")
    out = p.stdout.splitlines()
    assert [l for l in out if " :  " in l] == [best_fit_line(p.stdout, "bkgunc")]
    assert "r" not in branches(tmp_path) and "bkgunc" in branches(tmp_path)


def test_redefineSignalPOIs_drops_the_constraint_of_the_new_poi(tmp_path):
    """r frozen at 1: with no constraint on bkgunc, 3 + 5·1.3^θ = 10 is reached at θ = ln 1.4/ln 1.3
    (lumi, still constrained, stays at 0)."""
    (tmp_path / "card.txt").write_text(FAKE_CARD)
    p = mdf(tmp_path, "--redefineSignalPOIs", "bkgunc", "--freezeParameters", "r")
    want = math.log(1.4) / math.log(1.3)
    assert tree(tmp_path)["bkgunc"][0] == pytest.approx(want, abs=2e-3)
    assert best_fit_line(p.stdout, "bkgunc") == f"   bkgunc :  {want:+8.3f}"


# ----------------------------------------------------------------------------------- -t -1
@pytest.mark.parametrize(
    "args, r_gen, warn",
    [
        ((), 0.0, False),
        (("--setParameters", "r=1"), 1.0, False),
        (("--setParameters", "r=2", "--expectSignal", "0.5"), 0.5, True),
        (("--expectSignal=1",), 1.0, False),
    ],
)
def test_asimov_generation_value_of_r(card, args, r_gen, warn):
    """§4.1 item 11: -t -1 alone generates at r = 0, with --setParameters r=1 at 1, with both the
    --expectSignal value wins and a warning is printed. The Asimov fit returns the generating r."""
    p = mdf(card.parent, "-t", "-1", *args)
    t = tree(card.parent)
    assert t["iToy"][0] == -1
    assert t["r"][0] == pytest.approx(r_gen, abs=2e-3)
    warning = (
        "Warning: A value of r is specified in both the --setParameters and --expectSignal options. "
        "The argument of --expectSignal will take precedence"
    )
    assert (warning in p.stderr) == warn


def test_toysFrequentist_asimov_uses_the_postfit_nuisances(card):
    """--toysFrequentist -t -1 --expectSignal 1: fit the data with r = 1 fixed, generate from the
    post-fit nuisances and centre the constraints there; the Asimov fit returns those values."""
    from scipy.optimize import minimize

    res = minimize(lambda v: nll_card(1.0, *v), np.zeros(3), method="BFGS", options={"gtol": 1e-10})
    lumi, bkgunc, sigth = res.x
    assert bkgunc > 0.1  # the data pull the background up: the test is not trivially at 0
    mdf(card.parent, "-t", "-1", "--expectSignal", "1", "--toysFrequentist", "--saveSpecifiedNuis", "all")
    t = tree(card.parent)
    assert t["r"][0] == pytest.approx(1.0, abs=2e-3)
    assert t["lumi"][0] == pytest.approx(lumi, abs=2e-3)
    assert t["bkgunc"][0] == pytest.approx(bkgunc, abs=2e-3)
    assert t["sigth"][0] == pytest.approx(sigth, abs=2e-3)
    # without --toysFrequentist the Asimov nuisances are the pre-fit ones (0)
    mdf(card.parent, "-t", "-1", "--expectSignal", "1", "--saveSpecifiedNuis", "all", name="Pre")
    t = tree(card.parent, "Pre")
    np.testing.assert_allclose([t["lumi"][0], t["bkgunc"][0], t["sigth"][0]], 0.0, atol=2e-3)


# ----------------------------------------------------------------------------------- file names
def test_mass_name_and_tree(card):
    mdf(card.parent, "-m", "125.38", name="Mass")
    t = tree(card.parent, "Mass", mass="125.38")
    assert t["mh"][0] == 125.37999725341797  # float32(125.38)
    assert t["iSeed"][0] == 123456


def test_name_option(card):
    mdf(card.parent, name="_myName")
    assert (card.parent / "higgsCombine_myName.MultiDimFit.mH120.root").exists()


SHAPE_KW_CARD = """imax 1
jmax 1
kmax *
------------
shapes * * table_$WHICH.csv $CHANNEL:$PROCESS
------------
bin         b1
observation -1
------------
bin           b1   b1
process       sig  bkg
process         0      1
rate           -1  -1
"""


def test_keyword_value_substitution_and_file_name(tmp_path):
    """$WHICH in the shapes line becomes the value; the file name gets WHICH<value>."""
    for which, n in (("a", 10.0), ("b", 11.0)):
        rows = ["channel,process,systematic,bin,sum_w,sum_ww", "b1,sig,nominal,0,3,3", "b1,bkg,nominal,0,5,5",
                f"b1,data_obs,nominal,0,{n},{n}"]
        (tmp_path / f"table_{which}.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "card.txt").write_text(SHAPE_KW_CARD)
    for which, r_hat in (("a", 5 / 3), ("b", 2.0)):
        p = mdf(tmp_path, "--keyword-value", f"WHICH={which}")
        t = tree(tmp_path, extra=f".WHICH{which}")
        assert t["r"][0] == pytest.approx(r_hat, abs=2e-3)
        assert best_fit_line(p.stdout) == f"   r :  {r_hat:+8.3f}"
    p = mdf(tmp_path, check=False)  # without the keyword the file table_$WHICH.csv does not exist
    assert p.returncode == 1 and "Traceback" not in p.stderr


# ----------------------------------------------------------------------------------- parsing
def test_option_prefixes_and_equals_form(card):
    """Boost accepts unambiguous prefixes (--saveSpecifiedNu, --skipInit) and --opt=value."""
    mdf(card.parent, "--saveSpecifiedNu=all", "--setParameterR", "r=0,4")
    assert branches(card.parent)[-5:] == ["r", "lumi", "bkgunc", "sigth", "deltaNLL"]
    p = mdf(card.parent, "--skipInit", "--rMi=2", "--rMa", "4", name="P")
    assert best_fit_line(p.stdout) == "   r :    +3.000"


def test_saveWithUnc_abbreviation(card):
    """FitDiagnostics --saveNorm --saveWithUnc (prefixes of --saveNormalizations,
    --saveWithUncertainties): the saved yields get re-sampled uncertainties; without it, none."""
    import uproot

    for name, extra in (("U", ("--saveWithUnc",)), ("N", ())):
        p = combine(card.parent, "-M", "FitDiagnostics", "card.txt", "--saveNorm", *extra, "-n", name)
        assert p.returncode == 0, p.stderr[-2000:]
        with uproot.open(card.parent / f"fitDiagnostics{name}.root") as f:
            h = f["norm_prefit_values"]  # the histogram view beside the RooArgSet norm_prefit
            labels = list(h.axis().labels())
            assert labels[:2] == ["b1/bkg", "b1/sig"]
            np.testing.assert_allclose(h.values()[:2], [5.0, 3.0], rtol=1e-6)
            errors = h.errors()[:2]
        if extra:
            assert np.all(errors > 0.3)
        else:
            assert np.all(errors == 0)


def test_ambiguous_prefix_is_an_error(card):
    p = mdf(card.parent, "--save", "all", check=False)
    assert p.returncode == 1
    assert "ambiguous" in p.stderr and "Traceback" not in p.stderr


def test_boolean_options_need_a_value(card):
    mdf(card.parent, "--floatOtherPOIs", "1")
    mdf(card.parent, "--floatOtherPOIs", "true", name="T")
    p = combine(card.parent, "-M", "MultiDimFit", "card.txt", "--floatOtherPOIs")
    assert p.returncode == 1 and "Traceback" not in p.stderr
    p = combine(card.parent, "-M", "MultiDimFit", "--floatOtherPOIs", "card.txt")
    assert p.returncode == 1 and "boolean" in p.stderr


def test_flag_options_take_no_value(card):
    """--skipInitialFit is a flag: the next token is the datacard, not its value."""
    p = combine(card.parent, "-M", "MultiDimFit", "--skipInitialFit", "card.txt")
    assert p.returncode == 0, p.stderr
    assert "MultiDimFit -- Skipping initial global fit" in p.stdout


def test_console_script_is_the_one_next_to_the_interpreter():
    assert (Path(bin_dir()) / "combine").exists()
    assert Path(bin_dir()) == Path(sys.executable).parent


# ----------------------------------------------------------------------------------- --X-rtd
def test_runtime_define_values():
    """Combine's ``--X-rtd name[=value]``: no value means 1, the value is C atoi, the last one wins."""
    from types import SimpleNamespace

    from pycombine.run.options import runtime_define

    opts = SimpleNamespace(x_rtd=("A", "B=0", "C=7abc", "D=x", "B=3", "E=-2"))
    assert [runtime_define(opts, k) for k in "ABCDEF"] == [1, 3, 7, 0, -2, 0]


def test_x_rtd_lines_and_notes(card):
    """-v 1 prints Combine's runtime-define lines after 'Method used'; switches that only tune RooFit
    internals get a note on stderr; MINIMIZER_no_analytic=0 keeps the analytic BB-lite profiling."""
    p = combine(card.parent, "-M", "AsymptoticLimits", "card.txt", "-v", "1",
                "--X-rtd", "ADDNLL_RECURSIVE=0", "--X-rtd", "MINIMIZER_no_analytic=0", "--X-rtd", "FITTER_NEW_CROSSING_ALGO")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    i = lines.index(">>> Method used is AsymptoticLimits")
    assert lines[i + 1 : i + 4] == ["Setting runtime-define ADDNLL_RECURSIVE to 0",
                                    "Setting runtime-define MINIMIZER_no_analytic to 0",
                                    "Turning on runtime-define FITTER_NEW_CROSSING_ALGO"]
    notes = [l for l in p.stderr.splitlines() if l.startswith("Note: --X-rtd")]
    assert [n.split()[2] for n in notes] == ["ADDNLL_RECURSIVE=0", "FITTER_NEW_CROSSING_ALGO"]
    # without -v: no runtime-define lines on stdout
    q = combine(card.parent, "-M", "AsymptoticLimits", "card.txt", "--X-rtd", "ADDNLL_RECURSIVE=0")
    assert "runtime-define" not in q.stdout


@pytest.mark.parametrize(("switch", "analytic"), [((), True), (("MINIMIZER_no_analytic",), False),
                                                  (("MINIMIZER_no_analytic=0",), True)])
def test_minimizer_no_analytic_switch(switch, analytic):
    """MINIMIZER_no_analytic (value 1) turns the analytic BB-lite minimisation off; =0 keeps it."""
    from pycombine.run.loading import load
    from pycombine.run.options import RunOptions
    from pycombine.run.session import Session

    opts = RunOptions.defaults(x_rtd=switch)
    _, spec = load(str(Path(__file__).resolve().parents[1] / "datacards/shapes/dijet_resonance.txt"), opts)
    assert Session(spec, opts, out=lambda *a: None).analytic_bb is analytic


TWO_CHANNELS = """imax 2
jmax 1
kmax 0
------------
bin         sr   cr
observation 10   50
------------
bin           sr   sr   cr   cr
process       sig  bkg  sig  bkg
process         0    1    0    1
rate          3    5    0.1  48
"""


def test_channel_masks_are_listed_and_mask_a_channel(tmp_path):
    """With masks in the model Combine prints how many are active, then an empty line
    (``Combine::run``); masking cr leaves the counting experiment of sr alone."""
    (tmp_path / "card.txt").write_text(TWO_CHANNELS)
    p = combine(tmp_path, "-M", "MultiDimFit", "card.txt", "--text2workspace", "--channel-masks",
                "--setParameters", "mask_cr=1", "--algo", "singles", "--rMin", "-5")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    k = lines.index(">>> 1 out of 2 channels masked")
    assert lines[k - 1] == "Set Default Value of Parameter mask_cr To : 1" and lines[k + 1] == ""
    # sr alone: 10 observed over 5 expected background, 3 signal per unit r: r_hat = (10 - 5) / 3
    assert tree(tmp_path)["r"][0] == pytest.approx(5 / 3, abs=2e-3)
    p = combine(tmp_path, "-M", "MultiDimFit", "card.txt", "--text2workspace", "--channel-masks", "-n", "All")
    assert ">>> 0 out of 2 channels masked" in p.stdout.splitlines()
    p = combine(tmp_path, "-M", "MultiDimFit", "card.txt", "-n", "NoMasks")
    assert "channels masked" not in p.stdout
