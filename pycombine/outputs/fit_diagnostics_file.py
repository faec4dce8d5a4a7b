"""The ``fitDiagnostics<name>.root`` file of ``combine -M FitDiagnostics`` (spec §6.4).

Written atomically, without uproot, by :class:`~pycombine.outputs.root.rawfile.TreeFileWriter`.
Objects with the same names, types and layout as Combine's:

``tree_fit_sb``, ``tree_fit_b``, ``tree_prefit`` (TTree, one entry per dataset)
    ``fit_status/I``, ``<poi>/D``, ``<poi>Err/D``, ``<poi>LoErr/D``, ``<poi>HiErr/D``,
    ``numbadnll/I``, ``nll_min/D`` (``tree_fit_sb`` adds ``nll_nll0/D``), then one ``/D`` branch
    per global observable (``<nuisance>_In``) and per nuisance parameter (model order, frozen ones
    excluded); values Combine does not fill are -999. ``tree_prefit`` has only the global
    observable and nuisance branches; for a model without nuisances it is a tree with one entry
    per dataset and no branches, as Combine's.
``shapes_prefit/``, ``shapes_fit_b/``, ``shapes_fit_s/`` (``--saveShapes``), one directory per channel
    one TH1F per process (title ``<process> in <channel>``), ``total``, ``total_signal``,
    ``total_background`` (TH1F), ``total_covar`` (TH2F, bin-by-bin covariance of ``total``, zeros
    without ``--saveWithUncertainties``) and ``data`` (TGraphAsymmErrors with Garwood errors, titled
    after the channel's first process in coefficient-name order). Histograms have M unit-width
    bins on [0, M], M = the largest template bin count of the card (1 for counting channels); bin
    contents are expected events; axis titles as RooFit's ``createHistogram`` gives Combine's:
    x ``CMS_th1x`` (the observable), y ``Events / ( 1 )``; ``total_covar``'s z axis
    ``covar (Events / ( 1 ))``. With ``--saveOverallShapes`` the directories also hold
    ``total_overall``, ``total_signal``, ``total_background`` (TH1D), ``total_data``
    (TGraphAsymmErrors) and ``total_bin_width`` with bins labelled ``<channel>_<i>``, and with
    uncertainties ``overall_total_covar`` (E[Δ_i Δ_j] about the central values) and the moments of
    the draws ``overall_total_M1/M2/M3`` (mean, central covariance, central third moment).
    For a pure counting card (no ``shapes`` line) Combine's model has no per-process coefficients
    and its ``norm_*``/``shapes_*`` stay empty; pycombine writes one-bin histograms.

``fit_s``, ``fit_b`` (RooFitResult, as Combine writes them; :mod:`.root.roofit`)
    ``floatParsFinal()``: the floating parameters (sorted by name, as RooFit lists them, BB-lite
    parameters included) with the post-fit value, Hesse error and range (lnN/shape/BB-lite
    nuisances unbounded, attribute ``optimizeBounds``: Combine removes their ranges while it
    fits); asymmetric errors from Minos where it ran (``--minos all``; the POI of ``fit_s`` with
    Combine's ``err68`` range), else RooMinimizer's (+error, +error); ``floatParsInit()`` the values
    the fit started from; ``constPars()`` the parameters fixed in the fit and the global
    observables; ``covarianceMatrix()``/``correlation(a, b)``/``correlationHist()``, global
    correlations; ``status()``, ``covQual()`` (3 = accurate), ``minNll()`` (pycombine's NLL, meaningful
    in differences only), ``edm()``, status history ``MINIMIZE``/``HESSE``. Written for a fit that
    converged; above :data:`MAX_ROOFIT_MATRIX` floating parameters without the matrices (they would
    exceed ROOT's 1 GB per object; ``<fit>_covariance`` keeps the covariance). Combine v10.6 writes no ``nuisances_prefit_res`` (its nuisance-only fit saves no
    result), neither does pycombine.
``nuisances_prefit`` (RooArgSet of RooRealVar, snapshot of the nuisances)
    pre-fit value (the constraint's centre) and error (constraint width; RooFit's "no error" -1 for
    unconstrained parameters), unbounded as above.
``norm_prefit``, ``norm_fit_b``, ``norm_fit_s`` (RooArgSet of constant RooRealVar, named so)
    one variable per yield, named like Combine's: ``<channel>/<process>`` in coefficient-name
    order, then ``<channel>/total``, ``<channel>/total_signal``, ``<channel>/total_background`` per
    channel; value = yield, error = its uncertainty (0 without ``--saveWithUncertainties``).
``ProcessID0`` (TProcessID)
    what ROOT writes beside RooFit objects (their ``TRefArray`` members refer to it).

Histogram views of the same numbers for ROOT-free readers (uproot), not in Combine's files:

``<fit>_values`` (TH1D; ``fit_s_values``, ``fit_b_values``)
    one bin per floating parameter (``floatParsFinal()`` order), labelled with its name; content =
    fitted value, error = Hesse error. ``<fit>_errLo``/``<fit>_errHi``: TH1D, same bins, the
    asymmetric errors, negative low / positive high (the POI's interval in ``fit_s``, Minos errors
    with ``--minos all``, otherwise -/+ the Hesse error). ``<fit>_covariance``: TH2D covariance
    matrix, both axes labelled (bin (i, j) = cov(p_i, p_j)). ``<fit>_status``: TTree with one
    entry, ``status/I``, ``covQual/I``, ``minNll/D``, ``edm/D``.
``nuisances_prefit_values``, ``norm_<stage>_values`` (TH1D)
    one labelled bin per variable of the RooArgSet, content = value, error = error.
``covariance_fit_s``, ``covariance_fit_b`` (``--plots``; Combine writes these too)
    TH2D holding the *correlation* matrix, as Combine's ``RooFitResult::correlationHist``: x bin i
    and y bin n-i carry parameter i's label. (The RooPlots and PNG files of ``--plots`` are not
    produced.)
"""

