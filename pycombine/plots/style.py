"""What every plot shares: matplotlib on demand, the experiment style, labels, colours, saving.

matplotlib (and mplhep, which only adds the CMS/ATLAS styles) are optional (``pip install
'pycombine[plot]'``) and imported when a plot is drawn; without matplotlib the plot functions
raise :class:`PlottingUnavailable`, which the console scripts print as one line. Figures are
built with ``matplotlib.figure.Figure`` on the Agg canvas (no pyplot state, no display needed),
and every drawing function returns its Figure so that callers (and tests) can read back what was
drawn.

Styles: ``cms`` (default; mplhep's CMS style and a bold "CMS" + italic sub-label), ``atlas``
(mplhep's ATLAS style, bold italic "ATLAS" + sub-label), ``none`` (matplotlib's defaults, no label).
"""

from __future__ import annotations

import os
from contextlib import contextmanager, nullcontext

from ..errors import PyCombineError

__all__ = ["STYLES", "PlottingUnavailable", "experiment_label", "figure", "require_matplotlib", "root_color",
           "root_line_style", "save", "save_pages", "style", "tex"]

STYLES = ("cms", "atlas", "none")


class PlottingUnavailable(PyCombineError, ImportError):
    """matplotlib is not installed."""


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlottingUnavailable("plotting needs matplotlib: pip install 'pycombine[plot]'") from None


@contextmanager
def style(name: str = "cms"):
    """The experiment's matplotlib style for the figures created inside the block."""
    require_matplotlib()
    import logging

    # mplhep's styles name fonts that may be missing (a fallback is used): no warning for that
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    logging.getLogger("matplotlib.mathtext").setLevel(logging.ERROR)
    if name not in STYLES:
        raise PyCombineError(f"--style {name}: choose from {', '.join(STYLES)}")
    ctx = nullcontext()
    if name != "none":
        try:
            import matplotlib.style
            import mplhep

            ctx = matplotlib.style.context(getattr(mplhep.style, name.upper()))
        except (ImportError, AttributeError, OSError):  # mplhep is optional: matplotlib's own style
            ctx = nullcontext()
    with ctx:
        yield


def figure(width: float = 7.0, height: float = 7.0):
    """A headless Figure (Agg canvas attached)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def experiment_label(ax, name: str = "cms", sub: str = "Internal", right: str = "", left: str = "",
                     inside: bool = False) -> None:
    """"CMS Internal" (or ATLAS) at the top left of ``ax``; ``right``/``left`` titles above the frame."""
    if name != "none":
        exp = {"cms": "CMS", "atlas": "ATLAS"}[name]
        y, va = (0.95, "top") if inside else (1.01, "bottom")
        t = ax.text(0.03 if inside else 0.0, y, exp, transform=ax.transAxes, ha="left", va=va, fontsize=16,
                    fontweight="bold", fontstyle="italic" if name == "atlas" else "normal")
        if sub:
            ax.annotate(" " + sub, xycoords=t, xy=(1, 0), va="bottom", ha="left", fontsize=13, fontstyle="italic")
    if right:
        ax.text(1.0, 1.01, right, transform=ax.transAxes, ha="right", va="bottom", fontsize=12)
    if left and name == "none":
        ax.text(0.0, 1.01, left, transform=ax.transAxes, ha="left", va="bottom", fontsize=12)
    elif left:
        ax.set_title(left, loc="center", fontsize=12)


def save(fig, base: str, formats: tuple[str, ...] = ("pdf", "png"), dpi: int = 150) -> list[str]:
    """Write ``<base>.<fmt>`` for each format (atomically); ``base`` with a known extension writes that
    file only. Returns the paths written."""
    root, ext = os.path.splitext(base)
    if ext.lower() in (".pdf", ".png", ".svg", ".eps", ".jpg", ".jpeg"):
        targets = [base]
    else:
        targets = [f"{base}.{f}" for f in formats]
    for path in targets:
        tmp = f"{path}.tmp{os.getpid()}{os.path.splitext(path)[1]}"
        fig.savefig(tmp, dpi=dpi)
        os.replace(tmp, path)
    return targets


def save_pages(figures, path: str) -> str:
    """Several figures as the pages of one PDF."""
    from matplotlib.backends.backend_pdf import PdfPages

    tmp = f"{path}.tmp{os.getpid()}.pdf"
    with PdfPages(tmp) as pdf:
        for fig in figures:
            pdf.savefig(fig)
    os.replace(tmp, path)
    return path


#: ROOT's colour indices 0-9 and a few named ones, as matplotlib colours
_ROOT_COLORS = {0: "white", 1: "black", 2: "#ff0000", 3: "#00ff00", 4: "#0000ff", 5: "#ffff00", 6: "#ff00ff",
                7: "#00ffff", 8: "#59d454", 9: "#5954d8", 11: "#cccccc", 12: "#4d4d4d", 15: "#999999",
                28: "#664d33", 30: "#33cc33", 38: "#7f9fcf", 46: "#cc3333", 800: "#ffcc00", 860: "#0099ff",
                880: "#cc00ff", 416: "#00ff00", 632: "#ff0000", 600: "#0000ff", 400: "#ffff00", 432: "#00ffff",
                616: "#ff00ff", 920: "#cccccc"}


def root_color(value) -> str:
    """A colour given the ROOT way (an index such as 2 = red) or any matplotlib colour."""
    try:
        return _ROOT_COLORS.get(int(value), f"C{int(value) % 10}")
    except (TypeError, ValueError):
        return str(value)


def root_line_style(value) -> str:
    """ROOT line styles 1-4 (solid, dashed, dotted, dash-dotted) as matplotlib's."""
    return {1: "-", 2: "--", 3: ":", 4: "-.", 7: "--", 9: "--"}.get(int(value), "-")


def tex(text: str) -> str:
    """ROOT's TLatex (``#sigma/#sigma_{SM}``, ``m_{H} (GeV)``) as matplotlib mathtext: each word with
    a ``#`` command or a sub/superscript becomes a ``$...$`` piece. Text with ``$`` is left alone."""
    if not text or "$" in text:
        return text or ""
    words = []
    for w in text.split(" "):
        if "#" in w or "_{" in w or "^{" in w:
            w = "$" + w.replace("#", "\\") + "$"
        words.append(w)
    return " ".join(words)
