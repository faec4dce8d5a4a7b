"""The real ROOT's side of tests/test_roofit_objects.py: run by a Python that has ROOT (PyPI ``root``).

Kept out of the test process (ROOT's import takes seconds and installs its own signal and error
handlers), so the tests call it as a script::

    python roofit_root_helper.py write SPEC.json OUT.root   # build a spec's objects with RooFit
    python roofit_root_helper.py read OUT.json FILE.root... # what ROOT reads from every key
    python roofit_root_helper.py streamers OUT.py FILE.root...  # pycombine/outputs/root/roofit_streamers.py

``write`` builds RooRealVars, RooArgSets (snapshots or owned sets) and RooFitResults (through a
subclass that reaches RooFitResult's protected setters, then copied into a plain RooFitResult)
exactly as a spec describes them, so that pycombine's bytes for the same spec can be compared with
ROOT's. ``read`` opens a file with ROOT, reads every key recursively (ROOT's own warnings and
errors go to stderr, which the tests check) and reports what the RooFit accessors return.
"""

from __future__ import annotations

import json
import math
import sys
import warnings

warnings.filterwarnings("ignore", message=r"(?s).*alpha stage")  # the PyPI ROOT's banner

import ROOT  # noqa: E402

ROOT.gROOT.SetBatch(True)
ROOT.TH1.AddDirectory(False)  # histograms made here (correlationHist) stay out of the file

_MAKER = r'''
#include "RooFitResult.h"
#include "TMatrixDSym.h"
#include <vector>
struct PycombineFitResultMaker : public RooFitResult {
  PycombineFitResultMaker(const char* n, const char* t) : RooFitResult(n, t) {}
  void pcConst(const RooArgList& l) { setConstParList(l); }
  void pcInit(const RooArgList& l) { setInitParList(l); }
  void pcFinal(const RooArgList& l) { setFinalParList(l); }
  void pcCov(const std::vector<double>& gc, TMatrixDSym& corr, TMatrixDSym& cov) { fillCorrMatrix(gc, corr, cov); }
  void pcStatus(int s, int q, int nb, double nll, double edm) {
    setStatus(s); setCovQual(q); setNumInvalidNLL(nb); setMinNLL(nll); setEDM(edm);
  }
  void pcHistory(const char* label, int s) { _statusHistory.emplace_back(label, s); }
};
'''


def _num(v, default):
    return default if v is None else float(v)


def make_var(d: dict):
    lo, hi = _num(d.get("lo"), -math.inf), _num(d.get("hi"), math.inf)
    title = d.get("title", d["name"])
    if d.get("value_only"):  # RooRealVar(name, title, value): constant, unbounded
        v = ROOT.RooRealVar(d["name"], title, float(d["value"]))
    else:
        v = ROOT.RooRealVar(d["name"], title, float(d["value"]), lo, hi)
    if d.get("error") is not None and d["error"] != -1:
        v.setError(float(d["error"]))
    if d.get("asym") is not None:
        v.setAsymError(float(d["asym"][0]), float(d["asym"][1]))
    v.setConstant(bool(d.get("constant", False)))
    for a in d.get("attributes", []):
        v.setAttribute(a)
    for k, val in d.get("string_attributes", {}).items():
        v.setStringAttribute(k, val)
    for k, (a, b) in d.get("ranges", {}).items():
        v.setRange(k, a, b)
    v.setVal(float(d["value"]))
    return v


_keep: list = []


def _arglist(vs):
    lst = ROOT.RooArgList()
    for d in vs:
        v = make_var(d)
        _keep.append(v)
        lst.add(v)
    return lst


