"""Test-statistic distributions of HybridNew points: what Combine's ``test/plotTestStatCLs.py``
draws (its ROOT macros ``hypoTestResultTree.cxx`` and ``qmuPlot.cxx``), from pycombine's
``--saveHybridResult`` trees.

For a CLs point (``qmu``): the normalised distributions of the plotted statistic under the
background-only toys (red, with its median and 68 %/95 % bands) and the signal+background toys
(blue), the observed value (or an expected quantile of the background toys), and the tails that
give p_mu and 1 - p_b, with p_mu, 1 - p_b and CLs = p_mu / (1 - p_b). For a significance
(``q0``): the background-only distribution, the observed value and its tail.

The plotted statistic is Combine's: twice the stored NLL difference, clipped at 0 unless the
test is two-sided (``--doublesided``, LEP/TEV statistics). The tails are counted on the toys
themselves with a strict ``>`` (``<`` two-sided), as the macro's ``tailReal`` does, so the printed
values can differ from HybridNew's own CLs (closed interval) by the toys that sit exactly on the
observed value; the expected quantile is the unbinned quantile of the background toys (the macro
interpolates in its histogram's bins).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..methods.hybrid_new.hypotest import HypoTest


@dataclass
class TestStatSummary:
    """The numbers one point's plot shows (and the script prints)."""

    name: str  # the canvas name of Combine's macro: qmu_<mass>_<value> or q0_<mass>
    value: float  # the POI value of the point
    null: np.ndarray  # background-only toys' plotted statistic (the red histogram)
    alt: np.ndarray  # signal+background toys' plotted statistic (the blue histogram)
    observed: float  # the value marked by the arrow
    p_mu: float
    p_mu_err: float
    one_minus_pb: float
    one_minus_pb_err: float
    cls: float
    cls_err: float

    @property
    def significance(self) -> float:
        """The one-sided Gaussian significance of 1 - p_b (RooStats::PValueToSignificance)."""
        from ..fit.normal import norm_quantile

        p = self.one_minus_pb
        if not 0.0 < p < 1.0:
            return math.inf if p <= 0.0 else -math.inf
        return norm_quantile(1.0 - p)


def plotted(q: np.ndarray, doublesided: bool) -> np.ndarray:
    """Combine's plotted statistic: 2 q, clipped at 0 for one-sided statistics."""
    q2 = 2.0 * np.asarray(q, float)
    return q2 if doublesided else np.maximum(q2, 0.0)


def _tail(values: np.ndarray, cut: float, doublesided: bool) -> tuple[float, float]:
    n = values.size
    if n == 0:
        return math.nan, 0.0
    passed = np.count_nonzero(values < cut) if doublesided else np.count_nonzero(values > cut)
    p = passed / n
    return p, math.sqrt(max(p * (1.0 - p), 0.0) / n)


def summarize(test: HypoTest, poi: str, mass: float, *, doublesided: bool = False, invert: bool = False,
              expected_quantile: float | None = None, significance: bool = False) -> TestStatSummary:
    """The distributions and tail fractions of one point.

    ``invert`` swaps the two hypotheses (Combine's ``-I``); ``expected_quantile`` q replaces the
    observed value by the (1 - q) quantile of the background-only toys (``-E -q``).
    """
    two = doublesided and not significance
    null, alt = plotted(test.q_b, two), plotted(test.q_sb, two)
    if invert:
        null, alt = alt, null
    value = float(test.point.get(poi, math.nan))
    obs = float(plotted(np.array([test.q_data]), two)[0]) if np.isfinite(test.q_data) else -1.0
    if expected_quantile is not None and null.size:
        obs = float(np.quantile(null, 1.0 - expected_quantile))
    pb, pb_err = _tail(null, obs, two)
    if significance:
        return TestStatSummary(f"q0_{mass:.1f}", value, null, alt, obs, math.nan, 0.0, pb, pb_err, math.nan, 0.0)
    pmu, pmu_err = _tail(alt, obs, two)
    with np.errstate(divide="ignore", invalid="ignore"):
        cls = pmu / pb if pb > 0 else math.nan
        cls_err = cls * math.hypot(pb_err / pb, pmu_err / pmu) if pb > 0 and pmu > 0 else 0.0
    return TestStatSummary(f"qmu_{mass:.1f}_{value:g}", value, null, alt, obs, pmu, pmu_err, pb, pb_err, cls, cls_err)


