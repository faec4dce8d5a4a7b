"""The datacard parser, compiled once per grammar: Lark's standalone LALR module, cached on disk.

Building a Lark parser means importing lark and analysing the grammar (~50 ms with lark's own
pickle cache): a quarter of a small card's whole command. Lark can instead write the parser as a
standalone Python module (its LALR runtime plus the parse tables, no lark import, ~15 ms to load).
That module is generated from ``grammar/datacard.lark`` the first time a grammar is used and kept
in the user's cache directory, named by a checksum of the grammar and the generator options; any
later process loads it directly. The grammar file stays the one source of the language: a changed
grammar gets a new file.

The cache directory is ``$PYCOMBINE_CACHE_DIR``, else ``$XDG_CACHE_HOME/pycombine``, else
``~/.cache/pycombine``. A module is only loaded from a directory and file owned by the current
user and not writable by others (it is code). When nothing can be written, lark builds the parser
in memory as before.
"""

from __future__ import annotations

import os
import sys
import zlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

#: the parser options; part of the cache key (a change regenerates the module)
OPTIONS: dict[str, Any] = dict(start=["header", "body"], parser="lalr", lexer="contextual", propagate_positions=True,
                               maybe_placeholders=False)
#: bump when the way the module is generated or used changes
FORMAT = 1


@dataclass(frozen=True)
class Parser:
    """A datacard parser and the classes of what it returns (lark's, or the standalone module's)."""

    parser: Any  # .parse(text, start=...)
    Tree: type
    Token: type
    UnexpectedInput: type


def cache_dir() -> str:
    explicit = os.environ.get("PYCOMBINE_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pycombine")


def _key(grammar: str) -> str:
    text = f"{FORMAT}|{sorted(OPTIONS.items())}|{grammar}".encode()
    return f"{zlib.crc32(text):08x}{len(text):x}"


def _private(path: str) -> bool:
    """Owned by this user and not writable by group or others (safe to execute from)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (not hasattr(os, "getuid") or st.st_uid == os.getuid()) and not st.st_mode & 0o022


def _load_module(path: str, name: str) -> ModuleType:
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location(name, path)
    module = module_from_spec(spec)
    sys.modules[name] = module  # the module's dataclasses look their module up while being defined
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _generate(grammar: str, path: str) -> None:
    """Write lark's standalone module for ``grammar`` to ``path`` (atomically: parallel runs race safely)."""
    import lark
    from lark.tools.standalone import gen_standalone

    inst = lark.Lark(grammar, **OPTIONS)
    tmp = f"{path}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            gen_standalone(inst, out=out)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        # its bytecode too, even under PYTHONDONTWRITEBYTECODE: compiling 3 500 lines costs ~30 ms
        import py_compile

        py_compile.compile(path, doraise=True)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _standalone(grammar: str) -> Parser:
    directory = cache_dir()
    name = f"pycombine_datacard_parser_{_key(grammar)}"
    path = os.path.join(directory, name + ".py")
    if not os.path.exists(path):
        os.makedirs(directory, mode=0o700, exist_ok=True)
        _generate(grammar, path)
    if not (_private(directory) and _private(path)):
        raise PermissionError(f"{path}: not private to this user; not loaded")
    try:
        mod = _load_module(path, name)
    except Exception:  # a damaged file (e.g. a full disk while writing): generate it again, once
        _generate(grammar, path)
        mod = _load_module(path, name)
    return Parser(mod.Lark_StandAlone(), mod.Tree, mod.Token, mod.UnexpectedInput)


def _in_memory(grammar: str) -> Parser:
    import lark

    return Parser(lark.Lark(grammar, **OPTIONS), lark.Tree, lark.Token, lark.exceptions.UnexpectedInput)


def build_parser(grammar: str) -> Parser:
    """The parser of ``grammar``: the cached standalone module, generated if needed, else lark's."""
    try:
        return _standalone(grammar)
    except Exception:  # unwritable cache, foreign file, damaged module: lark builds it in memory
        return _in_memory(grammar)