from __future__ import annotations

import math
import sys

import numpy as np

from .root import roofit
from .root.rawfile import TreeFileWriter  # our own writer: importing uproot would cost ~0.3 s

STAGES = ("prefit", "fit_b", "fit_s")
#: most floating parameters whose correlation and covariance matrices (two upper triangles of
#: doubles) fit in one ROOT object record (1 GB)
MAX_ROOFIT_MATRIX = 8000
#: axis titles of the shape histograms: RooFit's createHistogram on Combine's observable (unit bins)
AXIS_TITLES = {"xtitle": "CMS_th1x", "ytitle": "Events / ( 1 )"}


def coefficient_name(model_spec, channel: str, process: str) -> str:
    """Combine's normalisation coefficient name (``n_exp[_final]_bin<ch>_proc_<p>``).

    ``_final`` marks processes with extra normalisation terms (shape-systematic kappas); the
    byte order of these names fixes the order of ``norm_*`` entries and the ``data`` titles.
    """
    proc = next(p for p in model_spec.channel(channel).processes if p.name == process)
    final = any(e.kappa is not None for e in proc.shapes)
    return f"n_exp{'_final' if final else ''}_bin{channel}_proc_{process}"


def _channel_bins(spec, model, ci: int) -> int:
    """Bins of the saved histograms of channel ``ci`` (M for binned channels, else 1)."""
    c = model.channels[ci]
    if not c.binned:
        return max(1, c.nbins)
    return max(int(spec.max_bins), c.nbins, 1)


def _pad(a: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n)
    k = min(n, a.size)
    out[:k] = a[:k]
    return out


def _ordered_samples(session) -> list[tuple[str, int]]:
    """(coefficient name, sample index) in Combine's map order."""
    m = session.model
    out = []
    for s in range(m.S):
        ch = m.channels[m.sample_channel[s]].name
        out.append((coefficient_name(session.spec, ch, m.sample_process[s]), s))
    return sorted(out)


