"""Write ``TGraphAsymmErrors`` objects into ROOT files with uproot (no ROOT needed).

Why this module exists: Combine's FitDiagnostics stores the observed data of every channel as a
``TGraphAsymmErrors`` named ``data`` (``shapes_prefit/<channel>/data`` ...), and downstream plotting
scripts read it with ROOT. uproot 5 can *read* that class but its writable model stops with
``NotImplementedError("FIXME")`` (see ``uproot/models/TGraph.py``), and ``uproot.as_TGraph`` only
produces plain ``TGraph`` objects.

How: we subclass uproot's generated reading models ``Model_TGraph_v4`` and
``Model_TGraphAsymmErrors_v3`` and give them a complete ``_serialize``. Subclassing keeps three
things from uproot:

* the ``TStreamerInfo`` records (``class_rawstreamers``). They were captured by uproot from files
  written by ROOT itself, so the versions (TGraphAsymmErrors 3, TGraph 4, TNamed 1, TAttLine 2,
  TAttFill 2, TAttMarker 2, TList 5) and class checksums are ROOT's own; ``WritableDirectory`` adds
  them to the file's streamer list automatically when the object is written;
* the serializers of the base classes (TNamed, TAttLine, TAttFill, TAttMarker, TList), which uproot
  already uses for histograms and TGraph;
* the reading behaviours (``values()``, ``errors()``), handy in tests.

The byte layout written is the one ROOT's ``TBufferFile::WriteClassBuffer`` produces from those
streamers (member-wise order of the TStreamerInfo, each class with a byte count + version header)::

    TGraphAsymmErrors v3: [bytecount|version=3]
      TGraph v4:          [bytecount|version=4]
        TNamed v1         [bytecount|version=1] TObject(version, fUniqueID, fBits) fName fTitle
        TAttLine v2       [bytecount|version=2] fLineColor fLineStyle fLineWidth    (3 x int16)
        TAttFill v2       [bytecount|version=2] fFillColor fFillStyle               (2 x int16)
        TAttMarker v2     [bytecount|version=2] fMarkerColor fMarkerStyle (int16) fMarkerSize (f32)
        fNpoints                      int32
        fX, fY                        [fNpoints] double*: 1 "is array" byte, then fNpoints doubles
        fFunctions                    TList*  written as an object pointer (class tag + TList v5)
        fHistogram                    TH1F*   null pointer (4 zero bytes)
        fMinimum, fMaximum            double
      fEXlow, fEXhigh, fEYlow, fEYhigh  [fNpoints] double*, same layout as fX

The "is array" byte is ``1`` when the array is written and ``0`` when the pointer is null or
``fNpoints == 0`` (ROOT's ``WriteBasicPointer``); uproot's TGraph writer always writes ``1`` which is
harmless, we follow ROOT. ``uproot`` is imported at module level on purpose: this module is only
imported when an output file is actually written.
"""

from __future__ import annotations

import struct

import numpy as np
import uproot
import uproot.models.TGraph
import uproot.serialization
import uproot.writing.identify
from numpy.typing import ArrayLike

__all__ = [
    "WritableTGraph",
    "WritableTGraphAsymmErrors",
    "make_tgraph_asymm_errors",
]

_INT32 = struct.Struct(">i")
_TWO_DOUBLES = struct.Struct(">dd")
_NULL_POINTER = b"\x00\x00\x00\x00"

# ROOT's defaults for a graph created with ``new TGraphAsymmErrors(n)`` under the default style:
# TAttLine() -> (1, 1, 1), TGraph's TAttFill(0, 1000), TAttMarker() -> (1, 1, 1.0).
DEFAULT_LINE = (1, 1, 1)
DEFAULT_FILL = (0, 1000)
DEFAULT_MARKER = (1, 1, 1.0)
#: ROOT's "not set" value for fMinimum/fMaximum (TGraph::SetMinimum/SetMaximum never called).
UNSET_RANGE = -1111.0


def _double_pointer_array(values: np.ndarray) -> list[bytes]:
    """Serialize a ``Double_t *f; //[fNpoints]`` member like ROOT's WriteBasicPointer."""
    if len(values) == 0:
        return [b"\x00"]
    return [b"\x01", values.astype(">f8").tobytes()]


class WritableTGraph(uproot.models.TGraph.Model_TGraph_v4):
    """uproot model of ``TGraph`` version 4 with a ROOT-faithful serializer.

    Used as the base-class part of :class:`WritableTGraphAsymmErrors`; it can also be written on
    its own. Members: ``fNpoints``, ``fX``, ``fY``, ``fMinimum``, ``fMaximum``; ``fFunctions`` is
    always written as an empty TList and ``fHistogram`` as a null pointer (what ROOT writes for a
    graph that was never drawn).
    """

    _deeply_writable = True

    @property
    def encoded_classname(self) -> str:
        # uproot derives the C++ class name and version from this string; keep ROOT's.
        return "Model_TGraph_v4"

    def _serialize(self, out, header, name, tobject_flags):  # noqa: D401 - uproot hook
        where = len(out)
        for base in self._bases:  # TNamed, TAttLine, TAttFill, TAttMarker
            base._serialize(out, True, name, tobject_flags)
        n = int(self._members["fNpoints"])
        out.append(_INT32.pack(n))
        out.extend(_double_pointer_array(self._members["fX"]))
        out.extend(_double_pointer_array(self._members["fY"]))
        # fFunctions: TList* (no "->"), streamed as an object pointer with a class tag
        out.append(uproot.serialization.serialize_object_any(uproot.writing.identify.to_TList([])))
        out.append(_NULL_POINTER)  # fHistogram: TH1F*, never created
        out.append(_TWO_DOUBLES.pack(float(self._members["fMinimum"]), float(self._members["fMaximum"])))
        if header:
            num_bytes = sum(len(x) for x in out[where:])
            out.insert(where, uproot.serialization.numbytes_version(num_bytes, 4))


