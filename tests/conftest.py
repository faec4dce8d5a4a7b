"""Shared pytest configuration: reference cases that do not match yet are listed here.

An entry marks the case ``xfail`` (strict: an unexpected pass fails, so the list stays honest)
with the reason we know of. Remove the entry when the case matches.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: case id -> reason it does not match Combine yet
KNOWN_DIFFERENCES: dict[str, str] = {}
