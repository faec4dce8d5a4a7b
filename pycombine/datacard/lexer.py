"""Datacard text to statements: the Lark grammar and the split into Combine's two sections.

The text is cut at the first line starting with ``rate`` (the end of Combine's header phase); the
grammar ``grammar/datacard.lark`` parses each section with its own start rule and the parse tree is
flattened into a list of :class:`Statement` (keyword, tokens, line) for the readers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
import os

from ..errors import DatacardError


@dataclass
class Statement:
    """One meaningful line of a datacard."""

    kind: str  # grammar alias: imax, bin, lognormal, rate_param, ...
    tokens: list[str]  # all tokens of the line (comments removed in the systematics section)
    line: int


def _grammar_text() -> str:
    """The datacard grammar, from the installed package or, in a source checkout, from grammar/.

    An installed pycombine ships grammar/ as the subpackage ``pycombine.grammar``. Running from a
    checkout (``python -m pytest`` puts the checkout's ``pycombine/`` first on sys.path, even next to
    an installed copy) has no such subpackage: the grammar is then the top-level grammar/ folder.
    """
    from importlib.util import find_spec

    # its folder, without the imports of importlib.resources and pathlib (~10 ms of start-up)
    spec = find_spec("pycombine.grammar")
    if spec is None:
        here = os.path.dirname(os.path.realpath(__file__))
        return _read(os.path.join(here, os.pardir, os.pardir, "grammar", "datacard.lark"))
    for folder in spec.submodule_search_locations or ():
        path = os.path.join(folder, "datacard.lark")
        if os.path.isfile(path):
            return _read(path)
    from importlib import resources  # e.g. a zipped installation

    return resources.files("pycombine.grammar").joinpath("datacard.lark").read_text()


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


@lru_cache(maxsize=1)
def _parser():
    """The datacard parser, built once per process (from the on-disk cache: see parser_cache)."""
    from .parser_cache import build_parser

    return build_parser(_grammar_text())


def _to_statements(tree, line_offset: int) -> list[Statement]:
    """Flatten a parse tree into statements (ignored header lines and comments are dropped)."""
    parser = _parser()
    Token, Tree = parser.Token, parser.Tree
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


#: body lines parsed per call of the Lark parser: statements reach the reader chunk by chunk, so a
#: bad line is refused without parsing the lines after its chunk
BODY_CHUNK_LINES = 2000


def _header_text(lines: list[str]) -> tuple[str, int]:
    """The header (up to and including the first ``rate`` line) for the parser, and its line count.

    Lines whose first token is not a header keyword are ignored by Combine; they are blanked here
    (keeping the line numbers) so that a long free-text preamble costs nothing to parse.
    """
    from .source import HEADER_KEYWORDS

    out = []
    for line in lines:
        first = line.split(None, 1)[:1]
        key = first[0] if first else None
        out.append(line if key in HEADER_KEYWORDS else "")
        if key == "rate":
            break
    return "\n".join(out) + "\n", len(out)


def _parse(parser, text: str, start: str, line_offset: int):
    try:
        return parser.parser.parse(text, start=start)
    except parser.UnexpectedInput as exc:  # pragma: no cover - the grammar accepts any line
        line = getattr(exc, "line", None)
        raise DatacardError(f"cannot parse this line ({exc.__class__.__name__})",
                            line=None if line is None else line + line_offset) from None


def _body_statements(lines: list[str], first: int) -> Iterator[Statement]:
    parser = _parser()
    for c in range(first, len(lines), BODY_CHUNK_LINES):
        chunk = "\n".join(lines[c : c + BODY_CHUNK_LINES]) + "\n"
        if chunk.strip():
            yield from _to_statements(_parse(parser, chunk, "body", c), c)


def tokenize(text: str) -> tuple[list[Statement], Iterator[Statement]]:
    """Parse datacard text into (header statements, systematics statements).

    The systematics statements come lazily, :data:`BODY_CHUNK_LINES` lines at a time, in file
    order; line numbers are those of the whole file.
    """
    lines = text.split("\n")
    header, n_header = _header_text(lines)
    head = _to_statements(_parse(_parser(), header, "header", 0), 0)
    return head, _body_statements(lines, n_header)
