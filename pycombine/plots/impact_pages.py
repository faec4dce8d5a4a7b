"""``plotImpacts.py``: the pulls and impacts pages of an impacts.json (combineTool's layout).

Per parameter (the quantities of Combine's plotImpacts.py, computed here):

* the fitted value in pre-fit units, ``(θ̂ - θ₀)/σ₀`` with σ₀ the pre-fit error on the side of
  the shift, its post-fit interval in the same units as error bar (black);
* the pull ``(θ̂ - θ₀)/sqrt(σ₀² - σ̂²)`` (blue cross), with the errors of the side of the shift;
  undefined (not drawn) when the post-fit error is not smaller than the pre-fit one (or within
  0.1 % of it in variance);
* the constraint ``(θ_hi - θ_lo)/(prefit_hi - prefit_lo)``;
* the impacts on the POI, ``POI(θ_hi) - POI(θ̂)`` (red) and ``POI(θ_lo) - POI(θ̂)`` (blue), also
  relative to the POI's uncertainty with ``relative``.

Unconstrained parameters have no pull: their fitted value ± errors is written in the left panel.
Rows are sorted by impact (or ``constraint``, ``pull``), ``per_page`` per page; the page title is
the POI's best fit ± uncertainty unless ``blind``. The labels are coloured by constraint type
(legend when several types are present) or by ``color_groups``. :func:`summary_figure` is
``--summary``: the distribution of pulls against a unit Gaussian, the counts beyond 1, 2, 3 σ and
their expectation, and the ten largest pulls, strongest constraints and largest impacts.
"""

from __future__ import annotations

import math

from ..errors import PyCombineError
from .style import figure, root_color, style

__all__ = ["impact_figures", "pdg_rounded", "prepare", "summary_figure"]

TYPE_COLORS = {"Gaussian": "black", "Poisson": "#59d454", "AsymmetricGaussian": "#5954d8",
               "Unconstrained": "#a0a0a0", "Unrecognised": "red"}
#: (high, low) impact colours by impacts.json "method"
IMPACT_COLORS = {"default": ("#cc3333", "#7f9fcf"), "hesse": ("#0000ff", "#ff9933"), "robust": ("#3366cc", "#33cc33")}


# ---------------------------------------------------------------------------------------- numbers
def pdg_rounded(value: float, hi: float, lo: float) -> tuple[str, str, str]:
    """``value +hi -lo`` rounded by the PDG rule applied to the smaller error: its three leading
    digits 100-354 keep two significant digits, 355-949 one, 950-999 are rounded up to 1000 with
    two; the value and the other error get the same number of decimals."""
    errs = [e for e in (hi, lo) if e > 0]
    if not errs:
        return f"{value:.2f}", f"{max(hi, 0):.2f}", f"{max(lo, 0):.2f}"
    e = min(errs)
    exp = math.floor(math.log10(e))
    lead = int(round(e / 10 ** (exp - 2)))
    if lead >= 1000:
        lead, exp = lead // 10, exp + 1
    sig = 2 if lead <= 354 else (1 if lead <= 949 else 2)
    if lead >= 950:
        exp += 1
    decimals = max(0, sig - 1 - exp)
    return (f"{value:.{decimals}f}", f"{max(hi, 0):.{decimals}f}", f"{max(lo, 0):.{decimals}f}")


def _diff_pull(x: float, x0: float, s: float, s0: float) -> float | None:
    if s0 <= 0 or abs((s * s - s0 * s0) / (s0 * s0)) < 0.001 or s > s0:
        return None
    return (x - x0) / math.sqrt(s0 * s0 - s * s)


