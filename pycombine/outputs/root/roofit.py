"""RooFit objects without ROOT: ``RooRealVar`` in ``RooArgSet``/``RooArgList``, and ``RooFitResult``.

Why this module exists: Combine's ``fitDiagnostics*.root`` holds ``fit_s``/``fit_b`` as
RooFitResult and ``nuisances_prefit``/``norm_*`` as RooArgSet, and the code people run on it reads
them through ROOT (``fit_s.floatParsFinal()``, ``correlationHist()``, ``norm_fit_s.find(...)``,
combine_postfits, Combine's ``diffNuisances.py``). uproot has no models for these classes (RooRealVar
is streamed by hand-written code, without a StreamerInfo), so the bytes are written here. They are
the bytes ROOT 6.40 writes for the same objects (the tests build the same objects with the real
ROOT and compare byte for byte); the StreamerInfo records the file needs are
:mod:`.roofit_streamers`.

Plain data in: :class:`RealVar` (a RooRealVar: value, errors, range, constant flag, attributes, named
ranges), :class:`ArgSet` (a RooArgSet/RooArgList of them), :class:`FitResult` (a RooFitResult:
status, covQual, minNll, edm, constant/initial/final parameters, covariance; the correlation matrix
and global correlations are derived). :func:`write_roofit` writes one into an uproot directory,
with the ``ProcessID0`` object ROOT writes beside RooFit objects (their ``TRefArray`` members
reference it).

Layout (``[n|v]`` = 4-byte byte count with ``kByteCountMask`` + 2-byte version; strings as TString;
object pointers = byte count, class tag (``kNewClassTag`` + name, or a reference to the first tag
of that class: its offset in the key buffer + 2, with ``kClassMask``), object; all big-endian)::

    RooArgSet/RooArgList v1 [n|1] RooAbsCollection [n|3]: TObject, RooPrintable [n|1],
        _list vector<RooAbsArg*> [n|10] size, pointers; _ownCont, _name, _allRRV
    RooRealVar [n|10]: RooAbsRealLValue [n|1]: RooAbsReal [n|3]: RooAbsArg [n|9]:
            TNamed [n|1], RooPrintable, 4 x RooSTLRefCountList [n|3] (two empty vectors),
            _proxyList RooRefArray [n|1] TRefArray [n|1] (empty, process id 0),
            _boolAttrib set<string> [n|10], _stringAttrib map<string,string> (member-wise: keys,
            values),
            _valueDirty, _shapeDirty, _operMode, _fast
          _plotMin _plotMax _plotBins _value _unit _label _forceNumInt _specIntegratorConfig=null
        RooAbsLValue [n|1]
      _error _asymErrLo _asymErrHi, _binning* (RooUniformBinning [n|1]: RooAbsBinning [n|2]
      (TNamed, RooPrintable), xlo xhi nbins=100 binw), RooRealVarSharedProperties [n|2]
      (RooSharedProperties [n|1]: TObject, TUUID [n|1]; _altBinning unordered_map<string,
      RooAbsBinning*> member-wise: names, RooRangeBinning [n|1] pointers)
    RooFitResult [n|5]: TNamed, RooPrintable, RooDirItem [n|1], _status _covQual _numBadNLL
        _minNLL _edm, _constPars _initPars _finalPars (RooArgList*), _CM _VM
        (TMatrixTSym<double>*: TMatrixTBase [n|5] header, then the upper triangle row by row),
        _GC (TVectorT<double>* [n|4]), _statusHistory vector<pair<string,int>> (member-wise)

Keys are written with 64-bit seeks (TKey v1004), as our trees, so the class references (offsets in
the key buffer, which starts with the key header) do not depend on where the object lands.
uproot is imported only by :func:`write_roofit`.
"""

from __future__ import annotations

import os
import struct
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .roofit_data import ArgSet, FitResult, RealVar, correlation_matrix, global_correlations

__all__ = ["ArgSet", "FitResult", "RealVar", "correlation_matrix", "global_correlations", "serialize", "write_roofit"]