def _tree_columns(session, results, which: str) -> dict[str, np.ndarray]:
    """Columns of tree_fit_sb / tree_fit_b / tree_prefit for the given results (one row each)."""
    m = session.model
    spec = session.spec
    poi = results[0].poi
    nuis = results[0].nuisance_names
    glob_param = {p.global_obs: m.index[p.name] for p in spec.parameters.values() if p.global_obs}
    globs = [g for g in spec.global_observables if g in glob_param]
    g_idx = np.array([glob_param[g] for g in globs], dtype=int)
    n_idx = np.array([m.index[n] for n in nuis], dtype=int)
    cols: dict[str, list] = {}

    def put(name, value):
        cols.setdefault(name, []).append(value)

    gvals, nvals = [], []  # per result: global observables, nuisances (one row each)
    for r in results:
        if which == "tree_prefit":
            gvals.append(np.asarray(r.dataset.glob, dtype=float)[g_idx])
            nvals.append(np.asarray(r.prefit_values, dtype=float)[n_idx])
            continue
        fit = r.fit_s if which == "tree_fit_sb" else r.fit_b
        ok = fit is not None and fit.ok
        put("fit_status", fit.status if ok else -1)
        if which == "tree_fit_sb":
            rv = float(fit.values[r.poi_index]) if fit is not None else float(r.prefit_values[r.poi_index])
            put(poi, rv)
            put(f"{poi}Err", r.r_err)
            put(f"{poi}LoErr", r.lo_err)
            put(f"{poi}HiErr", r.hi_err)
        else:
            rv = float(fit.values[r.poi_index]) if fit is not None else 0.0
            put(poi, rv)
            # Combine fills the b-only tree before the s+b fit: the POI errors of the previous dataset
            put(f"{poi}Err", r.prev_poi_errors[0])
            put(f"{poi}LoErr", r.prev_poi_errors[1])
            put(f"{poi}HiErr", r.prev_poi_errors[2])
        put("numbadnll", 0 if ok else -1)
        put("nll_min", fit.nll_min if fit is not None else -1.0)
        if which == "tree_fit_sb":
            put("nll_nll0", r.nll_nll0 if ok else -1.0)
        gvals.append(np.asarray(r.dataset.glob, dtype=float)[g_idx] if ok else np.full(g_idx.size, -999.0))
        nvals.append(np.asarray(fit.values, dtype=float)[n_idx] if ok else np.full(n_idx.size, -999.0))
    out: dict[str, np.ndarray] = {}
    for k, v in cols.items():
        dtype = np.int32 if k in ("fit_status", "numbadnll") else np.float64
        out[k] = np.asarray(v, dtype=dtype)
    # one (datasets x branches) array per block; a branch is its column (a name may repeat:
    # the last value wins, as it did when the columns were filled one by one)
    for names, rows in ((globs, gvals), (nuis, nvals)):
        table = np.array(rows, dtype=np.float64).reshape(len(results), len(names)).T.copy()
        out.update(zip(names, table))
    return out


def _variable(session, i: int, value: float, error: float, asym: tuple[float, float] | None = None,
              constant: bool = False, ranges: dict | None = None) -> roofit.RealVar:
    """Parameter ``i`` as the RooRealVar of a snapshot (Combine's fit results and nuisance set).

    Its range is the one while FitDiagnostics runs: ``optimizeBounds`` parameters (lnN/shape/BB-lite)
    have none (Combine's FitterAlgoBase::optimizeBounds), the others keep the session's (read per
    parameter: a large model writes ~10^5 of these)."""
    m = session.model
    unbounded = bool(m.optimize_bounds[i])
    lo = -np.inf if unbounded else float(session.state.lo[i])
    hi = np.inf if unbounded else float(session.state.hi[i])
    attributes = ["SnapShot_ExtRefClone"]
    if unbounded:
        attributes.append("optimizeBounds")
    lo_err, hi_err = asym if asym is not None else (1.0, -1.0)  # RooFit's "no asymmetric error"
    return roofit.RealVar(m.names[i], float(value), error=float(error), asym_lo=float(lo_err), asym_hi=float(hi_err),
                          lo=lo, hi=hi, constant=constant, attributes=attributes,
                          ranges=ranges or {})


def _initial_error(result, i: int) -> float:
    w = result.prefit_errors[i] if result.prefit_errors is not None else 0.0
    return float(w) if w > 0 else -1.0


