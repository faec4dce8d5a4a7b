"""A datacard's model as a pyhf JSON workspace (HistFactory, schema 1.0.0): ``pycombine export-pyhf``.

:func:`export_workspace` maps the built :class:`~pycombine.model.spec.ModelSpec` (with its parsed
:class:`~pycombine.datacard.Datacard`) to a workspace and returns it with a list of notes, one per
approximation made. The mapping, Combine construct -> HistFactory modifier:

* channel (card bin) -> channel ``<bin>`` with the histogram's bins (one bin for counting channels);
  process -> sample whose ``data`` are its nominal expected events (r = 1, rateParams 1, nuisances 0,
  gmN at N); observation -> ``observations``.
* signal processes -> ``normfactor r``; the measurement's POI is ``r`` with Combine's range [0, 20].
* symmetric lnN kappa -> ``normsys`` hi = kappa, lo = 1/kappa. Exact with interpolation code 1
  (kappa**theta); pyhf's *default* normsys code is 4, so read the file back with code 1
  (``combine ... --normsys-interpcode code1``; pyhf: ``modifier_settings={"normsys": {"interpcode":
  "code1"}}``).
* asymmetric lnN kappa_lo/kappa_hi -> ``normsys`` lo/hi: code 1 equals Combine at |theta| >= 1 but has a
  kink at 0 where Combine interpolates smoothly (quintic in |theta| < 0.5): approximate.
* ``shape`` / ``shapeN`` -> ``normsys`` (the AsymPow normalisation kappas, as above) + ``histosys`` whose
  hi/lo templates are the card's model at theta = +-1 with that normalisation divided out. With
  code 4p this is Combine's vertical morph for datacard value 1 (``shape``); a value != 1 (smoothing
  region q < 1) and ``shapeN`` (log morph) agree only at theta = 0, +-1: approximate.
* ``rateParam`` (a value, not a formula) -> ``normfactor`` with the same name, init, range, fixed. Exact.
  Frozen nuisances (``nuisance edit freeze``) are ``fixed`` in the measurement.
* ``gmN N alpha`` on one process of a one-bin channel -> ``shapesys`` with sigma = alpha*N/sqrt(N): pyhf's
  Poisson constraint with tau = N is Combine's Poisson(N; n). Exact (Combine starts the parameter at
  N + 1, pyhf at N: only pre-fit values differ).
* ``autoMCStats``: Barlow-Beeston-lite bins -> one ``staterror`` per channel on the background
  samples, with their bin errors (the signal's errors added in quadrature to the largest background
  of the bin): Combine's additive Gaussian sigma_j*x_j equals pyhf's multiplicative gamma_j at the
  nominal point. Away from it Combine's sigma_j follows the processes' normalisations (in
  quadrature), pyhf's width the morphed yields (linearly): approximate. Without shape
  uncertainties the two agree closely (tprime without ``jes``: limits within 0.3 %); with them
  the difference is largest (tprime: observed limit -3.8 %). Bins below the threshold (per-process parameters) -> one ``shapesys`` per
  sample on those bins (Poisson constraint with tau = (n/e)**2; Combine rounds it and uses a
  Gaussian for weighted events): approximate.

No HistFactory form (one-line error naming the card line): formula or workspace rateParams, extArg,
discrete, param, lnU, gmM, trG, unif, dFD, flatParam, physics models other than the default, gmN
shared by processes or on a multi-bin channel, gmN 0.
"""

from __future__ import annotations

import numpy as np

from ...errors import DatacardError
from ...model.spec import ModelSpec
from .workspace import SCHEMA_VERSION, check_workspace

#: Combine's default range of the POI r
POI_RANGE = (0.0, 20.0)
#: read-back settings that reproduce the card where the mapping is exact
READ_BACK = {"normsys_interpcode": "code1", "histosys_interpcode": "code4p"}


def _fail(spec: ModelSpec, what: str, line: int | None = None) -> None:
    raise DatacardError(f"cannot export to pyhf: {what}", spec.path, line)


