"""Linear-time writer of flat TTrees (one numeric scalar per branch and entry).

Why this module exists: FitDiagnostics writes ``tree_fit_sb``/``tree_fit_b``/``tree_prefit`` with
one branch per model parameter and global observable, i.e. thousands of branches for models with
autoMCStats. uproot's TTree writer (``uproot/writing/_cascadetree.py``, ``Tree._build_out``)
recomputes the length of everything serialized so far for every branch, so its cost grows as the
square of the number of branches (seconds for 1000 branches, hours for 20000). Here the tree
metadata is serialized in one pass: every branch record is built on its own (its bytes depend only
on its name, type and basket bookkeeping), and the few absolute positions ROOT needs (the
references from ``TTree::fLeaves`` to the leaves inside the branches) come from one cumulative sum.
Filling writes one basket per branch into a single allocated block and patches the metadata in
place, so the cost of a tree is linear in branches x entries.

What is uproot's, what is ours: uproot keeps the file-level plumbing -- TFile header, directories
and their key lists, free segments, the TStreamerInfo list (``WritableFile.update_streamers``,
fed with the streamer records uproot captured from ROOT for TTree v20, TBranch v13, TLeaf v2,
TLeafB/S/I/L/F/D/C/O v1 and their bases, as uproot's ``mktree`` registers them), compression,
and the TKey of the tree (registered with the directory's ``add_object``, like uproot's own
trees). The bytes of the TTree object and of the baskets are ours.

On-disk layout (ROOT's ``TBufferFile`` member-wise streaming, as in files written by ROOT 6.24
and by uproot; ``[n|v]`` is a 4-byte byte count with ``kByteCountMask`` and a 2-byte version,
strings are TStrings, all numbers big-endian)::

    TTree v20            [n|20]
      TNamed v1          [n|1] TObject(v1, fUniqueID=0, fBits=0x03000008) fName fTitle
      TAttLine/TAttFill/TAttMarker v2   602,1,1 / 0,1001 / 1,1,1.0
      fEntries fTotBytes fZipBytes fSavedBytes fFlushedBytes fWeight fTimerInterval fScanField
      fUpdate fDefaultEntryOffsetLen fNClusterRange fMaxEntries fMaxEntryLoop fMaxVirtualSize
      fAutoSave fAutoFlush fEstimate                      (">qqqqqdiiiiIqqqqqq")
      0 0                fClusterRangeEnd, fClusterSize (null [fNClusterRange] arrays)
      fIOFeatures        ROOT::TIOFeatures
      fBranches          TObjArray v3 of object pointers, each
                           [n] kNewClassTag "TBranch\\0" TBranch v13:
                             TNamed(fBits=0x03400000, name, "name/D") TAttFill(0, 1001)
                             fCompress fBasketSize fEntryOffsetLen fWriteBasket fEntryNumber
                             fIOFeatures fOffset fMaxBaskets fSplitLevel fEntries fFirstEntry
                             fTotBytes fZipBytes
                             fBranches  empty TObjArray
                             fLeaves    TObjArray with one [n] kNewClassTag "TLeafD\\0" TLeafD v1:
                                          TLeaf v2(TNamed(name, name) fLen fLenType fOffset
                                          fIsRange fIsUnsigned fLeafCount=null) fMinimum fMaximum
                             fBaskets   empty TObjArray (every basket is on disk)
                             1 fBasketBytes[fMaxBaskets] 1 fBasketEntry[..] 1 fBasketSeek[..]
                             fFileName ""
      fLeaves            TObjArray v3 of references (key-buffer offset of each leaf + kMapOffset)
      fAliases=null fIndexValues=[] fIndex=[] fTreeIndex fFriends fUserInfo fBranchRef = null

    TBasket key          TKey v1004 (64-bit seeks) "TBasket" branch-name tree-name,
                         TBasket v3 fBufferSize=32000 fNevBufSize=itemsize fNevBuf fLast, flag 0,
                         then the (possibly compressed) big-endian values

Like uproot (and ROOT's ``TBranch::fMaxBaskets`` default) the basket arrays start with room for
10 baskets and grow by a factor 10 when a fill would leave no room for the fencepost entry
``fBasketEntry[fWriteBasket] = fEntries``; growing rewrites the tree record elsewhere and frees
the old one.

Typical use::

    with uproot.recreate(path) as f:
        write_flat_tree(f, "tree_fit_sb", {"r": np.array([1.0]), "fit_status": np.array([0], np.int32)})

or, with the atomic writer, ``write_flat_tree(root_file_writer, "tree_fit_sb", columns)``.
"""

