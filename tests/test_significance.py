"""Significance: hand-derived profile-likelihood significances, console block, and reference cases."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest
from refsuite import case_params, compare, env, read_tree, run_case
from scipy.optimize import brentq, minimize_scalar

CARD = """imax 1
jmax 1
kmax {k}
------------
bin         b1
observation {n}
------------
bin         b1    b1
process     sig   bkg
process     0     1
rate        3     5
------------
{syst}
"""


def write_card(tmp_path: Path, n: int, syst: str = "") -> str:
    (tmp_path / "card.txt").write_text(CARD.format(n=n, k=1 if syst else 0, syst=syst))
    return "card.txt"


def combine(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["combine", "-M", "Significance", *args], cwd=tmp_path, capture_output=True, text=True,
                          env=env(), timeout=120)


def block(stdout: str) -> list[str]:
    return stdout[stdout.index("\n -- Significance -- "):].split("\n")


def nll(r: float, n: float, t: float = 0.0, kappa: float = 1.3) -> float:
    mu = 3.0 * r + 5.0 * kappa**t
    return mu - n * math.log(mu) + 0.5 * t * t


def profile(r: float, n: float) -> float:
    """NLL of s = 3, b = 5 with an lnN 1.3 on b, minimised over its nuisance t."""
    lk = math.log(1.3)

    def d(t):
        e = 5.0 * math.exp(lk * t)
        return e * lk * (1.0 - n / (3.0 * r + e)) + t

    return nll(r, n, brentq(d, -7.0, 7.0, xtol=1e-14))


def test_counting_without_systematics(tmp_path):
    # q = NLL(0) - NLL(5/3) = 10 ln 2 - 5, Z = sqrt(2q) = 1.9654373; Combine prints 1.96543 (its
    # Migrad minimum is a few 1e-6 above the exact one)
    z = math.sqrt(2.0 * (10.0 * math.log(2.0) - 5.0))
    p = combine(tmp_path, write_card(tmp_path, 10))
    assert p.returncode == 0, p.stderr
    lines = block(p.stdout)
    assert lines[:2] == ["", " -- Significance -- "] and lines[3:] == [""]
    assert lines[2].startswith("Significance: ")
    assert float(lines[2].split()[1]) == pytest.approx(z, abs=2e-5)
    t = read_tree(tmp_path / "higgsCombineTest.Significance.mH120.root", "limit")
    assert t["limit"][0] == pytest.approx(z, abs=1e-4)
    assert list(t["quantileExpected"]) == [-1.0] and list(t["limitErr"]) == [0.0] and list(t["iToy"]) == [0]


def test_counting_with_lnn(tmp_path):
    best = minimize_scalar(lambda r: profile(r, 12), bounds=(0.0, 20.0), method="bounded",
                           options={"xatol": 1e-10})
    z = math.sqrt(2.0 * (profile(0.0, 12) - best.fun))
    assert z == pytest.approx(2.1401, abs=1e-4)  # Combine v10.6.0 prints 2.1401
    p = combine(tmp_path, write_card(tmp_path, 12, "bunc lnN - 1.3"), "-v", "1")
    assert p.returncode == 0, p.stderr
    lines = block(p.stdout)
    assert lines[2].startswith("Significance: ")
    assert float(lines[2].split()[1]) == pytest.approx(z, abs=1e-3)
    assert lines[3].startswith("       (p-value = ")
    assert float(lines[3].split("= ")[1].rstrip(")")) == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)), rel=1e-3)


def test_pvalue_and_asimov(tmp_path):
    card = write_card(tmp_path, 10)
    p = combine(tmp_path, card, "-t", "-1", "--expectSignal", "1", "--pvalue", "-v", "1", "-n", "Exp")
    assert p.returncode == 0, p.stderr
    # Asimov n = 8: q = NLL(0) - NLL(1)
    z = math.sqrt(2.0 * (nll(0.0, 8.0) - nll(1.0, 8.0)))
    pval = 0.5 * math.erfc(z / math.sqrt(2))
    lines = block(p.stdout)
    assert lines[2].startswith("p-value of background: ")
    assert float(lines[2].split(": ")[1]) == pytest.approx(pval, rel=1e-4)
    assert lines[3].startswith("       (Significance = ")
    t = read_tree(tmp_path / "higgsCombineExp.Significance.mH120.root", "limit")
    assert list(t["iToy"]) == [-1]
    assert t["limit"][0] == pytest.approx(pval, rel=1e-4)


def test_capped_and_uncapped_deficit(tmp_path):
    card = write_card(tmp_path, 2)
    p = combine(tmp_path, card)
    assert p.returncode == 0, p.stderr
    assert block(p.stdout)[2] == "Significance: 0"
    # uncapped with r allowed down to -1 (mu = 2 = n at r = -1): Z = -sqrt(2 (NLL(0) - NLL(-1)))
    p = combine(tmp_path, card, "--uncapped", "1", "--rMin", "-1", "-n", "Unc")
    assert p.returncode == 0, p.stderr
    z = -math.sqrt(2.0 * (nll(0.0, 2.0) - nll(-1.0, 2.0)))
    assert float(block(p.stdout)[2].split()[1]) == pytest.approx(z, abs=1e-3)


@pytest.mark.parametrize("case_id", case_params("Significance"))
def test_reference_case(case_id, tmp_path):
    exp, proc = run_case(case_id, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert compare(exp, tmp_path) == []
    assert [line.split(":")[0] for line in block(proc.stdout)] == \
        [line.split(":")[0] for line in block(exp["stdout"])]
