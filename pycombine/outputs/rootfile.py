"""Write Combine's output ROOT files (``higgsCombine*.root``, ``fitDiagnostics*.root``) without ROOT.

Why a wrapper around uproot instead of calling it directly:

* **Atomicity.** Combine users run hundreds of jobs and merge the outputs with ``hadd``; a half
  written file (job killed, exception in the middle) is worse than no file. Everything is written
  to a hidden temporary file in the destination directory (``.<name>.tmp<random>.root``) and
  renamed over the final name only after uproot has closed it; on any exception the temporary file
  is deleted and an existing file of the same name is left untouched.
* **Exact types.** Downstream scripts index Combine's trees by branch name *and* rely on their
  ROOT types (``limit/D``, ``iToy/I``, ``quantileExpected/F`` ...). Here the numpy dtype of each
  column decides the ROOT type and dict order decides the branch order; Python lists are refused
  because ``np.asarray([0])`` silently becomes int64 (``/L``) where Combine writes ``/I``.
* **Combine conventions** in one place: unit-width histogram axes ``[0, nbins]``, ROOT-consistent
  histogram statistics, tree titles equal to their names, the empty ``toys`` directory,
  ``TGraphAsymmErrors`` data graphs with Garwood errors (:mod:`pycombine.outputs.tgraph`).

Typical use::

    with RootFileWriter("higgsCombineTest.AsymptoticLimits.mH120.root") as out:
        out.tree("limit", {"limit": np.array([...]), ...})   # see LIMIT_BRANCHES
        out.mkdir("toys")

uproot is imported lazily (here and in :mod:`.tgraph`) so that ``import pycombine`` stays cheap.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .tgraph import WritableTGraphAsymmErrors

__all__ = [
    "LIMIT_BRANCHES",
    "RootFileWriter",
    "TreeWriter",
    "histogram_statistics",
]

#: Branches of Combine's ``limit`` tree, in Combine's order, with their numpy (= ROOT) types:
#: float64 is ``/D``, int32 ``/I``, float32 ``/F``. Method-specific branches follow these
#: (float32 for MultiDimFit POIs and ``deltaNLL``, float64 for most others).
LIMIT_BRANCHES: tuple[tuple[str, np.dtype], ...] = (
    ("limit", np.dtype(np.float64)),
    ("limitErr", np.dtype(np.float64)),
    ("mh", np.dtype(np.float64)),
    ("syst", np.dtype(np.int32)),
    ("iToy", np.dtype(np.int32)),
    ("iSeed", np.dtype(np.int32)),
    ("iChannel", np.dtype(np.int32)),
    ("t_cpu", np.dtype(np.float32)),
    ("t_real", np.dtype(np.float32)),
    ("quantileExpected", np.dtype(np.float32)),
)

# numpy kinds/sizes that map one-to-one onto ROOT leaf types (uproot's TLeafO/B/b/S/s/I/i/L/l/F/D)
_TREE_DTYPES = frozenset(
    np.dtype(t)
    for t in (
        np.bool_,
        np.int8,
        np.uint8,
        np.int16,
        np.uint16,
        np.int32,
        np.uint32,
        np.int64,
        np.uint64,
        np.float32,
        np.float64,
    )
)
_HIST_CLASSES_1D = {"TH1F": np.dtype(np.float32), "TH1D": np.dtype(np.float64)}
_HIST_CLASSES_2D = {"TH2F": np.dtype(np.float32), "TH2D": np.dtype(np.float64)}


# --------------------------------------------------------------------------------------- helpers


def _split_path(path: str) -> list[str]:
    """Split an in-file path ``a/b/c`` into components, refusing names ROOT cannot address."""
    if not isinstance(path, str):
        raise TypeError(f"in-file path must be a str, not {type(path).__name__}")
    parts = path.strip("/").split("/")
    if not path.strip("/") or any(p == "" for p in parts):
        raise ValueError(f"invalid in-file path {path!r}")
    for p in parts:
        if ";" in p:
            raise ValueError(f"in-file path {path!r}: ';' is ROOT's cycle separator and cannot be used in names")
    return parts


def _native(dtype: np.dtype) -> np.dtype:
    return dtype.newbyteorder("=") if dtype.byteorder not in ("=", "|") else dtype


def _column(name: str, value: Any) -> np.ndarray:
    if not isinstance(name, str) or not name:
        raise ValueError(f"branch names must be non-empty strings, got {name!r}")
    if "/" in name or ";" in name or "[" in name:
        raise ValueError(f"branch name {name!r} contains a character ROOT reserves ('/', ';' or '[')")
    if not isinstance(value, (np.ndarray, np.generic)):
        raise TypeError(
            f"column {name!r} must be a numpy array (its dtype decides the ROOT type), "
            f"not {type(value).__name__}"
        )
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"column {name!r} must be one-dimensional, got shape {arr.shape}")
    dtype = _native(arr.dtype)
    if dtype not in _TREE_DTYPES:
        raise TypeError(f"column {name!r} has dtype {arr.dtype}, which has no ROOT leaf type here")
    return np.ascontiguousarray(arr, dtype=dtype)


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


class TreeWriter:
    """Handle on a TTree being written; returned by :meth:`RootFileWriter.tree`.

    Lets callers append entries in chunks (e.g. one per toy) with the branch types fixed when the
    tree was created. Values are cast to the declared dtypes with numpy ``same_kind`` casting;
    the validation and the writing are the tree's own (:meth:`pycombine.outputs.ttree.FlatTree.extend`).
    """

    def __init__(self, tree: Any):
        self._tree = tree

    @property
    def branch_types(self) -> dict[str, np.dtype]:
        """Branch name -> numpy dtype, in branch order."""
        return self._tree.branch_types

    @property
    def num_entries(self) -> int:
        """Number of entries written so far."""
        return self._tree.num_entries

    def extend(self, columns: Mapping[str, ArrayLike]) -> None:
        """Append entries; ``columns`` must have exactly the tree's branches, all of equal length."""
        self._tree.extend(columns)


