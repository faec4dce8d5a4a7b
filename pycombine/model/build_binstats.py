"""autoMCStats: the bin-by-bin statistical uncertainty parameters of Combine's ``setupBinPars``.

For each bin of a channel with ``autoMCStats`` the summed template error decides between one
Gaussian "Barlow-Beeston lite" parameter for the bin, nothing (no error), or, when the effective
number of unweighted events is at most the threshold, one parameter per process (Poisson for a
process whose own effective count is below the threshold, Gaussian otherwise). The report
text2workspace prints for each channel is reproduced line by line in the build log.
"""

from __future__ import annotations

import math

import numpy as np

from .build_numeric import FLOOR, round_f, tmath_poisson
from .build_parameters import ParameterTable
from .formula import Formula
from .spec import BinStat, ChannelSpec, FormulaSpec, Parameter, ProcessSpec


def coefficient_at_build(proc: ProcessSpec, table: ParameterTable) -> float:
    """The process coefficient with every parameter at its initial value (r = 1, gmN at N+1)."""
    values = _Inits(table.params)
    c = proc.norm
    for f in proc.factors:
        c *= _value(f, values, table.formulas)
    if proc.gmN:
        c *= values[proc.gmN[0]]
    for g in proc.gmM:
        c *= values[g]
    for name, v in proc.additive:
        c *= 1.0 + v * values[name]
    return c


class _Inits:
    """The initial values of the table's parameters by name, read on demand (a dict of all of them
    per process would cost O(parameters x processes): seconds in a large combination)."""

    __slots__ = ("params",)

    def __init__(self, params: dict[str, Parameter]):
        self.params = params

    def __contains__(self, name: str) -> bool:
        return name in self.params

    def __getitem__(self, name: str) -> float:
        return self.params[name].init


def _value(name: str, values: "dict[str, float] | _Inits", formulas: dict[str, FormulaSpec]) -> float:
    """The value of a parameter or (recursively) a formula at ``values``."""
    if name in values:
        return values[name]
    f = formulas[name]
    return Formula(f.name, f.expression, f.args).value([_value(a, values, formulas) for a in f.args])


def setup_bin_stats(channels: list[ChannelSpec], table: ParameterTable, log: list[str]) -> list[str]:
    """Combine's ``CMSHistErrorPropagator::setupBinPars``: decide the autoMCStats parameters.

    Adds the new parameters to ``table``, fills ``auto_mc_stats.bins`` of each channel, appends
    text2workspace's report to ``log`` and returns the names of the new parameters in order.
    """
    new_params = []
    for ch in channels:
        amc = ch.auto_mc_stats
        if amc is None:
            continue
        log.append(
            "Channel %s will use autoMCStats with settings: event-threshold=%g, include-signal=%i, hist-mode=%i"
            % (ch.name, amc.threshold, int(amc.include_signal), amc.hist_mode)
        )
        if amc.threshold < 0:
            continue
        new_params += _bin_pars(ch, table, log)
    return new_params


