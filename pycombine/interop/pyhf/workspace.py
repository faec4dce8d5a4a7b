"""pyhf JSON workspaces (HistFactory, schema 1.0.0): reading, checking, JSON patches, patchsets.

A workspace is a JSON object with ``channels`` (samples with nominal yields and modifiers),
``observations`` (data per channel), ``measurements`` (the POI and parameter settings) and
``version``. :func:`read_workspace` reads one and checks the structure that the conversion relies
on, raising one-line errors (``file: what is wrong``). :func:`apply_patch` applies an RFC 6902 JSON
patch (operations add, remove, replace, copy, move, test); :func:`read_patchset` and
:func:`patchset_patch` read a HEPData patchset (``metadata``, ``patches``, ``version``) and pick a
patch by name. Only the standard library is used (no jsonschema, no pyhf).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ...errors import DatacardError

SCHEMA_VERSION = "1.0.0"
MODIFIER_TYPES = ("normfactor", "normsys", "histosys", "shapesys", "staterror", "lumi", "shapefactor")
WORKSPACE_KEYS = ("channels", "measurements", "observations", "version")


def is_pyhf_workspace(obj: Any) -> bool:
    """Whether a decoded JSON object looks like a pyhf workspace (has its four top-level keys)."""
    return isinstance(obj, dict) and all(k in obj for k in WORKSPACE_KEYS)


def read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise DatacardError("no such file", path) from None
    except OSError as exc:
        raise DatacardError(f"cannot read the file ({exc.strerror or exc})", path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatacardError(f"not valid JSON ({exc})", path) from None


def read_workspace(path: str) -> dict:
    """Read and check a pyhf workspace file."""
    ws = read_json(path)
    if not is_pyhf_workspace(ws):
        have = ", ".join(sorted(ws)) if isinstance(ws, dict) else type(ws).__name__
        raise DatacardError(f"not a pyhf workspace: it needs the keys {', '.join(WORKSPACE_KEYS)} (has: {have})", path)
    check_workspace(ws, path)
    return ws


def _fail(path: str, where: str, what: str):
    raise DatacardError(f"invalid pyhf workspace: {where}: {what}", path)


def _numbers(v, n=None) -> bool:
    ok = isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
    return ok and (n is None or len(v) == n)


def check_workspace(ws: dict, path: str) -> None:
    """The structure of schema 1.0.0 that the conversion uses (one-line errors naming the element)."""
    if str(ws.get("version")) != SCHEMA_VERSION:
        _fail(path, "version", f"{ws.get('version')!r} (supported: {SCHEMA_VERSION})")
    if not isinstance(ws["channels"], list) or not ws["channels"]:
        _fail(path, "channels", "must be a non-empty list")
    names = set()
    for ci, ch in enumerate(ws["channels"]):
        where = f"channels[{ci}]"
        if not isinstance(ch, dict) or not isinstance(ch.get("name"), str):
            _fail(path, where, "a channel needs a 'name'")
        if ch["name"] in names:
            _fail(path, where, f"channel name {ch['name']!r} repeated")
        names.add(ch["name"])
        samples = ch.get("samples")
        if not isinstance(samples, list) or not samples:
            _fail(path, f"channel {ch['name']}", "needs a non-empty list 'samples'")
        nbins = None
        for si, s in enumerate(samples):
            sw = f"channel {ch['name']} sample {si}"
            if not isinstance(s, dict) or not isinstance(s.get("name"), str):
                _fail(path, sw, "a sample needs a 'name'")
            sw = f"channel {ch['name']} sample {s['name']}"
            if not _numbers(s.get("data")) or not s["data"]:
                _fail(path, sw, "'data' must be a non-empty list of numbers")
            if nbins is None:
                nbins = len(s["data"])
            elif len(s["data"]) != nbins:
                _fail(path, sw, f"has {len(s['data'])} bins, the channel's first sample {nbins}")
            if not isinstance(s.get("modifiers"), list):
                _fail(path, sw, "needs a list 'modifiers'")
            for m in s["modifiers"]:
                _check_modifier(path, sw, m, nbins)
    obs_names = set()
    if not isinstance(ws["observations"], list):
        _fail(path, "observations", "must be a list")
    for oi, o in enumerate(ws["observations"]):
        if not isinstance(o, dict) or not isinstance(o.get("name"), str) or not _numbers(o.get("data")):
            _fail(path, f"observations[{oi}]", "needs a 'name' and a list of numbers 'data'")
        obs_names.add(o["name"])
    if not isinstance(ws["measurements"], list) or not ws["measurements"]:
        _fail(path, "measurements", "must be a non-empty list")
    for mi, m in enumerate(ws["measurements"]):
        if not isinstance(m, dict) or not isinstance(m.get("name"), str) or not isinstance(m.get("config"), dict):
            _fail(path, f"measurements[{mi}]", "needs a 'name' and a 'config'")
        cfg = m["config"]
        if not isinstance(cfg.get("poi"), str):
            _fail(path, f"measurement {m['name']}", "config needs a 'poi' (the parameter of interest)")
        for pi, p in enumerate(cfg.get("parameters", [])):
            pw = f"measurement {m['name']} parameters[{pi}]"
            if not isinstance(p, dict) or not isinstance(p.get("name"), str):
                _fail(path, pw, "a parameter setting needs a 'name'")
            for key in ("inits", "auxdata", "sigmas", "factors"):
                if key in p and not _numbers(p[key]):
                    _fail(path, f"{pw} ({p['name']})", f"'{key}' must be a list of numbers")
            if "bounds" in p and not (isinstance(p["bounds"], list) and all(_numbers(b, 2) for b in p["bounds"])):
                _fail(path, f"{pw} ({p['name']})", "'bounds' must be a list of [low, high] pairs")


def _check_modifier(path: str, where: str, m, nbins: int) -> None:
    if not isinstance(m, dict) or not isinstance(m.get("name"), str) or "type" not in m:
        _fail(path, where, "a modifier needs a 'name' and a 'type'")
    t = m["type"]
    mw = f"{where} modifier {m['name']}"
    if t not in MODIFIER_TYPES:
        _fail(path, mw, f"unknown modifier type {t!r} (known: {', '.join(MODIFIER_TYPES)})")
    d = m.get("data")
    if t == "normsys":
        if not (isinstance(d, dict) and all(isinstance(d.get(k), (int, float)) for k in ("hi", "lo"))):
            _fail(path, mw, "normsys 'data' must be {\"hi\": number, \"lo\": number}")
    elif t == "histosys":
        if not (isinstance(d, dict) and _numbers(d.get("hi_data"), nbins) and _numbers(d.get("lo_data"), nbins)):
            _fail(path, mw, f"histosys 'data' must be {{\"hi_data\": [...], \"lo_data\": [...]}} with {nbins} bins each")
    elif t in ("shapesys", "staterror"):
        if not _numbers(d, nbins):
            _fail(path, mw, f"{t} 'data' must be a list of {nbins} uncertainties")


# ---------------------------------------------------------------------- JSON patches (RFC 6902)
class PatchError(Exception):
    pass


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"JSON pointer {pointer!r} must start with '/'")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container: list, token: str, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise PatchError(f"{token!r} is not an array index")
    i = int(token)
    if i > len(container) or (i == len(container) and not allow_end):
        raise PatchError(f"array index {i} out of range (length {len(container)})")
    return i


def _parent(doc, pointer: str):
    toks = _tokens(pointer)
    if not toks:
        raise PatchError("the operation needs a path below the document root")
    node = doc
    for t in toks[:-1]:
        node = _get_child(node, t)
    return node, toks[-1]


def _get_child(node, t: str):
    if isinstance(node, dict):
        if t not in node:
            raise PatchError(f"no member {t!r}")
        return node[t]
    if isinstance(node, list):
        return node[_index(node, t, allow_end=False)]
    raise PatchError(f"cannot descend into a {type(node).__name__} at {t!r}")


def _get(doc, pointer: str):
    node = doc
    for t in _tokens(pointer):
        node = _get_child(node, t)
    return node


def _add(doc, pointer: str, value):
    if pointer == "":
        return value
    parent, t = _parent(doc, pointer)
    if isinstance(parent, dict):
        parent[t] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, t, allow_end=True), value)
    else:
        raise PatchError(f"cannot add to a {type(parent).__name__}")
    return doc


def _remove(doc, pointer: str):
    parent, t = _parent(doc, pointer)
    if isinstance(parent, dict):
        if t not in parent:
            raise PatchError(f"no member {t!r} to remove")
        return parent.pop(t)
    if isinstance(parent, list):
        return parent.pop(_index(parent, t, allow_end=False))
    raise PatchError(f"cannot remove from a {type(parent).__name__}")


def apply_patch(doc, operations: list, source: str = "<patch>"):
    """Apply an RFC 6902 JSON patch to a copy of ``doc`` and return it.

    A failing operation raises :class:`~pycombine.errors.DatacardError` naming the patch
    ``source``, the operation's index, its op and path, and the reason.
    """
    doc = copy.deepcopy(doc)
    if not isinstance(operations, list):
        raise DatacardError("a JSON patch must be a list of operations", source)
    for i, op in enumerate(operations):
        kind = op.get("op") if isinstance(op, dict) else None
        path = op.get("path") if isinstance(op, dict) else None
        try:
            if kind not in ("add", "remove", "replace", "copy", "move", "test") or not isinstance(path, str):
                raise PatchError("needs an 'op' (add, remove, replace, copy, move, test) and a string 'path'")
            if kind in ("add", "replace", "test") and "value" not in op:
                raise PatchError("needs a 'value'")
            if kind == "add":
                doc = _add(doc, path, copy.deepcopy(op["value"]))
            elif kind == "remove":
                _remove(doc, path)
            elif kind == "replace":
                if path == "":
                    doc = copy.deepcopy(op["value"])
                else:
                    _get(doc, path)  # must exist
                    parent, t = _parent(doc, path)
                    if isinstance(parent, dict):
                        parent[t] = copy.deepcopy(op["value"])
                    else:
                        parent[_index(parent, t, allow_end=False)] = copy.deepcopy(op["value"])
            elif kind in ("copy", "move"):
                frm = op.get("from")
                if not isinstance(frm, str):
                    raise PatchError("needs a string 'from'")
                if kind == "move" and (path + "/").startswith(frm + "/") and path != frm:
                    raise PatchError("cannot move a value into one of its children")
                value = copy.deepcopy(_get(doc, frm))
                if kind == "move":
                    _remove(doc, frm)
                doc = _add(doc, path, value)
            elif kind == "test":
                if _get(doc, path) != op["value"]:
                    raise PatchError(f"test failed: value is {_get(doc, path)!r}, expected {op['value']!r}")
        except PatchError as exc:
            raise DatacardError(f"JSON patch operation {i} ({kind} {path}): {exc}", source) from None
    return doc


# ---------------------------------------------------------------------- patchsets (HEPData)
def read_patchset(path: str) -> dict:
    ps = read_json(path)
    if not (isinstance(ps, dict) and isinstance(ps.get("patches"), list) and isinstance(ps.get("metadata"), dict)):
        raise DatacardError("not a pyhf patchset: it needs 'metadata', 'patches' and 'version'", path)
    for i, p in enumerate(ps["patches"]):
        if not (isinstance(p, dict) and isinstance(p.get("metadata"), dict) and isinstance(p["metadata"].get("name"), str)
                and isinstance(p.get("patch"), list)):
            raise DatacardError(f"patches[{i}]: a patch needs 'metadata' with a 'name' and a list 'patch'", path)
    return ps


def patchset_patch(ps: dict, name: str, path: str) -> list:
    """The operations of the patch called ``name`` (also accepted: its values, e.g. ``1000,100``)."""
    for p in ps["patches"]:
        if p["metadata"]["name"] == name:
            return p["patch"]
    for p in ps["patches"]:
        values = p["metadata"].get("values")
        if isinstance(values, list) and ",".join(_fmt(v) for v in values) == name.replace(" ", ""):
            return p["patch"]
    names = [p["metadata"]["name"] for p in ps["patches"]]
    shown = ", ".join(names[:10]) + (f", ... ({len(names)} patches)" if len(names) > 10 else "")
    raise DatacardError(f"--patch-name {name}: no such patch in the patchset (patches: {shown or 'none'})", path)


def _fmt(v) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def load_patched(path: str, patches=(), patchset: str = "", patch_name: str = "") -> dict:
    """Read a workspace and apply ``--patchset``/``--patch-name`` then every ``--patch`` file in order."""
    ws = read_json(path)
    if not is_pyhf_workspace(ws):
        have = ", ".join(sorted(ws)) if isinstance(ws, dict) else type(ws).__name__
        raise DatacardError(f"not a pyhf workspace: it needs the keys {', '.join(WORKSPACE_KEYS)} (has: {have})", path)
    if patchset:
        ps = read_patchset(patchset)
        ws = apply_patch(ws, patchset_patch(ps, patch_name, patchset), f"{patchset} (patch {patch_name})")
    for p in patches:
        ws = apply_patch(ws, read_json(p), p)
    check_workspace(ws, path if not (patchset or patches) else f"{path} (patched)")
    return ws
