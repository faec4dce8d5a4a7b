"""The uproot-free writer of ``higgsCombine*.root`` files (pycombine/outputs/root/rawfile.py).

Its files must read exactly as those of the uproot-based :class:`RootFileWriter` they replace:
with uproot (same trees, branches, types, titles, values), with the real ROOT (no warning, same
values and leaf types) and after ROOT's ``hadd``. The start-up test checks that a command on a
counting card imports neither uproot nor pandas nor scipy.optimize (timing belongs to bench/).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from pycombine.outputs.limit_tree import LimitTree
from pycombine.outputs.root.file import RootFileWriter
from pycombine.outputs.root.rawfile import TreeFileWriter, root_zlib
from pycombine.outputs.root.tree_streamers import STREAMER_CLASSES, STREAMER_SIZES, STREAMERS_ZLIB_BASE64

uproot = pytest.importorskip("uproot")

REPO = Path(__file__).resolve().parents[1]
ROOT_PYTHON = os.environ.get("PYCOMBINE_ROOT_PYTHON") or (
    sys.executable if importlib.util.find_spec("ROOT") is not None else None)
NO_ROOT = "the real ROOT is not installed (pip install '.[compat]') and PYCOMBINE_ROOT_PYTHON is not set"
ROOT_MESSAGE = re.compile(r"^(Warning|Error|Fatal|SysError) in <|^\s*\*\*\* Break \*\*\*|RuntimeWarning", re.M)


def _content(rng: np.random.Generator) -> LimitTree:
    """A limit tree as the methods write it, with toys trees (one large enough to be compressed)."""
    t = LimitTree(mass=125.38, seed=123456)
    for q, v in ((0.025, 0.52), (0.16, 0.71), (0.5, 1.02), (0.84, 1.47), (0.975, 2.03), (-1.0, 1.2)):
        t.add(v, 0.01 if q < 0 else 0.0, q)
    t.toys["toy_1"] = {"r": rng.normal(size=7), "n": np.arange(7, dtype=np.int32)}
    t.toys["grid"] = {"x": rng.normal(size=20000), "i": np.arange(20000, dtype=np.int64),
                      "f": rng.normal(size=20000).astype(np.float32), "b": rng.random(20000) > 0.5}
    return t


def _write_both(tmp_path: Path) -> tuple[Path, Path, LimitTree]:
    """The same content through the uproot writer (reference) and the raw one."""
    tree = _content(np.random.default_rng(7))
    ref, raw = tmp_path / "ref.root", tmp_path / "raw.root"
    for path, writer in ((ref, RootFileWriter), (raw, TreeFileWriter)):
        with writer(path, fsync=False) as out:
            out.tree("limit", tree.columns())
            out.mkdir("toys")
            for name, cols in tree.toys.items():
                out.tree(f"toys/{name}", cols)
    return ref, raw, tree


def _trees(f) -> dict:
    out = {}
    for key in f.keys(cycle=False):
        if f.classname_of(key) == "TTree":
            t = f[key]
            out[key] = (t.title, t.num_entries, {b.name: (b.title, b.typename, b.array(library="np")) for b in t.branches})
    return out


def test_streamer_records_are_uproots():
    """The embedded StreamerInfo records are uproot's for flat trees (regenerate them if not)."""
    import uproot.models.TBranch
    import uproot.models.TLeaf
    import uproot.models.TTree

    # collected exactly as pycombine.outputs.root.flat_tree._register_streamers does
    models = uproot.models
    seen, raws = set(), []
    for model in (models.TLeaf.Model_TLeafB_v1, models.TLeaf.Model_TLeafS_v1, models.TLeaf.Model_TLeafI_v1,
                  models.TLeaf.Model_TLeafL_v1, models.TLeaf.Model_TLeafF_v1, models.TLeaf.Model_TLeafD_v1,
                  models.TLeaf.Model_TLeafC_v1, models.TLeaf.Model_TLeafO_v1, models.TBranch.Model_TBranch_v13,
                  models.TTree.Model_TTree_v20):
        for raw in model.class_rawstreamers:
            if (raw[-2], raw[-1]) not in seen:
                seen.add((raw[-2], raw[-1]))
                raws.append(raw)
    assert [(r[-2], r[-1]) for r in raws] == list(STREAMER_CLASSES)
    assert [len(r[1]) for r in raws] == list(STREAMER_SIZES)
    assert zlib.decompress(base64.b64decode(STREAMERS_ZLIB_BASE64)) == b"".join(r[1] for r in raws)


