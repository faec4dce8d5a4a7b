"""Where datacard text comes from: reading a card file, and naming a place in it in warnings."""

from __future__ import annotations

import gzip
import os
import sys
from typing import TextIO

from ..errors import DatacardError


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
