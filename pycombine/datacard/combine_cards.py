"""``combineCards.py``: merge datacards into one, exactly like CMS Combine v10.6.0.

This is a pure text tool (Combine's ``scripts/combineCards.py``): every card is parsed with
``nuisance edit`` lines kept unevaluated, channels are renamed after their card's label, columns,
systematics, rateParams, shapes lines, groups, autoMCStats and edits are merged, and the merged
card is written with Combine's exact spelling and column widths. No shape file is opened.

The output matches Combine's token for token, including its quirks, each noted where it is
reproduced (symmetric values written with Python ``str(float)``, the width of the label column
computed from the Python list repr of the type arguments, ``label+channel`` in re-emitted edits,
channel vetoes tested on the original channel name for rateParams and autoMCStats, ...).
The one thing that cannot be reproduced is the order of group members, which Combine keeps in a
Python ``set``: here they keep their order of first appearance.

Usage::

    from pycombine.datacard.combine_cards import CombineCardsOptions, combine_cards
    text = combine_cards(["sr=sr.txt", "cr=cr.txt"], CombineCardsOptions(exclude_channels=["cr"]))
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from typing import Sequence, Union

from ..errors import DatacardError, PyCombineError
from .model import Datacard, Systematic
from .parse import ParseOptions, parse_datacard

SEPARATOR = "-" * 130


class CombineCardsError(PyCombineError):
    """The cards cannot be combined (inconsistent between cards, bad option value, ...)."""


@dataclass
class CombineCardsOptions:
    """The options of ``combineCards.py`` (same names as the command-line flags)."""

    stat: bool = False  # -s/--stat: drop all systematics
    force_shape: bool = False  # -S/--force-shape: 'shapes * <ch> FAKE' for counting cards
    asimov: bool = False  # -a/--asimov: accepted, no effect (as in Combine v10.6.0)
    prefix: str = ""  # -P/--prefix: prepended to every card path
    exclude_channels: list[str] = field(default_factory=list)  # --xc regexes (re.match)
    include_channels: list[str] = field(default_factory=list)  # --ic regexes (re.match)
    no_jmax: bool = False  # --X-no-jmax
    exclude_nuisances_file: str | None = None  # --xn-file: one regex per line
    edit_nuisances_file: str | None = None  # --en-file: appended verbatim at the end
    drop_regularization_terms: bool = False  # drop 'constr' lines instead of appending them
    keyword_values: list[str] = field(default_factory=list)  # --keyword-value KEY=VALUE
    warn: bool = True  # print warnings (parser warnings, regularization terms) on stderr


CardArg = Union[str, tuple[Union[str, None], str]]


# ------------------------------------------------------------------------- number formatting
def float_to_string(value: float) -> str:
    """Combine's ``FloatToString``: ``%.10f`` with trailing zeros and dot stripped."""
    return ("%.10f" % value).rstrip("0").rstrip(".")


def float_to_string_scientific(value: float, etype: str = "g") -> str:
    """Combine's ``FloatToStringScientific``: ``%.<k>g`` with k = max(4, significant digits - 1)."""
    s = float_to_string(value)
    q = s.replace(".", "").lstrip("0")
    nq = max(len(q) - 1, 4)
    return ("%%.%i%c" % (nq, etype)) % value


def format_rate(value: float) -> str:
    """A rate cell: FloatToString if 0 or > 1e-3, else FloatToStringScientific (so 1e-06)."""
    return float_to_string(value) if (value == 0 or value > 1e-3) else float_to_string_scientific(value)


def format_effect(value) -> str:
    """A systematic cell: ``str(float)`` for symmetric values (Combine's ``elif type in (...)``
    compares the *builtin* ``type`` and never fires), ``lo/hi`` with FloatToString, '-' for 0."""
    if isinstance(value, (tuple, list)):
        return f"{float_to_string(value[0])}/{float_to_string(value[1])}"
    if value == 0:
        return "-"
    return str(value)


