"""The systematics section of a datacard: every line after ``rate``.

Each line is a name and a directive: a systematic with one value per column (lnN, lnU, gmN,
shape*, gmM, trG, unif, dFD), a ``param``/``constr``, or a directive (``flatParam``, ``rateParam``,
``extArg``, ``discrete``, ``group``, ``autoMCStats``, ``nuisance edit``). They are applied in file
order with Combine's rules (``python/DatacardParser.py``); a ``nuisance edit`` therefore sees only
the systematics above it.
"""

from __future__ import annotations

import fnmatch

from ..errors import DatacardError
from .edits import Warn, append_systematic, apply_edit
from .lexer import Statement
from .model import AutoMCStats, Datacard, NuisanceEdit, RateParam, Systematic
from .values import is_dashes, matches_any, parse_float, parse_int, parse_range, starts_with_digit


class SystematicsReader:
    """Applies Combine's rules to the systematics-section statements of one card, filling ``card``.

    ``n_systematics`` is the kmax of the header (-1 for ``*``); it is kept up to date (excluded
    nuisances leave the count, a ``nuisance edit`` turns the check off) for the final kmax check.
    """

    def __init__(self, card: Datacard, n_systematics: int, exclude_nuisances: list[str], evaluate_edits: bool,
                 warn: Warn):
        self.card = card
        self.n_systematics = n_systematics
        self.exclude_nuisances = exclude_nuisances  # --X-exclude-nuisance regexes
        self.evaluate_edits = evaluate_edits  # False in combineCards.py: edits are kept and re-emitted
        self.warn = warn
        self.syst_ids: dict[str, list[int]] = {}  # name -> positions in card.systematics

    def read(self, statements: list[Statement]) -> None:
        """Apply the statements in file order."""
        for st in statements:
            self._statement(st)

    def _statement(self, st: Statement) -> None:
        if st.kind == "lone_token":
            return  # Combine skips lines with fewer than two tokens
        try:
            self._body(st)
        except DatacardError as err:
            raise err.located(line=st.line)

    def _body(self, st: Statement) -> None:
        card = self.card
        f = st.tokens
        name, pdf = f[0], f[1]
        if name in self.syst_ids and pdf in ("shape", "shapeN", "lnN"):
            types = [card.systematics[j].pdf for j in self.syst_ids[name]]
            if ("shape" in types and pdf == "lnN") or ("lnN" in types and pdf == "shape"):
                raise DatacardError(
                    f"systematic '{name}' is used both as 'shape' and as 'lnN'; use 'shape?' for a shape "
                    f"systematic that is lnN where no templates exist",
                    line=st.line,
                )
        nofloat = False
        if name.endswith("[nofloat]"):
            name = name.replace("[nofloat]", "")
            nofloat = True
        if self.exclude_nuisances and matches_any(name, self.exclude_nuisances):
            if self.n_systematics != -1:
                self.n_systematics -= 1
            return
        if starts_with_digit(name):
            name = "theta" + name
        handler = getattr(self, "_b_" + st.kind)
        handler(st, name, pdf, nofloat)

    def _add_systematic(self, syst: Systematic) -> None:
        append_systematic(self.card, self.syst_ids, syst)

    def _per_column(self, st: Statement, name: str, pdf: str, nofloat: bool, args: list, values: list[str]) -> None:
        card = self.card
        if len(values) < len(card.columns):
            raise DatacardError(
                f"systematic '{name}' ({pdf}) has {len(values)} values but the datacard has {len(card.columns)} "
                f"columns (one value, or '-', is needed per column)",
                line=st.line,
            )
        effects: dict[str, dict[str, object]] = {b: {} for b in card.channels}
        for col, r in zip(card.columns, values):
            b, p = col.channel, col.process
            if "/" in r:
                if pdf not in ("lnN", "lnU") and "?" not in pdf:
                    raise DatacardError(
                        f"asymmetric value {r!r} for '{p}' in '{b}': asymmetric (down/up) values are allowed only "
                        f"for lnN, lnU and shape? systematics",
                        line=st.line,
                    )
                parts = r.split("/")
                nums = []
                for x in parts:
                    try:
                        nums.append(float(x))
                    except ValueError:
                        raise DatacardError(
                            f"value {r!r} of systematic '{name}' for '{p}' in '{b}' is not of the form "
                            f"kappa_down/kappa_up (two positive numbers)",
                            line=st.line,
                        ) from None
                if len(nums) != 2:
                    raise DatacardError(
                        f"value {r!r} of systematic '{name}' for '{p}' in '{b}' must be kappa_down/kappa_up",
                        line=st.line,
                    )
                if any(v <= 0 for v in nums):
                    raise DatacardError(
                        f"value {r!r} of systematic '{name}' for '{p}' in '{b}' must be positive "
                        f"(a kappa <= 0 would give NaNs)",
                        line=st.line,
                    )
                effects[b][p] = (nums[0], nums[1])
            else:
                v = 0.0 if is_dashes(r) else parse_float(r, f"the value of systematic '{name}' for '{p}' in '{b}'", st.line)
                if pdf not in ("trG", "dFD", "dFD2") and v < 0:
                    raise DatacardError(
                        f"negative value {r} of systematic '{name}' for '{p}' in '{b}' (this would give NaNs)",
                        line=st.line,
                    )
                effects[b][p] = v
            # Combine sets the rate of a gmN process with no sideband events to epsilon
            if pdf == "gmN" and card.rates[b][p] == 0 and effects[b][p] != 0:
                card.rates[b][p] = 1e-6
        if pdf in ("lnN", "lnU"):
            zero = [
                f"'{c.process}' in '{c.channel}'"
                for c, r in zip(card.columns, values)
                if "/" not in r and not is_dashes(r) and effects[c.channel][c.process] == 0.0
            ]
            if zero:
                self.warn(f"{pdf} value 0 for {', '.join(zero)} of '{name}' means 'no effect' (write '-')", st.line)
        if name in self.syst_ids:
            self.warn(
                f"systematic '{name}' is defined again (first on line "
                f"{card.systematics[self.syst_ids[name][0]].line}); both lines act on one parameter",
                st.line,
            )
        self._add_systematic(Systematic(name, pdf, args, effects, nofloat, st.line))

    def _b_lognormal(self, st, name, pdf, nofloat):
        self._per_column(st, name, pdf, nofloat, [], st.tokens[2:])

    def _b_shape(self, st, name, pdf, nofloat):
        self._per_column(st, name, pdf, nofloat, [], st.tokens[2:])

    def _b_per_column(self, st, name, pdf, nofloat):
        self._per_column(st, name, pdf, nofloat, [], st.tokens[2:])

    def _b_gmn(self, st, name, pdf, nofloat):
        if len(st.tokens) < 3:
            raise DatacardError(f"gmN systematic '{name}' needs the number of sideband events N", line=st.line)
        n = st.tokens[2]
        try:
            n_events = int(n)
        except ValueError:
            raise DatacardError(
                f"gmN systematic '{name}': the first value must be the integer number of sideband events N "
                f"(syntax: '{name} gmN N alpha1 alpha2 ...'), got {n!r}",
                line=st.line,
            ) from None
        self._per_column(st, name, pdf, nofloat, [n_events], st.tokens[3:])

    def _b_unif(self, st, name, pdf, nofloat):
        if len(st.tokens) < 4:
            raise DatacardError(f"unif systematic '{name}' needs a range 'lo hi' before its values", line=st.line)
        args = [parse_float(st.tokens[2], "unif lower edge", st.line), parse_float(st.tokens[3], "unif upper edge", st.line)]
        self._per_column(st, name, pdf, nofloat, args, st.tokens[4:])

    def _b_dfd(self, st, name, pdf, nofloat):
        if len(st.tokens) < 3:
            raise DatacardError(f"{pdf} systematic '{name}' needs its steepness k before its values", line=st.line)
        self._per_column(st, name, pdf, nofloat, [parse_float(st.tokens[2], f"{pdf} steepness", st.line)], st.tokens[3:])

    def _b_param(self, st, name, pdf, nofloat):
        args = st.tokens[2:]
        if len(args) <= 1:
            raise DatacardError(
                f"param '{name}' needs at least a mean and a sigma: '{name} param <mean> <sigma> [<range>]'",
                line=st.line,
            )
        self._add_systematic(Systematic(name, pdf, args, {}, nofloat, st.line))

    def _b_constr(self, st, name, pdf, nofloat):
        self._add_systematic(Systematic(name, pdf, st.tokens[2:], {}, nofloat, st.line))

    def _b_flat_param(self, st, name, pdf, nofloat):
        self.card.flat_params[name] = st.tokens[2:]

    def _b_ext_arg(self, st, name, pdf, nofloat):
        self.card.ext_args[name] = list(st.tokens)
        self.card.ext_arg_lines[name] = st.line

    def _b_discrete(self, st, name, pdf, nofloat):
        self.card.discretes.append(name)

    def _b_rate_param(self, st, name, pdf, nofloat):
        card = self.card
        f = list(st.tokens)
        if len(f) < 5 or len(f) > 6:
            raise DatacardError(
                f"rateParam '{name}' must be written '{name} rateParam <channel> <process> <initial value> "
                f"[<lo,hi>]' or '{name} rateParam <channel> <process> <formula> <arg1,arg2,...>' "
                f"(found {len(f) - 2} fields after 'rateParam')",
                line=st.line,
            )
        channel_pat, process_pat = f[2], f[3]
        if "*" in channel_pat or "*" in process_pat:
            found = False
            for p in card.processes:
                for b in card.channels:
                    if fnmatch.fnmatch(p, process_pat) and fnmatch.fnmatch(b, channel_pat):
                        self._add_rate_param(name, f, b, p, st.line)
                        found = True
            if not found:
                raise DatacardError(
                    f"rateParam '{name}' with process {process_pat!r} and channel {channel_pat!r} matches nothing",
                    line=st.line,
                )
        else:
            self._add_rate_param(name, f, channel_pat, process_pat, st.line)

    def _add_rate_param(self, name: str, f: list[str], channel: str, process: str, line: int) -> None:
        card = self.card
        if len(f) == 5:
            kind = "workspace" if (".root" in f[4] and ":" in f[4]) else "value"
            rp = RateParam(name, channel, process, kind, f[4], None, "", line)
        elif "[" in f[5] and "]" in f[5]:
            rp = RateParam(name, channel, process, "value", f[4], None, f[5], line)
        else:
            rp = RateParam(name, channel, process, "formula", f[4], f[5], "", line)
        if channel not in card.channels or process not in card.processes:
            raise DatacardError(
                f"rateParam '{name}': no channel/process '{channel}/{process}' in this datacard", line=line
            )
        if rp.kind == "value":
            parse_float(rp.value, f"the initial value of rateParam '{name}'", line)
            if rp.range:
                parse_range(rp.range, f"rateParam '{name}'", line)
        card.rate_params.setdefault((channel, process), []).append(rp)
        if name not in card.rate_param_names:
            card.rate_param_names.append(name)

    def _b_edit(self, st, name, pdf, nofloat):
        args = st.tokens[2:]
        if not args:
            raise DatacardError("'nuisance edit' needs a command (add, drop, rename, freeze, ...)", line=st.line)
        self.n_systematics = -1  # any edit disables the kmax check
        edit = NuisanceEdit(args[0], args[1:], st.line)
        if self.evaluate_edits:
            apply_edit(self.card, self.syst_ids, edit, warn=self.warn)
        else:
            self.card.nuisance_edits.append(edit)

    def _b_group(self, st, name, pdf, nofloat):
        card = self.card
        members = st.tokens[2:]
        if not members:
            raise DatacardError(f"group '{name}' is empty: write '{name} group = <nuisances>'", line=st.line)
        op = members.pop(0)
        if op not in ("=", "+="):
            raise DatacardError(f"group '{name}': expected '=' or '+=' after 'group', got {op!r}", line=st.line)
        if name not in card.groups:
            if op != "=":
                raise DatacardError(f"cannot append to group '{name}': it is not defined yet (use '=')", line=st.line)
            card.groups[name] = list(dict.fromkeys(members))
            card.group_lines[name] = st.line
        else:
            if op != "+=":
                raise DatacardError(
                    f"group '{name}' is already defined (line {card.group_lines[name]}); use '+=' to extend it",
                    line=st.line,
                )
            card.groups[name].extend(m for m in members if m not in card.groups[name])

    def _b_auto_mc_stats(self, st, name, pdf, nofloat):
        card = self.card
        f = st.tokens
        if len(f) > 5:
            raise DatacardError(
                "autoMCStats takes at most three values: '<channel> autoMCStats <threshold> "
                "[<include-signal 0|1>] [<hist-mode 1|2>]'",
                line=st.line,
            )
        if len(f) < 3:
            raise DatacardError("autoMCStats needs an event threshold: '<channel> autoMCStats <threshold>'", line=st.line)
        threshold = parse_float(f[2], "the autoMCStats event threshold", st.line)
        include_signal = bool(parse_int(f[3], "autoMCStats include-signal", st.line)) if len(f) >= 4 else False
        hist_mode = parse_int(f[4], "autoMCStats hist-mode", st.line) if len(f) >= 5 else 1
        flags = AutoMCStats(threshold, include_signal, hist_mode, st.line)
        if "*" in name:
            for b in card.channels:
                if fnmatch.fnmatch(b, name):
                    card.auto_mc_stats[b] = flags
        else:
            if name not in card.channels:
                raise DatacardError(f"autoMCStats: no channel '{name}' in this datacard", line=st.line)
            card.auto_mc_stats[name] = flags

    def _b_unknown_directive(self, st, name, pdf, nofloat):
        raise DatacardError(
            f"unknown systematic type '{pdf}' for '{st.tokens[0]}' (known: lnN, lnU, gmN, shape, shape?, shapeN, "
            f"shapeU, param, flatParam, rateParam, extArg, group, autoMCStats, nuisance edit, ...)",
            line=st.line,
        )
