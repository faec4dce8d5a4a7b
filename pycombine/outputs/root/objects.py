"""Histograms and graphs as the bytes of their ROOT keys, without uproot: TH1F/TH1D, TH2F/TH2D and
TGraphAsymmErrors.

Why this module exists: a ``fitDiagnostics*.root`` file holds histograms, graphs, trees and RooFit
objects. Writing them through uproot costs its import (with awkward, about 0.3 s), more than the
whole fit of a small card; :class:`.rawfile.TreeFileWriter` writes the file itself, and this module
gives it the objects' bytes. They are exactly the bytes uproot's writer produces for the same
objects (``tests/test_raw_root_writer.py`` compares them for every kind, with labels, variable
edges, with and without Sumw2), so the files read the same in ROOT, uproot and hadd; the
StreamerInfo records the file needs are :mod:`.object_streamers`.

The values (statistics, float32 rounding, labels) come from :mod:`.histograms`' plain
:class:`~.histograms.HistogramSpec`, shared with the uproot path. Layout, as ROOT's
``TBufferFile::WriteClassBuffer`` writes it (``[n|v]``: 4-byte byte count with ``kByteCountMask``
and a 2-byte version; object pointers: byte count, ``kNewClassTag`` and the class name, the
object, as uproot writes every pointer)::

    TH1F/TH1D v3 [n|3]: TH1 v8 [n|8]:
        TNamed [n|1] (TObject v1: fUniqueID, fBits), TAttLine [n|2], TAttFill [n|2], TAttMarker [n|2],
        fNcells, 3 x TAxis v10 [n|10] (TNamed, TAttAxis [n|4], fNbins fXmin fXmax, fXbins TArrayD,
        fFirst fLast fBits2 fTimeDisplay, fTimeFormat, fLabels THashList* (TObjString per bin),
        fModLabs null), fBarOffset fBarWidth, fEntries fTsumw fTsumw2 fTsumwx fTsumwx2 fMaximum
        fMinimum fNormFactor, fContour TArrayD, fSumw2 TArrayD, fOption, fFunctions TList* (empty),
        fBufferSize, fBuffer (empty), fBinStatErrOpt, fStatOverflows
      TArrayF/TArrayD: fN, the contents with flow bins
    TH2F/TH2D v4 [n|4]: TH2 v5 [n|5]: TH1 as above, fScalefactor fTsumwy fTsumwy2 fTsumwxy; TArray
    TGraphAsymmErrors: :mod:`.tgraph` describes it
"""

from __future__ import annotations

import struct

import numpy as np

from .histograms import HistogramSpec

__all__ = ["graph_asymm_errors_bytes", "histogram_bytes"]

_BYTE_COUNT_MASK = 0x40000000
_NEW_CLASS_TAG = 0xFFFFFFFF
_K_IS_ON_HEAP = 0x01000000
_K_NOT_DELETED = 0x02000000
_K_MUST_CLEANUP = 0x00000008
#: ROOT's default histogram attributes (TH1 constructor): line colour 602, fill white, marker 1
_LINE = (602, 1, 1)
_FILL = (0, 1001)
_MARKER = (1, 1, 1.0)
#: TAttAxis defaults: fNdivisions fAxisColor fLabelColor fLabelFont fLabelOffset fLabelSize
#: fTickLength fTitleOffset fTitleSize fTitleColor fTitleFont
_ATT_AXIS = struct.Struct(">ihhhfffffhh").pack(510, 1, 1, 42, 0.005, 0.035, 0.03, 1.0, 0.035, 1, 42)
_UNSET = -1111.0


class _Out:
    """A growing buffer with ROOT's byte-count blocks."""

    def __init__(self) -> None:
        self.data = bytearray()

    def pack(self, fmt: str, *values) -> None:
        self.data += struct.pack(fmt, *values)

    def raw(self, b: bytes) -> None:
        self.data += b

    def string(self, s: str) -> None:
        b = s.encode("utf-8", errors="surrogateescape")
        self.data += bytes((len(b),)) if len(b) < 255 else b"\xff" + struct.pack(">I", len(b))
        self.data += b

    def begin(self) -> int:
        pos = len(self.data)
        self.data += bytes(6)
        return pos

    def end(self, pos: int, version: int) -> None:
        count = len(self.data) - pos - 4
        self.data[pos:pos + 6] = struct.pack(">IH", count | _BYTE_COUNT_MASK, version)

    def pointer_begin(self, classname: str) -> int:
        pos = len(self.data)
        self.data += bytes(4) + struct.pack(">I", _NEW_CLASS_TAG) + classname.encode() + b"\x00"
        return pos

    def pointer_end(self, pos: int) -> None:
        self.data[pos:pos + 4] = struct.pack(">I", (len(self.data) - pos - 4) | _BYTE_COUNT_MASK)


def _tobject(o: _Out, unique_id: int, bits: int) -> None:
    o.pack(">HII", 1, unique_id, bits)


def _tnamed(o: _Out, name: str, title: str, bits: int) -> None:
    p = o.begin()
    _tobject(o, 0, bits | _K_IS_ON_HEAP | _K_NOT_DELETED)
    o.string(name)
    o.string(title)
    o.end(p, 1)


def _att_line_fill_marker(o: _Out, line, fill, marker) -> None:
    p = o.begin()
    o.pack(">hhh", *line)
    o.end(p, 2)
    p = o.begin()
    o.pack(">hh", *fill)
    o.end(p, 2)
    p = o.begin()
    o.pack(">hhf", *marker)
    o.end(p, 2)