def test_same_trees_as_the_uproot_writer(tmp_path):
    ref, raw, _ = _write_both(tmp_path)
    a, b = uproot.open(ref), uproot.open(raw)
    assert a.classnames() == b.classnames()
    ta, tb = _trees(a), _trees(b)
    assert ta.keys() == tb.keys() == {"limit", "toys/toy_1", "toys/grid"}
    for key in ta:
        title_a, n_a, br_a = ta[key]
        title_b, n_b, br_b = tb[key]
        assert (title_a, n_a) == (title_b, n_b)
        assert list(br_a) == list(br_b)  # branch order
        for name in br_a:
            assert br_a[name][:2] == br_b[name][:2]  # branch title (name/D ...) and type
            assert br_a[name][2].dtype == br_b[name][2].dtype
            np.testing.assert_array_equal(br_a[name][2], br_b[name][2])
    limit = b["limit"]
    assert limit.typenames()["limit"] == "double" and limit.typenames()["iToy"] == "int32_t"
    assert limit.typenames()["quantileExpected"] == "float"


def test_baskets_and_edge_cases(tmp_path):
    """Many extends (the basket arrays grow past 10), an empty tree, nested empty directories."""
    path = tmp_path / "t.root"
    rng = np.random.default_rng(1)
    chunks = [rng.normal(size=n) for n in (1, 5, 300, 2, 0, 7, 1, 1, 1, 1, 1, 1, 40)]
    with TreeFileWriter(path, fsync=False) as out:
        h = out.tree("a/b/many", {"x": chunks[0], "k": np.zeros(1, np.uint16)})
        for c in chunks[1:]:
            h.extend({"x": c, "k": np.full(len(c), 3, np.uint16)})
        assert h.num_entries == sum(map(len, chunks))
        out.tree("empty", {"v": np.zeros(0, np.float32)})
        out.mkdir("x/y/z")
        with pytest.raises(ValueError, match="already written"):
            out.tree("empty", {"v": np.zeros(0, np.float32)})
        with pytest.raises(TypeError):
            out.tree("bad", {"v": [1, 2]})
    with pytest.raises(ValueError, match="closed file"):
        h.extend({"x": chunks[0], "k": np.zeros(1, np.uint16)})
    f = uproot.open(path)
    assert set(f.keys(cycle=False)) >= {"a", "a/b", "a/b/many", "empty", "x", "x/y", "x/y/z"}
    many = f["a/b/many"]
    np.testing.assert_array_equal(many["x"].array(library="np"), np.concatenate(chunks))
    assert many["k"].typename == "uint16_t"
    assert many["x"].num_baskets == len([c for c in chunks if len(c)])
    assert f["empty"].num_entries == 0 and f["empty"]["v"].typename == "float"


def test_atomic(tmp_path):
    path = tmp_path / "out.root"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with TreeFileWriter(path) as out:
            out.tree("limit", {"limit": np.ones(2)})
            raise RuntimeError("boom")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.root"]
    with TreeFileWriter(path) as out:
        out.tree("limit", {"limit": np.ones(2)})
    assert os.listdir(tmp_path) == ["out.root"]
    assert uproot.open(path)["limit"].num_entries == 2


def test_root_zlib_blocks():
    assert root_zlib(b"\x00" * 17) == b"\x00" * 17  # too small to shrink
    noise = np.random.default_rng(0).bytes(1000)
    assert root_zlib(noise) == noise  # incompressible: stored raw
    data = np.arange(5000, dtype=">f8").tobytes()
    packed = root_zlib(data)
    assert packed[:3] == b"ZL\x08" and len(packed) < len(data)
    csize = int.from_bytes(packed[3:6], "little")
    assert int.from_bytes(packed[6:9], "little") == len(data)
    assert zlib.decompress(packed[9 : 9 + csize]) == data
    assert root_zlib(data) == uproot.compression.compress(data, uproot.ZLIB(1))


