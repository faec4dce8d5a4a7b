"""Linear-time writer of flat TTrees (one numeric scalar per branch and entry).

Why this module exists: FitDiagnostics writes ``tree_fit_sb``/``tree_fit_b``/``tree_prefit`` with
one branch per model parameter and global observable, i.e. thousands of branches for models with
autoMCStats. uproot's TTree writer (``uproot/writing/_cascadetree.py``, ``Tree._build_out``)
recomputes the length of everything serialized so far for every branch, so its cost grows as the
square of the number of branches (seconds for 1000 branches, hours for 20000). Here the tree
metadata is serialized in one pass (:class:`~pycombine.outputs.root.tree_record.TreeRecord`, which
also documents the on-disk layout). Filling writes one basket per branch into a single allocated
block and patches the metadata in place, so the cost of a tree is linear in branches x entries.

What is uproot's, what is ours: uproot keeps the file-level plumbing -- TFile header, directories
and their key lists, free segments, the TStreamerInfo list (``WritableFile.update_streamers``,
fed with the streamer records uproot captured from ROOT for TTree v20, TBranch v13, TLeaf v2,
TLeafB/S/I/L/F/D/C/O v1 and their bases, as uproot's ``mktree`` registers them), compression,
and the TKey of the tree (registered with the directory's ``add_object``, like uproot's own
trees). The bytes of the TTree object and of the baskets are ours.

Typical use::

    with uproot.recreate(path) as f:
        write_flat_tree(f, "tree_fit_sb", {"r": np.array([1.0]), "fit_status": np.array([0], np.int32)})

With the atomic writer use :meth:`pycombine.outputs.root.file.RootFileWriter.tree`, which writes
through :class:`FlatTree`. uproot is imported only when a tree is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .tree_record import (
    LEAF_TYPES,
    MAX_BASKET_BYTES,
    TreeRecord,
    basket_block,
    basket_key_lengths,
    check_branch_name,
    column_bytes,
    leaf_dtype,
)

__all__ = ["LEAF_TYPES", "FlatTree", "write_branchless_tree", "write_flat_tree"]


class FlatTree:
    """A TTree of flat numeric branches written into an uproot ``WritableDirectory``.

    ``branch_types`` maps branch names (dict order = branch order) to numpy dtypes (see
    :data:`LEAF_TYPES`: float64 ``/D``, float32 ``/F``, int32 ``/I``, int64 ``/L``, bool ``/O``,
    ...). The tree is written (with zero entries) when the object is created; every
    :meth:`extend` adds one basket per branch. ``name`` may contain ``/`` to create the tree in a
    sub-directory (created if needed). ``title`` defaults to the name, as Combine's trees.

    The object implements the ``extend`` protocol of uproot's ``WritableTree`` that
    :class:`pycombine.outputs.root.file.TreeWriter` relies on.
    """

    def __init__(
        self,
        directory: Any,
        name: str,
        branch_types: Mapping[str, Any],
        *,
        title: str | None = None,
        initial_basket_capacity: int = 10,
        resize_factor: float = 10.0,
    ):
        directory = _writable_directory(directory)
        if not isinstance(name, str) or not name.strip("/") or "//" in name:
            raise ValueError(f"invalid tree name {name!r}")
        if ";" in name:
            raise ValueError(f"tree name {name!r}: ';' is ROOT's cycle separator")
        if not isinstance(branch_types, Mapping) or len(branch_types) == 0:
            raise ValueError(f"tree {name!r}: need a non-empty mapping of branch name -> dtype")
        dtypes = {check_branch_name(k): leaf_dtype(k, v) for k, v in branch_types.items()}
        if initial_basket_capacity < 2:
            raise ValueError("initial_basket_capacity must be at least 2")
        if not resize_factor > 1:
            raise ValueError("resize_factor must be > 1")
        if directory.file.sink.closed:
            raise ValueError("cannot create a TTree in a closed file")
        name = name.strip("/")
        if "/" in name:  # only now that everything is valid: create the directories
            dirpath, name = name.rsplit("/", 1)
            directory = directory.mkdir(dirpath)

        self._directory = directory
        self._record = TreeRecord(
            name,
            name if title is None else str(title),
            dtypes,
            initial_basket_capacity=initial_basket_capacity,
            resize_factor=resize_factor,
        )
        self._key: Any = None
        _register_streamers(directory)
        self._write_anew()

    # ------------------------------------------------------------------ properties

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def title(self) -> str:
        return self._record.title

    @property
    def branch_types(self) -> dict[str, np.dtype]:
        """Branch name -> numpy dtype, in branch order."""
        return dict(self._record.dtypes)

    @property
    def num_entries(self) -> int:
        return self._record.num_entries

    @property
    def num_baskets(self) -> int:
        """Baskets per branch (every extend writes one basket in every branch)."""
        return self._record.num_baskets

    @property
    def basket_capacity(self) -> int:
        """Current fMaxBaskets (length of the fBasket* arrays)."""
        return self._record.capacity

    @property
    def key(self) -> Any:
        """uproot's cascading Key of the tree record."""
        return self._key

    # ------------------------------------------------------------------ writing the record

    def _write_anew(self) -> None:
        """Write the whole record as a new key (replacing and freeing the previous one, if any)."""
        record = self._record
        record.build()
        cascading = self._directory._cascading
        sink = self._directory.file.sink
        old = self._key
        blob = bytes(record.blob)
        self._key = cascading.add_object(sink, "TTree", record.name, record.title, blob, len(blob), replaces=old,
                                         big=True)
        if self._key.num_bytes != record.key_length:  # the leaf references assume this length
            raise RuntimeError(f"unexpected TTree key length {self._key.num_bytes} != {record.key_length}")
        if old is not None:
            freesegments = cascading.freesegments
            freesegments.release(old.seek_location, old.seek_location + old.num_bytes + old.compressed_bytes)
            freesegments.write(sink)
            sink.set_file_length(freesegments.fileheader.end)
        sink.flush()

    def _patch(self) -> None:
        """Rewrite the parts of the record on disk that the last basket changed."""
        blob = self._record.blob
        ranges = self._record.patch()
        sink = self._directory.file.sink
        base = self._key.seek_location + self._key.num_bytes
        merged = _merge_ranges(ranges, gap=512)
        if len(merged) * 4096 >= len(blob):
            sink.write(base, bytes(blob))  # cheaper as one write
        else:
            view = memoryview(blob)
            for start, size in merged:
                sink.write(base + start, view[start : start + size])
            view.release()
        sink.flush()

    # ------------------------------------------------------------------ filling

    def extend(self, data: Mapping[str, Any]) -> None:
        """Append entries: ``data`` maps every branch name to a 1D array of the same length.

        Values are cast to the branch dtypes with numpy ``same_kind`` casting. Nothing is written
        for zero entries (ROOT writes no empty baskets). Everything is validated before anything
        is written.
        """
        length, payloads = column_bytes(self._record, data)
        if not length:
            return
        if self._directory.file.sink.closed:
            raise ValueError("cannot extend a TTree in a closed file")

        seeks, nbytes, objbytes = self._write_baskets(payloads, length)
        if self._record.add_baskets(length, seeks, nbytes, objbytes):
            self._write_anew()  # the basket arrays grew: the record moves
        else:
            self._patch()

    def _write_baskets(self, payloads: list[bytes], length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Write one basket per branch in one allocated block; return seeks, fNbytes, fKeylen+fObjlen."""
        import uproot.compression

        record = self._record
        cascading = self._directory._cascading
        sink = self._directory.file.sink
        freesegments = cascading.freesegments
        compression = freesegments.fileheader.compression

        nbranches = len(payloads)
        keylens = basket_key_lengths(record.basket_names, record.name)
        objlens = np.empty(nbranches, np.int64)
        nbytes = np.empty(nbranches, np.int64)
        stored = []
        for i, raw in enumerate(payloads):
            # ROOT's compression headers alone take 9 bytes plus at least 8 for any algorithm, so
            # buffers up to 17 bytes are always stored as they are (as compress() would decide)
            data = raw if len(raw) <= 17 else uproot.compression.compress(raw, compression)
            keylen = int(keylens[i])
            objlens[i] = len(raw)
            nbytes[i] = keylen + len(data)
            if max(len(raw), nbytes[i]) > MAX_BASKET_BYTES or keylen > 0x7FFF:
                raise ValueError(f"branch {record.names[i]!r}: basket too large for ROOT ({len(raw)} bytes)")
            stored.append(data)

        total = int(nbytes.sum())
        base = freesegments.allocate(total, dry_run=False)
        seeks = np.empty(nbranches, np.int64)
        seeks[0] = base
        np.cumsum(nbytes[:-1], out=seeks[1:])
        seeks[1:] += base

        itemsizes = [record.dtypes[n].itemsize for n in record.names]
        pdir = cascading.key.location  # fSeekPdir: the directory's key, as ROOT's fSeekDir
        block = basket_block(record.basket_names, record.name, itemsizes, length, stored, keylens, objlens, nbytes,
                             seeks, pdir)
        assert len(block) == total
        sink.write(base, block)
        freesegments.write(sink)
        sink.set_file_length(freesegments.fileheader.end)
        return seeks, nbytes, keylens + objlens


def _merge_ranges(ranges: list[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    """Merge sorted-by-start (start, size) ranges closer than ``gap`` bytes."""
    ranges = sorted(ranges)
    out: list[list[int]] = []
    for start, size in ranges:
        if out and start - (out[-1][0] + out[-1][1]) <= gap:
            out[-1][1] = max(out[-1][1], start + size - out[-1][0])
        else:
            out.append([start, size])
    return [(s, n) for s, n in out]


# ----------------------------------------------------------------------------- file plumbing

_STREAMERS: list[Any] | None = None


def _register_streamers(directory: Any) -> None:
    """Add the TStreamerInfo records of every class in a tree to the file (uproot's list)."""
    global _STREAMERS
    import uproot
    import uproot.writing._cascade

    if _STREAMERS is None:
        seen: set[tuple[str, int]] = set()
        streamers = []
        models = uproot.models
        for model in (
            models.TLeaf.Model_TLeafB_v1,
            models.TLeaf.Model_TLeafS_v1,
            models.TLeaf.Model_TLeafI_v1,
            models.TLeaf.Model_TLeafL_v1,
            models.TLeaf.Model_TLeafF_v1,
            models.TLeaf.Model_TLeafD_v1,
            models.TLeaf.Model_TLeafC_v1,
            models.TLeaf.Model_TLeafO_v1,
            models.TBranch.Model_TBranch_v13,
            models.TTree.Model_TTree_v20,
        ):
            for raw in model.class_rawstreamers:
                if (raw[-2], raw[-1]) not in seen:
                    seen.add((raw[-2], raw[-1]))
                    streamers.append(raw)
        _STREAMERS = streamers
    directory.file.update_streamers([uproot.writing._cascade.RawStreamerInfo(*raw) for raw in _STREAMERS])


def _writable_directory(target: Any) -> Any:
    """uproot WritableDirectory of ``target`` (a WritableDirectory or a WritableFile)."""
    from uproot.writing import writable

    if isinstance(target, writable.WritableDirectory):
        return target
    if isinstance(target, writable.WritableFile):
        return target.root_directory
    raise TypeError(f"expected an uproot WritableDirectory, not {type(target).__name__}")


def write_branchless_tree(target: Any, name: str, entries: int, title: str | None = None) -> None:
    """Write a TTree with ``entries`` entries and no branches, as ROOT writes a tree that was
    filled without branches (Combine's ``tree_prefit`` of a model without nuisances).

    ``target`` is an uproot ``WritableDirectory`` or ``WritableFile``; the tree cannot be extended.
    """
    directory = _writable_directory(target)
    if not isinstance(name, str) or not name or "/" in name or ";" in name:
        raise ValueError(f"invalid tree name {name!r}")
    if int(entries) < 0:
        raise ValueError(f"tree {name!r}: negative number of entries {entries}")
    record = TreeRecord(name, name if title is None else str(title), {})
    record.num_entries = int(entries)
    record.build()
    _register_streamers(directory)
    blob = bytes(record.blob)
    directory._cascading.add_object(directory.file.sink, "TTree", record.name, record.title, blob, len(blob),
                                    big=True)
    directory.file.sink.flush()


def write_flat_tree(
    target: Any,
    name: str,
    columns: Mapping[str, np.ndarray],
    title: str | None = None,
) -> Any:
    """Write a flat TTree whose branches are ``columns`` (dict order = branch order).

    ``target`` is an uproot ``WritableDirectory`` (e.g. what ``uproot.recreate`` returns) or
    ``WritableFile``; ``name`` may be a path ``dir/sub/tree`` (directories are created). Each
    column must be a 1D numpy array (a numpy scalar counts as one entry) whose dtype decides the
    leaf type (:data:`LEAF_TYPES`); all columns have the same length, possibly zero (an empty tree
    with typed branches). ``title`` defaults to the tree name. Returns the :class:`FlatTree`,
    which can be extended further. (Holding a
    :class:`~pycombine.outputs.root.file.RootFileWriter`? Use its ``tree`` method.)
    """
    if not isinstance(columns, Mapping) or len(columns) == 0:
        raise ValueError(f"tree {name!r}: need a non-empty mapping of branch name -> numpy array")
    arrays = {}
    for k, v in columns.items():
        check_branch_name(k)
        if not isinstance(v, (np.ndarray, np.generic)):
            raise TypeError(f"column {k!r} must be a numpy array (its dtype decides the ROOT type), "
                            f"not {type(v).__name__}")
        arr = np.asarray(v)
        arrays[k] = arr.reshape(1) if arr.ndim == 0 else arr
    lengths = {len(a) if a.ndim == 1 else -1 for a in arrays.values()}
    if -1 in lengths:
        raise ValueError(f"tree {name!r}: columns must be one-dimensional")
    if len(lengths) != 1:
        raise ValueError(f"tree {name!r}: columns have different lengths {sorted(lengths)}")
    tree = FlatTree(target, name, {k: a.dtype for k, a in arrays.items()}, title=title)
    tree.extend(arrays)
    return tree