def _check_exportable(card, spec: ModelSpec) -> None:
    """Refuse what HistFactory cannot express (one line naming the card line)."""
    for f in spec.formulas.values():
        _fail(spec, f"rateParam {f.name} is a formula ({f.expression}): no HistFactory form", f.line)
    for rps in (getattr(card, "rate_params", {}) or {}).values():
        for rp in rps:
            if rp.kind != "value":
                _fail(spec, f"rateParam {rp.name} ({rp.kind}): only plain-value rateParams map to a normfactor", rp.line)
    for name in getattr(card, "ext_args", {}) or {}:
        _fail(spec, f"extArg {name}: no HistFactory form", (card.ext_arg_lines or {}).get(name))
    for name in getattr(card, "discretes", []) or []:
        _fail(spec, f"discrete {name}: no HistFactory form")
    if spec.pois != ["r"]:
        _fail(spec, f"physics model with POIs {', '.join(spec.pois)}: only the default model (r scales every signal) "
                    f"maps to HistFactory")
    for p in spec.parameters.values():
        o = p.origin
        if p.kind == "physics":
            _fail(spec, f"physics model parameter {p.name}: only the default physics model maps to HistFactory", p.line)
        if p.kind in ("poi", "rateParam", "bb") or o in ("gmN",):
            continue
        if p.kind == "nuisance" and (o == "lnN" or o.startswith("shape")):
            if p.constraint != "gauss" or p.glob != 0.0 or p.sigma != 1.0:
                _fail(spec, f"nuisance {p.name}: its constraint is not a unit Gaussian (param line?): no HistFactory form",
                      p.line)
            continue
        _fail(spec, f"{o or p.kind} {p.name}: no HistFactory form", p.line)
    gmn_users: dict[str, list[str]] = {}
    for ch in spec.channels:
        for proc in ch.processes:
            if proc.additive or proc.gmM:
                _fail(spec, f"process {proc.name} in {ch.name}: trG/unif/dFD/gmM effects have no HistFactory form")
            if proc.gmN:
                gmn_users.setdefault(proc.gmN[0], []).append(f"{ch.name}/{proc.name}")
                if ch.nbins != 1:
                    _fail(spec, f"gmN {proc.gmN[0]} on the {ch.nbins}-bin channel {ch.name}: no HistFactory form",
                          spec.parameters[proc.gmN[0]].line)
                if proc.gmN[1] <= 0:
                    _fail(spec, f"gmN {proc.gmN[0]} with N = 0: no HistFactory form", spec.parameters[proc.gmN[0]].line)
    for name, users in gmn_users.items():
        if len(users) > 1:
            _fail(spec, f"gmN {name} is shared by {', '.join(users)}: pyhf's shapesys is per sample",
                  spec.parameters[name].line)


class _Evaluator:
    """Expected events per (channel, process) and channel bin at chosen parameter values."""

    def __init__(self, spec: ModelSpec):
        from ...model.compile import CompiledModel
        from ...model.likelihood import Dataset, Likelihood

        self.m = m = CompiledModel(spec)
        self.lik = Likelihood(m, Dataset(np.zeros(m.B), m.glob0.copy()), analytic_bb=False)
        x = m.init.copy()
        for i, n in enumerate(m.names):
            p = spec.parameters.get(n)
            if p is None:
                continue
            if p.kind in ("poi", "rateParam"):
                x[i] = 1.0
            elif p.origin == "gmN":
                x[i] = p.glob  # N (Combine starts at N + 1)
        self.base = x

    def yields(self, changes: dict[str, float] | None = None) -> dict[tuple[str, str], np.ndarray]:
        m = self.m
        x = self.base.copy()
        for k, v in (changes or {}).items():
            x[m.parameter_index(k)] = v
        y = self.lik.process_yields(x, include_bb_share=False)
        out: dict[tuple[str, str], np.ndarray] = {}
        for s in range(m.S):
            lay = m.channels[m.sample_channel[s]]
            vec = np.zeros(lay.nbins)
            sel = m.entry_sample == s
            vec[m.entry_bin[sel] - lay.bin_start] = y[sel]
            out[(lay.name, m.sample_process[s])] = vec
        return out