_ROOT_READ = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
import ROOT
ROOT.gROOT.SetBatch(True)
out = {}
for path in sys.argv[1:]:
    f = ROOT.TFile.Open(path)
    res = {}
    def walk(d, prefix):
        for k in d.GetListOfKeys():
            o = k.ReadObj()
            name = prefix + k.GetName()
            if o.InheritsFrom("TDirectory"):
                res[name] = "dir"
                walk(o, name + "/")
            elif o.InheritsFrom("TTree"):
                br = {}
                for b in o.GetListOfBranches():
                    leaf = b.GetLeaf(b.GetName())
                    vals = []
                    for i in range(o.GetEntries()):
                        o.GetEntry(i)
                        vals.append(leaf.GetValue())
                    br[b.GetName()] = [b.GetTitle(), leaf.GetTypeName(), vals]
                res[name] = [o.GetTitle(), o.GetEntries(), br]
    walk(f, "")
    f.Close()
    out[path] = res
json.dump(out, open(sys.argv[0] + ".json", "w"))
"""


def _root_read(tmp_path: Path, *paths: Path) -> dict:
    script = tmp_path / "root_read.py"
    script.write_text(_ROOT_READ)
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    p = subprocess.run([ROOT_PYTHON, str(script), *map(str, paths)], capture_output=True, text=True, env=env,
                       timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert not ROOT_MESSAGE.search(p.stderr), p.stderr[-3000:]
    return json.loads((tmp_path / "root_read.py.json").read_text())


@pytest.mark.skipif(ROOT_PYTHON is None, reason=NO_ROOT)
def test_root_reads_and_hadd_merges(tmp_path):
    ref, raw, tree = _write_both(tmp_path)
    read = _root_read(tmp_path, ref, raw)
    assert read[str(raw)] == read[str(ref)]
    limit = read[str(raw)]["limit"]
    assert limit[0] == "limit" and limit[1] == len(tree.rows)
    assert limit[2]["limit"][:2] == ["limit/D", "Double_t"]
    assert limit[2]["iToy"][:2] == ["iToy/I", "Int_t"]
    assert limit[2]["quantileExpected"][:2] == ["quantileExpected/F", "Float_t"]
    assert limit[2]["limit"][2] == [r.limit for r in tree.rows]

    # hadd, found next to ROOT's Python module (the PyPI wheel ships it in ROOT/bin)
    code = "import ROOT, os; print(os.path.join(os.path.dirname(ROOT.__file__), 'bin', 'hadd'))"
    hadd = subprocess.run([ROOT_PYTHON, "-c", code], capture_output=True, text=True).stdout.strip().splitlines()[-1]
    if not os.path.exists(hadd):
        pytest.skip(f"no hadd next to ROOT ({hadd})")
    merged = tmp_path / "merged.root"
    p = subprocess.run([hadd, "-f", str(merged), str(raw), str(raw)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert not ROOT_MESSAGE.search(p.stdout + p.stderr), (p.stdout + p.stderr)[-3000:]
    m = uproot.open(merged)
    np.testing.assert_array_equal(m["limit"]["limit"].array(library="np"), np.tile([r.limit for r in tree.rows], 2))
    assert m["toys/grid"].num_entries == 40000
    assert _root_read(tmp_path, merged)[str(merged)]["limit"][1] == 2 * len(tree.rows)


# ------------------------------------------------------------------------------------ start-up

_STARTUP = r"""
import sys
from pycombine.cli.combine import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    if e.code:
        raise
