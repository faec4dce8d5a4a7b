"""Combine's plot scripts under their names, drawn with matplotlib (``pycombine[plot]``):

    plotImpacts.py -i impacts.json -o impacts [--blind] [--summary] [--POI r]
    plot1DScan.py higgsCombine.scan.MultiDimFit.mH120.root -o scan [--others f.root:Label:2] [--breakdown Syst,Stat]
    plotLimits.py limits.json -o limit [--x-title ...]
    plotGof.py gof.json --statistic saturated --mass 120.0 -o gof

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

__all__ = ["KINDS", "plot_1d_scan_main", "plot_gof_main", "plot_impacts_main", "plot_limits_main", "run_plot"]


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