_BYTE_COUNT_MASK = 0x40000000
_CLASS_MASK = 0x80000000
_NEW_CLASS_TAG = 0xFFFFFFFF
_MAP_OFFSET = 2
_MAX_BYTE_COUNT = 0x3FFFFFFE
_MEMBERWISE = 0x4000  # kStreamedMemberWise, in the version of a member-wise STL collection
_STL_VERSION = 10  # the version ROOT 6 writes in front of STL collections
_TOBJECT = b"\x00\x01" + b"\x00" * 8  # TObject v1, fUniqueID 0, fBits 0 (what RooFit objects carry)
_KEY_BIG_FIXED = 34  # TKey v1004 header before the class name, object name and title strings
_DBL_EPSILON = 2.220446049250313e-16  # TMatrixTBase::fTol
_PLOT_BINS = 100  # RooAbsReal::_plotBins and the bins of RooRealVar's default binning
#: checksums of the pair classes of the member-wise collections (from their StreamerInfo records)
_PAIR_STRING_STRING = 0x4FD9D742
_PAIR_STRING_BINNING = 0x0B5FB752
_PAIR_STRING_INT = 0x3A5A6572

#: title ROOT gives the key of a RooArgSet (TObject::GetTitle: the class description)
ARGSET_TITLE = "Set of RooAbsArg objects"


# ------------------------------------------------------------------------------------ the buffer


class _Buffer:
    """A TBufferFile being written: the bytes, the key-header displacement and the class tags."""

    def __init__(self, displacement: int):
        self.data = bytearray()
        self.displacement = displacement
        self.classes: dict[str, int] = {}

    def raw(self, b: bytes) -> None:
        self.data += b

    def i16(self, v: int) -> None:
        self.data += struct.pack(">h", v)

    def u16(self, v: int) -> None:
        self.data += struct.pack(">H", v)

    def i32(self, v: int) -> None:
        self.data += struct.pack(">i", v)

    def u32(self, v: int) -> None:
        self.data += struct.pack(">I", v)

    def f64(self, v: float) -> None:
        self.data += struct.pack(">d", v)

    def flag(self, v: bool) -> None:
        self.data += b"\x01" if v else b"\x00"

    def string(self, s: str) -> None:
        """TString / std::string: 1-byte length (255: a 4-byte length follows), then the bytes."""
        b = s.encode("utf-8", errors="surrogateescape")
        if len(b) < 255:
            self.data += bytes((len(b),))
        else:
            self.data += b"\xff" + struct.pack(">I", len(b))
        self.data += b

    def begin(self, version: int) -> int:
        """Open a [byte count | version] block; returns its position for :meth:`end`."""
        pos = len(self.data)
        self.data += b"\x00\x00\x00\x00" + struct.pack(">H", version)
        return pos

    def end(self, pos: int) -> None:
        count = len(self.data) - pos - 4
        if count > _MAX_BYTE_COUNT:
            raise ValueError(f"RooFit object record of {count} bytes exceeds ROOT's 1 GiB limit")
        self.data[pos:pos + 4] = struct.pack(">I", count | _BYTE_COUNT_MASK)

    def empty(self, version: int = 1) -> None:
        """A base class without members (RooPrintable, RooDirItem, RooAbsLValue)."""
        self.end(self.begin(version))

    def pointer(self, classname: str, body: Callable[[], None]) -> None:
        """An object pointer: byte count, class tag (new or a reference), the object."""
        pos = len(self.data)
        self.data += b"\x00\x00\x00\x00"
        ref = self.classes.get(classname)
        if ref is None:
            self.classes[classname] = len(self.data) + self.displacement + _MAP_OFFSET
            self.u32(_NEW_CLASS_TAG)
            self.data += classname.encode() + b"\x00"
        else:
            self.u32(ref | _CLASS_MASK)
        body()
        self.end(pos)

    def null(self) -> None:
        self.data += b"\x00\x00\x00\x00"

    def tnamed(self, name: str, title: str) -> None:
        p = self.begin(1)
        self.raw(_TOBJECT)
        self.string(name)
        self.string(title)
        self.end(p)


# ------------------------------------------------------------------------------------ RooRealVar


def _ref_count_list(o: _Buffer) -> None:
    """An empty RooSTLRefCountList<RooAbsArg> (a variable of a snapshot has no servers or clients)."""
    p = o.begin(3)
    for _ in range(2):  # _storage, _refCount
        q = o.begin(_STL_VERSION)
        o.i32(0)
        o.end(q)
    o.end(p)


def _ref_array(o: _Buffer) -> None:
    """RooAbsArg::_proxyList: an empty RooRefArray (TRefArray with process id 0)."""
    p = o.begin(1)
    q = o.begin(1)
    o.raw(_TOBJECT)
    o.string("")
    o.i32(0)  # entries
    o.i32(0)  # fLowerBound
    o.u16(0)  # process id: ProcessID0
    o.end(q)
    o.end(p)


