"""The bytes of a flat TTree: the TTree object record and its TBasket keys (no file I/O here).

:class:`TreeRecord` holds the serialized ``TTree`` object of a tree with flat numeric branches
(one scalar per branch and entry) together with the basket bookkeeping it stores. It is built in
one pass: every branch record is built on its own (its bytes depend only on its name, type and
basket bookkeeping), and the few absolute positions ROOT needs (the references from
``TTree::fLeaves`` to the leaves inside the branches) come from one cumulative sum. After a
basket per branch is added, :meth:`TreeRecord.patch` updates the record in place and reports the
byte ranges that changed. Where the bytes go in a file is :mod:`.flat_tree`'s business.

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
``fBasketEntry[fWriteBasket] = fEntries``; growing changes the record's length, so the record
must then be rebuilt (:meth:`TreeRecord.build`) and written elsewhere.
"""

from __future__ import annotations

import datetime
import math
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from .byte_rows import differing, interleave, place, put, rows_of

__all__ = ["LEAF_TYPES", "MAX_BASKET_BYTES", "TreeRecord", "basket_block", "basket_key_lengths", "column_bytes",
           "check_branch_name", "leaf_dtype", "tstring"]

# ------------------------------------------------------------------------------ ROOT constants

_BYTE_COUNT_MASK = 0x40000000  # kByteCountMask: marks a 4-byte byte count
_NEW_CLASS_TAG = 0xFFFFFFFF  # kNewClassTag: the class name follows
_MAP_OFFSET = 2  # kMapOffset: object references are buffer offsets + 2
_MAX_BYTE_COUNT = 0x3FFFFFFE  # kMaxMapCount: largest byte count ROOT accepts
_BASKET_SIZE = 32000  # TBranch::fBasketSize / TBasket::fBufferSize default
MAX_BASKET_BYTES = 2**31 - 1  # fNbytes/fObjlen are Int_t

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

# offsets inside one serialized branch (the object pointer in TTree::fBranches), see TreeRecord.build
_BRANCH_HEAD = 4 + len(_TBRANCH_CLASS) + 6  # byte count, class tag+name, TBranch [n|13]
_FIELDS1_TO_FIELDS2 = _TBRANCH_FIELDS1.size + len(_TIOFEATURES)
_FIELDS2_TO_LEAF = _TBRANCH_FIELDS2.size + len(_EMPTY_TOBJARRAY) + 6 + len(_TOBJECT_PLAIN) + 1 + 8


# ------------------------------------------------------------------------------------ helpers


def tstring(data: bytes) -> bytes:
    """ROOT TString: 1-byte length (255 = a 4-byte length follows), then the bytes."""
    if len(data) < 255:
        return bytes((len(data),)) + data
    return b"\xff" + _U32.pack(len(data)) + data


def encode(text: str) -> bytes:
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
    sname = tstring(name)
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


def _branch_record(bname: bytes, dtype: np.dtype, fields1: bytes, be: bytes, entries: int, cap: int,
                   tot_bytes: int, zip_bytes: int, bb: bytes, bs: bytes) -> tuple[bytes, tuple[int, int, int, int]]:
    """One branch record (byte count, class tag, TBranch) and its fields1, fields2, leaf and
    fBasketBytes offsets; ``bb``/``bs`` its fBasketBytes/fBasketSeek arrays as bytes."""
    letter, _ = LEAF_TYPES[dtype]
    head = _counted(1, _TOBJECT_BRANCH + tstring(bname) + tstring(bname + b"/" + letter.encode())) + _TATTFILL
    leaf = _leaf_record(bname, dtype)
    leaves = _counted(3, _TOBJECT_PLAIN + b"\x00" + struct.pack(">ii", 1, 0) + leaf)
    body = b"".join((
        head,
        fields1,
        _TIOFEATURES,
        _TBRANCH_FIELDS2.pack(0, cap, 0, entries, 0, tot_bytes, zip_bytes),
        _EMPTY_TOBJARRAY, leaves, _EMPTY_TOBJARRAY,
        b"\x01", bb, be, bs,
        b"\x00",  # fFileName ""
    ))
    tbranch = _counted(13, body)
    record = _U32.pack((len(tbranch) + len(_TBRANCH_CLASS)) | _BYTE_COUNT_MASK) + _TBRANCH_CLASS + tbranch
    f1 = _BRANCH_HEAD + len(head)
    f2 = f1 + _FIELDS1_TO_FIELDS2
    # the record ends with 1 fBasketBytes 1 fBasketEntry 1 fBasketSeek fFileName
    return record, (f1, f2, f2 + _FIELDS2_TO_LEAF, len(record) - 3 - len(bb) - 8 * cap - len(bs))


