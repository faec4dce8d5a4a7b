"""Merging datacards the way ``combineCards.py`` does (CMS Combine v10.6.0).

Channels are renamed after their card's label; columns, systematics, rateParams, shapes lines,
groups, autoMCStats and ``nuisance edit`` lines are merged, with Combine's checks between cards
(a systematic's type, gmN sideband counts, param definitions, discretes). No shape file is opened.
"""

from __future__ import annotations

import os

from ..errors import DatacardError
from .combine_format import float_to_string, format_effect, format_rate
from .combine_options import CombineCardsOptions, compile_patterns
from .model import Datacard, NuisanceEdit, Systematic
from .source import warn_at
from .values import matches_any


class CardMerger:
    """The state of combineCards.py while it reads the cards one by one.

    Each card is added as parsed (``nuisance edit`` lines unevaluated); cells are formatted as they
    are read, as Combine does. :func:`~.combine_render.render_combined_card` writes the result.
    """

    def __init__(self, options: CombineCardsOptions):
        self.opt = options
        self.xc = compile_patterns(options.exclude_channels, "--exclude-channel")
        self.ic = compile_patterns(options.include_channels, "--include-channel")
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
        """Is a channel kept by --xc (vetoes) and --ic (if given, one must match)?"""
        return not matches_any(name, self.xc) and (not self.ic or matches_any(name, self.ic))

    def add_card(self, label: str, path: str, dc: Datacard) -> None:
        """Add a parsed card; its channels are named after ``label`` (``.``: keep the names)."""
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
            warn_at(fname, syst.line, f"regularization term '{syst.name}' (constr) will be {what}")
        if not self.opt.drop_regularization_terms and line not in self.constraint_terms:
            self.constraint_terms.append(line)

    @staticmethod
    def _edit_line(edit: NuisanceEdit, label: str, dc: Datacard, path: str) -> str:
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