# ----------------------------------------------------------------------------- helpers
def _compile_patterns(patterns: Sequence[str], what: str) -> list[str]:
    for p in patterns:
        if p:
            try:
                re.compile(p)
            except re.error as exc:
                raise CombineCardsError(f"invalid regular expression {p!r} for {what}: {exc}") from None
    return list(patterns)


def _is_vetoed(name: str, patterns: Sequence[str]) -> bool:
    return any(re.match(p, name) for p in patterns if p)


def _is_included(name: str, patterns: Sequence[str]) -> bool:
    if not patterns:
        return True
    return any(re.match(p, name) for p in patterns if p)


def _split_arg(arg: CardArg, index: int) -> tuple[str, str, str]:
    """(label, path as given, text for the 'Combination of' line)."""
    if isinstance(arg, tuple):
        label, path = arg
        if label is None:
            return "ch%d" % (index + 1), path, path
        return label, path, f"{label}={path}"
    if "=" in arg:
        parts = arg.split("=")
        if len(parts) != 2:
            raise CombineCardsError(
                f"cannot read argument {arg!r}: expected 'label=datacard.txt' or 'datacard.txt' (only one '=')"
            )
        return parts[0], parts[1], arg
    return "ch%d" % (index + 1), arg, arg


def _read_text_file(path: str, what: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        raise CombineCardsError(f"{path}: {what} does not exist") from None
    except OSError as exc:
        raise CombineCardsError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CombineCardsError(f"{path}: {what} is not a UTF-8 text file") from None


def _pyprint(*items) -> str:
    """The line Python's ``print(*items)`` writes."""
    return " ".join(str(x) for x in items) + "\n"


# ----------------------------------------------------------------------------- the merger
class _Merger:
    """The state of combineCards.py while it reads the cards one by one."""

    def __init__(self, options: CombineCardsOptions):
        self.opt = options
        self.xc = _compile_patterns(options.exclude_channels, "--exclude-channel")
        self.ic = _compile_patterns(options.include_channels, "--include-channel")
        self.obsline: list[str] | None = []
        self.obskeyline: list[str] = []
        self.keyline: list[tuple[str, str, bool]] = []
        self.expline: list[str] = []
        # name -> [pdf, args (str), effects {out channel: {process: cell}}, nofloat]
        self.systlines: dict[str, list] = {}
        self.param_systs: dict[str, list[str]] = {}
        self.flat_params: dict[str, bool] = {}
        self.discretes: dict[str, bool] = {}
        self.groups: dict[str, list[str]] = {}
        self.rate_params: list[tuple[str, str, list]] = []
        self.ext_args: dict[str, list[str]] = {}
        self.bin_par_flags: dict[str, tuple] = {}
        self.bpf_new2old: dict[str, str] = {}
        self.nuisance_edits: list[str] = []
        self.constraint_terms: list[str] = []
        self.shape_lines: list[tuple[str, str, list[str]]] = []
        self.cmax = 5

    def kept(self, name: str) -> bool:
        return not _is_vetoed(name, self.xc) and _is_included(name, self.ic)

    # ------------------------------------------------------------------ one card
    def add_card(self, label: str, path: str, dc: Datacard) -> None:
        dirname = os.path.dirname(path)
        fname = path[:-3] if path.endswith(".gz") else path
        singlebin = len(dc.channels) == 1
        if label == ".":
            label = dc.channels[0] if singlebin else ""
        elif not singlebin:
            label += "_"

        def out_name(b: str) -> str:
            return label if singlebin else label + b

        def selected(b: str) -> bool:
            # single-channel cards are selected by their label, others by the original channel name
            return self.kept(label if singlebin else b)

        kept_channels = [b for b in dc.channels if selected(b)]

        # columns: signals first, then backgrounds, per channel
        for b in kept_channels:
            bout = out_name(b)
            self.obskeyline.append(bout)
            for want_signal in (True, False):
                for p, e in dc.rates[b].items():
                    if bool(dc.is_signal[p]) != want_signal:
                        continue
                    self.expline.append(format_rate(e))
                    self.keyline.append((bout, p, bool(dc.is_signal[p])))

        # systematics
        for syst in dc.systematics:
            self._add_systematic(syst, dc, path, fname, kept_channels, out_name)

        for k in dc.flat_params:
            self.flat_params[k] = True
        for k, tokens in dc.ext_args.items():
            self.ext_args[k] = tokens
        for k, flags in dc.auto_mc_stats.items():
            tbin = out_name(k)
            self.bin_par_flags[tbin] = (flags.threshold, flags.include_signal, flags.hist_mode)
            self.bpf_new2old[tbin] = k

        # rateParams, sorted per card by Combine's dictionary key "<channel>AND<process>"
        by_key: dict[str, list] = {}
        for (b, p), rps in dc.rate_params.items():
            by_key.setdefault(f"{b}AND{p}", []).extend(rps)
        for key in sorted(by_key):
            rps = sorted(by_key[key], key=lambda rp: rp.line or 0)
            tbin, tproc = key.split("AND")[0], key.split("AND")[1]
            # quirk: the veto is tested on the original channel name, even for single-channel cards
            if not self.kept(tbin):
                continue
            self.rate_params.append((out_name(tbin), tproc, rps))

        for k in dc.discretes:
            if k in self.discretes:
                raise DatacardError(
                    f"cannot correlate discrete nuisances across categories: rename '{k}' in one of the cards",
                    path=path,
                )
            self.discretes[k] = True

        # shapes lines
        if dc.shape_map:
            for b in kept_channels:
                bout = out_name(b)
                own = dc.shape_map.get(b, {})
                star = dc.shape_map.get("*", {})
                entries = list(own.items()) + [(p, sl) for p, sl in star.items() if p not in own]
                for p, sl in entries:
                    xrep = [x.replace("$CHANNEL", b) for x in sl.fields]
                    if xrep[0] != "FAKE" and dirname != "" and not xrep[0].startswith("/"):
                        xrep[0] = dirname + "/" + xrep[0]
                    self.shape_lines.append((p, bout, xrep))
        elif self.opt.force_shape:
            # quirk: not filtered by --xc/--ic
            for b in dc.channels:
                self.shape_lines.append(("*", out_name(b), ["FAKE"]))

        # observations: the line is dropped if any card has none
        if not dc.observations:
            self.obsline = None
        elif self.obsline is not None:
            for b in kept_channels:
                self.obsline.append(float_to_string(dc.observations[b]))

        for gname, members in dc.groups.items():
            group = self.groups.setdefault(gname, [])
            group.extend(m for m in members if m not in group)

        # nuisance edits, re-emitted with channel/process names of the combined card
        for edit in dc.nuisance_edits:
            self.nuisance_edits.append(self._edit_line(edit, label, dc, path))

    def _add_systematic(self, syst: Systematic, dc: Datacard, path: str, fname: str, kept_channels, out_name) -> None:
        name, pdf = syst.name, syst.pdf
        if pdf == "param":
            if name in self.param_systs:
                if not _same_param(self.param_systs[name], syst.args, name, path, syst.line):
                    raise DatacardError(
                        f"param '{name}' ({' '.join(syst.args)}) differs from its definition in a previous card "
                        f"({' '.join(self.param_systs[name])})",
                        path=path,
                        line=syst.line,
                    )
            else:
                self.param_systs[name] = list(syst.args)
            return
        effects: dict[str, dict[str, str]] = {}
        for b in kept_channels:
            bout = out_name(b)
            effects.setdefault(bout, {})
            if pdf == "constr":
                # a regularization term has no per-column values: Combine notices it here (once a
                # kept channel is met), keeps an empty entry and appends the line at the end
                if b == kept_channels[0]:
                    self._regularization_term(syst, fname)
                continue
            for p in dc.rates[b]:
                r = format_effect(syst.effect(b, p))
                # quirk: the width counts cells of systematics removed later too
                if len(r) > self.cmax:
                    self.cmax = len(r)
                effects[bout][p] = r
        if name in self.systlines:
            entry = self.systlines[name]
            otherpdf, otherargs, othereffect = entry[0], entry[1], entry[2]
            if otherpdf != pdf:
                if pdf == "lnN" and otherpdf.startswith("shape"):
                    if entry[0][-1] != "?":
                        entry[0] += "?"
                elif pdf.startswith("shape") and otherpdf == "lnN":
                    entry[0] = pdf if pdf[-1] == "?" else pdf + "?"
                elif pdf == otherpdf + "?" or pdf + "?" == otherpdf:
                    entry[0] = pdf.replace("?", "") + "?"
                else:
                    raise DatacardError(
                        f"systematic '{name}' is of type {pdf} here, while a previous card defines it as {otherpdf} "
                        f"(only lnN with shape, or X with X?, can be merged)",
                        path=path,
                        line=syst.line,
                    )
            elif pdf == "gmN" and int(syst.args[0]) != int(otherargs[0]):
                raise DatacardError(
                    f"systematic '{name}' is gmN with {syst.args[0]} events in the sideband here, "
                    f"while a previous card has {otherargs[0]}",
                    path=path,
                    line=syst.line,
                )
            for b, v in effects.items():
                othereffect[b] = v
        else:
            self.systlines[name] = [pdf, [str(a) for a in syst.args], effects, syst.nofloat]

    def _regularization_term(self, syst: Systematic, fname: str) -> None:
        line = " ".join([syst.name, syst.pdf] + [str(a) for a in syst.args])
        if self.opt.warn:
            what = "dropped" if self.opt.drop_regularization_terms else "appended to the combined card"
            where = f"{fname}:{syst.line}" if syst.line else fname
            sys.stderr.write(f"Warning: {where}: regularization term '{syst.name}' (constr) will be {what}\n")
        if not self.opt.drop_regularization_terms and line not in self.constraint_terms:
            self.constraint_terms.append(line)

    @staticmethod
    def _edit_line(edit, label: str, dc: Datacard, path: str) -> str:
        cmd, args = edit.command, list(edit.args)
        if cmd in ("changepdf", "freeze"):
            return "{} {}".format(cmd, " ".join(args))
        if len(args) < 2:
            raise DatacardError(
                f"'nuisance edit {cmd}' needs at least a process and a channel (or two names) after the command",
                path=path,
                line=edit.line,
            )
        proc, chan, rest = args[0], args[1], args[2:]
        if not rest:
            return " ".join([cmd, proc, chan])
        if chan == "*":
            chan = "{}({})".format(label, "|".join(dc.channels)) if len(dc.channels) > 1 else label
            if "ifexists" not in rest:
                rest.append("ifexists")
        else:
            # quirk: for single-channel cards this is label+channel, without '_'
            chan = label + chan
        if proc == "*":
            proc = "(%s)" % "|".join(dc.processes)
            if "ifexists" not in rest:
                rest.append("ifexists")
        return "{} {} {} {}".format(cmd, proc, chan, " ".join(rest))

    # ------------------------------------------------------------------ the output
    def render(self, header_args: list[str]) -> str:
        out: list[str] = []
        keyline = self.keyline

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
            for name, (pdf, args, effect, nofloat) in self.systlines.items()
            if not any(effect.get(b, {}).get(p, "-") != "-" for b, p, s in keyline)
        }
        for name in removed:
            del self.systlines[name]
        groups = self.groups
        if removed:
            groups = {g: [m for m in ms if m not in removed] for g, ms in groups.items()}
            groups = {g: ms for g, ms in groups.items() if ms}

        out.append(_pyprint("Combination of", "  ".join(header_args)))
        out.append("imax %d number of bins\n" % len(bins))
        out.append("jmax %d number of processes minus 1\n" % (len(signals) + len(backgrounds) - 1))
        out.append("kmax %d number of nuisance parameters\n" % (len(self.systlines) + len(self.param_systs)))
        out.append(SEPARATOR + "\n")

        if self.shape_lines:
            chmax = max(max(len(p), len(c)) for p, c, x in self.shape_lines)
            cfmt = "%-" + str(chmax) + "s "
            for process, channel, stuff in sorted(self.shape_lines, key=lambda x: (x[1], x[0])):
                stuff = self._replace_keywords(stuff)
                out.append(_pyprint("shapes", cfmt % process, cfmt % channel, " ".join(stuff)))
            out.append(SEPARATOR + "\n")

        cmax = self.cmax
        if self.obsline:
            cmax = max([cmax] + [len(x) for x in self.obskeyline] + [len(x) for x in self.obsline])
            cfmt = "%-" + str(cmax) + "s"
            out.append(_pyprint("bin         ", "  ".join(cfmt % x for x in self.obskeyline)))
            out.append(_pyprint("observation ", "  ".join(cfmt % x for x in self.obsline)))
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
        cmax = max([cmax] + [max(len(p), len(b)) for b, p, s in keyline] + [len(e) for e in self.expline])
        # quirk: the label width counts '[nofloat]' always and the Python list repr of the arguments
        hmax = max([10] + [len("%-12s[nofloat]  %s %s" % (n, v[0], v[1])) for n, v in self.systlines.items()])
        cfmt = "%-" + str(cmax) + "s"
        hfmt = "%-" + str(hmax) + "s  "
        out.append(_pyprint(hfmt % "bin", "  ".join(cfmt % b for b, p, s in keyline)))
        out.append(_pyprint(hfmt % "process", "  ".join(cfmt % p for b, p, s in keyline)))
        out.append(_pyprint(hfmt % "process", "  ".join(cfmt % x for x in pidline)))
        out.append(_pyprint(hfmt % "rate", "  ".join(cfmt % x for x in self.expline)))
        out.append(SEPARATOR + "\n")

        for name in sorted(self.systlines):
            pdf, args, effect, nofloat = self.systlines[name]
            label = name + "[nofloat]" if nofloat else name
            cells = [effect.get(b, {}).get(p, "-") for b, p, s in keyline]
            out.append(
                _pyprint(hfmt % ("%-21s   %s  %s" % (label, pdf, " ".join(args))), "  ".join(cfmt % x for x in cells))
            )
        for pname, pargs in self.param_systs.items():
            out.append("%-12s  param  %s\n" % (pname, " ".join(pargs)))
        for pname in self.flat_params:
            out.append("%-12s  flatParam\n" % pname)

        # rateParams without a formula, then discretes and extArgs, then those with a formula
        for tbin, tproc, rps in self.rate_params:
            for rp in rps:
                if rp.kind != "formula":
                    out.append(_rate_param_line(rp, tbin, tproc))
        for dname in self.discretes:
            out.append("%-12s  discrete\n" % dname)
        for tokens in self.ext_args.values():
            out.append(" ".join(tokens) + "\n")
        for tbin, tproc, rps in self.rate_params:
            for rp in rps:
                if rp.kind == "formula":
                    out.append(_rate_param_line(rp, tbin, tproc))

        for gname, members in groups.items():
            out.append("%s group = %s\n" % (gname, " ".join(members)))
        for bpf, flags in self.bin_par_flags.items():
            # quirk: tested on the original channel name, even for single-channel cards
            if not self.kept(self.bpf_new2old[bpf]):
                continue
            out.append("%s autoMCStats %g %i %i\n" % (bpf, flags[0], flags[1], flags[2]))

        # edits: de-duplicated, sorted by (number of tokens, text), descending
        edits = sorted(([len(e.split()), e] for e in set(self.nuisance_edits)), reverse=True)
        for _, edit in edits:
            out.append(_pyprint("nuisance edit ", edit))

        if self.opt.edit_nuisances_file:
            out.append(_read_text_file(self.opt.edit_nuisances_file, "--edit-nuisances-from-file file") + "\n")
        for ct in self.constraint_terms:
            out.append(ct + "\n")
        return "".join(out)

    def _replace_keywords(self, fields: list[str]) -> list[str]:
        if not self.opt.keyword_values:
            return fields
        result = []
        for x in fields:
            if "$" in x:
                for kv in self.opt.keyword_values:
                    if "=" not in kv:
                        raise CombineCardsError(f"malformed --keyword-value '{kv}': expected KEY=VALUE")
                    key, value = kv.split("=", 1)
                    x = x.replace(f"${key}", value)
            result.append(x)
        return result