from __future__ import annotations

import datetime
import math
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["LEAF_TYPES", "FlatTree", "write_flat_tree"]

# ------------------------------------------------------------------------------ ROOT constants

_BYTE_COUNT_MASK = 0x40000000  # kByteCountMask: marks a 4-byte byte count
_NEW_CLASS_TAG = 0xFFFFFFFF  # kNewClassTag: the class name follows
_MAP_OFFSET = 2  # kMapOffset: object references are buffer offsets + 2
_MAX_BYTE_COUNT = 0x3FFFFFFE  # kMaxMapCount: largest byte count ROOT accepts
_BASKET_SIZE = 32000  # TBranch::fBasketSize / TBasket::fBufferSize default
_MAX_BASKET_BYTES = 2**31 - 1  # fNbytes/fObjlen are Int_t

#: numpy dtype -> (type letter in the branch title, TLeaf class); dict order = supported types
LEAF_TYPES: dict[np.dtype, tuple[str, str]] = {
    np.dtype(np.float64): ("D", "TLeafD"),
    np.dtype(np.float32): ("F", "TLeafF"),
    np.dtype(np.int32): ("I", "TLeafI"),
    np.dtype(np.uint32): ("i", "TLeafI"),
    np.dtype(np.int64): ("L", "TLeafL"),
    np.dtype(np.uint64): ("l", "TLeafL"),
    np.dtype(np.int16): ("S", "TLeafS"),
    np.dtype(np.uint16): ("s", "TLeafS"),
    np.dtype(np.int8): ("B", "TLeafB"),
    np.dtype(np.uint8): ("b", "TLeafB"),
    np.dtype(np.bool_): ("O", "TLeafO"),
}

_KEY_BIG = struct.Struct(">ihiIhhqq")  # TKey v1004: fNbytes .. fSeekKey fSeekPdir (64-bit)
_BASKET_HEADER = struct.Struct(">Hiiii")  # TBasket v3: version fBufferSize fNevBufSize fNevBuf fLast
_COUNT_VERSION = struct.Struct(">IH")
_U32 = struct.Struct(">I")
_TTREE_FIELDS = struct.Struct(">qqqqqdiiiiIqqqqqq")  # fEntries .. fEstimate
_TBRANCH_FIELDS1 = struct.Struct(">iiiiq")  # fCompress fBasketSize fEntryOffsetLen fWriteBasket fEntryNumber
_TBRANCH_FIELDS2 = struct.Struct(">iIiqqqq")  # fOffset fMaxBaskets fSplitLevel fEntries fFirstEntry fTotBytes fZipBytes
_TLEAF_FIELDS = struct.Struct(">iii??")  # fLen fLenType fOffset fIsRange fIsUnsigned

