"""text2workspace.py, the pycombine workspace file, and combine on workspaces (snapshots included).

The console scripts run in subprocesses on the bundled ``datacards/hww`` combination (six shape
channels with autoMCStats) and on a counting card written here. Expected results are always
derived from a second run (``combine card.txt`` for ``combine ws.root``; a direct run with the
parameters fixed at the snapshot's values for the snapshot workflow), never stored numbers.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from refsuite import bin_dir, env

REPO = Path(__file__).resolve().parents[1]
HWW = REPO / "datacards" / "hww"

COUNTING = """imax 1
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
lumi    lnN   1.1   1.1
bkgunc  lnN   -     1.3
"""


def run(cwd: Path, script: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run([str(Path(bin_dir()) / script), *args], check=False, cwd=cwd, capture_output=True, text=True,
                       env=env(), timeout=600)
    if ok:
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


def combine(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    return run(cwd, "combine", *args, ok=ok)


def t2w(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    return run(cwd, "text2workspace.py", *args, ok=ok)


def arrays(path: Path, name: str = "limit") -> dict[str, np.ndarray]:
    import uproot

    with uproot.open(path) as f:
        return {k: np.asarray(v) for k, v in f[name].arrays(library="np").items()}


def assert_same_tree(a: Path, b: Path, name: str = "limit") -> None:
    ta, tb = arrays(a, name), arrays(b, name)
    assert list(ta) == list(tb)
    for k in ta:
        np.testing.assert_array_equal(ta[k], tb[k], err_msg=k)


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def assert_clean_error(p: subprocess.CompletedProcess, cwd: Path, *words: str) -> str:
    assert p.returncode == 1, p.stdout[-2000:] + p.stderr[-2000:]
    assert "Traceback" not in p.stdout + p.stderr
    msg = last_line(p.stderr)
    assert msg.startswith("Error: "), msg
    for w in words:
        assert w in msg, msg
    assert not list(cwd.glob("higgsCombine*.root"))
    return msg


@pytest.fixture
def hww(tmp_path) -> Path:
    shutil.copytree(HWW, tmp_path, dirs_exist_ok=True)
    return tmp_path


@pytest.fixture
def counting(tmp_path) -> Path:
    (tmp_path / "card.txt").write_text(COUNTING)
    return tmp_path


# ------------------------------------------------------------------------ combine ws.root == combine card.txt
@pytest.mark.parametrize("method", [
    ("AsymptoticLimits",),
    ("FitDiagnostics", "--saveShapes", "--saveWithUncertainties"),
    ("MultiDimFit", "--algo", "singles"),
], ids=lambda m: m[0])
def test_workspace_gives_the_numbers_of_the_card(hww, method):
    t = t2w(hww, "combined_datacard.txt", "-m", "125", "-o", "ws.root")
    assert t.stdout.startswith("Channel SR0j will use autoMCStats")  # text2workspace prints the build's tables
    card = combine(hww, "-M", *method, "combined_datacard.txt", "-m", "125", "-n", "Card")
    ws = combine(hww, "-M", *method, "ws.root", "-m", "125", "-n", "WS")
    # the same console text, except text2workspace's output (not repeated, as in Combine)
    assert t.stdout in card.stdout
    assert ws.stdout == card.stdout.replace(t.stdout, "")
    assert ws.stderr == card.stderr
    m = method[0]
    assert_same_tree(hww / f"higgsCombineCard.{m}.mH125.root", hww / f"higgsCombineWS.{m}.mH125.root")
    if m == "FitDiagnostics":
        import uproot

        with uproot.open(hww / "fitDiagnosticsCard.root") as a, uproot.open(hww / "fitDiagnosticsWS.root") as b:
            assert a.classnames() == b.classnames()
            for key, cls in a.classnames().items():
                if cls.startswith("TH1"):
                    np.testing.assert_array_equal(a[key].values(), b[key].values(), err_msg=key)
                    np.testing.assert_array_equal(a[key].errors(), b[key].errors(), err_msg=key)
            for tree in ("tree_fit_sb", "tree_fit_b"):
                ta, tb = a[tree].arrays(library="np"), b[tree].arrays(library="np")
                for k in ta:
                    np.testing.assert_array_equal(ta[k], tb[k], err_msg=f"{tree}/{k}")


def test_workspace_does_not_need_the_original_inputs(hww, tmp_path_factory):
    t2w(hww, "combined_datacard.txt", "-o", "ws.root")
    combine(hww, "-M", "MultiDimFit", "combined_datacard.txt", "-n", "Card")
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    shutil.copy(hww / "ws.root", elsewhere / "ws.root")
    combine(elsewhere, "-M", "MultiDimFit", "ws.root", "-n", "WS")
    assert_same_tree(hww / "higgsCombineCard.MultiDimFit.mH120.root", elsewhere / "higgsCombineWS.MultiDimFit.mH120.root")


def test_counting_card_and_masks(counting):
    t2w(counting, "card.txt", "--channel-masks", "-o", "ws.root")
    ws = combine(counting, "-M", "MultiDimFit", "ws.root", "--setParameters", "mask_b1=1", "-n", "WS")
    card = combine(counting, "-M", "MultiDimFit", "card.txt", "--text2workspace", "--channel-masks",
                   "--setParameters", "mask_b1=1", "-n", "Card")
    assert ">>> 1 out of 1 channels masked" in ws.stdout
    assert ws.stdout == card.stdout
    assert_same_tree(counting / "higgsCombineCard.MultiDimFit.mH120.root", counting / "higgsCombineWS.MultiDimFit.mH120.root")


# ------------------------------------------------------------------------ the file
def _bits(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).view(np.uint64)


def test_templates_are_stored_bit_exactly(hww):
    from pycombine.run.workspace import Settings, build_text_card, read_workspace, write_workspace

    _card, _spec, ws = build_text_card(str(hww / "combined_datacard.txt"), Settings(mass=125.0, mass_string="125"))
    assert ws is not None and len(ws.templates) > 100
    write_workspace(str(hww / "ws.root"), ws)
    back = read_workspace(str(hww / "ws.root"))
    assert list(back.templates) == list(ws.templates)  # same keys, same (reading) order
    for key, t in ws.templates.items():
        b = back.templates[key]
        if t is None:
            assert b is None
            continue
        np.testing.assert_array_equal(_bits(b.values), _bits(t.values), err_msg=str(key))
        np.testing.assert_array_equal(_bits(b.errors), _bits(t.errors), err_msg=str(key))
        assert _bits(b.integral) == _bits(t.integral) and b.source == t.source
    assert back.card_text == (hww / "combined_datacard.txt").read_text()
    assert back.physics.to_json() == ws.physics.to_json()
    assert back.settings == ws.settings


def test_awkward_template_numbers_survive(tmp_path):
    """Errors whose square under- or overflows, negative, zero, NaN and infinite contents."""
    from pycombine.physics import PhysicsSetup
    from pycombine.run.workspace import Settings, Workspace, read_workspace, write_workspace
    from pycombine.shapes import Template

    values = np.array([0.1, -2.5, 0.0, np.nan, np.inf, 3e38], dtype=np.float32).astype(np.float64)
    errors = np.array([np.sqrt(5e-324), 1e-170, 1e200, 0.3, 0.0, np.nextafter(1.0, 2.0)])
    t = Template(values, errors, 0.1 + 0.2, "in.root:h")
    ws = Workspace("card.txt", COUNTING, Settings(), PhysicsSetup("m"), {("b1", "sig", ""): t, ("b1", "bkg", "xUp"): None})
    write_workspace(str(tmp_path / "ws.root"), ws)
    back = read_workspace(str(tmp_path / "ws.root"))
    b = back.templates[("b1", "sig", "")]
    np.testing.assert_array_equal(_bits(b.values), _bits(values))
    np.testing.assert_array_equal(_bits(b.errors), _bits(errors))
    assert b.integral == 0.1 + 0.2 and back.templates[("b1", "bkg", "xUp")] is None


def test_layout_is_readable_with_uproot(hww):
    import uproot

    t2w(hww, "combined_datacard.txt", "-m", "125", "-o", "ws.root")
    with uproot.open(hww / "ws.root") as f:
        assert f.classnames()["w/index;1"] == "TObjString"
        index = json.loads(str(f["w/index"]))
        assert index["format"] == "pycombine-workspace" and index["version"] == 1
        assert str(f["w/card"]) == (hww / "combined_datacard.txt").read_text()
        assert index["settings"]["mass"] == 125.0 and index["settings"]["mass_string"] == "125"
        assert index["physics"]["pois"] == ["r"]
        assert index["state"] is None and index["snapshots"] == {}
        entry = next(e for e in index["templates"] if e["hist"])
        h = f[f"w/templates/{entry['hist']}"]
        assert h.classname == "TH1D" and h.title == entry["source"]
        with uproot.open(hww / entry["source"].rsplit(":", 1)[0]) as src:
            original = src[entry["source"].rsplit(":", 1)[1]]
            np.testing.assert_array_equal(h.values(), original.values().astype(np.float32))
            assert entry["integral"] == float(np.sum(original.values(), dtype=np.float64))


def test_default_output_name_and_gz(counting):
    t2w(counting, "card.txt")
    assert (counting / "card.root").is_file()
    with gzip.open(counting / "other.txt.gz", "wt") as f:
        f.write(COUNTING)
    t2w(counting, "other.txt.gz")
    assert (counting / "other.root").is_file()
    from pycombine.run.workspace import default_output

    assert default_output("dir/card.txt") == "dir/card.root" and default_output("card.dat") == "card.dat.root"


def test_roofit_tuning_switches_are_accepted_with_one_note(counting):
    plain = t2w(counting, "card.txt", "-o", "plain.root")
    p = t2w(counting, "card.txt", "-o", "tuned.root", "--for-fits", "--optimize-simpdf-constraints", "cms",
            "--X-pack-asympows", "--no-wrappers", "--use-histsum", "--no-optimize-pdfs", "--X-no-optimize-templates", "-b")
    notes = [line for line in p.stderr.splitlines() if line.startswith("Note:")]
    assert len(notes) == 1 and "no effect" in notes[0]
    for switch in ("--for-fits", "--optimize-simpdf-constraints", "--X-pack-asympows", "--no-wrappers", "--use-histsum",
                   "--no-optimize-pdfs", "--X-no-optimize-templates"):
        assert switch in notes[0]
    assert "-b" not in notes[0].replace("--", "")  # -b (a ROOT file) is what we do anyway
    assert plain.stderr == ""
    from pycombine.run.workspace import read_workspace

    assert read_workspace(str(counting / "tuned.root")) == read_workspace(str(counting / "plain.root"))


def test_text2workspace_errors_leave_no_file(counting):
    p = t2w(counting, "missing.txt", ok=False)
    assert p.returncode == 1 and last_line(p.stderr) == "Error: missing.txt: datacard file does not exist"
    (counting / "bad.txt").write_text(COUNTING.replace("rate           3  5", "rate           3"))
    p = t2w(counting, "bad.txt", ok=False)
    assert p.returncode == 1 and "Traceback" not in p.stderr and last_line(p.stderr).startswith("Error: bad.txt:")
    p = t2w(counting, "card.txt", "--X-rescale-nuisance", "lumi", "2", ok=False)
    assert p.returncode == 1 and "not supported" in last_line(p.stderr)
    p = t2w(counting, "card.txt", "--no-such-switch", ok=False)
    assert p.returncode == 1 and "no-such-switch" in p.stderr
    assert not list(counting.glob("*.root")) and not list(counting.glob(".*tmp*"))


def test_just_check_physics_model_writes_nothing(counting):
    p = t2w(counting, "card.txt", "--just-check-physics-model")
    assert p.stdout.splitlines()[-1] == "Model is OK"
    assert not list(counting.glob("*.root"))


# ------------------------------------------------------------------------ inputs combine refuses
def _roofit_file(path: Path) -> None:
    """A ROOT file whose key 'w' has class RooWorkspace (a TH1D key renamed in place: the class
    name grows by 8 bytes, the key title shrinks by 8)."""
    from pycombine.outputs.root.file import RootFileWriter

    with RootFileWriter(path) as out:
        out.th1("w", np.array([1.0]), title="abcdefgh", classname="TH1D")
    raw = path.read_bytes()
    old, new = b"\x04TH1D\x01w\x08abcdefgh", b"\x0cRooWorkspace\x01w\x00"
    assert raw.count(old) == 2  # the key in its record and in the directory's key list
    path.write_bytes(raw.replace(old, new))


def test_roofit_workspace_is_refused_with_directions(counting):
    import uproot

    _roofit_file(counting / "combine_ws.root")
    with uproot.open(counting / "combine_ws.root") as f:
        assert f.classnames() == {"w;1": "RooWorkspace"}
    p = combine(counting, "combine_ws.root", ok=False)
    assert_clean_error(p, counting, "combine_ws.root", "RooWorkspace", "text2workspace.py card.txt -o ws.root",
                             "datacard")


@pytest.mark.parametrize("kind", ["missing", "garbage", "truncated", "other_root", "directory"])
def test_bad_root_inputs(counting, kind):
    t2w(counting, "card.txt", "-o", "good.root")
    path = counting / "in.root"
    if kind == "garbage":
        path.write_text("not a ROOT file\n")
    elif kind == "truncated":
        path.write_bytes((counting / "good.root").read_bytes()[:1500])
    elif kind == "other_root":
        shutil.copy(HWW / "combine_input_Top_0j.root", path)
    elif kind == "directory":
        path.mkdir()
    words = {"missing": ("does not exist",), "garbage": ("not a ROOT file",), "truncated": ("damaged or truncated",),
             "other_root": ("no pycombine workspace", "text2workspace.py"), "directory": ("directory",)}[kind]
    assert_clean_error(combine(counting, "in.root", ok=False), counting, "in.root", *words)


def test_unknown_workspace_name(counting):
    t2w(counting, "card.txt", "-o", "ws.root")
    assert_clean_error(combine(counting, "ws.root", "-w", "other", ok=False), counting, "'other'")
    combine(counting, "ws.root", "-w", "w", "-n", "W")


# ------------------------------------------------------------------------ snapshots
def _snapshot(path: Path, name: str = "MultiDimFit") -> dict[str, float]:
    import uproot

    with uproot.open(path) as f:
        return {n: v[0] for n, v in json.loads(str(f["w/index"]))["snapshots"][name].items()}


@pytest.mark.parametrize("source", ["card", "workspace"])
def test_snapshot_workflow_equals_a_run_with_the_parameters_fixed(hww, source):
    """The stat-only scan of Combine's docs: save the best fit, reload it, freeze the nuisances."""
    inp = "combined_datacard.txt"
    if source == "workspace":
        t2w(hww, inp, "-m", "120", "-o", "ws.root")
        inp = "ws.root"
    first = combine(hww, "-M", "MultiDimFit", inp, "--saveWorkspace", "-n", "Save")
    saved = hww / "higgsCombineSave.MultiDimFit.mH120.root"
    snap = _snapshot(saved)
    best = float(arrays(saved)["r"][0])
    assert abs(snap["r"] - best) < 1e-6 and f"r :    {snap['r']:+.3f}" in first.stdout
    assert set(arrays(saved)) >= {"limit", "r", "deltaNLL"}
    scan = ("--algo", "grid", "--points", "6", "--freezeParameters", "allConstrainedNuisances")
    p = combine(hww, "-M", "MultiDimFit", saved.name, "--snapshotName", "MultiDimFit", "-w", "w", *scan, "-n", "Stat")
    assert "Set Default Value" not in p.stdout
    setp = ",".join(f"{n}={v!r}" for n, v in snap.items())
    combine(hww, "-M", "MultiDimFit", "combined_datacard.txt", "--setParameters", setp, *scan, "-n", "Direct")
    assert_same_tree(hww / "higgsCombineStat.MultiDimFit.mH120.root", hww / "higgsCombineDirect.MultiDimFit.mH120.root")
    # the nuisances stayed at the snapshot's values: the scan differs from the profiled one
    combine(hww, "-M", "MultiDimFit", saved.name, *scan[:4], "-n", "Prof")
    assert not np.array_equal(arrays(hww / "higgsCombineProf.MultiDimFit.mH120.root")["deltaNLL"],
                              arrays(hww / "higgsCombineStat.MultiDimFit.mH120.root")["deltaNLL"])


