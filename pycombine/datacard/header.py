"""The header of a datacard: the lines up to ``rate`` (Combine's ``python/DatacardParser.py``).

``imax``/``jmax``/``kmax``, ``shapes``, ``bin``, ``observation``, the two ``process`` lines and
``rate`` fill the channels, processes, columns, observations, rates and shapes lines of the card,
with Combine's consistency checks; each problem is a :class:`~pycombine.errors.DatacardError` with
the line.
"""

from __future__ import annotations

import re

from ..errors import DatacardError
from .lexer import Statement
from .model import Column, Datacard, ShapeLine
from .values import parse_float, parse_int, starts_with_digit

_INTEGER_LIKE = re.compile(r"-?[0-9]+")


def _comment_hint(tokens: list[str]) -> str:
    """Header lines keep '#' comments as tokens (as in Combine): say so when it explains an error."""
    if any(t.startswith("#") for t in tokens):
        return " (a '#' comment at the end of a header line is read as more entries; move it to its own line)"
    return ""


class HeaderReader:
    """Applies Combine's rules to the header statements of one card, filling ``card``."""

    def __init__(self, card: Datacard, check_jmax: bool = True, allow_no_signal: bool = False):
        self.card = card
        self.check_jmax = check_jmax  # t2w --X-no-jmax turns the jmax check off
        self.allow_no_signal = allow_no_signal
        self.n_channels = -1  # imax (-1 = '*')
        self.n_processes = -1  # jmax + 1
        self.n_systematics = -1  # kmax, checked once the systematics section is read
        self.bin_line: list[str] = []
        self.bin_line_no: int | None = None
        self.process_names: list[str] = []
        self.process_ids: list[str] = []
        self.obs_list: list[float] | None = None

    def read(self, statements: list[Statement]) -> None:
        """Apply the header statements in file order; a card must reach a ``rate`` line."""
        saw_rate = False
        for st in statements:
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

    def _count(self, st: Statement, what: str) -> int:
        if len(st.tokens) < 2:
            raise DatacardError(f"'{st.tokens[0]}' needs a number (or '*') for the {what}", line=st.line)
        if st.tokens[1] == "*":
            return -1
        return parse_int(st.tokens[1], f"the number of {what} on the '{st.tokens[0]}' line", st.line)

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
            values = [parse_float(x, "an observation", st.line) for x in st.tokens[1:]]
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
            if starts_with_digit(b):
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
            signal = parse_int(pid, f"the process id of '{p}'", st.line) <= 0
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
        if self.check_jmax and self.n_processes != len(card.processes):
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
        if not card.signals and not self.allow_no_signal:
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
            card.rates[col.channel][col.process] = parse_float(v, f"the rate of '{col.process}' in '{col.channel}'", st.line)
        card.lines["rate"] = st.line
