"""Helpers to run reference cases (recorded from the real Combine) through our console scripts.

The comparison rules are the functions of ``check.py`` in the reference suite (the judge the
project is measured by), loaded from there so that pytest reports each case separately with
exactly the judge's tolerances. Expected values always
come from ``tests/reference/expected/<id>.json`` (or ``$PYCOMBINE_REFERENCE``), never from our
own previous output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def reference_dir() -> Path:
    env = os.environ.get("PYCOMBINE_REFERENCE")
    if env:
        return Path(env)
    local = HERE / "reference"
    if local.exists():
        return local
    return REPO.parent / "shared" / "reference"


REF = reference_dir()
CASES = json.loads((REF / "cases.json").read_text())


def _load_judge():
    """The reference suite's check.py as a module (it is a script, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("pycombine_reference_judge", REF / "check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


JUDGE = _load_judge()


def expected(case_id: str) -> dict:
    return json.loads((REF / "expected" / f"{case_id}.json").read_text())


def case_ids(method: str | None = None) -> list[str]:
    out = []
    for c in CASES["cases"]:
        if method is None or c["method"] == method:
            out.append(c["id"])
    return out


def bin_dir() -> str:
    """Directory of the console scripts of the Python running the tests."""
    return str(Path(sys.executable).parent)


def env() -> dict:
    e = dict(os.environ)
    e["PATH"] = bin_dir() + os.pathsep + e.get("PATH", "")
    return e


def prepare(case_id: str, workdir: Path) -> dict:
    """Copy the case's inputs into ``workdir`` and run its setup commands; returns the record."""
    exp = expected(case_id)
    shutil.copytree(REF / "cards" / exp["folder"], workdir, dirs_exist_ok=True)
    for cmd in exp["setup"]:
        p = subprocess.run(cmd, shell=True, cwd=workdir, capture_output=True, text=True, env=env(), timeout=300)
        assert p.returncode == 0, f"setup failed: {cmd}\n{p.stderr}"
    return exp


def run_case(case_id: str, workdir: Path) -> tuple[dict, subprocess.CompletedProcess]:
    exp = prepare(case_id, workdir)
    p = subprocess.run(exp["command"], shell=True, cwd=workdir, capture_output=True, text=True, env=env(), timeout=900)
    return exp, p


def read_tree(path: Path, name: str):
    """The tree ``name`` of a ROOT file as numpy arrays (None if absent), as the judge reads it."""
    return JUDGE.read_tree(str(path), name)


def compare(exp: dict, workdir: Path) -> list[str]:
    """Differences between our outputs in ``workdir`` and the recorded ones (empty = pass)."""
    ok, msgs = JUDGE.compare_case(exp, str(workdir))
    return [] if ok else (msgs or ["the judge rejected the case"])


def compare_card(exp_text: str, got_text: str) -> bool:
    return JUDGE.compare_card(exp_text, got_text)
