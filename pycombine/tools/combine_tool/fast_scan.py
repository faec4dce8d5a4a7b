"""``combineTool.py -M FastScan -w ws.root[:w]``: the NLL along each parameter, the others fixed.

For every floating parameter with a finite range (``--match``/``--no-match`` regular expressions
select them, tested from the start of the name), the NLL is evaluated at ``--points`` points
spread over the range (bin centres), the other parameters at their pre-fit values (or at the
values of ``-f fitDiagnostics.root:fit_s``), together with its first and second derivatives
(the analytic gradient, and central differences of it). Written: ``<output>.root`` (one graph
per parameter, ``<name>``, ``<name>_d1``, ``<name>_d2``; the NLL shifted so that its smallest
value is 0) and ``<output>.pdf`` (one page per parameter, NLL, NLL' and NLL'' stacked).

The input is a pycombine workspace or a datacard; the graphs are TGraphAsymmErrors with zero
errors (a TGraph subclass: ``GetX``/``GetY``/``Eval`` work as on Combine's TGraphs). ``-d``
(a dataset from a GenerateOnly file) is not available: pycombine writes no RooDataSets.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...errors import OptionError

__all__ = ["FastScanResult", "fast_scan", "fit_values"]


@dataclass
class FastScanResult:
    name: str
    x: np.ndarray
    nll: np.ndarray  # minus its smallest value
    d1: np.ndarray
    d2: np.ndarray


def fit_values(spec: str) -> dict[str, float]:
    """Parameter values of ``file.root:object``: a fit result as a TH1 with one labelled bin per
    parameter (pycombine's fitDiagnostics view: ``fit_s`` itself, or ``fit_s_values`` where
    ``fit_s`` is a RooFitResult)."""
    import uproot

    path, _, name = spec.rpartition(":")
    if not path:
        raise OptionError(f"-f {spec}: give file.root:object")
    try:
        with uproot.open(path) as f:
            classes = {k.split(";")[0]: c for k, c in f.classnames(recursive=False).items()}
            if name not in classes:
                raise OptionError(f"-f {spec}: no object {name!r}")
            views = [name] + sorted(k for k in classes if k.startswith(name + "_")
                                    and not k.endswith(("_errLo", "_errHi", "_covariance", "_status")))
            for n in views:
                if classes[n] in ("TH1D", "TH1F"):
                    h = f[n]
                    labels = list(h.axis().labels() or [])
                    if labels:
                        return {str(k): float(v) for k, v in zip(labels, h.values())}
    except FileNotFoundError:
        raise OptionError(f"-f {spec}: file not found") from None
    raise OptionError(f"-f {spec}: a {classes[name]} without a histogram view pycombine can read (a TH1 with "
                      "one labelled bin per parameter)")


def fast_scan(workspace: str, parse_combine: Callable[[list[str]], object], points: int = 200,
              match: str | None = None, no_match: str | None = None, fitres: str | None = None,
              out: Callable[[str], None] = print) -> list[FastScanResult]:
    """The scans of every selected parameter of ``workspace`` (``file[:workspace name]``)."""
    from ...model.likelihood import Likelihood
    from ...run.loading import load
    from ...run.session import Session

    path, _, wsname = workspace.partition(":")
    args = ["-M", "MultiDimFit", path] + (["-w", wsname] if wsname else [])
    opts = parse_combine(args)
    _card, spec = load(path, opts)
    session = Session(spec, opts, out=lambda line: None)
    data, _ = session.main_dataset()
    m = session.model
    values = session.state.values.copy()
    if fitres:
        for n, v in fit_values(fitres).items():
            if n in m.index:
                values[m.index[n]] = v
    lik = Likelihood(m, data, analytic_bb=False)
    if points < 2:
        raise OptionError("--points must be at least 2")
    results = []
    for i, name in enumerate(m.names):
        if session.state.frozen[i] or spec.parameters[name].kind == "mass":
            continue
        if match is not None and not re.match(match, name):
            continue
        if no_match is not None and re.match(no_match, name):
            continue
        lo, hi = float(session.state.lo[i]), float(session.state.hi[i])
        if not (np.isfinite(lo) and np.isfinite(hi)):
            out(f"{name}: no finite range, skipped")
            continue
        results.append(None)
        width = (hi - lo) / points
        x = lo + (np.arange(points) + 0.5) * width
        h = 1e-3 * width
        nll, d1, d2 = (np.empty(points) for _ in range(3))
        theta = values.copy()
        for k, xk in enumerate(x):
            theta[i] = xk
            val, grad, _ = lik.evaluate(theta, grad=True)
            nll[k], d1[k] = val, grad[i]
            theta[i] = xk + h
            g_up = lik.evaluate(theta, grad=True)[1][i]
            theta[i] = xk - h
            g_dn = lik.evaluate(theta, grad=True)[1][i]
            d2[k] = (g_up - g_dn) / (2 * h)
        theta[i] = values[i]
        finite = np.isfinite(nll) & (nll < 1e9)
        shift = float(nll[finite].min()) if finite.any() else 0.0
        out(f"{name} : ({len(results)}) range [{lo:g}, {hi:g}]")
        results[-1] = FastScanResult(name, x, nll - shift, d1, d2)
    return results


def write_fast_scan(results: list[FastScanResult], output: str, out: Callable[[str], None] = print) -> None:
    """``<output>.root`` (the graphs) and ``<output>.pdf`` (one page per parameter)."""
    from ...outputs.root.file import RootFileWriter

    with RootFileWriter(f"{output}.root", fsync=False) as f:
        for r in results:
            for suffix, y in (("", r.nll), ("_d1", r.d1), ("_d2", r.d2)):
                f.graph_asymm_errors(r.name + suffix, r.x, y)
    out(f">> wrote {output}.root")
    from ...plots.fast_scan import draw_fast_scan

    try:
        draw_fast_scan(results, f"{output}.pdf")
        out(f">> wrote {output}.pdf")
    except ImportError as e:
        sys.stderr.write(f"Warning: {output}.pdf not drawn: {e}\n")