def _global_observables(session, dataset) -> list[roofit.RealVar]:
    """The global observables ``<nuisance>_In`` (constant parameters of Combine's NLL)."""
    m = session.model
    params = [p for p in session.spec.parameters.values() if p.global_obs and p.name in m.index]
    values = np.asarray(dataset.glob, dtype=float)[[m.index[p.name] for p in params]]
    values = np.where(np.isfinite(values), values, [float(p.glob) for p in params]).tolist()
    out = []
    for p, glob in zip(params, values, strict=True):
        lo, hi = p.global_obs_range if p.global_obs_range is not None else (-math.inf, math.inf)
        out.append(roofit.RealVar(p.global_obs, glob, lo=float(lo), hi=float(hi), constant=True,
                                  attributes=["SnapShot_ExtRefClone"]))
    return out


def _fit_order(session, fit) -> np.ndarray:
    """Positions in ``fit.floating`` sorted by parameter name (RooFit's parameter lists are)."""
    names = session.model.names
    fl = np.asarray(fit.floating, dtype=int)
    return np.array(sorted(range(fl.size), key=lambda k: names[fl[k]].encode()), dtype=int)


def _asymmetric(result, fit, name: str) -> tuple[np.ndarray, np.ndarray, dict[int, dict]]:
    """(lo, hi, named ranges) of every parameter as RooFit holds them after the fit.

    Minos errors where they were computed (negative low, positive high); otherwise RooMinimizer's
    (+error, +error); the POI of ``fit_s`` after Combine's interval search: its errors and the
    ``err68`` range.
    """
    lo = np.array(fit.errors, dtype=float)
    hi = np.array(fit.errors, dtype=float)
    if fit.err_lo is not None and fit.err_hi is not None:
        done = np.isfinite(fit.err_lo) & np.isfinite(fit.err_hi)
        lo[done] = fit.err_lo[done]
        hi[done] = fit.err_hi[done]
    ranges: dict[int, dict] = {}
    ir = result.poi_index
    if name == "fit_s" and result.poi_interval is not None:
        lo_err, hi_err = result.poi_interval
        r = float(fit.values[ir])
        lo[ir], hi[ir] = -lo_err, hi_err
        ranges[ir] = {"err68": (r - lo_err, r + hi_err)}
    return lo, hi, ranges


def _fit_result(session, result, fit, name: str, globs: list[roofit.RealVar] | None = None) -> roofit.FitResult:
    """The RooFitResult ``fit_s``/``fit_b`` of ``fit`` (see the module docstring); ``globs`` the
    global observables of ``result``'s dataset if already made (both fits share them)."""
    m = session.model
    fl = np.asarray(fit.floating, dtype=int)
    order = _fit_order(session, fit)
    lo, hi, ranges = _asymmetric(result, fit, name)
    start = fit.start if fit.start is not None else result.prefit_values
    final, initial = [], []
    for k in order:
        i = int(fl[k])
        final.append(_variable(session, i, fit.values[i], fit.errors[i], (lo[i], hi[i]), ranges=ranges.get(i)))
        initial.append(_variable(session, i, start[i], _initial_error(result, i)))
    floating = set(fl.tolist())
    # fixed in this fit: frozen parameters and the POI of the b-only fit (BB-lite parameters
    # profiled in closed form are not constants of the fit)
    constant = [_variable(session, i, fit.values[i], _initial_error(result, i), constant=True)
                for i in range(m.P) if i not in floating and (session.state.frozen[i] or not m.analytic[i])]
    constant += _global_observables(session, result.dataset) if globs is None else globs
    constant.sort(key=lambda v: v.name.encode())
    cov = np.asarray(fit.covariance, dtype=float)[np.ix_(order, order)] if fl.size else None
    if fl.size > MAX_ROOFIT_MATRIX:
        sys.stderr.write(f"Warning: {name}: the covariance matrix of {fl.size} parameters exceeds ROOT's 1 GB "
                         f"limit for one object; the RooFitResult is written without it ({name}_covariance has it)\n")
        cov = None
    history = [("MINIMIZE", int(fit.status))]
    if fl.size:
        history.append(("HESSE", 0 if fit.cov_quality == 3 else int(fit.cov_quality)))
    return roofit.FitResult(name=name, title=name, status=int(fit.status), cov_quality=int(fit.cov_quality),
                            min_nll=float(fit.nll), edm=float(fit.edm), constant=constant, initial=initial,
                            final=final, covariance=cov, history=history)


