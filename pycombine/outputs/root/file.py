"""Write ROOT files without ROOT, atomically: :class:`RootFileWriter`, a wrapper around uproot.

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
* **ROOT's conventions** in one place: histograms with the statistics ROOT would store
  (:mod:`.histograms`; unit-width axes ``[0, nbins]`` by default, as Combine writes its shapes),
  tree titles equal to their names by default (as Combine's ``new TTree("limit", "limit")``),
  trees written in linear time (:mod:`.flat_tree`), ``TGraphAsymmErrors`` (:mod:`.tgraph`).

Typical use::

    with RootFileWriter("higgsCombineTest.AsymptoticLimits.mH120.root") as out:
        out.tree("limit", {"limit": np.array([...]), ...})
        out.mkdir("toys")

Which objects Combine's files hold is decided in :mod:`pycombine.outputs.limit_tree` and
:mod:`pycombine.outputs.fit_diagnostics_file`. uproot is imported lazily (here and in
:mod:`.histograms` and :mod:`.flat_tree`; :mod:`.tgraph` only when a graph is written) so that
``import pycombine`` stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from .flat_tree import FlatTree  # linear in branches x entries (uproot's mktree is quadratic)
from .histograms import make_th1, make_th2
from .tree_record import LEAF_TYPES, check_branch_name

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .tgraph import WritableTGraphAsymmErrors

__all__ = ["RootFileWriter", "TreeWriter", "split_path"]

# numpy kinds/sizes that map one-to-one onto ROOT leaf types (TLeafO/B/b/S/s/I/i/L/l/F/D)
_TREE_DTYPES = frozenset(LEAF_TYPES)


# --------------------------------------------------------------------------------------- helpers


def split_path(path: str) -> list[str]:
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
    check_branch_name(name)
    if type(value) is np.ndarray and value.ndim == 1 and value.flags.c_contiguous and value.dtype in _TREE_DTYPES:
        return value  # the common case, first (trees of ~10^5 branches)
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


class TreeWriter:
    """Handle on a TTree being written; returned by :meth:`RootFileWriter.tree`.

    Lets callers append entries in chunks (e.g. one per toy) with the branch types fixed when the
    tree was created. Values are cast to the declared dtypes with numpy ``same_kind`` casting;
    the validation and the writing are the tree's own (:meth:`pycombine.outputs.root.flat_tree.FlatTree.extend`).
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
            tmp = os.path.join(directory, f".{stem}.tmp{os.urandom(4).hex()}.root")
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
        self._directory(split_path(path))

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
        parts = split_path(path)
        if not isinstance(columns, Mapping) or len(columns) == 0:
            raise ValueError(f"tree {path!r}: need a non-empty mapping of branch name -> numpy array")
        arrays = {name: _column(name, value) for name, value in columns.items()}
        lengths = {len(a) for a in arrays.values()}
        if len(lengths) != 1:
            raise ValueError(f"tree {path!r}: columns have different lengths {sorted(lengths)}")
        dtypes = {name: a.dtype for name, a in arrays.items()}
        self._claim(parts)
        directory = self._directory(parts[:-1])
        tree = FlatTree(directory, parts[-1], dtypes, title=parts[-1] if title is None else title)
        handle = TreeWriter(tree)
        handle.extend(arrays)
        return handle

    def branchless_tree(self, path: str, entries: int, *, title: str | None = None) -> None:
        """Write a TTree with ``entries`` entries and no branches (what ROOT writes when a tree
        without branches is filled, e.g. Combine's ``tree_prefit`` of a model without nuisances)."""
        from .flat_tree import write_branchless_tree

        self._require_open()
        parts = split_path(path)
        self._claim(parts)
        write_branchless_tree(self._directory(parts[:-1]), parts[-1], entries, title=title)

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
        Statistics follow :func:`.histograms.histogram_statistics`; ``entries`` overrides ``fEntries``.
        ``labels`` are x-axis bin labels (e.g. Combine's per-bin names).
        """
        self._require_open()
        parts = split_path(path)
        hist = make_th1(path, contents, errors, title=title, edges=edges, classname=classname, entries=entries,
                        xtitle=xtitle, ytitle=ytitle, labels=labels)
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
        ztitle: str = "",
    ) -> None:
        """Write a TH2F/TH2D; ``contents[ix, iy]`` is bin (ix+1, iy+1), as uproot's ``values()``.

        Axes default to ``[0, nx]`` x ``[0, ny]`` with unit-width bins (Combine's covariance and
        correlation matrices); ``xlabels``/``ylabels`` set bin labels (parameter or bin names).
        Errors, statistics and ``entries`` behave as in :meth:`th1`.
        """
        self._require_open()
        parts = split_path(path)
        hist = make_th2(path, contents, errors, title=title, xedges=xedges, yedges=yedges, classname=classname,
                        entries=entries, xlabels=xlabels, ylabels=ylabels, xtitle=xtitle, ytitle=ytitle,
                        ztitle=ztitle)
        self._claim(parts)
        self._directory(parts[:-1])[parts[-1]] = hist

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

        name = split_path(path)[-1]
        self.put(path, make_tgraph_asymm_errors(x, y, exl, exh, eyl, eyh, name=name, title=title))

    def roofit(self, path: str, obj: Any) -> None:
        """Write a RooFit object built from plain data (:mod:`.roofit`: a ``RooFitResult`` or a
        ``RooArgSet``/``RooArgList`` of ``RooRealVar``), with the StreamerInfo records it needs."""
        from .roofit import write_roofit

        self._require_open()
        parts = split_path(path)
        self._claim(parts)
        write_roofit(self._directory(parts[:-1]), parts[-1], obj)

    def put(self, path: str, obj: WritableTGraphAsymmErrors | Any) -> None:
        """Write any object uproot can write (a writable model, e.g. from :mod:`.tgraph`).

        This is the escape hatch for objects without a dedicated method; uproot renames the object
        to the last path component.
        """
        self._require_open()
        parts = split_path(path)
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
