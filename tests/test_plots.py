"""The plot scripts: what is drawn is read back from the matplotlib Figures and compared with the
inputs (band vertices, line data, bar widths, histogram contents, text), not judged by eye.

Inputs are written here (JSON, limit trees with uproot) or made by combine on the bundled cards;
expected values come from the inputs or from formulas (parabolic scans, Gaussian contours).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from refsuite import env

pytest.importorskip("matplotlib")

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _write_scan(path: Path, columns: dict) -> None:
    """A limit tree with Combine's branches in Combine's order, then ``columns``."""
    from pycombine.outputs.root.file import RootFileWriter

    n = len(next(iter(columns.values())))
    base = {"limit": np.zeros(n), "limitErr": np.zeros(n), "mh": np.full(n, 120.0), "syst": np.ones(n, np.int32),
            "iToy": np.zeros(n, np.int32), "iSeed": np.full(n, 123456, np.int32), "iChannel": np.zeros(n, np.int32),
            "t_cpu": np.zeros(n, np.float32), "t_real": np.zeros(n, np.float32)}
    with RootFileWriter(str(path), fsync=False) as f:
        f.tree("limit", {**base, **columns})


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]


def _by_gid(ax, gid):
    return [a for a in ax.get_children() if getattr(a, "get_gid", lambda: None)() == gid]


# ---------------------------------------------------------------------------------------- plotLimits.py
LIMITS = {
    "130.0": {"exp+1": 3.1, "exp+2": 4.2, "exp-1": 1.6, "exp-2": 1.2, "exp0": 2.2, "obs": 2.5},
    "120.0": {"exp+1": 3.0, "exp+2": 4.0, "exp-1": 1.5, "exp-2": 1.1, "exp0": 2.1, "obs": 1.9},
    "125.0": {"exp+1": 2.8, "exp+2": 3.9, "exp-1": 1.4, "exp-2": 1.0, "exp0": 2.0, "obs": 2.3},
}


def test_limits_bands_and_lines_are_the_json(tmp_path):
    from pycombine.plots.limits import LimitSource, limits_figure

    fig = limits_figure([LimitSource(LIMITS)])
    ax = fig.axes[0]
    xs = [120.0, 125.0, 130.0]
    lines = {ln.get_label(): ln for ln in ax.lines}
    np.testing.assert_array_equal(lines["Expected"].get_xdata(), xs)
    np.testing.assert_array_equal(lines["Expected"].get_ydata(), [LIMITS[f"{x}"]["exp0"] for x in xs])
    np.testing.assert_array_equal(lines["Observed"].get_ydata(), [LIMITS[f"{x}"]["obs"] for x in xs])
    bands = {c.get_label(): c for c in ax.collections}
    for label, lo, hi in ((r"$\pm1\sigma$ Expected", "exp-1", "exp+1"), (r"$\pm2\sigma$ Expected", "exp-2", "exp+2")):
        v = bands[label].get_paths()[0].vertices
        for x in xs:
            ys = v[np.isclose(v[:, 0], x), 1]
            assert min(ys) == pytest.approx(LIMITS[f"{x}"][lo]) and max(ys) == pytest.approx(LIMITS[f"{x}"][hi])
    assert "CMS" in _texts(fig) and "95% CL limit on" in ax.get_ylabel()
    # file.json:KEY draws that entry only, with its style; any variable works as x
    path = tmp_path / "lumi.json"
    path.write_text(json.dumps({"1.0": {"exp0": 5.0}, "10.0": {"exp0": 2.0}, "100.0": {"exp0": 0.9}}))
    from pycombine.plots.limits import parse_source

    src = parse_source(f'{path}:exp0:Title="10 fb",LineColor=2,LineStyle=2')
    fig = limits_figure([src], x_title="L (fb^{-1})", logx=True, style_name="none")
    (line,) = fig.axes[0].lines
    assert line.get_label() == "10 fb" and line.get_linestyle() == "--"
    np.testing.assert_array_equal(line.get_xdata(), [1.0, 10.0, 100.0])
    np.testing.assert_array_equal(line.get_ydata(), [5.0, 2.0, 0.9])
    assert fig.axes[0].get_xlabel() == "L $(fb^{-1})$"
    assert "CMS" not in _texts(fig)  # --style none: no experiment label


# ---------------------------------------------------------------------------------------- plotGof.py
def test_gof_histogram_arrow_and_pvalue():
    from pycombine.plots.gof import gof_figure, histogram_edges

    rng = np.random.default_rng(5)
    toys = rng.chisquare(10, size=500)
    obs = 14.2
    p = float(np.mean(toys >= obs))
    fig = gof_figure(toys, obs, p, "saturated", bins=40)
    ax = fig.axes[0]
    (steps,) = [a for a in ax.patches if type(a).__name__ == "StepPatch"]
    values, edges = steps.get_data().values, steps.get_data().edges
    np.testing.assert_array_equal(edges, histogram_edges(toys, 40))
    np.testing.assert_array_equal(values, np.histogram(toys, bins=edges)[0])
    assert edges[0] == toys.min() and values.sum() == len(toys)
    (arrow,) = _by_gid(ax, "observed")
    assert arrow.xy == (obs, 0.0)
    texts = _texts(fig)
    assert "saturated, 500 Toys" in texts and f"p-value = {p:0.3f}" in texts
    # a range that leaves toys and the observed value out says so
    fig = gof_figure(toys, obs, p, bins=10, xrange=(0, 12))
    texts = _texts(fig)
    assert f"{int(np.sum(toys > 12))} overflow" in texts and "observed value not in range" in texts
    e = histogram_edges(toys, 10, percentile=(0.1, 0.9))
    assert e[0] == np.sort(toys)[50] and e[-1] == np.sort(toys)[450]


def test_gof_entries_of_ks_channels():
    from pycombine.plots.gof import gof_entries

    data = {"120.0": {"ch1": {"toy": [1.0, 2.0], "obs": [1.5], "p": 0.5}, "ch2": {"toy": [3.0], "obs": [1.0], "p": 1.0}}}
    assert [k for k, _ in gof_entries(data, "120.0", "KS")] == ["ch1", "ch2"]
    from pycombine.errors import PyCombineError

    with pytest.raises(PyCombineError, match="no mass '125.0'"):
        gof_entries(data, "125.0", "KS")


# ---------------------------------------------------------------------------------------- plot1DScan.py
def _parabola(path: Path, best: float, sigma: float, n: int = 41, lo: float = -1.0, hi: float = 3.0) -> None:
    x = np.linspace(lo, hi, n)
    dnll = 0.5 * ((x - best) / sigma) ** 2
    x = np.concatenate([[best], x]).astype(np.float32)
    dnll = np.concatenate([[0.0], dnll]).astype(np.float32)
    q = np.concatenate([[-1.0], np.full(n, -1.0 + 1e-9)]).astype(np.float32)
    _write_scan(path, {"quantileExpected": q, "r": x, "deltaNLL": dnll})


def test_scan_crossings_legend_and_drawn_points(tmp_path):
    from pycombine.plots.scan1d import build_scan, read_scan, scan_figure

    _parabola(tmp_path / "scan.root", 1.0, 0.5)
    x, y = read_scan([str(tmp_path / "scan.root")], "r", y_cut=7.0)
    assert np.all(np.diff(x) > 0) and y.max() <= 7.0 and 0.0 in y
    scan = build_scan(x, y, "Observed")
    best, up, down = scan.result()
    assert best == 1.0
    assert up == pytest.approx(0.5, abs=2e-4) and down == pytest.approx(-0.5, abs=2e-4)
    (iv95,) = scan.intervals[3.84]
    assert iv95["lo"] == pytest.approx(1 - 0.5 * math.sqrt(3.84), abs=2e-4)
    assert iv95["hi"] == pytest.approx(1 + 0.5 * math.sqrt(3.84), abs=2e-4)
    fig = scan_figure(scan, poi_label="r")
    ax = fig.axes[0]
    (points,) = _by_gid(ax, "points_0")
    np.testing.assert_array_equal(points.get_xdata(), x)
    np.testing.assert_array_equal(points.get_ydata(), y)
    levels = sorted(ln.get_ydata()[0] for ln in ax.lines if str(ln.get_gid()).startswith("level_"))
    assert levels == [1.0, 3.84]
    crossings = sorted(ln.get_xdata()[0] for ln in _by_gid(ax, "crossing"))
    assert crossings == pytest.approx([iv95["lo"], scan.intervals[1.0][0]["lo"], scan.intervals[1.0][0]["hi"],
                                       iv95["hi"]])
    (result,) = [t.get_text() for t in ax.texts if t.get_gid() == "result"]
    assert result == "r = $1.000^{+0.500}_{-0.500}$"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Observed"]


def test_scan_breakdown_and_others(tmp_path):
    """Total σ = 0.5, stat-only σ = 0.3: syst = 0.4, the quadrature difference."""
    from pycombine.plots.scan1d import breakdown, build_scan, read_scan, scan_figure

    _parabola(tmp_path / "total.root", 1.0, 0.5)
    _parabola(tmp_path / "stat.root", 1.0, 0.3)
    total = build_scan(*read_scan([str(tmp_path / "total.root")], "r"), "Total")
    stat = build_scan(*read_scan([str(tmp_path / "stat.root")], "r"), "Stat only", color=2)
    parts = breakdown(total, [stat], ["Syst", "Stat"])
    assert [p[0] for p in parts] == ["Syst", "Stat"]
    assert parts[0][1] == pytest.approx(0.4, abs=1e-3) and parts[0][2] == pytest.approx(0.4, abs=1e-3)
    assert parts[1][1] == pytest.approx(0.3, abs=1e-3)
    fig = scan_figure(total, [stat], "r", breakdown_names=["Syst", "Stat"])
    ax = fig.axes[0]
    (text,) = [t.get_text() for t in ax.texts if t.get_gid() == "result"]
    assert "^{+0.400}_{-0.400}" in text and "(Syst)" in text and "^{+0.300}_{-0.300}" in text
    (spline,) = _by_gid(ax, "spline_1")
    assert spline.get_linestyle() == "--" and spline.get_color() == "#ff0000"  # ROOT colour 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Total", "Stat only"]
    # without --breakdown, one result line per scan in its colour
    fig = scan_figure(total, [stat], "r")
    results = [(t.get_text(), t.get_color()) for t in fig.axes[0].texts if t.get_gid() == "result"]
    assert results == [("r = $1.000^{+0.500}_{-0.500}$", "black"), ("r = $1.000^{+0.300}_{-0.300}$", "#ff0000")]


def test_plot1dscan_cli_outputs(tmp_path):
    _parabola(tmp_path / "a.root", 1.0, 0.5)
    _parabola(tmp_path / "b.root", 1.0, 0.3)
    p = subprocess.run([str(BIN / "plot1DScan.py"), "a.root", "--others", "b.root:Stat-only:2", "--breakdown",
                        "syst,stat", "-o", "out", "--main-label", "With systematics"], cwd=tmp_path,
                       capture_output=True, text=True, env=env(), timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == "With systematics: r = 1.000 -0.500/+0.500"
    assert {f.name for f in tmp_path.glob("out.*")} == {"out.pdf", "out.png", "out.root"}


# ---------------------------------------------------------------------------------------- 2D contours
def test_contours_of_a_gaussian_grid(tmp_path):
    """-2ΔlnL = x² + y²: the 68 % and 95 % contours are circles of radius sqrt(2.30) and sqrt(5.99)."""
    from pycombine.plots.scan2d import contour_figure, read_scan_2d

    g = np.linspace(-3.5, 3.5, 36) + 0.1
    xx, yy = np.meshgrid(g, g)
    x = np.concatenate([[0.1], xx.ravel()]).astype(np.float32)
    y = np.concatenate([[0.1], yy.ravel()]).astype(np.float32)
    dnll = 0.5 * ((x - 0.1) ** 2 + (y - 0.1) ** 2)
    q = np.full(len(x), 0.5, np.float32)
    q[0] = -1.0
    _write_scan(tmp_path / "grid.root", {"quantileExpected": q, "a": x, "b": y, "deltaNLL": dnll.astype(np.float32)})
    xn, yn, xv, yv, qv, best = read_scan_2d([str(tmp_path / "grid.root")])
    assert (xn, yn) == ("a", "b") and best == (pytest.approx(0.1), pytest.approx(0.1))
    fig = contour_figure(xv, yv, qv, best, xn, yn)
    ax = fig.axes[0]
    for level, label in ((2.30, "68% CL"), (5.99, "95% CL")):
        (cs,) = _by_gid(ax, f"contour_{label}")
        verts = np.concatenate([p.vertices for p in cs.get_paths()])
        r = np.hypot(verts[:, 0] - 0.1, verts[:, 1] - 0.1)
        np.testing.assert_allclose(r, math.sqrt(level), rtol=0.03)
    (marker,) = _by_gid(ax, "best_fit")
    assert (marker.get_xdata()[0], marker.get_ydata()[0]) == (pytest.approx(0.1), pytest.approx(0.1))


# ---------------------------------------------------------------------------------------- plotImpacts.py
def _impacts_json() -> dict:
    params = []
    for k in range(7):
        shift = 0.1 * (k + 1)
        params.append({"name": f"nuis_{k}", "type": "Gaussian", "groups": [], "prefit": [-1.0, 0.0, 1.0],
                       "fit": [0.2 * k - 0.8, 0.2 * k, 0.2 * k + 0.7], "r": [1.0 - shift, 1.0, 1.0 + 0.5 * shift],
                       "impact_r": shift})
    params.append({"name": "norm", "type": "Unconstrained", "groups": ["g"], "prefit": [1.0, 1.0, 1.0],
                   "fit": [0.9, 1.2, 1.5], "r": [0.95, 1.0, 1.02], "impact_r": 0.05})
    return {"POIs": [{"name": "r", "fit": [0.6, 1.0, 1.5]}], "method": "default", "params": params}


def test_impact_pages_bars_points_and_pages():
    from pycombine.plots.impact_pages import impact_figures, prepare

    data = _impacts_json()
    figs = impact_figures(data, per_page=5)
    assert len(figs) == 2  # 8 parameters, 5 per page
    ax, axi = figs[0].axes[:2]
    _, _, ordered = prepare(data)
    names = [p["name"] for p in ordered]
    assert names[:5] == ["nuis_6", "nuis_5", "nuis_4", "nuis_3", "nuis_2"]  # by impact
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"{n}  {i + 1}" for i, n in enumerate(names[:5])]
    bars = {c.get_label(): c for c in axi.containers}
    hi = [r.get_width() for r in bars[r"$+1\sigma$ Impact"].patches]
    lo = [r.get_width() for r in bars[r"$-1\sigma$ Impact"].patches]
    assert hi == pytest.approx([p["r"][2] - p["r"][1] for p in ordered[:5]])
    assert lo == pytest.approx([p["r"][0] - p["r"][1] for p in ordered[:5]])
    # the fit points: (θ̂ - θ₀)/σ₀ with the post-fit errors in the same units
    (fit,) = [c for c in ax.containers if c.get_label() == "Fit"]
    xs = fit.lines[0].get_xdata()
    assert list(xs) == pytest.approx([p["fit"][1] for p in ordered[:5]])
    # the pull (θ̂ - θ₀)/sqrt(σ₀² - σ̂²) with the error of the side of the shift
    (pull,) = _by_gid(ax, "pull")
    expected = [p["fit"][1] / math.sqrt(1 - (p["fit"][1] - p["fit"][0]) ** 2) for p in ordered[:5]]
    assert list(pull.get_xdata()) == pytest.approx(expected)
    assert axi.get_title(loc="right") == r"$\hat{r} = 1.0^{+0.5}_{-0.4}$"  # PDG rounding
    # the unconstrained parameter is written, not drawn
    last = impact_figures(data, per_page=5)[1].axes[0]
    assert [t.get_text() for t in last.texts if t.get_gid() == "unconstrained"] == ["$1.20^{+0.30}_{-0.30}$"]
    # --blind: no best fit of the POI
    blind = impact_figures(data, per_page=5, blind=True)[0]
    assert blind.axes[1].get_title(loc="right") == ""


def test_impact_summary_counts_and_tables():
    from pycombine.plots.impact_pages import prepare, summary_figure

    data = _impacts_json()
    fig = summary_figure(data)
    _, _, params = prepare(data)
    pulls = [p["pull"] for p in params if p["pull_ok"]]
    ax = fig.axes[0]
    (hist,) = _by_gid(ax, "pull_histogram")
    assert hist.get_data().values.sum() == len(pulls)
    (beyond1,) = [t.get_text() for t in ax.texts if t.get_gid() == "beyond_1"]
    assert beyond1.startswith(f"N(> 1 s.d.) = {sum(abs(p) > 1 for p in pulls)}")
    names = [t.get_text() for a in fig.axes for t in a.texts if t.get_gid() == "Largest impacts_name"]
    assert names == [p["name"] for p in params]


def test_plotimpacts_cli_writes_pdf_png_and_summary(tmp_path):
    (tmp_path / "impacts.json").write_text(json.dumps(_impacts_json()))
    p = subprocess.run([str(BIN / "plotImpacts.py"), "-i", "impacts.json", "-o", "impacts", "--summary",
                        "--per-page", "4"], cwd=tmp_path, capture_output=True, text=True, env=env(), timeout=120)
    assert p.returncode == 0, p.stderr
    assert {f.name for f in tmp_path.glob("impacts*.p*")} == {"impacts.pdf", "impacts.png", "impacts_summary.pdf",
                                                             "impacts_summary.png"}
    assert (tmp_path / "impacts.pdf").read_bytes().count(b"/Type /Page\n") + \
        (tmp_path / "impacts.pdf").read_bytes().count(b"/Type /Page ") >= 2


# ---------------------------------------------------------------------------------------- fitDiagnostics plots
@pytest.fixture(scope="module")
def fitdiag(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fitdiag")
    for f in (REPO / "datacards" / "hww").iterdir():
        shutil.copy(f, d)
    p = subprocess.run([str(BIN / "combine"), "-M", "FitDiagnostics", "combined_datacard.txt", "--saveShapes",
                        "--saveWithUncertainties", "-n", ".hww"], cwd=d, capture_output=True, text=True, env=env(),
                       timeout=300)
    assert p.returncode == 0, p.stderr
    return d / "fitDiagnostics.hww.root"


def test_postfit_stack_is_the_file(fitdiag):
    import uproot

    from pycombine.plots.fit_diagnostics import postfit_figure, read_channel

    ch = read_channel(str(fitdiag), "SR0j", "fit_s")
    assert ch.signals == ["ggH_HWW"]  # the processes that make total_signal
    fig = postfit_figure(ch, "fit_s")
    ax = fig.axes[0]
    with uproot.open(str(fitdiag)) as f:
        d = f["shapes_fit_s/SR0j"]
        procs = [k.split(";")[0] for k, c in d.classnames().items() if c == "TH1F" and not k.startswith("total")]
        total = d["total"].values()
        total_err = d["total"].errors()
        g = d["data"]
        data_y = np.asarray(g.member("fY"))
        data_lo = np.asarray(g.member("fEYlow"))
        cumulative = np.zeros_like(total)
        stack = {}
        for name in [p for p in procs if p != "ggH_HWW"] + ["ggH_HWW"]:
            base = cumulative.copy()
            cumulative = cumulative + d[name].values()
            stack[name] = (base, cumulative.copy())
    for name, (base, top) in stack.items():
        (patch,) = _by_gid(ax, f"stack_{name}")
        np.testing.assert_allclose(patch.get_data().values, top, rtol=1e-6)
        np.testing.assert_allclose(patch.get_data().baseline, base, rtol=1e-6)
    np.testing.assert_allclose(cumulative, total, rtol=1e-4)  # the stack adds up to total
    (band,) = _by_gid(ax, "uncertainty")
    np.testing.assert_allclose(band.get_data().values, total + total_err, rtol=1e-6)
    (data,) = [c for c in ax.containers if c.get_label() == "Data"]
    np.testing.assert_allclose(data.lines[0].get_ydata(), data_y)
    seg = data.lines[2][0].get_segments()
    np.testing.assert_allclose([s[0][1] for s in seg], data_y - data_lo)
    ratio = fig.axes[1]
    (r,) = [c for c in ratio.containers]
    np.testing.assert_allclose(r.lines[0].get_ydata(), data_y / total, rtol=1e-6)


def test_pulls_are_diffnuisances_numbers(fitdiag):
    import uproot

    from pycombine.plots.fit_diagnostics import pulls, pulls_figure

    data = pulls(str(fitdiag), regex="CMS|lumi")
    assert data["names"] == ["CMS_eff_e", "CMS_eff_m", "CMS_trigger", "lumi_13TeV"]
    with uproot.open(str(fitdiag)) as f:
        h = f["fit_s_values"]  # the histogram view beside the RooFitResult fit_s
        idx = {n: i for i, n in enumerate(h.axis().labels())}
        vals, errs = h.values(), h.errors()
    expected = [vals[idx[n]] for n in data["names"]]  # pre-fit 0 +- 1
    np.testing.assert_allclose(data["fit_s"][0], expected)
    np.testing.assert_allclose(data["fit_s"][1], [errs[idx[n]] for n in data["names"]])
    fig = pulls_figure(data)
    (s,) = [c for c in fig.axes[0].containers if c.get_label() == "S+B fit"]
    np.testing.assert_allclose(s.lines[0].get_xdata(), expected)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == data["names"]


def test_fit_view_finds_a_renamed_histogram(tmp_path):
    """Where fit_s is a RooFitResult, its histogram view under another name is used."""
    import uproot

    from pycombine.plots.fit_diagnostics import fit_view

    from pycombine.outputs.root.file import RootFileWriter

    with RootFileWriter(str(tmp_path / "g.root"), fsync=False) as w:
        w.th1("fit_s_errLo", [-1.0], [0.0], classname="TH1D", labels=["a"])
        w.th1("fit_s_h", [0.5], [0.2], classname="TH1D", labels=["a"])
    with uproot.open(str(tmp_path / "g.root")) as f:
        h = fit_view(f, "fit_s")
        assert h.name == "fit_s_h" and list(h.values()) == [0.5]


# ---------------------------------------------------------------------------------------- styles, CLI
def test_styles_and_front_end(tmp_path):
    from pycombine.plots.limits import LimitSource, limits_figure

    atlas = limits_figure([LimitSource(LIMITS)], style_name="atlas", cms_sub="Preliminary")
    assert "ATLAS" in _texts(atlas) and "CMS" not in _texts(atlas)
    (tmp_path / "limits.json").write_text(json.dumps(LIMITS))
    p = subprocess.run([str(BIN / "pycombine"), "plot", "limits", "limits.json", "-o", "lim", "--style", "none"],
                       cwd=tmp_path, capture_output=True, text=True, env=env(), timeout=120)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "lim.pdf").is_file() and (tmp_path / "lim.png").is_file()
    p = subprocess.run([str(BIN / "plotLimits.py"), "missing.json"], cwd=tmp_path, capture_output=True, text=True,
                       env=env(), timeout=60)
    assert p.returncode == 1 and p.stderr.startswith("Error: missing.json") and len(p.stderr.splitlines()) == 1


def test_missing_matplotlib_is_one_line(tmp_path):
    fake = tmp_path / "site" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    (tmp_path / "limits.json").write_text(json.dumps(LIMITS))
    e = env()
    e["PYTHONPATH"] = str(tmp_path / "site") + os.pathsep + e.get("PYTHONPATH", "")
    p = subprocess.run([str(BIN / "plotLimits.py"), "limits.json"], cwd=tmp_path, capture_output=True, text=True,
                       env=e, timeout=60)
    assert p.returncode == 1
    assert p.stderr == "Error: plotting needs matplotlib: pip install 'pycombine[plot]'\n"


# ---------------------------------------------------------------------------------------- plotTestStatCLs.py
def test_test_stat_distributions_of_a_saved_hybrid_point(tmp_path):
    """The script's numbers are the tail fractions of the saved toys, counted here by hand (Combine's
    macro: plotted statistic max(2q, 0), strict '>'), and its histograms are those toys."""
    import uproot

    card = REPO / "datacards" / "counting" / "monojet_counting.txt"
    shutil.copy(card, tmp_path / card.name)
    p = subprocess.run([str(BIN / "combine"), "-M", "HybridNew", "--LHCmode", "LHC-limits", card.name, "--singlePoint",
                        "1.5", "-T", "400", "--clsAcc", "0", "--saveHybridResult", "-n", "part1B", "-s", "7"],
                       cwd=tmp_path, capture_output=True, text=True, env=env())
    assert p.returncode == 0, p.stderr
    grid = "higgsCombinepart1B.HybridNew.mH120.7.root"
    p = subprocess.run([str(BIN / "plotTestStatCLs.py"), "--input", grid, "--poi", "r", "--val", "all", "--mass", "120",
                        "--save-as-pdf"], cwd=tmp_path, capture_output=True, text=True, env=env())
    assert p.returncode == 0, p.stderr
    with uproot.open(tmp_path / grid) as f:
        (name,) = [k for k in f["toys"].keys(cycle=False) if k.startswith("HybridResult_")]
        t = f["toys"][name].arrays(library="np")
    q2 = np.maximum(2 * t["q"], 0.0)
    obs = q2[t["kind"] == -1][0]
    sb, b = q2[t["kind"] == 1], q2[t["kind"] == 0]
    pmu, pb = np.mean(sb > obs), np.mean(b > obs)
    assert sb.size + b.size == 500  # -T 400 S+B toys and a quarter as many B toys
    assert f"Pmu   = {pmu:.4f} +/- {math.sqrt(pmu * (1 - pmu) / sb.size):.4f}" in p.stdout
    assert f"1-Pb   = {pb:.4f} +/- {math.sqrt(pb * (1 - pb) / b.size):.4f}" in p.stdout
    assert f"CLs    = {pmu / pb:.4f}" in p.stdout
    assert "Point 1/1" in p.stdout and "All Plots saved to  test_stat_distributions.root" in p.stdout
    for ext in ("png", "pdf"):
        assert (tmp_path / f"test_stat_distributions.root_qmu_120.0_1.5.{ext}").stat().st_size > 0
    with uproot.open(tmp_path / "test_stat_distributions.root") as f:
        null = f["qmu_120.0_1.5/NullHyp"].to_numpy()
        alt = f["qmu_120.0_1.5/AltHyp"].to_numpy()
    edges = null[1]
    assert edges[0] == pytest.approx(min(sb.min(), b.min())) and edges[-1] == pytest.approx(max(sb.max(), b.max()))
    np.testing.assert_allclose(null[0], np.histogram(b, edges)[0] / b.size, rtol=1e-6)
    np.testing.assert_allclose(alt[0], np.histogram(sb, edges)[0] / sb.size, rtol=1e-6)


def test_test_stat_figure_draws_the_toys_and_the_observed_value():
    from pycombine.methods.hybrid_new.hypotest import HypoTest
    from pycombine.plots.test_stat import figure, summarize

    rng = np.random.default_rng(3)
    test = HypoTest({"r": 2.0}, 1.2, rng.chisquare(1, 800) / 2, 2.0 + rng.normal(0, 1, 200))
    s = summarize(test, "r", 125.0)
    fig = figure(s, "r", 125.0, nbins=50, style_name="none")
    ax = fig.axes[0]
    stairs = {a.get_label(): a for a in ax.patches if a.get_label() and not a.get_label().startswith("_")}
    values, edges, _baseline = stairs["expected for sig+bkg"].get_data()
    np.testing.assert_allclose(values, np.histogram(np.maximum(2 * test.q_sb, 0), edges)[0] / 800)
    assert [ln.get_xdata()[0] for ln in ax.lines if ln.get_label() == "observed value"] == [2.4]
    assert s.p_mu == pytest.approx(np.mean(np.maximum(2 * test.q_sb, 0) > 2.4))
    assert "q_{r}" in ax.get_xlabel() and "r = 2" in ax.get_xlabel()
    # -E -q 0.5: the observation is replaced by the median of the background-only toys
    med = summarize(test, "r", 125.0, expected_quantile=0.5)
    assert med.observed == pytest.approx(np.median(np.maximum(2 * test.q_b, 0)))


@pytest.mark.parametrize("args, message", [
    (["-E"], "-E/--expected: give the quantile"),
    (["--plot_both"], "--plot_both: only with --signif"),
    (["--val", "7"], "--val: no point r = 7"),
    (["--mass", "125"], "no HybridNew results at mass 125"),
])
def test_test_stat_script_errors(tmp_path, args, message):
    from pycombine.methods.hybrid_new.grid import columns, tree_name
    from pycombine.methods.hybrid_new.hypotest import HypoTest
    from pycombine.outputs.root.file import RootFileWriter

    test = HypoTest({"r": 1.0}, 0.5, np.array([0.1, 0.7]), np.array([1.0, 2.0]))
    with RootFileWriter(str(tmp_path / "grid.root"), fsync=False) as f:
        f.tree(f"toys/{tree_name(test, 120.0)}", columns(test))
    argv = ["--input", "grid.root", "--poi", "r"] + (args if "--mass" in args else args + ["--mass", "120"])
    p = subprocess.run([str(BIN / "plotTestStatCLs.py"), *argv], cwd=tmp_path, capture_output=True, text=True, env=env())
    assert p.returncode == 1 and message in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "test_stat_distributions.root").exists()