def _write_fit_views(out: TreeFileWriter, name: str, names: list[str], values, errors, err_lo, err_hi,
                     status: int, cov_quality: int, min_nll: float, edm: float) -> None:
    """The histogram views of a fit result (see the module docstring)."""
    out.th1(f"{name}_values", np.asarray(values, float), np.asarray(errors, float), title=f"{name} values",
            classname="TH1D", labels=names)
    out.th1(f"{name}_errLo", np.asarray(err_lo, float), title=f"{name} lower errors", classname="TH1D", labels=names)
    out.th1(f"{name}_errHi", np.asarray(err_hi, float), title=f"{name} upper errors", classname="TH1D", labels=names)
    out.tree(f"{name}_status", {
        "status": np.array([status], dtype=np.int32),
        "covQual": np.array([cov_quality], dtype=np.int32),
        "minNll": np.array([min_nll], dtype=np.float64),
        "edm": np.array([edm], dtype=np.float64),
    })


def _write_fit(out: TreeFileWriter, session, result, fit, name: str, plots: bool,
               globs: list[roofit.RealVar] | None = None) -> None:
    m = session.model
    out.roofit(name, _fit_result(session, result, fit, name, globs))
    fl = np.asarray(fit.floating, dtype=int)
    if fl.size == 0:
        return
    order = _fit_order(session, fit)
    fl = fl[order]
    names = [m.names[i] for i in fl]
    err = fit.errors[fl]
    lo = fit.err_lo[fl] if fit.err_lo is not None else -err
    hi = fit.err_hi[fl] if fit.err_hi is not None else err
    lo = np.where(np.isnan(lo), -err, lo)
    hi = np.where(np.isnan(hi), err, hi)
    if name == "fit_s" and result.poi_index in fl:
        k = int(np.nonzero(fl == result.poi_index)[0][0])
        lo[k], hi[k] = -result.lo_err, result.hi_err
    _write_fit_views(out, name, names, fit.values[fl], err, lo, hi, fit.status, fit.cov_quality, fit.nll, fit.edm)
    cov = np.asarray(fit.covariance, dtype=float)[np.ix_(order, order)]
    out.th2(f"{name}_covariance", cov, title=f"Covariance matrix of the {name} parameters", classname="TH2D",
            xlabels=names, ylabels=names)
    if plots:
        corr = roofit.correlation_matrix(cov)
        n = fl.size
        # RooFitResult::correlationHist: x bin i <-> parameter i, y bin n-i <-> parameter i
        out.th2(f"covariance_{name}", corr[:, ::-1], title="Correlation matrix of fit parameters",
                classname="TH2D", xlabels=names, ylabels=names[::-1], entries=float(n * n))


def _norm_entries(session, y) -> list[tuple[str, float, float]]:
    """(name, yield, error) of every variable of ``norm_<stage>`` in Combine's order."""
    m = session.model
    out = []
    for _, s in _ordered_samples(session):
        ch = m.channels[m.sample_channel[s]].name
        out.append((f"{ch}/{m.sample_process[s]}", float(y.norm[s]), float(y.norm_err[s])))
    for ci in sorted(range(len(m.channels)), key=lambda i: m.channels[i].name):
        ch = m.channels[ci].name
        for k, suffix in enumerate(("total", "total_signal", "total_background")):
            out.append((f"{ch}/{suffix}", float(y.channel_norms[ci, k]), float(y.channel_norms_err[ci, k])))
    return out


def _write_norms(out: TreeFileWriter, session, y, name: str) -> None:
    entries = _norm_entries(session, y)
    if not entries:
        return
    # Combine: RooRealVar(name, "", value) (constant, unbounded) with setError, in a RooArgSet so named
    variables = [roofit.RealVar(n, v, error=e, title="", constant=True) for n, v, e in entries]
    out.roofit(name, roofit.ArgSet(variables, name=name))
    out.th1(f"{name}_values", np.array([e[1] for e in entries]), np.array([e[2] for e in entries]),
            title=f"{name} values", classname="TH1D", labels=[e[0] for e in entries])