def _scatter(buf: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> None:
    """buf[offsets[i] + j] = rows[i, j] (rows may be one row broadcast to every offset)."""
    width = rows.shape[-1]
    buf[offsets[:, None] + np.arange(width)] = rows


def _as_bytes_rows(values: np.ndarray, dtype: str) -> np.ndarray:
    arr = np.ascontiguousarray(values, dtype=dtype)
    return arr.view(np.uint8).reshape(len(arr), arr.dtype.itemsize)


def check_branch_name(name: Any) -> str:
    """``name`` if ROOT can address it as a branch, else ValueError."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"branch names must be non-empty strings, got {name!r}")
    if "/" in name or ";" in name or "[" in name:
        raise ValueError(f"branch name {name!r} contains a character ROOT reserves ('/', ';' or '[')")
    return name


def leaf_dtype(name: str, dtype: Any) -> np.dtype:
    """The native-order dtype of branch ``name`` if it has a flat leaf type, else TypeError."""
    dt = np.dtype(dtype)
    native = dt.newbyteorder("=") if dt.byteorder not in ("=", "|") else dt
    if native not in LEAF_TYPES:
        raise TypeError(f"branch {name!r}: dtype {dt} has no flat ROOT leaf type (supported: "
                        f"{', '.join(str(t) for t in LEAF_TYPES)})")
    return native


# ------------------------------------------------------------------------------------- baskets


def basket_key_lengths(basket_names: list[bytes], tree_name: str) -> np.ndarray:
    """fKeylen of each branch's TBasket key (``basket_names`` are the branch names as TStrings)."""
    fixed = _KEY_BIG.size + len(tstring(b"TBasket")) + len(tstring(encode(tree_name))) + _BASKET_HEADER.size + 1
    return np.array([fixed + len(b) for b in basket_names], dtype=np.int64)


def basket_block(
    basket_names: list[bytes],
    tree_name: str,
    itemsizes: list[int],
    length: int,
    stored: list[bytes],
    keylens: np.ndarray,
    objlens: np.ndarray,
    nbytes: np.ndarray,
    seeks: np.ndarray,
    pdir: int,
) -> bytes:
    """One TBasket key per branch, back to back: key header, TBasket header, ``stored`` payload.

    ``length`` entries per basket, ``objlens`` the uncompressed and ``stored`` the written payloads,
    ``seeks`` each key's position in the file, ``pdir`` the fSeekPdir of the directory's key.
    """
    tree_title = tstring(encode(tree_name))
    datime = _datime()
    # keys of equal name length, type and stored size differ only in fSeekKey, the name and the
    # payload: one template per group, filled in numpy (a large tree has ~10^5 branches)
    members: dict[tuple[int, int, int], list[int]] = {}
    for i in range(len(basket_names)):
        members.setdefault((len(basket_names[i]), itemsizes[i], len(stored[i])), []).append(i)
    blocks, groups = [], []
    for (name_size, itemsize, size), group in members.items():
        i = group[0]
        keylen, objlen = int(keylens[i]), int(objlens[i])
        head = _KEY_BIG.pack(int(nbytes[i]), 1004, objlen, datime, keylen, 0, 0, pdir) + b"\x07TBasket"
        template = b"".join((head, bytes(name_size), tree_title,
                             _BASKET_HEADER.pack(3, _BASKET_SIZE, itemsize, length, keylen + objlen), b"\x00",
                             bytes(size)))
        idx = np.asarray(group)
        rows = rows_of(template, idx.size)
        put(rows, 18, seeks[idx], ">i8")  # fSeekKey
        rows[:, len(head) : len(head) + name_size] = np.frombuffer(
            b"".join(basket_names[k] for k in group), np.uint8).reshape(idx.size, name_size)
        if size:
            rows[:, len(template) - size :] = np.frombuffer(b"".join(stored[k] for k in group),
                                                            np.uint8).reshape(idx.size, size)
        blocks.append(rows)
        groups.append(idx)
    return interleave(blocks, groups, len(basket_names)).tobytes()


def column_bytes(record: TreeRecord, data: Mapping[str, Any]) -> tuple[int, list[bytes]]:
    """(entries, big-endian bytes of each branch) of one ``extend`` call on a tree of ``record``.

    ``data`` maps every branch name to a 1D array of the same length; values are cast with numpy
    ``same_kind`` casting, one cast per branch type (a fitDiagnostics tree of a large model has
    ~10^5 branches). Everything is validated before anything is returned.
    """
    dtypes = record.dtypes
    if not isinstance(data, Mapping):
        raise TypeError("'extend' requires a mapping from branch name to arrays")
    if data.keys() != dtypes.keys():
        missing = [k for k in record.names if k not in data]
        extra = [k for k in data if k not in dtypes]
        raise ValueError(f"tree columns do not match its branches (missing {missing}, unexpected {extra})")
    arrays = []
    length = None
    for name in record.names:
        arr = data[name]
        if type(arr) is not np.ndarray or arr.ndim != 1:
            arr = np.asarray(arr)
            if arr.ndim == 0:
                arr = arr.reshape(1)
            if arr.ndim != 1:
                raise ValueError(f"column {name!r} must be one-dimensional, got shape {arr.shape}")
        if length is None:
            length = arr.shape[0]
        elif arr.shape[0] != length:
            raise ValueError(f"column {name!r} has {arr.shape[0]} entries, expected {length}")
        arrays.append(arr)
    raws: list[bytes] = [b""] * len(arrays)
    if not length:
        return 0, raws
    by_type: dict[np.dtype, list[int]] = {}
    for i, name in enumerate(record.names):
        by_type.setdefault(dtypes[name], []).append(i)
    for dtype, idx in by_type.items():
        big_endian = dtype.newbyteorder(">")
        try:
            block = np.concatenate([arrays[i] for i in idx], dtype=big_endian, casting="same_kind")
        except TypeError:  # name the column, as a cast column by column would
            for i in idx:
                arrays[i].astype(big_endian, casting="same_kind")
            raise  # pragma: no cover - one of the columns above failed first
        flat = block.tobytes()
        width = length * dtype.itemsize
        for k, i in enumerate(idx):
            raws[i] = flat[k * width : (k + 1) * width]
    return length, raws


# ------------------------------------------------------------------------------------- the record


class TreeRecord:
    """The serialized TTree object of flat branches ``branch_types`` and its basket bookkeeping.

    ``blob`` holds the record (the payload of the tree's TKey, uncompressed) once :meth:`build`
    ran; :meth:`add_baskets` books one basket per branch, after which either :meth:`patch` (same
    capacity) or :meth:`build` (the basket arrays grew) brings ``blob`` up to date.
    """

    def __init__(
        self,
        name: str,
        title: str,
        branch_types: Mapping[str, np.dtype],
        *,
        initial_basket_capacity: int = 10,
        resize_factor: float = 10.0,
    ):
        self.name = name
        self.title = title
        self.dtypes = dict(branch_types)
        self.names = list(self.dtypes)
        self._resize_factor = float(resize_factor)

        nbranches = len(self.names)
        self.capacity = int(initial_basket_capacity)
        self.num_entries = 0
        self.num_baskets = 0
        self.tot_bytes = np.zeros(nbranches, np.int64)  # per branch: sum of fKeylen + fObjlen
        self.zip_bytes = np.zeros(nbranches, np.int64)  # per branch: sum of fNbytes
        self.basket_bytes = np.zeros((nbranches, self.capacity), np.int32)
        self.basket_seek = np.zeros((nbranches, self.capacity), np.int64)
        self.basket_entry = np.zeros(self.capacity, np.int64)  # the same for every branch

        self._encoded = [encode(n) for n in self.names]
        #: the branch names as TStrings (they also name the baskets)
        self.basket_names = [tstring(n) for n in self._encoded]

        self.blob = bytearray()
        self.fields_offset = 0
        self._offsets = np.zeros((nbranches, 4), np.int64)

    @property
    def key_length(self) -> int:
        """fKeylen of the tree's TKey (64-bit seeks): the leaf references depend on it."""
        return _KEY_BIG.size + len(tstring(b"TTree")) + len(tstring(encode(self.name))) + len(
            tstring(encode(self.title))
        )

    def build(self) -> None:
        """Serialize the whole TTree record into ``self.blob`` and record patch offsets."""
        nbranches = len(self.names)
        entries, nbaskets = self.num_entries, self.num_baskets
        fields1 = _TBRANCH_FIELDS1.pack(0, _BASKET_SIZE, 0, nbaskets, entries)
        be = b"\x01" + self.basket_entry.astype(">i8").tobytes() + b"\x01"

        groups, rel, lengths = self._branch_groups(fields1, be)
        tnamed = _counted(1, _TOBJECT_TREE + tstring(encode(self.name)) + tstring(encode(self.title)))
        prefix = b"".join((tnamed, _TATTLINE, _TATTFILL, _TATTMARKER))
        fields_offset = 6 + len(prefix)
        branch_list_head = _TOBJECT_BRANCH_LIST + b"\x00" + struct.pack(">ii", nbranches, 0)
        # absolute (in the record) start of every branch record
        first = fields_offset + _TTREE_FIELDS.size + 2 + len(_TIOFEATURES) + 6 + len(branch_list_head)
        starts = np.empty(nbranches, np.int64)
        if nbranches:  # (a tree without branches: ROOT writes one for Fill() without branches)
            starts[0] = first
            np.cumsum(lengths[:-1], out=starts[1:])
            starts[1:] += first
        branches_end = first + int(lengths.sum())

        # TTree::fLeaves: references to the leaves, i.e. their offsets in the key buffer + kMapOffset
        refs = (starts + rel[:, 2] + self.key_length + _MAP_OFFSET).astype(">u4")
        if branches_end + self.key_length + 64 + 4 * nbranches > _MAX_BYTE_COUNT:
            raise ValueError(f"tree {self.name!r}: {nbranches} branches exceed ROOT's 1 GiB record limit")
        leaf_list = _counted(3, _TOBJECT_PLAIN + b"\x00" + struct.pack(">ii", nbranches, 0) + refs.tobytes())

        branch_list_count = branches_end - (first - len(branch_list_head) - 6) - 4
        tail = leaf_list + _TTREE_TAIL
        total = branches_end + len(tail)
        head = b"".join(
            (
                _COUNT_VERSION.pack((total - 4) | _BYTE_COUNT_MASK, 20),
                prefix,
                self._tree_fields(),
                b"\x00\x00",  # null fClusterRangeEnd, fClusterSize
                _TIOFEATURES,
                _COUNT_VERSION.pack(branch_list_count | _BYTE_COUNT_MASK, 3),
                branch_list_head,
            )
        )
        assert len(head) == first
        blob = bytearray(total)
        blob[:first] = head
        # every branch record straight into place (a large tree's records are hundreds of MB)
        self._fill_branches(np.frombuffer(blob, np.uint8), starts, groups)
        blob[branches_end:] = tail
        self.blob = blob
        self.fields_offset = fields_offset
        self._offsets = rel + starts[:, None]  # fields1, fields2, leaf, fBasketBytes: in the record

    def _branch_groups(self, fields1: bytes, be: bytes) -> tuple[list[tuple], np.ndarray, np.ndarray]:
        """The branch records' groups, with each record's fields1, fields2, leaf and fBasketBytes
        offsets (relative to its start) and length.

        Branches whose names have the same byte length and the same type have records that differ
        only in the name (four copies) and the basket bookkeeping: each such group is built from
        one template record (:func:`_branch_record`) in numpy (:meth:`_fill_branches`), not branch
        by branch (a Higgs combination's fitDiagnostics trees have ~10^5 branches each). The name
        bytes are where two templates with different dummy names differ.
        """
        cap, nbranches = self.capacity, len(self.names)
        nbb, nbs = 4 * cap, 8 * cap
        members: dict[tuple[np.dtype, int], list[int]] = {}
        for i, n in enumerate(self._encoded):
            members.setdefault((self.dtypes[self.names[i]], len(n)), []).append(i)
        rel = np.empty((nbranches, 4), np.int64)
        lengths = np.zeros(nbranches, np.int64)
        groups = []
        for (dtype, size), group in members.items():
            common = (dtype, fields1, be, self.num_entries, cap, 0, 0, bytes(nbb), bytes(nbs))
            template, offsets = _branch_record(b"a" * size, *common)
            name_at = differing(template, _branch_record(b"b" * size, *common)[0])  # the 4 copies of the name
            idx = np.asarray(group)
            rel[idx] = offsets
            lengths[idx] = len(template)
            groups.append((idx, size, template, name_at, offsets))
        return groups, rel, lengths

    def _fill_branches(self, dest: np.ndarray, starts: np.ndarray, groups: list[tuple]) -> None:
        """Write every group's records at ``starts`` (per branch) of ``dest``."""
        cap = self.capacity
        nbb = 4 * cap
        for idx, size, template, name_at, (_, f2, _, bb) in groups:
            rows = rows_of(template, idx.size)
            names = np.frombuffer(b"".join(self._encoded[i] for i in idx), np.uint8).reshape(idx.size, size)
            rows[:, name_at] = np.tile(names, name_at.size // size)
            put(rows, f2 + 28, self.tot_bytes[idx], ">i8")  # fTotBytes
            put(rows, f2 + 36, self.zip_bytes[idx], ">i8")  # fZipBytes
            put(rows, bb, self.basket_bytes[idx], ">i4")
            put(rows, bb + nbb + 1 + 8 * cap + 1, self.basket_seek[idx], ">i8")
            place(dest, starts, rows, idx)

    def _tree_fields(self) -> bytes:
        d = _TTREE_DEFAULTS
        return _TTREE_FIELDS.pack(
            self.num_entries,
            int(self.tot_bytes.sum()),
            int(self.zip_bytes.sum()),
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

    def add_baskets(self, length: int, seeks: np.ndarray, nbytes: np.ndarray, objbytes: np.ndarray) -> bool:
        """Book one basket per branch of ``length`` entries; True if the basket arrays grew.

        ``seeks``/``nbytes`` are each basket key's position and fNbytes, ``objbytes`` its
        fKeylen + fObjlen. After a growth the record must be rebuilt, otherwise patched.
        """
        k = self.num_baskets
        grow = k + 1 >= self.capacity  # keep room for the fencepost fBasketEntry[fWriteBasket]
        if grow:
            new_capacity = max(k + 2, math.ceil(self.capacity * self._resize_factor))
            pad = new_capacity - self.capacity
            self.basket_bytes = np.pad(self.basket_bytes, ((0, 0), (0, pad)))
            self.basket_seek = np.pad(self.basket_seek, ((0, 0), (0, pad)))
            self.basket_entry = np.pad(self.basket_entry, (0, pad))
            self.capacity = new_capacity
        self.basket_bytes[:, k] = nbytes
        self.basket_seek[:, k] = seeks
        self.basket_entry[k + 1] = self.num_entries + length
        self.tot_bytes += objbytes
        self.zip_bytes += nbytes
        self.num_entries += length
        self.num_baskets += 1
        return grow

    def patch(self) -> list[tuple[int, int]]:
        """Update ``blob`` in place for the last basket booked (capacity unchanged).

        Returns the (start, size) ranges of ``blob`` that changed.
        """
        k = self.num_baskets - 1
        self.blob[self.fields_offset : self.fields_offset + _TTREE_FIELDS.size] = self._tree_fields()
        buf = np.frombuffer(self.blob, dtype=np.uint8)
        f1, f2, bb = self._offsets[:, 0], self._offsets[:, 1], self._offsets[:, 3]
        be = bb + 4 * self.capacity + 1
        bs = be + 8 * self.capacity + 1
        # fWriteBasket, fEntryNumber
        _scatter(buf, f1 + 12, np.frombuffer(struct.pack(">iq", self.num_baskets, self.num_entries), np.uint8))
        # fEntries, fFirstEntry, fTotBytes, fZipBytes
        rows = np.empty(len(self.names), dtype=[("e", ">i8"), ("f", ">i8"), ("t", ">i8"), ("z", ">i8")])
        rows["e"] = self.num_entries
        rows["f"] = 0
        rows["t"] = self.tot_bytes
        rows["z"] = self.zip_bytes
        _scatter(buf, f2 + 12, rows.view(np.uint8).reshape(len(rows), 32))
        _scatter(buf, bb + 4 * k, _as_bytes_rows(self.basket_bytes[:, k], ">i4"))
        _scatter(buf, be + 8 * (k + 1), np.frombuffer(struct.pack(">q", self.num_entries), np.uint8))
        _scatter(buf, bs + 8 * k, _as_bytes_rows(self.basket_seek[:, k], ">i8"))
        del buf  # release the export of the bytearray

        ranges = [(self.fields_offset, _TTREE_FIELDS.size)]
        for i in range(len(self.names)):
            ranges.append((int(f1[i]) + 12, int(f2[i]) + 44 - int(f1[i]) - 12))
            ranges.append((int(bb[i]) + 4 * k, 4))
            ranges.append((int(be[i]) + 8 * (k + 1), 8))
            ranges.append((int(bs[i]) + 8 * k, 8))
        return ranges
