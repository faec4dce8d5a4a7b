"""The simplified-likelihood JSON file: writing, reading, detecting and checking it.

Layout (format version :data:`FORMAT_VERSION`; documented for users in docs/SIMPLIFIED.md)::

    {
      "simplified_likelihood": {            # first key: how `combine` recognises the file
        "format_version": "1.0.0",
        "type": "B",                        # "B": pre-fit, background-only; "A": post-fit of the control regions
        "source": "card.txt",               # the datacard it was made from
        "mass": 120.0,
        "poi": "r",
        "toys": 100000, "seed": 123456,     # the nuisance draws behind the moments
        "generator": "pycombine 0.x"
      },
      "bins": ["SR_0", "SR_1", ...],        # <channel>_<i>, i the histogram bin (0 for counting channels)
      "model": {                            # exactly the arguments of spey's default.third_moment_expansion
        "signal_yields": [...],             # s_i: signal at r = 1, pre-fit
        "background_yields": [...],         # m1_i: mean background (spey's background_yields is m1)
        "data": [...],                      # observed counts
        "covariance_matrix": [[...], ...],  # m2_ij: central second moments (bins x bins)
        "third_moment": [...]               # m3_i: diagonal central third moments
      }
    }

``spey.get_backend("default.third_moment_expansion")(**doc["model"])`` builds spey's model of the
same likelihood. Everything is checked when read (:func:`check`): a file that would give a
meaningless likelihood (non-finite numbers, a covariance that is not positive definite, a bin
where the quadratic expansion does not exist) is refused with a message naming the bin, because
a fit on it would fail later with a message about the fit instead of the file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from ...errors import DatacardError
from .expansion import violations

FORMAT_VERSION = "1.0.0"
#: the top-level key that marks a simplified likelihood (written first)
MARKER = "simplified_likelihood"
#: bytes read from the head of a .json input to recognise the format
_HEAD = 4096


@dataclass
class SimplifiedLikelihood:
    """The per-bin numbers of a simplified likelihood and where they come from."""

    bins: list[str]
    signal: np.ndarray  # (n,) s_i at r = 1
    m1: np.ndarray  # (n,) mean background
    m2: np.ndarray  # (n, n) covariance
    m3: np.ndarray  # (n,) diagonal third central moment
    data: np.ndarray  # (n,) observed counts
    type: str = "B"
    source: str = ""
    mass: float = 120.0
    poi: str = "r"
    toys: int = 0
    seed: int = 0
    extra: dict = field(default_factory=dict)  # further metadata (kept on round trips)

    def to_json(self) -> dict:
        head = {"format_version": FORMAT_VERSION, "type": self.type, "source": self.source, "mass": self.mass,
                "poi": self.poi, "toys": int(self.toys), "seed": int(self.seed)}
        head.update(self.extra)
        return {
            MARKER: head,
            "bins": list(self.bins),
            "model": {
                "signal_yields": [float(x) for x in self.signal],
                "background_yields": [float(x) for x in self.m1],
                "data": [float(x) for x in self.data],
                "covariance_matrix": [[float(x) for x in row] for row in self.m2],
                "third_moment": [float(x) for x in self.m3],
            },
        }


def is_simplified(path: str) -> bool:
    """Whether ``path`` is a simplified-likelihood JSON (its first key is :data:`MARKER`).

    Only the head of the file is read: a large pyhf workspace costs nothing extra.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD).decode("utf-8", errors="replace").lstrip()
    except OSError:
        return False
    return head.startswith("{") and head[1:].lstrip().startswith(f'"{MARKER}"')


def write(sl: SimplifiedLikelihood, path: str) -> None:
    """Check ``sl`` (:func:`check`) and write it as JSON."""
    check(sl, path)
    text = json.dumps(sl.to_json(), indent=1)
    with open(path, "w") as f:
        f.write(text + "\n")


def _array(model: dict, key: str, path: str, ndim: int) -> np.ndarray:
    if key not in model:
        raise DatacardError(f"simplified likelihood: 'model' has no '{key}'", path)
    try:
        arr = np.asarray(model[key], dtype=float)
    except (TypeError, ValueError):
        raise DatacardError(f"simplified likelihood: '{key}' must hold numbers", path) from None
    if arr.ndim != ndim:
        raise DatacardError(f"simplified likelihood: '{key}' must be a {'list' if ndim == 1 else 'matrix (list of lists)'}", path)
    return arr


