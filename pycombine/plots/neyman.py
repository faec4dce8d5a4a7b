"""The Neyman belt and the likelihood scan of ``pycombine neyman`` (:mod:`pycombine.tools.neyman`).

Left: the observed profile-likelihood ratio t(mu) and, for each confidence level, the toys' quantile
q_CL(mu); mu is inside the interval where t(mu) is below q_CL(mu) (shaded). Right: the scan as
Delta NLL = t / 2 with the intervals marked, beside Wilks' levels (dashed) for comparison.
"""

from __future__ import annotations

import numpy as np

from .style import experiment_label, figure, save, style

_COLORS = ("tab:green", "gold", "tab:orange")
_WILKS = {0.6827: 1.0, 0.9545: 4.0}


def neyman_figure(poi: str, grid: np.ndarray, t_obs: np.ndarray, quantiles: dict[float, np.ndarray],
                  intervals: dict[float, list[tuple[float, float]]], experiment: str = "cms"):
    fig = figure(12.0, 5.5)
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(grid, t_obs, "k-", lw=2, label=r"observed $t(\mu)$")
    for (cl, q), color in zip(sorted(quantiles.items()), _COLORS):
        ax1.plot(grid, q, "-", color=color, lw=2, label=f"toys: {100 * cl:.2f}% quantile")
        ax1.fill_between(grid, 0, q, where=t_obs <= q, color=color, alpha=0.25, step=None)
    top = float(np.nanmax([np.nanmax(q) for q in quantiles.values()] + [1.0]))
    ax1.set_ylim(0, 2.5 * top)
    ax1.set_xlabel(poi)
    ax1.set_ylabel(r"$t(\mu) = 2\,\Delta$NLL")
    ax1.legend(loc="upper right", fontsize=10)
    experiment_label(ax1, experiment, right="Neyman belt")
    ax2.plot(grid, 0.5 * t_obs, "k.-", lw=2, label="scan")
    for (cl, ivs), color in zip(sorted(intervals.items()), _COLORS):
        for k, (a, b) in enumerate(ivs):
            ax2.axvspan(a, b, color=color, alpha=0.2, label=f"Neyman {100 * cl:.2f}%" if k == 0 else None)
        if cl in _WILKS:
            ax2.axhline(0.5 * _WILKS[cl], color=color, ls="--", lw=1)
    ax2.set_ylim(0, max(3.0, 0.5 * 2.5 * top))
    ax2.set_xlabel(poi)
    ax2.set_ylabel(r"$\Delta$NLL")
    ax2.legend(loc="upper right", fontsize=10)
    experiment_label(ax2, experiment, right="profile likelihood")
    fig.tight_layout()
    return fig


def plot_neyman(path: str, poi: str, grid, t_obs, quantiles, intervals, experiment: str = "cms") -> list[str]:
    """Draw and write the figure (``path`` with an extension writes that file, else pdf and png)."""
    with style(experiment):
        fig = neyman_figure(poi, np.asarray(grid), np.asarray(t_obs), quantiles, intervals, experiment)
        return save(fig, path)
