"""Datacard text to statements: the Lark grammar and the split into Combine's two sections.

The text is cut at the first line starting with ``rate`` (the end of Combine's header phase); the
grammar ``grammar/datacard.lark`` parses each section with its own start rule and the parse tree is
flattened into a list of :class:`Statement` (keyword, tokens, line) for the readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

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
