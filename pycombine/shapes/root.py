"""Histograms from ROOT files, read with uproot (no ROOT needed).

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


class RootSource:
    """An open ROOT file; each file is opened once per run (see :class:`ShapeFiles`)."""

    def __init__(self, path: str):
        import uproot

        self.path = path
        try:
            self._file = uproot.open(path)
        except FileNotFoundError:
            raise ShapeError(f"cannot open ROOT file {path!r}: no such file") from None
        except Exception as exc:  # uproot raises several kinds for corrupt/non-ROOT files
            raise ShapeError(f"cannot open ROOT file {path!r}: {exc}") from None
        self._cache: dict[str, Template | None] = {}

    def get(self, name: str) -> Template | None:
        """The TH1 at ``name`` (sub-directories allowed: ``dir/hist``), or None if it is absent."""
        if name in self._cache:
            return self._cache[name]
        try:
            key = self._file.key(name)
        except (KeyError, FileNotFoundError):
            self._cache[name] = None
            return None
        except Exception as exc:  # pragma: no cover - corrupt directory
            raise ShapeError(f"cannot read {name!r} from {self.path!r}: {exc}") from None
        cls = key.fClassName
        source = f"{self.path}:{name}"
        tmpl = None
        if cls in _FAST_CLASSES:
            tmpl = _fast_th1(key, _FAST_CLASSES[cls], source)
        if tmpl is None:
            tmpl = self._slow(name, cls, source)
        self._cache[name] = tmpl
        return tmpl

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
        except Exception as exc:  # pragma: no cover - corrupt object
            raise ShapeError(f"cannot read {name!r} from {self.path!r}: {exc}") from None
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