def _write_nuisances_prefit(out: TreeFileWriter, session, first, options) -> None:
    """``nuisances_prefit``: Combine's snapshot of the nuisances after its nuisance-only fit."""
    m = session.model
    nuis = first.nuisance_names
    idx = [m.index[n] for n in nuis]
    centre = np.array([first.dataset.glob[i] if np.isfinite(first.dataset.glob[i]) else first.prefit_values[i]
                       for i in idx])
    widths = first.prefit_errors[idx] if first.prefit_errors is not None else np.zeros(len(idx))
    variables = []
    for n, i, c, w in zip(nuis, idx, centre, widths):
        asym = None
        if w > 0:
            asym = (float(w), float(w))  # Hesse only: RooMinimizer's (+error, +error)
            if options.minos == "all":
                p = session.spec.parameters.get(n)
                asym = (-p.sigma_lo, p.sigma_hi) if p is not None and p.constraint == "bifur" else (-float(w), float(w))
        variables.append(_variable(session, i, c, w if w > 0 else -1.0, asym))
    out.roofit("nuisances_prefit", roofit.ArgSet(variables))
    out.th1("nuisances_prefit_values", centre, widths, title="nuisances_prefit values", classname="TH1D",
            labels=nuis)


def _write_shapes(out: TreeFileWriter, session, result, y, stage: str, overall: bool) -> None:
    from .data_graph import write_data_graph

    m = session.model
    spec = session.spec
    top = f"shapes_{stage}"
    data = result.dataset.counts
    ordered = _ordered_samples(session)
    overall_rows = []  # (label, total, sig, bkg, data, width)
    overall_cov_blocks = []
    has_unc = y.with_uncertainties
    for ci in sorted(range(len(m.channels)), key=lambda i: m.channels[i].name):
        c = m.channels[ci]
        samples = [s for _, s in ordered if m.sample_channel[s] == ci]
        if not samples:
            continue
        M = _channel_bins(spec, m, ci)
        d = f"{top}/{c.name}"
        first = m.sample_process[samples[0]]
        counts = np.nan_to_num(data[c.bin_start:c.bin_start + c.nbins])
        write_data_graph(out, d, _pad(counts, M), title=f"{first} in {c.name}")
        for s in samples:
            sel = m.entry_sample == s
            local = m.entry_bin[sel] - c.bin_start
            v = np.zeros(M)
            e = np.zeros(M)
            v[local] = y.entry[sel]
            e[local] = y.entry_err[sel]
            proc = m.sample_process[s]
            out.th1(f"{d}/{proc}", v, e, title=f"{proc} in {c.name}", **AXIS_TITLES)
        sl = slice(c.bin_start, c.bin_start + c.nbins)
        tot = _pad(y.total[sl], M)
        out.th1(f"{d}/total", tot, _pad(y.total_err[sl], M), title=f"Total signal+background in {c.name}",
                **AXIS_TITLES)
        if any(m.sample_signal[s] for s in samples):
            out.th1(f"{d}/total_signal", _pad(y.signal[sl], M), _pad(y.signal_err[sl], M),
                    title=f"Total signal in {c.name}", **AXIS_TITLES)
        if any(not m.sample_signal[s] for s in samples):
            out.th1(f"{d}/total_background", _pad(y.background[sl], M), _pad(y.background_err[sl], M),
                    title=f"Total background in {c.name}", **AXIS_TITLES)
        cov = np.zeros((M, M))
        k = min(M, c.nbins)
        cov[:k, :k] = y.total_covar[ci][:k, :k]
        out.th2(f"{d}/total_covar", cov, title="Covariance signal+background", xtitle="Bin number",
                ytitle="Bin number", ztitle=f"covar ({AXIS_TITLES['ytitle']})")
        if overall:
            for i in range(M):
                inside = i < c.nbins
                b = c.bin_start + i
                overall_rows.append((f"{c.name}_{i}", tot[i], y.total_err[b] if inside else 0.0,
                                     y.signal[b] if inside else 0.0, y.signal_err[b] if inside else 0.0,
                                     y.background[b] if inside else 0.0, y.background_err[b] if inside else 0.0,
                                     counts[i] if inside else 0.0))
            overall_cov_blocks.append((ci, M))
    if overall and overall_rows:
        labels = [r[0] for r in overall_rows]
        col = lambda j: np.array([r[j] for r in overall_rows])  # noqa: E731
        n = len(labels)
        out.th1(f"{top}/total_bin_width", np.ones(n), title="Bin widths", classname="TH1D", labels=labels)
        out.th1(f"{top}/total_overall", col(1), col(2), title="signal+background", classname="TH1D", labels=labels)
        out.th1(f"{top}/total_signal", col(3), col(4), title="Total signal", classname="TH1D", labels=labels)
        write_data_graph(out, top, col(7), title="Total data", as_density=False, name="total_data")
        out.th1(f"{top}/total_background", col(5), col(6), title="Total background", classname="TH1D", labels=labels)
        if has_unc and y.overall_covariance is not None:
            pos = _overall_positions(m, overall_cov_blocks)
            full = _pad_matrix(y.overall_covariance, pos)
            out.th2(f"{top}/overall_total_covar", full, title="Covariance signal+background", classname="TH2D",
                    xlabels=labels, ylabels=labels, xtitle="Bin number", ytitle="Bin number")
            m1, m2, m3 = y.overall_moments
            ok = pos >= 0
            out.th1(f"{top}/overall_total_M1", np.where(ok, m1[np.maximum(pos, 0)], 0.0),
                    title="total M1 = 1/N sum(xi)", classname="TH1D", labels=labels, xtitle="Bin number")
            out.th2(f"{top}/overall_total_M2", _pad_matrix(m2, pos), title="total M2 = 1/N sum( (xi-E[xi])(xj-E[xj])",
                    classname="TH2D", xlabels=labels, ylabels=labels, xtitle="Bin number", ytitle="Bin number")
            out.th1(f"{top}/overall_total_M3", np.where(ok, m3[np.maximum(pos, 0)], 0.0),
                    title="total M3 = 1/N sum((xi-E[x])^3)", classname="TH1D", labels=labels, xtitle="Bin number")


