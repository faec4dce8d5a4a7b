"""Regression checks for CI: run combine command lines and compare results with stored references.

A manifest (TOML, read with the standard library's ``tomllib``, or JSON) lists cases::

    [defaults]                       # optional
    cards = "tests/reference/cards"  # folders below are relative to this (and to the manifest)

    [tolerances]                     # optional overrides: quantity-name prefix -> tolerance
    "limit" = { rel = 0.01, abs = 1e-4 }

    [[case]]
    name = "count_simple_asym"
    folder = "counting"                          # copied to a temporary directory
    setup = []                                   # shell commands run first
    command = "combine -M AsymptoticLimits simple-counting-experiment.txt"
    reference = "expected/count_simple_asym.json"  # relative to the manifest

References are either pycombine's own format (``{"quantities": {name: value}}``, written by
``--update``) or the records of the real Combine in ``tests/reference/expected`` (their
``outputs`` are converted with the same extraction rules). Quantities are named after where they
come from: ``limit[q=0.500]`` (limit tree row by quantileExpected), ``deltaNLL[3]``/``r[3]``
(MultiDimFit rows), ``fit_sb.r``/``fit_sb.rLoErr``/``fit_sb.rHiErr``/``fit_b.nll_min``.
"""

from __future__ import annotations

from ..errors import OptionError

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

#: default tolerances by quantity prefix (Combine's reference-suite rules); rel and abs: the drift
#: passes if |got - ref| <= max(rel * |ref|, abs)
DEFAULT_TOLERANCES: dict[str, dict[str, float]] = {
    "limit": {"rel": 0.01, "abs": 1e-4},
    "significance": {"rel": 0.01, "abs": 0.02},
    "deltaNLL": {"rel": 0.02, "abs": 0.02},
    "fit_sb.r": {"rel": 0.0, "abs": 0.02},
    "fit_sb.rLoErr": {"rel": 0.05, "abs": 2e-3},
    "fit_sb.rHiErr": {"rel": 0.05, "abs": 2e-3},
    "fit_b.nll_min": {"rel": 0.0, "abs": 0.01},
    "fit_sb.nll_min": {"rel": 0.0, "abs": 0.01},
    "poi": {"rel": 0.0, "abs": 0.03},
    "gof": {"rel": 0.01, "abs": 0.01},
}


@dataclass
class Drift:
    case: str
    quantity: str
    reference: float
    got: float | None
    tolerance: dict[str, float]

    @property
    def delta(self) -> float:
        return float("nan") if self.got is None else self.got - self.reference

    @property
    def ok(self) -> bool:
        if self.got is None:
            return False
        allowed = max(self.tolerance.get("rel", 0.0) * abs(self.reference), self.tolerance.get("abs", 0.0))
        return abs(self.got - self.reference) <= allowed + 1e-15


@dataclass
class CaseResult:
    name: str
    drifts: list[Drift] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and all(d.ok for d in self.drifts)


# --------------------------------------------------------------------------- extraction
def _method(command: str) -> str:
    m = re.search(r"-M\s+(\w+)", command)
    return m.group(1) if m else "AsymptoticLimits"


def quantities_from_trees(trees: dict[str, dict[str, dict[str, list]]], method: str) -> dict[str, float]:
    """Quantities from {file: {tree: {branch: values}}} (our files read back, or a Combine record)."""
    out: dict[str, float] = {}
    for fname, rec in trees.items():
        lim = rec.get("limit")
        if lim:
            q = lim.get("quantileExpected", [])
            if method == "MultiDimFit" and "deltaNLL" in lim:
                skip = {"limit", "limitErr", "mh", "syst", "iToy", "iSeed", "iChannel", "t_cpu", "t_real",
                        "quantileExpected"}
                for b, vals in lim.items():
                    if b in skip:
                        continue
                    for i, v in enumerate(vals):
                        out[f"{b}[{i}]" if b == "deltaNLL" else f"poi.{b}[{i}]"] = float(v)
            else:
                name = {"Significance": "significance", "GoodnessOfFit": "gof"}.get(method, "limit")
                for qq, v in zip(q, lim.get("limit", [])):
                    out[f"{name}[q={float(qq):.3f}]"] = float(v)
        for tree, prefix in (("tree_fit_sb", "fit_sb"), ("tree_fit_b", "fit_b")):
            t = rec.get(tree)
            if not t:
                continue
            keys = ("r", "rLoErr", "rHiErr", "nll_min") if prefix == "fit_sb" else ("nll_min",)
            for k in keys:
                if k in t and t[k]:
                    out[f"{prefix}.{k}"] = float(t[k][0])
    return out


