"""Combine's plot scripts under their names, drawn with matplotlib (``pycombine[plot]``):

    plotImpacts.py -i impacts.json -o impacts [--blind] [--summary] [--POI r]
    plot1DScan.py higgsCombine.scan.MultiDimFit.mH120.root -o scan [--others f.root:Label:2] [--breakdown Syst,Stat]
    plotLimits.py limits.json -o limit [--x-title ...]
    plotGof.py gof.json --statistic saturated --mass 120.0 -o gof
    plotTestStatCLs.py --input higgsCombine.HybridNew.mH120.root --poi r --val all --mass 120

and ``pycombine plot KIND ...`` (:func:`run_plot`) for these and the plots Combine has no script
for (``scan2d``, ``postfit``, ``pulls``). Options are Combine's (parsed with argparse like the
originals: several take a variable number of values); options that only tune ROOT's canvas
(``--height``, ``--pad-style``, ...) are accepted and have no effect. Every script adds
``--style cms|atlas|none`` (CMS by default) and ``--dpi`` (of the PNG). Outputs:
``<output>.pdf`` and ``<output>.png`` (plot1DScan.py also ``<output>.root``, the scan's graph).
plot1DScan.py also takes a comma-separated list of files for its main scan (a split grid without
hadd).

The drawing is in :mod:`pycombine.plots`; only argparse is imported until a plot is drawn, and
a missing matplotlib is one error line.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["KINDS", "plot_1d_scan_main", "plot_gof_main", "plot_impacts_main", "plot_limits_main", "plot_test_stat_cls_main", "run_plot"]


def _style_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--style", default="cms", choices=["cms", "atlas", "none"], help="experiment style (pycombine)")
    p.add_argument("--dpi", type=int, default=150, help="resolution of the PNG (pycombine)")


def _translate(path: str | None) -> dict:
    if not path:
        return {}
    from ..errors import PyCombineError

    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise PyCombineError(f"--translate {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise PyCombineError(f"--translate {path}: not valid JSON ({e})") from None


def _report(paths: list[str]) -> None:
    for p in paths:
        print(f"Wrote {p}")


# ---------------------------------------------------------------------------------------- plotImpacts.py
def plot_impacts(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="plotImpacts.py", description="Pulls and impacts pages of an impacts.json")
    p.add_argument("--input", "-i", required=True, help="impacts.json (combineTool.py -M Impacts -o)")
    p.add_argument("--output", "-o", required=True, help="output name, without extension (.pdf: all pages, .png: first)")
    p.add_argument("--translate", "-t", help="JSON file renaming parameters")
    p.add_argument("--units", default=None, help="units of the POI's best fit")
    p.add_argument("--per-page", type=int, default=30, help="parameters per page")
    p.add_argument("--max-pages", type=int, default=None, help="at most this many pages")
    p.add_argument("--height", type=int, default=600, help="(no effect)")
    p.add_argument("--left-margin", type=float, default=0.4, help="(no effect)")
    p.add_argument("--label-size", type=float, default=0.021, help="(no effect)")
    p.add_argument("--cms-label", default="Internal", help="text after the experiment's name")
    p.add_argument("--checkboxes", action="store_true", help="(not available)")
    p.add_argument("--blind", action="store_true", help="do not show the POI's best fit")
    p.add_argument("--color-groups", default=None, help="GROUP=COLOR,... (ROOT colour numbers or names)")
    p.add_argument("--pullDef", default=None, help="(only the default pull definition is available)")
    p.add_argument("--POI", default=None, help="the POI to draw (default: the first)")
    p.add_argument("--sort", "-s", choices=["impact", "constraint", "pull"], default="impact")
    p.add_argument("--relative", "-r", action="store_true", help="impacts relative to the POI's uncertainty")
    p.add_argument("--summary", action="store_true", help="also <output>_summary.pdf")
    _style_option(p)
    a = p.parse_args(argv)
    from ..errors import PyCombineError
    from ..plots.impact_pages import impact_figures, summary_figure
    from ..plots.style import save, save_pages

    if a.checkboxes:
        raise PyCombineError("--checkboxes is not available")
    if a.pullDef is not None:
        raise PyCombineError("--pullDef: only the default pull definition is available")
    try:
        with open(a.input) as f:
            data = json.load(f)
    except OSError as e:
        raise PyCombineError(f"{a.input}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise PyCombineError(f"{a.input}: not valid JSON ({e})") from None
    groups = dict(x.split("=", 1) for x in a.color_groups.split(",")) if a.color_groups else None
    translate = _translate(a.translate)
    if a.summary:
        fig = summary_figure(data, a.POI, a.blind, a.style, a.cms_label, translate)
        _report(save(fig, f"{a.output}_summary", dpi=a.dpi))
    figs = impact_figures(data, a.POI, a.per_page, a.max_pages, a.sort, a.relative, a.blind, translate, a.units,
                          a.cms_label, a.style, groups)
    print(f">> {len(figs)} page(s), at most {a.per_page} parameters each")
    _report([save_pages(figs, f"{a.output}.pdf")] + save(figs[0], f"{a.output}.png", dpi=a.dpi))
    return 0


# ---------------------------------------------------------------------------------------- plot1DScan.py
def plot_1d_scan(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="plot1DScan.py", description="A 1D likelihood scan and its crossings")
    p.add_argument("main", help="file(s) of the main scan (comma-separated for a split grid)")
    p.add_argument("--y-cut", type=float, default=7.0, help="drop points with 2*deltaNLL above this")
    p.add_argument("--y-max", type=float, default=8.0, help="top of the y axis")
    p.add_argument("--output", "-o", default="scan", help="output name without extension")
    p.add_argument("--POI", default="r", help="the scanned parameter")
    p.add_argument("--translate", default=None, help="JSON file renaming the POI")
    p.add_argument("--main-label", default="Observed", help="legend of the main scan")
    p.add_argument("--main-color", default="1", help="colour of the main scan (ROOT number or name)")
    p.add_argument("--others", nargs="*", help="more scans: FILE:LABEL:COLOR")
    p.add_argument("--breakdown", help="names of the uncertainty components, e.g. Syst,Stat (with --others)")
    p.add_argument("--logo", default="CMS", help="(the experiment comes from --style)")
    p.add_argument("--logo-sub", default="Internal", help="text after the experiment's name")
    p.add_argument("--levels", default="1,3.84", help="(pycombine) 2*deltaNLL levels of the crossings")
    _style_option(p)
    a = p.parse_args(argv)
    from ..errors import PyCombineError
    from ..plots.scan1d import build_scan, read_scan, scan_figure, write_scan_graph
    from ..plots.style import save

    try:
        levels = tuple(float(v) for v in a.levels.split(","))
    except ValueError:
        raise PyCombineError(f"--levels {a.levels}: comma-separated numbers") from None
    name = _translate(a.translate).get(a.POI, a.POI)
    x, y = read_scan(a.main.split(","), a.POI, a.y_cut)
    main = build_scan(x, y, a.main_label, a.main_color, levels)
    others = []
    for o in a.others or []:
        parts = o.split(":")
        if len(parts) < 3:
            raise PyCombineError(f"--others {o}: give FILE:LABEL:COLOR")
        ox, oy = read_scan(parts[0].split(","), a.POI, a.y_cut)
        others.append(build_scan(ox, oy, parts[1], parts[2], levels))
    names = a.breakdown.split(",") if a.breakdown else None
    fig = scan_figure(main, others, name, a.y_max, names, a.style, a.logo_sub)
    for s in [main, *others]:
        v = s.result()
        text = f"{name} = {v[0]:.3f} {v[2]:+.3f}/{v[1]:+.3f}" if v else f"{name}: no interval around the best fit"
        print(f"{s.label}: {text}")
    v = main.result()
    title = f"{name} = {v[0]:.3f} {v[2]:+.3f}/{v[1]:+.3f}" if v else name
    import os

    write_scan_graph(main, f"{a.output}.root", os.path.basename(a.output) or "scan", title)
    _report(save(fig, a.output, dpi=a.dpi) + [f"{a.output}.root"])
    return 0


# ---------------------------------------------------------------------------------------- plotLimits.py
def plot_limits(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="plotLimits.py", description="Limits against the mass (or any variable)")
    p.add_argument("input", nargs="+", help="limits.json, or limits.json:KEY[:Title=\"..\",LineColor=N,...]")
    p.add_argument("--output", "-o", default="limit", help="output name without extension")
    p.add_argument("--show", default="exp,obs", help="obs, exp0, exp1, exp2, exp (all expected)")
    p.add_argument("--x-title", default="m_{H} (GeV)")
    p.add_argument("--y-title", default=None)
    p.add_argument("--limit-on", default="#sigma/#sigma_{SM}", help="what the limit is on (y-axis title)")
    p.add_argument("--cms-sub", default="Internal")
    p.add_argument("--scenario-label", default="", help="text at the top left")
    p.add_argument("--title-right", default="")
    p.add_argument("--title-left", default="")
    p.add_argument("--logy", action="store_true")
    p.add_argument("--logx", action="store_true")
    p.add_argument("--ratio-to", default=None, help="(not available)")
    p.add_argument("--pad-style", default=None, help="(no effect)")
    p.add_argument("--auto-style", nargs="?", const="", default=None, help="(no effect)")
    p.add_argument("--table_vals", default=10, help="(no effect)")
    _style_option(p)
    a = p.parse_args(argv)
    from ..errors import PyCombineError
    from ..plots.limits import limits_figure, parse_source
    from ..plots.style import save

    if a.ratio_to is not None:
        raise PyCombineError("--ratio-to is not available")
    fig = limits_figure([parse_source(s) for s in a.input], a.show, a.x_title, a.y_title, a.limit_on, a.logy, a.logx,
                        a.style, a.cms_sub, a.title_right, a.title_left or a.scenario_label)
    _report(save(fig, a.output, dpi=a.dpi))
    return 0


# ---------------------------------------------------------------------------------------- plotGof.py
def plot_gof(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="plotGof.py", description="Toy distribution of a goodness-of-fit statistic")
    p.add_argument("input", help="gof.json (combineTool.py -M CollectGoodnessOfFit)")
    p.add_argument("--output", "-o", default="", help="output name without extension (default: gof)")
    p.add_argument("--mass", default="160.0", help="the JSON key, e.g. 120.0")
    p.add_argument("--statistic", default="saturated", help="saturated, KS or AD (KS, AD: one plot per channel)")
    p.add_argument("--x-title", default="Goodness of Fit")
    p.add_argument("--y-title", default="Number of Toys")
    p.add_argument("--cms-sub", default="Internal")
    p.add_argument("--title-right", default="")
    p.add_argument("--title-left", default="")
    p.add_argument("--pad-style", default=None, help="(no effect)")
    p.add_argument("--auto-style", nargs="?", const="", default=None, help="(no effect)")
    p.add_argument("--table_vals", default=10, help="(no effect)")
    p.add_argument("--bins", default=100, type=int, help="histogram bins")
    p.add_argument("--range", nargs=2, type=float, help="histogram range MIN MAX")
    p.add_argument("--percentile", nargs=2, type=float, help="histogram range as percentiles of the toys")
    _style_option(p)
    a = p.parse_args(argv)
    from ..plots.gof import gof_entries, gof_figure, read_gof
    from ..plots.style import save

    data = read_gof(a.input)
    out = a.output or "gof"
    for key, entry in gof_entries(data, a.mass, a.statistic):
        fig = gof_figure(entry["toy"], entry["obs"][0], entry.get("p", float("nan")), a.statistic, a.bins, a.range,
                         a.percentile, a.x_title, a.y_title, a.style, a.cms_sub, a.title_right,
                         a.title_left if not key else key)
        _report(save(fig, key + out, dpi=a.dpi))
    return 0


# ---------------------------------------------------------------------------------------- plotTestStatCLs.py
def plot_test_stat_cls(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="plotTestStatCLs.py",
                                description="Test-statistic distributions of HybridNew points (--saveHybridResult files)")
    p.add_argument("-i", "--input", required=True, help="HybridNew output with --saveHybridResult (hadd-merged grids too)")
    p.add_argument("-I", "--invert", action="store_true", help="swap the two hypotheses")
    p.add_argument("-o", "--output", default="test_stat_distributions.root",
                   help="ROOT file of the plotted histograms (<point>/NullHyp, <point>/AltHyp); "
                        "pycombine also writes <output>_<point>.png, since it cannot store ROOT canvases")
    p.add_argument("-p", "--poi", default="r", help="POI name")
    p.add_argument("-v", "--val", default="all", help="POI values, comma separated, or all")
    p.add_argument("--sub-label", dest="sub_label", default="", help="q_<sub-label> on the x axis")
    p.add_argument("-r", "--rebin", type=int, default=0, help="merge this many bins (of 100)")
    p.add_argument("-m", "--mass", action="append", default=[], help="mass value(s), as -m of combine")
    p.add_argument("-P", "--Print", action="store_true", help="list the results in the toys directory")
    p.add_argument("-E", "--expected", action="store_true", help="replace the observation by an expected quantile")
    p.add_argument("-q", "--quantileExpected", type=float, default=-1, help="the quantile (1 - p_b) for -E")
    p.add_argument("--doublesided", action="store_true", help="two-sided statistic (LEP, TEV)")
    p.add_argument("--signif", action="store_true", help="q0 under the background-only hypothesis")
    p.add_argument("--plot_both", action="store_true", help="with --signif, also the signal+background toys")
    p.add_argument("--save-as-pdf", dest="save_as_pdf", action="store_true", help="also <output>_<point>.pdf")
    _style_option(p)
    a = p.parse_args(argv)
    from ..errors import OptionError

    if a.quantileExpected >= 0:
        a.expected = True
    if a.expected and a.quantileExpected < 0:
        raise OptionError("-E/--expected: give the quantile of the expected result with -q, e.g. -q 0.5 for the median")
    if a.plot_both and not a.signif:
        raise OptionError("--plot_both: only with --signif (the significance's test-statistic distribution)")
    if not a.mass:
        raise OptionError("-m/--mass: give at least one mass (the -m of the combine command)")
    masses = []
    for m in a.mass:
        try:
            masses.append(float(m))
        except ValueError:
            raise OptionError(f"-m {m}: not a number") from None
    if a.Print:
        from ..methods.hybrid_new.grid import read_grid

        print(f"Contents of toys directory in file  {a.input}")
        for test in read_grid(a.input, [a.poi], option="--input"):
            print(f"  {a.poi} = {test.point[a.poi]:g}: {test.q_sb.size} S+B toys, {test.q_b.size} B toys")
        return 0
    return _draw_test_stats(a, masses)


def _draw_test_stats(a, masses: list[float]) -> int:
    import os

    import numpy as np

    from ..errors import OptionError
    from ..methods.hybrid_new.grid import read_grid
    from ..outputs.root.file import RootFileWriter
    from ..plots.style import save
    from ..plots.test_stat import figure, histogram, summarize

    wanted = None
    if a.val != "all":
        try:
            wanted = [float(v) for v in a.val.split(",")]
        except ValueError:
            raise OptionError(f"--val {a.val}: give numbers separated by commas, or all") from None
    pages = []
    for mass in masses:
        tests = read_grid(a.input, [a.poi], mass=mass, option="--input")
        if wanted is not None:
            found = {t.point[a.poi]: t for t in tests}
            missing = [v for v in wanted if not any(abs(v - k) <= 1e-9 * max(1.0, abs(v)) for k in found)]
            if missing:
                have = ", ".join(f"{k:g}" for k in sorted(found))
                raise OptionError(f"--val: no point {a.poi} = {', '.join(f'{v:g}' for v in missing)} in {a.input} "
                                  f"(points: {have})")
            tests = [t for t in tests if any(abs(t.point[a.poi] - v) <= 1e-9 * max(1.0, abs(v)) for v in wanted)]
        for i, test in enumerate(tests):
            value = test.point[a.poi]
            print(f"Point {i + 1}/{len(tests)}")
            print(f"Converting HypoTestResults from {a.input} to Tree ({a.poi}={value:g},mH={mass:g}) ...")
            print("Plotting ... ")
            s = summarize(test, a.poi, mass, doublesided=a.doublesided, invert=a.invert,
                          expected_quantile=a.quantileExpected if a.expected else None, significance=a.signif)
            if a.signif:
                print(f"P-val (1-Pb)  = {s.one_minus_pb:.4f} +/- {s.one_minus_pb_err:.4f}")
                print(f"Signif  = {s.significance:.1f} sigma")
            else:
                print(f"Pmu   = {s.p_mu:.4f} +/- {s.p_mu_err:.4f}")
                print(f"1-Pb   = {s.one_minus_pb:.4f} +/- {s.one_minus_pb_err:.4f}")
                print(f"CLs    = {s.cls:.4f} +/- {s.cls_err:.4f}")
            nbins = 100 // a.rebin if a.rebin > 0 else 100
            fig = figure(s, a.poi, mass, significance=a.signif, plot_both=a.plot_both, doublesided=a.doublesided,
                         sub_label=a.sub_label, nbins=max(nbins, 1), style_name=a.style)
            formats = ("png", "pdf") if a.save_as_pdf else ("png",)
            written = save(fig, f"{a.output}_{s.name}", formats=formats, dpi=a.dpi)
            pages.append((s, written))
    tmp = f"{a.output}.tmp{os.getpid()}"
    with RootFileWriter(tmp, fsync=False) as f:
        for s, _written in pages:
            edges = np.linspace(*_range(s), 101)
            f.th1(f"{s.name}/NullHyp", histogram(s.null, edges), edges=edges, classname="TH1F", title="NullHyp")
            if s.alt.size:
                f.th1(f"{s.name}/AltHyp", histogram(s.alt, edges), edges=edges, classname="TH1F", title="AltHyp")
    os.replace(tmp, a.output)
    for _s, written in pages:
        _report(written)
    print(f"All Plots saved to  {a.output}")
    return 0


def _range(s) -> tuple[float, float]:
    import numpy as np

    values = np.concatenate([s.null, s.alt])
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    return lo, hi if hi > lo else lo + 1.0


# ---------------------------------------------------------------------------------------- pycombine plot only
def plot_scan2d(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="pycombine plot scan2d", description="68%/95% CL contours of a 2D grid")
    p.add_argument("input", nargs="+", help="MultiDimFit --algo grid files of two parameters")
    p.add_argument("--POIs", default=None, help="X,Y (default: the first two parameters of the tree)")
    p.add_argument("--output", "-o", default="scan2d", help="output name without extension")
    p.add_argument("--x-title", default=None)
    p.add_argument("--y-title", default=None)
    p.add_argument("--cms-sub", default="Internal")
    p.add_argument("--no-colormap", action="store_true", help="contours only")
    _style_option(p)
    a = p.parse_args(argv)
    from ..plots.scan2d import contour_figure, read_scan_2d
    from ..plots.style import save

    px, py = (a.POIs.split(",") + [None])[:2] if a.POIs else (None, None)
    xn, yn, x, y, q, best = read_scan_2d(a.input, px, py)
    fig = contour_figure(x, y, q, best, a.x_title or xn, a.y_title or yn, a.style, a.cms_sub, not a.no_colormap)
    print(f"best fit: {xn} = {best[0]:.4g}, {yn} = {best[1]:.4g}")
    _report(save(fig, a.output, dpi=a.dpi))
    return 0


def plot_postfit(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="pycombine plot postfit", description="Stacked distributions of a fitDiagnostics file")
    p.add_argument("input", help="fitDiagnostics*.root (with --saveShapes)")
    p.add_argument("--stage", default="fit_s", choices=["prefit", "fit_b", "fit_s"])
    p.add_argument("--channel", action="append", help="only this channel (repeatable; default: all)")
    p.add_argument("--signals", default=None, help="comma-separated signal processes (default: from total_signal)")
    p.add_argument("--output", "-o", default="postfit", help="output name; <output>_<channel>.pdf/png")
    p.add_argument("--x-title", default="")
    p.add_argument("--y-title", default="Events")
    p.add_argument("--logy", action="store_true")
    p.add_argument("--cms-sub", default="Internal")
    _style_option(p)
    a = p.parse_args(argv)
    from ..plots.fit_diagnostics import channels, postfit_figure, read_channel
    from ..plots.style import save

    signals = a.signals.split(",") if a.signals else None
    for ch in a.channel or channels(a.input, a.stage):
        c = read_channel(a.input, ch, a.stage, signals)
        fig = postfit_figure(c, a.stage, a.x_title, a.y_title, a.logy, a.style, a.cms_sub)
        _report(save(fig, f"{a.output}_{ch}", dpi=a.dpi))
    return 0


def plot_pulls(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="pycombine plot pulls", description="Nuisance pulls of a fitDiagnostics file")
    p.add_argument("input", help="fitDiagnostics*.root")
    p.add_argument("--fits", default="fit_b,fit_s", help="fits to show")
    p.add_argument("--regex", default=None, help="only nuisances matching this regular expression")
    p.add_argument("--output", "-o", default="pulls", help="output name without extension")
    p.add_argument("--cms-sub", default="Internal")
    _style_option(p)
    a = p.parse_args(argv)
    from ..plots.fit_diagnostics import pulls, pulls_figure
    from ..plots.style import save

    fig = pulls_figure(pulls(a.input, tuple(a.fits.split(",")), a.regex), a.style, a.cms_sub)
    _report(save(fig, a.output, dpi=a.dpi))
    return 0


#: ``pycombine plot KIND``: the scripts by kind
KINDS = {
    "impacts": plot_impacts,
    "scan1d": plot_1d_scan,
    "limits": plot_limits,
    "gof": plot_gof,
    "scan2d": plot_scan2d,
    "postfit": plot_postfit,
    "pulls": plot_pulls,
    "teststat": plot_test_stat_cls,
}


def run_plot(kind: str, argv: list[str]) -> None:
    """Run one plot script with Combine's error handling: one line and exit 1 on a user error."""
    from ..errors import PyCombineError

    debug = "--debug" in argv
    argv = [x for x in argv if x != "--debug"]
    try:
        code = KINDS[kind](argv)
    except PyCombineError as e:
        if debug:
            raise
        print(f"Error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except Exception as e:  # a bug of ours: still one line unless asked for the traceback
        if debug:
            raise
        print(f"Internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)", file=sys.stderr)
        sys.exit(1)
    sys.exit(code)


def plot_impacts_main() -> None:
    run_plot("impacts", sys.argv[1:])


def plot_1d_scan_main() -> None:
    run_plot("scan1d", sys.argv[1:])


def plot_limits_main() -> None:
    run_plot("limits", sys.argv[1:])


def plot_gof_main() -> None:
    run_plot("gof", sys.argv[1:])


def plot_test_stat_cls_main() -> None:
    run_plot("teststat", sys.argv[1:])
