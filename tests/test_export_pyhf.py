"""``pycombine export-pyhf``: a datacard written as a pyhf JSON workspace (HistFactory).

* round trip: the counting cards of Combine's reference suite whose systematics are symmetric lnN
  only, exported and run by ``combine -M AsymptoticLimits ws.json --normsys-interpcode code1``,
  give Combine's recorded limits within 1 %;
* pyhf itself (a test dependency only) accepts the exported files, and its CLs at mu = 1 equals ours
  on the same file;
* cards with asymmetric lnN, shape systematics, rateParams and autoMCStats export, validate and
  print the side-by-side comparison;
* what has no HistFactory form is refused with one line, exit 1, and no file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pycombine.errors import DatacardError
from pycombine.interop.pyhf.export import READ_BACK, export_workspace
from pycombine.methods.asymptotic_limits import asymptotic_limits
from pycombine.run.loading import load
from pycombine.run.options import RunOptions
from pycombine.run.session import Session

from contract import assert_refused, limit_values, run_cli
from refsuite import AVAILABLE, CASES, expected, params, ref_path

REPO = Path(__file__).resolve().parents[1]
CARDS = REPO / "datacards"


def _export(card: Path, out: Path, **opts) -> tuple[dict, list[str]]:
    c, spec = load(str(card), RunOptions.defaults(**opts))
    ws, notes = export_workspace(c, spec)
    out.write_text(json.dumps(ws))
    return ws, notes


# ---------------------------------------------------------------------- round trip against Combine
def _symmetric_lnn_only(card: Path) -> bool:
    try:
        _c, spec = load(str(card), RunOptions.defaults())
    except Exception:  # noqa: BLE001 - a card we cannot build is not a round-trip case
        return False
    if spec.formulas or any(p.kind != "poi" and p.origin != "lnN" for p in spec.parameters.values()):
        return False
    return not any(p.asym_lnN or p.gmN or p.shapes for ch in spec.channels for p in ch.processes)


def _round_trip_cases() -> list[str]:
    if not AVAILABLE:
        return []
    out = []
    for c in CASES["cases"]:
        if c["group"] != "counting" or c["method"] != "AsymptoticLimits" or c["setup"]:
            continue
        card = ref_path("cards", c["folder"], c["command"].split()[3])
        if card.is_file() and _symmetric_lnn_only(card):
            out.append(c["id"])
    return out


ROUND_TRIP = _round_trip_cases()


def test_round_trip_cases_are_found():
    if not AVAILABLE:
        pytest.skip("the reference suite is not here")
    assert len(ROUND_TRIP) >= 5, ROUND_TRIP
    assert "count_simple_asym" in ROUND_TRIP and "asymm_lnN_asym" not in ROUND_TRIP


@pytest.mark.parametrize("case_id", params(ROUND_TRIP, ids=str))
def test_round_trip_reproduces_combine(tmp_path, case_id):
    """Export, read back with normsys code 1, run the case's command: Combine's limits within 1 %."""
    exp = expected(case_id)
    words = exp["command"].split()
    card, extra = words[3], words[4:]
    _export(ref_path("cards", exp["folder"], card), tmp_path / "ws.json")
    r = run_cli(["-M", "AsymptoticLimits", "ws.json", *READ_BACK_ARGS, *extra], tmp_path)
    assert r.code == 0, r.err
    (name, ref), = exp["outputs"].items()
    ours = limit_values(tmp_path / name)
    want = np.asarray(ref["limit"]["limit"], dtype=float)
    assert ours.shape == want.shape
    np.testing.assert_allclose(ours, want, rtol=0.01)


READ_BACK_ARGS = ["--normsys-interpcode", READ_BACK["normsys_interpcode"],
                  "--histosys-interpcode", READ_BACK["histosys_interpcode"]]


def test_symmetric_lnn_is_exact(tmp_path):
    """Card and export have the same NLL differences everywhere (symmetric lnN, code 1)."""
    card = tmp_path / "card.txt"
    card.write_text(COUNTING)
    _export(card, tmp_path / "ws.json")
    a = Session.from_card(str(card), "MultiDimFit")
    b = Session.from_card(str(tmp_path / "ws.json"), "MultiDimFit", **READ_BACK)
    fa, fb = a.fitter(a.observed), b.fitter(b.observed)
    rng = np.random.default_rng(1)
    base_a, base_b = None, None
    for _ in range(6):
        r, t1, t2 = rng.uniform(0.1, 5), rng.uniform(-2.5, 2.5), rng.uniform(-2.5, 2.5)
        xa, xb = a.state.values.copy(), b.state.values.copy()
        for s, x, vals in ((a, xa, (r, t1, t2)), (b, xb, (r, t1, t2))):
            for n, v in zip(("r", "sigunc", "bkgunc"), vals):
                x[s.index(n)] = v
        na, nb = fa.nll(xa), fb.nll(xb)
        if base_a is None:
            base_a, base_b = na, nb
        assert na - base_a == pytest.approx(nb - base_b, abs=1e-9)


COUNTING = """imax 2 jmax 1 kmax 2
bin a b
observation 7 12
bin a a b b
process sig bkg sig bkg
process 0 1 0 1
rate 2.5 4.0 1.2 9.0
sigunc lnN 1.10 - 1.10 -
bkgunc lnN - 1.25 - 0.85
"""


# ---------------------------------------------------------------------- pyhf accepts it and agrees
def _pyhf():
    pyhf = pytest.importorskip("pyhf")
    pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer())
    return pyhf


def _dijet(tmp_path: Path) -> Path:
    """The bundled dijet card with an asymmetric lnN added (shape, rateParam, autoMCStats, asym lnN)."""
    for f in ("dijet_resonance.txt", "dijet_resonance_input.root"):
        shutil.copy(CARDS / "shapes" / f, tmp_path / f)
    card = tmp_path / "dijet_resonance.txt"
    text = card.read_text().replace("top_xs       lnN      -        -        1.08",
                                    "top_xs       lnN      -        -        1.08\n"
                                    "sig_acc      lnN      0.93/1.05 -       -")
    card.write_text(text)
    return card


@pytest.mark.parametrize("which", ["counting", "monojet", "dijet", "tprime"])
def test_pyhf_accepts_and_agrees(tmp_path, which):
    pyhf = _pyhf()
    if which == "counting":
        card = tmp_path / "card.txt"
        card.write_text(COUNTING)
    elif which == "monojet":
        card = CARDS / "counting" / "monojet_counting.txt"
    elif which == "dijet":
        card = _dijet(tmp_path)
    else:
        card = CARDS / "tprime" / "combined_search.txt"
    path = tmp_path / "ws.json"
    ws, _notes = _export(card, path)
    pyhf.schema.validate(ws, "workspace.json")
    w = pyhf.Workspace(ws)
    m = w.model(modifier_settings={"normsys": {"interpcode": "code1"}, "histosys": {"interpcode": "code4p"}})
    theirs = float(pyhf.infer.hypotest(1.0, w.data(m), m, test_stat="qtilde"))
    s = Session.from_card(str(path), "AsymptoticLimits", **READ_BACK)
    ours = asymptotic_limits(s, s.observed, single_point=1.0).observed.limit
    assert ours == pytest.approx(theirs, abs=1e-3)


# ---------------------------------------------------------------------- the command
def test_command_prints_the_comparison(tmp_path):
    pyhf = _pyhf()
    card = _dijet(tmp_path)
    r = run_cli(["export-pyhf", str(card), "-o", "ws.json"], tmp_path, script="pycombine")
    assert r.code == 0, r.err
    for text in ("Wrote ws.json", "Approximations:", "asymmetric lnN", "staterror", "shape",
                 "Card vs export", "observed limit r <", "expected median r <", "best fit r"):
        assert text in r.out, (text, r.out)
    ws = json.loads((tmp_path / "ws.json").read_text())
    pyhf.schema.validate(ws, "workspace.json")
    types = {m["type"] for ch in ws["channels"] for s in ch["samples"] for m in s["modifiers"]}
    assert {"normfactor", "normsys", "histosys", "staterror"} <= types <= {"normfactor", "normsys", "histosys",
                                                                          "staterror", "shapesys"}
    # a shape uncertainty is a normsys and a histosys of one name (one parameter, as in HistFactory)
    jes = {m["type"] for s in ws["channels"][0]["samples"] if s["name"] == "zprime" for m in s["modifiers"]
           if m["name"] == "jes"}
    assert jes == {"normsys", "histosys"}
    # the limits of card and export are close (the printed relative differences are small)
    rows = {line[:22].strip(): line.split() for line in r.out.splitlines() if " r <" in line}
    for label in ("observed limit r <", "expected median r <"):
        card_v, exp_v = float(rows[label][-4]), float(rows[label][-3])
        assert exp_v == pytest.approx(card_v, rel=0.05), r.out


def test_no_compare_and_rateparam(tmp_path):
    r = run_cli(["export-pyhf", str(CARDS / "tprime" / "combined_search.txt"), "-o", "ws.json", "--no-compare"],
                tmp_path, script="pycombine")
    assert r.code == 0, r.err
    assert "Card vs export" not in r.out
    ws = json.loads((tmp_path / "ws.json").read_text())
    (meas,) = ws["measurements"]
    settings = {p["name"]: p for p in meas["config"]["parameters"]}
    assert meas["config"]["poi"] == "r" and settings["r"]["bounds"] == [[0.0, 20.0]]
    assert settings["ttbar_norm"]["bounds"] == [[0.0, 5.0]] and settings["ttbar_norm"]["inits"] == [1.0]


def test_frozen_nuisance_is_fixed(tmp_path):
    card = tmp_path / "card.txt"
    card.write_text(COUNTING + "nuisance edit freeze bkgunc\n")
    ws, _ = _export(card, tmp_path / "ws.json")
    settings = {p["name"]: p for p in ws["measurements"][0]["config"]["parameters"]}
    assert settings["bkgunc"]["fixed"] is True and "sigunc" not in settings


def test_gmn_maps_to_shapesys(tmp_path):
    """gmN N alpha -> shapesys with tau = N: the same likelihood (Poisson(N; n))."""
    ws, _ = _export(CARDS / "counting" / "monojet_counting.txt", tmp_path / "ws.json")
    znunu = next(s for s in ws["channels"][0]["samples"] if s["name"] == "znunu")
    (mod,) = [m for m in znunu["modifiers"] if m["type"] == "shapesys"]
    assert mod["name"] == "znunu_cr"
    assert (znunu["data"][0] / mod["data"][0]) ** 2 == pytest.approx(18.0)


# ---------------------------------------------------------------------- refusals
REFUSED = {
    "formula": ("imax 1 jmax 1 kmax *\nbin a\nobservation 5\nbin a a\nprocess s b\nprocess 0 1\nrate 1 4\n"
                "x rateParam a b 1 [0,3]\ny rateParam a b (@0*@0) x\n", "formula"),
    "extArg": ("imax 1 jmax 1 kmax *\nbin a\nobservation 5\nbin a a\nprocess s b\nprocess 0 1\nrate 1 4\n"
               "k extArg 1 [0,2]\n", "extArg k"),
    "lnU": ("imax 1 jmax 1 kmax *\nbin a\nobservation 5\nbin a a\nprocess s b\nprocess 0 1\nrate 1 4\n"
            "u lnU - 1.5\n", "lnU u"),
    "param": ("imax 1 jmax 1 kmax *\nbin a\nobservation 5\nbin a a\nprocess s b\nprocess 0 1\nrate 1 4\n"
              "k lnN - 1.2\nk param 0.5 1\n", "k"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refusals(tmp_path, case):
    text, fragment = REFUSED[case]
    (tmp_path / "card.txt").write_text(text)
    r = run_cli(["export-pyhf", "card.txt", "-o", "ws.json"], tmp_path, script="pycombine")
    msg = assert_refused(r, tmp_path, "cannot export to pyhf", fragment, what=case)
    assert "card.txt:" in msg
    assert not (tmp_path / "ws.json").exists()


def test_physics_model_refused(tmp_path):
    card = tmp_path / "card.txt"
    card.write_text(COUNTING)
    opts = RunOptions.defaults(text2workspace="-P HiggsAnalysis.CombinedLimit.PhysicsModel:multiSignalModel "
                                              "--PO map=.*/sig:r_s[1,0,10]")
    c, spec = load(str(card), opts)
    with pytest.raises(DatacardError, match="physics model"):
        export_workspace(c, spec)
