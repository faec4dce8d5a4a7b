"""The options of ``combineCards.py``, its error, and the side files it reads (``--xn-file``,
``--en-file``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from ..errors import PyCombineError


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


def compile_patterns(patterns: Sequence[str], what: str) -> list[str]:
    """Check that every (non-empty) regex of an option compiles; return them as a list."""
    for p in patterns:
        if p:
            try:
                re.compile(p)
            except re.error as exc:
                raise CombineCardsError(f"invalid regular expression {p!r} for {what}: {exc}") from None
    return list(patterns)


def read_text_file(path: str, what: str) -> str:
    """The text of a side file named by an option; ``what`` names it in the error."""
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        raise CombineCardsError(f"{path}: {what} does not exist") from None
    except OSError as exc:
        raise CombineCardsError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CombineCardsError(f"{path}: {what} is not a UTF-8 text file") from None


def read_exclusion_file(path: str) -> list[str]:
    """The regexes of an ``--xn-file``, one per line (stripped).

    Quirk reproduced: Combine compiles every line, and an empty line gives a compiled empty pattern
    that is *not* skipped, so it excludes every nuisance; ``(?:)`` stands for it here.
    """
    patterns = []
    for line in read_text_file(path, "--exclude-nuisances-from-file file").splitlines():
        pat = line.strip()
        try:
            re.compile(pat)
        except re.error as exc:
            raise CombineCardsError(f"{path}: invalid regular expression {pat!r}: {exc}") from None
        patterns.append(pat if pat else "(?:)")
    return patterns
