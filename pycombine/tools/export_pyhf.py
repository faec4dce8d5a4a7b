"""``pycombine export-pyhf card.txt -o workspace.json``: write a card's model as a pyhf workspace and
show how far the exported model is from the card.

The mapping is :func:`pycombine.interop.pyhf.export.export_workspace`. Unless ``compare=False``,
the card and the written file are then analysed the same way in-process: AsymptoticLimits
(observed and expected median, CLs) and the best fit of r with its Hesse error; the file is read
as ``combine`` reads a ``.json`` input, with normsys interpolation code 1 (the code under which
symmetric lnN maps exactly; pyhf's default is code 4). A table prints both side by side.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Figures:
    """What the comparison computes on one input."""

    observed: float = math.nan
    expected: float = math.nan
    r: float = math.nan
    r_err: float = math.nan
    at_bound: bool = False  # the best fit of r is on its range's edge (the Hesse error means little there)


def figures(spec, opts) -> Figures:
    """Observed and expected-median CLs limits and the best fit of r (Hesse error) of a built model."""
    from ..methods.asymptotic_limits import asymptotic_limits, settings_from_options
    from ..run.session import Session

    session = Session(spec, opts, out=lambda _m: None, err=lambda _m: None)
    out = Figures()
    res = asymptotic_limits(session, session.observed, settings=settings_from_options(opts))
    if res.observed is not None and res.observed.ok:
        out.observed = float(res.observed.limit)
    if res.expected is not None:
        med = [v for q, v in res.expected.rows if abs(q - 0.5) < 1e-6]
        out.expected = float(med[0]) if med else math.nan
    fit = session.fitter(session.observed).minimize(session.state, hesse=True)
    i = session.poi_index
    out.r, out.r_err = float(fit.values[i]), float(fit.errors[i])
    lo, hi = float(session.state.lo[i]), float(session.state.hi[i])
    out.at_bound = min(abs(out.r - lo), abs(hi - out.r)) < 1e-3 * max(out.r_err, 1e-9) or out.r <= lo or out.r >= hi
    return out


def _rel(a: float, b: float) -> str:
    if not (math.isfinite(a) and math.isfinite(b)) or a == 0:
        return "-"
    return f"{100.0 * (b - a) / abs(a):+.2f} %"


def comparison_table(card: Figures, export: Figures) -> list[str]:
    """The side-by-side table: limits differ relatively (%), the best fit in units of the card's error."""
    def sigmas(a: float, b: float) -> str:
        ok = math.isfinite(a) and math.isfinite(b) and math.isfinite(card.r_err) and card.r_err > 0
        return f"{(b - a) / card.r_err:+.3f} sigma" if ok else "-"

    rows = [("observed limit r <", card.observed, export.observed, _rel),
            ("expected median r <", card.expected, export.expected, _rel),
            ("best fit r", card.r, export.r, sigmas),
            ("  r error (Hesse)", card.r_err, export.r_err,
             (lambda a, b: "-") if card.at_bound or export.at_bound else _rel)]
    lines = [f"{'':22s}{'card':>12s}{'pyhf export':>14s}{'difference':>15s}"]
    for label, a, b, diff in rows:
        lines.append(f"{label:22s}{a:12.4f}{b:14.4f}{diff(a, b):>15s}")
    edge = [w for w, f in (("card", card), ("export", export)) if f.at_bound]
    if edge:
        lines.append(f"(best fit of r on the edge of its range for the {' and the '.join(edge)}: "
                     f"its Hesse error means little there)")
    return lines


def run(card_path: str, output: str, mass: float = 120.0, compare: bool = True, keyword_value: tuple[str, ...] = (),
        out: Callable[[str], None] = print) -> int:
    """Export ``card_path`` to ``output``; print the approximations and (``compare``) the side-by-side figures."""
    from ..interop.pyhf.export import READ_BACK, export_workspace
    from ..outputs.paths import check_output_path
    from ..run.loading import load, load_pyhf
    from ..run.options import RunOptions

    from ..errors import OptionError
    from ..run.loading import is_pyhf_path

    if is_pyhf_path(card_path):
        raise OptionError(f"{card_path} is already a pyhf workspace (export-pyhf reads a datacard)")
    check_output_path(output, "pyhf workspace (-o)")
    opts = RunOptions.defaults(method="AsymptoticLimits", cards=(card_path,), mass=mass, keyword_value=keyword_value)
    card, spec = load(card_path, opts)
    ws, notes = export_workspace(card, spec)
    with open(output, "w", encoding="utf-8") as f:
        json.dump(ws, f, indent=1)
        f.write("\n")
    nsamp = sum(len(c["samples"]) for c in ws["channels"])
    out(f"Wrote {output}: {len(ws['channels'])} channels, {nsamp} samples (pyhf schema {ws['version']})")
    out("Read it back with normsys interpolation code 1: combine -M ... " + output + " --normsys-interpcode code1; "
        "pyhf: workspace.model(modifier_settings={'normsys': {'interpcode': 'code1'}, "
        "'histosys': {'interpcode': 'code4p'}})")
    if notes:
        out("Approximations:")
        for n in notes:
            out("  - " + n)
    else:
        out("The mapping is exact (no approximation).")
    if not compare:
        return 0
    a = figures(spec, opts)
    jopts = RunOptions.defaults(method="AsymptoticLimits", cards=(output,), mass=mass, **READ_BACK)
    _c, jspec = load_pyhf(output, jopts)
    b = figures(jspec, jopts)
    out("")
    out("Card vs export (AsymptoticLimits CLs 95 %, best fit of r):")
    for line in comparison_table(a, b):
        out(line)
    return 0
