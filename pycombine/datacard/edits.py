"""``nuisance edit`` commands (Combine's ``python/NuisanceModifier.py``).

Edits run at the line where they appear, so they only see the systematics defined above them.
Process and channel selectors are ``*`` or regular expressions that must match the whole name;
a ``+`` in a channel pattern is taken literally (combineCards.py writes ``label+channel``).
"""

from __future__ import annotations

import math
import re
from typing import Callable

from ..errors import DatacardError
from .model import Datacard, NuisanceEdit, Systematic

Warn = Callable[[str, "int | None"], None]


def _fullmatch(pattern: str | re.Pattern, text: str) -> bool:
    compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
    m = compiled.match(text)
    return bool(m) and m.end() - m.start() == len(text)


def _compile(pattern: str, what: str, line: int | None) -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise DatacardError(f"nuisance edit: invalid {what} pattern {pattern!r}: {exc}", line=line) from None


class _Selector:
    """Matches (channel, process) pairs with Combine's ``*``/full-regex rules."""

    def __init__(self, process: str, channel: str, line: int | None):
        self.any_process = process == "*"
        self.any_channel = channel == "*"
        self.process = None if self.any_process else _compile(process, "process", line)
        self.channel = None if self.any_channel else _compile(channel.replace("+", r"\+"), "channel", line)

    def channel_ok(self, b: str) -> bool:
        return self.any_channel or _fullmatch(self.channel, b)

    def process_ok(self, p: str) -> bool:
        return self.any_process or _fullmatch(self.process, p)


def _quadrature_add(pdf: str, v1, v2, context: str):
    """Add two lnN/lnU effects in quadrature in log space (asymmetric pairs component-wise)."""
    if isinstance(v1, tuple) and isinstance(v2, tuple):
        return (_quadrature_add(pdf, v1[0], v2[0], context), _quadrature_add(pdf, v1[1], v2[1], context))
    if isinstance(v1, tuple):
        return (_quadrature_add(pdf, v1[0], 1.0 / v2, context), _quadrature_add(pdf, v1[1], v2, context))
    if isinstance(v2, tuple):
        return (_quadrature_add(pdf, 1.0 / v1, v2[0], context), _quadrature_add(pdf, v1, v2[1], context))
    if pdf not in ("lnN", "lnU"):
        raise DatacardError(f"nuisance edit: cannot add {pdf} values in quadrature ({context})")
    if math.log(v1) * math.log(v2) < 0:
        raise DatacardError(
            f"nuisance edit: cannot add in quadrature {pdf} values {v1} and {v2} that go in opposite directions ({context})"
        )
    ret = math.exp(math.hypot(abs(math.log(v1)), abs(math.log(v2))))
    return ret if v1 > 1 else 1.0 / ret


def _parse_value(value):
    if isinstance(value, (int, float, tuple)):
        return value
    if "/" in value:
        lo, hi = value.split("/", 1)
        return (float(lo), float(hi))
    return float(value)


def _is_null(v) -> bool:
    return not isinstance(v, tuple) and v in (0.0, 1.0)


def _empty_effects(card: Datacard) -> dict:
    return {b: {p: 0.0 for p in card.rates[b]} for b in card.channels}


def append_systematic(card: Datacard, syst_ids: dict[str, list[int]], syst: Systematic) -> None:
    """Append a systematic to the card and record its position under its name in ``syst_ids``.

    ``syst_ids`` (name -> positions in ``card.systematics``) is the index the reader and the edits
    share: one name can have several lines, and renames move positions between names.
    """
    card.systematics.append(syst)
    syst_ids.setdefault(syst.name, []).append(len(card.systematics) - 1)


