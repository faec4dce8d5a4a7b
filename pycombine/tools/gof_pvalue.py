"""The p-value of an observed goodness-of-fit statistic from toys in ``limit`` files.

Reads ``combine -M GoodnessOfFit`` outputs: the observed statistic is the data file's iToy 0
row, each toy file's rows with iToy > 0 are one toy each (possibly from several jobs with
different seeds). The p-value is the fraction of toys whose statistic is at least the observed
one, with its binomial uncertainty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import OptionError
from ..outputs.console import cpp


@dataclass
class GoFPValue:
    """The p-value of an observed goodness-of-fit statistic against its toy distribution."""

    statistic: float  # observed (iToy 0)
    n_toys: int
    n_above: int  # toys with statistic >= observed
    pvalue: float
    error: float  # binomial: sqrt(p (1 - p) / n)
    toys: np.ndarray  # the toy statistics

    def lines(self) -> list[str]:
        return [
            f"Data test statistic: {cpp(self.statistic)}",
            f"Toys: {self.n_toys} ({self.n_above} with a test statistic >= data)",
            f"p-value: {cpp(self.pvalue)} +/- {cpp(self.error)}",
        ]


def _limit_rows(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import uproot

    try:
        with uproot.open(path) as f:
            if "limit" not in f:
                raise OptionError(f"{path}: no 'limit' tree")
            a = f["limit"].arrays(["limit", "iToy", "quantileExpected"], library="np")
    except FileNotFoundError:
        raise OptionError(f"{path}: file not found") from None
    except OptionError:
        raise
    except Exception as exc:  # uproot: not a ROOT file, damaged file, no such branches
        from ..shapes.root import root_read_error

        reason = root_read_error(path, exc)
        if reason.startswith("damaged") and isinstance(exc, (KeyError, ValueError)):
            reason = "its 'limit' tree lacks the limit/iToy/quantileExpected branches of a combine output"
        raise OptionError(f"{path}: cannot read it as a combine output file: {reason}") from None
    return a["limit"].astype(float), a["iToy"].astype(int), a["quantileExpected"].astype(float)


def gof_pvalue(data_file: str, toy_files: list[str] | tuple[str, ...]) -> GoFPValue:
    """p-value of the GoodnessOfFit statistic in ``data_file`` (its iToy 0 row) from the toy files.

    Every ``limit`` row with iToy > 0 (and quantileExpected -1) of the toy files is one toy.
    """
    limit, itoy, _ = _limit_rows(data_file)
    sel = itoy == 0
    if sel.sum() != 1:
        raise OptionError(f"{data_file}: expected one row with iToy 0 (the observed statistic), found {int(sel.sum())}")
    t_data = float(limit[sel][0])
    parts = []
    for path in toy_files:
        lt, it, qt = _limit_rows(path)
        parts.append(lt[(it > 0) & (qt == -1.0)])
    toys = np.concatenate(parts) if parts else np.zeros(0)
    n = int(toys.size)
    if n == 0:
        raise OptionError("no toys (rows with iToy > 0) in the toy files")
    k = int(np.sum(toys >= t_data))
    p = k / n
    return GoFPValue(t_data, n, k, p, math.sqrt(p * (1.0 - p) / n), toys)
