"""2D likelihood contours from a 2D MultiDimFit grid (``--algo grid -P x -P y``).

The points (``2*deltaNLL`` of the rows with quantileExpected > -1.5, from one or more files: split
grids need no merging) are triangulated and contoured at the 68 % and 95 % CL levels of two
parameters (Δ(-2 ln L) = 2.30 and 5.99); the best fit (the row with deltaNLL = 0) is a marker.
Combine has no script of its own for this; it is ``pycombine plot scan2d``.
"""

from __future__ import annotations

import numpy as np

from ..errors import PyCombineError
from .style import experiment_label, figure, style, tex

__all__ = ["LEVELS_2D", "contour_figure", "read_scan_2d"]

#: Δ(-2 ln L) of the 68 % and 95 % CL regions of two parameters (χ² quantiles with 2 degrees of freedom)
LEVELS_2D = ((2.30, "68% CL"), (5.99, "95% CL"))


def read_scan_2d(files: list[str], x: str | None = None, y: str | None = None):
    """``(xname, yname, x, y, q, best)``: the grid points and the best-fit point of the files.
    Without names, the first two parameter branches after quantileExpected are taken."""
    import uproot

    xs, ys, qs, best = [], [], [], None
    for path in files:
        try:
            with uproot.open(path) as f:
                t = f["limit"]
                keys = list(t.keys())
                if x is None or y is None:
                    params = [k for k in keys[keys.index("quantileExpected") + 1:] if k != "deltaNLL"]
                    if len(params) < 2:
                        raise PyCombineError(f"{path}: fewer than two parameters in the limit tree (a 2D grid?)")
                    x, y = x or params[0], y or params[1]
                for name in (x, y, "deltaNLL"):
                    if name not in keys:
                        raise PyCombineError(f"{path}: the limit tree has no branch {name!r}")
                a = t.arrays([x, y, "deltaNLL", "quantileExpected"], library="np")
        except FileNotFoundError:
            raise PyCombineError(f"{path}: file not found") from None
        sel = a["quantileExpected"] > -1.5
        ax_, ay_, dq = a[x][sel].astype(float), a[y][sel].astype(float), a["deltaNLL"][sel].astype(float)
        zero = np.nonzero(dq == 0.0)[0]
        if best is None and zero.size:
            best = (float(ax_[zero[0]]), float(ay_[zero[0]]))
        xs.append(ax_)
        ys.append(ay_)
        qs.append(2.0 * dq)
    xv, yv, qv = np.concatenate(xs), np.concatenate(ys), np.concatenate(qs)
    ok = np.isfinite(qv)
    if ok.sum() < 3:
        raise PyCombineError("a 2D contour needs at least three scan points")
    if best is None:
        k = int(np.argmin(np.where(ok, qv, np.inf)))
        best = (float(xv[k]), float(yv[k]))
    return x, y, xv[ok], yv[ok], qv[ok], best


def contour_figure(x, y, q, best: tuple[float, float], x_title: str = "x", y_title: str = "y",
                   style_name: str = "cms", cms_sub: str = "Internal", colormap: bool = True):
    """Contours of ``q`` (= -2ΔlnL) at the 68 % and 95 % CL, and the best fit (a Figure)."""
    import matplotlib.tri as mtri

    x, y, q = (np.asarray(v, dtype=float) for v in (x, y, q))
    # repeated points (the best-fit row of every split job) would break the triangulation
    _, first = np.unique(np.stack([x, y], axis=1), axis=0, return_index=True)
    first.sort()
    x, y, q = x[first], y[first], q[first]
    tri = mtri.Triangulation(x, y)
    with style(style_name):
        fig = figure(10.0, 9.0)
        ax = fig.add_subplot(1, 1, 1)
        if colormap:
            m = ax.tricontourf(tri, np.minimum(q, 9.999), levels=np.linspace(0, 10, 41), cmap="viridis_r", zorder=0)
            fig.colorbar(m, ax=ax, label=r"$-2\,\Delta\ln L$", ticks=[0, 2, 4, 6, 8, 10])
        styles = ("-", "--")
        for (level, label), ls in zip(LEVELS_2D, styles):
            cs = ax.tricontour(tri, q, levels=[level], colors="black", linestyles=ls, linewidths=2, zorder=2)
            cs.set_gid(f"contour_{label}")
            ax.plot([], [], color="black", ls=ls, lw=2, label=label)
        ax.plot([best[0]], [best[1]], ls="none", marker="P", ms=14, color="black", mec="white", label="Best fit",
                zorder=3, gid="best_fit")
        ax.set_xlabel(tex(x_title))
        ax.set_ylabel(tex(y_title))
        ax.legend(loc="upper right", fontsize=12, frameon=True)
        experiment_label(ax, style_name, cms_sub)
        fig.tight_layout()
    return fig