def test_saved_workspace_keeps_the_run_state(counting):
    combine(counting, "-M", "MultiDimFit", "card.txt", "--saveWorkspace", "--rMin", "-2", "--rMax", "7",
            "--freezeParameters", "lumi", "-n", "Save")
    from pycombine.run.workspace import read_workspace

    ws = read_workspace(str(counting / "higgsCombineSave.MultiDimFit.mH120.root"))
    assert ws.state["r"][1:] == (-2.0, 7.0, False) and ws.state["lumi"][3] is True
    assert set(ws.snapshots) == {"clean", "MultiDimFit"} and ws.snapshots["clean"].values["r"] == 2.5
    # a run on it starts from that state: r in [-2, 7], lumi constant
    a = combine(counting, "-M", "MultiDimFit", "higgsCombineSave.MultiDimFit.mH120.root", "-n", "A")
    b = combine(counting, "-M", "MultiDimFit", "card.txt", "--rMin", "-2", "--rMax", "7", "--freezeParameters", "lumi",
                "-n", "B")
    assert a.stdout == b.stdout
    assert_same_tree(counting / "higgsCombineA.MultiDimFit.mH120.root", counting / "higgsCombineB.MultiDimFit.mH120.root")


def test_snapshot_and_toys_keep_r_unless_expectSignal(counting):
    from pycombine.run.loading import load
    from pycombine.run.options import RunOptions
    from pycombine.run.session import Session

    combine(counting, "-M", "MultiDimFit", "card.txt", "--saveWorkspace", "-n", "Save")
    path = str(counting / "higgsCombineSave.MultiDimFit.mH120.root")
    r_hat = _snapshot(Path(path))["r"]
    assert r_hat > 0.1
    for extra, r in (({}, r_hat), ({"expect_signal": 0.0}, 0.0), ({"set_parameters": "r=0.5"}, 0.5)):
        opts = RunOptions.defaults(method="MultiDimFit", cards=(path,), snapshot_name="MultiDimFit", toys=-1, **extra)
        _, spec = load(path, opts)
        s = Session(spec, opts, out=lambda m: None)
        assert s.state.values[s.index("r")] == r, extra
        assert s.state.values[s.index("lumi")] == _snapshot(Path(path))["lumi"]
    opts = RunOptions.defaults(method="MultiDimFit", cards=(path,), toys=-1)
    _, spec = load(path, opts)
    s = Session(spec, opts, out=lambda m: None)
    assert s.state.values[s.index("r")] == 0.0  # no snapshot: r = --expectSignal (0)


