"""Shared pytest configuration: the tests' helper modules (``refsuite``) are importable.

Cases of the regression suite that do not match yet are listed in :mod:`refsuite`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
