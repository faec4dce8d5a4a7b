"""The impact plot of an impacts.json (what Combine's ``plotImpacts.py`` draws), with matplotlib.

Each row is one parameter, sorted by its impact on the POI (largest first):

* left panel: the pull ``(θ̂ - θ_prefit) / σ_prefit`` (the pre-fit error on the side of the shift)
  with the post-fit interval in the same units as error bar; unconstrained parameters have no
  pull and show ``θ̂ - θ_prefit`` in their own colour;
* right panel: the POI shifts when the parameter is moved to θ_hi (red) and θ_lo (blue).

Pages hold ``per_page`` rows (30 by default); a ``.pdf`` gets one page per block, any other
format only the first page. Rendering is headless (the Agg canvas, no pyplot state), and the
mplhep CMS style is used when mplhep is installed.
"""

from __future__ import annotations

import math
import os
from contextlib import nullcontext

COLORS = {"hi": "#d62728", "lo": "#1f77b4", "pull": "black", "Unconstrained": "#7f7f7f"}


def _pull(p: dict) -> tuple[float, float, float] | None:
    """(pull, error down, error up) in pre-fit sigma, as plotImpacts.py defines them."""
    if p.get("type") == "Unconstrained":
        return None
    pre, fit = p["prefit"], p["fit"]
    up, down = pre[2] - pre[1], pre[1] - pre[0]
    if up <= 0 or down <= 0:
        return None

    def scaled(x: float) -> float:
        d = x - pre[1]
        return d / up if d >= 0 else d / down

    c = scaled(fit[1])
    return c, c - scaled(fit[0]), scaled(fit[2]) - c


def _style():
    try:
        import matplotlib.style
        import mplhep

        return matplotlib.style.context(mplhep.style.CMS)
    except (ImportError, AttributeError, OSError):  # mplhep is optional
        return nullcontext()


def _rounded(best: float, hi: float, lo: float) -> str:
    digits = 2 if min(hi, lo) > 0.1 or min(hi, lo) <= 0 else max(2, 1 - math.floor(math.log10(min(hi, lo))))
    return f"{best:.{digits}f}^{{+{hi:.{digits}f}}}_{{-{lo:.{digits}f}}}"