class WritableTGraphAsymmErrors(uproot.models.TGraph.Model_TGraphAsymmErrors_v3):
    """uproot model of ``TGraphAsymmErrors`` version 3 that uproot can write.

    Build instances with :func:`make_tgraph_asymm_errors`; write them with
    ``uproot_directory[path] = graph`` (``WritableDirectory`` accepts any deeply writable model and
    adds our ``class_rawstreamers`` to the file) or with
    :meth:`pycombine.outputs.root.file.RootFileWriter.put`.
    """

    _deeply_writable = True

    @property
    def encoded_classname(self) -> str:
        return "Model_TGraphAsymmErrors_v3"

    def _serialize(self, out, header, name, tobject_flags):  # noqa: D401 - uproot hook
        where = len(out)
        self._bases[0]._serialize(out, True, name, tobject_flags)  # TGraph v4, with its header
        for member in ("fEXlow", "fEXhigh", "fEYlow", "fEYhigh"):
            out.extend(_double_pointer_array(self._members[member]))
        if header:
            num_bytes = sum(len(x) for x in out[where:])
            out.insert(where, uproot.serialization.numbytes_version(num_bytes, 3))


def _as_1d_float64(value: ArrayLike, what: str, n: int | None) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0 and n is not None:
        arr = np.full(n, float(arr))
    if arr.ndim != 1:
        raise ValueError(f"TGraphAsymmErrors {what} must be one-dimensional, got shape {arr.shape}")
    arr = np.ascontiguousarray(arr)
    if n is not None and len(arr) != n:
        raise ValueError(f"TGraphAsymmErrors {what} has {len(arr)} entries, expected {n}")
    return arr


def _check_root_string(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    return value


def make_tgraph_asymm_errors(
    x: ArrayLike,
    y: ArrayLike,
    exl: ArrayLike = 0.0,
    exh: ArrayLike = 0.0,
    eyl: ArrayLike = 0.0,
    eyh: ArrayLike = 0.0,
    *,
    name: str = "Graph",
    title: str = "Graph",
    minimum: float = UNSET_RANGE,
    maximum: float = UNSET_RANGE,
    line: tuple[int, int, int] = DEFAULT_LINE,
    fill: tuple[int, int] = DEFAULT_FILL,
    marker: tuple[int, int, float] = DEFAULT_MARKER,
) -> WritableTGraphAsymmErrors:
    """Build a writable ``TGraphAsymmErrors`` (errors may be scalars, broadcast to all points).

    ``name``/``title`` default to ROOT's ("Graph"); note that writing to ``directory[path]`` renames
    the object to the last path component, as ROOT's ``TDirectory::WriteTObject(obj, name)`` does.
    ``minimum``/``maximum`` default to ROOT's unset value -1111 so that ROOT auto-scales the axis.
    ``line`` = (color, style, width), ``fill`` = (color, style), ``marker`` = (color, style, size).
    The title is stored verbatim (no ``;xtitle;ytitle`` splitting, unlike ``uproot.as_TGraph``).
    """
    xs = _as_1d_float64(x, "x", None)
    n = len(xs)
    ys = _as_1d_float64(y, "y", n)
    errors = {
        "fEXlow": _as_1d_float64(exl, "exl", n),
        "fEXhigh": _as_1d_float64(exh, "exh", n),
        "fEYlow": _as_1d_float64(eyl, "eyl", n),
        "fEYhigh": _as_1d_float64(eyh, "eyh", n),
    }

    tobject = uproot.models.TObject.Model_TObject.empty()
    tnamed = uproot.models.TNamed.Model_TNamed.empty()
    tnamed._deeply_writable = True
    tnamed._bases.append(tobject)
    tnamed._members["fName"] = _check_root_string(name, "name")
    tnamed._members["fTitle"] = _check_root_string(title, "title")

    tattline = uproot.models.TAtt.Model_TAttLine_v2.empty()
    tattline._deeply_writable = True
    tattline._members["fLineColor"], tattline._members["fLineStyle"], tattline._members["fLineWidth"] = (
        int(v) for v in line
    )
    tattfill = uproot.models.TAtt.Model_TAttFill_v2.empty()
    tattfill._deeply_writable = True
    tattfill._members["fFillColor"], tattfill._members["fFillStyle"] = (int(v) for v in fill)
    tattmarker = uproot.models.TAtt.Model_TAttMarker_v2.empty()
    tattmarker._deeply_writable = True
    tattmarker._members["fMarkerColor"] = int(marker[0])
    tattmarker._members["fMarkerStyle"] = int(marker[1])
    tattmarker._members["fMarkerSize"] = float(marker[2])

    graph = WritableTGraph.empty()
    graph._bases.extend([tnamed, tattline, tattfill, tattmarker])
    graph._members["fNpoints"] = n
    graph._members["fX"] = xs
    graph._members["fY"] = ys
    graph._members["fFunctions"] = None  # written as an empty TList, see WritableTGraph
    graph._members["fHistogram"] = None
    graph._members["fMinimum"] = float(minimum)
    graph._members["fMaximum"] = float(maximum)

    out = WritableTGraphAsymmErrors.empty()
    out._bases.append(graph)
    out._members.update(errors)
    return out