def test_unknown_snapshot_is_a_clear_error(counting):
    combine(counting, "-M", "MultiDimFit", "card.txt", "--saveWorkspace", "-n", "Save")
    p = combine(counting, "-M", "MultiDimFit", "higgsCombineSave.MultiDimFit.mH120.root", "--snapshotName", "Nope",
                "-n", "X", ok=False)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "Nope" in last_line(p.stderr) and "MultiDimFit" in last_line(p.stderr)
    assert not (counting / "higgsCombineX.MultiDimFit.mH120.root").exists()
    p = combine(counting, "-M", "MultiDimFit", "card.txt", "--snapshotName", "MultiDimFit", "-n", "Y", ok=False)
    assert p.returncode == 1 and "snapshot" in last_line(p.stderr)


def test_saveWorkspace_elsewhere_is_noted(counting):
    p = combine(counting, "-M", "AsymptoticLimits", "card.txt", "--saveWorkspace")
    assert "--saveWorkspace" in p.stderr
    import uproot

    with uproot.open(counting / "higgsCombineTest.AsymptoticLimits.mH120.root") as f:
        assert "w" not in [k.split(";")[0] for k in f.keys()]


# ------------------------------------------------------------------------ compatibility
def test_old_method_and_option_names(counting):
    old = combine(counting, "-M", "Asymptotic", "card.txt", "-n", "Old")
    new = combine(counting, "-M", "AsymptoticLimits", "card.txt", "-n", "Old")
    assert old.stdout == new.stdout and ">>> Method used is AsymptoticLimits" in old.stdout
    assert (counting / "higgsCombineOld.AsymptoticLimits.mH120.root").exists()
    a = combine(counting, "-M", "MultiDimFit", "card.txt", "--setPhysicsModelParameters", "r=1.5",
                "--freezeNuisances=lumi", "--algo", "grid", "--points", "3", "-n", "A")
    b = combine(counting, "-M", "MultiDimFit", "card.txt", "--setParameters", "r=1.5",
                "--freezeParameters=lumi", "--algo", "grid", "--points", "3", "-n", "B")
    assert a.stdout == b.stdout and "Set Default Value of Parameter r To : 1.5" in a.stdout
    assert_same_tree(counting / "higgsCombineA.MultiDimFit.mH120.root", counting / "higgsCombineB.MultiDimFit.mH120.root")