def _tarray(o: _Out, values: np.ndarray, dtype: str) -> None:
    arr = np.asarray(values, dtype=dtype)
    o.pack(">i", arr.size)
    o.raw(arr.tobytes())


def _empty_list(o: _Out, bits: int, tagged: bool) -> None:
    """An empty TList (fFunctions): TList v5 (TObject, fName, fSize 0); ``tagged``: as an object
    pointer with its class tag (TGraph's ``TList*``), else inline (TH1's ``TList* ->``, never null)."""
    q = o.pointer_begin("TList") if tagged else None
    p = o.begin()
    _tobject(o, 0, bits)
    o.string("")
    o.pack(">i", 0)
    o.end(p, 5)
    if q is not None:
        o.pointer_end(q)


def _labels(o: _Out, labels: list[str]) -> None:
    """fLabels: a THashList of TObjString whose fUniqueID is the (1-based) bin number."""
    q = o.pointer_begin("THashList")
    p = o.begin()
    _tobject(o, 0, 0)
    o.string("")
    o.pack(">i", len(labels))
    for i, label in enumerate(labels):
        r = o.pointer_begin("TObjString")
        s = o.begin()
        _tobject(o, i + 1, _K_NOT_DELETED)
        o.string(label)
        o.end(s, 1)
        o.pointer_end(r)
        o.string("")  # the link's option
    o.end(p, 5)
    o.pointer_end(q)


def _axis(o: _Out, name: str, nbins: int, xmin: float, xmax: float, edges, title: str, labels) -> None:
    p = o.begin()
    _tnamed(o, name, title, 0)
    a = o.begin()
    o.raw(_ATT_AXIS)
    o.end(a, 4)
    o.pack(">idd", nbins, xmin, xmax)
    _tarray(o, np.zeros(0) if edges is None else edges, ">f8")
    o.pack(">iiH?", 0, 0, 0x3 if labels is not None else 0, False)
    o.string("")  # fTimeFormat
    if labels is None:
        o.raw(bytes(4))
    else:
        _labels(o, list(labels))
    o.raw(bytes(4))  # fModLabs
    o.end(p, 10)


def _th1_body(o: _Out, h: HistogramSpec, name: str, ncells: int) -> None:
    p = o.begin()
    _tnamed(o, name, h.title, _K_MUST_CLEANUP)
    _att_line_fill_marker(o, _LINE, _FILL, _MARKER)
    o.pack(">i", ncells)
    for axis in h.axes:
        _axis(o, *axis)
    s = h.stats
    o.pack(">hhdddddddd", 0, 1000, s["fEntries"], s["fTsumw"], s["fTsumw2"], s["fTsumwx"], s["fTsumwx2"],
           _UNSET, _UNSET, 0.0)
    _tarray(o, np.zeros(0), ">f8")  # fContour
    _tarray(o, np.zeros(0) if h.sumw2 is None else h.sumw2, ">f8")
    o.string("")  # fOption
    _empty_list(o, _K_IS_ON_HEAP | _K_NOT_DELETED | (1 << 16), tagged=False)
    o.pack(">i", 0)  # fBufferSize
    o.raw(b"\x00")  # fBuffer: an empty array
    o.pack(">ii", 0, 2)  # fBinStatErrOpt kNormal, fStatOverflows kNeutral
    o.end(p, 8)


def histogram_bytes(h: HistogramSpec, name: str) -> tuple[str, str, bytes]:
    """(class name, title, bytes) of the histogram ``h`` written under the key ``name``."""
    o = _Out()
    top = o.begin()
    if h.dim == 1:
        _th1_body(o, h, name, h.data.size)
        _tarray(o, h.data, ">f4" if h.classname == "TH1F" else ">f8")
        o.end(top, 3)
    else:
        q = o.begin()
        _th1_body(o, h, name, h.data.size)
        s = h.stats
        o.pack(">dddd", 1.0, s["fTsumwy"], s["fTsumwy2"], s["fTsumwxy"])
        o.end(q, 5)
        _tarray(o, h.data, ">f4" if h.classname == "TH2F" else ">f8")
        o.end(top, 4)
    return h.classname, h.title, bytes(o.data)


def graph_asymm_errors_bytes(name: str, title: str, x: np.ndarray, y: np.ndarray, exl: np.ndarray, exh: np.ndarray,
                             eyl: np.ndarray, eyh: np.ndarray, *, minimum: float = _UNSET, maximum: float = _UNSET,
                             line=(1, 1, 1), fill=(0, 1000), marker=(1, 1, 1.0)) -> tuple[str, str, bytes]:
    """(class name, title, bytes) of a TGraphAsymmErrors (the layout of :mod:`.tgraph`)."""
    o = _Out()
    top = o.begin()
    g = o.begin()
    _tnamed(o, name, title, 0)
    _att_line_fill_marker(o, line, fill, marker)
    n = len(x)
    o.pack(">i", n)

    def array(values) -> None:
        o.raw(b"\x01" if n else b"\x00")
        if n:
            o.raw(np.asarray(values, ">f8").tobytes())

    array(x)
    array(y)
    _empty_list(o, 0, tagged=True)
    o.raw(bytes(4))  # fHistogram
    o.pack(">dd", minimum, maximum)
    o.end(g, 4)
    for values in (exl, exh, eyl, eyh):
        array(values)
    o.end(top, 3)
    return "TGraphAsymmErrors", title, bytes(o.data)
