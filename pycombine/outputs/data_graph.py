"""Combine's observed-data graph (``utils::makeDataGraph``) as FitDiagnostics writes it.

FitDiagnostics stores the observed data of every channel as a ``TGraphAsymmErrors`` named
``data`` in ``shapes_*/<channel>/`` (and ``total_data`` with ``--saveOverallShapes``): one point
per bin with ROOT's ``kPoisson`` (Garwood) y errors. The generic pieces are
:mod:`pycombine.outputs.root.tgraph` (the ROOT class) and :mod:`pycombine.outputs.root.garwood`
(the errors); this module is Combine's recipe. :func:`write_data_graph` writes through either
file writer (:class:`~pycombine.outputs.root.rawfile.TreeFileWriter` without uproot, or
:class:`~pycombine.outputs.root.file.RootFileWriter`); :func:`make_data_graph` builds uproot's model.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .root.garwood import garwood_errors

__all__ = ["data_graph_points", "make_data_graph", "write_data_graph"]


def data_graph_points(counts: ArrayLike, *, edges: ArrayLike | None = None,
                      as_density: bool = True) -> tuple[np.ndarray, ...]:
    """The points of Combine's observed-data graph (``utils::makeDataGraph``) from per-bin counts:
    (x, y, exl, exh, eyl, eyh).

    Point ``i`` sits at the bin centre with x errors of half the bin width on both sides; y is the
    count and the y errors are ROOT's ``kPoisson`` (Garwood) errors of the count, see
    :mod:`pycombine.outputs.root.garwood`. With ``as_density`` (what FitDiagnostics uses for the
    per-channel ``data`` graphs) y and its errors are divided by the bin width; the x errors are
    not. Without ``edges`` the bins are unit-width starting at 0, as Combine's ``CMS_th1x``-style
    observables are, so the division is a no-op and x = i + 0.5.
    FitDiagnostics names the per-channel graph "data" and titles it "<process> in <channel>"
    (the first process of the channel); the caller supplies that title.
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 1:
        raise ValueError(f"data counts must be one-dimensional, got shape {c.shape}")
    nbins = len(c)
    if edges is None:
        e = np.arange(nbins + 1, dtype=np.float64)
    else:
        e = np.asarray(edges, dtype=np.float64)
        if e.shape != (nbins + 1,):
            raise ValueError(f"need {nbins + 1} bin edges for {nbins} counts, got shape {e.shape}")
        if not np.all(np.diff(e) > 0):
            raise ValueError("bin edges must be strictly increasing")
    width = np.diff(e)
    centre = e[:-1] + 0.5 * width  # TAxis::GetBinCenter: low edge + width/2
    err_low, err_high = garwood_errors(c)
    y = c
    if as_density:
        y = c / width
        err_low = err_low / width
        err_high = err_high / width
    half = 0.5 * width
    return centre, y, half, half, err_low, err_high


def make_data_graph(counts: ArrayLike, title: str, *, edges: ArrayLike | None = None, as_density: bool = True,
                    name: str = "data"):
    """The observed-data graph as uproot's writable ``TGraphAsymmErrors`` model (:func:`data_graph_points`)."""
    from .root.tgraph import make_tgraph_asymm_errors

    return make_tgraph_asymm_errors(*data_graph_points(counts, edges=edges, as_density=as_density), name=name,
                                    title=title)


def write_data_graph(
    out,
    directory: str,
    counts: ArrayLike,
    *,
    title: str,
    edges: ArrayLike | None = None,
    as_density: bool = True,
    name: str = "data",
) -> None:
    """Write FitDiagnostics' observed-data graph ``<directory>/<name>`` (Garwood y errors) with
    ``out`` (either file writer).

    See :func:`data_graph_points`; ``title`` is Combine's ``"<first process> in <channel>"``.
    """
    from .root.file import split_path

    path = "/".join([*split_path(directory), name])
    out.graph_asymm_errors(path, *data_graph_points(counts, edges=edges, as_density=as_density), title=title)
