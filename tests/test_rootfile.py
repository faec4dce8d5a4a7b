"""Tests of the ROOT-free output writer (pycombine.outputs.root: file / histograms / tgraph / garwood).

Everything written is read back with uproot. The TGraphAsymmErrors is additionally read with
classes generated from the file's own TStreamerInfo records, its bytes are walked by hand against
ROOT's layout, and the streamer checksums are recomputed with ROOT's algorithm.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys

import numpy as np
import pytest

uproot = pytest.importorskip("uproot")

from pycombine.outputs.data_graph import make_data_graph, write_data_graph  # noqa: E402
from pycombine.outputs.limit_tree import LIMIT_BRANCHES  # noqa: E402
from pycombine.outputs.root.file import RootFileWriter  # noqa: E402
from pycombine.outputs.root.garwood import (  # noqa: E402
    ROOT_ONE_SIGMA_ALPHA,
    garwood_errors,
    garwood_interval,
)
from pycombine.outputs.root.histograms import histogram_statistics  # noqa: E402
from pycombine.outputs.root.tgraph import make_tgraph_asymm_errors  # noqa: E402

# --------------------------------------------------------------------------------------- fixtures

LIMIT_VALUES = {
    "limit": [0.5, 1.25, 2.0],
    "limitErr": [0.0, 0.1, 0.2],
    "mh": [120.0, 120.0, 125.0],
    "syst": [1, 1, 0],
    "iToy": [0, 1, 2],
    "iSeed": [123456, 123456, 7],
    "iChannel": [0, 0, 0],
    "t_cpu": [0.25, 0.5, 0.75],
    "t_real": [0.5, 1.0, 1.5],
    "quantileExpected": [-1.0, 0.5, 0.975],
}
GRAPH = {
    "x": np.array([0.5, 1.5, 2.5, 3.5]),
    "y": np.array([3.0, 0.0, 7.0, 12.5]),
    "exl": np.array([0.5, 0.5, 0.5, 0.25]),
    "exh": np.array([0.5, 0.5, 0.5, 0.75]),
    "eyl": np.array([1.6, 0.0, 2.5, 3.4]),
    "eyh": np.array([2.9, 1.8, 3.8, 4.1]),
}
WIDE_NPARAMS = 300


def limit_columns() -> dict[str, np.ndarray]:
    cols = {name: np.array(LIMIT_VALUES[name], dtype=dtype) for name, dtype in LIMIT_BRANCHES}
    cols["r"] = np.array([1.0, 1.5, 2.0], dtype=np.float32)  # MultiDimFit-style POI
    cols["deltaNLL"] = np.array([0.0, 0.3, 1.2], dtype=np.float32)
    return cols


@pytest.fixture(scope="module")
def combined_file(tmp_path_factory) -> str:
    """One file with every kind of content, as a higgsCombine + fitDiagnostics mix."""
    path = str(tmp_path_factory.mktemp("out") / "higgsCombineTest.MultiDimFit.mH120.root")
    with RootFileWriter(path) as out:
        out.tree("limit", limit_columns())
        out.mkdir("toys")
        out.tree("limit_empty", {name: np.array([], dtype=dtype) for name, dtype in LIMIT_BRANCHES})
        wide = {f"CMS_nuis_{i}": np.array([0.01 * i]) for i in range(WIDE_NPARAMS)}
        wide["fit_status"] = np.array([0], dtype=np.int32)
        wide["numbadnll"] = np.array([-1], dtype=np.int32)
        out.tree("tree_fit_sb", wide)
        out.th1("shapes_prefit/ch1/total", [1.0, 2.0, 4.0], [0.5, 1.0, 1.5], title="total in ch1")
        out.th1(
            "shapes_prefit/ch1/sig",
            np.array([0.25, 0.5, 0.125]),
            title="sig",
            classname="TH1D",
            labels=["b0", "b1", "b2"],
        )
        out.th1("shapes_fit_s/ch1/bkg", [2.0, 3.0], [1.0, 1.0], edges=[0.0, 10.0, 30.0], xtitle="m")
        out.th2(
            "shapes_prefit/overall_total_covar",
            np.array([[1.0, 0.2, 0.0], [0.2, 2.0, 0.1]]),
            np.full((2, 3), 0.5),
            xlabels=["ch1_0", "ch1_1"],
            ylabels=["ch1_0", "ch1_1", "ch1_2"],
        )
        out.th2("covariance_fit_s", np.eye(2), classname="TH2D")
        out.graph_asymm_errors("shapes_prefit/ch1/asym", **GRAPH, title="an asymmetric graph")
        write_data_graph(out, "shapes_prefit/ch1", [3, 0, 7, 12], title="sig in ch1")
    return path


# --------------------------------------------------------------------------------------- garwood


def test_garwood_known_values():
    low, high = garwood_errors([0, 1, 10])
    np.testing.assert_allclose(low, [0.0, 0.827246, 3.108694], atol=2e-6)
    np.testing.assert_allclose(high, [1.841022, 2.299527, 4.266950], atol=2e-6)


def test_garwood_matches_chi2_formula():
    from scipy.stats import chi2

    counts = np.array([1, 2, 3, 5, 7.5, 20, 100, 1234.0, 0.4])
    n = np.trunc(counts)
    a = ROOT_ONE_SIGMA_ALPHA
    expected_low = np.where(n > 0, counts - chi2.ppf(a / 2, 2 * np.maximum(n, 1)) / 2, 0.0)
    expected_high = chi2.isf(a / 2, 2 * (n + 1)) / 2 - counts
    low, high = garwood_errors(counts)
    np.testing.assert_allclose(low, expected_low, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(high, expected_high, rtol=1e-10, atol=1e-12)
    lo_edge, hi_edge = garwood_interval(counts)
    np.testing.assert_allclose(lo_edge, counts - low)
    np.testing.assert_allclose(hi_edge, counts + high)


def test_garwood_direct_sums_match_scipy_up_to_the_threshold():
    """Counts up to DIRECT_MAX_COUNT are solved by Newton steps on Poisson sums (no scipy import):
    they must give scipy's incomplete-gamma quantiles (ROOT's gamma_quantile[_c])."""
    from scipy.special import gammainccinv, gammaincinv

    from pycombine.outputs.root.garwood import DIRECT_MAX_COUNT

    n = np.arange(0, DIRECT_MAX_COUNT + 1, dtype=float)
    half = ROOT_ONE_SIGMA_ALPHA / 2
    low, high = garwood_errors(n)
    expected_low = np.where(n > 0, n - gammaincinv(np.maximum(n, 1), half), 0.0)
    expected_high = gammainccinv(n + 1, half) - n
    # the quantiles agree to ~1e-12 relative; the error bars (count minus quantile) to ~1e-10
    np.testing.assert_allclose(low, expected_low, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(high, expected_high, rtol=1e-10, atol=1e-12)


def test_garwood_small_counts_need_no_scipy():
    code = ("import sys; from pycombine.outputs.root.garwood import garwood_errors; "
            "garwood_errors([0, 3, 7.5, 426]); print('scipy.special' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_garwood_root_edge_cases():
    # ROOT truncates towards zero: -0.5 behaves like 0; negative n falls back to sqrt(|c|)
    low, high = garwood_errors(np.array([-0.5, -4.0, np.nan]))
    assert low[0] == 0.0
    assert high[0] == pytest.approx(-np.log(ROOT_ONE_SIGMA_ALPHA / 2) + 0.5)
    assert low[1] == high[1] == pytest.approx(2.0)
    assert np.isnan(low[2]) and np.isnan(high[2])
    scalar_low, scalar_high = garwood_errors(0)
    assert scalar_low.shape == () and scalar_high == pytest.approx(1.8410216)


# --------------------------------------------------------------------------------------- trees


def test_limit_tree_types_order_values(combined_file):
    with uproot.open(combined_file) as f:
        tree = f["limit"]
        assert tree.classname == "TTree"
        assert tree.title == "limit"
        expected = list(limit_columns())
        assert tree.keys() == expected
        dtypes = {k: tree[k].interpretation.from_dtype.str for k in tree.keys()}
        assert dtypes == {
            "limit": ">f8",
            "limitErr": ">f8",
            "mh": ">f8",
            "syst": ">i4",
            "iToy": ">i4",
            "iSeed": ">i4",
            "iChannel": ">i4",
            "t_cpu": ">f4",
            "t_real": ">f4",
            "quantileExpected": ">f4",
            "r": ">f4",
            "deltaNLL": ">f4",
        }
        leaves = {b.name: b.member("fLeaves")[0].classname for b in tree.branches}
        assert leaves["limit"] == "TLeafD" and leaves["iToy"] == "TLeafI" and leaves["r"] == "TLeafF"
        arrays = tree.arrays(library="np")
        for name, values in limit_columns().items():
            np.testing.assert_array_equal(arrays[name], values)


def test_empty_tree_keeps_branch_types(combined_file):
    with uproot.open(combined_file) as f:
        tree = f["limit_empty"]
        assert tree.num_entries == 0
        assert tree.keys() == [name for name, _ in LIMIT_BRANCHES]
        arrays = tree.arrays(library="np")
        for name, dtype in LIMIT_BRANCHES:
            assert tree[name].interpretation.from_dtype == dtype.newbyteorder(">")
            assert len(arrays[name]) == 0


def test_wide_tree(combined_file):
    with uproot.open(combined_file) as f:
        tree = f["tree_fit_sb"]
        assert tree.num_entries == 1
        assert len(tree.keys()) == WIDE_NPARAMS + 2
        assert tree.keys()[:3] == ["CMS_nuis_0", "CMS_nuis_1", "CMS_nuis_2"]
        assert tree.keys()[-2:] == ["fit_status", "numbadnll"]
        assert tree["CMS_nuis_7"].interpretation.from_dtype.str == ">f8"
        assert tree["fit_status"].interpretation.from_dtype.str == ">i4"
        arrays = tree.arrays(["CMS_nuis_299", "numbadnll"], library="np")
        assert arrays["CMS_nuis_299"][0] == pytest.approx(2.99)
        assert arrays["numbadnll"][0] == -1


def test_tree_extend_in_chunks(tmp_path):
    path = tmp_path / "chunks.root"
    with RootFileWriter(path) as out:
        handle = out.tree("limit", {"limit": np.array([], dtype=np.float64), "iToy": np.array([], dtype=np.int32)})
        handle.extend({"iToy": np.array([1, 2]), "limit": [0.5, 0.25]})  # int64 -> int32 (same kind)
        handle.extend({"limit": np.array([], dtype=np.float64), "iToy": np.array([], dtype=np.int32)})
        handle.extend({"limit": np.array([0.125]), "iToy": np.array([3], dtype=np.int32)})
        assert handle.num_entries == 3
        with pytest.raises(ValueError, match="missing"):
            handle.extend({"limit": np.array([1.0])})
    with uproot.open(path) as f:
        arrays = f["limit"].arrays(library="np")
        np.testing.assert_array_equal(arrays["limit"], [0.5, 0.25, 0.125])
        np.testing.assert_array_equal(arrays["iToy"], [1, 2, 3])
        assert arrays["iToy"].dtype == np.int32


def test_tree_rejects_ambiguous_columns(tmp_path):
    with RootFileWriter(tmp_path / "bad.root") as out:
        with pytest.raises(TypeError, match="numpy array"):
            out.tree("t1", {"iToy": [0, 1]})  # a list would silently become int64
        with pytest.raises(TypeError, match="dtype"):
            out.tree("t2", {"s": np.array(["a"])})
        with pytest.raises(ValueError, match="different lengths"):
            out.tree("t3", {"a": np.zeros(2), "b": np.zeros(3)})
        with pytest.raises(ValueError, match="reserves"):
            out.tree("t4", {"a/D": np.zeros(1)})
        # failed validations do not reserve the name
        out.tree("t1", {"iToy": np.array([0], dtype=np.int32)})


# --------------------------------------------------------------------------------------- directories


def test_directories(combined_file):
    with uproot.open(combined_file) as f:
        classnames = f.classnames(recursive=False)
        assert classnames["toys;1"] in ("TDirectory", "TDirectoryFile")
        assert f["toys"].keys() == []
        assert set(f["shapes_prefit"].keys(recursive=False, cycle=False)) == {"ch1", "overall_total_covar"}
        assert set(f["shapes_prefit/ch1"].keys(cycle=False)) == {"total", "sig", "asym", "data"}
        assert f["shapes_fit_s/ch1/bkg"].classname == "TH1F"


def test_whole_file_readable(combined_file):
    """Trees, histograms and graphs side by side in nested directories all deserialize."""
    seen = {}
    with uproot.open(combined_file) as f:
        for key, classname in f.classnames(recursive=True, cycle=False).items():
            obj = f[key]
            seen[classname] = seen.get(classname, 0) + 1
            if classname == "TTree":
                obj.arrays(library="np")
            elif classname.startswith("TH"):
                obj.values(flow=True)
            elif classname == "TGraphAsymmErrors":
                obj.values()
    assert seen == {
        "TTree": 3,
        "TDirectory": 5,
        "TH1F": 2,
        "TH1D": 1,
        "TH2F": 1,
        "TH2D": 1,
        "TGraphAsymmErrors": 2,
    }


# --------------------------------------------------------------------------------------- histograms


def test_th1f_unit_axis_errors_and_stats(combined_file):
    with uproot.open(combined_file) as f:
        h = f["shapes_prefit/ch1/total"]
        assert h.classname == "TH1F"
        assert h.member("fName") == "total" and h.title == "total in ch1"
        assert h.values().dtype.newbyteorder("=") == np.float32
        np.testing.assert_array_equal(h.values(), [1.0, 2.0, 4.0])
        np.testing.assert_allclose(h.errors(), [0.5, 1.0, 1.5])
        np.testing.assert_array_equal(h.axis().edges(), [0.0, 1.0, 2.0, 3.0])
        np.testing.assert_array_equal(h.values(flow=True)[[0, -1]], [0.0, 0.0])
        # ROOT's ResetStats: sums over in-range bins, effective entries sumw^2/sumw2
        sumw, sumw2 = 7.0, 0.25 + 1.0 + 2.25
        assert h.member("fTsumw") == pytest.approx(sumw)
        assert h.member("fTsumw2") == pytest.approx(sumw2)
        assert h.member("fTsumwx") == pytest.approx(1 * 0.5 + 2 * 1.5 + 4 * 2.5)
        assert h.member("fTsumwx2") == pytest.approx(1 * 0.25 + 2 * 2.25 + 4 * 6.25)
        assert h.member("fEntries") == pytest.approx(sumw**2 / sumw2)


def test_th1d_labels_no_sumw2_and_variable_edges(combined_file):
    with uproot.open(combined_file) as f:
        h = f["shapes_prefit/ch1/sig"]
        assert h.classname == "TH1D"
        assert h.values().dtype.newbyteorder("=") == np.float64
        assert len(h.member("fSumw2")) == 0  # ROOT then uses sqrt(|content|)
        np.testing.assert_allclose(h.errors(), np.sqrt([0.25, 0.5, 0.125]))
        assert h.axis().labels() == ["b0", "b1", "b2"]
        assert [s.member("@fUniqueID") for s in h.member("fXaxis").member("fLabels")] == [1, 2, 3]
        b = f["shapes_fit_s/ch1/bkg"]
        np.testing.assert_array_equal(b.axis().edges(), [0.0, 10.0, 30.0])
        assert b.member("fXaxis").member("fTitle") == "m"
        assert b.member("fTsumwx") == pytest.approx(2 * 5.0 + 3 * 20.0)


def test_th2_orientation_errors_labels(combined_file):
    with uproot.open(combined_file) as f:
        h = f["shapes_prefit/overall_total_covar"]
        assert h.classname == "TH2F"
        np.testing.assert_array_equal(h.values(), np.array([[1.0, 0.2, 0.0], [0.2, 2.0, 0.1]], dtype=np.float32))
        np.testing.assert_allclose(h.errors(), np.full((2, 3), 0.5))
        np.testing.assert_array_equal(h.axis(0).edges(), [0, 1, 2])
        np.testing.assert_array_equal(h.axis(1).edges(), [0, 1, 2, 3])
        assert h.axis(0).labels() == ["ch1_0", "ch1_1"]
        assert h.axis(1).labels() == ["ch1_0", "ch1_1", "ch1_2"]
        assert h.member("fTsumw") == pytest.approx(3.5)
        assert h.member("fTsumwxy") == pytest.approx(
            1.0 * 0.5 * 0.5 + 0.2 * 0.5 * 1.5 + 0.2 * 1.5 * 0.5 + 2.0 * 1.5 * 1.5 + 0.1 * 1.5 * 2.5
        )
        d = f["covariance_fit_s"]
        assert d.classname == "TH2D"
        np.testing.assert_array_equal(d.values(), np.eye(2))


def test_histogram_statistics_effective_entries():
    stats = histogram_statistics(np.array([2.0, 2.0]), np.array([2.0, 2.0]), np.array([0.5, 1.5]))
    assert stats["fEntries"] == pytest.approx(4.0)  # unweighted: entries = sum of contents
    assert stats["fTsumwx"] == pytest.approx(4.0)


# --------------------------------------------------------------------------------------- graphs


def test_tgraph_asymm_errors_roundtrip(combined_file):
    with uproot.open(combined_file) as f:
        g = f["shapes_prefit/ch1/asym"]
        assert g.classname == "TGraphAsymmErrors"
        assert g.member("fName") == "asym"
        assert g.member("fTitle") == "an asymmetric graph"
        x, y = g.values()
        np.testing.assert_array_equal(x, GRAPH["x"])
        np.testing.assert_array_equal(y, GRAPH["y"])
        (exl, eyl), (exh, eyh) = g.errors("low"), g.errors("high")
        for got, key in ((exl, "exl"), (exh, "exh"), (eyl, "eyl"), (eyh, "eyh")):
            np.testing.assert_array_equal(got, GRAPH[key])
        np.testing.assert_array_equal(g.member("fEYhigh"), GRAPH["eyh"])
        assert g.member("fNpoints") == 4
        assert g.member("fMinimum") == -1111.0 and g.member("fMaximum") == -1111.0
        assert g.member("fHistogram") is None
        assert g.member("fFunctions").classname == "TList" and len(g.member("fFunctions")) == 0
        assert (g.member("fLineColor"), g.member("fFillStyle"), g.member("fMarkerSize")) == (1, 1000, 1.0)


def test_tgraph_readable_with_the_files_own_streamers(combined_file):
    """Drop uproot's built-in models so the reader is generated from the TStreamerInfo we wrote."""
    builtin = {"TGraphAsymmErrors", "TGraph", "TNamed", "TAttLine", "TAttFill", "TAttMarker"}
    custom = {k: v for k, v in uproot.classes.items() if k not in builtin}
    with uproot.open(combined_file, custom_classes=custom) as f:
        g = f["shapes_prefit/ch1/asym"]
        assert type(g).__module__ == "uproot.dynamic"  # not the built-in model
        assert g.classname == "TGraphAsymmErrors"
        np.testing.assert_array_equal(g.member("fX"), GRAPH["x"])
        np.testing.assert_array_equal(g.member("fEXhigh"), GRAPH["exh"])
        np.testing.assert_array_equal(g.member("fEYlow"), GRAPH["eyl"])
        assert str(g.member("fTitle")) == "an asymmetric graph"
        assert g.member("fMaximum") == -1111.0


