"""HybridNew results in files: saved by ``--saveHybridResult``, merged by ``hadd``, read back by
``--readHybridResults --grid``.

Combine stores RooStats ``HypoTestResult`` objects in the ``toys`` directory of its output
file; those need ROOT. pycombine stores the same content as one flat TTree per tested point,
``toys/HybridResult_mh<m>_<poi><value>_<random>`` (the naming of Combine's objects, so the
trees of many jobs never collide when ``hadd`` merges them), with one entry per toy and one for
the data:

    q       float64   the test statistic (pycombine's sign: larger = less signal-like)
    kind    int32     1 signal+background toy, 0 background-only toy, -1 the data
    <poi>   float64   the value of each parameter of interest at the point

Reading gathers every such tree of a file (however many jobs and hadd steps made it), groups
the entries by point and rebuilds one :class:`~.hypotest.HypoTest` per point.
"""

from __future__ import annotations

import secrets

import numpy as np

from ...errors import OptionError
from .hypotest import HypoTest

PREFIX = "HybridResult_"


def tree_name(test: HypoTest, mass: float) -> str:
    point = "_".join(f"{k}{v:g}" for k, v in test.point.items())
    return f"{PREFIX}mh{float(np.float32(mass)):g}_{point}_{secrets.randbelow(2**32 - 1)}"


def columns(test: HypoTest) -> dict[str, np.ndarray]:
    n_sb, n_b = test.q_sb.size, test.q_b.size
    q = np.concatenate([[test.q_data], test.q_sb, test.q_b]).astype(np.float64)
    kind = np.concatenate([[-1], np.ones(n_sb), np.zeros(n_b)]).astype(np.int32)
    cols = {"q": q, "kind": kind}
    for name, value in test.point.items():
        cols[name] = np.full(q.size, float(value))
    return cols


def read_grid(path: str, pois: list[str], mass: float | None = None, option: str = "--grid") -> list[HypoTest]:
    """Every point stored in ``path`` (merged), sorted by the first POI; with ``mass``, only the
    points saved at that mass. ``option`` names the input in error messages."""
    import uproot

    try:
        f = uproot.open(path)
    except FileNotFoundError:
        raise OptionError(f"{option} {path}: file not found") from None
    except Exception as exc:  # uproot's errors on files that are not ROOT files
        raise OptionError(f"{option} {path}: cannot read it as a ROOT file ({type(exc).__name__})") from None
    with f:
        if "toys" not in [k.split(";")[0] for k in f.keys(recursive=False)]:
            raise OptionError(f"{option} {path}: no 'toys' directory (make the grid with --saveHybridResult)")
        toys = f["toys"]
        names = [k for k, cls in toys.classnames(recursive=False).items() if cls == "TTree" and k.startswith(PREFIX)]
        if mass is not None:
            names = [k for k in names if k.startswith(f"{PREFIX}mh{float(np.float32(mass)):g}_")]
        if not names:
            at = f" at mass {mass:g}" if mass is not None else ""
            raise OptionError(f"{option} {path}: no HybridNew results{at} in 'toys' (make them with --saveHybridResult)")
        points: dict[tuple, HypoTest] = {}
        for name in names:
            arrays = toys[name].arrays(library="np")
            missing = [p for p in pois if p not in arrays]
            if missing:
                raise OptionError(f"{option} {path}: {name} has no value for {', '.join(missing)}")
            for key in {tuple(float(arrays[p][i]) for p in pois) for i in range(arrays["q"].size)}:
                sel = np.ones(arrays["q"].size, bool)
                for p, v in zip(pois, key):
                    sel &= arrays[p] == v
                q, kind = arrays["q"][sel], arrays["kind"][sel]
                test = points.get(key)
                if test is None:
                    data = q[kind == -1]
                    test = points[key] = HypoTest(dict(zip(pois, key)), float(data[0]) if data.size else np.nan)
                elif np.isnan(test.q_data) and (kind == -1).any():
                    test.q_data = float(q[kind == -1][0])
                test.append(q[kind == 1], q[kind == 0])
    return [points[k] for k in sorted(points)]