def _memberwise_header(o: _Buffer, checksum: int, n: int) -> int:
    """Start of a member-wise STL collection of pairs: version, class checksum, size."""
    p = o.begin(_STL_VERSION | _MEMBERWISE)
    o.i16(0)  # the pair's class version is not stored ...
    o.u32(checksum)  # ... its checksum is
    o.i32(n)
    return p


def _strings(o: _Buffer, items: Sequence[str], count: bool) -> None:
    p = o.begin(_STL_VERSION)
    if count:
        o.i32(len(items))
    for s in items:
        o.string(s)
    o.end(p)


def _abs_binning(o: _Buffer, name: str) -> None:
    p = o.begin(2)
    o.tnamed(name, name)
    o.empty()  # RooPrintable
    o.end(p)


def _uniform_binning(o: _Buffer, lo: float, hi: float) -> None:
    p = o.begin(1)
    _abs_binning(o, "")
    o.f64(lo)
    o.f64(hi)
    o.i32(_PLOT_BINS)
    o.f64((hi - lo) / _PLOT_BINS)
    o.end(p)


def _range_binning(o: _Buffer, name: str, lo: float, hi: float) -> None:
    p = o.begin(1)
    _abs_binning(o, name)
    o.f64(lo)
    o.f64(hi)
    o.end(p)


def _shared_properties(o: _Buffer, var: RealVar) -> None:
    ident = var.uuid if var.uuid is not None else new_uuid()
    if len(ident) != 16:
        raise ValueError(f"RooRealVar {var.name!r}: a UUID has 16 bytes, got {len(ident)}")
    p = o.begin(2)  # RooRealVarSharedProperties
    q = o.begin(1)  # RooSharedProperties
    o.raw(_TOBJECT)
    u = o.begin(1)  # TUUID
    o.raw(ident)
    o.end(u)
    o.end(q)
    names = list(var.ranges)
    m = _memberwise_header(o, _PAIR_STRING_BINNING, len(names))
    if names:
        _strings(o, names, count=False)
        for n in names:
            lo, hi = var.ranges[n]
            o.pointer("RooRangeBinning", lambda n=n, lo=lo, hi=hi: _range_binning(o, n, float(lo), float(hi)))
    o.end(m)
    o.end(p)


def _constant_bytes(write: Callable[[_Buffer], None]) -> bytes:
    """Bytes that are the same in every variable (no class tags inside: no displacement)."""
    o = _Buffer(0)
    write(o)
    return bytes(o.data)


def _links(o: _Buffer) -> None:
    o.empty()  # RooPrintable
    for _ in range(4):  # _serverList, _clientList, _clientListShape, _clientListValue
        _ref_count_list(o)
    _ref_array(o)


def _string_map(o: _Buffer, items: dict[str, str]) -> None:
    """A std::map<std::string, std::string> member-wise: the keys, then the values (key order)."""
    keys = sorted(items, key=lambda k: k.encode())
    p = _memberwise_header(o, _PAIR_STRING_STRING, len(keys))
    if keys:
        _strings(o, keys, count=False)
        _strings(o, [items[k] for k in keys], count=False)
    o.end(p)


def _arg_tail(o: _Buffer) -> None:
    o.flag(True)  # _valueDirty
    o.flag(True)  # _shapeDirty
    o.i32(0)  # _operMode: Auto
    o.flag(True)  # _fast


#: RooAbsArg between its TNamed and _boolAttrib, and after _stringAttrib
_ARG_LINKS = _constant_bytes(_links)
_ARG_TAIL = _constant_bytes(_arg_tail)


def _real_var(o: _Buffer, v: RealVar) -> None:
    attributes = set(v.attributes)
    if v.constant:
        attributes.add("Constant")
    p_var = o.begin(10)  # RooRealVar
    p_lvalue = o.begin(1)  # RooAbsRealLValue
    p_real = o.begin(3)  # RooAbsReal
    p_arg = o.begin(9)  # RooAbsArg
    o.tnamed(v.name, v.name if v.title is None else v.title)
    o.raw(_ARG_LINKS)
    # _boolAttrib: std::set<std::string>, i.e. sorted byte-wise
    _strings(o, sorted(attributes, key=lambda s: s.encode()), count=True)
    _string_map(o, v.string_attributes)  # _stringAttrib
    o.raw(_ARG_TAIL)
    o.end(p_arg)
    o.f64(0.0)  # _plotMin
    o.f64(0.0)  # _plotMax
    o.i32(_PLOT_BINS)
    o.f64(float(v.value))
    o.string("")  # _unit
    o.string("")  # _label
    o.flag(False)  # _forceNumInt
    o.null()  # _specIntegratorConfig
    o.end(p_real)
    o.empty()  # RooAbsLValue
    o.end(p_lvalue)
    o.f64(float(v.error))
    o.f64(float(v.asym_lo))
    o.f64(float(v.asym_hi))
    lo, hi = float(v.lo), float(v.hi)
    o.pointer("RooUniformBinning", lambda: _uniform_binning(o, lo, hi))
    _shared_properties(o, v)
    o.end(p_var)


