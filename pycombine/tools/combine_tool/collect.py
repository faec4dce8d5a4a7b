r"""``combineTool.py -M CollectLimits`` and ``-M CollectGoodnessOfFit``: ``limit`` trees to JSON.

CollectLimits
    every row of the input files goes to the entry of its mass, the key being Python's ``str``
    of the ``mh`` branch (``"120.0"``): ``obs`` (quantileExpected -1), ``exp-2``, ``exp-1``,
    ``exp0``, ``exp+1``, ``exp+2`` (quantiles 0.025, 0.16, 0.5, 0.84, 0.975), with ``--limit-err``
    also ``<key>_err`` from ``limitErr``. ``--toys``: the toy rows (iToy > 0) are listed under
    ``toys`` and the expected band is the toys' quantiles of the observed limits (ROOT's
    ``TMath::Quantiles`` type 1, the inverse of the empirical distribution). ``--use-dirs``: one
    JSON per enclosing directory (``limits_<dir>.json``; a directory named like a number is skipped
    for the next one up). pycombine adds ``--key``, for limits against any variable: ``--key
    BRANCH`` keys the entries by another branch of the tree instead of ``mh``, ``--key
    'file:REGEX'`` by the number the first group of REGEX finds in the file name (e.g.
    ``'file:lumi\.([0-9.]+)\.'`` for the files of ``-n .lumi.$L`` in a shell loop).
CollectGoodnessOfFit
    per mass, ``obs`` (the statistic of the iToy <= 0 row, as a one-element list), ``toy`` (the
    statistics of the iToy > 0 rows, toys below -0.5 are failures and left out with a warning)
    and ``p`` (the fraction of toys at least as large as ``obs``). Branches after
    ``quantileExpected`` (per-channel statistics of KS/AD) get their own ``obs``/``toy``/``p``.

Both write combineTool's text (sorted keys, indent 2). Unreadable files are skipped with a message.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Callable

import numpy as np

from ...errors import OptionError

__all__ = ["collect_goodness_of_fit", "collect_limits", "limit_key"]

#: quantileExpected of the expected limits and their JSON names
QUANTILES = ((0.5, "exp0"), (0.025, "exp-2"), (0.160, "exp-1"), (0.840, "exp+1"), (0.975, "exp+2"))


def limit_key(value: float) -> str:
    """The JSON key of a mass: Python's ``str`` of the double, as combineTool writes it."""
    return str(float(value))


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _label(path: str, use_dirs: bool) -> str:
    if not use_dirs:
        return "default"
    dirs = path.split("/")
    if len(dirs) > 1:
        if not _is_number(dirs[-2]):
            return dirs[-2]
        if len(dirs) > 2:
            return dirs[-3]
    return "default"


def _open_limit(path: str):
    """The ``limit`` tree's arrays of ``path``, or None if the file cannot be read."""
    import uproot

    try:
        f = uproot.open(path)
    except Exception:  # noqa: BLE001 - any unreadable file is skipped, as combineTool does
        return None
    try:
        if "limit" not in f:
            return None
        tree = f["limit"]
        names = list(tree.keys())
        arrays = tree.arrays(library="np")
        return names, arrays
    except Exception:  # noqa: BLE001
        return None
    finally:
        f.close()