def prepare(data: dict, poi: str | None = None, sort: str = "impact", relative: bool = False) -> tuple[str, list, list]:
    """``(poi, poi_fit, params)``: the parameters with the plotted quantities, sorted."""
    pois = [p["name"] for p in data.get("POIs", [])]
    if poi is None:
        if not pois:
            raise PyCombineError("impacts.json has no POIs (made with --noInitialFit?): give --POI")
        poi = pois[0]
    poi_fit = next((p["fit"] for p in data.get("POIs", []) if p["name"] == poi), None)
    params = [dict(p) for p in data.get("params", []) if poi in p and "fit" in p]
    if not params and data.get("params"):
        raise PyCombineError(f"no parameter has impacts on {poi!r}")
    up = (poi_fit[2] - poi_fit[1]) if poi_fit else 0.0
    down = (poi_fit[1] - poi_fit[0]) if poi_fit else 0.0
    if relative and not (up > 0 and down > 0):
        raise PyCombineError("--relative: the POI's uncertainty is zero or unknown")
    for p in params:
        p["impact_hi"] = p[poi][2] - p[poi][1]
        p["impact_lo"] = p[poi][0] - p[poi][1]
        for k in ("hi", "lo"):
            v = p[f"impact_{k}"]
            p[f"impact_rel_{k}"] = v / (up if v >= 0 else down) if up > 0 and down > 0 else 0.0
        if p.get("type") != "Unconstrained":
            pre, fit = p["prefit"], p["fit"]
            pu, pd = pre[2] - pre[1], pre[1] - pre[0]
            fu, fd = fit[2] - fit[1], fit[1] - fit[0]
            pull = _diff_pull(fit[1], pre[1], fd, pd) if fit[1] > pre[1] else _diff_pull(fit[1], pre[1], fu, pu)
            p["pull_ok"] = pull is not None
            p["pull"] = pull if pull is not None else 0.0
            width = pre[2] - pre[0]
            p["constraint"] = (fit[2] - fit[0]) / width if width > 0 else 9999.0

            def scaled(v: float) -> float:
                d = v - pre[1]
                return d / pu if d >= 0 else d / pd if pd > 0 else 0.0

            c = scaled(fit[1]) if pu > 0 and pd > 0 else 0.0
            p["sc_fit"] = c
            p["sc_fit_hi"] = scaled(fit[2]) - c if pu > 0 and pd > 0 else 0.0
            p["sc_fit_lo"] = c - scaled(fit[0]) if pu > 0 and pd > 0 else 0.0
        else:
            p["pull"], p["pull_ok"], p["constraint"] = 0.0, False, 9999.0
    key = {"impact": lambda p: -abs(p[f"impact_{poi}"] if f"impact_{poi}" in p else max(abs(p["impact_hi"]),
                                                                                          abs(p["impact_lo"]))),
           "pull": lambda p: -abs(p["pull"]), "constraint": lambda p: abs(p["constraint"])}
    if sort not in key:
        raise PyCombineError(f"--sort {sort}: choose impact, constraint or pull")
    params.sort(key=key[sort])
    return poi, poi_fit, params


# ---------------------------------------------------------------------------------------- pages
def _label_colors(params: list, color_groups: dict[str, str] | None) -> list[str]:
    out = []
    for p in params:
        color = TYPE_COLORS.get(p.get("type", ""), "red")
        if color_groups:
            for g in p.get("groups", []):
                if g in color_groups:
                    color = color_groups[g]
                    break
        out.append(color)
    return out