def _real_var_pointers(variables: list[RealVar], classes: dict) -> bytes:
    """The object pointers of ``variables`` (the RooRealVar and RooUniformBinning class tags
    written before, ``classes``), assembled by :func:`.roofit_batch.real_var_pointers` from
    templates that :func:`_real_var` writes."""
    from .roofit_batch import real_var_pointers

    def pointer(v: RealVar) -> bytes:
        o = _Buffer(0)
        o.classes = dict(classes)  # every class tag a reference: the bytes do not depend on the position
        o.pointer("RooRealVar", lambda: _real_var(o, v))
        return bytes(o.data)

    return real_var_pointers(variables, pointer, lambda lo, hi: (hi - lo) / _PLOT_BINS, new_uuid)


def _collection(o: _Buffer, s: ArgSet) -> None:
    p = o.begin(1)  # RooArgSet / RooArgList
    q = o.begin(3)  # RooAbsCollection
    o.raw(_TOBJECT)
    o.empty()  # RooPrintable
    v = o.begin(_STL_VERSION)  # _list: vector<RooAbsArg*>
    o.i32(len(s.variables))
    batch: list[RealVar] = []  # variables for _real_var_pointers once both class tags are written
    for var in s.variables:
        if "RooUniformBinning" in o.classes and not (var.ranges or var.string_attributes):
            batch.append(var)
            continue
        if batch:
            o.raw(_real_var_pointers(batch, o.classes))
            batch = []
        o.pointer("RooRealVar", lambda var=var: _real_var(o, var))
    if batch:
        o.raw(_real_var_pointers(batch, o.classes))
    o.end(v)
    o.flag(s.owned)
    o.string(s.name)
    o.flag(True)  # _allRRV: only RooRealVars
    o.end(q)
    o.end(p)


# ------------------------------------------------------------------------------------ RooFitResult


def _sym_matrix(o: _Buffer, m: np.ndarray) -> None:
    """TMatrixTSym<double>: the TMatrixTBase header, then the upper triangle row by row."""
    n = m.shape[0]
    p = o.begin(5)  # TMatrixTBase<double>
    o.raw(_TOBJECT)
    for v in (n, n, 0, 0, n * n, 0):  # fNrows fNcols fRowLwb fColLwb fNelems fNrowIndex
        o.i32(v)
    o.f64(_DBL_EPSILON)
    o.end(p)
    # the upper triangle in row order (one array, not one bytes object per row)
    upper = np.asarray(m, dtype=float)[~np.tri(n, n, -1, dtype=bool)]
    o.raw(upper.astype(">f8").tobytes())


def _vector(o: _Buffer, v: np.ndarray) -> None:
    p = o.begin(4)  # TVectorT<double>
    o.raw(_TOBJECT)
    o.i32(v.size)
    o.i32(0)  # fRowLwb
    if v.size:
        o.raw(b"\x01" + np.ascontiguousarray(v, dtype=">f8").tobytes())
    else:
        o.raw(b"\x00")
    o.end(p)


