"""The text of a combined card, with ``combineCards.py``'s exact spelling and column widths.

Quirks of Combine reproduced here, each noted where it is: the width of the label column computed
from the Python list repr of the type arguments, the autoMCStats veto tested on the original
channel name, edits de-duplicated and sorted by (number of tokens, text) descending.
"""

from __future__ import annotations

from .combine_merge import CardMerger
from .combine_options import CombineCardsError, read_text_file
from .model import RateParam

SEPARATOR = "-" * 130


def render_combined_card(merger: CardMerger, header_args: list[str]) -> str:
    """The combined card: ``header_args`` are the arguments named on the ``Combination of`` line.

    Raises :class:`~.combine_options.CombineCardsError` if a process is signal in one card and
    background in another, or for a malformed ``--keyword-value``.
    """
    out: list[str] = []
    keyline = merger.keyline

    bins: list[str] = []
    check: dict[str, tuple[bool, str]] = {}
    errors: list[str] = []
    signals: list[str] = []
    backgrounds: list[str] = []
    for b, p, s in keyline:
        if b not in bins:
            bins.append(b)
        if p not in check:
            check[p] = (s, b)
        elif check[p][0] != s:
            errors.append(
                "process %s %s a signal in %s and %s a signal in %s"
                % (p, "is" if s else "is not", b, "is" if check[p][0] else "is not", check[p][1])
            )
        if s:
            if p not in signals:
                signals.append(p)
        elif p not in backgrounds:
            backgrounds.append(p)
    if errors:
        raise CombineCardsError("mismatch between process signal labels: " + "; ".join(errors))

    # remove systematics that affect no column of the combination (and drop them from groups)
    removed = {
        name
        for name, (pdf, args, effect, nofloat) in merger.systlines.items()
        if not any(effect.get(b, {}).get(p, "-") != "-" for b, p, s in keyline)
    }
    systlines = {name: entry for name, entry in merger.systlines.items() if name not in removed}
    groups = merger.groups
    if removed:
        groups = {g: [m for m in ms if m not in removed] for g, ms in groups.items()}
        groups = {g: ms for g, ms in groups.items() if ms}

    out.append(_pyprint("Combination of", "  ".join(header_args)))
    out.append("imax %d number of bins\n" % len(bins))
    out.append("jmax %d number of processes minus 1\n" % (len(signals) + len(backgrounds) - 1))
    out.append("kmax %d number of nuisance parameters\n" % (len(systlines) + len(merger.param_systs)))
    out.append(SEPARATOR + "\n")

    if merger.shape_lines:
        chmax = max(max(len(p), len(c)) for p, c, x in merger.shape_lines)
        cfmt = "%-" + str(chmax) + "s "
        for process, channel, stuff in sorted(merger.shape_lines, key=lambda x: (x[1], x[0])):
            stuff = _replace_keywords(stuff, merger.opt.keyword_values)
            out.append(_pyprint("shapes", cfmt % process, cfmt % channel, " ".join(stuff)))
        out.append(SEPARATOR + "\n")

    cmax = merger.cmax
    if merger.obsline:
        cmax = max([cmax] + [len(x) for x in merger.obskeyline] + [len(x) for x in merger.obsline])
        cfmt = "%-" + str(cmax) + "s"
        out.append(_pyprint("bin         ", "  ".join(cfmt % x for x in merger.obskeyline)))
        out.append(_pyprint("observation ", "  ".join(cfmt % x for x in merger.obsline)))
    out.append(SEPARATOR + "\n")

    # process ids: signals ..., -1, 0 and backgrounds 1, 2, ... in order of first appearance
    n_signals = len(signals)
    signals, backgrounds, pidline = [], [], []
    for b, p, s in keyline:
        if s:
            if p not in signals:
                signals.append(p)
            pidline.append(signals.index(p) - n_signals + 1)
        else:
            if p not in backgrounds:
                backgrounds.append(p)
            pidline.append(1 + backgrounds.index(p))
    cmax = max([cmax] + [max(len(p), len(b)) for b, p, s in keyline] + [len(e) for e in merger.expline])
    # quirk: the label width counts '[nofloat]' always and the Python list repr of the arguments
    hmax = max([10] + [len("%-12s[nofloat]  %s %s" % (n, v[0], v[1])) for n, v in systlines.items()])
    cfmt = "%-" + str(cmax) + "s"
    hfmt = "%-" + str(hmax) + "s  "
    out.append(_pyprint(hfmt % "bin", "  ".join(cfmt % b for b, p, s in keyline)))
    out.append(_pyprint(hfmt % "process", "  ".join(cfmt % p for b, p, s in keyline)))
    out.append(_pyprint(hfmt % "process", "  ".join(cfmt % x for x in pidline)))
    out.append(_pyprint(hfmt % "rate", "  ".join(cfmt % x for x in merger.expline)))
    out.append(SEPARATOR + "\n")

    for name in sorted(systlines):
        pdf, args, effect, nofloat = systlines[name]
        label = name + "[nofloat]" if nofloat else name
        cells = [effect.get(b, {}).get(p, "-") for b, p, s in keyline]
        out.append(
            _pyprint(hfmt % ("%-21s   %s  %s" % (label, pdf, " ".join(args))), "  ".join(cfmt % x for x in cells))
        )
    for pname, pargs in merger.param_systs.items():
        out.append("%-12s  param  %s\n" % (pname, " ".join(pargs)))
    for pname in merger.flat_params:
        out.append("%-12s  flatParam\n" % pname)

    # rateParams without a formula, then discretes and extArgs, then those with a formula
    for tbin, tproc, rps in merger.rate_params:
        for rp in rps:
            if rp.kind != "formula":
                out.append(_rate_param_line(rp, tbin, tproc))
    for dname in merger.discretes:
        out.append("%-12s  discrete\n" % dname)
    for tokens in merger.ext_args.values():
        out.append(" ".join(tokens) + "\n")
    for tbin, tproc, rps in merger.rate_params:
        for rp in rps:
            if rp.kind == "formula":
                out.append(_rate_param_line(rp, tbin, tproc))

    for gname, members in groups.items():
        out.append("%s group = %s\n" % (gname, " ".join(members)))
    for bpf, flags in merger.bin_par_flags.items():
        # quirk: tested on the original channel name, even for single-channel cards
        if not merger.kept(merger.bpf_new2old[bpf]):
            continue
        out.append("%s autoMCStats %g %i %i\n" % (bpf, flags[0], flags[1], flags[2]))

    # edits: de-duplicated, sorted by (number of tokens, text), descending
    edits = sorted(([len(e.split()), e] for e in set(merger.nuisance_edits)), reverse=True)
    for _, edit in edits:
        out.append(_pyprint("nuisance edit ", edit))

    if merger.opt.edit_nuisances_file:
        out.append(read_text_file(merger.opt.edit_nuisances_file, "--edit-nuisances-from-file file") + "\n")
    for ct in merger.constraint_terms:
        out.append(ct + "\n")
    return "".join(out)


def _replace_keywords(fields: list[str], keyword_values: list[str]) -> list[str]:
    """``$KEY`` -> value in a shapes line, for each ``--keyword-value KEY=VALUE``."""
    if not keyword_values:
        return fields
    result = []
    for x in fields:
        if "$" in x:
            for kv in keyword_values:
                if "=" not in kv:
                    raise CombineCardsError(f"malformed --keyword-value '{kv}': expected KEY=VALUE")
                key, value = kv.split("=", 1)
                x = x.replace(f"${key}", value)
        result.append(x)
    return result


def _rate_param_line(rp: RateParam, tbin: str, tproc: str) -> str:
    if rp.kind == "formula":
        middle, rng = f"{rp.value} {rp.formula_args}", ""
    else:
        middle, rng = rp.value, rp.range
    return "%-12s  rateParam %s %s %s\n" % (rp.name, tbin + " " + tproc, middle, rng)


def _pyprint(*items) -> str:
    """The line Python's ``print(*items)`` writes."""
    return " ".join(str(x) for x in items) + "\n"