# TObject v1 (version, fUniqueID, fBits) with the bits ROOT 6 writes for each object
_TOBJECT_TREE = b"\x00\x01\x00\x00\x00\x00\x03\x00\x00\x08"  # kNotDeleted|kIsOnHeap|kMustCleanup
_TOBJECT_BRANCH = b"\x00\x01\x00\x00\x00\x00\x03\x40\x00\x00"
_TOBJECT_PLAIN = b"\x00\x01\x00\x00\x00\x00\x03\x00\x00\x00"  # leaves, TObjArrays
_TOBJECT_BRANCH_LIST = b"\x00\x01\x00\x00\x00\x00\x03\x00\x40\x00"  # TTree::fBranches
# TAttLine v2 (602, 1, 1), TAttFill v2 (0, 1001), TAttMarker v2 (1, 1, 1.0)
_TATTLINE = b"\x40\x00\x00\x08\x00\x02\x02\x5a\x00\x01\x00\x01"
_TATTFILL = b"\x40\x00\x00\x06\x00\x02\x00\x00\x03\xe9"
_TATTMARKER = b"\x40\x00\x00\x0a\x00\x02\x00\x01\x00\x01\x3f\x80\x00\x00"
# ROOT::TIOFeatures: byte count 7, version 0 + class checksum (foreign class), fIOBits = 0
_TIOFEATURES = b"\x40\x00\x00\x07\x00\x00\x1a\xa1\x2f\x10\x00"
# TObjArray v3 with no entries: TObject, fName "", nobjects 0, fLowerBound 0
_EMPTY_TOBJARRAY = _COUNT_VERSION.pack(21 | _BYTE_COUNT_MASK, 3) + _TOBJECT_PLAIN + b"\x00" + b"\x00" * 8
_TBRANCH_CLASS = _U32.pack(_NEW_CLASS_TAG) + b"TBranch\x00"
_TTREE_TAIL = b"\x00" * 28  # fAliases, fIndexValues, fIndex, fTreeIndex, fFriends, fUserInfo, fBranchRef
_TTREE_DEFAULTS = {  # TTree members that do not depend on the content (ROOT's defaults)
    "fSavedBytes": 0,
    "fFlushedBytes": 0,
    "fWeight": 1.0,
    "fTimerInterval": 0,
    "fScanField": 25,
    "fUpdate": 0,
    "fDefaultEntryOffsetLen": 1000,
    "fNClusterRange": 0,
    "fMaxEntries": 1000000000000,
    "fMaxEntryLoop": 1000000000000,
    "fMaxVirtualSize": 0,
    "fAutoSave": -300000000,
    "fAutoFlush": -30000000,
    "fEstimate": 1000000,
}

# offsets inside one serialized branch (the object pointer in TTree::fBranches), see _branch_record
_BRANCH_HEAD = 4 + len(_TBRANCH_CLASS) + 6  # byte count, class tag+name, TBranch [n|13]
_FIELDS1_TO_FIELDS2 = _TBRANCH_FIELDS1.size + len(_TIOFEATURES)
_FIELDS2_TO_LEAF = _TBRANCH_FIELDS2.size + len(_EMPTY_TOBJARRAY) + 6 + len(_TOBJECT_PLAIN) + 1 + 8


# ------------------------------------------------------------------------------------ helpers


def _tstring(data: bytes) -> bytes:
    """ROOT TString: 1-byte length (255 = a 4-byte length follows), then the bytes."""
    if len(data) < 255:
        return bytes((len(data),)) + data
    return b"\xff" + _U32.pack(len(data)) + data


def _encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")


def _counted(version: int, body: bytes) -> bytes:
    """[byte count | version] header + body (byte count covers the version and the body)."""
    count = len(body) + 2
    if count > _MAX_BYTE_COUNT:
        raise ValueError(f"ROOT object of {count} bytes exceeds ROOT's 1 GiB limit for one record")
    return _COUNT_VERSION.pack(count | _BYTE_COUNT_MASK, version) + body


def _datime(now: datetime.datetime | None = None) -> int:
    """ROOT TDatime code of ``now`` (local time, as ROOT writes it)."""
    d = now or datetime.datetime.now()
    return ((d.year - 1995) << 26) | (d.month << 22) | (d.day << 17) | (d.hour << 12) | (d.minute << 6) | d.second


