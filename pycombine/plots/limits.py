"""``plotLimits.py``: limits against the mass (or any variable) from CollectLimits' JSON.

An input ``limits.json`` draws the full set: the ±2σ (yellow) and ±1σ (green) expected bands,
the median expected limit (dashed) and the observed limit (``--show`` picks among ``obs``,
``exp0``, ``exp1``, ``exp2``; ``exp`` means all three expected ones). An input
``limits.json:KEY`` draws the single entry KEY of each point as a line with markers (e.g.
``limits.json:exp0`` to compare expected limits of several files); ``limits.json:KEY:Title="My
label",LineColor=4,LineStyle=2`` also sets its legend text and style (ROOT colour and line-style
numbers). The x values are the JSON keys read as numbers, so any variable works, not only masses.
"""

from __future__ import annotations

import ast
import json

from ..errors import PyCombineError
from .style import experiment_label, figure, root_color, root_line_style, style, tex

__all__ = ["LimitSource", "limits_figure", "parse_source", "points"]

BAND_COLORS = {"exp2": "#ffcc00", "exp1": "#00cc00"}
LABELS = {"obs": "Observed", "exp0": "Expected", "exp1": r"$\pm1\sigma$ Expected", "exp2": r"$\pm2\sigma$ Expected"}


class LimitSource:
    """One input of plotLimits.py: the JSON data, and the single KEY to draw (None: the full set)."""

    def __init__(self, data: dict, key: str | None = None, settings: dict | None = None, name: str = ""):
        self.data, self.key, self.settings, self.name = data, key, settings or {}, name


def parse_source(text: str) -> LimitSource:
    """``file.json``, ``file.json:KEY`` or ``file.json:KEY:Name=value,...``."""
    path, *rest = text.split(":", 2)
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as e:
        raise PyCombineError(f"{path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise PyCombineError(f"{path}: not valid JSON ({e})") from None
    settings: dict = {}
    if len(rest) == 2:
        for item in rest[1].split(","):
            k, _, v = item.partition("=")
            try:
                settings[k.strip()] = ast.literal_eval(v.strip())
            except (ValueError, SyntaxError):
                settings[k.strip()] = v.strip()
    return LimitSource(data, rest[0] if rest else None, settings, text)


def points(data: dict, key: str) -> tuple[list[float], list[float]]:
    """(x, limit) of the entries that have ``key``, sorted by x."""
    pts = []
    for k, entry in data.items():
        try:
            x = float(k)
        except ValueError:
            raise PyCombineError(f"limits JSON: key {k!r} is not a number") from None
        if isinstance(entry, dict) and key in entry:
            pts.append((x, float(entry[key])))
    pts.sort()
    return [p[0] for p in pts], [p[1] for p in pts]


def _band(data: dict, lo: str, hi: str):
    xs, ylo, yhi = [], [], []
    for k in sorted(data, key=float):
        e = data[k]
        if lo in e and hi in e:
            xs.append(float(k))
            ylo.append(float(e[lo]))
            yhi.append(float(e[hi]))
    return xs, ylo, yhi


def limits_figure(sources: list[LimitSource], show: str = "exp,obs", x_title: str = "m_{H} (GeV)",
                  y_title: str | None = None, limit_on: str = "#sigma/#sigma_{SM}", logy: bool = False,
                  logx: bool = False, style_name: str = "cms", cms_sub: str = "Internal", title_right: str = "",
                  title_left: str = ""):
    """The limit plot of ``sources`` (a Figure)."""
    wanted = set(show.split(","))
    if "exp" in wanted:
        wanted |= {"exp0", "exp1", "exp2"}
    with style(style_name):
        fig = figure(10.0, 9.0)
        ax = fig.add_subplot(1, 1, 1)
        anything = False
        for src in sources:
            d = src.data
            if src.key is None:
                for band, lo, hi in (("exp2", "exp-2", "exp+2"), ("exp1", "exp-1", "exp+1")):
                    if band in wanted:
                        xs, ylo, yhi = _band(d, lo, hi)
                        if xs:
                            ax.fill_between(xs, ylo, yhi, color=BAND_COLORS[band], lw=0, label=LABELS[band],
                                            zorder=1)
                            anything = True
                if "exp0" in wanted:
                    xs, ys = points(d, "exp0")
                    if xs:
                        ax.plot(xs, ys, color="red", ls="--", lw=2, label=LABELS["exp0"], zorder=3)
                        anything = True
                if "obs" in wanted:
                    xs, ys = points(d, "obs")
                    if xs:
                        ax.plot(xs, ys, color="black", ls="-", lw=2, marker="o", ms=4, label=LABELS["obs"],
                                zorder=4)
                        anything = True
            else:
                xs, ys = points(d, src.key)
                if not xs:
                    raise PyCombineError(f"{src.name}: no entry has {src.key!r}")
                s = src.settings
                ax.plot(xs, ys, marker="o", ms=4, lw=2, color=root_color(s.get("LineColor", 1)),
                        ls=root_line_style(s.get("LineStyle", 1)), label=tex(str(s.get("Title", src.name))),
                        zorder=4)
                anything = True
        if not anything:
            raise PyCombineError("nothing to draw: the inputs have none of the limits asked for with --show")
        ax.set_xlabel(tex(x_title))
        ax.set_ylabel(tex(y_title) if y_title is not None else "95% CL limit on " + tex(limit_on))
        if logy:
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)
        if logx:
            ax.set_xscale("log")
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi * (10 if logy else 1.3))
        ax.legend(loc="upper right", ncols=2, fontsize=11, frameon=False)
        experiment_label(ax, style_name, cms_sub, right=tex(title_right), left=tex(title_left))
        fig.tight_layout()
    return fig
