"""The cached standalone datacard parser (pycombine/datacard/parser_cache.py).

It must parse exactly as lark's in-memory parser of the same grammar (same statements, tokens and
lines, on every bundled and reference card), regenerate a damaged module, refuse a module others
could have written, and fall back to lark when nothing can be cached.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pycombine.datacard import lexer, parser_cache

REPO = Path(__file__).resolve().parents[1]
CARDS = sorted((REPO / "datacards").glob("*/*.txt"))
REFERENCE = REPO.parent / "shared" / "reference" / "cards"
if REFERENCE.is_dir():
    CARDS += sorted(REFERENCE.glob("*/*.txt"))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache directory, and the process-wide parser rebuilt from it."""
    path = tmp_path / "cache"
    monkeypatch.setenv("PYCOMBINE_CACHE_DIR", str(path))
    lexer._parser.cache_clear()
    yield path
    lexer._parser.cache_clear()


def _statements(text: str):
    head, body = lexer.tokenize(text)
    return [(s.kind, s.tokens, s.line) for s in [*head, *body]]


def _module(cache: Path) -> Path:
    (path,) = cache.glob("pycombine_datacard_parser_*.py")
    return path


def test_standalone_parses_every_card_as_lark_does(cache, monkeypatch):
    texts = [p.read_text(errors="replace") for p in CARDS]
    assert texts
    standalone = [_statements(t) for t in texts]
    assert type(lexer._parser().parser).__module__.startswith("pycombine_datacard_parser_")
    monkeypatch.setattr(parser_cache, "_standalone", lambda grammar: (_ for _ in ()).throw(OSError("no cache")))
    lexer._parser.cache_clear()
    assert type(lexer._parser().parser).__module__.startswith("lark")
    assert [_statements(t) for t in texts] == standalone


def test_generated_once_and_reused(cache):
    lexer._parser()
    path = _module(cache)
    assert path.stat().st_mode & 0o077 == 0 and os.stat(cache).st_mode & 0o077 == 0
    before = path.stat().st_mtime_ns
    lexer._parser.cache_clear()
    lexer._parser()
    assert path.stat().st_mtime_ns == before  # loaded, not written again


def test_a_damaged_module_is_generated_again(cache):
    lexer._parser()
    path = _module(cache)
    path.write_text("this is not python (\n")
    os.chmod(path, 0o600)
    for pyc in (cache / "__pycache__").glob("*.pyc"):
        pyc.unlink()
    lexer._parser.cache_clear()
    assert _statements("imax 1\nbin a\nobservation 3\n") == [("imax", ["imax", "1"], 1), ("bin", ["bin", "a"], 2),
                                                            ("observation", ["observation", "3"], 3)]
    assert "Lark_StandAlone" in path.read_text()


def test_a_module_others_can_write_is_not_executed(cache, monkeypatch):
    lexer._parser()
    path = _module(cache)
    path.write_text("raise SystemExit('executed a foreign module')\n")
    os.chmod(path, 0o666)
    lexer._parser.cache_clear()
    assert type(lexer._parser().parser).__module__.startswith("lark")  # lark's in-memory parser instead


def test_unwritable_cache_falls_back_to_lark(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("PYCOMBINE_CACHE_DIR", str(blocker / "cache"))  # cannot be created
    lexer._parser.cache_clear()
    try:
        assert _statements("imax 1\n") == [("imax", ["imax", "1"], 1)]
        assert type(lexer._parser().parser).__module__.startswith("lark")
    finally:
        lexer._parser.cache_clear()


def test_the_key_follows_the_grammar_and_the_options(monkeypatch):
    grammar = lexer._grammar_text()
    key = parser_cache._key(grammar)
    assert parser_cache._key(grammar + "\n// changed\n") != key
    monkeypatch.setitem(parser_cache.OPTIONS, "propagate_positions", False)
    assert parser_cache._key(grammar) != key
