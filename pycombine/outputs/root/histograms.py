"""Writable uproot models of ROOT's TH1F/TH1D/TH2F/TH2D with the statistics ROOT would store.

Why not ``uproot.to_writable(np.histogram(...))``: readers use ``fEntries`` and ``fTsumw*`` for
GetEntries/GetMean/GetRMS and stats boxes, and ROOT computes them from the bin contents *as
stored* (float32 for TH*F), over in-range bins only (:func:`histogram_statistics`); axes may carry
bin labels, which ROOT finds by the TObjString's ``fUniqueID``; without ``Sumw2`` no ``fSumw2`` is
stored, so readers fall back to ``sqrt(|content|)`` as ROOT does. Without explicit edges an axis of
``n`` bins runs over ``[0, n]`` with unit-width bins (how Combine writes its shapes and matrices).

The builders validate and build; :class:`~pycombine.outputs.root.file.RootFileWriter` writes.
uproot is imported when a histogram is built, not when this module is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["HIST_CLASSES_1D", "HIST_CLASSES_2D", "histogram_statistics", "make_th1", "make_th2"]

#: histogram class -> numpy dtype of its stored contents
HIST_CLASSES_1D = {"TH1F": np.dtype(np.float32), "TH1D": np.dtype(np.float64)}
HIST_CLASSES_2D = {"TH2F": np.dtype(np.float32), "TH2D": np.dtype(np.float64)}


def _edges(nbins: int, edges: ArrayLike | None, what: str) -> tuple[float, float, np.ndarray | None]:
    """Return (xmin, xmax, variable edges or None) for an axis of ``nbins`` bins."""
    if edges is None:
        # Combine's convention for binned shapes: bin i covers [i, i+1)
        return 0.0, float(nbins), None
    e = np.asarray(edges, dtype=np.float64)
    if e.shape != (nbins + 1,):
        raise ValueError(f"{what}: need {nbins + 1} edges for {nbins} bins, got shape {e.shape}")
    if not np.all(np.isfinite(e)) or not np.all(np.diff(e) > 0):
        raise ValueError(f"{what}: bin edges must be finite and strictly increasing")
    return float(e[0]), float(e[-1]), e


def _as_stored(contents: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Contents as ROOT will hold them (float32 for TH*F), so statistics match GetStats exactly."""
    return contents.astype(dtype).astype(np.float64)


def _bin_centres(nbins: int, xmin: float, xmax: float, edges: np.ndarray | None) -> np.ndarray:
    if edges is None:
        width = (xmax - xmin) / nbins
        return xmin + (np.arange(nbins) + 0.5) * width
    return 0.5 * (edges[:-1] + edges[1:])


def histogram_statistics(
    contents: np.ndarray,
    variances: np.ndarray,
    centres_x: np.ndarray,
    centres_y: np.ndarray | None = None,
) -> dict[str, float]:
    """Statistics ROOT's ``TH1::ResetStats`` would store for in-range bin ``contents``.

    Why: readers use ``fEntries`` and ``fTsumw*`` for GetEntries/GetMean/GetRMS and stats boxes.
    Combine fills its histograms with ``SetBinContent``; a later ``ResetStats`` (or ``GetStats``)
    recomputes these sums from the bins, which is what we store directly: ``fTsumw = sum(w)``,
    ``fTsumw2 = sum(err^2)``, ``fTsumwx = sum(w x)``, ``fTsumwx2 = sum(w x^2)`` (and the y / xy sums
    for 2D) over in-range bins only, and ``fEntries`` = effective entries ``fTsumw^2 / fTsumw2``
    (``|fTsumw|`` if that is not defined), exactly as ResetStats does.
    ``contents``/``variances`` are 1D (nx,) or 2D (nx, ny) arrays without flow bins.
    """
    w = np.asarray(contents, dtype=np.float64)
    v = np.asarray(variances, dtype=np.float64)
    if centres_y is None:
        x = np.asarray(centres_x, dtype=np.float64)
        out = {
            "fTsumw": float(w.sum()),
            "fTsumw2": float(v.sum()),
            "fTsumwx": float((w * x).sum()),
            "fTsumwx2": float((w * x * x).sum()),
        }
    else:
        x = np.asarray(centres_x, dtype=np.float64)[:, None]
        y = np.asarray(centres_y, dtype=np.float64)[None, :]
        out = {
            "fTsumw": float(w.sum()),
            "fTsumw2": float(v.sum()),
            "fTsumwx": float((w * x).sum()),
            "fTsumwx2": float((w * x * x).sum()),
            "fTsumwy": float((w * y).sum()),
            "fTsumwy2": float((w * y * y).sum()),
            "fTsumwxy": float((w * x * y).sum()),
        }
    entries = abs(out["fTsumw"])
    if out["fTsumw"] > 0 and out["fTsumw2"] > 0:
        entries = out["fTsumw"] ** 2 / out["fTsumw2"]
    out["fEntries"] = float(entries)
    return out