def _leaf_record(name: bytes, dtype: np.dtype) -> bytes:
    """The TLeaf* object pointer (byte count, class tag, class name, object) of a scalar branch."""
    letter, classname = LEAF_TYPES[dtype]
    sname = _tstring(name)
    tnamed = _counted(1, _TOBJECT_PLAIN + sname + sname)  # ROOT titles scalar leaves with the name
    tleaf = _counted(
        2,
        tnamed
        + _TLEAF_FIELDS.pack(1, dtype.itemsize, 0, False, letter.islower())
        + b"\x00\x00\x00\x00",  # fLeafCount: null pointer
    )
    tleafx = _counted(1, tleaf + b"\x00" * (2 * dtype.itemsize))  # fMinimum = fMaximum = 0
    tagged = _U32.pack(_NEW_CLASS_TAG) + classname.encode() + b"\x00" + tleafx
    return _U32.pack(len(tagged) | _BYTE_COUNT_MASK) + tagged


def _branch_parts(name: str, dtype: np.dtype) -> tuple[bytes, bytes]:
    """Content-independent bytes of a branch: (TNamed+TAttFill, fBranches..fLeaves..fBaskets)."""
    letter, _ = LEAF_TYPES[dtype]
    bname = _encode(name)
    head = _counted(1, _TOBJECT_BRANCH + _tstring(bname) + _tstring(bname + b"/" + letter.encode())) + _TATTFILL
    leaf = _leaf_record(bname, dtype)
    leaves = _counted(3, _TOBJECT_PLAIN + b"\x00" + struct.pack(">ii", 1, 0) + leaf)
    middle = _EMPTY_TOBJARRAY + leaves + _EMPTY_TOBJARRAY
    return head, middle


def _scatter(buf: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> None:
    """buf[offsets[i] + j] = rows[i, j] (rows may be one row broadcast to every offset)."""
    width = rows.shape[-1]
    buf[offsets[:, None] + np.arange(width)] = rows


def _as_bytes_rows(values: np.ndarray, dtype: str) -> np.ndarray:
    arr = np.ascontiguousarray(values, dtype=dtype)
    return arr.view(np.uint8).reshape(len(arr), arr.dtype.itemsize)


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"branch names must be non-empty strings, got {name!r}")
    if "/" in name or ";" in name or "[" in name:
        raise ValueError(f"branch name {name!r} contains a character ROOT reserves ('/', ';' or '[')")
    return name