def _rate_param_line(rp, tbin: str, tproc: str) -> str:
    if rp.kind == "formula":
        middle, rng = f"{rp.value} {rp.formula_args}", ""
    else:
        middle, rng = rp.value, rp.range
    return "%-12s  rateParam %s %s %s\n" % (rp.name, tbin + " " + tproc, middle, rng)


def _same_param(a: list[str], b: list[str], name: str, path: str, line) -> bool:
    """Combine's ``compareParamSystLines``: the means must agree, and asymmetric sigmas too.

    Quirk reproduced: a symmetric sigma is compared with itself, so it never mismatches.
    """
    try:
        if float(a[0]) != float(b[0]):
            return False
        if "/" in a[1]:
            if "/" not in b[1]:
                return False
            a1, a2 = a[1].split("/")
            b1, b2 = b[1].split("/")
            return float(a1) == float(b1) and float(a2) == float(b2)
    except ValueError:
        raise DatacardError(
            f"param '{name}': cannot compare '{' '.join(b)}' with the previous definition '{' '.join(a)}' "
            f"(mean and sigma must be numbers, sigma possibly -a/+b)",
            path=path,
            line=line,
        ) from None
    return True


# ----------------------------------------------------------------------------- entry point
def read_exclusion_file(path: str) -> list[str]:
    """The regexes of an ``--xn-file``, one per line (stripped).

    Quirk reproduced: Combine compiles every line, and an empty line gives a compiled empty pattern
    that is *not* skipped, so it excludes every nuisance; ``(?:)`` stands for it here.
    """
    patterns = []
    for line in _read_text_file(path, "--exclude-nuisances-from-file file").splitlines():
        pat = line.strip()
        try:
            re.compile(pat)
        except re.error as exc:
            raise CombineCardsError(f"{path}: invalid regular expression {pat!r}: {exc}") from None
        patterns.append(pat if pat else "(?:)")
    return patterns


