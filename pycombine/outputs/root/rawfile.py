"""A ROOT file of flat TTrees in TDirectories, written without uproot: :class:`TreeFileWriter`.

Why this module exists: every command writes a ``higgsCombine*.root`` file that holds only the
``limit`` tree and a ``toys`` directory (sometimes with more flat trees in it). Importing uproot
(with awkward, and through it fsspec and pyarrow) costs about 0.3 s, more than the whole fit of a
counting card; writing these few hundred bytes does not need it. The tree records and their baskets
are :mod:`.tree_record`'s (the same bytes :mod:`.flat_tree` writes through uproot); this module
adds the file-level plumbing uproot provides there, laid out once when the file is closed:

* the file header (ROOT 6.24's small format, ``fVersion`` 62400 and ``fCompress`` 101 = ZLIB
  level 1, as uproot's ``recreate`` writes them), the top directory (``TFile`` key, name, title,
  ``TDirectory`` v5 header), the ``StreamerInfo`` TList (uncompressed, uproot's records for flat
  trees: :mod:`.tree_streamers`), sub-directories (``TDirectory`` key and header), one key list
  per directory and the free-segments record (no free segment: nothing is ever rewritten);
* baskets compressed as uproot's ``ZLIB(1)`` does (ROOT's ``ZL`` blocks of at most 2**24 - 1
  bytes, stored raw when compression would not shrink them), one basket per branch and
  :meth:`RawTree.extend`, exactly as :class:`.flat_tree.FlatTree` writes them.

The layout (what comes where) differs from uproot's, the content does not: uproot, ROOT and hadd
read the same trees, branches, types, titles and values (``tests/test_raw_root_writer.py``).
Like :class:`.file.RootFileWriter` the file is written to a hidden temporary file in the
destination directory and renamed over the final name only when complete.

Typical use::

    with TreeFileWriter("higgsCombineTest.AsymptoticLimits.mH120.root", fsync=False) as out:
        out.tree("limit", {"limit": np.array([1.5]), "iToy": np.array([0], np.int32)})
        out.mkdir("toys")
"""

from __future__ import annotations

import os
import struct
import uuid
import zlib
from collections.abc import Mapping
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from .staging import BACKGROUND_ABOVE, FileSink, RawTree, StagedObject
from .tree_record import _datime, basket_block, basket_key_lengths, encode, tstring
from .zlib_blocks import root_zlib

__all__ = ["RawTree", "TreeFileWriter", "root_zlib"]

_FILE_VERSION = 62400  # ROOT 6.24/00, as uproot declares
_BEGIN = 100  # fBEGIN: the top directory's key
_COMPRESS = 101  # fCompress: ZLIB (1) at level 1, uproot's default
_START_BIG_FILE = 2000000000  # kStartBigFile: beyond it seeks need 64 bits (never here)
_FILE_HEADER = struct.Struct(">4siiiiiiiBiiiH16s")
_KEY_SMALL = struct.Struct(">ihiIhhii")  # TKey v4: fNbytes fVersion fObjlen fDatime fKeylen fCycle fSeekKey fSeekPdir
_KEY_BIG = struct.Struct(">ihiIhhqq")  # TKey v1004: 64-bit fSeekKey, fSeekPdir
_DIRECTORY = struct.Struct(">hIIiiiii")  # TDirectory v5 (small): fVersion fDatimeC fDatimeM fNbytesKeys
#                                          fNbytesName fSeekDir fSeekParent fSeekKeys
_DIRECTORY_BYTES = _DIRECTORY.size + 2 + 16 + 12  # + TUUID (version 1) + room for 64-bit seeks
_FREE = struct.Struct(">HII")  # TFree v1: fFirst fLast
_TLIST_HEADER = struct.Struct(">IHHIIBI")  # byte count, TList v5, TObject v1 (id, bits), fName "", n
_BYTE_COUNT_MASK = 0x40000000
_K_NOT_DELETED = 0x02000000


