"""The T′ search's luminosity-projection loop, end to end through the console scripts.

    combineCards.py signalregion=... controlregion=... > combined_search.txt
    (append 'lumi_scale rateParam * * 1' and 'nuisance edit freeze lumi_scale')
    for i in 1 10 20 50 100 200 500 1000; do
        combine combined_search.txt -M Significance --expectSignal 1 -t -1 --setParameters lumi_scale=$i -n scale.$i
        combine combined_search.txt -M AsymptoticLimits --run blind --setParameters lumi_scale=$i -n scale.$i
    done

The seed's plotting code reads entry 0 of the Significance files and entry 2 (the median
expected limit) of the AsymptoticLimits files. The lumi = 10 point is compared with the real
Combine's recorded values (cases seed_tprime_lumi10_sig / seed_tprime_lumi10_blind).
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import uproot

from refsuite import env, expected, needs_reference, ref_path

pytestmark = needs_reference
LUMIS = [1, 10, 20, 50, 100, 200, 500, 1000]


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    work = tmp_path_factory.mktemp("tprime")
    shutil.copytree(ref_path("cards", "tprime"), work, dirs_exist_ok=True)
    for cmd in expected("seed_tprime_lumi10_sig")["setup"]:
        subprocess.run(cmd, shell=True, cwd=work, check=True, env=env())
    script = (
        "set -e\nfor i in " + " ".join(map(str, LUMIS)) + "; do\n"
        "  combine combined_search.txt -M Significance --expectSignal 1 -t -1 --setParameters lumi_scale=$i "
        "-n scale.$i > /dev/null\n"
        "  combine combined_search.txt -M AsymptoticLimits --run blind --setParameters lumi_scale=$i "
        "-n scale.$i > /dev/null\n"
        "done\n"
    )
    p = subprocess.run(["bash", "-c", script], cwd=work, capture_output=True, text=True, env=env(), timeout=600)
    assert p.returncode == 0, p.stderr
    return work


def _entry(path, i):
    with uproot.open(path) as f:
        return float(f["limit"]["limit"].array(library="np")[i])


def test_every_file_is_readable_with_the_entries_the_plots_use(loop):
    sig = [_entry(loop / f"higgsCombinescale.{i}.Significance.mH120.root", 0) for i in LUMIS]
    med = [_entry(loop / f"higgsCombinescale.{i}.AsymptoticLimits.mH120.root", 2) for i in LUMIS]
    # more luminosity: larger expected significance, smaller expected limit
    assert np.all(np.diff(sig) > 0) and np.all(np.diff(med) < 0)
    for i in LUMIS:
        with uproot.open(loop / f"higgsCombinescale.{i}.AsymptoticLimits.mH120.root") as f:
            q = f["limit"]["quantileExpected"].array(library="np")
        np.testing.assert_allclose(q, np.float32([0.025, 0.16, 0.5, 0.84, 0.975]))  # blind: no observed row


def test_the_lumi_10_point_matches_combine(loop):
    z = _entry(loop / "higgsCombinescale.10.Significance.mH120.root", 0)
    z_ref = expected("seed_tprime_lumi10_sig")["outputs"]["higgsCombineTest.Significance.mH120.root"]["limit"]["limit"][0]
    assert abs(z - z_ref) <= max(0.02, 0.01 * z_ref)
    rec = expected("seed_tprime_lumi10_blind")["outputs"]["higgsCombineTest.AsymptoticLimits.mH120.root"]["limit"]
    with uproot.open(loop / "higgsCombinescale.10.AsymptoticLimits.mH120.root") as f:
        got = f["limit"]["limit"].array(library="np")
    np.testing.assert_allclose(got, rec["limit"], rtol=0.01)