def write(spec_path: str, out_path: str) -> None:
    ROOT.gInterpreter.Declare(_MAKER)
    spec = json.load(open(spec_path))
    f = ROOT.TFile.Open(out_path, "RECREATE")
    for o in spec["objects"]:
        if o["type"] == "RooArgSet":
            if o.get("snapshot"):
                s = ROOT.RooArgSet(_arglist(o["vars"])).snapshot()
            else:
                s = ROOT.RooArgSet()
                for d in o["vars"]:
                    s.addOwned(make_var(d))
            if o.get("name"):
                s.setName(o["name"])
            _keep.append(s)
            f.WriteTObject(s, o["key"])
        elif o["type"] == "RooFitResult":
            m = ROOT.PycombineFitResultMaker(o["name"], o["title"])
            m.pcConst(_arglist(o["const"]))
            m.pcInit(_arglist(o["init"]))
            m.pcFinal(_arglist(o["final"]))
            n = len(o["final"])
            if o.get("cov") is not None:
                cov = ROOT.TMatrixDSym(n)
                corr = ROOT.TMatrixDSym(n)
                for i in range(n):
                    for j in range(n):
                        cov[i][j] = o["cov"][i][j]
                        corr[i][j] = o["corr"][i][j]
                gc = ROOT.std.vector("double")()
                for g in o["gc"]:
                    gc.push_back(g)
                m.pcCov(gc, corr, cov)
            m.pcStatus(o["status"], o["covQual"], o["numBadNLL"], o["minNll"], o["edm"])
            for label, s in o.get("history", []):
                m.pcHistory(label, s)
            final = m.floatParsFinal()
            for d in o["final"]:  # Combine sets err68 on the result's own variables
                for k, (a, b) in d.get("post_ranges", {}).items():
                    final.find(d["name"]).setRange(k, a, b)
            r = ROOT.RooFitResult(m)
            _keep.append(r)
            f.WriteTObject(r, o["key"])
    f.Close()


def streamer_records(paths: list[str]) -> list[tuple[str, int, bytes]]:
    """(class, version, record) of every StreamerInfo of ROOT-written files, serialised as uproot does."""
    import uproot
    import uproot.serialization

    seen, out = set(), []
    for p in paths:
        with uproot.open(p) as f:
            for name, versions in f.file.streamers.items():
                for v, si in versions.items():
                    if (name, v) in seen:
                        continue
                    seen.add((name, v))
                    out.append((name, v, uproot.serialization.serialize_object_any(si, si.name) + b"\x00"))
    return out


def render_streamers_module(recs, root_version: str) -> str:
    """The text of pycombine/outputs/root/roofit_streamers.py for these records."""
    import base64
    import textwrap
    import zlib

    blob = b"".join(r[2] for r in recs)
    enc = base64.b64encode(zlib.compress(blob, 9)).decode()
    lines = textwrap.wrap(enc, 96)
    index = ",\n".join(f"    ({n!r}, {v}, {len(r)})" for n, v, r in recs)
    body = "\n".join(f'    "{l}"' for l in lines)
    return _STREAMERS_TEMPLATE.format(root_version=root_version, index=index, body=body)


_STREAMERS_TEMPLATE = '''"""StreamerInfo records of the RooFit classes pycombine writes (:mod:`.roofit`), as ROOT {root_version} writes them.

A file holding RooFitResult/RooArgSet objects must list the StreamerInfo of every class whose
members are streamed by ROOT's generic code (RooAbsArg, RooAbsCollection, RooFitResult,
TMatrixTBase<double>, ...), so that any ROOT version can read it. These records were taken from a
file the real ROOT wrote with the same objects (re-serialised by uproot, as uproot's own models
carry theirs); ``tests/test_roofit_objects.py`` has ROOT write the objects again and fails if
these differ. Generated by ``python tests/roofit_root_helper.py streamers OUT.py FILE.root`` on the
file the helper's ``write`` mode makes from the test's spec; data only, zlib-compressed and
base64-encoded, with (class, version, size) of each record.
"""

from __future__ import annotations

import base64
import functools
import zlib

__all__ = ["RECORDS", "raw_streamers"]

#: (class name, class version, bytes) of every record, in the order ROOT lists them
RECORDS = [
{index},
]

_DATA = (
{body}
)


@functools.cache
def _blobs() -> tuple[tuple[str, int, bytes], ...]:
    data = zlib.decompress(base64.b64decode("".join(_DATA)))
    out, pos = [], 0
    for name, version, size in RECORDS:
        out.append((name, version, data[pos:pos + size]))
        pos += size
    if pos != len(data):
        raise RuntimeError("corrupt RooFit StreamerInfo records")
    return tuple(out)


def raw_streamers() -> list:
    """The records as uproot ``RawStreamerInfo`` objects (for ``WritableFile.update_streamers``)."""
    import uproot.writing._cascade

    return [uproot.writing._cascade.RawStreamerInfo(None, blob, name, version) for name, version, blob in _blobs()]
'''