def _key(big: bool, classname: bytes, name: bytes, title: bytes, objlen: int, stored: int, datime: int,
         cycle: int, seek: int, pdir: int) -> bytes:
    """A TKey header (``stored``: bytes of the payload as written, compressed or not)."""
    fmt = _KEY_BIG if big else _KEY_SMALL
    strings = tstring(classname) + tstring(name) + tstring(title)
    keylen = fmt.size + len(strings)
    return fmt.pack(keylen + stored, 1004 if big else 4, objlen, datime, keylen, cycle, seek, pdir) + strings


def _key_length(big: bool, classname: bytes, name: bytes, title: bytes) -> int:
    return (_KEY_BIG if big else _KEY_SMALL).size + len(tstring(classname) + tstring(name) + tstring(title))


def _streamer_list(extra: Mapping[tuple[str, int], bytes] | None = None) -> bytes:
    """The ``StreamerInfo`` TList: header, uproot's records for flat trees (:mod:`.tree_streamers`),
    then the ``extra`` records of the other objects in the file (those not listed already)."""
    import base64

    from .tree_streamers import STREAMER_CLASSES, STREAMERS_ZLIB_BASE64

    records = zlib.decompress(base64.b64decode(STREAMERS_ZLIB_BASE64))
    known = set(STREAMER_CLASSES)
    more = [blob for key, blob in (extra or {}).items() if key not in known]
    records += b"".join(more)
    size = _TLIST_HEADER.size + len(records)
    header = _TLIST_HEADER.pack((size - 4) | _BYTE_COUNT_MASK, 5, 1, 0, _K_NOT_DELETED, 0,
                                len(STREAMER_CLASSES) + len(more))
    return header + records


def _decoded_records(records, blob_base64: str) -> dict[tuple[str, int], bytes]:
    """{(class, version): record} of a generated streamer module (records of (class, version, size))."""
    import base64

    data = zlib.decompress(base64.b64decode(blob_base64 if isinstance(blob_base64, str) else "".join(blob_base64)))
    out, pos = {}, 0
    for name, version, size in records:
        out[(name, version)] = data[pos:pos + size]
        pos += size
    if pos != len(data):
        raise RuntimeError("corrupt StreamerInfo records")
    return out


def _object_records() -> dict[tuple[str, int], bytes]:
    """The records of histograms and graphs (:mod:`.object_streamers`)."""
    from .object_streamers import RECORDS, RECORDS_ZLIB_BASE64

    return _decoded_records(RECORDS, RECORDS_ZLIB_BASE64)


def _roofit_records() -> dict[tuple[str, int], bytes]:
    """The records of RooFit objects (:mod:`.roofit_streamers`)."""
    from .roofit_streamers import _blobs

    return {(name, version): blob for name, version, blob in _blobs()}


class _Directory:
    def __init__(self, name: str, parent: _Directory | None):
        self.name = name
        self.parent = parent
        self.items: list[RawTree | _Directory | StagedObject] = []
        self.children: dict[str, _Directory] = {}
        self.trees: set[str] = set()
        self.location = 0  # of its key (the top directory: fBEGIN)
        self.entries: list[bytes] = []  # the key headers of its list of keys


