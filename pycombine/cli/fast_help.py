"""``combine --help`` without click: the same text, rendered from the option table in a few ms.

Importing click and letting it lay out some 170 options costs about 0.1 s (half in ``textwrap``),
which is most of ``combine --help`` on a laptop and of every help lookup in a shell loop. The
layout here is click's (``Usage:``, the description, ``Options:`` with a 30-column first column
and greedy wrapping to the terminal width, at most 110 columns), computed with plain string
operations. ``tests/test_startup.py`` checks that the page is click's, character for character,
at several terminal widths.
"""

from __future__ import annotations

import os
import sys

#: click's metavar of each kind of the option table
_METAVAR = {"str": "TEXT", "float": "FLOAT", "int": "INTEGER", "float32": "FLOAT", "bool": "BOOL", "multi": "TEXT"}
#: click's layout constants (``HelpFormatter.write_dl``)
_COL_MAX = 30
_COL_SPACING = 2
_INDENT = 2


def terminal_width(max_width: int = 110) -> int:
    """The width click would format for: ``$COLUMNS`` or the terminal's, at most ``max_width``, minus 2."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 80
    return max(min(columns, max_width) - 2, 50)


def _letter(text: str, k: int) -> bool:
    return 0 <= k < len(text) and (text[k] == "_" or (text[k].isalnum() and not text[k].isdigit()))


def _hyphen_break(text: str, k: int) -> bool:
    """Whether textwrap splits a word after the hyphen at ``k``: two letters (or letter-hyphen-
    letter) before it, and a letter, an optional hyphen and a letter after it (``pre-fit`` yes,
    ``p-value`` no)."""
    before = (_letter(text, k - 1) and _letter(text, k - 2)) or (
        _letter(text, k - 1) and k >= 3 and text[k - 2] == "-" and _letter(text, k - 3))
    after = _letter(text, k + 1) and (_letter(text, k + 2) or (k + 3 < len(text) and text[k + 2] == "-"
                                                                and _letter(text, k + 3)))
    return before and after


def _chunks(text: str) -> list[str]:
    """Words and runs of spaces, words also split after hyphens as textwrap does: the chunks
    that lines are broken between."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        j = i
        if text[i] == " ":
            while j < n and text[j] == " ":
                j += 1
        else:
            while j < n and text[j] != " ":
                j += 1
                if text[j - 1] == "-" and _hyphen_break(text, j - 1):
                    break
        out.append(text[i:j])
        i = j
    return out


def wrap(text: str, width: int) -> list[str]:
    """click's wrap (its ``TextWrapper``, a textwrap subclass): greedy, spaces kept inside a line,
    dropped at line ends and at the start of continuation lines; words longer than a line are cut."""
    chunks = _chunks(" ".join(text.split("\n")).expandtabs())
    chunks.reverse()
    lines: list[str] = []
    while chunks:
        line: list[str] = []
        size = 0
        if chunks[-1].strip() == "" and lines:
            chunks.pop()
        while chunks and size + len(chunks[-1]) <= width:
            size += len(chunks[-1])
            line.append(chunks.pop())
        if chunks and len(chunks[-1]) > width:
            room = max(width - size, 1)  # click's cut of a long word (no hyphen rule, unlike textwrap's)
            line.append(chunks[-1][:room])
            chunks[-1] = chunks[-1][room:]
        if line and line[-1].strip() == "":
            line.pop()
        if line:
            lines.append("".join(line))
    return lines or [""]


def _default_text(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def option_rows(options) -> list[tuple[str, str]]:
    """(``-M, --method TEXT``, help with ``[default: ...]``) for each option of the table, as click shows them."""
    rows = []
    for o in options:
        names = ", ".join(o.names)
        if o.kind != "flag":
            names += " " + _METAVAR[o.kind]
        text = o.help
        if o.kind not in ("flag", "multi") and o.default not in (None, ""):
            text += f"  [default: {_default_text(o.default)}]"
        rows.append((names, text))
    return rows


def render(prog: str, description: str, rows: list[tuple[str, str]], width: int | None = None) -> str:
    """The help page: usage, description and the two-column option list."""
    width = terminal_width() if width is None else width
    out = [f"Usage: {prog} [OPTIONS] [CARDS]...", ""]
    out += [" " * _INDENT + line for line in wrap(description, width - _INDENT)]
    out += ["", "Options:"]
    first = min(max(len(name) for name, _ in rows), _COL_MAX) + _COL_SPACING
    text_width = max(width - first - 2, 10)
    for name, text in rows:
        head = " " * _INDENT + name
        lines = wrap(text, text_width) if text else []
        if not lines:
            out.append(head)
            continue
        if len(name) <= first - _COL_SPACING:
            out.append(head + " " * (first - len(name)) + lines[0])
        else:
            out.append(head)
            out.append(" " * (first + _INDENT) + lines[0])
        out += [" " * (first + _INDENT) + line for line in lines[1:]]
    return "\n".join(out) + "\n"
