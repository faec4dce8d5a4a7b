"""Read a text datacard into a :class:`~pycombine.datacard.model.Datacard`.

Three steps, each with one job:

1. :func:`_split_sections` cuts the text at the first line starting with ``rate`` (the end of
   Combine's header phase);
2. the Lark grammar ``grammar/datacard.lark`` parses each section and :class:`_ToStatements`
   turns the parse tree into a flat list of :class:`Statement` (keyword, tokens, line);
3. :class:`_CardReader` applies Combine's rules (``python/DatacardParser.py``) statement by
   statement, in file order, raising :class:`~pycombine.errors.DatacardError` with the line.

The decisions (what is an error, what is silently accepted) are Combine's; the messages are ours.
"""

from __future__ import annotations

import fnmatch
import gzip
import os
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TextIO

from ..errors import DatacardError
from .edits import apply_edit
from .model import (
    AutoMCStats,
    Column,
    Datacard,
    NuisanceEdit,
    RateParam,
    ShapeLine,
    Systematic,
    is_shape_type,
)

_HEADER_KEYWORDS = ("imax", "jmax", "kmax", "shapes", "bin", "observation", "Observation", "process", "rate")
_DIGIT_START = re.compile(r"[0-9]+")
_INTEGER_LIKE = re.compile(r"-?[0-9]+")


@dataclass
class ParseOptions:
    """Switches of Combine's datacard parser (text2workspace / combineCards options)."""

    evaluate_edits: bool = True  # False in combineCards.py: edits are kept and re-emitted
    allow_no_signal: bool = False  # t2w --X-allow-no-signal (always on in combineCards.py)
    allow_no_background: bool = False  # t2w --X-allow-no-background
    check_jmax: bool = True  # t2w --X-no-jmax turns the jmax check off
    stat_only: bool = False  # -s/--stat: drop every systematic
    exclude_nuisances: list[str] = field(default_factory=list)  # --X-exclude-nuisance regexes
    warn: bool = True  # print Combine's warnings on stderr


@dataclass
class Statement:
    """One meaningful line of a datacard."""

    kind: str  # grammar alias: imax, bin, lognormal, rate_param, ...
    tokens: list[str]  # all tokens of the line (comments removed in the systematics section)
    line: int


# ---------------------------------------------------------------------------------- grammar
def _grammar_text() -> str:
    """The datacard grammar, from the installed package or, in a source checkout, from grammar/.

    An installed pycombine ships grammar/ as the subpackage ``pycombine.grammar``. Running from a
    checkout (``python -m pytest`` puts the checkout's ``pycombine/`` first on sys.path, even next to
    an installed copy) has no such subpackage: the grammar is then the top-level grammar/ folder.
    """
    from importlib import resources

    try:
        return resources.files("pycombine.grammar").joinpath("datacard.lark").read_text()
    except ModuleNotFoundError:
        return (Path(__file__).resolve().parents[2] / "grammar" / "datacard.lark").read_text()


@lru_cache(maxsize=1)
def _parser():
    """The Lark LALR parser, built once per process (lark is imported lazily: it costs ~30 ms)."""
    import lark

    grammar = _grammar_text()
    options = dict(start=["header", "body"], parser="lalr", lexer="contextual", propagate_positions=True,
                   maybe_placeholders=False)
    try:
        # lark caches the compiled parser in the temp directory, keyed by the grammar: ~5 ms
        # instead of ~65 ms per process
        return lark.Lark(grammar, cache=True, **options)
    except OSError:  # read-only or missing temp directory
        return lark.Lark(grammar, **options)


def _to_statements(tree, line_offset: int) -> list[Statement]:
    """Flatten a parse tree into statements (ignored header lines and comments are dropped)."""
    from lark import Token, Tree

    out = []
    for child in tree.children:
        if not isinstance(child, Tree):
            continue  # IGNORED_LINE / COMMENT tokens
        tokens = []
        for t in child.children:
            if isinstance(t, Token):
                # keywords and names are single words; ARGS/HARGS hold the rest of the line
                tokens.extend(str(t).split() if t.type in ("ARGS", "HARGS") else [str(t)])
        out.append(Statement(child.data, tokens, child.meta.line + line_offset))
    return out