class TreeFileWriter:
    """Atomic writer of a ROOT file holding flat TTrees in (nested) TDirectories, and histograms,
    graphs and RooFit objects (:mod:`.objects`, :mod:`.roofit`).

    ``with TreeFileWriter(path) as out: ...`` collects the trees and directories and, when the
    block exits normally, writes the whole file to ``.<name>.tmp<random>.root`` next to ``path``
    and renames it to ``path``; if the block raises, nothing is written. ``fsync`` as for
    :class:`.file.RootFileWriter`. The interface is the part of ``RootFileWriter``'s that
    Combine's ``higgsCombine*.root`` and ``fitDiagnostics*.root`` files need: :meth:`tree`,
    :meth:`branchless_tree`, :meth:`mkdir`, :meth:`th1`, :meth:`th2`, :meth:`graph_asymm_errors`
    and :meth:`roofit`.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True):
        self.path = os.fspath(path)
        self._fsync = fsync
        self._top = _Directory(os.path.basename(self.path), None)
        self._streamers: dict[tuple[str, int], bytes] = {}  # beyond the flat trees'
        self._state = "new"  # new -> open -> committed | aborted
        self._pool = None  # compresses large objects in the background (see StagedObject)
        self._large: list[StagedObject] = []  # large objects whose bytes are not yet in the scratch file
        self._scratch = None  # the scratch file holding them (deleted when closed)

    # ----------------------------------------------------------------------- lifecycle

    def open(self) -> TreeFileWriter:
        if self._state != "new":
            raise RuntimeError(f"TreeFileWriter for {self.path!r} cannot be reopened ({self._state})")
        self._state = "open"
        return self

    def __enter__(self) -> TreeFileWriter:
        return self.open()

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
        return False

    def abort(self) -> None:
        """Discard everything collected; safe to call more than once."""
        if self._state not in ("committed", "aborted"):
            self._state = "aborted"
            self._close_trees(self._top)
        self._close_staging()

    def _background(self):
        """The worker thread that compresses large payloads, started with the first of them."""
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="root-zlib")
        return self._pool

    def _close_staging(self) -> None:
        """Stop the compression thread and delete the scratch file (the file is written or abandoned)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None
        self._large = []

    def commit(self) -> None:
        """Write the file next to its final name and atomically move it there."""
        from .file import _fsync_directory, _fsync_path

        self._require_open()
        self._close_trees(self._top)
        directory, base = os.path.split(os.path.abspath(self.path))
        stem = base[: -len(".root")] if base.endswith(".root") else base
        while True:
            tmp = os.path.join(directory, f".{stem}.tmp{os.urandom(4).hex()}.root")  # (secrets: +10 ms of imports)
            try:
                # O_EXCL: never clobber a concurrent job's file; 0o666: the umask decides, as for ROOT
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:  # pragma: no cover - 32 random bits collided
                continue
            break
        try:
            with os.fdopen(fd, "wb") as f:
                try:
                    self._serialize(FileSink(f), release=True)
                finally:
                    self._close_staging()
            if self._fsync:
                _fsync_path(tmp)
            os.replace(tmp, self.path)
            if self._fsync:
                _fsync_directory(directory)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            self._state = "aborted"
            raise
        self._state = "committed"

    def _require_open(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"TreeFileWriter for {self.path!r} is not open ({self._state})")

    def _close_trees(self, d: _Directory) -> None:
        for item in d.items:
            if isinstance(item, _Directory):
                self._close_trees(item)
            elif isinstance(item, RawTree):
                item.closed = True

    # ----------------------------------------------------------------------- content

    def _directory(self, parts: list[str]) -> _Directory:
        d = self._top
        for p in parts:
            if p in d.trees:
                raise ValueError(f"{p!r} is a tree, not a directory")
            child = d.children.get(p)
            if child is None:
                child = d.children[p] = _Directory(p, d)
                d.items.append(child)
            d = child
        return d

    def mkdir(self, path: str) -> None:
        """Create (possibly nested, possibly empty) directories, e.g. Combine's ``toys``."""
        from .file import split_path

        self._require_open()
        self._directory(split_path(path))

    def tree(self, path: str, columns: Mapping[str, np.ndarray], *, title: str | None = None) -> RawTree:
        """Write a TTree whose branches are ``columns`` (dict order = branch order); as
        :meth:`.file.RootFileWriter.tree` (numpy dtypes decide the ROOT types, title = name by
        default). Returns the tree, whose ``extend`` appends further entries."""
        from .file import _column, split_path

        self._require_open()
        parts = split_path(path)
        if not isinstance(columns, Mapping) or len(columns) == 0:
            raise ValueError(f"tree {path!r}: need a non-empty mapping of branch name -> numpy array")
        arrays = {name: _column(name, value) for name, value in columns.items()}
        lengths = {len(a) for a in arrays.values()}
        if len(lengths) != 1:
            raise ValueError(f"tree {path!r}: columns have different lengths {sorted(lengths)}")
        directory = self._directory(parts[:-1])
        name = parts[-1]
        if name in directory.trees or name in directory.children:
            raise ValueError(f"{path!r} was already written to {self.path!r}")
        tree = RawTree(name, name if title is None else str(title), {n: a.dtype for n, a in arrays.items()})
        tree.extend(arrays)
        directory.trees.add(name)
        directory.items.append(tree)
        return tree

    def _place(self, path: str) -> tuple[_Directory, str]:
        """The directory and name of a new object at ``path`` (refusing a second object of that name)."""
        from .file import split_path

        self._require_open()
        parts = split_path(path)
        directory = self._directory(parts[:-1])
        name = parts[-1]
        if name in directory.trees or name in directory.children:
            raise ValueError(f"{path!r} was already written to {self.path!r}")
        return directory, name

    def _object(self, name: str, classname: str, title: str, payload: bytes) -> StagedObject:
        pool = self._background() if len(payload) > BACKGROUND_ABOVE else None
        return StagedObject(name, classname, title, payload, pool)

    def _add(self, directory: _Directory, obj: StagedObject, records: Mapping[tuple[str, int], bytes]) -> None:
        directory.trees.add(obj.name)
        directory.items.append(obj)
        for key, blob in records.items():
            self._streamers.setdefault(key, blob)
        if obj.objlen > BACKGROUND_ABOVE:
            self._large.append(obj)
        self._spill_ready()

    def _spill_ready(self) -> None:
        """Move the compressed bytes of large objects to the scratch file (a model with thousands
        of parameters has covariance matrices of hundreds of MB, all written at the end)."""
        waiting = []
        for obj in self._large:
            if not obj.ready:
                waiting.append(obj)
                continue
            if self._scratch is None:
                import tempfile

                self._scratch = tempfile.TemporaryFile(dir=os.path.dirname(os.path.abspath(self.path)) or None)
            obj.spill(self._scratch)
        self._large = waiting

    def branchless_tree(self, path: str, entries: int, *, title: str | None = None) -> None:
        """A TTree with ``entries`` entries and no branches (as :meth:`.file.RootFileWriter.branchless_tree`)."""
        directory, name = self._place(path)
        if int(entries) < 0:
            raise ValueError(f"tree {path!r}: negative number of entries {entries}")
        tree = RawTree(name, name if title is None else str(title), {})
        tree.record.num_entries = int(entries)
        tree._entries = int(entries)
        directory.trees.add(name)
        directory.items.append(tree)

    def th1(self, path: str, contents: ArrayLike, errors: ArrayLike | None = None, **kwargs) -> None:
        """A TH1F/TH1D, with the arguments and values of :meth:`.file.RootFileWriter.th1`."""
        from .histograms import th1_spec
        from .objects import histogram_bytes

        directory, name = self._place(path)
        classname, title, payload = histogram_bytes(th1_spec(path, contents, errors, **kwargs), name)
        self._add(directory, self._object(name, classname, title, payload), _object_records())

    def th2(self, path: str, contents: ArrayLike, errors: ArrayLike | None = None, **kwargs) -> None:
        """A TH2F/TH2D, with the arguments and values of :meth:`.file.RootFileWriter.th2`."""
        from .histograms import th2_spec
        from .objects import histogram_bytes

        directory, name = self._place(path)
        classname, title, payload = histogram_bytes(th2_spec(path, contents, errors, **kwargs), name)
        self._add(directory, self._object(name, classname, title, payload), _object_records())

    def graph_asymm_errors(self, path: str, x: ArrayLike, y: ArrayLike, exl: ArrayLike = 0.0, exh: ArrayLike = 0.0,
                           eyl: ArrayLike = 0.0, eyh: ArrayLike = 0.0, *, title: str = "") -> None:
        """A TGraphAsymmErrors named after the last path component (as :meth:`.file.RootFileWriter.graph_asymm_errors`)."""
        from .objects import graph_asymm_errors_bytes

        directory, name = self._place(path)
        xs = np.asarray(x, dtype=np.float64)
        if xs.ndim != 1:
            raise ValueError(f"TGraphAsymmErrors x must be one-dimensional, got shape {xs.shape}")
        n = len(xs)

        def column(v, what: str) -> np.ndarray:
            arr = np.asarray(v, dtype=np.float64)
            arr = np.full(n, float(arr)) if arr.ndim == 0 else arr
            if arr.shape != (n,):
                raise ValueError(f"TGraphAsymmErrors {what} has shape {arr.shape}, expected ({n},)")
            return arr

        cols = [column(v, w) for v, w in ((y, "y"), (exl, "exl"), (exh, "exh"), (eyl, "eyl"), (eyh, "eyh"))]
        classname, title, payload = graph_asymm_errors_bytes(name, str(title), xs, *cols)
        self._add(directory, self._object(name, classname, title, payload), _object_records())

    def roofit(self, path: str, obj) -> None:
        """A RooFitResult or RooArgSet (:mod:`.roofit`), with the ``ProcessID0`` object ROOT writes
        beside the first one (their TRefArray members reference it)."""
        from .roofit import _process_id, new_uuid, serialize
        from .roofit import _Buffer as RooBuffer
        from .roofit import _key_length as roofit_key_length

        directory, name = self._place(path)
        if "ProcessID0" not in self._top.trees:
            title = str(uuid.UUID(bytes=new_uuid()))
            o = RooBuffer(roofit_key_length("TProcessID", "ProcessID0", title))
            _process_id(o, title)
            self._add(self._top, StagedObject("ProcessID0", "TProcessID", title, bytes(o.data)), _roofit_records())
        classname, title, payload = serialize(obj, name)
        self._add(directory, self._object(name, classname, title, payload), _roofit_records())

    # ----------------------------------------------------------------------- serialization

    def to_bytes(self) -> bytes:
        """The whole file: header, top directory, streamers, objects, key lists, free segments."""
        out = bytearray()
        self._serialize(out)
        return bytes(out)

    def _serialize(self, out, release: bool = False):
        """Append the file to ``out`` (a bytearray, or a :class:`FileSink` writing it straight to
        disk: a large file is never whole in memory); with ``release`` each object's and tree's
        bytes are dropped once written."""
        now = when = _datime()
        fname = encode(self._top.name)
        if len(fname) >= 256:
            raise ValueError("ROOT file names must be less than 256 bytes")
        out += bytes(_BEGIN)

        # the top directory: TFile key, name, title, TDirectory header (patched at the end)
        top = self._top
        top.location = _BEGIN
        top_keylen = _key_length(False, b"TFile", fname, b"")
        names = tstring(fname) + tstring(b"")
        top_objlen = len(names) + _DIRECTORY_BYTES
        out += _key(False, b"TFile", fname, b"", top_objlen, top_objlen, now, 1, _BEGIN, 0) + names
        top_header_at = len(out)
        out += bytes(_DIRECTORY_BYTES)
        nbytes_name = top_keylen + len(names)

        # the StreamerInfo TList, uncompressed (as uproot writes it)
        info_at = len(out)
        streamers = _streamer_list(self._streamers)
        out += _key(False, b"TList", b"StreamerInfo", b"Doubly linked list", len(streamers), len(streamers), now, 1,
                    info_at, _BEGIN) + streamers
        info_bytes = len(out) - info_at

        # objects, in the order they were created; sub-directory headers patched once their keys are laid out
        headers: list[tuple[int, _Directory]] = []

        def lay_out(d: _Directory) -> None:
            for item in d.items:
                if isinstance(item, _Directory):
                    at = len(out)
                    item.location = at
                    bname = encode(item.name)
                    key = _key(False, b"TDirectory", bname, bname, _DIRECTORY_BYTES, _DIRECTORY_BYTES, now, 1, at,
                               d.location)
                    out.extend(key)
                    headers.append((len(out), item))
                    out.extend(bytes(_DIRECTORY_BYTES))
                    d.entries.append(key)
                    lay_out(item)
                elif isinstance(item, StagedObject):
                    d.entries.append(self._write_object(out, item, d.location, now))
                    if release:
                        item.release()
                else:
                    d.entries.append(self._write_tree(out, item, d.location, now))
                    if release:
                        item.release()

        lay_out(top)

        # one key list per directory, then the free segments
        def key_lists(d: _Directory) -> None:
            at = len(out)
            bname = fname if d is top else encode(d.name)
            classname, title = (b"TFile", b"") if d is top else (b"TDirectory", bname)
            body = struct.pack(">i", len(d.entries)) + b"".join(d.entries)
            parent = _BEGIN if d is top else d.parent.location
            out.extend(_key(False, classname, bname, title, len(body), len(body), now, 1, at, parent) + body)
            nbytes_keys = len(out) - at
            if d is top:
                out[top_header_at : top_header_at + _DIRECTORY_BYTES] = _directory_header(
                    when, nbytes_keys, nbytes_name, _BEGIN, 0, at)
            else:
                start = next(h for h, item in headers if item is d)
                keylen = _key_length(False, b"TDirectory", bname, bname)
                out[start : start + _DIRECTORY_BYTES] = _directory_header(when, nbytes_keys, keylen, d.location,
                                                                          d.parent.location, at)
            for item in d.items:
                if isinstance(item, _Directory):
                    key_lists(item)

        key_lists(top)
        free_at = len(out)
        free_keylen = _key_length(False, b"TFile", fname, b"")
        end = free_at + free_keylen + _FREE.size
        body = _FREE.pack(1, end, _START_BIG_FILE)
        out += _key(False, b"TFile", fname, b"", len(body), len(body), now, 1, free_at, _BEGIN) + body
        assert len(out) == end
        if end >= _START_BIG_FILE:  # pragma: no cover - a limit file of 2 GB
            raise ValueError("TreeFileWriter writes files below 2 GB only; use RootFileWriter")
        out[: _FILE_HEADER.size] = _FILE_HEADER.pack(b"root", _FILE_VERSION, _BEGIN, end, free_at, end - free_at, 1,
                                                     nbytes_name, 4, _COMPRESS, info_at, info_bytes, 1,
                                                     uuid.uuid1().bytes)
        return out

    @staticmethod
    def _write_object(out: bytearray, obj: StagedObject, pdir: int, now: int) -> bytes:
        """Append the key and (compressed) payload of ``obj``; return the key header. Keys have
        64-bit seeks: RooFit payloads' class references are offsets from the key's start."""
        at = len(out)
        key = _key(True, encode(obj.classname), encode(obj.name), encode(obj.title), obj.objlen, obj.stored_size,
                   now, 1, at, pdir)
        out += key
        for piece in obj.chunks():
            out += piece
        return key

    @staticmethod
    def _write_tree(out: bytearray, tree: RawTree, pdir: int, now: int) -> bytes:
        """Append the baskets and the TTree key of ``tree`` to ``out``; return the key header."""
        record = tree.record
        keylens = basket_key_lengths(record.basket_names, record.name)
        itemsizes = [record.dtypes[n].itemsize for n in record.names]
        for length, stored, objlens in tree.chunks:
            nbytes = keylens + np.array([len(s) for s in stored], np.int64)
            seeks = len(out) + np.concatenate(([0], np.cumsum(nbytes[:-1]))).astype(np.int64)
            out += basket_block(record.basket_names, record.name, itemsizes, length, stored, keylens, objlens, nbytes,
                                seeks, pdir)
            record.add_baskets(length, seeks, nbytes, keylens + objlens)
        record.build()
        blob = record.blob
        at = len(out)
        key = _key(True, b"TTree", encode(record.name), encode(record.title), len(blob), len(blob), now, 1, at, pdir)
        if len(key) != record.key_length:  # the leaf references inside the record assume this length
            raise RuntimeError(f"unexpected TTree key length {len(key)} != {record.key_length}")
        out += key
        out += blob
        return key


def _directory_header(when: int, nbytes_keys: int, nbytes_name: int, seek_dir: int, seek_parent: int,
                      seek_keys: int) -> bytes:
    """TDirectory v5 with 32-bit seeks, a TUUID and the 12 bytes ROOT keeps for 64-bit seeks."""
    return (_DIRECTORY.pack(5, when, when, nbytes_keys, nbytes_name, seek_dir, seek_parent, seek_keys)
            + b"\x00\x01" + uuid.uuid1().bytes + bytes(12))