def test_nllbackend_is_accepted_with_a_note(counting):
    p = combine(counting, "-M", "MultiDimFit", "card.txt", "--nllbackend", "cpu")
    assert "--nllbackend" in p.stderr and "no effect" in p.stderr
    p = combine(counting, "-M", "MultiDimFit", "card.txt", "--nllbackend", "gpu", ok=False)
    assert p.returncode == 1 and "nllbackend" in last_line(p.stderr)


def _methods():
    from pycombine.methods import METHODS

    out = [("NoSuchMethod", ("--LHCmode", "LHC-limits"))]
    if "HybridNew" not in METHODS:
        out.append(("HybridNew", ("--LHCmode", "LHC-limits")))
    return out


@pytest.mark.parametrize("method, options", _methods(), ids=lambda v: v if isinstance(v, str) else "")
def test_unsupported_method_is_named_before_its_options(counting, method, options):
    for args in (("-M", method, *options, "card.txt"), (f"--method={method}", *options, "card.txt"),
                 (*options, f"-M{method}", "card.txt")):
        p = combine(counting, *args, ok=False)
        msg = assert_clean_error(p, counting, f"Unsupported method: {method}")
        assert "LHCmode" not in p.stderr and "<<< Combine >>>" not in p.stdout, msg


def test_text2workspace_string_passes_the_physics_model(counting):
    from pycombine.errors import OptionError
    from pycombine.datacard import parse_datacard_text
    from pycombine.physics import resolve_physics

    model = "HiggsAnalysis.CombinedLimit.PhysicsModel:multiSignalModel"
    try:
        resolve_physics(parse_datacard_text(COUNTING), model, ("map=.*/sig:r_s[1,0,10]",), mass=120.0)
    except OptionError as exc:
        pytest.skip(f"multiSignalModel is not available yet: {exc}")
    option = f"-P {model} --PO 'map=.*/sig:r_s[1,0,10]'"
    p = combine(counting, "-M", "MultiDimFit", "card.txt", "--text2workspace", option, "-n", "P")
    assert "r_s :" in p.stdout
    assert "r_s" in arrays(counting / "higgsCombineP.MultiDimFit.mH120.root")
    t = t2w(counting, "card.txt", "-m", "120", "-P", model, "--PO", "map=.*/sig:r_s[1,0,10]", "-o", "ws.root")
    q = combine(counting, "-M", "MultiDimFit", "ws.root", "-n", "Q")
    assert_same_tree(counting / "higgsCombineP.MultiDimFit.mH120.root", counting / "higgsCombineQ.MultiDimFit.mH120.root")
    assert t.stdout and t.stdout in p.stdout and q.stdout == p.stdout.replace(t.stdout, "")


def test_startup_of_text2workspace_imports_no_heavy_library():
    import ast
    import sys

    code = ("import pycombine.cli.text2workspace as t; t.build_command(); import sys; "
            "print(sorted({m.split('.')[0] for m in sys.modules}))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(ast.literal_eval(p.stdout.strip()))
    assert not loaded & {"numpy", "scipy", "uproot", "iminuit", "pandas", "lark", "awkward", "matplotlib"}