def _leaf_dtype(name: str, dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    native = dt.newbyteorder("=") if dt.byteorder not in ("=", "|") else dt
    if native not in LEAF_TYPES:
        raise TypeError(f"branch {name!r}: dtype {dt} has no flat ROOT leaf type (supported: "
                        f"{', '.join(str(t) for t in LEAF_TYPES)})")
    return native


# ------------------------------------------------------------------------------------- writer


class FlatTree:
    """A TTree of flat numeric branches written into an uproot ``WritableDirectory``.

    ``branch_types`` maps branch names (dict order = branch order) to numpy dtypes (see
    :data:`LEAF_TYPES`: float64 ``/D``, float32 ``/F``, int32 ``/I``, int64 ``/L``, bool ``/O``,
    ...). The tree is written (with zero entries) when the object is created; every
    :meth:`extend` adds one basket per branch. ``name`` may contain ``/`` to create the tree in a
    sub-directory (created if needed). ``title`` defaults to the name, as Combine's trees.

    The object implements the ``extend`` protocol of uproot's ``WritableTree`` that
    :class:`pycombine.outputs.rootfile.TreeWriter` relies on.
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
        dtypes = {_check_name(k): _leaf_dtype(k, v) for k, v in branch_types.items()}
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
        self._name = name
        self._title = name if title is None else str(title)
        self._dtypes = dtypes
        self._names = list(self._dtypes)
        self._resize_factor = float(resize_factor)

        nbranches = len(self._names)
        self._capacity = int(initial_basket_capacity)
        self._num_entries = 0
        self._num_baskets = 0
        self._tot_bytes = np.zeros(nbranches, np.int64)  # per branch: sum of fKeylen + fObjlen
        self._zip_bytes = np.zeros(nbranches, np.int64)  # per branch: sum of fNbytes
        self._basket_bytes = np.zeros((nbranches, self._capacity), np.int32)
        self._basket_seek = np.zeros((nbranches, self._capacity), np.int64)
        self._basket_entry = np.zeros(self._capacity, np.int64)  # the same for every branch

        # content-independent parts of every branch record, built once
        parts = [_branch_parts(n, self._dtypes[n]) for n in self._names]
        self._heads = [p[0] for p in parts]
        self._middles = [p[1] for p in parts]
        self._basket_names = [_tstring(_encode(n)) for n in self._names]

        self._key: Any = None
        self._blob = bytearray()
        _register_streamers(directory)
        self._write_anew()

    # ------------------------------------------------------------------ properties

    @property
    def name(self) -> str:
        return self._name

    @property
    def title(self) -> str:
        return self._title

    @property
    def branch_types(self) -> dict[str, np.dtype]:
        """Branch name -> numpy dtype, in branch order."""
        return dict(self._dtypes)

    @property
    def num_entries(self) -> int:
        return self._num_entries

    @property
    def num_baskets(self) -> int:
        """Baskets per branch (every extend writes one basket in every branch)."""
        return self._num_baskets

    @property
    def basket_capacity(self) -> int:
        """Current fMaxBaskets (length of the fBasket* arrays)."""
        return self._capacity

    @property
    def key(self) -> Any:
        """uproot's cascading Key of the tree record."""
        return self._key

    # ------------------------------------------------------------------ serialization

    def _key_length(self) -> int:
        return _KEY_BIG.size + len(_tstring(b"TTree")) + len(_tstring(_encode(self._name))) + len(
            _tstring(_encode(self._title))
        )

    def _build(self) -> None:
        """Serialize the whole TTree record into ``self._blob`` and record patch offsets."""
        cap = self._capacity
        nbranches = len(self._names)
        entries, nbaskets = self._num_entries, self._num_baskets
        fields1 = _TBRANCH_FIELDS1.pack(0, _BASKET_SIZE, 0, nbaskets, entries)
        bb_all = self._basket_bytes.astype(">i4").tobytes()
        bs_all = self._basket_seek.astype(">i8").tobytes()
        be = b"\x01" + self._basket_entry.astype(">i8").tobytes() + b"\x01"
        nbb, nbs = 4 * cap, 8 * cap

        # fields1 offset, fields2 offset, leaf offset, fBasketBytes offset: relative to the record
        rel = np.empty((nbranches, 4), np.int64)
        lengths = np.empty(nbranches, np.int64)
        records = []
        for i in range(nbranches):
            head, middle = self._heads[i], self._middles[i]
            body = b"".join(
                (
                    head,
                    fields1,
                    _TIOFEATURES,
                    _TBRANCH_FIELDS2.pack(0, cap, 0, entries, 0, int(self._tot_bytes[i]), int(self._zip_bytes[i])),
                    middle,
                    b"\x01",
                    bb_all[i * nbb : (i + 1) * nbb],
                    be,
                    bs_all[i * nbs : (i + 1) * nbs],
                    b"\x00",  # fFileName ""
                )
            )
            tbranch = _counted(13, body)
            record = _U32.pack((len(tbranch) + len(_TBRANCH_CLASS)) | _BYTE_COUNT_MASK) + _TBRANCH_CLASS + tbranch
            f1 = _BRANCH_HEAD + len(head)
            f2 = f1 + _FIELDS1_TO_FIELDS2
            # the record ends with 1 fBasketBytes 1 fBasketEntry 1 fBasketSeek fFileName
            rel[i] = (f1, f2, f2 + _FIELDS2_TO_LEAF, len(record) - 3 - nbb - 8 * cap - nbs)
            lengths[i] = len(record)
            records.append(record)

        tnamed = _counted(1, _TOBJECT_TREE + _tstring(_encode(self._name)) + _tstring(_encode(self._title)))
        prefix = b"".join((tnamed, _TATTLINE, _TATTFILL, _TATTMARKER))
        fields_offset = 6 + len(prefix)
        branch_list_head = _TOBJECT_BRANCH_LIST + b"\x00" + struct.pack(">ii", nbranches, 0)
        # absolute (in the record) start of every branch record
        first = fields_offset + _TTREE_FIELDS.size + 2 + len(_TIOFEATURES) + 6 + len(branch_list_head)
        starts = np.empty(nbranches, np.int64)
        starts[0] = first
        np.cumsum(lengths[:-1], out=starts[1:])
        starts[1:] += first
        branches_end = first + int(lengths.sum())

        # TTree::fLeaves: references to the leaves, i.e. their offsets in the key buffer + kMapOffset
        refs = (starts + rel[:, 2] + self._key_length() + _MAP_OFFSET).astype(">u4")
        if branches_end + self._key_length() + 64 + 4 * nbranches > _MAX_BYTE_COUNT:
            raise ValueError(f"tree {self._name!r}: {nbranches} branches exceed ROOT's 1 GiB record limit")
        leaf_list = _counted(3, _TOBJECT_PLAIN + b"\x00" + struct.pack(">ii", nbranches, 0) + refs.tobytes())

        branch_list_count = branches_end - (first - len(branch_list_head) - 6) - 4
        tail = leaf_list + _TTREE_TAIL
        total = branches_end + len(tail)
        blob = b"".join(
            (
                _COUNT_VERSION.pack((total - 4) | _BYTE_COUNT_MASK, 20),
                prefix,
                self._tree_fields(),
                b"\x00\x00",  # null fClusterRangeEnd, fClusterSize
                _TIOFEATURES,
                _COUNT_VERSION.pack(branch_list_count | _BYTE_COUNT_MASK, 3),
                branch_list_head,
                *records,
                tail,
            )
        )
        assert len(blob) == total
        self._blob = bytearray(blob)
        self._fields_offset = fields_offset
        self._offsets = rel + starts[:, None]  # fields1, fields2, leaf, fBasketBytes: in the record

    def _tree_fields(self) -> bytes:
        d = _TTREE_DEFAULTS
        return _TTREE_FIELDS.pack(
            self._num_entries,
            int(self._tot_bytes.sum()),
            int(self._zip_bytes.sum()),
            d["fSavedBytes"],
            d["fFlushedBytes"],
            d["fWeight"],
            d["fTimerInterval"],
            d["fScanField"],
            d["fUpdate"],
            d["fDefaultEntryOffsetLen"],
            d["fNClusterRange"],
            d["fMaxEntries"],
            d["fMaxEntryLoop"],
            d["fMaxVirtualSize"],
            d["fAutoSave"],
            d["fAutoFlush"],
            d["fEstimate"],
        )

    def _write_anew(self) -> None:
        """Write the whole record as a new key (replacing and freeing the previous one, if any)."""
        self._build()
        cascading = self._directory._cascading
        sink = self._directory.file.sink
        old = self._key
        blob = bytes(self._blob)
        self._key = cascading.add_object(sink, "TTree", self._name, self._title, blob, len(blob), replaces=old, big=True)
        if self._key.num_bytes != self._key_length():  # the leaf references assume this length
            raise RuntimeError(f"unexpected TTree key length {self._key.num_bytes} != {self._key_length()}")
        if old is not None:
            freesegments = cascading.freesegments
            freesegments.release(old.seek_location, old.seek_location + old.num_bytes + old.compressed_bytes)
            freesegments.write(sink)
            sink.set_file_length(freesegments.fileheader.end)
        sink.flush()

    # ------------------------------------------------------------------ filling

    def extend(self, data: Mapping[str, Any]) -> None:
        """Append entries: ``data`` maps every branch name to a 1D array of the same length.

        Values are cast to the branch dtypes with numpy ``same_kind`` casting. Nothing is written
        for zero entries (ROOT writes no empty baskets). Everything is validated before anything
        is written.
        """
        if not isinstance(data, Mapping):
            raise TypeError("'extend' requires a mapping from branch name to arrays")
        if data.keys() != self._dtypes.keys():
            missing = [k for k in self._names if k not in data]
            extra = [k for k in data if k not in self._dtypes]
            raise ValueError(f"tree columns do not match its branches (missing {missing}, unexpected {extra})")
        payloads = []
        length = None
        for name in self._names:
            arr = np.asarray(data[name])
            if arr.ndim == 0:
                arr = arr.reshape(1)
            if arr.ndim != 1:
                raise ValueError(f"column {name!r} must be one-dimensional, got shape {arr.shape}")
            if length is None:
                length = len(arr)
            elif len(arr) != length:
                raise ValueError(f"column {name!r} has {len(arr)} entries, expected {length}")
            big_endian = self._dtypes[name].newbyteorder(">")
            payloads.append(arr.astype(big_endian, casting="same_kind", copy=False).tobytes())
        if not length:
            return
        if self._directory.file.sink.closed:
            raise ValueError("cannot extend a TTree in a closed file")

        k = self._num_baskets
        grow = k + 1 >= self._capacity  # keep room for the fencepost fBasketEntry[fWriteBasket]
        seeks, nbytes, objbytes = self._write_baskets(payloads, length)

        if grow:
            new_capacity = max(k + 2, math.ceil(self._capacity * self._resize_factor))
            pad = new_capacity - self._capacity
            self._basket_bytes = np.pad(self._basket_bytes, ((0, 0), (0, pad)))
            self._basket_seek = np.pad(self._basket_seek, ((0, 0), (0, pad)))
            self._basket_entry = np.pad(self._basket_entry, (0, pad))
            self._capacity = new_capacity
        self._basket_bytes[:, k] = nbytes
        self._basket_seek[:, k] = seeks
        self._basket_entry[k + 1] = self._num_entries + length
        self._tot_bytes += objbytes
        self._zip_bytes += nbytes
        self._num_entries += length
        self._num_baskets += 1

        if grow:
            self._write_anew()
        else:
            self._patch(k)

    def _write_baskets(self, payloads: list[bytes], length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Write one basket per branch in one allocated block; return seeks, fNbytes, fKeylen+fObjlen."""
        import uproot.compression

        cascading = self._directory._cascading
        sink = self._directory.file.sink
        freesegments = cascading.freesegments
        compression = freesegments.fileheader.compression
        tree_title = _tstring(_encode(self._name))
        fixed = _KEY_BIG.size + len(_tstring(b"TBasket")) + len(tree_title) + _BASKET_HEADER.size + 1

        nbranches = len(payloads)
        keylens = np.empty(nbranches, np.int64)
        objlens = np.empty(nbranches, np.int64)
        nbytes = np.empty(nbranches, np.int64)
        stored = []
        for i, raw in enumerate(payloads):
            # ROOT's compression headers alone take 9 bytes plus at least 8 for any algorithm, so
            # buffers up to 17 bytes are always stored as they are (as compress() would decide)
            data = raw if len(raw) <= 17 else uproot.compression.compress(raw, compression)
            keylen = fixed + len(self._basket_names[i])
            keylens[i] = keylen
            objlens[i] = len(raw)
            nbytes[i] = keylen + len(data)
            if max(len(raw), nbytes[i]) > _MAX_BASKET_BYTES or keylen > 0x7FFF:
                raise ValueError(f"branch {self._names[i]!r}: basket too large for ROOT ({len(raw)} bytes)")
            stored.append(data)

        total = int(nbytes.sum())
        base = freesegments.allocate(total, dry_run=False)
        seeks = np.empty(nbranches, np.int64)
        seeks[0] = base
        np.cumsum(nbytes[:-1], out=seeks[1:])
        seeks[1:] += base

        datime = _datime()
        pdir = cascading.key.location  # fSeekPdir: the directory's key, as ROOT's fSeekDir
        pieces = []
        for i in range(nbranches):
            keylen = int(keylens[i])
            objlen = int(objlens[i])
            itemsize = self._dtypes[self._names[i]].itemsize
            pieces.append(_KEY_BIG.pack(int(nbytes[i]), 1004, objlen, datime, keylen, 0, int(seeks[i]), pdir))
            pieces.append(b"\x07TBasket")
            pieces.append(self._basket_names[i])
            pieces.append(tree_title)
            pieces.append(_BASKET_HEADER.pack(3, _BASKET_SIZE, itemsize, length, keylen + objlen))
            pieces.append(b"\x00")
            pieces.append(stored[i])
        block = b"".join(pieces)
        assert len(block) == total
        sink.write(base, block)
        freesegments.write(sink)
        sink.set_file_length(freesegments.fileheader.end)
        return seeks, nbytes, keylens + objlens

    def _patch(self, k: int) -> None:
        """Update the record in place after basket ``k`` was added (capacity unchanged)."""
        self._blob[self._fields_offset : self._fields_offset + _TTREE_FIELDS.size] = self._tree_fields()
        buf = np.frombuffer(self._blob, dtype=np.uint8)
        f1, f2, bb = self._offsets[:, 0], self._offsets[:, 1], self._offsets[:, 3]
        be = bb + 4 * self._capacity + 1
        bs = be + 8 * self._capacity + 1
        # fWriteBasket, fEntryNumber
        _scatter(buf, f1 + 12, np.frombuffer(struct.pack(">iq", self._num_baskets, self._num_entries), np.uint8))
        # fEntries, fFirstEntry, fTotBytes, fZipBytes
        rows = np.empty(len(self._names), dtype=[("e", ">i8"), ("f", ">i8"), ("t", ">i8"), ("z", ">i8")])
        rows["e"] = self._num_entries
        rows["f"] = 0
        rows["t"] = self._tot_bytes
        rows["z"] = self._zip_bytes
        _scatter(buf, f2 + 12, rows.view(np.uint8).reshape(len(rows), 32))
        _scatter(buf, bb + 4 * k, _as_bytes_rows(self._basket_bytes[:, k], ">i4"))
        _scatter(buf, be + 8 * (k + 1), np.frombuffer(struct.pack(">q", self._num_entries), np.uint8))
        _scatter(buf, bs + 8 * k, _as_bytes_rows(self._basket_seek[:, k], ">i8"))
        del buf  # release the export of the bytearray

        sink = self._directory.file.sink
        base = self._key.seek_location + self._key.num_bytes
        ranges = [(self._fields_offset, _TTREE_FIELDS.size)]
        for i in range(len(self._names)):
            ranges.append((int(f1[i]) + 12, int(f2[i]) + 44 - int(f1[i]) - 12))
            ranges.append((int(bb[i]) + 4 * k, 4))
            ranges.append((int(be[i]) + 8 * (k + 1), 8))
            ranges.append((int(bs[i]) + 8 * k, 8))
        merged = _merge_ranges(ranges, gap=512)
        if len(merged) * 4096 >= len(self._blob):
            sink.write(base, bytes(self._blob))  # cheaper as one write
        else:
            view = memoryview(self._blob)
            for start, size in merged:
                sink.write(base + start, view[start : start + size])
            view.release()
        sink.flush()


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


def write_flat_tree(
    target: Any,
    name: str,
    columns: Mapping[str, np.ndarray],
    title: str | None = None,
) -> Any:
    """Write a flat TTree whose branches are ``columns`` (dict order = branch order).

    ``target`` is an uproot ``WritableDirectory`` (e.g. what ``uproot.recreate`` returns) or a
    :class:`pycombine.outputs.rootfile.RootFileWriter`; ``name`` may be a path ``dir/sub/tree``
    (directories are created). Each column must be a 1D numpy array (a numpy scalar counts as
    one entry) whose dtype decides the leaf type (:data:`LEAF_TYPES`); all columns have the same
    length, possibly zero (an empty tree with typed branches). ``title`` defaults to the tree
    name. Returns the :class:`FlatTree` (for a RootFileWriter: a ``TreeWriter`` around it, as
    ``RootFileWriter.tree`` does), which can be extended further.
    """
    from .rootfile import RootFileWriter

    if isinstance(target, RootFileWriter):
        return target.tree(name, columns, title=title)

    if not isinstance(columns, Mapping) or len(columns) == 0:
        raise ValueError(f"tree {name!r}: need a non-empty mapping of branch name -> numpy array")
    arrays = {}
    for k, v in columns.items():
        _check_name(k)
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