def _split_sections(text: str) -> tuple[str, str, int]:
    """Split at the first ``rate`` line: (header text, systematics text, number of header lines)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        first = line.split(None, 1)[:1]
        if first == ["rate"]:
            header = "\n".join(lines[: i + 1]) + "\n"
            body = "\n".join(lines[i + 1 :])
            if not body.endswith("\n"):
                body += "\n"
            return header, body, i + 1
    header = text if text.endswith("\n") else text + "\n"
    return header, "", len(lines)


def tokenize(text: str) -> tuple[list[Statement], list[Statement]]:
    """Parse datacard text into (header statements, systematics statements)."""
    import lark

    header, body, n_header = _split_sections(text)
    parser = _parser()
    try:
        head = _to_statements(parser.parse(header, start="header"), 0)
        tail = _to_statements(parser.parse(body, start="body"), n_header) if body.strip() else []
    except lark.exceptions.UnexpectedInput as exc:  # pragma: no cover - the grammar accepts any line
        line = getattr(exc, "line", None)
        raise DatacardError(f"cannot parse this line ({exc.__class__.__name__})", line=line) from None
    return head, tail


# ---------------------------------------------------------------------------------- reading
def read_text(path: str | os.PathLike) -> str:
    """Read a datacard file (``.gz`` through gzip) and reject empty and binary files."""
    path = os.fspath(path)
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            with open(path, "rb") as f:
                raw = f.read()
    except FileNotFoundError:
        raise DatacardError("datacard file does not exist", path=path) from None
    except IsADirectoryError:
        raise DatacardError("is a directory, not a datacard file", path=path) from None
    except OSError as exc:
        raise DatacardError(f"cannot read datacard: {exc.strerror or exc}", path=path) from None
    if not raw.strip():
        raise DatacardError("the datacard is empty", path=path)
    if b"\x00" in raw:
        raise DatacardError("this is a binary file, not a text datacard", path=path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatacardError(f"not a UTF-8 text file (undecodable byte at offset {exc.start})", path=path) from None


def parse_datacard(source: str | os.PathLike | TextIO, options: ParseOptions | None = None) -> Datacard:
    """Parse a datacard file (path or open text stream) the way Combine does."""
    options = options or ParseOptions()
    if hasattr(source, "read"):
        path = getattr(source, "name", None)
        text = source.read()
    else:
        path = os.fspath(source)
        text = read_text(path)
    return parse_datacard_text(text, path=path, options=options)


def parse_datacard_text(text: str, path: str | None = None, options: ParseOptions | None = None) -> Datacard:
    """Parse datacard text; ``path`` is used for messages and relative shape files."""
    options = options or ParseOptions()
    if not text.strip():
        raise DatacardError("the datacard is empty", path=path)
    try:
        head, tail = tokenize(text)
        return _CardReader(path, options).read(head, tail)
    except DatacardError as err:
        raise err.located(path=path)


# ------------------------------------------------------------------------------ conversions
def _float(token: str, what: str, line: int) -> float:
    try:
        return float(token)
    except ValueError:
        raise DatacardError(f"{what} must be a number, got {token!r}", line=line) from None


def _int(token: str, what: str, line: int) -> int:
    try:
        return int(token)
    except ValueError:
        raise DatacardError(f"{what} must be an integer, got {token!r}", line=line) from None


def _comment_hint(tokens: list[str]) -> str:
    """Header lines keep '#' comments as tokens (as in Combine): say so when it explains an error."""
    if any(t.startswith("#") for t in tokens):
        return " (a '#' comment at the end of a header line is read as more entries; move it to its own line)"
    return ""


def _is_dashes(token: str) -> bool:
    return token == "-" * len(token)


# ------------------------------------------------------------------------------ the reader
class _CardReader:
    """Applies Combine's parsing rules to the statements of one card."""

    def __init__(self, path: str | None, options: ParseOptions):
        self.path = path
        self.opt = options
        self.card = Datacard(path=path)
        self.n_channels = -1  # imax (-1 = '*')
        self.n_processes = -1  # jmax + 1
        self.n_systematics = -1  # kmax
        self.bin_line: list[str] = []
        self.bin_line_no: int | None = None
        self.process_names: list[str] = []
        self.process_ids: list[str] = []
        self.obs_list: list[float] | None = None
        self.syst_ids: dict[str, list[int]] = {}

    def warn(self, message: str, line: int | None = None) -> None:
        if self.opt.warn:
            where = f"{self.path or '<datacard>'}" + (f":{line}" if line else "")
            sys.stderr.write(f"Warning: {where}: {message}\n")

    # ------------------------------------------------------------------ driver
    def read(self, head: list[Statement], tail: list[Statement]) -> Datacard:
        saw_rate = False
        for st in head:
            getattr(self, "_h_" + st.kind)(st)
            if st.kind == "rate":
                saw_rate = True
                break
        if not saw_rate:
            if not self.card.columns and not self.process_names:
                raise DatacardError(
                    "this does not look like a datacard: no 'bin', 'process' and 'rate' lines were found"
                )
            raise DatacardError("the datacard has no 'rate' line after its 'process' lines")
        for st in tail:
            self._body_statement(st)
        self._finish()
        return self.card

    # ------------------------------------------------------------------ header
    def _count(self, st: Statement, what: str) -> int:
        if len(st.tokens) < 2:
            raise DatacardError(f"'{st.tokens[0]}' needs a number (or '*') for the {what}", line=st.line)
        if st.tokens[1] == "*":
            return -1
        return _int(st.tokens[1], f"the number of {what} on the '{st.tokens[0]}' line", st.line)

    def _h_imax(self, st: Statement) -> None:
        self.n_channels = self._count(st, "channels")
        self.card.lines["imax"] = st.line

    def _h_jmax(self, st: Statement) -> None:
        n = self._count(st, "processes minus one")
        self.n_processes = -1 if st.tokens[1] == "*" else n + 1
        self.card.lines["jmax"] = st.line

    def _h_kmax(self, st: Statement) -> None:
        self.n_systematics = self._count(st, "systematics")
        self.card.lines["kmax"] = st.line

    def _h_shapes(self, st: Statement) -> None:
        f = st.tokens
        if len(f) < 4:
            raise DatacardError(
                "malformed shapes line: expected 'shapes <process> <channel> <file> [<object> [<systematics object>]]'",
                line=st.line,
            )
        process, channel = f[1], f[2]
        entries = self.card.shape_map.setdefault(channel, {})
        if process in entries:
            raise DatacardError(
                f"duplicate shapes line for process '{process}', channel '{channel}' "
                f"(first defined on line {entries[process].line})",
                line=st.line,
            )
        entries[process] = ShapeLine(process, channel, f[3:], st.line)

    def _h_observation(self, st: Statement) -> None:
        hint = _comment_hint(st.tokens)
        try:
            values = [_float(x, "an observation", st.line) for x in st.tokens[1:]]
        except DatacardError as err:
            raise DatacardError(err.message + hint, line=st.line) from None
        self.card.lines["observation"] = st.line
        if self.n_channels == -1:
            self.n_channels = len(values)
        if len(values) != self.n_channels:
            raise DatacardError(
                f"found {len(values)} observations but imax declares {self.n_channels} channels{hint}", line=st.line
            )
        if self.bin_line:
            if len(self.bin_line) != len(values):
                raise DatacardError(
                    f"the 'bin' line above (line {self.bin_line_no}) lists {len(self.bin_line)} channels "
                    f"but this line has {len(values)} observations{_comment_hint(st.tokens)}",
                    line=st.line,
                )
            self.card.channels = list(self.bin_line)
            self.card.observations = dict(zip(self.card.channels, values))
            self.obs_list = None
            self.bin_line = []
        else:
            # legacy single-channel form: the channel names come from the process block
            self.obs_list = values

    def _h_bin(self, st: Statement) -> None:
        self.bin_line = []
        self.bin_line_no = st.line
        for b in st.tokens[1:]:
            if _DIGIT_START.match(b):
                raise DatacardError(
                    f"channel name '{b}' starts with a digit; Combine does not allow that (rename it, e.g. 'ch{b}')",
                    line=st.line,
                )
            self.bin_line.append(b)

    def _h_process(self, st: Statement) -> None:
        card = self.card
        if not self.process_names:
            self.process_names = st.tokens[1:]
            if len(self.bin_line) != len(self.process_names):
                raise DatacardError(
                    f"the 'process' line has {len(self.process_names)} entries but the 'bin' line above it "
                    f"has {len(self.bin_line)}" + _comment_hint(st.tokens),
                    line=st.line,
                )
            return
        self.process_ids = st.tokens[1:]
        names, ids = self.process_names, self.process_ids
        # the two process lines may come in either order: names first, or numeric ids first
        if names and ids and _INTEGER_LIKE.match(names[0]) and not _INTEGER_LIKE.match(ids[0]):
            names, ids = ids, names
            self.process_names, self.process_ids = names, ids
        if len(ids) != len(names):
            raise DatacardError(
                f"the second 'process' line has {len(ids)} entries but the first has {len(names)} "
                f"(and the 'bin' line {len(self.bin_line)})",
                line=st.line,
            )
        had_channels = len(card.channels) > 0
        for b, p, pid in zip(self.bin_line, names, ids):
            signal = _int(pid, f"the process id of '{p}'", st.line) <= 0
            card.columns.append(Column(b, p, signal))
            if had_channels:
                if b not in card.channels:
                    raise DatacardError(
                        f"channel '{b}' is not among the channels of the observation block ({', '.join(card.channels)})",
                        line=st.line,
                    )
            elif b not in card.channels:
                card.channels.append(b)
            if p not in card.processes:
                card.processes.append(p)
        if self.n_processes == -1:
            self.n_processes = len(card.processes)
        if self.n_channels == -1:
            self.n_channels = len(card.channels)
        if self.opt.check_jmax and self.n_processes != len(card.processes):
            raise DatacardError(
                f"found {len(card.processes)} processes ({', '.join(card.processes)}) but jmax declares "
                f"{self.n_processes - 1} (jmax is the number of processes minus one)",
                line=card.lines.get("jmax", st.line),
            )
        if self.n_channels != len(card.channels):
            raise DatacardError(
                f"found {len(card.channels)} channels ({', '.join(card.channels)}) but imax declares {self.n_channels}",
                line=card.lines.get("imax", st.line),
            )
        card.rates = {b: {} for b in card.channels}
        card.is_signal = {p: None for p in card.processes}
        if self.obs_list is not None:
            card.observations = dict(zip(card.channels, self.obs_list))
            self.obs_list = None
        for col in card.columns:
            known = card.is_signal[col.process]
            if known is None:
                card.is_signal[col.process] = col.is_signal
            elif known != col.is_signal:
                raise DatacardError(
                    f"process '{col.process}' is declared as signal (id <= 0) in some channels and as "
                    f"background (id > 0) in others",
                    line=st.line,
                )
        if not card.signals and not self.opt.allow_no_signal:
            raise DatacardError("there must be at least one signal process (process id <= 0)", line=st.line)
        card.lines["process"] = st.line

    def _h_rate(self, st: Statement) -> None:
        card = self.card
        if not self.process_names:
            raise DatacardError("the 'rate' line comes before the 'process' line with the process names", line=st.line)
        if not self.process_ids:
            raise DatacardError("the 'rate' line comes before the 'process' line with the process ids", line=st.line)
        values = st.tokens[1:]
        if len(values) != len(card.columns):
            raise DatacardError(
                f"the 'rate' line has {len(values)} entries but the bin/process lines have {len(card.columns)}"
                + _comment_hint(st.tokens),
                line=st.line,
            )
        for col, v in zip(card.columns, values):
            card.rates[col.channel][col.process] = _float(v, f"the rate of '{col.process}' in '{col.channel}'", st.line)
        card.lines["rate"] = st.line

    # ------------------------------------------------------------------ systematics section
    def _body_statement(self, st: Statement) -> None:
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
        if self.opt.exclude_nuisances and any(re.match(pat, name) for pat in self.opt.exclude_nuisances if pat):
            if self.n_systematics != -1:
                self.n_systematics -= 1
            return
        if _DIGIT_START.match(name):
            name = "theta" + name
        handler = getattr(self, "_b_" + st.kind)
        handler(st, name, pdf, nofloat)

    def _add_systematic(self, syst: Systematic) -> None:
        self.card.systematics.append(syst)
        self.syst_ids.setdefault(syst.name, []).append(len(self.card.systematics) - 1)

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
                v = 0.0 if _is_dashes(r) else _float(r, f"the value of systematic '{name}' for '{p}' in '{b}'", st.line)
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
                if "/" not in r and not _is_dashes(r) and effects[c.channel][c.process] == 0.0
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
        args = [_float(st.tokens[2], "unif lower edge", st.line), _float(st.tokens[3], "unif upper edge", st.line)]
        self._per_column(st, name, pdf, nofloat, args, st.tokens[4:])

    def _b_dfd(self, st, name, pdf, nofloat):
        if len(st.tokens) < 3:
            raise DatacardError(f"{pdf} systematic '{name}' needs its steepness k before its values", line=st.line)
        self._per_column(st, name, pdf, nofloat, [_float(st.tokens[2], f"{pdf} steepness", st.line)], st.tokens[3:])

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
            _float(rp.value, f"the initial value of rateParam '{name}'", line)
            if rp.range:
                _parse_range(rp.range, f"rateParam '{name}'", line)
        card.rate_params.setdefault((channel, process), []).append(rp)
        if name not in card.rate_param_names:
            card.rate_param_names.append(name)

    def _b_edit(self, st, name, pdf, nofloat):
        args = st.tokens[2:]
        if not args:
            raise DatacardError("'nuisance edit' needs a command (add, drop, rename, freeze, ...)", line=st.line)
        self.n_systematics = -1  # any edit disables the kmax check
        edit = NuisanceEdit(args[0], args[1:], st.line)
        if self.opt.evaluate_edits:
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
        threshold = _float(f[2], "the autoMCStats event threshold", st.line)
        include_signal = bool(_int(f[3], "autoMCStats include-signal", st.line)) if len(f) >= 4 else False
        hist_mode = _int(f[4], "autoMCStats hist-mode", st.line) if len(f) >= 5 else 1
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

    # ------------------------------------------------------------------ after the last line
    def _finish(self) -> None:
        card = self.card
        rate_line = card.lines.get("rate")
        for b in card.channels:
            cols = [c for c in card.columns if c.channel == b]
            n_all = sum(card.rates[b][c.process] != 0 for c in cols)
            n_sig = sum(card.rates[b][c.process] != 0 for c in cols if c.is_signal)
            n_bkg = sum(card.rates[b][c.process] != 0 for c in cols if not c.is_signal)
            if n_all == 0:
                raise DatacardError(f"channel '{b}' has no processes contributing to it (all rates are 0)", line=rate_line)
            if n_sig == 0 and not self.opt.allow_no_signal and self.opt.warn:
                sys.stderr.write(f"Warning: Bin {b} has no signal processes contributing to it\n")
            if n_bkg == 0 and not self.opt.allow_no_background:
                raise DatacardError(
                    f"channel '{b}' has no background processes contributing to it (all background rates are 0)",
                    line=rate_line,
                )
        # drop systematics without any effect on a process with non-zero rate (Combine does this to
        # avoid parameters with zero derivatives); they also leave the kmax count
        kept = []
        for s in card.systematics:
            if not s.has_columns:
                kept.append(s)
                continue
            non_null = 0
            for c in card.columns:
                r = s.effects[c.channel][c.process]
                null = r == 0.0 or (s.pdf == "lnN" and r == 1.0)
                if not null and card.rates[c.channel][c.process] != 0:
                    non_null += 1
            if non_null:
                kept.append(s)
            elif self.n_systematics != -1:
                self.n_systematics -= 1
        card.systematics = kept
        if self.opt.stat_only:
            self.n_systematics = 0
            card.systematics = []
        if self.n_systematics != -1 and len(card.systematics) != self.n_systematics:
            raise DatacardError(
                f"found {len(card.systematics)} systematics but kmax declares {self.n_systematics} "
                f"(use 'kmax *' to skip this check)",
                line=card.lines.get("kmax"),
            )


def _parse_range(text: str, what: str, line: int | None) -> tuple[float, float]:
    """Parse ``[lo,hi]``."""
    inner = text.strip()
    if not (inner.startswith("[") and inner.endswith("]")):
        raise DatacardError(f"{what}: range must be written [lo,hi], got {text!r}", line=line)
    parts = inner[1:-1].split(",")
    if len(parts) != 2:
        raise DatacardError(f"{what}: range must be written [lo,hi], got {text!r}", line=line)
    try:
        lo, hi = float(parts[0]), float(parts[1])
    except ValueError:
        raise DatacardError(f"{what}: range bounds must be numbers, got {text!r}", line=line) from None
    return lo, hi


def parse_range(text: str, what: str, line: int | None = None) -> tuple[float, float]:
    """Public form of the ``[lo,hi]`` parser (used by the model builder)."""
    return _parse_range(text, what, line)


__all__ = ["ParseOptions", "Statement", "parse_datacard", "parse_datacard_text", "read_text", "tokenize", "parse_range", "is_shape_type"]
