"""Helpers to run reference cases (recorded from the real Combine) through our console scripts.

The comparison rules are those of ``tests/reference/check.py`` (the judge the project is
measured by), restated here so pytest can report each case separately. Expected values always
come from ``tests/reference/expected/<id>.json`` (or ``$PYCOMBINE_REFERENCE``), never from our
own previous output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

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
TOL = {
    "limit_rel": 0.01,
    "sig_abs": 0.02,
    "sig_rel": 0.01,
    "poi_abs_frac_err": 0.03,
    "err_rel": 0.05,
    "dnll_abs": 0.02,
    "dnll_rel": 0.02,
    "shape_rel": 0.02,
}


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


def within(a: float, b: float, rel: float, abs_: float = 0.0) -> bool:
    return abs(a - b) <= max(rel * abs(b), abs_)


def read_tree(path: Path, name: str):
    import uproot

    with uproot.open(path) as f:
        if name not in [k.split(";")[0] for k in f.keys()]:
            return None
        return {k: np.asarray(v) for k, v in f[name].arrays(library="np").items()}


def compare(exp: dict, workdir: Path) -> list[str]:
    """Differences between our outputs in ``workdir`` and the recorded ones (empty = pass)."""
    import uproot

    msgs: list[str] = []
    method = re.search(r"-M\s+(\w+)", exp["command"]).group(1)
    for fname, rec in exp.get("outputs", {}).items():
        path = workdir / fname
        if not path.exists():
            return [f"missing output file {fname}"]
        if "limit" in rec:
            got = read_tree(path, "limit")
            if got is None:
                return [f"{fname}: no limit tree"]
            missing = set(rec["limit"]) - set(got)
            if missing:
                msgs.append(f"limit tree lacks branches {sorted(missing)}")
            el, eq = np.array(rec["limit"]["limit"]), np.array(rec["limit"]["quantileExpected"])
            gl = np.asarray(got.get("limit", []))
            gq = np.asarray(got.get("quantileExpected", []))
            if method == "MultiDimFit" and "deltaNLL" in rec["limit"]:
                pois = [k for k in rec["limit"] if k not in ("limit", "limitErr", "mh", "syst", "iToy", "iSeed",
                        "iChannel", "t_cpu", "t_real", "quantileExpected", "deltaNLL")
                        and not k.startswith("trackedParam")]
                if len(gl) != len(el):
                    msgs.append(f"{len(gl)} limit rows, expected {len(el)}")
                    continue
                for p in pois:
                    if p not in got:
                        continue
                    e, g = np.array(rec["limit"][p]), got[p]
                    span = max(abs(e.max() - e.min()), 1e-3)
                    if "grid" in exp["command"]:
                        if np.any(np.abs(g[1:] - e[1:]) > 1e-4 * span):
                            msgs.append(f"grid points of {p} differ from Combine's")
                            break
                        ed, gd = np.array(rec["limit"]["deltaNLL"]), got["deltaNLL"]
                        for i in range(1, len(e)):
                            if not within(gd[i], ed[i], TOL["dnll_rel"], TOL["dnll_abs"]):
                                msgs.append(f"deltaNLL[{i}] {gd[i]:.4f} vs {ed[i]:.4f}")
                                break
                    else:
                        for i in range(len(e)):
                            if abs(g[i] - e[i]) > 0.03 * span + 1e-3:
                                msgs.append(f"{p}[{i}] {g[i]:.5g} vs {e[i]:.5g}")
                continue
            for q, val in zip(eq, el):
                sel = np.isclose(gq, q, atol=1e-4)
                if not sel.any():
                    msgs.append(f"no row with quantileExpected={q:.3f}")
                    continue
                g = float(gl[sel][0])
                if method == "Significance":
                    good = within(g, val, TOL["sig_rel"], TOL["sig_abs"])
                elif method == "AsymptoticLimits":
                    good = within(g, val, TOL["limit_rel"], 1e-4)
                else:
                    good = within(g, val, 0.01, 0.01)
                if not good:
                    msgs.append(f"q={q:.3f}: {g:.5g} vs {val:.5g}")
        for tn in ("tree_fit_sb", "tree_fit_b"):
            if tn not in rec:
                continue
            got = read_tree(path, tn)
            if got is None:
                msgs.append(f"{fname}: no {tn}")
                continue
            e = rec[tn]
            if tn == "tree_fit_sb" and "r" in e:
                er, elo, ehi = e["r"][0], e.get("rLoErr", [0])[0], e.get("rHiErr", [0])[0]
                gr = float(got["r"][0]) if "r" in got else float("nan")
                sig = max(elo, ehi, 1e-3)
                if not abs(gr - er) <= TOL["poi_abs_frac_err"] * sig + 1e-3:
                    msgs.append(f"fit_s r {gr:.5g} vs {er:.5g}")
                for k, ev in (("rLoErr", elo), ("rHiErr", ehi)):
                    if k in got and not within(float(got[k][0]), ev, TOL["err_rel"], 2e-3):
                        msgs.append(f"{k} {float(got[k][0]):.5g} vs {ev:.5g}")
        for d in ("shapes_prefit", "shapes_fit_s", "shapes_fit_b"):
            if d not in rec:
                continue
            with uproot.open(path) as f:
                for k, v in rec[d].items():
                    if not k.endswith("total_background") and not k.endswith("total_signal"):
                        continue
                    try:
                        gv = f[d][k].values()
                    except Exception:
                        msgs.append(f"missing {d}/{k}")
                        break
                    ev = np.array(v["values"])
                    if gv.shape != ev.shape or not np.allclose(gv, ev, rtol=TOL["shape_rel"], atol=1e-3 * max(ev.max(), 1)):
                        msgs.append(f"{d}/{k} differs")
                        break
    return msgs


def compare_card(exp_text: str, got_text: str) -> bool:
    def norm(text):
        rows = [l.split() for l in text.splitlines() if l.strip() and not set(l.strip()) <= {"-"}]
        return [r for r in rows if not r[0].startswith("#") and r[0] != "Combination"]

    return norm(exp_text) == norm(got_text)