def _root_checksum(streamer) -> int:
    """ROOT's TStreamerInfo::GetCheckSum (current algorithm) for simple classes, from the record."""

    def mix(value: int, text: str) -> int:
        for ch in text.encode():
            value = (value * 3 + ch) & 0xFFFFFFFF
        return value

    value = mix(0, streamer.name)
    elements = list(streamer.elements)
    for el in elements:
        if type(el).__name__ == "Model_TStreamerBase":
            value = mix(value, el.name)
            value = (value * 3 + (int(el.member("fMaxIndex")[1]) & 0xFFFFFFFF)) & 0xFFFFFFFF
    for el in elements:
        if type(el).__name__ == "Model_TStreamerBase":
            continue
        assert el.member("fArrayDim") == 0
        value = mix(mix(value, el.name), el.typename)
        title = str(el.member("fTitle"))
        if "[" in title and "]" in title:
            value = mix(value, title[title.index("[") + 1 : title.index("]")])
    return value


def test_streamer_infos_match_root_classes(combined_file):
    """The records are ROOT's own: versions as in ROOT's ClassDef and checksums that ROOT's
    algorithm reproduces from the member list (same as in TGraph.h / TGraphAsymmErrors.h)."""
    expected_versions = {
        "TGraphAsymmErrors": 3,
        "TGraph": 4,
        "TNamed": 1,
        "TAttLine": 2,
        "TAttFill": 2,
        "TAttMarker": 2,
        "TList": 5,
    }
    with uproot.open(combined_file) as f:
        for name, version in expected_versions.items():
            assert list(f.file.streamers[name]) == [version], name
        for name in ("TGraphAsymmErrors", "TGraph", "TNamed", "TAttLine", "TAttFill", "TAttMarker"):
            streamer = f.file.streamer_named(name)
            assert _root_checksum(streamer) == int(streamer.member("fCheckSum")) & 0xFFFFFFFF, name
        graph = f.file.streamer_named("TGraphAsymmErrors")
        assert [e.name for e in graph.elements] == ["TGraph", "fEXlow", "fEXhigh", "fEYlow", "fEYhigh"]


