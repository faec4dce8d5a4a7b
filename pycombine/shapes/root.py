"""Histograms from ROOT files, read without ROOT (:mod:`.rawroot`, else uproot).

uproot's general object reader costs ~0.5 ms per histogram, which dominates the loading of large
combinations (tens of thousands of templates). TH1F/TH1D records with ROOT's current streamer
layout are therefore decoded directly from the (decompressed) bytes of their key: the record is
walked using the byte counts of its parts, and only ``fNcells``, ``fSumw2`` and the content
array are read (TH1 class versions 6 to 8, every ROOT file in the regression suite). Anything unexpected falls back to uproot's reader.
"""

from __future__ import annotations

import struct

import numpy as np

from ..errors import ShapeError
from .template import Template

_BYTECOUNT = 0x40000000
_FAST_CLASSES = {"TH1F": ">f4", "TH1D": ">f8"}


def root_read_error(path: str, exc: BaseException | None = None) -> str:
    """One line saying why ``path`` could not be read as a ROOT file (uproot's own messages speak
    of chunks, byte counts and sources over several lines)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as err:
        return err.strerror or str(err)
    if head != b"root":
        return "not a ROOT file" + (" (it is empty)" if not head else "")
    if isinstance(exc, (KeyError, FileNotFoundError)):
        return "object not found"
    return "damaged or truncated ROOT file (its records cannot be read)"


class RootSource:
    """An open ROOT file; each file is opened once per run (see :class:`ShapeFiles`)."""

    def __init__(self, path: str):
        from .rawroot import RawReadError, RawRootFile

        self.path = path
        self._cache: dict[str, Template | None] = {}
        self._uproot_file = None
        # keys and records are found by our own reader (uproot's import costs ~0.3 s per command);
        # uproot opens the file only for what that reader refuses (then with its own messages)
        try:
            self._raw: RawRootFile | None = RawRootFile(path)
        except (RawReadError, OSError, struct.error, IndexError, ValueError):
            self._raw = None
            self._open_uproot()

    @property
    def _file(self):
        """uproot's view of the file, opened on first use."""
        if self._uproot_file is None:
            self._open_uproot()
        return self._uproot_file

    def _open_uproot(self) -> None:
        import uproot

        try:
            self._uproot_file = uproot.open(self.path)
        except FileNotFoundError:
            raise ShapeError(f"cannot open ROOT file {self.path!r}: no such file") from None
        except Exception as exc:  # uproot raises several kinds for corrupt/non-ROOT files
            raise ShapeError(f"cannot open ROOT file {self.path!r}: {root_read_error(self.path, exc)}") from None

    def get(self, name: str) -> Template | None:
        """The TH1 at ``name`` (sub-directories allowed: ``dir/hist``), or None if it is absent."""
        if name in self._cache:
            return self._cache[name]
        if self._raw is not None:
            found, tmpl = self._get_raw(name)
            if found:
                self._cache[name] = tmpl
                return tmpl
        try:
            key = self._file.key(name)
        except (KeyError, FileNotFoundError):
            self._cache[name] = None
            return None
        except Exception as exc:  # corrupt directory
            raise ShapeError(f"cannot read {name!r} from {self.path!r}: {root_read_error(self.path, exc)}") from None
        cls = key.fClassName
        source = f"{self.path}:{name}"
        tmpl = None
        if cls in _FAST_CLASSES:
            tmpl = _fast_th1(key, _FAST_CLASSES[cls], source)
        if tmpl is None:
            tmpl = self._slow(name, cls, source)
        self._cache[name] = tmpl
        return tmpl

    def _get_raw(self, name: str) -> tuple[bool, Template | None]:
        """(True, template or None if absent) from our own reader; (False, None): ask uproot."""
        from .rawroot import RawReadError

        try:
            key = self._raw.key(name)
            if key is None:
                return True, None
            dtype = _FAST_CLASSES.get(key.classname)
            if dtype is None:  # other classes: uproot's reader and messages
                return False, None
            tmpl = _decode_th1(self._raw.record(key), dtype, f"{self.path}:{name}")
            return (tmpl is not None), tmpl
        except (RawReadError, struct.error, IndexError, ValueError, OSError):
            return False, None

    def _slow(self, name: str, cls: str, source: str) -> Template:
        if cls.startswith(("TH2", "TH3")):
            raise ShapeError(f"{name!r} in {self.path!r} is a {cls}; only one-dimensional TH1 templates are supported")
        if cls.startswith("Roo"):
            raise ShapeError(
                f"{name!r} in {self.path!r} is a {cls}; RooFit objects need ROOT and are not supported by pycombine"
            )
        if not cls.startswith("TH1") or cls.startswith("TH1K"):
            raise ShapeError(f"{name!r} in {self.path!r} is a {cls}, not a TH1 histogram")
        try:
            obj = self._file[name]
        except Exception as exc:  # corrupt object
            raise ShapeError(f"cannot read {name!r} from {self.path!r}: {root_read_error(self.path, exc)}") from None
        return _th1_to_template(obj, source)


