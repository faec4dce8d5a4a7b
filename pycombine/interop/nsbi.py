"""JSON workspaces of the NSBI toolkit (``nsbi_common_utils.workspace_builder``) read into a ModelSpec.

The toolkit writes a pyhf-like workspace whose channels may be ``"type": "unbinned"``::

    {"channels": [{"name": "SR", "type": "unbinned", "weights": [...] | "asimov.npy",
                   "samples": [{"name": "S", "data": [60.0], "ratios": [...] | "r_S.npy",
                                "modifiers": [{"name": "mu", "type": "normfactor", "data": null},
                                              {"name": "jes", "type": "normplusshape",
                                               "data": {"hi_data": [1.02], "lo_data": [0.97],
                                                        "hi_ratio": [...], "lo_ratio": [...]}}]}]},
                  {"name": "CR", "type": "binned", "samples": [{"name": "B", "data": [...],
                   "modifiers": [{"name": "jes", "type": "normplusshape",
                                  "data": {"hi_data": [...], "lo_data": [...]}}]}]}],
     "measurements": [{"name": "m", "config": {"poi": "mu",
                       "parameters": [{"name": "mu", "inits": [1.0], "bounds": [[0, 5]]}]}]}

Arrays are inline lists or strings naming a file beside the JSON: ``file.npy`` (a 1-D array) or
``file.<csv|parquet|feather|npy>:column`` (a column of an events table). What it becomes
(docs/UNBINNED.md): an unbinned channel is a per-event channel whose events carry the ``weights``
(the toolkit's Asimov weights; also the reference sample, ``v_i = w_i / s_i(theta_0)``), a sample's
yield is ``sum(data)`` and its ratios the per-event template; ``normfactor`` is a free factor (the
measurement's POI, inits and bounds); ``normplusshape`` a unit-Gaussian nuisance that scales the
yield by HistFactory's code-4 interpolation of ``lo_data``/``hi_data`` and morphs the ratios
vertically (quintic inside |alpha| < 1, linear outside). In a binned channel ``data`` is the
template and ``hi_data``/``lo_data`` the per-bin relative variations, morphed as absolute contents.
Observed data are not part of the format: the weights stand for them.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..errors import DatacardError, ShapeError
from ..model.spec import ChannelSpec, ModelSpec, Parameter, ProcessSpec, ShapeEffect, gaussian_nuisance


def is_nsbi_workspace(path: str) -> bool:
    """A JSON object with a channel of ``"type": "unbinned"``."""
    try:
        with open(path) as f:
            text = f.read()
        if '"unbinned"' not in text:  # most JSON inputs are pyhf workspaces: no parse for them
            return False
        ws = json.loads(text)
    except (OSError, ValueError):
        return False
    return isinstance(ws, dict) and any(isinstance(c, dict) and c.get("type") == "unbinned"
                                        for c in ws.get("channels", []) or [])


def _array(value, where: str, base: str, what: str) -> np.ndarray:
    if isinstance(value, str):
        file, _, column = value.partition(":")
        full = file if os.path.isabs(file) else os.path.join(base, file)
        if column:
            from ..shapes.events import EventTable

            try:
                return EventTable(full, shown=file).column(column, what, allow_negative=True)
            except ShapeError as err:
                raise DatacardError(f"{where}: {err.message}") from None
        if not os.path.exists(full):
            raise DatacardError(f"{where}: {what}: no such file {file!r}")
        try:
            arr = np.load(full, allow_pickle=False)
        except ValueError as err:
            raise DatacardError(f"{where}: {what}: {file!r} is not a numpy array ({err})") from None
        values = np.asarray(arr, dtype=float).ravel()
    elif isinstance(value, (list, tuple)):
        try:
            values = np.asarray(value, dtype=float).ravel()
        except (TypeError, ValueError):
            raise DatacardError(f"{where}: {what} is not a list of numbers") from None
    else:
        raise DatacardError(f"{where}: {what} must be a list of numbers or a file name, not {type(value).__name__}")
    if not np.all(np.isfinite(values)):
        i = int(np.argmax(~np.isfinite(values)))
        raise DatacardError(f"{where}: {what} has a non-finite value in entry {i}")
    return values


def build_model(path: str, mass: float = 120.0) -> ModelSpec:
    """The ModelSpec of the NSBI workspace at ``path``."""
    try:
        with open(path) as f:
            ws = json.load(f)
    except (OSError, ValueError) as err:
        raise DatacardError(f"cannot read the NSBI workspace: {err}", path=path) from None
    try:
        return _build(ws, path, mass)
    except DatacardError as err:
        raise err.located(path=path) from None


def _build(ws: dict, path: str, mass: float) -> ModelSpec:
    base = os.path.dirname(os.path.abspath(path))
    meas = (ws.get("measurements") or [{}])[0].get("config", {})
    poi = meas.get("poi") or ""
    settings = {p["name"]: p for p in meas.get("parameters", []) if isinstance(p, dict) and "name" in p}
    params: dict[str, Parameter] = {}
    channels: list[ChannelSpec] = []
    unbinned: list[ChannelSpec] = []
    for ch in ws.get("channels", []):
        cname, ctype = ch.get("name"), ch.get("type", "binned")
        where = f"channel {cname!r}"
        if ctype not in ("binned", "unbinned"):
            raise DatacardError(f"{where}: unknown channel type {ctype!r} (binned or unbinned)")
        per_event = ctype == "unbinned"
        if per_event:
            if "weights" not in ch:
                raise DatacardError(f"{where}: an unbinned channel needs 'weights' (the events' weights)")
            data = _array(ch["weights"], where, base, "weights")
            if (data < 0).any():
                raise DatacardError(f"{where}: negative event weight in entry {int(np.argmax(data < 0))}")
        procs = []
        for s in ch.get("samples", []):
            sw = f"{where}, sample {s.get('name')!r}"
            yields = _array(s.get("data", []), sw, base, "data")
            proc = ProcessSpec(cname, s["name"], is_signal=False, rate=float(yields.sum()), norm=float(yields.sum()))
            if per_event:
                if "ratios" not in s or s["ratios"] is None:
                    raise DatacardError(f"{sw}: an unbinned sample needs 'ratios' (one per event)")
                t = _array(s["ratios"], sw, base, "ratios")
                if t.size != data.size:
                    raise DatacardError(f"{sw}: {t.size} ratios for {data.size} events")
                if (t < 0).any():
                    raise DatacardError(f"{sw}: negative ratio in entry {int(np.argmax(t < 0))}")
                proc.template = t
            else:
                proc.template, proc.norm = yields, 1.0  # absolute contents
            proc.errors = np.zeros(proc.template.size)
            proc.integral = proc.rate
            for mod in s.get("modifiers", []):
                _modifier(mod, proc, params, settings, poi, sw, base, per_event)
            procs.append(proc)
        if not procs:
            raise DatacardError(f"{where}: no samples")
        nb = procs[0].template.size
        if any(p.template.size != nb for p in procs):
            raise DatacardError(f"{where}: the samples have different numbers of {'events' if per_event else 'bins'}")
        if not per_event:
            data = np.sum([p.template for p in procs], axis=0)  # no observations in the format: the expectation
        spec_ch = ChannelSpec(cname, True, nb, procs, data, absolute=True, unbinned=per_event)
        channels.append(spec_ch)
        if per_event:
            unbinned.append(spec_ch)
    if not channels:
        raise DatacardError("no channels")
    if poi and poi not in params:
        raise DatacardError(f"the measurement's POI {poi!r} is no normfactor of any sample")
    if not poi:
        poi = next((n for n, p in params.items() if p.kind == "rateParam"), "")
        if not poi:
            raise DatacardError("no POI: the measurement names none and there is no normfactor")
        params[poi].kind = "poi"
    ordered = {poi: params[poi], **{n: p for n, p in params.items() if n != poi}}
    spec = ModelSpec(channels=channels, parameters=ordered, formulas={}, pois=[poi],
                     nuisances=[n for n, p in ordered.items() if p.is_nuisance],
                     global_observables=[p.global_obs for p in ordered.values() if p.global_obs], groups={},
                     mass=float(mass), counting=False, max_bins=max(c.nbins for c in channels), path=path)
    from ..model.unbinned import reference_weights

    reference_weights(spec, unbinned, {})
    return spec


def _modifier(mod: dict, proc: ProcessSpec, params: dict[str, Parameter], settings: dict, poi: str, where: str,
              base: str, per_event: bool) -> None:
    name, mtype, data = mod.get("name"), mod.get("type"), mod.get("data")
    cfg = settings.get(name, {})
    init = float(cfg["inits"][0]) if cfg.get("inits") else (1.0 if mtype == "normfactor" else 0.0)
    bounds = cfg["bounds"][0] if cfg.get("bounds") else None
    if mtype == "normfactor":
        lo, hi = bounds if bounds else (0.0, 10.0)
        if name not in params:
            params[name] = Parameter(name, init, float(lo), float(hi), kind="poi" if name == poi else "rateParam",
                                     origin="normfactor")
        proc.factors.append(name)
        proc.is_signal = proc.is_signal or name == poi
    elif mtype == "normplusshape":
        if not isinstance(data, dict) or "hi_data" not in data or "lo_data" not in data:
            raise DatacardError(f"{where}: normplusshape {name!r} needs data with hi_data and lo_data")
        if name not in params:
            lo, hi = bounds if bounds else (-5.0, 5.0)
            params[name] = gaussian_nuisance(name, init, float(lo), float(hi), "normplusshape")
        hi_d = _array(data["hi_data"], where, base, f"{name} hi_data")
        lo_d = _array(data["lo_data"], where, base, f"{name} lo_data")
        if per_event:
            if hi_d.size != 1 or lo_d.size != 1:
                raise DatacardError(f"{where}: normplusshape {name!r}: an unbinned channel's hi_data/lo_data are one "
                                    "yield ratio each")
            k_hi, k_lo = float(hi_d[0]), float(lo_d[0])
            if not (k_hi > 0 and k_lo > 0):
                raise DatacardError(f"{where}: normplusshape {name!r}: yield ratios must be positive")
            if abs(k_hi - 1) > 1e-12 or abs(k_lo - 1) > 1e-12:
                proc.hf_norm.append((name, k_lo, k_hi, 4))
            if data.get("hi_ratio") is not None and data.get("lo_ratio") is not None:
                up = _array(data["hi_ratio"], where, base, f"{name} hi_ratio")
                down = _array(data["lo_ratio"], where, base, f"{name} lo_ratio")
                if up.size != proc.template.size or down.size != proc.template.size:
                    raise DatacardError(f"{where}: normplusshape {name!r}: one hi_ratio/lo_ratio per event")
                proc.shapes.append(ShapeEffect(name, 1.0, up, down, proc.rate, proc.rate, None))
        else:
            if hi_d.size != proc.template.size or lo_d.size != proc.template.size:
                raise DatacardError(f"{where}: normplusshape {name!r}: one hi_data/lo_data per bin")
            proc.shapes.append(ShapeEffect(name, 1.0, proc.template * hi_d, proc.template * lo_d,
                                           float(np.sum(proc.template * hi_d)), float(np.sum(proc.template * lo_d)), None))
    else:
        raise DatacardError(f"{where}: modifier type {mtype!r} is not supported (normfactor, normplusshape)")