def _quantiles(values: list[float], probs: list[float]) -> list[float]:
    """``TMath::Quantiles`` type 1: the smallest value whose empirical CDF reaches p."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    out = []
    for p in probs:
        k = int(np.ceil(n * p)) - 1
        out.append(float(x[min(max(k, 0), n - 1)]))
    return out


def _write(output: str | None, label: str, use_dirs: bool, data: dict, files: list[str],
           out: Callable[[str], None]) -> str | None:
    if output is None:
        return None
    name = output.replace(".json", f"_{label}.json") if use_dirs else output
    with open(name, "w") as f:
        out(f">> Writing output {name} from files:")
        for path in files:
            out(f"  {path!r}")
        f.write(json.dumps(data, sort_keys=True, indent=2, separators=(",", ": ")))
    return name


def collect_limits(inputs: list[str], output: str | None = "limits.json", use_dirs: bool = False,
                   toys: bool = False, limit_err: bool = False, key: str = "mh",
                   out: Callable[[str], None] = print) -> dict[str, dict]:
    """The limits JSON of each label (``default`` without ``use_dirs``); files are written."""
    sets: dict[str, list[tuple[str, tuple]]] = defaultdict(list)
    for path in inputs:
        tree = _open_limit(path)
        if tree is None:
            out(f">> skipping {path}: not a readable file with a limit tree")
            continue
        sets[_label(path, use_dirs)].append((path, tree))
    results = {}
    for label, trees in sets.items():
        js: dict[str, dict] = {}
        for path, (names, a) in trees:
            from_name = None
            if key.startswith("file:"):
                match = re.search(key[5:], os.path.basename(path))
                if match is None or not match.groups():
                    raise OptionError(f"--key {key}: no number found in the file name {path}")
                try:
                    from_name = limit_key(float(match.group(1)))
                except ValueError:
                    raise OptionError(f"--key {key}: {match.group(1)!r} (from {path}) is not a number") from None
            elif key not in names:
                raise OptionError(f"{path}: the limit tree has no branch {key!r}")
            for i in range(len(a["limit"])):
                k = from_name if from_name is not None else limit_key(a[key][i])
                entry = js.setdefault(k, {})
                if toys and "toys" not in entry:
                    entry["toys"] = {n: [] for n in ("obs", "exp0", "exp-2", "exp-1", "exp+1", "exp+2")}
                q = float(a["quantileExpected"][i])
                value, err = float(a["limit"][i]), float(a["limitErr"][i])
                name = "obs" if q == -1 else next((n for qq, n in QUANTILES if abs(q - qq) < 1e-4), None)
                if name is None:
                    continue
                if toys:
                    i_toy = int(a["iToy"][i])
                    if i_toy > 0:
                        entry["toys"][name].append(value)
                    elif i_toy == 0 and name == "obs":
                        entry["obs"] = value
                else:
                    entry[name] = value
                    if limit_err:
                        entry[name + "_err"] = err
        if toys:
            for k, entry in js.items():
                limits = entry["toys"]["obs"]
                if not limits:
                    out(f">> no toy limits for {k}: no expected band from toys")
                    continue
                out(f">> {k}: expected band from the quantiles of {len(limits)} toy limits")
                band = _quantiles(limits, [0.025, 0.160, 0.5, 0.840, 0.975])
                for name, v in zip(("exp-2", "exp-1", "exp0", "exp+1", "exp+2"), band):
                    entry[name] = v
        _write(output, label, use_dirs, js, [p for p, _ in trees], out)
        results[label] = js
    return results


def collect_goodness_of_fit(inputs: list[str], output: str | None = "gof.json", use_dirs: bool = False,
                            out: Callable[[str], None] = print) -> dict[str, dict]:
    """The goodness-of-fit JSON of each label; files are written."""
    sets: dict[str, list[tuple[str, tuple]]] = defaultdict(list)
    for path in inputs:
        tree = _open_limit(path)
        if tree is None:
            out(f">> skipping {path}: not a readable file with a limit tree")
            continue
        sets[_label(path, use_dirs)].append((path, tree))
    results = {}
    for label, trees in sets.items():
        js: dict[str, dict] = {}
        for path, (names, a) in trees:
            extra = names[names.index("quantileExpected") + 1:] if "quantileExpected" in names else []
            failed = 0
            n = len(a["limit"])
            for i in range(n):
                entry = js.setdefault(limit_key(a["mh"][i]), {})
                if float(a["quantileExpected"][i]) != -1:
                    continue
                i_toy = int(a["iToy"][i])
                if i_toy > 0 and float(a["limit"][i]) < -0.5:
                    failed += 1
                    continue
                targets = [(entry.setdefault(b, {"toy": []}), float(a[b][i])) for b in extra] if extra \
                    else [(entry, float(a["limit"][i]))]
                for target, value in targets:
                    target.setdefault("toy", [])
                    if i_toy <= 0:
                        target["obs"] = [value]
                    else:
                        target["toy"].append(value)
            if failed:
                out(f">> {path}: {failed} of {n} toys have a test statistic below -0.5 (failed fits, or KS/AD "
                    "on a toy without events) and are left out; the p-value may be biased")
        for entry in js.values():
            blocks = [entry] if "obs" in entry and "toy" in entry else \
                [v for v in entry.values() if isinstance(v, dict)]
            for b in blocks:
                if "obs" in b and b.get("toy"):
                    b["p"] = sum(1 for t in b["toy"] if t >= b["obs"][0]) / len(b["toy"])
        _write(output, label, use_dirs, js, [p for p, _ in trees], out)
        results[label] = js
    return results