def _bin_pars(ch: ChannelSpec, table: ParameterTable, log: list[str]) -> list[str]:
    """The autoMCStats parameters of one channel (BB-lite per bin, or per process below the threshold)."""
    amc = ch.auto_mc_stats
    tau = amc.threshold
    prop = f"prop_bin{ch.name}"
    coeffs = np.array([coefficient_at_build(p, table) for p in ch.processes])
    vals = np.array([np.maximum(p.template, FLOOR) for p in ch.processes])
    errs = np.array([p.errors for p in ch.processes])
    skip = np.array([p.is_signal and not amc.include_signal for p in ch.processes])
    valsum = (coeffs[:, None] * vals).sum(axis=0)
    toterr = np.sqrt(((coeffs[:, None] * errs) ** 2).sum(axis=0))
    out = []
    log.append("=" * 60)
    log.append(f"Analyzing bin errors for: {prop}")
    log.append(f"Poisson cut-off: {tau:g}")
    if skip.any():
        log.append("Processes excluded for sums: " + " ".join(p.name for p, s in zip(ch.processes, skip) if s))
    log.append("=" * 60)
    log.append("%-10s %-15s %-15s %-30s" % ("Bin", "Contents", "Error", "Notes"))
    keep = ~skip
    kc = coeffs[keep]
    if 1 <= kc.size <= 7 and np.all(kc > 0):
        # every bin's sums at once, added in the order numpy's sum of one bin's column adds them
        # (so the numbers, and the report, are the same)
        sub_sums = _column_sums(kc[:, None] * vals[keep])
        sub_errs = np.sqrt(_column_sums((kc[:, None] * errs[keep]) ** 2))
    else:
        sub_sums = np.array([float((kc * vals[keep, j]).sum()) for j in range(ch.nbins)])
        sub_errs = np.array([math.sqrt(float(((kc * errs[keep, j]) ** 2).sum())) for j in range(ch.nbins)])
    # per-bin numbers as Python floats, the effective counts of all bins at once: a combination
    # has 10^5 bins, and numpy scalars (and an errstate per bin) cost more than the rest of the loop
    counts = _effective_counts(sub_sums, sub_errs).tolist()
    any_skip = bool(skip.any())
    valsum_l, toterr_l, sub_sums_l, sub_errs_l = valsum.tolist(), toterr.tolist(), sub_sums.tolist(), sub_errs.tolist()
    for j in range(ch.nbins):
        log.append("%-10i %-15f %-15f %-30s" % (j, valsum_l[j], toterr_l[j], "total sum"))
        sub_sum, sub_err = sub_sums_l[j], sub_errs_l[j]
        if any_skip:
            log.append("%-10i %-15f %-15f %-30s" % (j, sub_sum, sub_err, "excluding marked processes"))
        if sub_err <= 0.0:
            log.append("  %-30s" % "=> Error is zero, ignore")
            log.append("-" * 60)
            amc.bins.append(BinStat(j, "none"))
            continue
        n = counts[j]
        alpha = valsum_l[j] / n if n else float("inf")
        log.append("%-10i %-15f %-15f %-30s" % (j, n, math.sqrt(n), "Unweighted events, alpha=%f" % alpha))
        if n <= tau:
            log.append("  %-30s" % "=> Number of weighted events is below Poisson threshold")
            stat = BinStat(j, "per_process")
            for i, p in enumerate(ch.processes):
                v_p, e_p = float(vals[i, j]), float(errs[i, j])
                log.append("    %-20s %-15f %-15f %-30s" % (p.name, v_p, e_p, ""))
                name = f"{prop}_bin{j}_{p.name}"
                if e_p <= 0.0:
                    log.append("      %-30s" % "=> Error is zero, ignore")
                elif v_p < 0.0:
                    log.append("      %-30s" % "=> Cannot handle negative content, ignore")
                elif v_p > 0.0 and v_p >= e_p * 0.999:
                    n_p = _effective_count(v_p, e_p)
                    note = "Unweighted events, alpha=%f" % (v_p / n_p)
                    log.append("    %-20s %-15f %-15f %-30s" % ("", n_p, math.sqrt(n_p), note))
                    if n_p <= tau:
                        lo, hi = _poisson_bb_range(n_p)
                        par = Parameter(name, float(n_p), lo, hi, kind="bb", constraint="poisson", origin="autoMCStats")
                        par.glob = float(n_p)
                        par.global_obs = name + "_In"
                        par.global_obs_range = _poisson_bb_obs_range(n_p)
                        log.append(
                            "      => Product of %s[%.2f,%.2f,%.2f] and const [%.4f] to be Poisson constrained"
                            % (name, n_p, lo, hi, 1.0 / n_p)
                        )
                        stat.per_process.append((i, "poisson", name, float(n_p)))
                    else:
                        par = _bb_gauss(name)
                        log.append(
                            "      => Parameter %s[%.2f,%.2f,%.2f] to be Gaussian constrained" % (name, 0, -7, 7)
                        )
                        stat.per_process.append((i, "gauss", name, 0.0))
                    table.add(par)
                    out.append(name)
                else:
                    par = _bb_gauss(name)
                    table.add(par)
                    out.append(name)
                    log.append(
                        "      => Poisson not viable, %s[%.2f,%.2f,%.2f] to be Gaussian constrained" % (name, 0, -7, 7)
                    )
                    stat.per_process.append((i, "gauss", name, 0.0))
                log.append("  " + "-" * 58)
            amc.bins.append(stat)
        elif toterr_l[j] > 0.0:
            name = f"{prop}_bin{j}"
            table.add(_bb_gauss(name))
            out.append(name)
            log.append("  => Total parameter %s[%.2f,%.2f,%.2f] to be Gaussian constrained" % (name, 0, -7, 7))
            amc.bins.append(BinStat(j, "bblite", name))
        else:
            amc.bins.append(BinStat(j, "none"))
        log.append("-" * 60)
    return out


def _column_sums(rows: np.ndarray) -> np.ndarray:
    """``[rows[:, j].sum() for j]`` for at most 7 rows: numpy sums so few terms sequentially
    (from 8 on, pairwise with unrolled partial sums), as this does."""
    out = rows[0].copy()
    for r in rows[1:]:
        out += r
    return out


def _effective_counts(values: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """floor(0.5 + value^2 / error^2) per element, Combine's effective number of unweighted
    events; inf where that is not finite (the error so small that the ratio overflows: C++
    carries on with inf, so does this)."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        x = 0.5 + values * values / (errors * errors)
    return np.where(np.isfinite(x), np.floor(x), np.inf)


def _effective_count(value: float, error: float) -> float:
    """:func:`_effective_counts` of one value."""
    return float(_effective_counts(np.float64(value), np.float64(error)))


_BB_GAUSS_RANGE = (-7.0, 7.0)


def _bb_gauss(name: str) -> Parameter:
    """A unit-Gaussian Barlow-Beeston parameter in [-7, 7]."""
    return Parameter(name, 0.0, -7.0, 7.0, kind="bb", constraint="gauss", global_obs=name + "_In",
                     global_obs_range=_BB_GAUSS_RANGE, optimize_bounds=True, origin="autoMCStats")


def _poisson_bb_range(n: float) -> tuple[float, float]:
    """The range of a Poisson BB parameter with ``n`` effective events: 7 sigma either side."""
    # scipy.special (not scipy.stats, which costs 0.5 s to import): half the chi2 quantile of k
    # dof at p is gammaincinv(k/2, p); the normal upper tail at 7 sigma is ndtr(-7)
    from scipy.special import gammaincinv, ndtr

    pval = float(ndtr(-7.0))
    lo = gammaincinv(n, pval)
    hi = gammaincinv(n + 1.0, 1.0 - pval)  # like Combine, through the rounded 1 - p
    return float(lo), float(hi)


def _poisson_bb_obs_range(nom: float) -> tuple[float, float]:
    """The range of its global observable, scanned like the gmN ranges (down to a 7 sigma tail)."""
    pval = 0.5 * math.erfc(7.0 / math.sqrt(2.0))  # normal upper tail at 7 sigma
    min_obs = nom
    while min_obs > 0 and tmath_poisson(min_obs, nom + 1) > pval:
        min_obs -= math.sqrt(nom) if nom > 10 else 1
    max_obs = nom + 2
    while tmath_poisson(max_obs, nom + 1) > pval:
        max_obs += math.sqrt(nom) if nom > 10 else 2
    return round_f(min_obs), round_f(max_obs)