def read(path: str) -> SimplifiedLikelihood:
    """Read and check a simplified-likelihood JSON; problems raise :class:`DatacardError`."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except json.JSONDecodeError as e:
        raise DatacardError(f"not valid JSON: {e.msg} (line {e.lineno})", path) from None
    if not isinstance(doc, dict) or not isinstance(doc.get(MARKER), dict):
        raise DatacardError(f"not a simplified likelihood (no '{MARKER}' object)", path)
    head = dict(doc[MARKER])
    version = str(head.pop("format_version", ""))
    if version.split(".")[0] != FORMAT_VERSION.split(".")[0]:
        raise DatacardError(f"simplified likelihood format version {version or '(none)'} is not supported "
                            f"(this pycombine reads {FORMAT_VERSION})", path)
    model = doc.get("model")
    if not isinstance(model, dict):
        raise DatacardError("simplified likelihood: no 'model' object", path)
    m1 = _array(model, "background_yields", path, 1)
    n = m1.size
    bins = doc.get("bins", [f"bin_{i}" for i in range(n)])
    if not isinstance(bins, list) or len(bins) != n or not all(isinstance(b, str) and b for b in bins):
        raise DatacardError(f"simplified likelihood: 'bins' must be {n} non-empty names", path)
    sl = SimplifiedLikelihood(
        bins=bins, signal=_array(model, "signal_yields", path, 1), m1=m1,
        m2=_array(model, "covariance_matrix", path, 2), m3=_array(model, "third_moment", path, 1),
        data=_array(model, "data", path, 1), type=str(head.pop("type", "B")), source=str(head.pop("source", "")),
        mass=float(head.pop("mass", 120.0)), poi=str(head.pop("poi", "r")), toys=int(head.pop("toys", 0)),
        seed=int(head.pop("seed", 0)), extra=head)
    check(sl, path)
    return sl


def check(sl: SimplifiedLikelihood, path: str = "") -> None:
    """Refuse numbers that make no likelihood, naming the bin (:class:`DatacardError`)."""
    n = len(sl.bins)
    if n == 0:
        raise DatacardError("simplified likelihood: no bins", path or None)
    if len(set(sl.bins)) != n:
        raise DatacardError("simplified likelihood: bin names must be unique", path or None)
    for key, arr in (("signal_yields", sl.signal), ("background_yields", sl.m1), ("data", sl.data),
                     ("third_moment", sl.m3)):
        if arr.shape != (n,):
            raise DatacardError(f"simplified likelihood: '{key}' has {arr.size} entries, there are {n} bins", path or None)
    if sl.m2.shape != (n, n):
        raise DatacardError(f"simplified likelihood: 'covariance_matrix' is {'x'.join(map(str, sl.m2.shape))}, "
                            f"needs {n}x{n}", path or None)
    for key, arr in (("signal_yields", sl.signal), ("background_yields", sl.m1), ("data", sl.data),
                     ("third_moment", sl.m3), ("covariance_matrix", sl.m2)):
        bad = np.argwhere(~np.isfinite(arr))
        if bad.size:
            where = " and ".join(sl.bins[int(i)] for i in bad[0])
            raise DatacardError(f"simplified likelihood: '{key}' of bin {where} is not a finite number", path or None)
    for key, arr in (("data", sl.data), ("background_yields", sl.m1)):
        neg = np.nonzero(arr < 0)[0]
        if neg.size:
            raise DatacardError(f"simplified likelihood: '{key}' of bin {sl.bins[int(neg[0])]} is negative "
                                f"({arr[neg[0]]:g})", path or None)
    asym = np.abs(sl.m2 - sl.m2.T)
    if (asym > 1e-9 * np.maximum(np.abs(sl.m2), 1e-300)).any() and (asym > 1e-12).any():
        i, j = np.unravel_index(int(np.argmax(asym)), asym.shape)
        raise DatacardError(f"simplified likelihood: 'covariance_matrix' is not symmetric (bins {sl.bins[i]} "
                            f"and {sl.bins[j]})", path or None)
    var = np.diag(sl.m2)
    if not (var > 0).all():
        i = int(np.argmin(var))
        raise DatacardError(f"simplified likelihood: the variance of bin {sl.bins[i]} is {var[i]:g}; it must be "
                            f"positive", path or None)
    try:
        np.linalg.cholesky(sl.m2 / np.sqrt(np.outer(var, var)))
    except np.linalg.LinAlgError:
        raise DatacardError("simplified likelihood: 'covariance_matrix' is not positive definite", path or None) from None
    bad_bins = violations(sl.m2, sl.m3)
    if bad_bins:
        i = bad_bins[0]
        more = f" (and {len(bad_bins) - 1} more)" if len(bad_bins) > 1 else ""
        raise DatacardError(
            f"simplified likelihood: bin {sl.bins[i]}{more} is too skewed for the quadratic expansion: "
            f"8 m2^3 = {8 * var[i] ** 3:.6g} < m3^2 = {sl.m3[i] ** 2:.6g} (validity condition 8 m2_ii^3 >= m3_i^2)",
            path or None)
    if not math.isfinite(sl.mass):
        raise DatacardError("simplified likelihood: 'mass' is not finite", path or None)
