"""``combine -M Significance``: profile-likelihood significance (Combine's ``src/Significance.cc``).

The default path of Combine (``useMinos``) evaluates ``ProfiledLikelihoodTestStatOpt`` (in
``src/ProfiledLikelihoodRatioTestStatExt.cc``): a free fit with the POI bounded below by 0
("one-sided", the default) or by its model range (``--uncapped 1``, "sign flip"), a conditional fit
at r = ``--signalForSignificance``, and Z = sqrt(2 q). Fits keep the parameter bounds.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from ..errors import OptionError
from ..fit.normal import norm_cdf_c, norm_quantile_c
from ..outputs.console import cpp
from .base import ToyOutcome, limit_row

#: the conditional fit is "better" than the free one by more than this: redo the free fit
REFIT_THRESHOLD = 0.02


def check_options(opts) -> None:
    return None


def option_messages(opts) -> list[str]:
    return []


@dataclass
class SignificanceResult:
    significance: float  # signed when uncapped; 0 when capped and q <= 0
    q: float  # NLL(conditional) - NLL(free), after the sign conventions
    r_hat: float
    nll_free: float
    nll_null: float
    free_ok: bool = True
    null_ok: bool = True
    negative_zero: bool = False  # Combine's "minimum of the likelihood is for r <= mu0" case

    @property
    def pvalue(self) -> float:
        return norm_cdf_c(self.significance)


def significance(session, data, mu0: float = 0.0, uncapped: bool = False) -> SignificanceResult:
    """Profile-likelihood significance of ``data`` against r = ``mu0`` (``ProfiledLikelihoodTestStatOpt``)."""
    clean = session.state
    ir = session.poi_index
    fitter = session.fitter(data, remove_bounds=False)
    st = clean.copy()
    st.frozen[ir] = False
    old_max = float(clean.hi[ir])
    # Significance::runSignificance raises the POI minimum to mu0 when capped, then the one-sided
    # test statistic sets it to 0; the upper bound is dropped (1.1 mu0 for mu0 != 0, capped)
    if not uncapped:
        st.lo[ir] = 0.0
        st.hi[ir] = np.inf if mu0 == 0 else 1.1 * mu0
    else:
        st.hi[ir] = np.inf
    if mu0 == 0:
        r_start = 0.1 * old_max if math.isfinite(old_max) and abs(old_max) < 1e28 else 0.5
    else:
        r_start = 0.5 * mu0
    st.values[ir] = min(max(r_start, st.lo[ir]), st.hi[ir])
    free = fitter.minimize(st)
    nll_free, r_hat = free.nll, float(free.values[ir])
    nll_null = nll_free
    null_ok = True
    if mu0 == 0 or uncapped or r_hat < mu0:
        cond = st.copy()
        cond.values = free.values.copy()
        null = fitter.minimize(cond, {ir: mu0})  # evaluates only when nothing else floats
        nll_null, null_ok = null.nll, null.status in (0, 1)
        if nll_null - nll_free < -REFIT_THRESHOLD:
            # the conditional minimum is lower: the free fit stopped in a false minimum
            again = st.copy()
            again.values = null.values.copy()
            again.values[ir] = min(max(mu0, st.lo[ir]), st.hi[ir])
            free = fitter.minimize(again)
            nll_free, r_hat = free.nll, float(free.values[ir])
            if r_hat > mu0 and not uncapped:
                nll_null = nll_free
        if mu0 == 0:
            if uncapped and r_hat < mu0:
                nll_null, nll_free = nll_free, nll_null
        elif r_hat > mu0 and uncapped:
            nll_null, nll_free = nll_free, nll_null
    q = nll_null - nll_free
    if q > 0:
        z = math.sqrt(2.0 * q)
    elif uncapped:
        z = -math.sqrt(-2.0 * q)
    else:
        z = 0.0
    neg_zero = z == 0 and math.copysign(1.0, z) < 0
    if neg_zero:
        z = 0.0
    return SignificanceResult(z, q, r_hat, nll_free, nll_null, free.status in (0, 1), null_ok, neg_zero)


def report(session, data) -> float:
    """The significance (or, with ``--pvalue``, the p-value) of ``data`` with Combine's console
    block and warnings; returns the value that goes into the limit tree (observed data and each
    toy alike)."""
    opts = session.opts
    # the option is shared with HybridNew, whose default (1) differs: None means "not given"
    text = getattr(opts, "signal_for_significance", None)
    try:
        mu0 = float(np.float32(float(text))) if text not in (None, "") else 0.0
    except ValueError:
        raise OptionError(f"--signalForSignificance: {text!r} is not a number") from None
    res = significance(session, data, mu0, bool(getattr(opts, "uncapped", False)))
    if not (res.free_ok and res.null_ok):
        session.err("Warning: Significance: a fit did not converge (Minuit status not 0/1); "
                    "the significance may be inaccurate")
    if res.negative_zero:
        session.err(f"The minimum of the likelihood is for r <= {cpp(mu0)}, so the significance is zero")
    report_p = bool(getattr(opts, "pvalue", False))
    value = res.pvalue if report_p else res.significance
    print("")
    print(" -- Significance -- ")
    print(("p-value of background: " if report_p else "Significance: ") + cpp(value))
    if int(getattr(opts, "verbose", 0) or 0) > 0:
        if report_p:
            print(f"       (Significance = {cpp(norm_quantile_c(value))})")
        else:
            print(f"       (p-value = {cpp(norm_cdf_c(value))})")
    return value


def run(session) -> int:
    data, i_toy = session.main_dataset()
    value = report(session, data)
    tree = session.limit_tree()
    tree.add(value, 0.0, -1.0, i_toy)
    tree.write(session.output_filename())
    sys.stdout.flush()
    return 0


def run_toy(session, data, i_toy: int, generation, first: bool) -> ToyOutcome:
    """One toy: Combine's block and a ``limit`` row with the significance."""
    value = report(session, data)
    return ToyOutcome(i_toy, [limit_row(value, 0.0, -1.0, i_toy)], [], counted=True, limit=float(value))