def _edges(values: list[np.ndarray], nbins: int) -> np.ndarray:
    finite = np.concatenate([v[np.isfinite(v)] for v in values if v.size] or [np.zeros(1)])
    lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        hi = lo + 1.0
    return np.linspace(lo, hi, nbins + 1)


def histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Unit-area contents of ``values`` in ``edges`` (the macro's normalised histograms)."""
    h, _ = np.histogram(values, bins=edges)
    total = h.sum()
    return h / total if total else h.astype(float)


def figure(s: TestStatSummary, poi: str, mass: float, *, significance: bool = False, plot_both: bool = False,
           doublesided: bool = False, sub_label: str = "", nbins: int = 100, style_name: str = "cms"):
    """The plot of one point (a matplotlib Figure)."""
    from .style import experiment_label, style
    from .style import figure as new_figure

    with style(style_name):
        fig = new_figure(8.0, 6.0)
        ax = fig.add_subplot()
        _draw(ax, s, poi, mass, significance, plot_both, doublesided, sub_label, nbins)
        experiment_label(ax, style_name)
        fig.tight_layout()
    return fig


def _draw(ax, s: TestStatSummary, poi: str, mass: float, significance: bool, plot_both: bool, doublesided: bool,
          sub_label: str, nbins: int) -> None:
    show_alt = (not significance) or plot_both
    edges = _edges([s.null, s.alt] if show_alt else [s.null], nbins)
    centers = 0.5 * (edges[1:] + edges[:-1])
    hb = histogram(s.null, edges)
    ax.stairs(hb, edges, color="red", linewidth=2,
              label="expected for bkg-only" if not significance else "expected for Null")
    if not significance and s.null.size:
        # the background-only median and its 68 % / 95 % quantile bands, as the macro shades them
        for (q_lo, q_hi), colour in (((0.025, 0.975), "#ffff00"), ((0.16, 0.84), "#33cc33")):
            a, b = np.quantile(s.null, [q_lo, q_hi])
            ax.stairs(np.where((centers >= a) & (centers <= b), hb, 0.0), edges, fill=True, color=colour, alpha=0.6)
        median = float(np.median(s.null))
        ax.axvline(median, color="black", linestyle="--", linewidth=1)
    if show_alt and s.alt.size:
        ha = histogram(s.alt, edges)
        label = (f"expected for Alternative ({poi}={s.value:g})" if significance
                 else "expected for sig+bkg")
        ax.stairs(ha, edges, color="blue", linewidth=2, label=label)
        if not significance:
            tail = centers < s.observed if doublesided else centers > s.observed
            ax.stairs(np.where(tail, ha, 0.0), edges, fill=True, color="#0049a0", alpha=0.6,
                      label=f"$p_{{\\mu}}$ = {s.p_mu:.4f}")
    tail_b = centers < s.observed if (doublesided and not significance) else centers > s.observed
    label_b = (f"$CL_{{b}}$ = {s.one_minus_pb:.4f} ({s.significance:.1f}$\\sigma$)" if significance
               else f"1-$p_{{b}}$ = {s.one_minus_pb:.4f}")
    ax.stairs(np.where(tail_b, hb, 0.0), edges, fill=True, color="red", alpha=0.3, hatch="//", label=label_b)
    ax.axvline(s.observed, color="black", linewidth=3, label="observed value")
    if not significance:
        ax.plot([], [], " ", label=f"$CL_{{s}}$ = {s.cls:.4f}")
    ax.set_yscale("log")
    ax.set_ylim(4.9 / max(s.null.size, 1), 2.0)  # the macro's range: about 5 toys to 2
    if significance:
        ax.set_xlabel(f"$q_{{0}}$($m_{{H}}$ = {mass:g} GeV)")
    else:
        sub = sub_label or poi
        ax.set_xlabel(f"$q_{{{sub}}}$({poi} = {s.value:g}, $m_{{H}}$ = {mass:g} GeV)")
    ax.legend(loc="upper right", fontsize=10)
