"""How Combine reports a profile-likelihood interval, shared by FitDiagnostics and MultiDimFit."""

from __future__ import annotations

from typing import NamedTuple


class ReportedErrors(NamedTuple):
    """The errors of one parameter as Combine reports them."""

    lo_err: float  # best - (lower end), after the edge rule
    hi_err: float  # (upper end) - best, after the edge rule
    max_error: float  # max(hiErr, loErr, error) before the rule (FitDiagnostics' limitErr)
    lo_at_edge: bool  # the lower error was replaced by the distance to the range edge
    hi_at_edge: bool


def range_edge_rule(best: float, lo_err: float, hi_err: float, error: float, lo: float, hi: float) -> ReportedErrors:
    """Combine's rule for a side without a usable crossing (``FitDiagnostics::runSpecific``,
    ``MultiDimFit::doSingles``): an error below 0.001·max(hiErr, loErr, ``error``) is replaced by
    the distance from ``best`` to the range edge (``lo``, ``hi``). ``error`` is the Hesse error."""
    max_error = max(hi_err, lo_err, error)
    hi_at_edge = abs(hi_err) < 0.001 * max_error
    lo_at_edge = abs(lo_err) < 0.001 * max_error
    if hi_at_edge:
        hi_err = hi - best
    if lo_at_edge:
        lo_err = best - lo
    return ReportedErrors(lo_err, hi_err, max_error, lo_at_edge, hi_at_edge)