def test_tgraph_byte_layout_matches_root():
    """Walk the serialized object by hand, following ROOT's WriteClassBuffer layout."""
    g = make_tgraph_asymm_errors([1.0, 2.0], [3.0, 4.0], 0.5, 0.5, [0.1, 0.2], [0.3, 0.4], title="t")
    buf = g.serialize(name="data")
    pos = 0

    def take(fmt: str):
        nonlocal pos
        values = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return values if len(values) > 1 else values[0]

    def header(version: int) -> int:
        count, ver = take(">IH")
        assert count & 0x40000000 and ver == version
        return pos - 2 + (count & ~0x40000000)  # end of this object

    def string() -> str:
        n = take(">B")
        return take(f">{n}s").decode()

    end_all = header(3)
    assert end_all == len(buf)
    end_graph = header(4)
    end_named = header(1)
    assert take(">H") == 1  # TObject version (no byte count)
    take(">II")  # fUniqueID, fBits
    assert (string(), string()) == ("data", "t")
    assert pos == end_named
    end = header(2)
    assert take(">hhh") == (1, 1, 1) and pos == end  # TAttLine
    end = header(2)
    assert take(">hh") == (0, 1000) and pos == end  # TAttFill
    end = header(2)
    assert take(">hhf") == (1, 1, 1.0) and pos == end  # TAttMarker
    assert take(">i") == 2  # fNpoints
    assert take(">B") == 1 and take(">2d") == (1.0, 2.0)  # fX
    assert take(">B") == 1 and take(">2d") == (3.0, 4.0)  # fY
    # fFunctions: object pointer with a new-class tag, then an empty TList v5
    count, tag = take(">II")
    assert count & 0x40000000 and tag == 0xFFFFFFFF
    end_ptr = pos - 4 + (count & ~0x40000000)
    assert take(">6s") == b"TList\x00"
    end = header(5)
    assert take(">H") == 1
    take(">II")
    assert string() == "" and take(">i") == 0 and pos == end == end_ptr
    assert take(">I") == 0  # fHistogram: null pointer
    assert take(">2d") == (-1111.0, -1111.0)
    assert pos == end_graph
    for expected in ((0.5, 0.5), (0.5, 0.5), (0.1, 0.2), (0.3, 0.4)):
        assert take(">B") == 1 and take(">2d") == expected
    assert pos == len(buf)


