"""What a ROOT file writer holds before the file is written, and where it writes it.

:class:`RawTree`: a flat TTree's baskets, kept until the file is written. :class:`StagedObject`:
a serialised object's bytes, compressed when added (large payloads on a worker thread, zlib
releasing the GIL) and then moved to a scratch file, so that a file with hundreds of MB of
covariance matrices is never whole in memory. :class:`FileSink`: the part of a bytearray's
interface the writer's serialisation uses, writing to an open file instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

from .tree_record import MAX_BASKET_BYTES, TreeRecord, column_bytes
from .zlib_blocks import root_zlib

__all__ = ["BACKGROUND_ABOVE", "FileSink", "RawTree", "StagedObject"]

#: payloads above this size are compressed on a worker thread while the next objects are serialised
BACKGROUND_ABOVE = 1 << 20


class StagedObject:
    """A serialised object (histogram, graph, RooFit object) waiting in a directory, compressed
    as soon as it is added (a large file's uncompressed payloads are not all kept until it is
    written); large payloads on ``pool`` (zlib releases the GIL), collected by :attr:`stored`,
    and then moved to a scratch file (:meth:`spill`) until the file is written."""

    def __init__(self, name: str, classname: str, title: str, payload: bytes, pool=None):
        self.name, self.classname, self.title = name, classname, title
        self.objlen = len(payload)
        self._spilled: tuple[object, int, int] | None = None  # (scratch file, offset, size)
        if pool is not None and len(payload) > BACKGROUND_ABOVE:
            self._stored, self._future = None, pool.submit(root_zlib, payload)
        else:
            self._stored, self._future = root_zlib(payload), None

    @property
    def stored(self) -> bytes:
        if self._future is not None:
            self._stored, self._future = self._future.result(), None
        return self._stored

    @property
    def ready(self) -> bool:
        return self._future is None or self._future.done()

    @property
    def stored_size(self) -> int:
        return self._spilled[2] if self._spilled is not None else len(self.stored)

    def spill(self, scratch) -> None:
        """Move the stored bytes to the end of ``scratch`` (an open binary file)."""
        data = self.stored
        scratch.seek(0, os.SEEK_END)
        self._spilled = (scratch, scratch.tell(), len(data))
        scratch.write(data)
        self._stored = None

    def chunks(self, size: int = 1 << 24):
        """The stored bytes, from memory or from the scratch file in pieces of ``size``."""
        if self._spilled is None:
            yield self.stored
            return
        scratch, at, left = self._spilled
        scratch.seek(at)
        while left:
            piece = scratch.read(min(left, size))
            if not piece:  # pragma: no cover - the scratch file was truncated
                raise OSError("scratch file of the ROOT writer ended early")
            yield piece
            left -= len(piece)

    def release(self) -> None:
        """Drop the bytes once they are in the file."""
        self._stored, self._future, self._spilled = b"", None, None


class FileSink:
    """The part of a bytearray's interface :meth:`TreeFileWriter._serialize` uses (``len``,
    ``+=``, ``extend``, slice assignment to patch headers), writing to an open binary file."""

    def __init__(self, f):
        self.f, self.size = f, 0

    def __len__(self) -> int:
        return self.size

    def __iadd__(self, data) -> FileSink:
        self.f.write(data)
        self.size += len(data)
        return self

    def extend(self, data) -> None:
        self += data

    def __setitem__(self, where: slice, data: bytes) -> None:
        start = where.start or 0
        if where.stop is not None and where.stop - start != len(data):
            raise ValueError("a patch must keep the file's length")
        self.f.seek(start)
        self.f.write(data)
        self.f.seek(self.size)


class RawTree:
    """A flat TTree being written by :class:`TreeFileWriter`; same ``extend`` protocol as
    :class:`.flat_tree.FlatTree` (one basket per branch and call), kept in memory until the file closes."""

    def __init__(self, name: str, title: str, dtypes: Mapping[str, np.dtype]):
        self.record = TreeRecord(name, title, dtypes)
        #: (entries, stored payload per branch, uncompressed size per branch) of every basket row
        self.chunks: list[tuple[int, list[bytes], np.ndarray]] = []
        self._entries = 0
        self.closed = False  # set when its file is written or discarded: later entries would be lost

    @property
    def branch_types(self) -> dict[str, np.dtype]:
        """Branch name -> numpy dtype, in branch order."""
        return dict(self.record.dtypes)

    @property
    def num_entries(self) -> int:
        return self._entries

    def extend(self, data: Mapping[str, ArrayLike]) -> None:
        """Append entries: ``data`` maps every branch name to a 1D array of the same length.

        Values are cast to the branch dtypes with numpy ``same_kind`` casting; everything is
        validated before anything is kept; nothing is kept for zero entries (ROOT writes no
        empty baskets).
        """
        if self.closed:
            raise ValueError("cannot extend a TTree in a closed file")
        length, raws = column_bytes(self.record, data)
        if not length:
            return
        for name, raw in zip(self.record.names, raws, strict=True):
            if len(raw) > MAX_BASKET_BYTES:
                raise ValueError(f"branch {name!r}: basket too large for ROOT ({len(raw)} bytes)")
        stored = raws if max(map(len, raws)) <= 17 else [root_zlib(raw) for raw in raws]
        objlens = np.array([len(raw) for raw in raws], np.int64)
        self.chunks.append((length, stored, objlens))
        self._entries += length

    def release(self) -> None:
        """Drop the baskets and the record once they are in the file."""
        self.chunks, self.record.blob = [], bytearray()