def _stat_errors(ch, nominal, bb_bins: set[int], nb: int) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray] | None]:
    """Absolute bin errors per process, and the ``staterror`` data per background process.

    Combine's Barlow-Beeston-lite term is sigma_j * x_j with sigma_j over *all* processes (signal
    included) at their current normalisations; pyhf's staterror scales the samples that carry it.
    The backgrounds carry it (the width then follows their normalisations, not r's), and the
    signal's errors are added in quadrature to the largest background of each bin, so that the
    width at the nominal point is Combine's sigma_j.
    """
    errors: dict[int, np.ndarray] = {}
    for pi, proc in enumerate(ch.processes):
        nom = nominal.get((ch.name, proc.name), np.zeros(nb))
        if proc.errors is None or proc.template is None:
            errors[pi] = np.zeros(nb)
            continue
        tsum = float(np.sum(proc.template))
        scale = float(np.sum(nom)) / tsum if tsum > 0 else 0.0
        errors[pi] = np.abs(np.asarray(proc.errors, dtype=float)) * scale
    bkg = [pi for pi, p in enumerate(ch.processes) if not p.is_signal and p.errors is not None and p.template is not None]
    if not bb_bins or not bkg:
        return errors, None
    stat = {pi: np.array([errors[pi][b] if b in bb_bins else 0.0 for b in range(nb)]) for pi in bkg}
    for b in bb_bins:
        sig2 = sum(errors[pi][b] ** 2 for pi, p in enumerate(ch.processes) if p.is_signal)
        if sig2 > 0:
            big = max(bkg, key=lambda pi: nominal.get((ch.name, ch.processes[pi].name), np.zeros(nb))[b])
            stat[big][b] = float(np.sqrt(stat[big][b] ** 2 + sig2))
    return errors, stat


def _num(a) -> list[float]:
    return [float(v) for v in np.asarray(a, dtype=float)]


