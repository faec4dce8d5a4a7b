"""Shared pytest configuration: reference cases that do not match yet are listed here.

An entry marks the case ``xfail`` (strict: an unexpected pass fails, so the list stays honest)
with the reason we know of. Remove the entry when the case matches.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: case id -> reason it does not match Combine yet
KNOWN_DIFFERENCES: dict[str, str] = {
    "ci_shapeInterp_fitdiag_asimov": (
        "Asimov fit of r = 1 with r limited to [-1, 1]: the minimum is on the range edge r = 1. "
        "Combine's Migrad stopped at r = 0.99625 (2.8e-5 in NLL above the edge), so its rHiErr is "
        "the distance to the edge, 0.0038; ours stops at 0.9998 (rHiErr 0.0002). Everything else "
        "agrees (nll_min to 3e-5, rLoErr 0.6167 vs 0.6165, nuisances within 0.01)."
    ),
}