def test_empty_graph_writes_null_arrays(tmp_path):
    g = make_tgraph_asymm_errors([], [])
    buf = g.serialize(name="g")
    assert buf.endswith(b"\x00" * 4)  # four "no array" bytes for the error arrays
    path = tmp_path / "empty_graph.root"
    with RootFileWriter(path) as out:
        out.put("g", g)
    with uproot.open(path) as f:
        assert f["g"].member("fNpoints") == 0
        assert len(f["g"].member("fEYhigh")) == 0


def test_data_graph(combined_file):
    counts = np.array([3, 0, 7, 12])
    low, high = garwood_errors(counts)
    with uproot.open(combined_file) as f:
        g = f["shapes_prefit/ch1/data"]
        assert g.classname == "TGraphAsymmErrors"
        assert g.member("fName") == "data" and g.member("fTitle") == "sig in ch1"
        np.testing.assert_array_equal(g.member("fX"), [0.5, 1.5, 2.5, 3.5])
        np.testing.assert_array_equal(g.member("fY"), counts)
        np.testing.assert_array_equal(g.member("fEXlow"), np.full(4, 0.5))
        np.testing.assert_array_equal(g.member("fEXhigh"), np.full(4, 0.5))
        np.testing.assert_allclose(g.member("fEYlow"), low, rtol=0, atol=0)
        np.testing.assert_allclose(g.member("fEYhigh"), high, rtol=0, atol=0)
        assert g.member("fEYlow")[1] == 0.0