def combine_cards(args: Sequence[CardArg], options: CombineCardsOptions | None = None) -> str:
    """Merge the datacards and return the text ``combineCards.py`` prints.

    ``args`` are ``"[label=]card.txt"`` strings (as on the command line) or ``(label, path)``
    pairs (``label`` None for the default ``ch<k>``). Raises :class:`~pycombine.errors.PyCombineError`
    subclasses (:class:`~pycombine.errors.DatacardError` with file and line when known).
    """
    options = options or CombineCardsOptions()
    if not args:
        raise CombineCardsError("no input datacards specified")
    excluded = read_exclusion_file(options.exclude_nuisances_file) if options.exclude_nuisances_file else []
    parse_options = ParseOptions(
        evaluate_edits=False,
        allow_no_signal=True,
        allow_no_background=True,
        check_jmax=not options.no_jmax,
        stat_only=options.stat,
        exclude_nuisances=excluded,
        warn=options.warn,
    )
    merger = _Merger(options)
    header_args = []
    for index, arg in enumerate(args):
        label, path, shown = _split_arg(arg, index)
        header_args.append(shown)
        path = options.prefix + path
        card = parse_datacard(path, parse_options)
        merger.add_card(label, path, card)
    return merger.render(header_args)


__all__ = [
    "CombineCardsError",
    "CombineCardsOptions",
    "combine_cards",
    "float_to_string",
    "float_to_string_scientific",
    "format_effect",
    "format_rate",
    "read_exclusion_file",
]