def _var(v) -> dict:
    out = {
        "name": v.GetName(), "title": v.GetTitle(), "class": v.ClassName(), "value": v.getVal(),
        "error": v.getError(), "errorLo": v.getErrorLo(), "errorHi": v.getErrorHi(),
        "asymLo": v.getAsymErrorLo(), "asymHi": v.getAsymErrorHi(), "hasAsymError": bool(v.hasAsymError()),
        "hasError": bool(v.hasError()), "min": v.getMin(), "max": v.getMax(), "constant": bool(v.isConstant()),
        "attributes": sorted(str(a) for a in v.attributes()),
    }
    if v.hasRange("err68"):
        out["err68"] = [v.getMin("err68"), v.getMax("err68")]
    return out


def _collection(c) -> list[dict]:
    return [_var(v) for v in c]


def read(out_path: str, paths: list[str]) -> None:
    reports = {p: _read_file(p) for p in paths}
    with open(out_path, "w") as out:
        json.dump(reports, out)  # infinite ranges as Infinity


def _read_file(path: str) -> dict:
    f = ROOT.TFile.Open(path)
    report: dict = {"keys": {}, "cycles": [[k.GetName(), k.GetCycle()] for k in f.GetListOfKeys()]}

    def walk(d, prefix):
        for key in d.GetListOfKeys():
            name = prefix + key.GetName()
            obj = key.ReadObj()
            entry: dict = {"class": obj.ClassName()}
            if obj.InheritsFrom("TDirectory"):
                walk(obj, name + "/")
            elif obj.ClassName() == "RooFitResult":
                fpf = obj.floatParsFinal()
                names = [v.GetName() for v in fpf]
                entry.update(
                    status=obj.status(), covQual=obj.covQual(), minNll=obj.minNll(), edm=obj.edm(),
                    numInvalidNLL=obj.numInvalidNLL(), name=obj.GetName(), title=obj.GetTitle(),
                    final=_collection(fpf), initial=_collection(obj.floatParsInit()),
                    constant=_collection(obj.constPars()),
                    contents=fpf.contentsString(),
                    history=[[obj.statusLabelHistory(i), obj.statusCodeHistory(i)] for i in range(obj.numStatusHistory())],
                )
                report["keys"][name] = entry
                if not names:  # no floating parameter: no matrices (ROOT's accessors would crash)
                    continue
                n = len(names)
                entry.update(
                    correlation=[[obj.correlation(a, b) for b in names] for a in names],
                    covariance=[[obj.covarianceMatrix()[i][j] for j in range(n)] for i in range(n)],
                    globalCorr=[obj.globalCorr(a) for a in names],
                )
                h = obj.correlationHist()
                entry["correlationHist"] = {
                    "x": [h.GetXaxis().GetBinLabel(i + 1) for i in range(h.GetNbinsX())],
                    "y": [h.GetYaxis().GetBinLabel(i + 1) for i in range(h.GetNbinsY())],
                    "values": [[h.GetBinContent(i + 1, j + 1) for j in range(h.GetNbinsY())] for i in range(h.GetNbinsX())],
                }
            elif obj.ClassName() in ("RooArgSet", "RooArgList"):
                entry.update(size=obj.getSize(), name=obj.GetName(), vars=_collection(obj))
            elif obj.InheritsFrom("TTree"):
                entry.update(entries=obj.GetEntries(), branches=[b.GetName() for b in obj.GetListOfBranches()])
            elif obj.InheritsFrom("TH1"):
                entry.update(xtitle=obj.GetXaxis().GetTitle(), ytitle=obj.GetYaxis().GetTitle(),
                             ztitle=obj.GetZaxis().GetTitle(), title=obj.GetTitle(), entries=obj.GetEntries())
            report["keys"][name] = entry

    walk(f, "")
    f.Close()
    return report


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "streamers":  # regenerate the records module from a file `write` made
        with open(sys.argv[2], "w") as out:
            out.write(render_streamers_module(streamer_records(sys.argv[3:]), ROOT.gROOT.GetVersion()))
    elif sys.argv[1] == "read":
        read(sys.argv[2], sys.argv[3:])
    else:
        raise SystemExit(f"unknown mode {sys.argv[1]!r}")