def test_data_graph_density_with_edges():
    g = make_data_graph([4, 10], "t", edges=[0.0, 2.0, 7.0])
    low, high = garwood_errors([4, 10])
    np.testing.assert_array_equal(g.member("fX"), [1.0, 4.5])
    np.testing.assert_array_equal(g.member("fY"), [2.0, 2.0])
    np.testing.assert_array_equal(g.member("fEXlow"), [1.0, 2.5])
    np.testing.assert_allclose(g.member("fEYhigh"), high / [2.0, 5.0])
    np.testing.assert_allclose(g.member("fEYlow"), low / [2.0, 5.0])


# --------------------------------------------------------------------------------------- atomicity


def test_commit_leaves_only_final_file(tmp_path):
    final = tmp_path / "out.root"
    with RootFileWriter(final) as out:
        tmp = out.temporary_path
        assert tmp is not None and os.path.dirname(tmp) == str(tmp_path)
        name = os.path.basename(tmp)
        assert name.startswith(".out.tmp") and name.endswith(".root")
        assert os.path.exists(tmp) and not final.exists()
        out.tree("limit", limit_columns())
    assert sorted(os.listdir(tmp_path)) == ["out.root"]
    assert out.temporary_path is None
    with uproot.open(final) as f:
        assert f["limit"].num_entries == 3


