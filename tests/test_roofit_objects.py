"""fitDiagnostics objects as Combine writes them (RooFitResult, RooArgSet) and what reads them.

Without ROOT: the serialiser's records, the file layout as uproot sees it, the ``tree_prefit`` of a
model without nuisances, the histogram views.

With the real ROOT (PyPI ``root``, in the ``compat`` extra; or a Python that has it named by
``$PYCOMBINE_ROOT_PYTHON``), run in a subprocess through ``roofit_root_helper.py``:

* ROOT writes the same RooFit objects and our bytes equal ROOT's, byte for byte; the StreamerInfo
  records we ship equal the ones ROOT writes;
* ROOT opens our fitDiagnostics files without a warning, and ``floatParsFinal()``, ``status()``,
  ``covQual()``, ``minNll()``, ``edm()``, ``correlation(a, b)``, ``correlationHist()``,
  ``nuisances_prefit.getSize()``, ``norm_fit_s.find("ch/proc").getVal()`` return the numbers of
  the fit run in the test; for the regression suite's FitDiagnostics cases, the file holds every
  object Combine's holds and ``fit_s`` gives Combine's r̂ and 68 % interval (``err68``);
* Combine's ``diffNuisances.py`` (taken from the Combine repository at test time, never stored
  here) and combine_postfits (``combine_postfits`` in its data/MC/toys modes, with ``--sigs
  tprime --rmap tprime:r``, and ``combine_postfits_cov``) run on our files;
* ROOT's ``hadd`` merges toy FitDiagnostics files, and ROOT reads every object of our outputs of
  every method without a warning.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from refsuite import AVAILABLE, KNOWN_DIFFERENCES, SKIP_REASON, built_case_ids, env, expected, run_case

uproot = pytest.importorskip("uproot")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
HELPER = HERE / "roofit_root_helper.py"
HWW = REPO / "datacards" / "hww" / "combined_datacard.txt"
TPRIME = REPO / "datacards" / "tprime"
COMBINE_GIT = Path(os.environ.get("PYCOMBINE_COMBINE_GIT",
                                  REPO.parent / ".mirror" / "cms-analysis+HiggsAnalysis-CombinedLimit" / "repo"))


def _root_python() -> str | None:
    """A Python interpreter that can import ROOT (this one, or $PYCOMBINE_ROOT_PYTHON)."""
    explicit = os.environ.get("PYCOMBINE_ROOT_PYTHON")
    if explicit:
        return explicit
    return sys.executable if importlib.util.find_spec("ROOT") is not None else None


ROOT_PYTHON = _root_python()
NO_ROOT = ("the real ROOT is not installed: pip install '.[compat]' (PyPI 'root' and 'combine-postfits'), "
           "or set PYCOMBINE_ROOT_PYTHON to a Python that has them")
needs_root = pytest.mark.skipif(ROOT_PYTHON is None, reason=NO_ROOT)
#: ROOT's own diagnostics on stderr (the PyPI build's Python banner is a UserWarning, filtered by the helper)
ROOT_MESSAGE = re.compile(r"^(Warning|Error|Fatal|SysError) in <|^\s*\*\*\* Break \*\*\*|RuntimeWarning", re.M)


def _root_env() -> dict:
    e = env()
    e["PYTHONWARNINGS"] = "ignore"
    return e


def root_run(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([ROOT_PYTHON, *args], cwd=cwd, capture_output=True, text=True, env=_root_env(),
                          timeout=timeout)


def root_read(paths: list[Path], tmp: Path) -> dict:
    """What ROOT reads from every key of each file; fails on any ROOT warning or error."""
    out = tmp / "root_read.json"
    p = root_run([str(HELPER), "read", str(out), *map(str, paths)], tmp)
    assert p.returncode == 0, p.stderr[-3000:]
    assert not ROOT_MESSAGE.search(p.stderr), p.stderr[-3000:]
    return {Path(k).name: v for k, v in json.loads(out.read_text()).items()}


def combine(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    p = subprocess.run(["combine", *args], cwd=cwd, capture_output=True, text=True, env=env(), timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return p


# ------------------------------------------------------------------------------------ our fit


def _fit_and_write(tmp: Path, card: Path, name: str, **options):
    """Run FitDiagnostics in this process and write its file: (session, result, path)."""
    from pycombine.methods.fit_diagnostics import FitDiagnosticsOptions, fit_diagnostics
    from pycombine.outputs.fit_diagnostics_file import write_fit_diagnostics
    from pycombine.run.session import Session

    s = Session.from_card(str(card), "FitDiagnostics", out=lambda *a: None, **options)
    res = fit_diagnostics(s, s.observed, 0)
    path = tmp / f"fitDiagnostics{name}.root"
    write_fit_diagnostics(str(path), s, [res], FitDiagnosticsOptions.from_opts(s.opts))
    return s, res, path


@pytest.fixture(scope="module")
def hww(tmp_path_factory):
    """The H->WW card with every FitDiagnostics output option."""
    tmp = tmp_path_factory.mktemp("hww")
    s, res, path = _fit_and_write(tmp, HWW, "HWW", mass=125.0, save_shapes=True, save_with_uncertainties=True,
                                  save_overall_shapes=True, plots=True)
    return s, res, path


COUNTING_NO_SYST = """imax 1
jmax 1
kmax 0
bin b
observation 10
bin b b
process s bkg
process 0 1
rate 3 5
"""


# ------------------------------------------------------------------------------------ without ROOT


def test_streamer_records_cover_every_class_written():
    from pycombine.outputs.root.roofit_streamers import RECORDS, raw_streamers

    names = {n for n, _, _ in RECORDS}
    assert len(names) == len(RECORDS)
    for needed in ("RooFitResult", "RooArgSet", "RooArgList", "RooAbsCollection", "RooAbsArg", "RooAbsReal",
                   "RooAbsRealLValue", "RooSTLRefCountList<RooAbsArg>", "RooRealVarSharedProperties",
                   "RooUniformBinning", "RooRangeBinning", "TMatrixTBase<double>", "TVectorT<double>",
                   "TProcessID", "TUUID", "pair<string,string>", "pair<string,int>", "pair<string,RooAbsBinning*>"):
        assert needed in names, needed
    raws = raw_streamers()
    assert [(r.name, r.class_version) for r in raws] == [(n, v) for n, v, _ in RECORDS]
    assert all(r.serialize()[4:8] == b"\xff\xff\xff\xff" for r in raws)  # each a TStreamerInfo object


def test_file_layout_as_uproot_sees_it(hww):
    s, res, path = hww
    with uproot.open(path) as f:
        classes = {k.split(";")[0]: c for k, c in f.classnames(recursive=False).items()}
        assert classes["fit_s"] == classes["fit_b"] == "RooFitResult"
        assert classes["nuisances_prefit"] == classes["norm_fit_s"] == "RooArgSet"
        assert classes["ProcessID0"] == "TProcessID"
        assert "nuisances_prefit_res" not in classes  # Combine v10.6 writes none
        for view in ("fit_s_values", "fit_b_values", "nuisances_prefit_values", "norm_prefit_values"):
            assert classes[view] == "TH1D"
        streamers = f.file.streamers
        assert 5 in streamers["RooFitResult"] and 9 in streamers["RooAbsArg"]
        # the views hold the fit's numbers, parameters sorted by name as in floatParsFinal()
        fit = res.fit_s
        names = [s.model.names[i] for i in fit.floating]
        h = f["fit_s_values"]
        labels = [str(x) for x in h.axis().labels()]
        assert labels == sorted(names)
        idx = [s.model.index[n] for n in labels]
        np.testing.assert_array_equal(h.values(), fit.values[idx])
        np.testing.assert_allclose(h.errors(), fit.errors[idx], rtol=1e-12)
        # shape histograms: the observable's name on x, as RooFit's createHistogram gives Combine's
        total = f["shapes_fit_s/SR0j/total"]
        assert total.member("fXaxis").member("fTitle") == "CMS_th1x"
        assert total.member("fYaxis").member("fTitle") == "Events / ( 1 )"
        assert f["shapes_fit_s/SR0j/total_covar"].member("fZaxis").member("fTitle") == "covar (Events / ( 1 ))"


def test_tree_prefit_without_nuisances(tmp_path):
    """A model without nuisances: tree_prefit is a one-entry tree without branches (Combine's)."""
    card = tmp_path / "card.txt"
    card.write_text(COUNTING_NO_SYST)
    combine(tmp_path, "-M", "FitDiagnostics", "card.txt")
    with uproot.open(tmp_path / "fitDiagnosticsTest.root") as f:
        t = f["tree_prefit"]
        assert t.num_entries == 1 and t.keys() == []
        assert f["tree_fit_sb"].num_entries == 1
        names = [k.split(";")[0] for k in f.keys()]
        assert "nuisances_prefit" not in names  # Combine: none without nuisances
        assert f.classnames()["fit_s;1"] == "RooFitResult"


def test_writer_refuses_bad_input(tmp_path):
    from pycombine.outputs.root import roofit
    from pycombine.outputs.root.file import RootFileWriter

    bad = roofit.FitResult("f", "f", 0, 3, 0.0, 0.0, [], [], [roofit.RealVar("a", 1.0)], np.eye(2))
    with pytest.raises(ValueError, match="covariance"):
        roofit.serialize(bad, "f")
    with pytest.raises(ValueError, match="16 bytes"):
        roofit.serialize(roofit.ArgSet([roofit.RealVar("a", 1.0, uuid=b"x")]), "s")
    with pytest.raises(TypeError):
        roofit.serialize(object(), "x")
    with pytest.raises(ValueError, match="already written"):
        with RootFileWriter(str(tmp_path / "x.root")) as out:
            out.roofit("s", roofit.ArgSet([roofit.RealVar("a", 1.0)]))
            out.roofit("s", roofit.ArgSet([roofit.RealVar("a", 1.0)]))
    assert not (tmp_path / "x.root").exists()


def test_global_correlations():
    from pycombine.outputs.root.roofit import correlation_matrix, global_correlations

    cov = np.array([[4.0, 1.2], [1.2, 1.0]])
    rho = 1.2 / 2.0
    np.testing.assert_allclose(global_correlations(cov), [abs(rho), abs(rho)])  # two parameters: |rho|
    np.testing.assert_allclose(correlation_matrix(cov), [[1, rho], [rho, 1]])
    assert global_correlations(np.diag([1.0, 2.0])).tolist() == [0.0, 0.0]
    np.testing.assert_array_equal(correlation_matrix(np.zeros((2, 2))), np.eye(2))


# ------------------------------------------------------------------------------------ ROOT's bytes

UUID_RECORD = re.compile(rb"\x40\x00\x00\x12\x00\x01(.{16})", re.S)  # TUUID [n|1] + 16 bytes


def _spec() -> dict:
    """Objects of every kind the writer produces, described for roofit_root_helper.py's ``write``."""
    cov = np.array([[0.9025, 0.1, 0.0], [0.1, 0.36, -0.05], [0.0, -0.05, 0.25]])
    from pycombine.outputs.root.roofit import correlation_matrix, global_correlations

    long_name = "prop_bin" + "x" * 300  # longer than a 1-byte string length
    return {"objects": [
        {"type": "RooArgSet", "key": "nuisances_prefit", "name": "", "snapshot": True, "vars": [
            {"name": "lumi", "value": 0.0, "error": 1.0, "asym": [1.0, 1.0], "attributes": ["optimizeBounds"]},
            {"name": "shape1", "value": 0.25, "error": 0.9, "asym": [-0.8, 1.1], "lo": -4, "hi": 4},
            {"name": "rate_bkg", "value": 1.0, "error": -1, "lo": 0, "hi": 5,
             "string_attributes": {"origName": "rate_bkg", "factory_tag": "rate_bkg[1,0,5]"}}]},
        {"type": "RooArgSet", "key": "norm_fit_s", "name": "norm_fit_s", "snapshot": False, "vars": [
            {"name": "ch1/sig", "title": "", "value": 12.5, "error": 1.5, "value_only": True, "constant": True},
            {"name": "ch1/total", "title": "", "value": 112.5, "error": 0.0, "value_only": True, "constant": True}]},
        {"type": "RooFitResult", "key": "fit_s", "name": "fit_s", "title": "fit_s", "status": 0, "covQual": 3,
         "numBadNLL": 0, "minNll": -12.25, "edm": 1.5e-7, "history": [["MINIMIZE", 0], ["HESSE", 0]],
         "const": [{"name": "lumi_In", "value": 0.0, "lo": -7, "hi": 7, "constant": True}],
         "init": [{"name": "lumi", "value": 0.0, "error": 1.0, "attributes": ["optimizeBounds"]},
                  {"name": "r", "value": 1.0, "lo": 0, "hi": 20},
                  {"name": long_name, "value": 0.5, "error": 0.1, "lo": -1, "hi": 1}],
         "final": [{"name": "lumi", "value": 0.1, "error": 0.95, "asym": [0.95, 0.95], "attributes": ["optimizeBounds"]},
                   {"name": "r", "value": 1.2, "error": 0.6, "asym": [-0.5, 0.7], "lo": 0, "hi": 20,
                    "post_ranges": {"err68": [0.7, 1.9]}},
                   {"name": long_name, "value": 0.4, "error": 0.5, "asym": [0.5, 0.5], "lo": -1, "hi": 1}],
         "cov": cov.tolist(), "corr": correlation_matrix(cov).tolist(), "gc": global_correlations(cov).tolist()},
        {"type": "RooFitResult", "key": "fit_b", "name": "fit_b", "title": "fit_b", "status": 1, "covQual": 2,
         "numBadNLL": 0, "minNll": 3.5, "edm": 1e-5, "history": [], "const": [], "init": [], "final": []},
    ]}


def _ours(o: dict, uuids):
    """The spec's object as pycombine's plain data (UUIDs taken from ROOT's bytes, in order)."""
    from pycombine.outputs.root import roofit

    def var(d, snapshot):
        ranges = {k: tuple(v) for k, v in {**d.get("ranges", {}), **d.get("post_ranges", {})}.items()}
        asym = d.get("asym") or (1.0, -1.0)
        return roofit.RealVar(
            d["name"], d["value"], error=d.get("error", -1.0), asym_lo=asym[0], asym_hi=asym[1],
            lo=d.get("lo", -math.inf), hi=d.get("hi", math.inf), constant=d.get("constant", False),
            title=d.get("title"), attributes=[*d.get("attributes", []), *(["SnapShot_ExtRefClone"] if snapshot else [])],
            ranges=ranges, uuid=next(uuids), string_attributes=d.get("string_attributes", {}))

    if o["type"] == "RooArgSet":
        return roofit.ArgSet([var(d, o["snapshot"]) for d in o["vars"]], name=o["name"])
    return roofit.FitResult(
        o["name"], o["title"], o["status"], o["covQual"], o["minNll"], o["edm"],
        constant=[var(d, True) for d in o["const"]], initial=[var(d, True) for d in o["init"]],
        final=[var(d, True) for d in o["final"]], covariance=np.array(o["cov"]) if o.get("cov") else None,
        num_bad_nll=o["numBadNLL"], history=[tuple(h) for h in o["history"]])


def _object_bytes(path: Path, key: str) -> tuple[bytes, int]:
    with uproot.open(path) as f:
        k = f.key(key)
        chunk, cursor = k.get_uncompressed_chunk_cursor()
        return bytes(chunk.get(cursor.index, cursor.index + k.data_uncompressed_bytes, cursor, {})), k.fKeylen


@pytest.fixture(scope="module")
def root_reference(tmp_path_factory):
    """The spec's objects written by ROOT, and the same objects written by pycombine."""
    if ROOT_PYTHON is None:
        pytest.skip(NO_ROOT)
    from pycombine.outputs.root.file import RootFileWriter

    tmp = tmp_path_factory.mktemp("roofit_reference")
    spec = _spec()
    (tmp / "spec.json").write_text(json.dumps(spec))
    p = root_run([str(HELPER), "write", "spec.json", "root.root"], tmp)
    assert p.returncode == 0, p.stderr[-3000:]
    ours = tmp / "ours.root"
    with RootFileWriter(str(ours)) as out:
        for o in spec["objects"]:
            ref, _ = _object_bytes(tmp / "root.root", o["key"])
            out.roofit(o["key"], _ours(o, iter(UUID_RECORD.findall(ref))))
    return spec, tmp / "root.root", ours


@needs_root
def test_bytes_equal_roots(root_reference):
    """Our serialisation of each object is the byte string ROOT writes for it."""
    from pycombine.outputs.root import roofit

    spec, root_file, _ = root_reference
    for o in spec["objects"]:
        ref, keylen = _object_bytes(root_file, o["key"])
        uuids = UUID_RECORD.findall(ref)
        classname, title, data = roofit.serialize(_ours(o, iter(uuids)), o["key"], key_length=keylen)
        assert classname == ("RooFitResult" if o["type"] == "RooFitResult" else "RooArgSet")
        assert data == ref, o["key"]


@needs_root
def test_streamer_records_are_roots(root_reference):
    """The StreamerInfo records we ship are those of ROOT's file (re-serialised as uproot does)."""
    import uproot.serialization

    from pycombine.outputs.root.roofit_streamers import raw_streamers

    _, root_file, _ = root_reference
    ours = {(r.name, r.class_version): r.serialize() for r in raw_streamers()}
    with uproot.open(root_file) as f:
        for name, versions in f.file.streamers.items():
            for version, info in versions.items():
                want = uproot.serialization.serialize_object_any(info, info.name) + b"\x00"
                assert ours.get((name, version)) == want, (name, version)


@needs_root
def test_root_reads_ours_as_its_own(root_reference, tmp_path):
    """Every RooFit accessor gives the same answer on our file as on ROOT's."""
    spec, root_file, ours = root_reference
    got = root_read([root_file, ours], tmp_path)
    theirs, mine = got[root_file.name]["keys"], got[ours.name]["keys"]
    for o in spec["objects"]:
        assert mine[o["key"]] == theirs[o["key"]], o["key"]
    r = next(v for v in mine["fit_s"]["final"] if v["name"] == "r")
    assert r["err68"] == [0.7, 1.9] and r["hasAsymError"]


# ------------------------------------------------------------------------------------ our FitDiagnostics through ROOT


@needs_root
def test_root_reads_fit_diagnostics(hww, tmp_path):
    s, res, path = hww
    m = s.model
    keys = root_read([path], tmp_path)[path.name]["keys"]
    for fit_name in ("fit_s", "fit_b"):
        fit = getattr(res, fit_name)
        got = keys[fit_name]
        assert got["class"] == "RooFitResult"
        assert (got["status"], got["covQual"], got["numInvalidNLL"]) == (fit.status, fit.cov_quality, 0)
        assert got["minNll"] == fit.nll and got["edm"] == fit.edm
        order = sorted(range(len(fit.floating)), key=lambda k: m.names[fit.floating[k]])
        idx = [int(fit.floating[k]) for k in order]
        final = got["final"]
        assert [v["name"] for v in final] == [m.names[i] for i in idx]
        assert got["contents"] == ",".join(m.names[i] for i in idx)
        np.testing.assert_array_equal([v["value"] for v in final], fit.values[idx])
        np.testing.assert_array_equal([v["error"] for v in final], fit.errors[idx])
        cov = np.asarray(fit.covariance)[np.ix_(order, order)]
        np.testing.assert_allclose(got["covariance"], cov, rtol=1e-12, atol=1e-300)
        d = np.sqrt(np.diag(cov))
        np.testing.assert_allclose(got["correlation"], cov / np.outer(d, d), rtol=1e-12, atol=1e-15)
        h = got["correlationHist"]
        assert h["x"] == [v["name"] for v in final] and h["y"] == h["x"][::-1]
        np.testing.assert_allclose(np.array(h["values"])[:, ::-1], got["correlation"], atol=1e-15)
        assert all(0 <= g <= 1 for g in got["globalCorr"])
        # the starting point and the constants: every global observable, frozen POI of fit_b
        start = {v["name"]: v["value"] for v in got["initial"]}
        assert start == {m.names[i]: fit.start[i] for i in idx}
        const = {v["name"]: v for v in got["constant"]}
        assert all(v["constant"] for v in const.values())
        assert {f"{n}_In" for n in ("lumi_13TeV", "CMS_eff_e")} <= set(const)
        assert ("r" in const) == (fit_name == "fit_b")
        nuis = next(v for v in final if v["name"] == "lumi_13TeV")
        assert nuis["min"] == -math.inf and "optimizeBounds" in nuis["attributes"]  # Combine's removed range
    # the POI of fit_s: Minos errors and Combine's err68 range, from which Combine derives rLoErr/rHiErr
    r = next(v for v in keys["fit_s"]["final"] if v["name"] == "r")
    lo, hi = res.poi_interval
    assert r["hasAsymError"] and r["asymLo"] == pytest.approx(-lo) and r["asymHi"] == pytest.approx(hi)
    assert r["err68"] == pytest.approx([res.r - lo, res.r + hi])
    assert (r["min"], r["max"]) == (0.0, 20.0)
    # nuisances_prefit: the nuisances at their pre-fit values with the constraint widths
    pre = keys["nuisances_prefit"]
    assert pre["size"] == len(res.nuisance_names)
    assert [v["name"] for v in pre["vars"]] == res.nuisance_names
    lumi = next(v for v in pre["vars"] if v["name"] == "lumi_13TeV")
    assert (lumi["value"], lumi["error"]) == (0.0, 1.0)
    # norm_fit_s.find("ch/proc").getVal(): the post-fit yields
    for stage in ("prefit", "fit_b", "fit_s"):
        norms = {v["name"]: v for v in keys[f"norm_{stage}"]["vars"]}
        y = res.yields[stage]
        for sample in range(m.S):
            name = f"{m.channels[m.sample_channel[sample]].name}/{m.sample_process[sample]}"
            assert norms[name]["value"] == y.norm[sample] and norms[name]["error"] == y.norm_err[sample]
            assert norms[name]["constant"] and norms[name]["title"] == ""
        assert keys[f"norm_{stage}"]["name"] == f"norm_{stage}"
    assert keys["tree_prefit"]["entries"] == 1
    assert keys["shapes_fit_s/SR0j/total"]["xtitle"] == "CMS_th1x"


@needs_root
@pytest.mark.skipif(not AVAILABLE, reason=SKIP_REASON)
def test_reference_cases_through_root(tmp_path):
    """Each FitDiagnostics case of the regression suite, read by ROOT: Combine's objects are all
    there with Combine's classes, and ``fit_s`` gives Combine's r̂ and interval (judge's tolerances)."""
    cases = [c for c in built_case_ids("FitDiagnostics") if c not in KNOWN_DIFFERENCES]
    files, records = [], {}
    for cid in cases:
        work = tmp_path / cid
        exp, proc = run_case(cid, work)
        assert proc.returncode == 0, (cid, proc.stderr[-2000:])
        name = next(k for k in exp["outputs"] if k.startswith("fitDiagnostics"))
        dest = tmp_path / f"{cid}.root"
        shutil.copy(work / name, dest)
        files.append(dest)
        records[dest.name] = exp["outputs"][name]
    got = root_read(files, tmp_path)
    classes = {"fit_s": "RooFitResult", "fit_b": "RooFitResult", "nuisances_prefit": "RooArgSet",
               "norm_prefit": "RooArgSet", "norm_fit_b": "RooArgSet", "norm_fit_s": "RooArgSet",
               "ProcessID0": "TProcessID", "tree_prefit": "TTree"}
    for fname, rec in records.items():
        keys = got[fname]["keys"]
        missing = [k for k in rec["keys"] if k not in keys]
        assert not missing, (fname, missing)
        for k in rec["keys"]:
            if k in classes:
                assert keys[k]["class"] == classes[k], (fname, k)
        if "fit_s" not in rec["keys"]:
            continue
        tree = rec["tree_fit_sb"]
        poi = next(b for b in tree if b != "fit_status")
        v = next(x for x in keys["fit_s"]["final"] if x["name"] == poi)
        r_ref, lo_ref, hi_ref = tree[poi][0], tree[f"{poi}LoErr"][0], tree[f"{poi}HiErr"][0]
        assert abs(v["value"] - r_ref) <= 0.03 * max(lo_ref, hi_ref) + 1e-3, fname
        # Combine's FitDiagnostics: errors from the err68 range, then its range-edge rule
        lo, hi = v["value"] - v["err68"][0], v["err68"][1] - v["value"]
        biggest = max(lo, hi, v["error"])
        hi = v["max"] - v["value"] if abs(hi) < 1e-3 * biggest else hi
        lo = v["value"] - v["min"] if abs(lo) < 1e-3 * biggest else lo
        assert lo == pytest.approx(lo_ref, rel=0.05, abs=1e-3) and hi == pytest.approx(hi_ref, rel=0.05, abs=1e-3), fname


# ------------------------------------------------------------------------------------ clients


def _combine_script(path: str) -> str:
    """A file of Combine's repository at HEAD (read at test time; never stored in this project)."""
    p = subprocess.run(["git", f"--git-dir={COMBINE_GIT}", "show", f"HEAD:{path}"], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"Combine's repository is not at {COMBINE_GIT} (set PYCOMBINE_COMBINE_GIT): {p.stderr.strip()}")
    return p.stdout


@needs_root
def test_diff_nuisances(hww, tmp_path):
    """Combine's test/diffNuisances.py on our file: the pulls and correlations of our fits."""
    s, res, path = hww
    pkg = tmp_path / "HiggsAnalysis" / "CombinedLimit"
    pkg.mkdir(parents=True)
    (tmp_path / "HiggsAnalysis" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "calculate_pulls.py").write_text(_combine_script("python/calculate_pulls.py"))
    script = _combine_script("test/diffNuisances.py")
    # ROOT >= 6.36's cppyy refuses `ptr == None` for a null C++ pointer (as its error message says,
    # `not ptr` is the test); the script compares RooArgSet::find results that way
    script = re.sub(r"\b(\w+) == None\b", r"not \1", script)
    script = re.sub(r"\b(\w+) != None\b", r"bool(\1)", script)
    (tmp_path / "diffNuisances.py").write_text(script)
    e = _root_env()
    e["PYTHONPATH"] = str(tmp_path)
    p = subprocess.run([ROOT_PYTHON, "diffNuisances.py", str(path), "--all", "-g", "plots.root"], cwd=tmp_path,
                       capture_output=True, text=True, env=e, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert not ROOT_MESSAGE.search(p.stderr), p.stderr[-3000:]
    fs, fb = res.fit_s, res.fit_b
    m = s.model
    cov = np.asarray(fs.covariance)
    pos = {int(i): k for k, i in enumerate(fs.floating)}
    ir = pos[m.index["r"]]
    rows = {line.split()[0]: line for line in p.stdout.splitlines() if line.split() and line.split()[0] in m.index}
    assert set(rows) >= {"lumi_13TeV", "CMS_eff_e", "CMS_eff_m", "CMS_trigger"}
    for name in ("lumi_13TeV", "CMS_eff_m", "CMS_trigger"):
        i = m.index[name]
        numbers = [float(x) for x in re.findall(r"[-+]?\d+\.\d+", rows[name])]
        # b-only (pull, sigma), s+b (pull, sigma), rho(name, r), approx impact
        want = [fb.values[i], fb.errors[i], fs.values[i], fs.errors[i],
                cov[pos[i], ir] / math.sqrt(cov[pos[i], pos[i]] * cov[ir, ir])]
        assert numbers[:5] == pytest.approx(want, abs=0.006), name
    assert (tmp_path / "plots.root").stat().st_size > 0


def _postfits(args: list[str], cwd: Path, module: str = "make_plots") -> subprocess.CompletedProcess:
    code = (f"import sys; from combine_postfits.{module} import main; "
            f"sys.argv[0] = 'combine_postfits'; sys.exit(main())")
    p = subprocess.run([ROOT_PYTHON, "-c", code, *args], cwd=cwd, capture_output=True, text=True, env=_root_env(),
                       timeout=900)
    assert p.returncode == 0, (args, p.stdout[-2000:], p.stderr[-3000:])
    assert "Traceback" not in p.stderr, p.stderr[-3000:]
    return p


@pytest.fixture(scope="module")
def tprime(tmp_path_factory):
    """The T' search as Combine's tutorial runs it (--saveShapes --saveWithUncert -n Search)."""
    tmp = tmp_path_factory.mktemp("tprime")
    for f in TPRIME.iterdir():
        shutil.copy(f, tmp)
    combine(tmp, "combined_search.txt", "-M", "FitDiagnostics", "--saveShapes", "--saveWithUncert", "-n", "Search",
            "--cminDefaultMinimizerStrategy", "0")
    return tmp, tmp / "fitDiagnosticsSearch.root"


@needs_root
def test_combine_postfits(tprime):
    """combine_postfits in its documented modes, reading the signal strength from fit_s."""
    if subprocess.run([ROOT_PYTHON, "-c", "import combine_postfits"], capture_output=True).returncode:
        pytest.skip("combine-postfits is not installed next to ROOT: pip install '.[compat]'")
    tmp, path = tprime
    name = path.name
    _postfits(["-i", name, "-o", "data", "--data", "--unblind", "--sigs", "tprime", "--rmap", "tprime:r",
               "--dpi", "30"], tmp)
    assert {p.name for p in (tmp / "data").rglob("*.png")} >= {"signalregion_fit_s.png", "controlregion_prefit.png"}
    _postfits(["-i", name, "-o", "mc", "--MC", "--fit", "fit_b", "--cats", "all:signalregion,controlregion",
               "--dpi", "30", "-f", "pdf"], tmp)
    assert list((tmp / "mc").rglob("*.pdf"))
    # (combine_postfits' --blind needs --cats)
    _postfits(["-i", name, "-o", "toys", "--toys", "--fit", "prefit", "--cats", "signalregion,controlregion",
               "--blind", "signalregion", "--dpi", "30"], tmp)
    assert list((tmp / "toys").rglob("*.png"))
    _postfits(["-i", name, "-o", "cov", "--data", "--dpi", "30"], tmp, module="plot_cov")
    assert list((tmp / "cov").rglob("*.png"))
    # what --rmap reads: fit_s.floatParsFinal().find("r") through combine_postfits' own helpers
    code = ("import ROOT, json, sys; from combine_postfits.utils import get_fit_val, get_fit_unc; "
            "f = ROOT.TFile.Open(sys.argv[1]); print(json.dumps([get_fit_val(f, 'r'), get_fit_unc(f, 'r')]))")
    p = subprocess.run([ROOT_PYTHON, "-c", code, str(path)], capture_output=True, text=True, env=_root_env())
    assert p.returncode == 0, p.stderr[-2000:]
    val, (lo, hi) = json.loads(p.stdout.strip().splitlines()[-1])
    with uproot.open(path) as f:
        t = f["tree_fit_sb"].arrays(["r"], library="np")
    assert val == pytest.approx(float(t["r"][0]), abs=1e-12)
    assert lo > 0 and hi > lo


@needs_root
def test_hadd_toy_outputs(tmp_path):
    """ROOT's hadd merges toy FitDiagnostics files (trees concatenated, objects of each file kept)."""
    card = REPO / "datacards" / "counting" / "monojet_counting.txt"
    for seed in ("1", "2"):
        combine(tmp_path, "-M", "FitDiagnostics", str(card), "-t", "2", "-s", seed, "-n", f"T{seed}")
    code = ("import ROOT, os, subprocess, sys; "
            "hadd = os.path.join(os.path.dirname(ROOT.__file__), 'bin', 'hadd'); "
            "sys.exit(subprocess.call([hadd if os.path.exists(hadd) else 'hadd', *sys.argv[1:]]))")
    p = root_run(["-c", code, "-f", "merged.root", "fitDiagnosticsT1.root", "fitDiagnosticsT2.root"], tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert not ROOT_MESSAGE.search(p.stderr + p.stdout), p.stderr[-3000:]
    got = root_read([tmp_path / "merged.root"], tmp_path)["merged.root"]
    assert got["keys"]["tree_fit_sb"]["entries"] == 4 and got["keys"]["tree_prefit"]["entries"] == 4
    assert [n for n, _ in got["cycles"]].count("fit_s") == 2  # not mergeable: one per input, as ROOT's own
    assert got["keys"]["fit_s"]["class"] == "RooFitResult"


@needs_root
def test_root_reads_every_output_without_warning(tmp_path):
    """The files of every method (limit trees, toys, grids, workspaces, FitDiagnostics with all
    output options) open in ROOT with every object read and no warning."""
    card = REPO / "datacards" / "counting" / "monojet_counting.txt"
    runs = [
        ("-M", "AsymptoticLimits", str(card)),
        ("-M", "Significance", str(card), "-t", "2", "-s", "3", "--saveToys"),
        ("-M", "MultiDimFit", str(card), "--algo", "grid", "--points", "5", "-n", "Grid"),
        ("-M", "GoodnessOfFit", str(card), "--algo", "saturated", "-t", "2", "-s", "4"),
        ("-M", "FitDiagnostics", str(HWW), "-m", "125", "--saveShapes", "--saveWithUncertainties",
         "--saveOverallShapes", "--plots", "--minos", "all", "-n", "All"),
    ]
    for args in runs:
        combine(tmp_path, *args)
    subprocess.run(["text2workspace.py", str(card), "-o", str(tmp_path / "ws.root")], check=True, env=env(),
                   capture_output=True)
    files = sorted(tmp_path.glob("*.root"))
    assert len(files) >= 6
    got = root_read(files, tmp_path)
    fd = got["fitDiagnosticsAll.root"]["keys"]
    lumi = next(v for v in fd["fit_s"]["final"] if v["name"] == "lumi_13TeV")
    assert lumi["hasAsymError"]  # --minos all: every parameter's Minos errors
    assert all(k in fd for k in ("shapes_fit_s/total_overall", "covariance_fit_s", "norm_fit_s"))
    for f in files:
        assert got[f.name]["keys"], f.name


def test_reference_keys_cover_combines(tmp_path):
    """Without ROOT too: for the suite's FitDiagnostics cases pycombine's file holds every key
    Combine's holds (checked through uproot on one case; all cases go through ROOT above)."""
    if not AVAILABLE:
        pytest.skip(SKIP_REASON)
    cid = "cat_template_fitdiag"
    exp, proc = run_case(cid, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    name = next(k for k in exp["outputs"] if k.startswith("fitDiagnostics"))
    want = expected(cid)["outputs"][name]["keys"]
    with uproot.open(tmp_path / name) as f:
        have = {k.split(";")[0] for k in f.keys()}
    assert set(want) <= have, sorted(set(want) - have)



def test_fast_real_var_records_equal_the_general_writer(monkeypatch):
    """The RooRealVar records assembled from templates (roofit_batch, used for ArgSets after their
    first variable) are byte for byte those of the general writer: long names, titles, constants,
    attributes, infinite ranges, asymmetric errors; variables with named ranges or string
    attributes keep the general path."""
    import random

    from pycombine.outputs.root import roofit, roofit_batch

    rng = random.Random(3)

    def var(i: int) -> roofit.RealVar:
        return roofit.RealVar(
            ("x" * 300 if i % 97 == 0 else "") + f"prop_binch{i // 100}_bin{i % 100}", rng.gauss(0, 1),
            rng.choice([-1.0, 0.7]), asym_lo=rng.choice([1.0, -0.3]), asym_hi=rng.choice([-1.0, 0.4]),
            lo=rng.choice([-7.0, -math.inf, 0.0]), hi=rng.choice([7.0, math.inf, 20.0]), constant=i % 5 == 0,
            title=None if i % 3 else f"title {i}", attributes=rng.choice([(), ("optimizeBounds",), ("b", "a")]),
            ranges={"err68": (-1.0, 1.0)} if i % 11 == 0 else {}, uuid=bytes([i % 256]) * 16,
            string_attributes={"k": "v"} if i % 13 == 0 else {})

    argset = roofit.ArgSet(variables=[var(i) for i in range(600)], name="nuisances_prefit")
    batched = []
    batch_writer = roofit_batch.real_var_pointers
    monkeypatch.setattr(roofit_batch, "real_var_pointers", lambda v, *a: batched.append(len(v)) or batch_writer(v, *a))
    fast = roofit.serialize(argset, "nuisances_prefit")
    assert sum(batched) > 500  # most variables took the template path

    def general(o, s):  # _collection with every variable through the general writer
        p = o.begin(1)
        q = o.begin(3)
        o.raw(roofit._TOBJECT)
        o.empty()
        v = o.begin(roofit._STL_VERSION)
        o.i32(len(s.variables))
        for var in s.variables:
            o.pointer("RooRealVar", lambda var=var: roofit._real_var(o, var))
        o.end(v)
        o.flag(s.owned)
        o.string(s.name)
        o.flag(True)
        o.end(q)
        o.end(p)

    monkeypatch.setattr(roofit, "_collection", general)
    assert fast == roofit.serialize(argset, "nuisances_prefit")


def test_template_real_vars_get_distinct_uuids():
    """Variables without a UUID of their own get distinct ones in the template path, and records
    otherwise equal to the general writer's with those UUIDs."""
    from pycombine.outputs.root import roofit

    variables = [roofit.RealVar(f"prop_binch0_bin{i}", 0.1 * i, 1.0, attributes=["optimizeBounds"])
                 for i in range(300)]
    blob = roofit.serialize(roofit.ArgSet(variables), "nuisances_prefit")[2]
    uuids = UUID_RECORD.findall(blob)
    assert len(uuids) == 300 and len(set(uuids)) == 300
    again = [roofit.RealVar(v.name, v.value, v.error, attributes=v.attributes, uuid=u) for v, u in zip(variables, uuids)]
    assert roofit.serialize(roofit.ArgSet(again), "nuisances_prefit")[2] == blob