def _axis(
    name: str,
    nbins: int,
    xmin: float,
    xmax: float,
    edges: np.ndarray | None,
    title: str,
    labels: Sequence[str] | None,
) -> Any:
    """Build a uproot TAxis model; bin labels follow ROOT's TAxis::SetBinLabel conventions."""
    import uproot

    identify = uproot.writing.identify
    flabels = None
    bits2 = 0
    if labels is not None:
        labels = list(labels)
        if len(labels) != nbins:
            raise ValueError(f"{name}: {len(labels)} bin labels for {nbins} bins")
        strings = []
        for i, label in enumerate(labels):
            s = identify.to_TObjString(str(label))
            # TAxis::GetBinLabel finds a label by the TObjString's fUniqueID == bin number (1-based)
            s._bases[0]._members["@fUniqueID"] = i + 1
            strings.append(s)
        flabels = identify.to_THashList(strings)
        bits2 = 0x3  # kAlphanumeric | kCanExtend, as SetBinLabel sets once every bin is labelled
    return identify.to_TAxis(
        fName=name,
        fTitle=title,
        fNbins=nbins,
        fXmin=xmin,
        fXmax=xmax,
        fXbins=edges,
        fLabels=flabels,
        fBits2=bits2,
    )


def _variances(contents: np.ndarray, errors: ArrayLike | None, path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(per-bin variance used for statistics, fSumw2 payload or None)."""
    if errors is None:
        return np.abs(contents), None  # ROOT without Sumw2: error^2 = |content|
    err = np.asarray(errors, dtype=np.float64)
    if err.shape != contents.shape:
        raise ValueError(f"{path!r}: errors have shape {err.shape}, contents {contents.shape}")
    sumw2 = err * err
    return sumw2, sumw2


def make_th1(
    path: str,
    contents: ArrayLike,
    errors: ArrayLike | None = None,
    *,
    title: str = "",
    edges: ArrayLike | None = None,
    classname: Literal["TH1F", "TH1D"] = "TH1F",
    entries: float | None = None,
    xtitle: str = "",
    ytitle: str = "",
    labels: Sequence[str] | None = None,
) -> Any:
    """A writable TH1F/TH1D model; ``path`` (where it will be written) only names it in errors.

    See :meth:`pycombine.outputs.root.file.RootFileWriter.th1` for the arguments.
    """
    import uproot

    if classname not in HIST_CLASSES_1D:
        raise ValueError(f"classname must be one of {sorted(HIST_CLASSES_1D)}, not {classname!r}")
    c = np.asarray(contents, dtype=np.float64)
    if c.ndim != 1 or len(c) == 0:
        raise ValueError(f"th1 {path!r}: contents must be a non-empty 1D array, got shape {c.shape}")
    nbins = len(c)
    xmin, xmax, e = _edges(nbins, edges, f"th1 {path!r}")
    c = _as_stored(c, HIST_CLASSES_1D[classname])
    variances, sumw2 = _variances(c, errors, path)

    stats = histogram_statistics(c, variances, _bin_centres(nbins, xmin, xmax, e))
    if entries is not None:
        stats["fEntries"] = float(entries)
    data = np.zeros(nbins + 2, dtype=HIST_CLASSES_1D[classname])
    data[1:-1] = c
    return uproot.writing.identify.to_TH1x(
        fName=None,
        fTitle=title,
        data=data,
        fEntries=stats["fEntries"],
        fTsumw=stats["fTsumw"],
        fTsumw2=stats["fTsumw2"],
        fTsumwx=stats["fTsumwx"],
        fTsumwx2=stats["fTsumwx2"],
        fSumw2=None if sumw2 is None else np.concatenate([[0.0], sumw2, [0.0]]),
        fXaxis=_axis("xaxis", nbins, xmin, xmax, e, xtitle, labels),
        fYaxis=_axis("yaxis", 1, 0.0, 1.0, None, ytitle, None),
    )


def make_th2(
    path: str,
    contents: ArrayLike,
    errors: ArrayLike | None = None,
    *,
    title: str = "",
    xedges: ArrayLike | None = None,
    yedges: ArrayLike | None = None,
    classname: Literal["TH2F", "TH2D"] = "TH2F",
    entries: float | None = None,
    xlabels: Sequence[str] | None = None,
    ylabels: Sequence[str] | None = None,
    xtitle: str = "",
    ytitle: str = "",
    ztitle: str = "",
) -> Any:
    """A writable TH2F/TH2D model; ``path`` (where it will be written) only names it in errors.

    See :meth:`pycombine.outputs.root.file.RootFileWriter.th2` for the arguments.
    """
    import uproot

    if classname not in HIST_CLASSES_2D:
        raise ValueError(f"classname must be one of {sorted(HIST_CLASSES_2D)}, not {classname!r}")
    c = np.asarray(contents, dtype=np.float64)
    if c.ndim != 2 or c.size == 0:
        raise ValueError(f"th2 {path!r}: contents must be a non-empty 2D array, got shape {c.shape}")
    nx, ny = c.shape
    xmin, xmax, xe = _edges(nx, xedges, f"th2 {path!r} x axis")
    ymin, ymax, ye = _edges(ny, yedges, f"th2 {path!r} y axis")
    c = _as_stored(c, HIST_CLASSES_2D[classname])
    variances, sumw2 = _variances(c, errors, path)

    stats = histogram_statistics(
        c, variances, _bin_centres(nx, xmin, xmax, xe), _bin_centres(ny, ymin, ymax, ye)
    )
    if entries is not None:
        stats["fEntries"] = float(entries)
    data = np.zeros((nx + 2, ny + 2), dtype=HIST_CLASSES_2D[classname])
    data[1:-1, 1:-1] = c
    fsumw2 = None
    if sumw2 is not None:
        fsumw2 = np.zeros((nx + 2, ny + 2), dtype=np.float64)
        fsumw2[1:-1, 1:-1] = sumw2
        fsumw2 = fsumw2.T.reshape(-1)  # ROOT's global bin = ix + (nx+2) * iy
    return uproot.writing.identify.to_TH2x(
        fName=None,
        fTitle=title,
        data=data.T.reshape(-1),
        fEntries=stats["fEntries"],
        fTsumw=stats["fTsumw"],
        fTsumw2=stats["fTsumw2"],
        fTsumwx=stats["fTsumwx"],
        fTsumwx2=stats["fTsumwx2"],
        fTsumwy=stats["fTsumwy"],
        fTsumwy2=stats["fTsumwy2"],
        fTsumwxy=stats["fTsumwxy"],
        fSumw2=fsumw2,
        fXaxis=_axis("xaxis", nx, xmin, xmax, xe, xtitle, xlabels),
        fYaxis=_axis("yaxis", ny, ymin, ymax, ye, ytitle, ylabels),
        fZaxis=_axis("zaxis", 1, 0.0, 1.0, None, ztitle, None),
    )