def read_outputs(directory: Path, names: list[str] | None = None) -> dict[str, dict[str, dict[str, list]]]:
    """Our ROOT outputs in ``directory`` as {file: {tree: {branch: list}}}."""
    import uproot

    files = names or sorted(p.name for p in directory.glob("*.root"))
    out = {}
    for f in files:
        path = directory / f
        if not path.exists():
            continue
        rec = {}
        with uproot.open(path) as root:
            for tree in ("limit", "tree_fit_sb", "tree_fit_b"):
                if tree in [k.split(";")[0] for k in root.keys()]:
                    rec[tree] = {k: v.tolist() for k, v in root[tree].arrays(library="np").items()}
        out[f] = rec
    return out


def load_reference(path: Path, command: str) -> dict[str, float]:
    data = json.loads(path.read_text())
    if "quantities" in data:
        return {k: float(v) for k, v in data["quantities"].items()}
    outputs = {f: {k: v for k, v in rec.items() if isinstance(v, dict)} for f, rec in data.get("outputs", {}).items()}
    return quantities_from_trees(outputs, _method(data.get("command", command)))


def tolerance_for(name: str, overrides: dict[str, dict[str, float]]) -> dict[str, float]:
    table = {**DEFAULT_TOLERANCES, **overrides}
    best = ""
    for prefix in table:
        if name.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    if not best and name.startswith("poi."):
        best = "poi"
    return table.get(best, {"rel": 0.01, "abs": 1e-6})


# --------------------------------------------------------------------------- running
def load_manifest(path: Path) -> dict:
    """The manifest at ``path`` (JSON or TOML); one-line errors for a missing or malformed file."""
    import tomllib

    try:
        text = path.read_text()
    except FileNotFoundError:
        raise OptionError(f"{path}: no such manifest file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OptionError(f"{path}: cannot read the manifest ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise OptionError(f"{path}: not a valid {'JSON' if path.suffix == '.json' else 'TOML'} manifest ({exc})") from None
    if not isinstance(data, dict):
        raise OptionError(f"{path}: a manifest must be a table of cases, not a {type(data).__name__}")
    return data


def run_case(case: dict, manifest_dir: Path, cards_root: Path, overrides: dict, env: dict) -> tuple[CaseResult, dict]:
    name = case["name"]
    res = CaseResult(name)
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="regress_"))
    got: dict[str, float] = {}
    try:
        folder = case.get("folder")
        if folder:
            src = cards_root / folder
            if not src.exists():
                src = manifest_dir / folder
            shutil.copytree(src, work, dirs_exist_ok=True)
        for cmd in case.get("setup", []):
            p = subprocess.run(cmd, shell=True, cwd=work, capture_output=True, text=True, env=env, timeout=600)
            if p.returncode:
                raise RuntimeError(f"setup failed: {cmd}: {(p.stderr or p.stdout).strip()[-300:]}")
        p = subprocess.run(case["command"], shell=True, cwd=work, capture_output=True, text=True, env=env, timeout=1800)
        if p.returncode:
            raise RuntimeError(f"exit {p.returncode}: {(p.stderr or p.stdout).strip()[-300:]}")
        got = quantities_from_trees(read_outputs(work), _method(case["command"]))
        ref_path = manifest_dir / case["reference"]
        if ref_path.exists():
            ref = load_reference(ref_path, case["command"])
            for q, v in ref.items():
                res.drifts.append(Drift(name, q, v, got.get(q), tolerance_for(q, overrides)))
    except Exception as exc:  # noqa: BLE001 - reported per case
        res.error = str(exc)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res.seconds = time.perf_counter() - t0
    return res, got