def _fit_result(o: _Buffer, r: FitResult) -> None:
    n = len(r.final)
    cov = None if r.covariance is None else np.asarray(r.covariance, dtype=float)
    if cov is not None and cov.shape != (n, n):
        raise ValueError(f"RooFitResult {r.name!r}: covariance of shape {cov.shape} for {n} parameters")
    p = o.begin(5)
    o.tnamed(r.name, r.title)
    o.empty()  # RooPrintable
    o.empty()  # RooDirItem
    o.i32(int(r.status))
    o.i32(int(r.cov_quality))
    o.i32(int(r.num_bad_nll))
    o.f64(float(r.min_nll))
    o.f64(float(r.edm))
    for pars in (r.constant, r.initial, r.final):
        # snapshots of the parameter lists: an empty snapshot owns nothing
        lst = ArgSet(pars, owned=bool(pars), classname="RooArgList")
        o.pointer("RooArgList", lambda lst=lst: _collection(o, lst))
    if cov is None:
        o.null()
        o.null()
        o.null()
    else:
        corr = correlation_matrix(cov)
        o.pointer("TMatrixTSym<double>", lambda: _sym_matrix(o, corr))
        o.pointer("TMatrixTSym<double>", lambda: _sym_matrix(o, cov))
        gc = global_correlations(cov)
        o.pointer("TVectorT<double>", lambda: _vector(o, gc))
    h = _memberwise_header(o, _PAIR_STRING_INT, len(r.history))
    if r.history:
        _strings(o, [label for label, _ in r.history], count=False)
        for _, code in r.history:
            o.i32(int(code))
    o.end(h)
    o.end(p)


def _process_id(o: _Buffer, title: str) -> None:
    p = o.begin(1)  # TProcessID
    o.tnamed("ProcessID0", title)
    o.end(p)


# ------------------------------------------------------------------------------------ writing


def new_uuid() -> bytes:
    """A time-based UUID (as ROOT's TUUID) with a random node, as 16 bytes."""
    return uuid.uuid1(node=int.from_bytes(os.urandom(6), "big") | 0x010000000000).bytes


def _describe(obj: Any) -> tuple[str, str, Callable[[_Buffer], None]]:
    if isinstance(obj, FitResult):
        return "RooFitResult", obj.title, lambda o: _fit_result(o, obj)
    if isinstance(obj, ArgSet):
        return obj.classname, ARGSET_TITLE, lambda o: _collection(o, obj)
    raise TypeError(f"cannot write a {type(obj).__name__} as a RooFit object")


def _key_length(classname: str, name: str, title: str) -> int:
    def size(s: str) -> int:
        n = len(s.encode("utf-8", errors="surrogateescape"))
        return n + (1 if n < 255 else 5)

    return _KEY_BIG_FIXED + size(classname) + size(name) + size(title)


def serialize(obj: FitResult | ArgSet, key_name: str, key_length: int | None = None) -> tuple[str, str, bytearray]:
    """(class name, key title, object bytes) of ``obj`` written under the key ``key_name``; the
    buffer itself, not a copy (a large fit's is tens of MB).

    ``key_length``: the length of the key header in front of the object (default: a TKey with
    64-bit seeks, as :func:`write_roofit` writes); class references are offsets from its start.
    """
    classname, title, body = _describe(obj)
    o = _Buffer(_key_length(classname, key_name, title) if key_length is None else key_length)
    body(o)
    return classname, title, o.data


def _add_key(directory: Any, classname: str, name: str, title: str, data: bytes) -> None:
    import uproot.compression

    cascading = directory._cascading
    sink = directory.file.sink
    compressed = uproot.compression.compress(data, directory.file.compression)
    key = cascading.add_object(sink, classname, name, title, compressed, len(data), big=True)
    if key.num_bytes != _key_length(classname, name, title):  # the class references assume it
        raise RuntimeError(f"unexpected key length {key.num_bytes} for {name!r}")
    sink.flush()


def write_roofit(directory: Any, name: str, obj: FitResult | ArgSet) -> None:
    """Write ``obj`` as the key ``name`` of an uproot ``WritableDirectory``.

    Registers the StreamerInfo records of the RooFit classes and, once per file, writes the
    ``ProcessID0`` object (a TProcessID in the top directory, as ROOT does for the first object
    holding a TRefArray).
    """
    from .roofit_streamers import raw_streamers

    if directory.file.sink.closed:
        raise ValueError("cannot write to a closed file")
    if "/" in name or ";" in name or not name:
        raise ValueError(f"invalid object name {name!r}")
    classname, title, data = serialize(obj, name)
    data = bytes(data)
    directory.file.update_streamers(raw_streamers())
    top = directory.file.root_directory
    if top._cascading.data.get_key("ProcessID0", None) is None:
        pid_title = str(uuid.UUID(bytes=new_uuid()))
        o = _Buffer(_key_length("TProcessID", "ProcessID0", pid_title))
        _process_id(o, pid_title)
        _add_key(top, "TProcessID", "ProcessID0", pid_title, bytes(o.data))
    _add_key(directory, classname, name, title, data)