class RootFileWriter:
    """Atomic writer of one ROOT output file; use as a context manager.

    ``with RootFileWriter(path) as out: ...`` writes to ``.<name>.tmp<random>.root`` next to
    ``path`` and renames it to ``path`` when the block exits normally (:meth:`commit`); if the
    block raises, the temporary file is removed (:meth:`abort`) and ``path`` is not touched.
    Objects are addressed by in-file paths like ``"shapes_prefit/ch1/total"``; missing
    directories are created. Writing the same object path twice is an error (ROOT would silently
    create a second cycle). ``compression`` is passed to ``uproot.recreate`` (None: uproot's
    default, ZLIB level 1). With ``fsync`` the data reach the disk before the rename, so a crash
    cannot leave a truncated file under the final name.
    """

    def __init__(self, path: str | os.PathLike[str], *, compression: Any = None, fsync: bool = True):
        self.path = os.fspath(path)
        self._compression = compression
        self._fsync = fsync
        self._file: Any = None
        self._tmp_path: str | None = None
        self._written: set[tuple[str, ...]] = set()
        self._state = "new"  # new -> open -> committed | aborted

    # ----------------------------------------------------------------------- lifecycle

    @property
    def temporary_path(self) -> str | None:
        """Path of the temporary file while the writer is open, else None."""
        return self._tmp_path if self._state == "open" else None

    def open(self) -> RootFileWriter:
        """Create the temporary file; called by ``__enter__``."""
        if self._state != "new":
            raise RuntimeError(f"RootFileWriter for {self.path!r} cannot be reopened ({self._state})")
        import uproot

        directory, base = os.path.split(os.path.abspath(self.path))
        stem = base[: -len(".root")] if base.endswith(".root") else base
        while True:
            tmp = os.path.join(directory, f".{stem}.tmp{secrets.token_hex(4)}.root")
            try:
                # O_EXCL: never clobber a concurrent job's file; 0o666 lets the umask decide the
                # final permissions, as for a file ROOT creates.
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:  # pragma: no cover - 32 random bits collided
                continue
            os.close(fd)
            break
        self._tmp_path = tmp
        try:
            kwargs = {} if self._compression is None else {"compression": self._compression}
            self._file = uproot.recreate(tmp, **kwargs)
        except BaseException:
            self._remove_tmp()
            self._state = "aborted"
            raise
        self._state = "open"
        return self

    def commit(self) -> None:
        """Close the file and atomically move it to its final name."""
        self._require_open()
        try:
            self._file.close()
            self._file = None
            if self._fsync:
                _fsync_path(self._tmp_path)
            os.replace(self._tmp_path, self.path)
            if self._fsync:
                _fsync_directory(os.path.dirname(os.path.abspath(self.path)))
        except BaseException:
            self.abort()
            raise
        self._state = "committed"
        self._tmp_path = None

    def abort(self) -> None:
        """Discard everything written so far; safe to call more than once."""
        if self._state in ("committed", "aborted"):
            return
        try:
            if self._file is not None:
                try:
                    self._file.close()
                except Exception:  # noqa: BLE001 - the file is being thrown away anyway
                    pass
                self._file = None
        finally:
            self._remove_tmp()
            self._state = "aborted"

    def __enter__(self) -> RootFileWriter:
        return self.open()

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
        return False

    def _remove_tmp(self) -> None:
        if self._tmp_path is not None:
            try:
                os.unlink(self._tmp_path)
            except FileNotFoundError:
                pass
            self._tmp_path = None

    def _require_open(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"RootFileWriter for {self.path!r} is not open ({self._state})")

    def _claim(self, parts: Sequence[str]) -> None:
        """Reserve an object path (after validation, just before writing)."""
        key = tuple(parts)
        if key in self._written:
            raise ValueError(f"{'/'.join(parts)!r} was already written to {self.path!r}")
        self._written.add(key)

    def _directory(self, parts: Sequence[str]) -> Any:
        """uproot WritableDirectory for ``parts`` (created if needed)."""
        return self._file.mkdir("/".join(parts)) if parts else self._file

    # ----------------------------------------------------------------------- content

    def mkdir(self, path: str) -> None:
        """Create (possibly nested, possibly empty) directories, e.g. Combine's ``toys``."""
        self._require_open()
        self._directory(_split_path(path))

    def tree(
        self,
        path: str,
        columns: Mapping[str, np.ndarray],
        *,
        title: str | None = None,
    ) -> TreeWriter:
        """Write a TTree whose branches are ``columns`` (dict order = branch order).

        Each value must be a 1D numpy array; its dtype decides the ROOT leaf type (float64 ``D``,
        float32 ``F``, int32 ``I``, int64 ``L``, bool ``O`` ...). Zero-length columns create a tree
        with zero entries but the right branches (Combine writes such ``limit`` trees). The title
        defaults to the tree name, as Combine's ``new TTree("limit", "limit")``. Returns a
        :class:`TreeWriter` to append further entries.
        """
        self._require_open()
        parts = _split_path(path)
        if not isinstance(columns, Mapping) or len(columns) == 0:
            raise ValueError(f"tree {path!r}: need a non-empty mapping of branch name -> numpy array")
        arrays = {name: _column(name, value) for name, value in columns.items()}
        lengths = {len(a) for a in arrays.values()}
        if len(lengths) != 1:
            raise ValueError(f"tree {path!r}: columns have different lengths {sorted(lengths)}")
        dtypes = {name: a.dtype for name, a in arrays.items()}
        self._claim(parts)
        directory = self._directory(parts[:-1])
        from .ttree import (
            FlatTree,  # linear in branches x entries (uproot's mktree is quadratic)
        )

        tree = FlatTree(directory, parts[-1], dtypes, title=parts[-1] if title is None else title)
        handle = TreeWriter(tree)
        handle.extend(arrays)
        return handle

    def th1(
        self,
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
    ) -> None:
        """Write a TH1F/TH1D with in-range bin ``contents`` and per-bin ``errors``.

        Without ``edges`` the axis runs from 0 to nbins with unit-width bins, as Combine writes
        its shapes. ``errors`` are stored as ``fSumw2 = errors**2``; with ``errors=None`` no Sumw2
        is stored and readers use ``sqrt(|content|)``, like ROOT. Under/overflow bins are 0.
        Statistics follow :func:`histogram_statistics`; ``entries`` overrides ``fEntries``.
        ``labels`` are x-axis bin labels (e.g. Combine's per-bin names).
        """
        import uproot

        self._require_open()
        parts = _split_path(path)
        if classname not in _HIST_CLASSES_1D:
            raise ValueError(f"classname must be one of {sorted(_HIST_CLASSES_1D)}, not {classname!r}")
        c = np.asarray(contents, dtype=np.float64)
        if c.ndim != 1 or len(c) == 0:
            raise ValueError(f"th1 {path!r}: contents must be a non-empty 1D array, got shape {c.shape}")
        nbins = len(c)
        xmin, xmax, e = _edges(nbins, edges, f"th1 {path!r}")
        c = _as_stored(c, _HIST_CLASSES_1D[classname])
        variances, sumw2 = self._variances(c, errors, path)

        stats = histogram_statistics(c, variances, _bin_centres(nbins, xmin, xmax, e))
        if entries is not None:
            stats["fEntries"] = float(entries)
        data = np.zeros(nbins + 2, dtype=_HIST_CLASSES_1D[classname])
        data[1:-1] = c
        hist = uproot.writing.identify.to_TH1x(
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
        self._claim(parts)
        self._directory(parts[:-1])[parts[-1]] = hist

    def th2(
        self,
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
    ) -> None:
        """Write a TH2F/TH2D; ``contents[ix, iy]`` is bin (ix+1, iy+1), as uproot's ``values()``.

        Axes default to ``[0, nx]`` x ``[0, ny]`` with unit-width bins (Combine's covariance and
        correlation matrices); ``xlabels``/``ylabels`` set bin labels (parameter or bin names).
        Errors, statistics and ``entries`` behave as in :meth:`th1`.
        """
        import uproot

        self._require_open()
        parts = _split_path(path)
        if classname not in _HIST_CLASSES_2D:
            raise ValueError(f"classname must be one of {sorted(_HIST_CLASSES_2D)}, not {classname!r}")
        c = np.asarray(contents, dtype=np.float64)
        if c.ndim != 2 or c.size == 0:
            raise ValueError(f"th2 {path!r}: contents must be a non-empty 2D array, got shape {c.shape}")
        nx, ny = c.shape
        xmin, xmax, xe = _edges(nx, xedges, f"th2 {path!r} x axis")
        ymin, ymax, ye = _edges(ny, yedges, f"th2 {path!r} y axis")
        c = _as_stored(c, _HIST_CLASSES_2D[classname])
        variances, sumw2 = self._variances(c, errors, path)

        stats = histogram_statistics(
            c, variances, _bin_centres(nx, xmin, xmax, xe), _bin_centres(ny, ymin, ymax, ye)
        )
        if entries is not None:
            stats["fEntries"] = float(entries)
        data = np.zeros((nx + 2, ny + 2), dtype=_HIST_CLASSES_2D[classname])
        data[1:-1, 1:-1] = c
        fsumw2 = None
        if sumw2 is not None:
            fsumw2 = np.zeros((nx + 2, ny + 2), dtype=np.float64)
            fsumw2[1:-1, 1:-1] = sumw2
            fsumw2 = fsumw2.T.reshape(-1)  # ROOT's global bin = ix + (nx+2) * iy
        hist = uproot.writing.identify.to_TH2x(
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
        )
        self._claim(parts)
        self._directory(parts[:-1])[parts[-1]] = hist

    @staticmethod
    def _variances(
        contents: np.ndarray, errors: ArrayLike | None, path: str
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(per-bin variance used for statistics, fSumw2 payload or None)."""
        if errors is None:
            return np.abs(contents), None  # ROOT without Sumw2: error^2 = |content|
        err = np.asarray(errors, dtype=np.float64)
        if err.shape != contents.shape:
            raise ValueError(f"{path!r}: errors have shape {err.shape}, contents {contents.shape}")
        sumw2 = err * err
        return sumw2, sumw2

    def graph_asymm_errors(
        self,
        path: str,
        x: ArrayLike,
        y: ArrayLike,
        exl: ArrayLike = 0.0,
        exh: ArrayLike = 0.0,
        eyl: ArrayLike = 0.0,
        eyh: ArrayLike = 0.0,
        *,
        title: str = "",
    ) -> None:
        """Write a TGraphAsymmErrors named after the last path component (see :mod:`.tgraph`)."""
        from .tgraph import make_tgraph_asymm_errors

        name = _split_path(path)[-1]
        self.put(path, make_tgraph_asymm_errors(x, y, exl, exh, eyl, eyh, name=name, title=title))

    def data_graph(
        self,
        directory: str,
        counts: ArrayLike,
        *,
        title: str,
        edges: ArrayLike | None = None,
        as_density: bool = True,
    ) -> None:
        """Write FitDiagnostics' observed-data graph ``<directory>/data`` (Garwood y errors).

        See :func:`pycombine.outputs.tgraph.make_data_graph`; ``title`` is Combine's
        ``"<first process> in <channel>"``.
        """
        from .tgraph import make_data_graph

        path = "/".join([*_split_path(directory), "data"])
        self.put(path, make_data_graph(counts, title, edges=edges, as_density=as_density))

    def put(self, path: str, obj: WritableTGraphAsymmErrors | Any) -> None:
        """Write any object uproot can write (a writable model, e.g. from :mod:`.tgraph`).

        This is the escape hatch for objects without a dedicated method; uproot renames the object
        to the last path component.
        """
        self._require_open()
        parts = _split_path(path)
        self._claim(parts)
        self._directory(parts[:-1])[parts[-1]] = obj


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: str) -> None:
    """Persist the rename itself (POSIX); silently skipped where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)