def format_table(results: list[CaseResult], only_failures: bool = False) -> str:
    rows = [("case", "quantity", "reference", "got", "drift", "status")]
    for r in results:
        if r.error:
            rows.append((r.name, "-", "-", "-", "-", "ERROR: " + r.error[:80]))
            continue
        for d in r.drifts:
            if only_failures and d.ok:
                continue
            rel = f"{100 * d.delta / d.reference:+.2f}%" if d.got is not None and d.reference else f"{d.delta:+.3g}"
            rows.append((r.name, d.quantity, f"{d.reference:.6g}", "missing" if d.got is None else f"{d.got:.6g}",
                         rel, "ok" if d.ok else "DRIFT"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


def write_junit(results: list[CaseResult], path: Path) -> None:
    suite = ET.Element("testsuite", name="pycombine-regress", tests=str(len(results)),
                       failures=str(sum(1 for r in results if not r.ok and not r.error)),
                       errors=str(sum(1 for r in results if r.error)),
                       time=f"{sum(r.seconds for r in results):.3f}")
    for r in results:
        tc = ET.SubElement(suite, "testcase", classname="regress", name=r.name, time=f"{r.seconds:.3f}")
        if r.error:
            ET.SubElement(tc, "error", message=r.error[:200]).text = r.error
        elif not r.ok:
            bad = [d for d in r.drifts if not d.ok]
            msg = "; ".join(f"{d.quantity}: {d.got} vs {d.reference}" for d in bad)
            ET.SubElement(tc, "failure", message=msg[:200]).text = msg
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def regress(manifest_path: str | os.PathLike, update: bool = False, junit: str | None = None,
            only: list[str] | None = None, out=print) -> int:
    manifest_path = Path(manifest_path).resolve()
    manifest = load_manifest(manifest_path)
    mdir = manifest_path.parent
    defaults = manifest.get("defaults", {})
    cards_root = (mdir / defaults.get("cards", ".")).resolve()
    overrides = manifest.get("tolerances", {})
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    results = []
    cases = manifest.get("case", manifest.get("cases", []))
    for k, case in enumerate(cases if isinstance(cases, list) else [cases]):
        if not isinstance(case, dict) or not {"name", "command"} <= set(case):
            raise OptionError(f"{manifest_path}: case {k + 1} needs at least a 'name' and a 'command'")
    for case in cases:
        if only and case["name"] not in only:
            continue
        res, got = run_case(case, mdir, cards_root, overrides, env)
        results.append(res)
        if update and res.error is None:
            ref_path = mdir / case["reference"]
            ref_path.parent.mkdir(parents=True, exist_ok=True)
            ref_path.write_text(json.dumps({"command": case["command"], "quantities": got}, indent=1, sort_keys=True) + "\n")
    out(format_table(results))
    n_bad = sum(1 for r in results if not r.ok)
    out(f"{len(results) - n_bad} passed, {n_bad} failed" + (" (references updated)" if update else ""))
    if junit:
        write_junit(results, Path(junit))
    if update:
        return 0 if all(r.error is None for r in results) else 1
    return 0 if results and n_bad == 0 else 1


def manifest_from_cases(cases_json: str | os.PathLike) -> dict:
    """A manifest for Combine's recorded suite (tests/reference/cases.json)."""
    data = json.loads(Path(cases_json).read_text())
    cases = []
    for c in data["cases"]:
        cases.append({"name": c["id"], "folder": c["folder"], "setup": c["setup"], "command": c["command"],
                      "reference": f"expected/{c['id']}.json"})
    return {"defaults": {"cards": "cards"}, "case": cases}
