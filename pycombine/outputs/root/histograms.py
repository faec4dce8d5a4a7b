"""Writable uproot models of ROOT's TH1F/TH1D/TH2F/TH2D with the statistics ROOT would store.

Why not ``uproot.to_writable(np.histogram(...))``: readers use ``fEntries`` and ``fTsumw*`` for
GetEntries/GetMean/GetRMS and stats boxes, and ROOT computes them from the bin contents *as
stored* (float32 for TH*F), over in-range bins only (:func:`histogram_statistics`); axes may carry
bin labels, which ROOT finds by the TObjString's ``fUniqueID``; without ``Sumw2`` no ``fSumw2`` is
stored, so readers fall back to ``sqrt(|content|)`` as ROOT does. Without explicit edges an axis of
``n`` bins runs over ``[0, n]`` with unit-width bins (how Combine writes its shapes and matrices).

:func:`th1_spec`/:func:`th2_spec` validate and compute (a plain :class:`HistogramSpec`);
:func:`make_th1`/:func:`make_th2` turn that into uproot models (written by
:class:`~pycombine.outputs.root.file.RootFileWriter`) and :mod:`.objects` into bytes (written by
:class:`~pycombine.outputs.root.rawfile.TreeFileWriter`). uproot is imported when an uproot model is
built, not when this module is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["HIST_CLASSES_1D", "HIST_CLASSES_2D", "HistogramSpec", "histogram_statistics", "make_th1", "make_th2",
           "th1_spec", "th2_spec"]

#: histogram class -> numpy dtype of its stored contents
HIST_CLASSES_1D = {"TH1F": np.dtype(np.float32), "TH1D": np.dtype(np.float64)}
HIST_CLASSES_2D = {"TH2F": np.dtype(np.float32), "TH2D": np.dtype(np.float64)}

#: an axis: (name, nbins, xmin, xmax, variable edges or None, title, bin labels or None)
Axis = tuple[str, int, float, float, "np.ndarray | None", str, "Sequence[str] | None"]


@dataclass(eq=False)  # numpy fields: a generated __eq__ could not compare them
class HistogramSpec:
    """A validated histogram, ready to be serialised (by uproot's models or :mod:`.objects`)."""

    classname: str  # TH1F, TH1D, TH2F, TH2D
    title: str
    data: np.ndarray  # contents with flow bins, ROOT's global-bin order, the class's dtype
    sumw2: np.ndarray | None  # fSumw2 with flow bins (float64), None without Sumw2
    stats: dict[str, float]
    axes: tuple[Axis, Axis, Axis]  # x, y, z

    @property
    def dim(self) -> int:
        return 1 if self.classname.startswith("TH1") else 2


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


def _check_labels(name: str, nbins: int, labels: Sequence[str] | None) -> list[str] | None:
    if labels is None:
        return None
    labels = [str(label) for label in labels]
    if len(labels) != nbins:
        raise ValueError(f"{name}: {len(labels)} bin labels for {nbins} bins")
    return labels


def _uproot_axis(axis: Axis) -> Any:
    """A uproot TAxis model; bin labels follow ROOT's TAxis::SetBinLabel conventions."""
    import uproot

    name, nbins, xmin, xmax, edges, title, labels = axis
    identify = uproot.writing.identify
    flabels = None
    bits2 = 0
    if labels is not None:
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


def th1_spec(
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
) -> HistogramSpec:
    """A validated TH1F/TH1D; ``path`` (where it will be written) only names it in errors.

    See :meth:`pycombine.outputs.root.file.RootFileWriter.th1` for the arguments.
    """
    if classname not in HIST_CLASSES_1D:
        raise ValueError(f"classname must be one of {sorted(HIST_CLASSES_1D)}, not {classname!r}")
    c = np.asarray(contents, dtype=np.float64)
    if c.ndim != 1 or len(c) == 0:
        raise ValueError(f"th1 {path!r}: contents must be a non-empty 1D array, got shape {c.shape}")
    nbins = len(c)
    xmin, xmax, e = _edges(nbins, edges, f"th1 {path!r}")
    labels = _check_labels("xaxis", nbins, labels)
    c = _as_stored(c, HIST_CLASSES_1D[classname])
    variances, sumw2 = _variances(c, errors, path)

    stats = histogram_statistics(c, variances, _bin_centres(nbins, xmin, xmax, e))
    if entries is not None:
        stats["fEntries"] = float(entries)
    data = np.zeros(nbins + 2, dtype=HIST_CLASSES_1D[classname])
    data[1:-1] = c
    axes = (("xaxis", nbins, xmin, xmax, e, xtitle, labels), ("yaxis", 1, 0.0, 1.0, None, ytitle, None),
            ("zaxis", 1, 0.0, 1.0, None, "", None))
    return HistogramSpec(classname, title, data, None if sumw2 is None else np.concatenate([[0.0], sumw2, [0.0]]),
                         stats, axes)


def make_th1(path: str, contents: ArrayLike, errors: ArrayLike | None = None, **kwargs: Any) -> Any:
    """A writable uproot TH1F/TH1D model (:func:`th1_spec`'s arguments)."""
    import uproot

    h = th1_spec(path, contents, errors, **kwargs)
    return uproot.writing.identify.to_TH1x(
        fName=None,
        fTitle=h.title,
        data=h.data,
        fEntries=h.stats["fEntries"],
        fTsumw=h.stats["fTsumw"],
        fTsumw2=h.stats["fTsumw2"],
        fTsumwx=h.stats["fTsumwx"],
        fTsumwx2=h.stats["fTsumwx2"],
        fSumw2=h.sumw2,
        fXaxis=_uproot_axis(h.axes[0]),
        fYaxis=_uproot_axis(h.axes[1]),
    )


def th2_spec(
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
) -> HistogramSpec:
    """A validated TH2F/TH2D; ``path`` (where it will be written) only names it in errors.

    See :meth:`pycombine.outputs.root.file.RootFileWriter.th2` for the arguments.
    """
    if classname not in HIST_CLASSES_2D:
        raise ValueError(f"classname must be one of {sorted(HIST_CLASSES_2D)}, not {classname!r}")
    c = np.asarray(contents, dtype=np.float64)
    if c.ndim != 2 or c.size == 0:
        raise ValueError(f"th2 {path!r}: contents must be a non-empty 2D array, got shape {c.shape}")
    nx, ny = c.shape
    xmin, xmax, xe = _edges(nx, xedges, f"th2 {path!r} x axis")
    ymin, ymax, ye = _edges(ny, yedges, f"th2 {path!r} y axis")
    xlabels = _check_labels("xaxis", nx, xlabels)
    ylabels = _check_labels("yaxis", ny, ylabels)
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
    axes = (("xaxis", nx, xmin, xmax, xe, xtitle, xlabels), ("yaxis", ny, ymin, ymax, ye, ytitle, ylabels),
            ("zaxis", 1, 0.0, 1.0, None, ztitle, None))
    return HistogramSpec(classname, title, data.T.reshape(-1), fsumw2, stats, axes)


def make_th2(path: str, contents: ArrayLike, errors: ArrayLike | None = None, **kwargs: Any) -> Any:
    """A writable uproot TH2F/TH2D model (:func:`th2_spec`'s arguments)."""
    import uproot

    h = th2_spec(path, contents, errors, **kwargs)
    s = h.stats
    return uproot.writing.identify.to_TH2x(
        fName=None,
        fTitle=h.title,
        data=h.data,
        fEntries=s["fEntries"],
        fTsumw=s["fTsumw"],
        fTsumw2=s["fTsumw2"],
        fTsumwx=s["fTsumwx"],
        fTsumwx2=s["fTsumwx2"],
        fTsumwy=s["fTsumwy"],
        fTsumwy2=s["fTsumwy2"],
        fTsumwxy=s["fTsumwxy"],
        fSumw2=h.sumw2,
        fXaxis=_uproot_axis(h.axes[0]),
        fYaxis=_uproot_axis(h.axes[1]),
        fZaxis=_uproot_axis(h.axes[2]),
    )
