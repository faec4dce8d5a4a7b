"""Read a text datacard into a :class:`~pycombine.datacard.model.Datacard`.

Three steps, each with one job:

1. :mod:`.lexer` cuts the text at the first line starting with ``rate`` (the end of Combine's
   header phase) and turns each section into a flat list of statements with the Lark grammar
   ``grammar/datacard.lark``;
2. :class:`~.header.HeaderReader` and then :class:`~.systematics.SystematicsReader` apply Combine's
   rules (``python/DatacardParser.py``) statement by statement, in file order, raising
   :class:`~pycombine.errors.DatacardError` with the line;
3. :func:`_finish` makes Combine's checks once the whole card is read (every channel has
   processes, the kmax count).

The decisions (what is an error, what is silently accepted) are Combine's; the messages are ours.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TextIO

from ..errors import DatacardError
from .header import HeaderReader
from .lexer import Statement, _grammar_text, tokenize  # noqa: F401  (_grammar_text: tests reach it here)
from .model import Datacard, is_shape_type
from .source import read_source, read_text, warn_at
from .systematics import SystematicsReader
from .values import parse_range


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


def parse_datacard(source: str | os.PathLike | TextIO, options: ParseOptions | None = None) -> Datacard:
    """Parse a datacard file (path or open text stream) the way Combine does."""
    options = options or ParseOptions()
    text, path = read_source(source)
    return parse_datacard_text(text, path=path, options=options)


def parse_datacard_text(text: str, path: str | None = None, options: ParseOptions | None = None) -> Datacard:
    """Parse datacard text; ``path`` is used for messages and relative shape files."""
    options = options or ParseOptions()
    if not text.strip():
        raise DatacardError("the datacard is empty", path=path)
    try:
        head, tail = tokenize(text)
        return _read(head, tail, path, options)
    except DatacardError as err:
        raise err.located(path=path)


def _read(head: list[Statement], tail: list[Statement], path: str | None, options: ParseOptions) -> Datacard:
    """Apply the statements of one card: the header, then the systematics section, then the checks."""

    def warn(message: str, line: int | None = None) -> None:
        if options.warn:
            warn_at(path, line, message)

    card = Datacard(path=path)
    header = HeaderReader(card, check_jmax=options.check_jmax, allow_no_signal=options.allow_no_signal)
    header.read(head)
    systematics = SystematicsReader(card, header.n_systematics, exclude_nuisances=options.exclude_nuisances,
                                    evaluate_edits=options.evaluate_edits, warn=warn)
    systematics.read(tail)
    _finish(card, options, systematics.n_systematics)
    return card


def _finish(card: Datacard, options: ParseOptions, n_systematics: int) -> None:
    """Combine's checks after the last line; ``n_systematics`` is the kmax left to match (-1: none)."""
    rate_line = card.lines.get("rate")
    for b in card.channels:
        cols = [c for c in card.columns if c.channel == b]
        n_all = sum(card.rates[b][c.process] != 0 for c in cols)
        n_sig = sum(card.rates[b][c.process] != 0 for c in cols if c.is_signal)
        n_bkg = sum(card.rates[b][c.process] != 0 for c in cols if not c.is_signal)
        if n_all == 0:
            raise DatacardError(f"channel '{b}' has no processes contributing to it (all rates are 0)", line=rate_line)
        if n_sig == 0 and not options.allow_no_signal and options.warn:
            sys.stderr.write(f"Warning: Bin {b} has no signal processes contributing to it\n")
        if n_bkg == 0 and not options.allow_no_background:
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
        elif n_systematics != -1:
            n_systematics -= 1
    card.systematics = kept
    if options.stat_only:
        n_systematics = 0
        card.systematics = []
    if n_systematics != -1 and len(card.systematics) != n_systematics:
        raise DatacardError(
            f"found {len(card.systematics)} systematics but kmax declares {n_systematics} "
            f"(use 'kmax *' to skip this check)",
            line=card.lines.get("kmax"),
        )


__all__ = ["ParseOptions", "Statement", "parse_datacard", "parse_datacard_text", "read_text", "tokenize", "parse_range", "is_shape_type"]
