"""``plot1DScan.py``: a 1D likelihood scan, its crossings and the best fit ± uncertainty.

The scan is read from the ``limit`` trees of one or more files (like a TChain: split grids need
no merging): x is the POI's branch, y is ``2*deltaNLL`` of the rows with quantileExpected > -1.5,
sorted in x, repeated x values dropped (the best-fit row of every split job), points above
``--y-cut`` dropped. The best fit is the point with y = 0. A cubic spline through the points gives
the crossings with each level (``--levels``, default 1 and 3.84: the 68 % and 95 % CL of one
parameter), as intervals: the interval containing the best fit is the result, ``best +hi -lo``,
printed in the legend box; intervals that do not close inside the scan are drawn open.

``--others FILE:LABEL:COLOR ...`` overlays further scans (ROOT colour numbers); with
``--breakdown A,B,...`` (one name per scan, main first) the uncertainties are split in
quadrature, ``A = sqrt(σ_main² - σ_other1²)``, ..., the last one taken as it is: the usual
stat/syst split from scans with groups of nuisances frozen.

Written: ``<output>.pdf``, ``<output>.png`` and ``<output>.root`` (the main scan as a graph named
``<output>``, titled with the result).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import PyCombineError
from .style import experiment_label, figure, root_color, style, tex

__all__ = ["Scan", "breakdown", "build_scan", "crossings", "read_scan", "scan_figure"]

LEVELS = (1.0, 3.84)


@dataclass
class Scan:
    """One scan: its points, spline, crossing intervals per level and the result."""

    label: str
    x: np.ndarray
    y: np.ndarray
    best: float
    intervals: dict[float, list[dict]] = field(default_factory=dict)
    color: str = "black"

    def spline(self, xs):
        from scipy.interpolate import CubicSpline

        return CubicSpline(self.x, self.y, bc_type="natural")(xs)

    def result(self, level: float | None = None) -> tuple[float, float, float] | None:
        """``(best, +hi, -lo)`` from the interval at ``level`` (default: the first) containing the best fit."""
        level = next(iter(self.intervals)) if level is None else level
        for iv in self.intervals.get(level, []):
            if iv["lo"] <= self.best <= iv["hi"]:
                return self.best, iv["hi"] - self.best, iv["lo"] - self.best
        return None


def read_scan(files: list[str], poi: str, y_cut: float = 7.0) -> tuple[np.ndarray, np.ndarray]:
    """(x, 2*deltaNLL) of the scan points in ``files`` (see the module docstring)."""
    import uproot

    xs, ys = [], []
    for path in files:
        try:
            with uproot.open(path) as f:
                t = f["limit"]
                if poi not in t.keys():
                    raise PyCombineError(f"{path}: the limit tree has no branch {poi!r} (use --POI)")
                a = t.arrays([poi, "deltaNLL", "quantileExpected"], library="np")
        except FileNotFoundError:
            raise PyCombineError(f"{path}: file not found") from None
        except KeyError:
            raise PyCombineError(f"{path}: no limit tree with a deltaNLL branch (a MultiDimFit grid?)") from None
        sel = a["quantileExpected"] > -1.5
        xs.append(a[poi][sel].astype(float))
        ys.append(2.0 * a["deltaNLL"][sel].astype(float))
    x = np.concatenate(xs) if xs else np.zeros(0)
    y = np.concatenate(ys) if ys else np.zeros(0)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    keep = np.ones(len(x), dtype=bool)
    keep[1:] = x[1:] != x[:-1]
    x, y = x[keep], y[keep]
    keep = y <= y_cut
    return x[keep], y[keep]


def crossings(x: np.ndarray, y: np.ndarray, spline, level: float) -> list[dict]:
    """The intervals where the scan is below ``level``: ``lo``/``hi`` and whether each end is a real
    crossing (``valid_lo``/``valid_hi``) or the end of the scan."""
    from ..fit.roots import brent_root

    out, current = [], None
    # a point exactly on the level counts as just above it, so that the crossing is found once
    d = np.where(y == level, 1e-12, y - level)
    for i in range(len(x) - 1):
        a, b = d[i], d[i + 1]
        if a * b < 0:
            try:
                c = float(brent_root(lambda t: float(spline(t)) - level, float(x[i]), float(x[i + 1]), xtol=1e-10))
            except ValueError:  # the spline misses the level between the points: straight line instead
                c = float(x[i] + (x[i + 1] - x[i]) * a / (a - b))
            if a > 0 and current is None:  # going down: an interval opens
                current = {"lo": c, "hi": float(x[-1]), "valid_lo": True, "valid_hi": False}
            elif a < 0:  # going up: the interval closes
                if current is None:
                    current = {"lo": float(x[0]), "hi": c, "valid_lo": False, "valid_hi": True}
                else:
                    current["hi"], current["valid_hi"] = c, True
                out.append(current)
                current = None
    if current is not None:
        out.append(current)
    if not out:
        out.append({"lo": float(x[0]), "hi": float(x[-1]), "valid_lo": False, "valid_hi": False})
    return out


def build_scan(x: np.ndarray, y: np.ndarray, label: str = "", color="black", levels=LEVELS) -> Scan:
    """The crossings and result of one scan."""
    from scipy.interpolate import CubicSpline

    if len(x) <= 1:
        raise PyCombineError(f"{label or 'scan'}: at least two points are needed, got {len(x)}")
    zero = np.nonzero(y == 0.0)[0]
    best = float(x[zero[-1]]) if zero.size else float(x[int(np.argmin(y))])
    spline = CubicSpline(x, y, bc_type="natural")
    scan = Scan(label, x, y, best, color=root_color(color))
    for level in levels:
        scan.intervals[level] = crossings(x, y, spline, level)
    return scan


def breakdown(main: Scan, others: list[Scan], names: list[str]) -> list[tuple[str, float, float]]:
    """(name, +hi, -lo) per name: quadrature differences of successive scans, the last one as is."""
    vals = [s.result() for s in [main, *others]]
    if any(v is None for v in vals):
        raise PyCombineError("--breakdown: a scan has no interval around its best fit")
    if len(names) != len(vals):
        raise PyCombineError(f"--breakdown: {len(names)} names for {len(vals)} scans (main first)")
    out = []
    for i, name in enumerate(names):
        hi, lo = vals[i][1], abs(vals[i][2])
        if i < len(names) - 1:
            nhi, nlo = vals[i + 1][1], abs(vals[i + 1][2])
            hi = math.sqrt(hi * hi - nhi * nhi) if nhi <= hi else 0.0
            lo = math.sqrt(lo * lo - nlo * nlo) if nlo <= lo else 0.0
        out.append((name, hi, lo))
    return out


def _fmt(poi: str, v: tuple[float, float, float]) -> str:
    return rf"{poi} = ${v[0]:.3f}^{{+{v[1]:.3f}}}_{{-{abs(v[2]):.3f}}}$"


def scan_figure(main: Scan, others: list[Scan] | None = None, poi_label: str = "r", y_max: float = 8.0,
                breakdown_names: list[str] | None = None, style_name: str = "cms", logo_sub: str = "Internal"):
    """The scan plot (a Figure): points, splines, level lines, crossings, the result box."""
    others = others or []
    with style(style_name):
        fig = figure(10.0, 9.0)
        ax = fig.add_subplot(1, 1, 1)
        x_lo = min([main.x[0]] + [s.x[0] for s in others])
        x_hi = max([main.x[-1]] + [s.x[-1] for s in others])
        for level in main.intervals:
            ax.axhline(level, color="#aaaaaa", lw=1.5, zorder=1, gid=f"level_{level:g}")
            if not others:
                for iv in main.intervals[level]:
                    if iv["valid_lo"]:
                        ax.plot([iv["lo"], iv["lo"]], [0, level], color="#aaaaaa", lw=1.5, zorder=1, gid="crossing")
                    if iv["valid_hi"]:
                        ax.plot([iv["hi"], iv["hi"]], [0, level], color="#aaaaaa", lw=1.5, zorder=1, gid="crossing")
        for k, s in enumerate([main, *others]):
            dashed = breakdown_names is not None and k > 0
            xs = np.linspace(s.x[0], s.x[-1], 400)
            ax.plot(xs, s.spline(xs), color=s.color, lw=2 if dashed else 3, ls="--" if dashed else "-", label=s.label,
                    zorder=3, gid=f"spline_{k}")
            ax.plot(s.x, s.y, ls="none", marker="o", ms=3 if dashed else 4, color="black" if k == 0 else s.color,
                    zorder=4, gid=f"points_{k}")
        ax.set_xlim(x_lo, x_hi)
        ax.set_ylim(min(0.0, float(main.y.min())), y_max)
        ax.set_xlabel(tex(poi_label))
        ax.set_ylabel(r"$-2\,\Delta\ln L$")
        texts = []
        v = main.result()
        if breakdown_names is not None:
            parts = breakdown(main, others, breakdown_names)
            text = rf"{poi_label} = ${main.best:.3f}" + "".join(
                rf"^{{+{hi:.3f}}}_{{-{lo:.3f}}}\,\mathrm{{({n})}}" for n, hi, lo in parts) + "$"
            texts.append((text, "black"))
        else:
            if v is not None:
                texts.append((_fmt(tex(poi_label), v), "black"))
            for s in others:
                vo = s.result()
                if vo is not None:
                    texts.append((_fmt(tex(poi_label), vo), s.color))
        y = 0.95
        for text, color in texts:
            ax.text(0.97, y, text, transform=ax.transAxes, ha="right", va="top", fontsize=14, color=color,
                    gid="result")
            y -= 0.08
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.86), fontsize=12, frameon=False)
        experiment_label(ax, style_name, logo_sub, inside=True)
        fig.tight_layout()
    return fig


def write_scan_graph(scan: Scan, path: str, name: str, title: str) -> None:
    from ..outputs.root.file import RootFileWriter

    with RootFileWriter(path, fsync=False) as f:
        f.graph_asymm_errors(name, scan.x, scan.y, title=title)
