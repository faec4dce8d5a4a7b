"""``combine -M GoodnessOfFit`` (Combine's ``src/GoodnessOfFit.cc``, spec §5.6).

``--algo saturated``
    ``2 (NLL_model - NLL_saturated)``: the model is fitted to the data (all POIs floating unless
    ``--fixedSignalStrength``, nuisances constrained, parameter ranges kept: GoodnessOfFit is not
    a ``FitterAlgoBase`` method, so nothing is unbounded); the saturated model has, per channel,
    the data as its expectation and the same constraint terms, which its fit leaves at their
    minimum. With Combine's NLL (spec §3.8) the statistic is therefore
    ``2 sum_j [nu_j - n_j + n_j ln(n_j / nu_j)] + 2 (C(theta_hat) - min C)`` over the bins of the
    unmasked channels (bins without data contribute ``nu_j``). ``--setParametersForFit`` and
    ``--setParametersForEval`` (e.g. channel masks) are applied before the fits and before the
    NLL evaluations.
``--algo KS`` / ``--algo AD``
    after the fit, per channel, the empirical distribution of the data is compared with the
    model's cumulative distribution at the upper edge of every bin of the common observable
    (Kolmogorov-Smirnov: the largest difference; Anderson-Darling: the sum of
    ``W (EDF - CDF)^2 / (CDF (1 - CDF)) (CDF - CDF_previous)``, W the number of data events,
    terms with ``CDF >= 1`` dropped), one float branch per channel, the result being their sum.

Combine writes an empty tree for a pure counting card (its model is not a simultaneous pdf);
pycombine computes the same statistics there (each channel is a one-bin histogram).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import ModelError, OptionError
from ..fit.scan import LimitSafeFitter, Profiler
from ..model.nll_terms import poisson_terms
from ..outputs.console import cpp
from ..outputs.limit_tree import LimitRow, LimitTree
from .base import ToyOutcome, parse_assignments

MESSAGES = {
    "saturated": "Will use saturated model to compute goodness of fit for a binned likelihood",
    "AD": "Will use the Anderson-Darling test to compute goodness of fit for a binned likelihood",
    "KS": "Will use the Kolmogorov-Smirnov test to compute goodness of fit for a binned likelihood",
}


def _algo(opts) -> str:
    return getattr(opts, "algo", None) or ""


def check_options(opts) -> None:
    algo = _algo(opts)
    if algo not in MESSAGES:
        raise OptionError(f"GoodnessOfFit: algorithm {algo} not supported")


def option_messages(opts) -> list[str]:
    return [MESSAGES[_algo(opts)]]


@dataclass
class GoFResult:
    algo: str
    statistic: float  # nan when it cannot be computed (non-finite NLL): no entry then
    per_channel: dict[str, float] = field(default_factory=dict)  # KS/AD: float32 value per channel
    ok: bool = True  # the statistic is finite
    converged: bool = True  # the model fit converged (Combine keeps the statistic either way)
    best_fit: np.ndarray | None = None  # parameters after the model fit
    lines: list[str] = field(default_factory=list)


def _apply_setter(model, values: np.ndarray, text: str) -> None:
    """``--setParametersForFit/Eval a=v,b=w``: set values (ranges are not checked, as in Combine)."""
    for name, v in parse_assignments(text):
        i = model.index.get(name)
        if i is None:
            sys.stdout.write(f"Warning: Did not find a parameter with name {name}\n")
            continue
        values[i] = v


def _fit(session, data, values: np.ndarray):
    """The model fit of GoodnessOfFit: POIs floating (or fixed), ranges kept."""
    state = session.state.copy()
    state.values = values.copy()
    fixed_mu = getattr(session.opts, "fixed_signal_strength", None)
    if fixed_mu is not None and session.pois:
        i = session.index(session.pois[0])
        state.values[i] = float(fixed_mu)
        state.frozen[i] = True
    fitter = LimitSafeFitter(session.model, data, session.minimizer, remove_bounds=False,
                             analytic_bb=session.analytic_bb)
    prof = Profiler(fitter, state)
    point = prof.minimize(state.values)
    return prof, state, point


def _constraint_minimum(model, state, values: np.ndarray, glob: np.ndarray) -> np.ndarray:
    """``values`` with every floating constrained parameter moved to its constraint's minimum.

    This is where the saturated model's fit leaves them: its NLL depends on the nuisances only
    through the constraint terms (Gaussian and asymmetric Gaussian: the global observable;
    Poisson: the observed count N, or the lower end for N = 0; gamma: (k-1) * scale; the
    Fermi-Dirac pair: its centre), within the parameter range.
    """
    out = values.copy()
    floating = ~state.frozen
    target = np.full(model.P, np.nan)
    for idx in (model.gauss_idx, model.bifur_idx):
        target[idx] = glob[idx]
    if model.poisson_idx.size:
        g = glob[model.poisson_idx]
        target[model.poisson_idx] = np.where(g > 0, g, state.lo[model.poisson_idx])
    if model.gamma_idx.size:
        k = glob[model.gamma_idx]
        target[model.gamma_idx] = np.maximum(k - 1.0, 0.0) * model.gamma_scale
    if model.dfd_idx.size:
        target[model.dfd_idx] = glob[model.dfd_idx]
    if model.dfd2_idx.size:
        target[model.dfd2_idx] = 0.0
    sel = floating & ~np.isnan(target)
    out[sel] = np.clip(target[sel], state.lo[sel], state.hi[sel])
    return out


def _active_bins(model, values: np.ndarray) -> np.ndarray:
    """Bins of the channels not masked by their ``mask_<channel>`` parameter."""
    masks = np.array([c.mask_index for c in model.channels], dtype=int)
    on = np.ones(len(model.channels), dtype=bool)
    has = masks >= 0
    if has.any():
        on[has] = values[masks[has]] == 0
    return on[model.bin_channel]


def saturated_statistic(session, data, out: Callable[[str], None] | None = None) -> GoFResult:
    """The saturated-model test statistic for one dataset."""
    opts = session.opts
    model = session.model
    fit_set = getattr(opts, "set_parameters_for_fit", "") or ""
    eval_set = getattr(opts, "set_parameters_for_eval", "") or ""
    values = session.state.values.copy()
    _apply_setter(model, values, fit_set)
    prof, state, point = _fit(session, data, values)
    theta = point.values.copy()
    # the nominal NLL at the fitted point (evaluation settings applied)
    _apply_setter(model, theta, eval_set)
    nll_nominal = prof.nll(theta)
    # the saturated model: expectation = data in every bin, constraints at their minimum
    sat = theta.copy()
    _apply_setter(model, sat, fit_set)
    sat = _constraint_minimum(model, state, sat, data.glob)
    _apply_setter(model, sat, eval_set)
    bb = model.bb_par
    if bb.size and prof.lik.analytic_bb:
        sat[bb] = data.glob[bb]
    n = np.nan_to_num(data.counts)
    active = _active_bins(model, sat)
    # the likelihood's Poisson terms with the expectation equal to the data (zero in the form the
    # likelihood uses; written through the same function so the two cannot drift apart)
    terms = poisson_terms(n, n, n > 0)
    cval, _ = prof.lik._constraints(sat, False)
    nll_saturated = float(np.sum(terms[active])) + float(cval)
    # Combine takes the NLL where the minimiser stopped, converged or not: so do we (with a warning)
    ok = bool(np.isfinite(nll_nominal) and np.isfinite(nll_saturated))
    t = 2.0 * (nll_nominal - nll_saturated) if ok else math.nan
    res = GoFResult("saturated", t, ok=ok, converged=bool(point.ok), best_fit=point.values)
    if ok:
        res.lines = ["", " --- GoodnessOfFit --- ", f"Best fit test statistic: {cpp(t)}"]
    return res


SCAN_BINS = 10000  # RooFit::ScanParameters(10000, 2) in GoodnessOfFit::EvaluateADDistance
SCAN_ORDER = 2


def scan_cdf(nu: np.ndarray, nbins_obs: int, scan_bins: int = SCAN_BINS) -> np.ndarray:
    """RooFit's scanned CDF of a binned channel pdf at the upper edges of the observable's bins.

    Combine asks for ``pdf.createCdf(x, ScanAllCdf(), ScanParameters(10000, 2))``, i.e. a
    ``RooNumCdf``: the normalised pdf is sampled at the centres of 10000 equal cache bins over
    the observable range ``[0, nbins_obs]`` (with RooNumRunningInt's adaptive fill: 32 start
    ranges, a range is filled by linear interpolation when its mid-point agrees with it to
    1e-6 / (x range), else split), the samples are summed and divided by the total, and the CDF
    at ``x`` is the 2nd-order polynomial through the three cache points around ``x`` (cache value
    ``i`` sits at the centre of cache bin ``i``; beyond the range the points are (edge, 0) and
    (edge, 1)). Compared with the exact cumulative sum this shifts the CDF by about half a cache
    bin of probability (~1e-4).
    """
    m = int(nbins_obs)
    dens = np.zeros(m)
    k = min(nu.size, m)
    tot = float(np.sum(nu))
    dens[:k] = nu[:k] / tot if tot > 0 else 0.0
    n = int(scan_bins)
    xlo, xhi = 0.0, float(m)
    binw = (xhi - xlo) / n
    centers = xlo + (np.arange(n) + 0.5) * binw
    f_all = dens[np.clip(np.floor(centers).astype(int), 0, m - 1)]
    ay = np.full(n, -1.0)
    span = centers[-1] - centers[0]

    def point(i: int) -> None:
        ay[i] = f_all[i]

    def fill(lo: int, hi: int) -> None:
        stack = [(lo, hi)]
        while stack:
            lo, hi = stack.pop()
            if ay[lo] < 0:
                point(lo)
            if ay[hi] < 0:
                point(hi)
            if hi - lo == 1:
                continue
            if hi - lo == 2:
                point(lo + 1)
                continue
            mid = (lo + hi) // 2
            point(mid)
            y_int = ay[lo] + (ay[hi] - ay[lo]) * (mid - lo) / (hi - lo)
            if abs(y_int - ay[mid]) * span > 1e-6:
                stack.append((mid, hi))
                stack.append((lo, mid))
            else:
                j = np.arange(lo + 1, mid)
                ay[lo + 1:mid] = ay[lo] + (ay[mid] - ay[lo]) * (j - lo) / (mid - lo)
                j = np.arange(mid + 1, hi)
                ay[mid + 1:hi] = ay[mid] + (ay[hi] - ay[mid]) * (j - mid) / (hi - mid)

    last = 0
    for i in range(1, 33):
        hi = (i * n) // 32 - 1
        fill(last, hi)
        last = hi
    s = np.cumsum(ay)
    s = s / s[-1] if s[-1] != 0 else s
    # evaluation at the upper bin edges x = 1 .. m (RooDataHist::interpolateDim, cdf boundaries)
    x = np.arange(1, m + 1, dtype=float)
    c = np.clip(((x - xlo) / binw).astype(int), 0, n - 1)
    lo_idx = c - SCAN_ORDER // 2 - (x < xlo + (c + 0.5) * binw).astype(int)
    xs = np.empty((m, SCAN_ORDER + 1))
    ys = np.empty((m, SCAN_ORDER + 1))
    for k in range(SCAN_ORDER + 1):
        i = lo_idx + k
        inside = (i >= 0) & (i < n)
        over = i >= n
        xs[:, k] = np.where(inside, xlo + (np.clip(i, 0, n - 1) + 0.5) * binw,
                            np.where(over, xhi + 1e-10 * (i - n + 1), xlo - (-i - 1) * 1e-10))
        ys[:, k] = np.where(inside, s[np.clip(i, 0, n - 1)], np.where(over, 1.0, 0.0))
    out = np.zeros(m)
    for k in range(SCAN_ORDER + 1):  # Lagrange form of the interpolating polynomial
        w = np.ones(m)
        for j in range(SCAN_ORDER + 1):
            if j != k:
                w *= (x - xs[:, j]) / (xs[:, k] - xs[:, j])
        out += ys[:, k] * w
    return out


def _edf_distance(nu: np.ndarray, n: np.ndarray, total_bins: int, kolmogorov: bool) -> float:
    """KS or AD distance of one channel (``GoodnessOfFit::EvaluateADDistance``).

    The channel's data set has one entry per bin of the common observable (``total_bins``);
    bins beyond the channel's own carry no data and no expectation.
    """
    extra = max(total_bins - nu.size, 0)
    n = np.concatenate([n, np.zeros(extra)])
    s_data = float(n.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        cdf = scan_cdf(nu, nu.size + extra)
        if s_data == 0:
            # Combine: every entry has EDF = -1, which becomes the statistic
            return -1.0
        edf = np.cumsum(n / s_data)
        if kolmogorov:
            return float(np.max(np.abs(edf - cdf), initial=0.0))
        prob = np.diff(np.concatenate([[0.0], cdf]))
        dist = s_data * (edf - cdf) ** 2 / cdf / (1.0 - cdf) * prob
        dist = np.where(cdf >= 1.0, 0.0, dist)
        return float(np.sum(dist))


def ks_ad_statistic(session, data, algo: str) -> GoFResult:
    """KS or AD statistic for one dataset: per channel and summed."""
    model = session.model
    values = session.state.values.copy()
    prof, state, point = _fit(session, data, values)
    nu = prof.lik.expected(point.values)
    n = np.nan_to_num(data.counts)
    total_bins = max(int(session.spec.max_bins), 1)
    per: dict[str, float] = {}
    for ch in model.channels:
        sl = slice(ch.bin_start, ch.bin_start + ch.nbins)
        per[ch.name] = float(np.float32(_edf_distance(nu[sl], n[sl], total_bins, algo == "KS")))
    # Combine sums the float branches in double precision
    t = float(sum(per.values()))
    label = "Kolmogorov-Smirnov" if algo == "KS" else "Anderson-Darling"
    res = GoFResult(algo, t, per, ok=True, best_fit=point.values)
    res.lines = ["", " --- GoodnessOfFit --- ", f"{label} test statistic: {cpp(t)}"]
    return res


def goodness_of_fit(session, data, algo: str | None = None) -> GoFResult:
    """The GoodnessOfFit statistic of one dataset (observed, Asimov or toy)."""
    algo = algo or _algo(session.opts)
    if algo == "saturated":
        return saturated_statistic(session, data)
    if algo in ("KS", "AD"):
        return ks_ad_statistic(session, data, algo)
    raise OptionError(f"GoodnessOfFit: algorithm {algo} not supported")


def branches(session, algo: str) -> list[tuple[str, np.dtype]]:
    """Method branches of the limit tree: one float per channel for KS/AD."""
    if algo in ("KS", "AD"):
        return [(ch.name, np.dtype(np.float32)) for ch in session.model.channels]
    return []


def add_row(tree, result: GoFResult, i_toy: int) -> None:
    if result.ok:
        tree.rows.append(LimitRow(result.statistic, 0.0, -1.0, i_toy, dict(result.per_channel)))


def _warn_unconverged(session, result: GoFResult, what: str) -> None:
    if result.ok and not result.converged:
        session.err(f"Warning: GoodnessOfFit: the fit of {what} did not converge; the test statistic is taken "
                    "where the minimiser stopped, as Combine does")


def run(session) -> int:
    data, i_toy = session.main_dataset()
    algo = _algo(session.opts)
    result = goodness_of_fit(session, data, algo)
    if not result.ok:
        raise ModelError("GoodnessOfFit: the test statistic is not finite (the likelihood of the model or of the "
                         "saturated model is not a number at the fitted point); no output written")
    _warn_unconverged(session, result, "the data" if i_toy == 0 else "the Asimov data set")
    for line in result.lines:
        print(line)
    tree = session.limit_tree()
    tree.branches = branches(session, algo)
    add_row(tree, result, i_toy)
    sys.stdout.flush()
    tree.write(session.output_filename())
    return 0


def run_toy(session, data, i_toy: int, generation, first: bool) -> ToyOutcome:
    """One toy: the statistic's console lines and its ``limit`` row (counted when it is finite)."""
    algo = _algo(session.opts)
    res = goodness_of_fit(session, data, algo)
    _warn_unconverged(session, res, f"toy {i_toy}")
    for line in res.lines:
        print(line)
    tree = LimitTree(0.0, 0)
    add_row(tree, res, i_toy)
    return ToyOutcome(i_toy, tree.rows, branches(session, algo), counted=bool(res.ok), limit=float(res.statistic))
