"""`pycombine regress`: a drift table, JUnit XML, non-zero exit on drift, --update."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from refsuite import REF, env, needs_reference

pytestmark = needs_reference
CASES = ["count_simple_asym", "count_realistic_sig_obs", "count_realistic_fitdiag"]


def _regress(args, cwd):
    return subprocess.run(["pycombine", "regress", *args], cwd=cwd, capture_output=True, text=True, env=env(),
                          timeout=600)


@pytest.fixture()
def suite(tmp_path) -> Path:
    """A copy of the reference suite's manifest pieces for a few counting cases."""
    (tmp_path / "expected").mkdir()
    for cid in CASES:
        shutil.copy(REF / "expected" / f"{cid}.json", tmp_path / "expected")
    cases = [c for c in json.loads((REF / "cases.json").read_text())["cases"] if c["id"] in CASES]
    manifest = {"defaults": {"cards": str(REF / "cards")},
                "case": [{"name": c["id"], "folder": c["folder"], "setup": c["setup"], "command": c["command"],
                          "reference": f"expected/{c['id']}.json"} for c in cases]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def test_passes_on_the_unmodified_reference_and_writes_junit(suite):
    p = _regress(["manifest.json", "--junit", "report.xml"], suite)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip().splitlines()[-1] == f"{len(CASES)} passed, 0 failed"
    assert "limit[q=0.500]" in p.stdout and "fit_sb.r" in p.stdout
    root = ET.parse(suite / "report.xml").getroot()
    assert root.tag == "testsuite" and root.get("tests") == str(len(CASES)) and root.get("failures") == "0"


def test_catches_an_injected_two_percent_drift_in_a_limit(suite):
    path = suite / "expected" / "count_simple_asym.json"
    rec = json.loads(path.read_text())
    limits = rec["outputs"]["higgsCombineTest.AsymptoticLimits.mH120.root"]["limit"]["limit"]
    limits[2] *= 1.02  # the median expected limit drifts by 2 %
    path.write_text(json.dumps(rec))
    p = _regress(["manifest.json", "--junit", "report.xml"], suite)
    assert p.returncode == 1
    drift = [line for line in p.stdout.splitlines() if "DRIFT" in line]
    assert len(drift) == 1 and "count_simple_asym" in drift[0] and "limit[q=0.500]" in drift[0]
    assert "-1.96%" in drift[0]  # ours vs the drifted reference
    root = ET.parse(suite / "report.xml").getroot()
    assert root.get("failures") == "1"
    failed = [tc for tc in root.iter("testcase") if tc.find("failure") is not None]
    assert [tc.get("name") for tc in failed] == ["count_simple_asym"]


def test_update_rewrites_the_references(suite):
    path = suite / "expected" / "count_simple_asym.json"
    rec = json.loads(path.read_text())
    rec["outputs"]["higgsCombineTest.AsymptoticLimits.mH120.root"]["limit"]["limit"][2] *= 1.05
    path.write_text(json.dumps(rec))
    assert _regress(["manifest.json"], suite).returncode == 1
    p = _regress(["manifest.json", "--update"], suite)
    assert p.returncode == 0, p.stdout + p.stderr
    updated = json.loads(path.read_text())
    assert "quantities" in updated and "limit[q=0.500]" in updated["quantities"]
    assert _regress(["manifest.json"], suite).returncode == 0


def test_toml_manifest_and_tolerance_override(tmp_path):
    ref = tmp_path / "ref.json"
    ref.write_text(json.dumps({"quantities": {"limit[q=-1.000]": 0.52 * 1.003}}))  # 0.3 % off
    (tmp_path / "m.toml").write_text(
        f'[defaults]\ncards = "{REF / "cards"}"\n'
        '[tolerances]\n"limit" = { rel = 0.001, abs = 0.0 }\n'
        '[[case]]\nname = "c"\nfolder = "counting"\nsetup = []\n'
        'command = "combine -M AsymptoticLimits simple-counting-experiment.txt --run observed"\n'
        'reference = "ref.json"\n'
    )
    p = _regress(["m.toml"], tmp_path)
    assert p.returncode == 1 and "DRIFT" in p.stdout  # 0.3 % > the 0.1 % asked for


def test_the_whole_shared_suite_manifest_builds(tmp_path):
    """`pycombine regress cases.json` turns Combine's recorded suite into a manifest (one case run)."""
    p = _regress([str(REF / "cases.json"), "--case", "bench_statonly_asym"], tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip().splitlines()[-1] == "1 passed, 0 failed"