def _template(contents: np.ndarray, sumw2: np.ndarray, source: str) -> Template:
    if sumw2.size:
        # TH1::GetBinError: sqrt(sumw2) when the weights were stored ...
        errors = np.sqrt(sumw2[1:-1].astype(np.float64))
    else:
        # ... else sqrt(|content|)
        errors = np.sqrt(np.abs(contents.astype(np.float64)))
    return Template.from_contents(contents, errors, source)


def _th1_to_template(hist, source: str) -> Template:
    contents = np.asarray(hist.values(flow=False))
    sumw2 = np.asarray(hist.member("fSumw2")) if "fSumw2" in hist.all_members else np.zeros(0)
    return _template(contents, sumw2, source)


def _fast_th1(key, dtype: str, source: str) -> Template | None:
    """Decode a TH1F/TH1D record directly; None if the layout is not the expected one."""
    try:
        chunk, cursor = key.get_uncompressed_chunk_cursor()
        buf = chunk.get(chunk.start, chunk.stop, cursor, {})
        if not isinstance(buf, np.ndarray):
            return None
        return _decode_th1(buf.tobytes(), dtype, source)
    except Exception:  # any surprise: let uproot's general reader deal with it
        return None


def _part(buf: bytes, pos: int) -> tuple[int, int, int]:
    """A streamed part: (end position, class version, position after the header)."""
    count, version = struct.unpack_from(">IH", buf, pos)
    if not count & _BYTECOUNT:
        raise ValueError("no byte count")
    return pos + 4 + (count & ~_BYTECOUNT), version, pos + 6


def _decode_th1(buf: bytes, dtype: str, source: str) -> Template | None:
    end, _, p = _part(buf, 0)  # TH1F / TH1D
    th1_end, th1_version, p = _part(buf, p)
    # the members read here have the same layout in TH1 versions 6-8 (ROOT 5.x and 6.x); the
    # later members (fOption ... fStatOverflows) are skipped with TH1's byte count
    if th1_version not in (6, 7, 8):
        return None
    for _ in range(4):  # TNamed, TAttLine, TAttFill, TAttMarker
        p = _part(buf, p)[0]
    (ncells,) = struct.unpack_from(">i", buf, p)
    p += 4
    for _ in range(3):  # fXaxis, fYaxis, fZaxis
        p = _part(buf, p)[0]
    p += 2 + 2 + 8 * 8  # fBarOffset, fBarWidth, fEntries ... fNormFactor
    (ncontour,) = struct.unpack_from(">i", buf, p)
    p += 4 + 8 * ncontour
    (nsumw2,) = struct.unpack_from(">i", buf, p)
    if nsumw2 not in (0, ncells):
        return None
    sumw2 = np.frombuffer(buf, ">f8", nsumw2, p + 4).astype(np.float64)
    (n,) = struct.unpack_from(">i", buf, th1_end)
    size = np.dtype(dtype).itemsize
    if n != ncells or th1_end + 4 + n * size != end:
        return None
    flow = np.frombuffer(buf, dtype, n, th1_end + 4)
    contents = flow[1:-1].astype(np.float32 if size == 4 else np.float64)
    return _template(contents, sumw2, source)
