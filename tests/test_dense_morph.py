"""Dense morph blocks (pycombine.model.morph.BlockMorph) on binned channels.

Large models store every sample's morphs as a dense (bins x pairs) block; small cards keep sparse
triplets. Both must describe the same likelihood. Here the block storage is forced onto reference
cards covering each template path -- TH1 shapes renormalised to their integral, shapeN (log
morphs), autoMCStats channels -- and the runs must still match what Combine recorded (the judge's
tolerances); the Gauss-Newton Jacobian of the blocks must match finite differences of the
expected yields.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest
from contract import run_cli
from refsuite import compare, params, prepare, reference_dir

CASES = ["ci_womcstats_asym", "ci_shapeN_mdf", "ci_autoMCStats_mdf", "longex_part2_asym"]
pytestmark = pytest.mark.skipif(reference_dir() is None, reason="the regression suite is not here")


@pytest.fixture
def dense_blocks(monkeypatch):
    """Every sample with shape systematics gets a dense block, whatever the model's size."""
    import pycombine.model.compile as compile_mod

    monkeypatch.setattr(compile_mod, "SPARSE_THRESHOLD", 0)


@pytest.mark.parametrize("case_id", params(CASES, ids=str))
def test_dense_blocks_reproduce_combine(case_id, tmp_path: Path, dense_blocks):
    exp = prepare(case_id, tmp_path)
    argv = shlex.split(exp["command"])
    assert argv[0] == "combine"
    out = run_cli(argv[1:], tmp_path)
    assert out.code == 0, out.stderr
    assert compare(exp, tmp_path) == []


@pytest.mark.parametrize("card, mass", [("template-analysis_shapeInterp_womcstats.txt", 200),
                                        ("template-analysis_shapeNInterp.txt", 200),
                                        ("template-analysis_shapeInterp.txt", 200)])
def test_block_jacobian_matches_finite_differences(card, mass, tmp_path: Path, dense_blocks):
    import pycombine
    from pycombine.model.hessian import bin_jacobian
    from pycombine.model.likelihood import Dataset, Likelihood
    from pycombine.model.morph import BlockMorph

    prepare("ci_womcstats_asym", tmp_path)  # the ci folder holds all three cards
    model = pycombine.load_datacard(tmp_path / card, mass=mass)
    m = model.compiled
    assert isinstance(m.morph_diff, BlockMorph) and m.morph_diff.blocks
    lik = Likelihood(m, Dataset(np.nan_to_num(m.data), m.glob0.copy()), analytic_bb=False)
    rng = np.random.default_rng(5)
    theta = m.init.copy()
    shapes = np.unique(m.pair_k)
    theta[shapes] = rng.uniform(-1.5, 1.5, shapes.size)  # inside and outside |alpha| < 1
    J, _ = bin_jacobian(lik, theta)
    eps = 1e-6
    for k in shapes:
        up, down = theta.copy(), theta.copy()
        up[k] += eps
        down[k] -= eps
        fd = (lik.expected(up) - lik.expected(down)) / (2 * eps)
        np.testing.assert_allclose(J[:, k], fd, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(fd).max()))
