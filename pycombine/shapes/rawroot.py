"""Keys and object records of a ROOT file, read without uproot: :class:`RawRootFile`.

Why this module exists: a shape card reads a few TH1s, which :mod:`.root` decodes from the bytes
of their records itself; what it needed uproot for was only finding those bytes (the file header,
the directories' key lists, the decompression). Importing uproot (with awkward) costs about
0.3 s, more than a whole fit of a small shape card. This reader does that finding for the common
files: ROOT's small and big (64-bit) headers, directories and keys, records stored raw or
compressed with zlib (``ZL``, ROOT's default before 6.30 and uproot's) or LZMA (``XZ``). Anything
else (LZ4, ZSTD, the old ``CS`` algorithm, a damaged file) raises :class:`RawReadError` and
:class:`.root.RootSource` falls back to uproot, so the results never depend on which reader ran.

Layout reference: ROOT's ``io/doc/TFile`` (header, TKey, TDirectory, compression headers).
"""

from __future__ import annotations

import os
import struct
import zlib

__all__ = ["RawKey", "RawReadError", "RawRootFile"]

_HEADER_SMALL = struct.Struct(">4siiiiiiiBiii")  # magic fVersion fBEGIN fEND fSeekFree fNbytesFree nfree
#                                                   fNbytesName fUnits fCompress fSeekInfo fNbytesInfo
_HEADER_BIG = struct.Struct(">4siiqqiiiBiqi")
_KEY_SMALL = struct.Struct(">ihiIhhii")  # fNbytes fVersion fObjlen fDatime fKeylen fCycle fSeekKey fSeekPdir
_KEY_BIG = struct.Struct(">ihiIhhqq")
_DIR_SMALL = struct.Struct(">hIIiiiii")  # fVersion fDatimeC fDatimeM fNbytesKeys fNbytesName fSeekDir fSeekParent fSeekKeys
_DIR_BIG = struct.Struct(">hIIiiqqq")
_DIRECTORY_CLASSES = ("TDirectory", "TDirectoryFile")


class RawReadError(Exception):
    """The file (or this record) is not one this reader handles: use uproot instead."""


class RawKey:
    """One TKey of a directory's key list."""

    __slots__ = ("classname", "compressed", "cycle", "keylen", "name", "nbytes", "objlen", "seek")

    def __init__(self, classname: str, name: str, cycle: int, nbytes: int, objlen: int, keylen: int, seek: int):
        self.classname = classname
        self.name = name
        self.cycle = cycle
        self.nbytes = nbytes
        self.objlen = objlen
        self.keylen = keylen
        self.seek = seek


def _string(buf: bytes, pos: int) -> tuple[str, int]:
    n = buf[pos]
    pos += 1
    if n == 255:
        (n,) = struct.unpack_from(">I", buf, pos)
        pos += 4
    if pos + n > len(buf):
        raise RawReadError("truncated string")
    return buf[pos : pos + n].decode("utf-8", errors="surrogateescape"), pos + n


def _key(buf: bytes, pos: int) -> tuple[RawKey, int]:
    """The key header at ``pos`` of ``buf`` and the position after it."""
    (version,) = struct.unpack_from(">h", buf, pos + 4)
    fmt = _KEY_BIG if version > 1000 else _KEY_SMALL
    nbytes, _, objlen, _, keylen, cycle, seek, _ = fmt.unpack_from(buf, pos)
    p = pos + fmt.size
    classname, p = _string(buf, p)
    name, p = _string(buf, p)
    _, p = _string(buf, p)  # title
    # fKeylen is not always this header's length: ROOT 5 listed directories under the class name
    # TDirectoryFile with the fKeylen of their own key (class TDirectory); records start at
    # fSeekKey + fKeylen, as ROOT and uproot read them
    if nbytes < keylen or objlen < 0 or keylen <= 0:
        raise RawReadError("unexpected key header")
    return RawKey(classname, name, cycle, nbytes, objlen, keylen, seek), p