def _page(params: list, poi: str, poi_fit, first: int, method: str, blind: bool, relative: bool,
          translate: dict, units: str | None, cms_label: str, style_name: str, color_groups, show_types: set):
    n = len(params)
    height = 2.2 + 0.3 * max(n, 5)
    fig = figure(11.0, height)
    gs = fig.add_gridspec(1, 2, width_ratios=(1.0, 0.75), wspace=0.04, left=0.36, right=0.97,
                          top=1.0 - 0.95 / height, bottom=1.05 / height)
    ax = fig.add_subplot(gs[0])
    axi = fig.add_subplot(gs[1], sharey=ax)
    y = [float(n - 1 - k) for k in range(n)]
    for k in range(n):
        if k % 2 == 0:
            for a in (ax, axi):
                a.axhspan(y[k] - 0.5, y[k] + 0.5, color="#eeeeee", zorder=0)
    lim = 0.9
    fit_x, fit_y, fit_lo, fit_hi, pull_x, pull_y = [], [], [], [], [], []
    for yi, p in zip(y, params):
        if p.get("type") == "Unconstrained":
            b = p["fit"]
            v, hi_s, lo_s = pdg_rounded(b[1], b[2] - b[1], b[1] - b[0])
            ax.text(0.5, yi, rf"${v}^{{+{hi_s}}}_{{-{lo_s}}}$", transform=ax.get_yaxis_transform(), ha="center",
                    va="center", fontsize=10, gid="unconstrained", zorder=3)
            continue
        fit_x.append(p["sc_fit"])
        fit_y.append(yi + 0.2)
        fit_lo.append(max(p["sc_fit_lo"], 0.0))
        fit_hi.append(max(p["sc_fit_hi"], 0.0))
        lim = max(lim, float(int(abs(p["sc_fit"]) + max(p["sc_fit_lo"], p["sc_fit_hi"])) + 1))
        if p["pull_ok"]:
            pull_x.append(p["pull"])
            pull_y.append(yi - 0.2)
            lim = max(lim, float(int(abs(p["pull"])) + 1))
    ax.errorbar(fit_x, fit_y, xerr=[fit_lo, fit_hi], fmt="o", color="black", ms=4, lw=1.5, label="Fit", gid="fit",
                zorder=3)
    ax.plot(pull_x, pull_y, ls="none", marker="x", color="blue", ms=6, mew=2,
            label=r"Pull $(\hat{\theta}-\theta_I)/\sqrt{\sigma_I^2-\sigma^2}$", gid="pull", zorder=3)
    ax.axvline(0, color="#888888", lw=0.8, zorder=1)
    for v in (-1, 1):
        ax.axvline(v, color="#bbbbbb", lw=0.8, ls=":", zorder=1)
    ax.set_xlim(-lim, lim)
    ax.set_xlabel(r"$(\hat{\theta}-\theta_I)/\sigma_I$", fontsize=13)
    ax.set_yticks(y)
    names = [f"{translate.get(p['name'], p['name'])}  {first + k}" for k, p in enumerate(params)]
    ax.set_yticklabels(names, fontsize=9 if n > 20 else 11)
    for tick, color in zip(ax.get_yticklabels(), _label_colors(params, color_groups)):
        tick.set_color(color)
    ax.set_ylim(-0.6, n - 0.4)
    pre = "impact_rel" if relative else "impact"
    hi = [p[f"{pre}_hi"] for p in params]
    lo = [p[f"{pre}_lo"] for p in params]
    c_hi, c_lo = IMPACT_COLORS.get(method, IMPACT_COLORS["default"])
    axi.barh(y, hi, height=0.9, color=c_hi, alpha=0.75, label=r"$+1\sigma$ Impact", gid="impact_hi", zorder=2)
    axi.barh(y, lo, height=0.9, color=c_lo, alpha=0.75, label=r"$-1\sigma$ Impact", gid="impact_lo", zorder=2)
    axi.axvline(0, color="#888888", lw=0.8)
    m = max([abs(v) for v in hi + lo] + [1e-6]) * 1.1
    axi.set_xlim(-m, m)
    axi.set_xlabel(rf"$\Delta\hat{{{poi}}}/\sigma_{{{poi}}}$" if relative else rf"$\Delta\hat{{{poi}}}$", fontsize=12)
    axi.tick_params(axis="y", labelleft=False, left=False, right=False)
    from matplotlib.ticker import MaxNLocator

    for a in (ax, axi):
        a.tick_params(axis="x", labelsize=12)
        a.xaxis.set_major_locator(MaxNLocator(5, symmetric=True))
    ax.tick_params(axis="y", which="both", right=False)
    handles = ax.get_legend_handles_labels()
    ihandles = axi.get_legend_handles_labels()
    fig.legend(handles[0] + ihandles[0], handles[1] + ihandles[1], loc="lower left", ncols=2, fontsize=10,
               frameon=False, bbox_to_anchor=(0.0, 0.0))
    if color_groups:
        import matplotlib.patches as mpatches

        fig.legend([mpatches.Patch(color=c) for c in color_groups.values()], list(color_groups), loc="upper left",
                   ncols=2, fontsize=9, frameon=False)
    elif len(show_types) > 1:
        import matplotlib.patches as mpatches

        types = [t for t in TYPE_COLORS if t != "Unrecognised"]
        fig.legend([mpatches.Patch(color=TYPE_COLORS[t]) for t in types], types, loc="upper left", ncols=2,
                   fontsize=9, frameon=False)
    if cms_label is not None and style_name != "none":
        exp = {"cms": "CMS", "atlas": "ATLAS"}.get(style_name, "CMS")
        ax.set_title(rf"$\bf{{{exp}}}$ $\it{{{cms_label}}}$" if cms_label else rf"$\bf{{{exp}}}$", loc="left",
                     fontsize=13)
    if not blind and poi_fit is not None:
        v, h, lo_s = pdg_rounded(poi_fit[1], poi_fit[2] - poi_fit[1], poi_fit[1] - poi_fit[0])
        unit = f" {units}" if units else ""
        name = translate.get(poi, poi)
        axi.set_title(rf"$\hat{{{name}}} = {v}^{{+{h}}}_{{-{lo_s}}}${unit}", loc="right", fontsize=13, gid="poi_fit")
    return fig


