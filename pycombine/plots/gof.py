"""``plotGof.py``: the toys' goodness-of-fit statistics, the observed value and the p-value.

Reads CollectGoodnessOfFit's JSON (``{mass: {"toy": [...], "obs": [x], "p": p}}``; for KS/AD,
``{mass: {channel: {...}}}`` and one plot per channel, named ``<channel><output>``). The toys are
histogrammed in ``--bins`` bins over ``--range``, or over the ``--percentile`` range of the sorted
toys, or by default from the smallest toy to a bit beyond the largest (combineTool's range); the
observed value is an arrow, and the statistic, the number of toys and the p-value are written in
the corner, with a warning when toys fall outside the range or the observed value does.
"""

from __future__ import annotations

import json

import numpy as np

from ..errors import PyCombineError
from .style import experiment_label, figure, style, tex

__all__ = ["gof_entries", "gof_figure", "histogram_edges"]


def gof_entries(data: dict, mass: str, statistic: str) -> list[tuple[str, dict]]:
    """``[(label, {"toy", "obs", "p"})]``: one entry, or one per channel for KS and AD."""
    if mass not in data:
        raise PyCombineError(f"no mass {mass!r} in the JSON (it has {', '.join(sorted(data))}); use --mass")
    block = data[mass]
    if "toy" in block and "obs" in block:
        return [("", block)]
    channels = [(k, v) for k, v in block.items() if isinstance(v, dict) and "toy" in v and "obs" in v]
    if not channels:
        raise PyCombineError(f"mass {mass}: no toys and observed value in the JSON")
    return channels


def histogram_edges(toys: np.ndarray, bins: int, xrange=None, percentile=None) -> np.ndarray:
    """Bin edges as plotGof.py chooses them."""
    x = np.sort(np.asarray(toys, dtype=float))
    n = len(x)
    if percentile:
        lo = x[min(int(n * percentile[0]), n - 1)]
        hi = x[min(int(n * percentile[1]), n - 1)]
    elif xrange:
        lo, hi = float(xrange[0]), float(xrange[1])
    else:
        lo = x[0]
        width = (x[-1] - x[0]) * 0.5 / (bins - 1.0) - 1e-5
        hi = 1.15 * (x[-1] + width)
    if not hi > lo:
        hi = lo + 1.0
    return np.linspace(lo, hi, bins + 1)


def gof_figure(toys, obs: float, pvalue: float, statistic: str = "saturated", bins: int = 100, xrange=None,
               percentile=None, x_title: str = "Goodness of Fit", y_title: str = "Number of Toys",
               style_name: str = "cms", cms_sub: str = "Internal", title_right: str = "", title_left: str = ""):
    """The toy histogram with the observed value (a Figure)."""
    toys = np.asarray(toys, dtype=float)
    if toys.size == 0:
        raise PyCombineError("no toys to plot")
    edges = histogram_edges(toys, bins, xrange, percentile)
    counts, _ = np.histogram(toys, bins=edges)
    under = int(np.sum(toys < edges[0]))
    over = int(np.sum(toys > edges[-1]))
    with style(style_name):
        fig = figure(10.0, 9.0)
        ax = fig.add_subplot(1, 1, 1)
        ax.stairs(counts, edges, color="black", lw=1.5, label="toys")
        top = max(float(counts.max()), 1.0)
        ax.annotate("", xy=(obs, 0.0), xytext=(obs, top / 8), gid="observed",
                    arrowprops=dict(color="blue", width=4, headwidth=12, headlength=10))
        ax.set_xlim(edges[0], max(edges[-1], obs) if obs > edges[-1] else edges[-1])
        ax.set_ylim(0, top * 1.3)
        ax.set_xlabel(tex(x_title))
        ax.set_ylabel(tex(y_title))
        lines = [f"{statistic}, {toys.size} Toys", f"p-value = {pvalue:0.3f}"]
        out_of_range = obs > edges[-1] or obs < edges[0]
        warn = []
        if under:
            warn.append(f"{under} underflow")
        if over:
            warn.append(f"{over} overflow")
        warnings = [", ".join(warn)] if warn else []
        if out_of_range:
            warnings.append("observed value not in range")
        y = 0.93
        for text in lines:
            ax.text(0.95, y, text, transform=ax.transAxes, ha="right", va="top", fontsize=13, fontweight="bold")
            y -= 0.055
        for text in warnings:
            ax.text(0.95, y, text, transform=ax.transAxes, ha="right", va="top", fontsize=13, color="red")
            y -= 0.055
        experiment_label(ax, style_name, cms_sub, right=tex(title_right), left=tex(title_left))
        fig.tight_layout()
    return fig


def read_gof(path: str) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise PyCombineError(f"{path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise PyCombineError(f"{path}: not valid JSON ({e})") from None