def decompress(data: bytes, objlen: int) -> bytes:
    """A record's payload as stored (raw, or ROOT's compression blocks) -> its ``objlen`` bytes."""
    if len(data) == objlen:
        return data
    out = []
    pos = 0
    while pos < len(data):
        if pos + 9 > len(data):
            raise RawReadError("truncated compression header")
        algo = data[pos : pos + 2]
        csize = int.from_bytes(data[pos + 3 : pos + 6], "little")
        usize = int.from_bytes(data[pos + 6 : pos + 9], "little")
        block = data[pos + 9 : pos + 9 + csize]
        if algo == b"ZL":
            raw = zlib.decompress(block)
        elif algo == b"XZ":
            import lzma

            raw = lzma.decompress(block)
        else:  # LZ4, ZSTD, ROOT's old "CS": uproot reads them
            raise RawReadError(f"compression {algo!r} not handled here")
        if len(raw) != usize:
            raise RawReadError("decompressed size mismatch")
        out.append(raw)
        pos += 9 + csize
    result = b"".join(out)
    if len(result) != objlen:
        raise RawReadError("decompressed size mismatch")
    return result


class RawRootFile:
    """A ROOT file opened for reading keys and records (use :class:`.root.RootSource`, which
    falls back to uproot for whatever this reader refuses)."""

    def __init__(self, path: str):
        import mmap

        with open(path, "rb") as f:
            try:  # mapped, not read: only the key lists are touched
                self._buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError:  # an empty file cannot be mapped
                raise RawReadError("empty file") from None
        # records are read with pread, not through the map: mapped pages once touched stay in the
        # process's resident memory, which for a combination's shape file of hundreds of MB would
        # double what its templates need
        self._fd = os.open(path, os.O_RDONLY)
        buf = self._buf
        if len(buf) < _HEADER_SMALL.size or buf[:4] != b"root":
            raise RawReadError("not a ROOT file")
        (version,) = struct.unpack_from(">i", buf, 4)
        fmt = _HEADER_BIG if version >= 1000000 else _HEADER_SMALL
        fields = fmt.unpack_from(buf, 0)
        begin, nbytes_name = fields[2], fields[7]
        self._dirs: dict[int, dict[str, list[RawKey]]] = {}
        self._top = self._directory_keys(begin + nbytes_name)

    def _directory_keys(self, at: int) -> dict[str, list[RawKey]]:
        """Keys (name -> its cycles) of the directory whose TDirectory record starts at ``at``."""
        if at in self._dirs:
            return self._dirs[at]
        buf = self._buf
        (version,) = struct.unpack_from(">h", buf, at)
        fmt = _DIR_BIG if version > 1000 else _DIR_SMALL
        seek_keys = fmt.unpack_from(buf, at)[7]
        if not 0 < seek_keys < len(buf):
            raise RawReadError("bad directory")
        _, p = _key(buf, seek_keys)  # the key of the key list itself
        (nkeys,) = struct.unpack_from(">i", buf, p)
        p += 4
        keys: dict[str, list[RawKey]] = {}
        for _ in range(nkeys):
            key, p = _key(buf, p)
            keys.setdefault(key.name, []).append(key)
        self._dirs[at] = keys
        return keys

    def key(self, path: str) -> RawKey | None:
        """The key at ``path`` (``dir/sub/name``; the highest cycle), or None if there is none."""
        if ";" in path:
            raise RawReadError("cycle numbers are left to uproot")
        parts = [p for p in path.split("/") if p]
        if not parts:
            return None
        keys = self._top
        for i, part in enumerate(parts):
            cycles = keys.get(part)
            if not cycles:
                return None
            key = max(cycles, key=lambda k: k.cycle)
            if i == len(parts) - 1:
                return key
            if key.classname not in _DIRECTORY_CLASSES:
                return None
            keys = self._directory_keys(key.seek + key.keylen)
        return None  # pragma: no cover - the loop returns

    def record(self, key: RawKey) -> bytes:
        """The uncompressed bytes of the object of ``key`` (without the key header)."""
        start = key.seek + key.keylen
        stop = key.seek + key.nbytes
        if stop > len(self._buf):
            raise RawReadError("record beyond the end of the file")
        if not hasattr(os, "pread"):  # pragma: no cover - Windows
            return decompress(self._buf[start:stop], key.objlen)
        data = os.pread(self._fd, stop - start, start)
        if len(data) != stop - start:
            raise RawReadError("record beyond the end of the file")
        return decompress(data, key.objlen)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._buf.close()

    def __del__(self):
        try:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        except (AttributeError, OSError):
            pass
