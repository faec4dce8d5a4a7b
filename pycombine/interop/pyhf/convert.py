"""A pyhf workspace (HistFactory) as a :class:`~pycombine.model.spec.ModelSpec`.

Every sample becomes a process with absolute template contents (``ChannelSpec.absolute``), and
every HistFactory modifier an effect the compiled model already evaluates, with HistFactory's
numbers:

* ``normfactor``: a free multiplicative parameter (the measurement's POI is the model's POI);
  range [0, 10], start 1 unless the measurement says otherwise.
* ``normsys``: a normalisation factor interpolated with code 4 (default) or code 1
  (``ProcessSpec.hf_norm``); unit Gaussian constraint, range [-5, 5].
* ``histosys``: (a normsys and a histosys of the same name share one parameter, HistFactory's
  OverallSys + HistoSys) a vertical template morph with smoothing region 1 (code 4p, default; the same
  quintic as Combine's) or 0 (code 0, piecewise linear); unit Gaussian constraint, range [-5, 5].
* ``lumi``: a multiplicative parameter with a Gaussian constraint of the measurement's
  ``auxdata`` and ``sigmas`` (both required, as in pyhf).
* ``staterror``: one multiplicative parameter per bin shared by the samples that carry the
  modifier, Gaussian-constrained around 1 with width sqrt(sum err^2) / sum nominal (bins where
  that width is 0 are fixed at 1); range [1e-10, 10].
* ``shapesys``: one multiplicative parameter per bin with a Poisson constraint on the auxiliary
  count tau = (nominal / sigma)^2 (the ``gamma`` constraint kind: ``tau (gamma - ln gamma)``);
  bins with no yield or no uncertainty get no parameter (pyhf keeps one, fixed); range [1e-10, 10].
* ``shapefactor``: one free multiplicative parameter per bin (shared across channels by bin
  index, as pyhf does); range [0, 10].

Parameter names: a scalar modifier's parameter is its modifier name (``mu``, ``syst1``, ``lumi``);
the per-bin ones are ``<name>_bin_<i>`` (pyhf's ``<name>[i]``). The measurement's ``parameters``
set inits, bounds, ``fixed``, auxdata and sigmas. A sample may carry several per-bin modifiers: their
factors multiply (``CompiledModel.pp_layers``).
"""

from __future__ import annotations

import numpy as np

from ...errors import DatacardError
from ...model.spec import ChannelSpec, ModelSpec, Parameter, ProcessSpec, ShapeEffect, gaussian_nuisance

NORMSYS_CODES = {"code1": 1, "code4": 4, "1": 1, "4": 4}
HISTOSYS_CODES = {"code0": 0.0, "code4p": 1.0, "0": 0.0, "4p": 1.0}


def normsys_code(text: str, path: str = "") -> int:
    key = str(text).strip()
    if key not in NORMSYS_CODES:
        raise DatacardError(f"normsys interpolation code {text!r} is not supported (supported: code1, code4)", path or None)
    return NORMSYS_CODES[key]


def histosys_region(text: str, path: str = "") -> float:
    key = str(text).strip()
    if key not in HISTOSYS_CODES:
        # code 2 is left out on purpose: pyhf's (documented, discontinuous at |alpha| = 1) and ROOT's
        # HistFactory (continuous, but the slope flips below -1) disagree outside |alpha| < 1, so
        # either choice would silently differ from one of the two references
        why = (" (pyhf's and ROOT's code 2 differ outside |alpha| < 1)" if key in ("code2", "2") else "")
        raise DatacardError(f"histosys interpolation code {text!r} is not supported{why} (supported: code0, code4p)",
                            path or None)
    return HISTOSYS_CODES[key]


def select_measurement(ws: dict, name: str, path: str) -> dict:
    """The measurement called ``name``, or the first one."""
    if not name:
        return ws["measurements"][0]
    for m in ws["measurements"]:
        if m["name"] == name:
            return m
    have = ", ".join(m["name"] for m in ws["measurements"])
    raise DatacardError(f"--measurement {name}: no such measurement (measurements: {have})", path)


class _Params:
    def __init__(self, path: str):
        self.path = path
        self.params: dict[str, Parameter] = {}
        self.types: dict[str, str] = {}

    def add(self, name: str, mtype: str, make) -> Parameter:
        if name in self.params:
            if self.types[name] != mtype and {self.types[name], mtype} != {"normsys", "histosys"}:
                # normsys + histosys of one name share one unit-Gaussian parameter (HistFactory's
                # OverallSys + HistoSys, as pyhf does); other pairs are different parameters
                raise DatacardError(f"invalid pyhf workspace: modifier {name!r} is both {self.types[name]} and {mtype}", self.path)
            return self.params[name]
        p = make()
        self.params[name] = p
        self.types[name] = mtype
        return p