def _overall_positions(m, blocks) -> np.ndarray:
    """Global bin index of every saved overall bin (-1 for padding past a channel's own bins)."""
    pos = []
    for ci, M in blocks:
        c = m.channels[ci]
        pos += [c.bin_start + i if i < c.nbins else -1 for i in range(M)]
    return np.array(pos, dtype=int)


def _pad_matrix(mat: np.ndarray, pos: np.ndarray) -> np.ndarray:
    ok = pos >= 0
    out = np.zeros((pos.size, pos.size))
    out[np.ix_(ok, ok)] = mat[np.ix_(pos[ok], pos[ok])]
    return out


def write_fit_diagnostics(path: str, session, results: list, options) -> None:
    """Write ``fitDiagnostics*.root`` for one or more datasets (objects of the first, trees of all)."""
    if not results:
        return
    first = results[0]
    with TreeFileWriter(path, fsync=False) as out:
        if first.nuisance_names:
            _write_nuisances_prefit(out, session, first, options)
        for stage in STAGES:
            y = first.yields.get(stage)
            if y is None:
                continue
            if options.save_normalizations:
                _write_norms(out, session, y, f"norm_{stage}")
            if options.save_shapes:
                _write_shapes(out, session, first, y, stage, options.save_overall_shapes)
        globs = _global_observables(session, first.dataset)
        for fit, name in ((first.fit_b, "fit_b"), (first.fit_s, "fit_s")):
            if fit is not None and fit.ok:
                _write_fit(out, session, first, fit, name, options.plots, globs)
                # a large fit's RooFitResult and matrices leave ~10^2 MB of freed pages behind
                session.release_free_memory()
        for tree in ("tree_fit_sb", "tree_fit_b", "tree_prefit"):
            cols = _tree_columns(session, results, tree)
            if cols:
                out.tree(tree, cols)
            else:  # a model without nuisances: Combine's tree_prefit has one entry per dataset, no branch
                out.branchless_tree(tree, len(results))
