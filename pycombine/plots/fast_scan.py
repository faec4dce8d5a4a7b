"""The pages of ``combineTool.py -M FastScan``: NLL, NLL' and NLL'' against one parameter each."""

from __future__ import annotations

from .style import figure, save_pages, style

__all__ = ["draw_fast_scan", "fast_scan_figure"]


def fast_scan_figure(result, style_name: str = "none"):
    """Three stacked panels (NLL minus its minimum, first and second derivative) of one parameter."""
    with style(style_name):
        fig = figure(7.0, 10.0)
        gs = fig.add_gridspec(3, 1, height_ratios=(0.4, 0.3, 0.3), hspace=0.05, left=0.16, right=0.96, top=0.97,
                              bottom=0.07)
        axes = [fig.add_subplot(gs[0])]
        axes += [fig.add_subplot(gs[k], sharex=axes[0]) for k in (1, 2)]
        for ax, y, label in zip(axes, (result.nll, result.d1, result.d2), ("NLL", "NLL'", "NLL''")):
            ax.plot(result.x, y, marker="o", ms=2, lw=1, color="black", gid=label)
            ax.set_ylabel(label)
        for ax in axes[:2]:
            ax.tick_params(labelbottom=False)
        axes[2].set_xlabel(result.name)
    return fig


def draw_fast_scan(results, path: str, style_name: str = "none") -> str:
    """One page per parameter in the PDF ``path``."""
    return save_pages([fast_scan_figure(r, style_name) for r in results], path)