heavy = sorted(m for m in ("uproot", "awkward", "pandas", "scipy.optimize") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


@pytest.mark.parametrize("args", [
    ("-M", "AsymptoticLimits"),
    ("-M", "Significance", "-t", "-1", "--expectSignal", "1"),
    ("-M", "MultiDimFit", "--algo", "grid", "--points", "5"),
    ("-M", "GoodnessOfFit", "--algo", "saturated"),
], ids=lambda a: "_".join(a[1:3]))
def test_counting_card_imports_no_heavy_library(tmp_path, args):
    """The common path (a counting card, the limit file) needs neither uproot nor pandas nor scipy.optimize."""
    card = REPO / "datacards" / "counting" / "monojet_counting.txt"
    (tmp_path / card.name).write_text(card.read_text())
    p = subprocess.run([sys.executable, "-c", _STARTUP, *args, card.name], cwd=tmp_path,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "HEAVY=\n" in p.stdout, p.stdout[-2000:]
    (out,) = tmp_path.glob("higgsCombineTest.*.root")
    assert uproot.open(out)["limit"].num_entries >= 1


# ------------------------------------------------------------------ histograms, graphs, RooFit objects
def test_object_streamer_records_are_uproots():
    """The embedded records of histograms and graphs are what uproot registers (regenerate with
    ``python tests/raw_object_streamers.py`` if not)."""
    from raw_object_streamers import uproot_object_records

    from pycombine.outputs.root.rawfile import _object_records

    assert list(_object_records().items()) == [((n, v), r) for n, v, r in uproot_object_records()]


HISTOGRAMS = [
    ("th1", "h1f", dict(contents=[1.0, 2.0, 3.5], classname="TH1F", title="t")),
    ("th1", "h1d", dict(contents=[1.0, -2.0, 3.5], errors=[0.1, 0.2, 0.3], classname="TH1D", title="a title",
                        xtitle="x", ytitle="y")),
    ("th1", "h1e", dict(contents=[1.0, 2.0, 3.5], errors=[0.1, 0.2, 0.3], edges=[0.0, 1.0, 5.0, 7.0],
                        labels=["a", "bb", "ccc"])),
    ("th1", "h1long", dict(contents=np.arange(300.0), labels=[f"l{i}" * 40 for i in range(300)], title="x" * 300)),
    ("th2", "h2f", dict(contents=np.arange(6.0).reshape(2, 3), classname="TH2F", title="cov", xlabels=["a", "b"],
                        ylabels=["x", "y", "z"])),
    ("th2", "h2d", dict(contents=np.arange(6.0).reshape(2, 3), errors=np.ones((2, 3)), classname="TH2D",
                        xedges=[0.0, 1.0, 3.0], ztitle="z")),
]


@pytest.mark.parametrize("kind, name, kwargs", HISTOGRAMS, ids=[h[1] for h in HISTOGRAMS])
def test_histogram_bytes_are_uproots(kind, name, kwargs):
    from pycombine.outputs.root.histograms import make_th1, make_th2, th1_spec, th2_spec
    from pycombine.outputs.root.objects import histogram_bytes

    model, spec = (make_th1, th1_spec) if kind == "th1" else (make_th2, th2_spec)
    classname, title, payload = histogram_bytes(spec("p", **kwargs), name)
    assert payload == model("p", **kwargs).serialize(name=name)
    assert classname == kwargs.get("classname", "TH1F" if kind == "th1" else "TH2F")
    assert title == kwargs.get("title", "")


@pytest.mark.parametrize("n", [0, 1, 4])
def test_graph_bytes_are_uproots(n):
    from pycombine.outputs.root.objects import graph_asymm_errors_bytes
    from pycombine.outputs.root.tgraph import make_tgraph_asymm_errors

    x, y, e = np.arange(n) + 0.5, np.arange(n) * 2.0, np.linspace(0.1, 1.0, n)
    ref = make_tgraph_asymm_errors(x, y, e, 2 * e, 3 * e, 4 * e, name="data", title="sig in ch1").serialize(name="data")
    assert graph_asymm_errors_bytes("data", "sig in ch1", x, y, e, 2 * e, 3 * e, 4 * e)[2] == ref


def _all_objects(out) -> None:
    from pycombine.outputs.root.roofit import ArgSet, RealVar

    for kind, name, kwargs in HISTOGRAMS:
        getattr(out, kind)(f"shapes/{name}", **kwargs)
    out.graph_asymm_errors("shapes/ch1/data", [0.5, 1.5], [3.0, 4.0], 0.5, 0.5, [1.0, 1.5], [2.0, 2.5],
                           title="sig in ch1")
    out.roofit("nuisances_prefit", ArgSet([RealVar("lumi", 0.25, 1.0, lo=-4.0, hi=4.0)]))
    out.tree("tree_fit_sb", {"r": np.array([1.0, 2.0]), "fit_status": np.array([0, 0], np.int32)})
    out.branchless_tree("tree_prefit", 3)


def test_objects_read_back_as_with_the_uproot_writer(tmp_path):
    """Every object kind of a fitDiagnostics file, written by both writers: uproot reads the same."""
    from pycombine.outputs.root.file import RootFileWriter

    with RootFileWriter(tmp_path / "ref.root", fsync=False) as out:
        _all_objects(out)
    with TreeFileWriter(tmp_path / "raw.root", fsync=False) as out:
        _all_objects(out)
    a, b = uproot.open(tmp_path / "ref.root"), uproot.open(tmp_path / "raw.root")
    assert a.classnames() == b.classnames()
    for _kind, name, _kwargs in HISTOGRAMS:
        ha, hb = a[f"shapes/{name}"], b[f"shapes/{name}"]
        assert ha.member("fTitle") == hb.member("fTitle")
        for axis in range(len(ha.axes)):
            assert ha.axes[axis].labels() == hb.axes[axis].labels()
            np.testing.assert_array_equal(ha.axes[axis].edges(), hb.axes[axis].edges())
        np.testing.assert_array_equal(ha.values(flow=True), hb.values(flow=True))
        np.testing.assert_array_equal(ha.variances(flow=True), hb.variances(flow=True))
        for m in ("fEntries", "fTsumw", "fTsumw2", "fTsumwx", "fTsumwx2"):
            assert ha.member(m) == hb.member(m)
    ga, gb = a["shapes/ch1/data"], b["shapes/ch1/data"]
    for which in ("low", "high"):
        np.testing.assert_array_equal(ga.errors(which), gb.errors(which))
    np.testing.assert_array_equal(ga.values(), gb.values())
    assert b["tree_prefit"].num_entries == 3
    np.testing.assert_array_equal(b["tree_fit_sb"]["r"].array(library="np"), [1.0, 2.0])


def test_objects_read_by_root(tmp_path):
    """The real ROOT reads every object of the raw writer (values, errors, labels, RooFit)."""
    ROOT = pytest.importorskip("ROOT")
    with TreeFileWriter(tmp_path / "raw.root", fsync=False) as out:
        _all_objects(out)
    f = ROOT.TFile.Open(str(tmp_path / "raw.root"))
    h = f.Get("shapes/h1e")
    assert h.ClassName() == "TH1F" and h.GetBinContent(2) == 2.0 and h.GetXaxis().GetBinLabel(3) == "ccc"
    assert h.GetBinError(3) == pytest.approx(0.3) and h.GetXaxis().GetBinUpEdge(2) == 5.0
    h = f.Get("shapes/h2f")
    assert h.ClassName() == "TH2F" and h.GetBinContent(2, 3) == 5.0 and h.GetYaxis().GetBinLabel(3) == "z"
    h = f.Get("shapes/h1long")
    assert h.GetTitle() == "x" * 300 and h.GetXaxis().GetBinLabel(300) == "l299" * 40
    g = f.Get("shapes/ch1/data")
    assert g.ClassName() == "TGraphAsymmErrors" and g.GetN() == 2 and g.GetErrorYhigh(1) == 2.5
    s = f.Get("nuisances_prefit")
    assert s.ClassName() == "RooArgSet" and s.find("lumi").getVal() == 0.25
    assert f.Get("tree_prefit").GetEntries() == 3 and f.Get("tree_fit_sb").GetEntries() == 2
    f.Close()