def test_exception_leaves_nothing_behind(tmp_path):
    final = tmp_path / "out.root"
    with pytest.raises(RuntimeError, match="boom"):
        with RootFileWriter(final) as out:
            out.tree("limit", limit_columns())
            out.th1("shapes_prefit/ch1/total", [1.0])
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_exception_keeps_previous_file(tmp_path):
    final = tmp_path / "out.root"
    final.write_bytes(b"previous content")
    with pytest.raises(KeyError):
        with RootFileWriter(final) as out:
            out.mkdir("toys")
            raise KeyError("x")
    assert final.read_bytes() == b"previous content"
    assert os.listdir(tmp_path) == ["out.root"]
    with RootFileWriter(final) as out:  # success replaces it
        out.mkdir("toys")
    with uproot.open(final) as f:
        assert "toys" in f.keys(cycle=False)


def test_misuse_is_reported(tmp_path):
    out = RootFileWriter(tmp_path / "x.root")
    with pytest.raises(RuntimeError, match="not open"):
        out.mkdir("toys")
    with out:
        out.th1("h", [1.0])
        with pytest.raises(ValueError, match="already written"):
            out.th1("h", [2.0])
        with pytest.raises(ValueError, match="cycle separator"):
            out.th1("h;2", [2.0])
    with pytest.raises(RuntimeError):
        out.th1("later", [1.0])
    with pytest.raises(RuntimeError, match="reopened"):
        out.open()


def test_writer_module_imports_uproot_lazily():
    code = (
        "import sys, pycombine.outputs.root.file, pycombine.outputs.root.garwood, pycombine.outputs.limit_tree; "
        "sys.exit('uproot' in sys.modules or 'scipy' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
