"""The ``higgsCombine*.root`` file: name and ``limit`` tree (spec §6.1-6.3)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .root.rawfile import TreeFileWriter  # not uproot: importing it would cost ~0.3 s per command

#: Branches of Combine's ``limit`` tree, in Combine's order, with their numpy (= ROOT) types:
#: float64 is ``/D``, int32 ``/I``, float32 ``/F``. Method-specific branches follow these
#: (float32 for MultiDimFit POIs and ``deltaNLL``, float64 for most others).
LIMIT_BRANCHES: tuple[tuple[str, np.dtype], ...] = (
    ("limit", np.dtype(np.float64)),
    ("limitErr", np.dtype(np.float64)),
    ("mh", np.dtype(np.float64)),
    ("syst", np.dtype(np.int32)),
    ("iToy", np.dtype(np.int32)),
    ("iSeed", np.dtype(np.int32)),
    ("iChannel", np.dtype(np.int32)),
    ("t_cpu", np.dtype(np.float32)),
    ("t_real", np.dtype(np.float32)),
    ("quantileExpected", np.dtype(np.float32)),
)


def mass_tag(mass: float) -> str:
    """C ``%g`` of the float32 mass: 120 -> '120', 125.38 -> '125.38'."""
    return "%g" % float(np.float32(mass))


def output_filename(name: str, method: str, mass: float, keyword_values=(), seed: int = 123456,
                    toys: int = 0, save_toys: bool = False) -> str:
    parts = [f"higgsCombine{name}", method, f"mH{mass_tag(mass)}"]
    for kv in keyword_values:
        word, eq, value = kv.partition("=")
        if eq:  # Combine leaves a keyword without '=' out of the name (it complains and goes on)
            parts.append(f"{word}{value}")
    if toys > 0 or seed != 123456 or save_toys:
        parts.append(str(seed))
    return ".".join(parts) + ".root"


@dataclass
class LimitRow:
    limit: float = 0.0
    limit_err: float = 0.0
    quantile: float = -1.0
    i_toy: int = 0
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(eq=False)  # numpy fields: a generated __eq__ could not compare them
class LimitTree:
    """Rows of the ``limit`` tree plus the method's own branches (name -> numpy dtype, in order)."""

    mass: float
    seed: int
    rows: list[LimitRow] = field(default_factory=list)
    branches: list[tuple[str, np.dtype]] = field(default_factory=list)
    keyword_values: tuple = ()
    #: more trees in the ``toys`` directory, name -> columns (HybridNew's --saveHybridResult)
    toys: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def add(self, limit: float, limit_err: float = 0.0, quantile: float = -1.0, i_toy: int = 0, **extra) -> None:
        self.rows.append(LimitRow(limit, limit_err, quantile, i_toy, extra))

    def columns(self) -> dict[str, np.ndarray]:
        n = len(self.rows)
        cols: dict[str, np.ndarray] = {}
        mh = float(np.float32(self.mass))
        values = {
            "limit": [r.limit for r in self.rows],
            "limitErr": [r.limit_err for r in self.rows],
            "mh": [mh] * n,
            "syst": [1] * n,
            "iToy": [r.i_toy for r in self.rows],
            "iSeed": [self.seed] * n,
            "iChannel": [0] * n,
            "t_cpu": [0.0] * n,
            "t_real": [0.0] * n,
            "quantileExpected": [r.quantile for r in self.rows],
        }
        for name, dtype in LIMIT_BRANCHES:
            cols[name] = np.asarray(values[name], dtype=dtype)
        for kv in self.keyword_values:
            word, _, value = kv.partition("=")
            cols[word] = np.asarray([value] * n, dtype=object)
        for name, dtype in self.branches:
            cols[name] = np.asarray([r.extra.get(name, 0.0) for r in self.rows], dtype=dtype)
        return cols

    def write(self, path: str) -> None:
        cols = self.columns()
        # string branches (--keyword-value) are not supported by the tree writer: drop them
        cols = {k: v for k, v in cols.items() if v.dtype != object}
        warn_non_finite(path, cols)
        with TreeFileWriter(path, fsync=False) as out:
            out.tree("limit", cols)
            out.mkdir("toys")
            for name, columns in self.toys.items():
                out.tree(f"toys/{name}", columns)


def warn_non_finite(path: str, cols: dict[str, np.ndarray]) -> None:
    """One warning on stderr per branch that holds NaN or infinite values, with the rows (the
    method's own messages above it say why); nothing non-finite reaches a file silently."""
    import sys

    for name, values in cols.items():
        if values.dtype.kind != "f":
            continue
        bad = np.nonzero(~np.isfinite(values))[0]
        if bad.size:
            rows = ", ".join(str(i) for i in bad[:5]) + (", ..." if bad.size > 5 else "")
            sys.stderr.write(f"Warning: {os.path.basename(path)}: branch '{name}' of the limit tree holds "
                             f"{bad.size} non-finite value(s) (NaN or inf; entries {rows}): that result could not "
                             "be computed, see the messages above\n")


def write_limit_file(directory: str, filename: str, tree: LimitTree) -> str:
    path = os.path.join(directory, filename)
    tree.write(path)
    return path
