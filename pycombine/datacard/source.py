"""Where datacard text comes from: reading a card file, and naming a place in it in warnings."""

from __future__ import annotations

import gzip
import os
import sys
import zlib
from typing import TextIO

from ..errors import DatacardError


#: the first keyword of the header lines Combine acts on (every other header line is ignored)
HEADER_KEYWORDS = frozenset(("imax", "jmax", "kmax", "shapes", "bin", "observation", "Observation", "process", "rate"))
#: how much of a file is looked at before the rest is read: a file without a single header keyword
#: in its first PROBE_LINES lines (or PROBE_BYTES bytes) is refused there, without reading on
PROBE_BYTES = 1 << 20
PROBE_LINES = 10000


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def _check_bytes(raw: bytes, path: str, final: bool, line_base: int = 0) -> None:
    """Refuse binary data (a NUL byte) and text that is not UTF-8, naming the first bad line."""
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DatacardError("this is a binary file, not a text datacard", path=path, line=line_base + _line_of(raw, nul))
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not final and exc.start >= len(raw) - 3 and exc.reason == "unexpected end of data":
            return  # a multi-byte character cut by the probe's end
        raise DatacardError(f"not a UTF-8 text file (undecodable byte at offset {exc.start})", path=path,
                            line=line_base + _line_of(raw, exc.start)) from None


def _looks_like_a_card(head: str) -> bool:
    for k, line in enumerate(head.split("\n")):
        if k >= PROBE_LINES:
            return False
        first = line.split(None, 1)[:1]
        if first and first[0] in HEADER_KEYWORDS:
            return True
    return False


def read_text(path: str | os.PathLike) -> str:
    """Read a datacard file (``.gz`` through gzip) and reject empty and binary files.

    Line endings are Python's universal newlines (``\\r\\n`` and a lone ``\\r`` end a line), as Combine
    reads its cards. The first :data:`PROBE_BYTES` are checked before the rest is read: binary
    data, undecodable text, or no header keyword at all in the first :data:`PROBE_LINES` lines is
    refused at once, so that a large junk file costs no more than a small one.
    """
    path = os.fspath(path)
    try:
        f = gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")
        with f:
            head = f.read(PROBE_BYTES)
            if not head.strip() and len(head) < PROBE_BYTES:
                raise DatacardError("the datacard is empty", path=path)
            _check_bytes(head, path, final=len(head) < PROBE_BYTES)
            if len(head) == PROBE_BYTES:
                probe = head.decode("utf-8", errors="ignore").replace("\r\n", "\n").replace("\r", "\n")
                if not _looks_like_a_card(probe):
                    raise DatacardError(
                        f"this does not look like a datacard: none of its first {PROBE_LINES} lines (or "
                        f"{PROBE_BYTES >> 20} MB) starts with imax, jmax, kmax, shapes, bin, observation, process "
                        f"or rate", path=path)
                rest = f.read()
                _check_bytes(rest, path, final=True, line_base=head.count(b"\n"))
                raw = head + rest
            else:
                raw = head
    except FileNotFoundError:
        raise DatacardError("datacard file does not exist", path=path) from None
    except IsADirectoryError:
        raise DatacardError("is a directory, not a datacard file", path=path) from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DatacardError(f"truncated or damaged gzip file ({exc})", path=path) from None
    except OSError as exc:
        raise DatacardError(f"cannot read datacard: {exc.strerror or exc}", path=path) from None
    if not raw.strip():
        raise DatacardError("the datacard is empty", path=path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:  # pragma: no cover - _check_bytes caught it
        raise DatacardError(f"not a UTF-8 text file (undecodable byte at offset {exc.start})", path=path) from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def read_source(source: str | os.PathLike | TextIO) -> tuple[str, str | None]:
    """The text of a card given as a path or an open text stream, and the path to name it by."""
    if hasattr(source, "read"):
        return source.read(), getattr(source, "name", None)
    path = os.fspath(source)
    return read_text(path), path


def warn_at(path: str | None, line: int | None, message: str) -> None:
    """Write ``Warning: <file>:<line>: <message>`` on stderr (without ``:<line>`` when unknown)."""
    where = (path or "<datacard>") + (f":{line}" if line else "")
    sys.stderr.write(f"Warning: {where}: {message}\n")