class _Editor:
    def __init__(self, card: Datacard, ids: dict[str, list[int]], edit: NuisanceEdit, warn: Warn):
        self.card, self.ids, self.edit, self.warn = card, ids, edit, warn
        self.line = edit.line

    def fail(self, message: str):
        raise DatacardError(f"nuisance edit {self.edit.command}: {message}", line=self.line)

    def append(self, syst: Systematic) -> None:
        append_systematic(self.card, self.ids, syst)

    # ---------------------------------------------------------------- add
    def add(self, args: list, quiet: bool = False) -> None:
        if len(args) < 5:
            self.fail("missing arguments; the syntax is 'nuisance edit add <process> <channel> <name> <pdf> <value> [addq|overwrite]'")
        process, channel, name, pdf, value = args[:5]
        opts = args[5:]
        sel = _Selector(process, channel, self.line)
        effects = _empty_effects(self.card)
        found = False
        for s in self.card.systematics:
            if s.name == name:
                if s.pdf != pdf:
                    self.fail(f"cannot add '{name}' as {pdf}: it already exists as {s.pdf}")
                found = True
                effects = s.effects
        if not found:
            self.append(Systematic(name, pdf, [], effects, False, self.line))
        try:
            value = _parse_value(value)
        except ValueError:
            self.fail(f"value {value!r} is not a number or kappa_down/kappa_up")
        found_channel = found_process = False
        for b in list(effects):
            if not sel.channel_ok(b):
                continue
            found_channel = True
            for p in self.card.rates[b]:
                if not sel.process_ok(p):
                    continue
                found_process = True
                if _is_null(value):
                    continue  # nothing to add
                old = effects[b].get(p, 0.0)
                if p in effects[b] and not _is_null(old):
                    if "addq" in opts:
                        effects[b][p] = _quadrature_add(pdf, old, value, f"line {self.line}")
                    elif "overwrite" in opts:
                        effects[b][p] = value
                    else:
                        self.fail(
                            f"'{name}' already has the value {old} for '{p}' in '{b}'; add 'addq' (add in "
                            f"quadrature) or 'overwrite'"
                        )
                else:
                    effects[b][p] = value
        if not quiet:
            if not found_channel:
                self.warn(f"nuisance edit add {' '.join(map(str, args))}: no channel matches", self.line)
            if not found_process:
                self.warn(f"nuisance edit add {' '.join(map(str, args))}: no process matches", self.line)

    # ---------------------------------------------------------------- drop
    def drop(self, args: list) -> None:
        if len(args) < 3:
            self.fail("missing arguments; the syntax is 'nuisance edit drop <process> <channel> <name> [ifexists]'")
        process, channel, name = args[:3]
        opts = args[3:]
        sel = _Selector(process, channel, self.line)
        pattern = _compile(name, "name", self.line)
        found = False
        for s in self.card.systematics:
            if not _fullmatch(pattern, s.name):
                continue
            for b in s.effects:
                if not sel.channel_ok(b):
                    continue
                for p in self.card.rates[b]:
                    if sel.process_ok(p):
                        found = True
                        s.effects[b][p] = 0.0
        if not found and channel != "*":
            if "ifexists" not in opts:
                self.fail(f"'{' '.join(args)}' found nothing to drop (add 'ifexists' to allow this)")
            self.warn(f"nuisance edit drop {' '.join(args)} found nothing", self.line)

    # ---------------------------------------------------------------- rename
    def _rename_is_safe(self, idx: int, newname: str) -> bool:
        s0 = self.card.systematics[idx]
        for idx2 in self.ids.get(newname, []):
            if idx2 == idx:
                continue
            s2 = self.card.systematics[idx2]
            if s0.pdf == s2.pdf and s0.pdf != "param":
                return True
            if s0.pdf == "param":
                if s2.pdf != "param":
                    if abs(float(s0.args[0])) > 1e-6 or abs(float(s0.args[1]) - 1) > 1e-6:
                        return False
                elif abs(float(s0.args[0]) - float(s2.args[0])) > 1e-6 or abs(float(s0.args[1]) - float(s2.args[1])) > 1e-6:
                    return False
            elif s2.pdf == "param":
                if abs(float(s2.args[0])) > 1e-6 or abs(float(s2.args[1]) - 1) > 1e-6:
                    return False
        return True

    def rename(self, args: list) -> None:
        card = self.card
        if len(args) == 2:
            oldname, newname = args
            is_global = True
            opts: list = []
            sel = None
        elif len(args) >= 4:
            process, channel, oldname, newname = args[:4]
            opts = args[4:]
            is_global = False
            sel = _Selector(process, channel, self.line)
        else:
            self.fail("the syntax is 'nuisance edit rename <old> <new>' or 'nuisance edit rename <process> <channel> <old> <new> [ifexists]'")
        if oldname not in self.ids:
            self.fail(f"no systematic named '{oldname}' above this line")
        for idx in list(self.ids[oldname]):
            s0 = card.systematics[idx]
            if s0.pdf in ("flatParam", "constr", "trG", "gmN"):
                self.fail(f"'{oldname}' is a {s0.pdf}; only param, shape and lnN systematics can be renamed")
            if newname in self.ids and not self._rename_is_safe(idx, newname):
                self.fail(f"cannot rename '{oldname}' to '{newname}': '{newname}' exists with an incompatible type")
            if is_global:
                s0.name = newname
                if idx not in self.ids.setdefault(newname, []):
                    self.ids[newname].append(idx)
                if "param" in s0.pdf:
                    card.param_renames[oldname] = newname
                if "shape" in s0.pdf or "lnN" in s0.pdf:
                    for b, row in s0.effects.items():
                        for p in card.rates[b]:
                            v = row.get(p, 0.0)
                            if v != 0.0:
                                card.shape_template_names[(newname, b, p)] = oldname
                self.ids[oldname].remove(idx)
                continue
            if s0.pdf == "param":
                continue
            target = None
            for idx2 in self.ids.get(newname, []):
                if idx2 != idx and card.systematics[idx2].pdf == s0.pdf:
                    target = card.systematics[idx2].effects
            if target is None:
                target = _empty_effects(card)
                self.append(Systematic(newname, s0.pdf, list(s0.args), target, s0.nofloat, self.line))
            found_channel = False
            for b in s0.effects:
                if not sel.channel_ok(b):
                    continue
                found_channel = True
                found_process = False
                for p in card.rates[b]:
                    if sel.process_ok(p):
                        found_process = True
                        target[b][p] = s0.effects[b].get(p, 0.0)
                        s0.effects[b][p] = 0.0
                        if "shape" in s0.pdf:
                            card.shape_template_names[(newname, b, p)] = oldname
                if not found_process and "ifexists" not in opts:
                    self.fail(f"'{' '.join(args)}' matches no process in channel '{b}' (add 'ifexists' to allow this)")
            if not found_channel and "ifexists" not in opts:
                self.fail(f"'{' '.join(args)}' matches no channel (add 'ifexists' to allow this)")
            all_zero = all(
                not isinstance(v, tuple) and abs(v) <= 1e-6 for row in s0.effects.values() for v in row.values()
            )
            if all_zero:
                self.ids[oldname].remove(idx)
        if not self.ids[oldname]:
            self.ids.pop(oldname)

    # ---------------------------------------------------------------- changepdf
    def changepdf(self, args: list) -> None:
        if len(args) < 2:
            self.fail("missing arguments; the syntax is 'nuisance edit changepdf <name> <newpdf>'")
        name, newpdf = args[:2]
        pattern = _compile(name, "name", self.line)
        found = False
        additive = ("trG", "unif", "dFD", "dFD2")
        for s in self.card.systematics:
            if not _fullmatch(pattern, s.name):
                continue
            found = True
            if newpdf == s.pdf:
                continue
            ok = False
            if s.pdf in ("lnN", "lnU"):
                if newpdf in ("lnN", "lnU"):
                    ok = True
                elif newpdf in additive:
                    ok = True
                    for row in s.effects.values():
                        for p, v in row.items():
                            row[p] = math.log(v) if not _is_null(v) else 0.0
            elif s.pdf in additive:
                if newpdf in additive:
                    ok = True
                elif newpdf in ("lnN", "lnU"):
                    ok = True
                    for row in s.effects.values():
                        for p, v in row.items():
                            row[p] = math.exp(v) if not _is_null(v) else 0.0
            elif "shape" in s.pdf and "shape" in newpdf:
                ok = True
            if not ok:
                self.fail(f"cannot convert '{s.name}' from {s.pdf} to {newpdf}")
            s.pdf = newpdf
        if not found:
            self.warn(f"nuisance edit changepdf {' '.join(args)}: no systematic matches", self.line)

    # ---------------------------------------------------------------- merge / split
    def merge(self, args: list) -> None:
        if len(args) < 4:
            self.fail("missing arguments; the syntax is 'nuisance edit merge <process> <channel> <name1> <name2>'")
        process, channel, name1, name2 = args[:4]
        opts = args[4:]
        sel = _Selector(process, channel, self.line)
        pattern = _compile(name2, "name", self.line)
        found = False
        for s in list(self.card.systematics):
            if not _fullmatch(pattern, s.name):
                continue
            for b in s.effects:
                if not sel.channel_ok(b):
                    continue
                for p in self.card.rates[b]:
                    if sel.process_ok(p):
                        found = True
                        self.add([p + "$", b + "$", name1, s.pdf, s.effects[b].get(p, 0.0), "addq"], quiet=True)
                        s.effects[b][p] = 0.0
        if not found and channel != "*":
            if "ifexists" not in opts:
                self.fail(f"'{' '.join(args)}' found nothing (add 'ifexists' to allow this)")
            self.warn(f"nuisance edit merge {' '.join(args)} found nothing", self.line)

    def split(self, args: list) -> None:
        if len(args) < 7:
            self.fail("missing arguments; the syntax is 'nuisance edit split <process> <channel> <old> <new1> <new2> <value1> <value2>'")
        process, channel, oldname, new1, new2, v1, v2 = args[:7]
        opts = args[7:]
        sel = _Selector(process, channel, self.line)
        pattern = _compile(oldname, "name", self.line)
        found = False
        for s in list(self.card.systematics):
            if not _fullmatch(pattern, s.name):
                continue
            for b in s.effects:
                if not sel.channel_ok(b):
                    continue
                for p in self.card.rates[b]:
                    if sel.process_ok(p):
                        found = True
                        if not _is_null(s.effects[b].get(p, 0.0)):
                            self.add([p, b, new1, s.pdf, v1, "overwrite"], quiet=True)
                            self.add([p, b, new2, s.pdf, v2, "overwrite"], quiet=True)
                        s.effects[b][p] = 0.0
        if not found and channel != "*":
            if "ifexists" not in opts:
                self.fail(f"'{' '.join(args)}' found nothing (add 'ifexists' to allow this)")
            self.warn(f"nuisance edit split {' '.join(args)} found nothing", self.line)

    # ---------------------------------------------------------------- freeze / flip
    def freeze(self, args: list) -> None:
        if len(args) < 1 or len(args) > 2:
            self.fail("the syntax is 'nuisance edit freeze <name pattern> [ifexists]'")
        card = self.card
        pattern = _compile("^" + args[0] + "$", "name", self.line)
        opts = args[1:]
        found = []
        for name in list(card.flat_params) + list(card.rate_param_names) + card.discretes + list(card.ext_args):
            if _fullmatch(pattern, name):
                found.append(name)
        if not found:
            found = [s.name for s in card.systematics if _fullmatch(pattern, s.name)]
        for name in found:
            if name not in card.frozen:
                card.frozen.append(name)
        if not found:
            if "ifexists" not in opts:
                self.fail(f"no parameter matches '{args[0]}' (add 'ifexists' to allow this)")
            self.warn(f"nuisance edit freeze {args[0]} found nothing", self.line)

    def flip(self, args: list) -> None:
        if len(args) < 3:
            self.fail("the syntax is 'nuisance edit flip <process> <channel> <name> n2p|p2n [ifexists]'")
        process, channel, name = args[:3]
        opts = args[3:]
        if "n2p" not in opts and "p2n" not in opts:
            self.fail("flip needs the option n2p and/or p2n")
        sel = _Selector(process, channel, self.line)
        pattern = _compile(name, "name", self.line)
        found = False
        for s in self.card.systematics:
            if not _fullmatch(pattern, s.name):
                continue
            if s.pdf != "lnN":
                self.fail(f"flip works on lnN systematics only, '{s.name}' is {s.pdf}")
            for b in s.effects:
                if not sel.channel_ok(b):
                    continue
                for p in self.card.rates[b]:
                    if not sel.process_ok(p):
                        continue
                    found = True
                    v = s.effects[b].get(p, 0.0)
                    if _is_null(v):
                        continue
                    if isinstance(v, tuple):
                        if (v[0] < 1 and "p2n" in opts) or (v[0] > 1 and "n2p" in opts):
                            s.effects[b][p] = (1.0 / v[0], 1.0 / v[1])
                    elif (v > 1 and "p2n" in opts) or (v < 1 and "n2p" in opts):
                        s.effects[b][p] = 1.0 / v
        if not found and channel != "*":
            if "ifexists" not in opts:
                self.fail(f"'{' '.join(args)}' found nothing (add 'ifexists' to allow this)")
            self.warn(f"nuisance edit flip {' '.join(args)} found nothing", self.line)


_COMMANDS = ("add", "drop", "rename", "changepdf", "merge", "split", "freeze", "flip")


def apply_edit(card: Datacard, syst_ids: dict[str, list[int]], edit: NuisanceEdit, warn: Warn) -> None:
    """Apply one ``nuisance edit`` to the card being parsed."""
    if edit.command not in _COMMANDS:
        raise DatacardError(
            f"unknown nuisance edit command '{edit.command}' (known: {', '.join(_COMMANDS)})", line=edit.line
        )
    editor = _Editor(card, syst_ids, edit, warn)
    try:
        getattr(editor, edit.command)(list(edit.args))
    except (ValueError, ZeroDivisionError) as exc:
        raise DatacardError(f"nuisance edit {edit.command}: {exc}", line=edit.line) from None