def _page(params: list[dict], poi: str, poi_fit: list[float] | None, first_rank: int, total: int):
    from matplotlib.figure import Figure

    n = len(params)
    height = 2.0 + 0.32 * max(n, 5)
    fig = Figure(figsize=(11.0, height))
    gs = fig.add_gridspec(1, 2, width_ratios=(1.0, 1.0), wspace=0.05, left=0.34, right=0.97,
                          top=1.0 - 0.9 / height, bottom=1.1 / height)
    ax_pull = fig.add_subplot(gs[0])
    ax_imp = fig.add_subplot(gs[1], sharey=ax_pull)
    y = list(range(n - 1, -1, -1))  # the largest impact on top

    # pulls
    ax_pull.axvspan(-1, 1, color="#dddddd", zorder=0)
    ax_pull.axvline(0, color="#888888", lw=0.8, zorder=1)
    unc_shown = False
    for yi, p in zip(y, params):
        pull = _pull(p)
        if pull is not None:
            c, dn, up = pull
            ax_pull.errorbar([c], [yi], xerr=[[max(dn, 0.0)], [max(up, 0.0)]], fmt="o", color=COLORS["pull"],
                             ms=4, lw=1.2, capsize=0, zorder=3)
        else:
            lo, b, hi = p["fit"]
            base = p["prefit"][1]
            ax_pull.errorbar([b - base], [yi], xerr=[[max(b - lo, 0.0)], [max(hi - b, 0.0)]], fmt="s",
                             color=COLORS["Unconstrained"], ms=4, lw=1.2, capsize=0, zorder=3)
            unc_shown = True
    lim = 2.5
    for p in params:
        pull = _pull(p)
        if pull is not None:
            c, dn, up = pull
            lim = max(lim, abs(c - dn) * 1.1, abs(c + up) * 1.1)
    ax_pull.set_xlim(-lim, lim)
    xlabel = r"$(\hat{\theta}-\theta_0)/\Delta\theta$"
    if unc_shown:
        xlabel += "  (grey: unconstrained, $\\hat{\\theta}-\\theta_0$)"
    ax_pull.set_xlabel(xlabel, fontsize=13)
    ax_pull.set_yticks(y)
    labels = [f"{first_rank + k}  {p['name']}" for k, p in enumerate(params)]
    ax_pull.set_yticklabels(labels, fontsize=9 if n > 20 else 11)
    ax_pull.set_ylim(-0.7, n - 0.3)
    for yi in y[1::2]:
        ax_pull.axhspan(yi - 0.5, yi + 0.5, color="#000000", alpha=0.04, zorder=0)
        ax_imp.axhspan(yi - 0.5, yi + 0.5, color="#000000", alpha=0.04, zorder=0)

    # impacts
    hi = [p[poi][2] - p[poi][1] for p in params]
    lo = [p[poi][0] - p[poi][1] for p in params]
    ax_imp.barh(y, hi, height=0.7, color=COLORS["hi"], alpha=0.75, label=r"$+1\sigma$ impact", zorder=2)
    ax_imp.barh(y, lo, height=0.7, color=COLORS["lo"], alpha=0.75, label=r"$-1\sigma$ impact", zorder=2)
    ax_imp.axvline(0, color="#888888", lw=0.8, zorder=1)
    m = max([abs(v) for v in hi + lo] + [1e-6]) * 1.15
    ax_imp.set_xlim(-m, m)
    ax_imp.set_xlabel(rf"$\Delta\hat{{{poi}}}$", fontsize=13)
    for ax in (ax_pull, ax_imp):
        ax.tick_params(axis="x", labelsize=11)
        ax.tick_params(axis="y", which="minor", left=False, right=False)
        ax.tick_params(axis="y", which="major", right=False)
    ax_imp.tick_params(axis="y", labelleft=False)
    ax_imp.legend(loc="lower right", fontsize=9, frameon=False)
    title = f"{poi}: parameters {first_rank}-{first_rank + n - 1} of {total}"
    if poi_fit is not None:
        b = poi_fit[1]
        title = rf"$\hat{{{poi}}} = {_rounded(b, poi_fit[2] - b, b - poi_fit[0])}$" + "    " + title
    fig.suptitle(title, fontsize=12, y=1.0 - 0.25 / height)
    return fig


def plot_impacts(data: dict, path: str, poi: str | None = None, per_page: int = 30,
                 max_pages: int | None = None) -> int:
    """Draw the impacts of ``data`` (an impacts.json document) to ``path``; returns the pages written."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    pois = [p["name"] for p in data.get("POIs", [])]
    if poi is None:
        if not pois:
            keys = [k[len("impact_"):] for p in data["params"] for k in p if k.startswith("impact_")]
            if not keys:
                raise ValueError("impacts.json has no POI")
            poi = keys[0]
        else:
            poi = pois[0]
    poi_fit = next((p["fit"] for p in data.get("POIs", []) if p["name"] == poi), None)
    params = [p for p in data["params"] if f"impact_{poi}" in p and "fit" in p]
    params.sort(key=lambda p: abs(p[f"impact_{poi}"]), reverse=True)
    per_page = max(1, int(per_page))
    chunks = [params[k:k + per_page] for k in range(0, len(params), per_page)] or [[]]
    if max_pages is not None and max_pages > 0:
        chunks = chunks[:max_pages]
    pdf = path.lower().endswith(".pdf")
    if not pdf:
        chunks = chunks[:1]
    tmp = f"{path}.tmp{os.getpid()}{os.path.splitext(path)[1]}"
    with _style():
        if pdf:
            from matplotlib.backends.backend_pdf import PdfPages

            with PdfPages(tmp) as out:
                for k, chunk in enumerate(chunks):
                    fig = _page(chunk, poi, poi_fit, 1 + k * per_page, len(params))
                    FigureCanvasAgg(fig)
                    out.savefig(fig)
        else:
            fig = _page(chunks[0], poi, poi_fit, 1, len(params))
            FigureCanvasAgg(fig).print_figure(tmp, dpi=150)
    os.replace(tmp, path)
    return len(chunks)
