"""``pycombine simplify card.txt -o sl.json``: a datacard's simplified likelihood (CMS-NOTE-2017-001).

The moments are those of Combine's recipe (docs/part3/simplifiedlikelihood.md), computed the way
its FitDiagnostics computes ``overall_total_M1/M2/M3`` but with many more draws, vectorised:

* type B (default; ``--preFitValue 0``): every nuisance is drawn from its pre-fit constraint pdf
  (FitDiagnostics' pre-fit sampler, :func:`~pycombine.methods.fit_diagnostics.sampling.prefit_sampling`)
  with r = 0; the SL covers the channels matching ``--mask-regex`` (default: all);
* type A: the card is built with ``--channel-masks``, the signal regions (channels matching
  ``--mask-regex``) are masked, the background-only fit (r = 0) to the control regions is made
  as FitDiagnostics' ``fit_b``, and the parameters are drawn from its covariance
  (:func:`~pycombine.methods.fit_diagnostics.sampling.postfit_sampling`: Gaussian, clipped to the
  ranges in force); the SL covers only the masked signal regions.

The draws are evaluated with :class:`~pycombine.model.batch.BatchModel` in chunks
(:mod:`pycombine.interop.simplified.moments`), deterministic for a given ``-s``. Signal yields
are the pre-fit signal (r = 1, nuisances at their pre-fit values), data the observed counts.
This driver lives in ``tools/`` because it needs fits and the session (layers above
``interop/``); the format, the expansion and the model of an SL are in
:mod:`pycombine.interop.simplified`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError, OptionError
from ..interop.simplified import SimplifiedLikelihood, check, violations
from ..interop.simplified.moments import moments, sample_totals

#: draws behind the moments (Combine's recipe uses --numToysForShapes 2000)
DEFAULT_TOYS = 100_000


@dataclass
class SimplifyOptions:
    type: str = "B"
    mask_regex: str | None = None
    mass: float = 120.0
    toys: int = DEFAULT_TOYS
    seed: int = 123456
    keyword_value: tuple[str, ...] = ()


def _bin_labels(model) -> list[str]:
    """``<channel>_<i>`` for every bin of the compiled model, in its order."""
    out = [""] * model.B
    for c in model.channels:
        for i in range(c.nbins):
            out[c.bin_start + i] = f"{c.name}_{i}"
    return out


def _selected_channels(channels: list[str], regex: str | None, kind: str) -> list[str]:
    if regex is None:
        if kind == "A":
            raise OptionError("--type A needs --mask-regex: the channels that are signal regions (they are masked "
                              "in the fit and make up the simplified likelihood)")
        return list(channels)
    try:
        pat = re.compile(regex)
    except re.error as e:
        raise OptionError(f"--mask-regex {regex!r}: not a regular expression ({e})") from None
    chosen = [c for c in channels if pat.search(c)]
    if not chosen:
        raise OptionError(f"--mask-regex {regex!r} matches no channel (channels: {', '.join(channels)})")
    if kind == "A" and len(chosen) == len(channels):
        raise OptionError(f"--mask-regex {regex!r} matches every channel: type A needs control regions left "
                          f"to fit (use --type B for a card of signal regions only)")
    return chosen


def simplify(card: str, options: SimplifyOptions, out: Callable[[str], None] = print) -> SimplifiedLikelihood:
    """The simplified likelihood of ``card`` (checked; raises :class:`ModelError` when a bin's
    moments violate the expansion's validity condition 8 m2_ii^3 >= m3_i^2)."""
    from ..methods.fit_diagnostics.sampling import postfit_sampling, prefit_sampling, tree_nuisances
    from ..model.batch import BatchModel
    from ..model.likelihood import Dataset
    from ..run.loading import load
    from ..run.options import RunOptions
    from ..run.session import Session

    kind = options.type.upper()
    if kind not in ("A", "B"):
        raise OptionError(f"--type {options.type}: choose A or B")
    if options.toys < 100:
        raise OptionError(f"--toys {options.toys}: at least 100 draws are needed for the moments")
    t0 = time.perf_counter()
    t2w = "--X-allow-no-signal --X-allow-no-background" + (" --channel-masks" if kind == "A" else "")
    opts = RunOptions.defaults(method="FitDiagnostics", cards=(card,), mass=float(options.mass), seed=int(options.seed),
                               keyword_value=tuple(options.keyword_value), text2workspace=t2w)
    _card, spec = load(card, opts)
    channels = [c.name for c in spec.channels]
    chosen = _selected_channels(channels, options.mask_regex, kind)
    if kind == "A":
        opts.set_parameters = ",".join(f"mask_{c}=1" for c in chosen)
    session = Session(spec, opts, out=lambda _m: None)
    m = session.model
    ir = session.poi_index
    labels = _bin_labels(m)
    sel = np.array([i for c in m.channels if c.name in chosen for i in range(c.bin_start, c.bin_start + c.nbins)], dtype=int)
    data = session.observed if session.observed is not None else Dataset(np.zeros(m.B), m.glob0.copy())
    bm = BatchModel(m)
    clean = session.state.values.copy()

    if kind == "B":
        centre = clean.copy()
        centre[ir] = 0.0
        names = tree_nuisances(session)
        sampling = prefit_sampling(session, data, centre, names)
        free = [n for n, p in session.spec.parameters.items() if p.kind == "rateParam" and p.constraint == "none"
                and n in m.index and not session.state.frozen[m.index[n]]]
        if free:
            out(f"Note: type B draws constrained nuisances only; unconstrained {', '.join(free)} stay at their "
                f"pre-fit values (type A fits them in the control regions)")
    else:
        sampling = _fit_b_sampling(session, data, ir, postfit_sampling)

    def evaluate(Z):
        return bm.expected(sampling.draw(Z))[:, sel]

    totals = sample_totals(evaluate, int(sampling.index.size), int(options.toys), int(options.seed))
    m1, m2, m3 = moments(totals)
    at1 = clean.copy()
    at1[ir] = 1.0
    at0 = clean.copy()
    at0[ir] = 0.0
    nominal = bm.expected(np.stack([at1, at0]))
    signal = nominal[0, sel] - nominal[1, sel]
    bins = [labels[i] for i in sel]
    sl = SimplifiedLikelihood(bins=bins, signal=signal, m1=m1, m2=m2, m3=m3, data=np.asarray(data.counts, dtype=float)[sel],
                              type=kind, source=str(card), mass=float(options.mass), poi=session.pois[0],
                              toys=int(options.toys), seed=int(options.seed),
                              extra={"mask_regex": options.mask_regex} if options.mask_regex else {})
    bad = violations(m2, m3)
    if bad:
        var = np.diag(m2)
        i = bad[0]
        more = f" (and {len(bad) - 1} more: {', '.join(bins[j] for j in bad[1:4])}{', ...' if len(bad) > 4 else ''})" if len(bad) > 1 else ""
        raise ModelError(f"{card}: bin {bins[i]}{more}: the background moments violate the validity condition of the "
                         f"quadratic expansion, 8 m2^3 = {8 * var[i] ** 3:.6g} < m3^2 = {m3[i] ** 2:.6g}; no simplified "
                         f"likelihood written (merge or drop the bin)")
    check(sl, card)
    out(f"Simplified likelihood (type {kind}) of {card}: {len(bins)} bins from {options.toys} draws of "
        f"{sampling.index.size} parameters in {time.perf_counter() - t0:.1f} s")
    return sl


def _fit_b_sampling(session, data, ir: int, postfit_sampling):
    """FitDiagnostics' background-only fit (masked signal regions) and the post-fit sampler of its covariance."""
    from ..methods.fit_diagnostics.fits import fit_diagnostics
    from ..methods.fit_diagnostics.options import FitDiagnosticsOptions
    from ..methods.fit_diagnostics.summary import extend_covariance_to_bb
    from ..model.likelihood import Likelihood

    opt = FitDiagnosticsOptions.from_opts(session.opts)
    opt.skip_sb_fit = True
    opt.save_normalizations = opt.save_shapes = opt.save_overall_shapes = False
    opt.minos = "none"
    res = fit_diagnostics(session, data, options=opt, with_yields=False)
    fb = res.fit_b
    if fb is None or not fb.ok:
        raise ModelError("type A: the background-only fit to the control regions failed; no simplified likelihood written")
    m = session.model
    analytic = m.analytic.copy() if (m.bb_bin.size and session.analytic_bb) else np.zeros(m.P, dtype=bool)
    extend_covariance_to_bb(Likelihood(m, data, analytic_bb=False), analytic, fb)
    return postfit_sampling(session, fb)


def summary_lines(sl: SimplifiedLikelihood) -> list[str]:
    """A table of the SL per bin: data, signal, m1, sqrt(m2), skewness m3 / m2^1.5."""
    var = np.diag(sl.m2)
    w = max(8, max(len(b) for b in sl.bins))
    lines = [f"{'bin':<{w}} {'data':>10} {'signal':>10} {'m1':>12} {'sqrt(m2)':>10} {'skew':>8}"]
    for i, b in enumerate(sl.bins):
        skew = sl.m3[i] / var[i] ** 1.5 if var[i] > 0 else 0.0
        lines.append(f"{b:<{w}} {sl.data[i]:>10.6g} {sl.signal[i]:>10.4g} {sl.m1[i]:>12.6g} {np.sqrt(var[i]):>10.4g} "
                     f"{skew:>8.3f}")
    return lines