def build_model(ws: dict, path: str, measurement: str = "", normsys: str = "code4", histosys: str = "code4p",
                mass: float = 120.0) -> ModelSpec:
    """The :class:`ModelSpec` of a (checked, patched) pyhf workspace with HistFactory semantics."""
    code = normsys_code(normsys, path)
    q = histosys_region(histosys, path)
    meas = select_measurement(ws, measurement, path)
    poi = meas["config"]["poi"]
    settings = {p["name"]: p for p in meas["config"].get("parameters", [])}
    obs = {o["name"]: o["data"] for o in ws["observations"]}
    table = _Params(path)
    per_bin: dict[str, list[str]] = {}  # staterror/shapesys modifier -> [the channel that has it]
    channels = []
    for ch in ws["channels"]:
        cname = ch["name"]
        nb = len(ch["samples"][0]["data"])
        if cname not in obs:
            raise DatacardError(f"invalid pyhf workspace: channel {cname} has no observation", path)
        if len(obs[cname]) != nb:
            raise DatacardError(f"invalid pyhf workspace: observation {cname} has {len(obs[cname])} bins, the channel {nb}", path)
        stat_groups: dict[str, list[tuple[ProcessSpec, np.ndarray, np.ndarray]]] = {}
        processes = []
        for s in ch["samples"]:
            nominal = np.asarray(s["data"], dtype=float)
            where = f"channel {cname} sample {s['name']}"
            proc = ProcessSpec(channel=cname, name=s["name"], is_signal=False, rate=float(nominal.sum()), norm=1.0,
                               template=nominal.copy(), errors=np.zeros(nb), integral=float(nominal.sum()))
            proc.smooth_region = q

            for m in s["modifiers"]:
                name, mtype, data = m["name"], m["type"], m.get("data")
                if mtype == "normfactor":
                    table.add(name, mtype, lambda name=name: Parameter(name, 1.0, 0.0, 10.0, kind="poi" if name == poi else "rateParam",
                                                                        origin="normfactor"))
                    proc.factors.append(name)
                    if name == poi:
                        proc.is_signal = True
                elif mtype == "lumi":
                    cfg = settings.get(name, {})
                    if "auxdata" not in cfg or "sigmas" not in cfg:
                        raise DatacardError(f"{where}: lumi modifier {name} needs the measurement's parameter settings "
                                            f"'auxdata' and 'sigmas'", path)
                    aux = float(cfg["auxdata"][0])
                    table.add(name, mtype, lambda name=name, aux=aux, cfg=cfg: gaussian_nuisance(
                        name, aux, 0.0, 10.0 * aux, "lumi", glob=aux, sigma=float(cfg["sigmas"][0])))
                    proc.factors.append(name)
                elif mtype == "normsys":
                    hi, lo = float(data["hi"]), float(data["lo"])
                    if not (hi > 0 and lo > 0):
                        raise DatacardError(f"{where}: normsys {name} needs positive 'hi' and 'lo' (got {hi}, {lo})", path)
                    table.add(name, mtype, lambda name=name: gaussian_nuisance(name, 0.0, -5.0, 5.0, "normsys"))
                    proc.hf_norm.append((name, lo, hi, code))
                elif mtype == "histosys":
                    table.add(name, mtype, lambda name=name: gaussian_nuisance(name, 0.0, -5.0, 5.0, "histosys"))
                    up = np.asarray(data["hi_data"], dtype=float)
                    down = np.asarray(data["lo_data"], dtype=float)
                    proc.shapes.append(ShapeEffect(name, 1.0, up, down, float(up.sum()), float(down.sum()), None))
                elif mtype == "staterror":
                    stat_groups.setdefault(name, []).append((proc, nominal, np.asarray(data, dtype=float)))
                    if name in per_bin and per_bin[name] and per_bin[name][0] != cname:
                        raise DatacardError(f"{where}: staterror {name} is used in channels {per_bin[name][0]} and {cname} "
                                            f"(not supported: name it per channel)", path)
                    per_bin[name] = [cname]
                    for b in range(nb):
                        proc.bin_factors.append((b, f"{name}_bin_{b}", 1.0))
                elif mtype == "shapesys":
                    if name in table.params or name in per_bin:
                        raise DatacardError(f"{where}: shapesys {name} is used by more than one sample (not supported)", path)
                    per_bin[name] = [cname]
                    table.types[name] = mtype
                    sig = np.asarray(data, dtype=float)
                    for b in range(nb):
                        if nominal[b] > 0 and sig[b] > 0:
                            tau = (nominal[b] / sig[b]) ** 2
                            pname = f"{name}_bin_{b}"
                            p = Parameter(pname, 1.0, 1e-10, 10.0, kind="nuisance", constraint="gamma", origin="shapesys")
                            p.sigma = 1.0 / tau  # gamma scale: -(k-1) ln g + g / scale with k - 1 = tau
                            p.glob = tau + 1.0
                            p.global_obs = pname + "_In"
                            p.is_nuisance = True
                            table.params[pname] = p
                            table.types[pname] = mtype
                            proc.bin_factors.append((b, pname, 1.0))
                elif mtype == "shapefactor":
                    for b in range(nb):
                        pname = f"{name}_bin_{b}"
                        table.add(pname, mtype, lambda pname=pname: Parameter(pname, 1.0, 0.0, 10.0, kind="rateParam",
                                                                            origin="shapefactor"))
                        proc.bin_factors.append((b, pname, 1.0))
            processes.append(proc)
        for name, members in stat_groups.items():
            nom_sum = np.sum([nom for _p, nom, _e in members], axis=0)
            err2 = np.sum([e**2 for _p, _nom, e in members], axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.where(nom_sum > 0, np.sqrt(err2) / np.where(nom_sum > 0, nom_sum, 1.0), 0.0)
            for b in range(nb):
                pname = f"{name}_bin_{b}"
                p = gaussian_nuisance(pname, 1.0, 1e-10, 10.0, "staterror", glob=1.0,
                                      sigma=float(rel[b]) if rel[b] > 0 else 1.0)
                p.frozen = not rel[b] > 0
                table.params[pname] = p
                table.types[pname] = "staterror"
        channels.append(ChannelSpec(cname, True, nb, processes, data=np.asarray(obs[cname], dtype=float), absolute=True))
    params = table.params
    if poi not in params:
        raise DatacardError(f"measurement {meas['name']}: the POI {poi!r} is not a parameter of the model", path)
    _apply_settings(params, table.types, settings, path, meas["name"])
    ordered = {poi: params[poi]}
    ordered.update((n, p) for n, p in params.items() if n != poi)
    nuisances = [n for n, p in ordered.items() if p.is_nuisance]
    return ModelSpec(
        channels=channels, parameters=ordered, formulas={}, pois=[poi], nuisances=nuisances,
        global_observables=[p.global_obs for p in ordered.values() if p.global_obs], groups={}, mass=float(mass),
        counting=False, max_bins=max(c.nbins for c in channels), path=path,
    )


def _apply_settings(params: dict[str, Parameter], types: dict[str, str], settings: dict, path: str, meas: str) -> None:
    """The measurement's ``parameters``: inits, bounds, fixed, auxdata, sigmas (per bin for per-bin modifiers)."""
    for name, cfg in settings.items():
        if name in params:
            targets = [(params[name], 0)]
        else:
            pre = f"{name}_bin_"
            targets = [(p, int(n[len(pre):])) for n, p in params.items() if n.startswith(pre) and n[len(pre):].isdigit()]
            if not targets:
                continue  # settings of parameters the model does not have are ignored, as in pyhf
        for p, i in targets:
            def pick(key):
                vals = cfg.get(key)
                if vals is None:
                    return None
                if i >= len(vals):
                    raise DatacardError(f"measurement {meas}: parameter {name}: '{key}' has {len(vals)} entries, needs {i + 1}", path)
                return vals[i]

            init, bounds = pick("inits"), pick("bounds")
            if bounds is not None:
                p.lo, p.hi = float(bounds[0]), float(bounds[1])
            if init is not None:
                p.init = float(init)
            if cfg.get("fixed") is True:
                p.frozen = True
            aux, sig = pick("auxdata"), pick("sigmas")
            if p.constraint == "gauss":
                if aux is not None:
                    p.glob = float(aux)
                if sig is not None:
                    p.sigma = float(sig)
            elif p.constraint == "gamma" and aux is not None:
                p.glob = float(aux) + 1.0
            if p.lo is not None and p.hi is not None and not (p.lo <= p.init <= p.hi):
                raise DatacardError(f"measurement {meas}: parameter {p.name}: init {p.init} outside its bounds "
                                    f"[{p.lo}, {p.hi}]", path)