def impact_figures(data: dict, poi: str | None = None, per_page: int = 30, max_pages: int | None = None,
                   sort: str = "impact", relative: bool = False, blind: bool = False, translate: dict | None = None,
                   units: str | None = None, cms_label: str = "Internal", style_name: str = "cms",
                   color_groups: dict[str, str] | None = None) -> list:
    """One Figure per page of parameters."""
    poi, poi_fit, params = prepare(data, poi, sort, relative)
    per_page = max(1, int(per_page))
    pages = [params[k:k + per_page] for k in range(0, len(params), per_page)] or [[]]
    if max_pages is not None and max_pages > 0:
        pages = pages[:max_pages]
    types = {p.get("type") for p in params}
    groups = {k: root_color(v) for k, v in (color_groups or {}).items()}
    with style(style_name):
        return [_page(page, poi, poi_fit, 1 + k * per_page, data.get("method", "default"), blind, relative,
                      translate or {}, units, cms_label, style_name, groups, types) for k, page in enumerate(pages)]


def summary_figure(data: dict, poi: str | None = None, blind: bool = False, style_name: str = "cms",
                   cms_label: str = "Internal", translate: dict | None = None, n_rows: int = 10):
    """The ``--summary`` page (a Figure with four panels)."""
    import numpy as np

    poi, poi_fit, params = prepare(data, poi, "impact")
    translate = translate or {}
    pulls = np.array([p["pull"] for p in params if p["pull_ok"]])
    with style(style_name):
        fig = figure(12.0, 10.0)
        axes = fig.subplots(2, 2)
        ax = axes[0][0]
        edges = np.linspace(-5, 5, 50)
        counts, _ = np.histogram(pulls, bins=edges)
        ax.stairs(counts, edges, color="black", lw=1.5, label="Pulls", gid="pull_histogram")
        xs = np.linspace(-5, 5, 300)
        ax.plot(xs, len(pulls) * (edges[1] - edges[0]) * np.exp(-0.5 * xs ** 2) / math.sqrt(2 * math.pi),
                color="red", label="Gaussian(0,1)", gid="gaussian")
        ax.set_xlabel("Pull (s.d.)", fontsize=14)
        ax.set_ylabel("Number of parameters", fontsize=14)
        ax.tick_params(labelsize=12)
        ax.legend(loc="upper right", fontsize=10, frameon=False)
        for k, t in enumerate((1, 2, 3)):
            expected = len(pulls) * math.erfc(t / math.sqrt(2))
            ax.text(0.03, 0.93 - 0.07 * k, f"N(> {t} s.d.) = {int(np.sum(np.abs(pulls) > t))}   "
                    f"(expected {expected:.2f})", transform=ax.transAxes, fontsize=10, va="top", gid=f"beyond_{t}")
        if not blind and poi_fit is not None:
            v, h, lo = pdg_rounded(poi_fit[1], poi_fit[2] - poi_fit[1], poi_fit[1] - poi_fit[0])
            ax.set_title(rf"$\hat{{{translate.get(poi, poi)}}} = {v}^{{+{h}}}_{{-{lo}}}$", loc="right", fontsize=12)
        if style_name != "none":
            ax.set_title(rf"$\bf{{{'ATLAS' if style_name == 'atlas' else 'CMS'}}}$ $\it{{{cms_label}}}$", loc="left",
                         fontsize=12)
        tables = (
            ("Largest pulls", r"$(\hat{\theta}-\theta_I)/\sqrt{\sigma_I^2-\sigma^2}$",
             sorted([p for p in params if p["pull_ok"]], key=lambda p: -abs(p["pull"])),
             lambda p: f"{p['pull']:+.2f}", "#ffdddd"),
            ("Strongest constraints", r"$\sigma/\sigma_I$", sorted(params, key=lambda p: abs(p["constraint"])),
             lambda p: f"{p['constraint']:.2f}", "#ddffdd"),
            ("Largest impacts", rf"$\Delta {poi}(\pm\sigma_\theta)/\sigma_{{{poi}}}$", params,
             lambda p: f"{p['impact_rel_hi']:+.2f} / {p['impact_rel_lo']:+.2f}", "#ddddff"),
        )
        for ax, (title, formula, rows, fmt, shade) in zip([axes[0][1], axes[1][0], axes[1][1]], tables):
            ax.set_axis_off()
            ax.text(0.02, 0.97, title, fontsize=14, va="top", transform=ax.transAxes)
            ax.text(0.98, 0.97, formula, fontsize=13, va="top", ha="right", transform=ax.transAxes)
            for k, p in enumerate(rows[:n_rows]):
                yy = 0.86 - k * 0.08
                if k % 2:
                    ax.axhspan(yy - 0.04, yy + 0.04, color=shade, zorder=0)
                ax.text(0.02, yy, translate.get(p["name"], p["name"]), fontsize=11, va="center", gid=f"{title}_name")
                ax.text(0.98, yy, fmt(p), fontsize=11, va="center", ha="right", gid=f"{title}_value")
            ax.set_ylim(0, 1)
        fig.tight_layout()
    return fig