def export_workspace(card, spec: ModelSpec) -> tuple[dict, list[str]]:
    """The pyhf workspace of a built card and the notes on every approximation made."""
    _check_exportable(card, spec)
    notes: dict[str, str] = {}
    ev = _Evaluator(spec)
    nominal = ev.yields()
    shape_names = sorted({s.name for ch in spec.channels for p in ch.processes for s in p.shapes})
    at = {(n, sgn): ev.yields({n: sgn}) for n in shape_names for sgn in (1.0, -1.0)}
    used: dict[str, str] = {}  # modifier name -> type (pyhf needs one type per name, normsys+histosys excepted)

    def use(name: str, mtype: str) -> None:
        prev = used.setdefault(name, mtype)
        if prev != mtype and {prev, mtype} != {"normsys", "histosys"}:
            _fail(spec, f"the name {name} is both a {prev} and a {mtype} in the export")

    channels, observations = [], []
    for ch in spec.channels:
        if ch.data is None:
            _fail(spec, f"channel {ch.name} has no observation")
        nb = len(np.atleast_1d(ch.data))
        samples = []
        amc = ch.auto_mc_stats
        bb_bins = {b.bin for b in amc.bins if b.kind == "bblite"} if amc else set()
        pp_bins: dict[int, set[int]] = {}  # process index -> bins with a per-process parameter
        if amc:
            for b in amc.bins:
                for pi, _kind, _par, _n0 in b.per_process:
                    pp_bins.setdefault(pi, set()).add(b.bin)
            if any(b.per_process and any(k == "gauss" for _i, k, _p, _n in b.per_process) for b in amc.bins):
                notes["amc_gauss"] = ("autoMCStats per-process Gaussian parameters (weighted events) -> shapesys "
                                      "(Poisson constraint): approximate")
            if bb_bins:
                notes["amc"] = ("autoMCStats Barlow-Beeston-lite -> staterror: the same widths at the nominal point; "
                                "pyhf's follow the morphed yields, Combine's the normalisations only: approximate")
            if pp_bins:
                notes["amc_pp"] = ("autoMCStats bins below the threshold -> shapesys per sample (tau = (n/e)^2, "
                                   "Combine rounds it): approximate")
        errors, stat_data = _stat_errors(ch, nominal, bb_bins, nb) if amc else ({}, None)
        for pi, proc in enumerate(ch.processes):
            nom = nominal.get((ch.name, proc.name), np.zeros(nb))
            mods: list[dict] = []
            if proc.is_signal:
                mods.append({"name": "r", "type": "normfactor", "data": None})
            for f in proc.factors:
                if f == "r":
                    continue
                use(f, "normfactor")
                mods.append({"name": f, "type": "normfactor", "data": None})
            for name, kappa in proc.lnN:
                use(name, "normsys")
                mods.append({"name": name, "type": "normsys", "data": {"hi": float(kappa), "lo": float(1.0 / kappa)}})
            for name, klo, khi in proc.asym_lnN:
                use(name, "normsys")
                if abs(klo * khi - 1.0) >= 1e-5:
                    notes["asym"] = ("asymmetric lnN -> normsys code 1: equal at |theta| >= 1, Combine interpolates "
                                     "smoothly inside (pyhf has a kink at 0): approximate")
                mods.append({"name": name, "type": "normsys", "data": {"hi": float(khi), "lo": float(klo)}})
            for s in proc.shapes:
                up = at[(s.name, 1.0)][(ch.name, proc.name)]
                dn = at[(s.name, -1.0)][(ch.name, proc.name)]
                if s.kappa is not None:
                    klo, khi = s.kappa
                    use(s.name, "normsys")
                    mods.append({"name": s.name, "type": "normsys", "data": {"hi": float(khi), "lo": float(klo)}})
                    up, dn = up / khi, dn / klo
                    if abs(klo * khi - 1.0) >= 1e-5:
                        notes["asym_shape"] = ("normalisation of shape uncertainties (AsymPow) -> normsys code 1: "
                                               "approximate inside |theta| < 1")
                use(s.name, "histosys")
                mods.append({"name": s.name, "type": "histosys", "data": {"hi_data": _num(up), "lo_data": _num(dn)}})
                if proc.morph == "shapeN":
                    notes["shapeN"] = "shapeN (log morph) -> histosys code 4p (linear morph): approximate"
                elif proc.smooth_region < 1.0 or s.scale != 1.0:
                    notes["scale"] = ("shape with a datacard value != 1 -> histosys at theta = +-1: the smoothing "
                                      "region differs: approximate")
            if proc.gmN:
                name, n = proc.gmN
                use(name, "shapesys")
                mods.append({"name": name, "type": "shapesys", "data": _num(nom / np.sqrt(n))})
            if amc and proc.errors is not None and proc.template is not None:
                err = errors[pi]
                if not proc.is_signal and stat_data is not None:
                    use(f"prop_bin{ch.name}", "staterror")
                    mods.append({"name": f"prop_bin{ch.name}", "type": "staterror", "data": _num(stat_data[pi])})
                if pi in pp_bins:
                    sig = np.array([err[b] if b in pp_bins[pi] and nom[b] > 0 else 0.0 for b in range(nb)])
                    if np.any(sig > 0):
                        pname = f"prop_bin{ch.name}_{proc.name}"
                        use(pname, "shapesys")
                        mods.append({"name": pname, "type": "shapesys", "data": _num(sig)})
            samples.append({"name": proc.name, "data": _num(nom), "modifiers": mods})
        channels.append({"name": ch.name, "samples": samples})
        observations.append({"name": ch.name, "data": _num(np.atleast_1d(ch.data))})

    params = [{"name": "r", "inits": [1.0], "bounds": [[spec.parameters["r"].lo if spec.parameters["r"].lo is not None
                                                          else POI_RANGE[0],
                                                          spec.parameters["r"].hi if spec.parameters["r"].hi is not None
                                                          else POI_RANGE[1]]]}]
    for name, p in spec.parameters.items():
        if p.kind == "rateParam" and name in used:
            cfg = {"name": name, "inits": [float(p.init)]}
            if p.lo is not None and p.hi is not None:
                cfg["bounds"] = [[float(p.lo), float(p.hi)]]
            if p.frozen:
                cfg["fixed"] = True
            params.append(cfg)
    for name, p in spec.parameters.items():
        if p.kind == "nuisance" and p.frozen and name in used:  # nuisance edit freeze
            params.append({"name": name, "fixed": True})
    if spec.parameters["r"].frozen:
        params[0]["fixed"] = True
    ws = {"channels": channels, "observations": observations,
          "measurements": [{"name": "measurement", "config": {"poi": "r", "parameters": params}}],
          "version": SCHEMA_VERSION}
    check_workspace(ws, spec.path or "<export>")
    return ws, list(notes.values())
