"""The batched NLL gradient (pycombine/model/batch_gradient.py) against Likelihood.evaluate.

Row by row it must be the one-point gradient (to rounding) on every model of the regression suite
and on our bundled examples: at the nominal point and random points, with Barlow-Beeston-lite
parameters profiled in closed form, pinned, or explicit, and where the likelihood is undefined.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from refsuite import params
from test_gradient import MODELS, _build, _random_point

from pycombine.datacard import parse_datacard_text
from pycombine.model.batch_gradient import BatchGradient, supports
from pycombine.model.build import BuildOptions, build_model
from pycombine.model.compile import CompiledModel
from pycombine.model.likelihood import Dataset, Likelihood

EXAMPLES = Path(__file__).resolve().parents[1] / "datacards"


def _compare(spec, model, data, rng) -> None:
    if not supports(model):  # per-event channels, formulas, layered modifiers, large: refused
        with pytest.raises(ValueError, match="not for this model"):
            BatchGradient(Likelihood(model, data))
        assert model.any_unbinned or model.formulas or model.pp_layers or model.E * model.B > 2_000_000
        return
    theta = np.array([model.init.copy()] + [_random_point(spec, model, rng) for _ in range(6)])
    for analytic in (True, False):
        lik = Likelihood(model, data, analytic_bb=analytic)
        pts = theta.copy()
        if not analytic and model.bb_par.size:
            pts[1:, model.bb_par] = rng.uniform(-1.5, 1.5, size=(pts.shape[0] - 1, model.bb_par.size))
        pinned = [(), model.bb_par[::2].tolist()] if analytic and model.bb_par.size else [()]
        for pin in pinned:
            lik.pin(pin)
            got = BatchGradient(lik).gradient(pts)
            for i, x in enumerate(pts):
                want = lik.evaluate(x, grad=True)[1]
                scale = max(1.0, float(np.max(np.abs(want))))
                np.testing.assert_allclose(got[i], want, rtol=1e-9, atol=1e-11 * scale, err_msg=f"row {i} analytic={analytic} pinned={bool(pin)}")


@pytest.mark.parametrize("entry", params(MODELS, ids=lambda e: f"{e['folder']}/{e['card']}"))
def test_batch_gradient_equals_evaluate_on_reference_models(entry, tmp_path):
    spec, model, data = _build(entry, tmp_path)
    _compare(spec, model, data, np.random.default_rng(5))


@pytest.mark.parametrize("card", ["shapes/dijet_resonance.txt", "counting/monojet_counting.txt",
                                  "tprime/combined_search.txt", "h4l/h4l_datacard.txt", "hww/combined_datacard.txt"])
def test_batch_gradient_equals_evaluate_on_our_examples(card, monkeypatch):
    path = EXAMPLES / card
    monkeypatch.chdir(path.parent)
    spec = build_model(parse_datacard_text(path.read_text(), path=str(path)), BuildOptions(warn=lambda m: None))
    model = CompiledModel(spec)
    _compare(spec, model, Dataset(model.data.copy(), model.glob0.copy()), np.random.default_rng(6))


COUNTING = """imax 1
jmax 1
kmax 2
bin b
observation 10
bin b b
process s bkg
process 0 1
rate 4 5
lumi lnN 1.1 1.1
side gmN 20 - 0.25
"""


def test_undefined_points_follow_the_likelihood():
    """No expectation where there are data, or a gmN yield parameter below zero: the NLL is not
    defined and the one-point gradient is zero there; the batch gives the same rows."""
    spec = build_model(parse_datacard_text(COUNTING, path="c.txt"), BuildOptions(warn=lambda m: None))
    model = CompiledModel(spec)
    lik = Likelihood(model, Dataset(model.data.copy(), model.glob0.copy()))
    x = model.init.copy()
    r = model.names.index("r")
    pts = np.array([x, x, x])
    pts[1, r] = -10.0  # s + b < 0 with data in the bin
    side = model.names.index("side")
    pts[2, side] = -1.0
    got = BatchGradient(lik).gradient(pts)
    for i in range(3):
        np.testing.assert_allclose(got[i], lik.evaluate(pts[i])[1], rtol=1e-12, atol=1e-14)
    assert not got[1].any() and np.all(np.isfinite(got))


def test_shifted_gradients_in_blocks_and_one_by_one(monkeypatch):
    """The Hessian columns: blocks of any size, or the per-point fallback, give evaluate's rows."""
    from pycombine.model import batch_gradient

    path = EXAMPLES / "hww/combined_datacard.txt"
    monkeypatch.chdir(path.parent)
    spec = build_model(parse_datacard_text(path.read_text(), path=str(path)), BuildOptions(warn=lambda m: None))
    model = CompiledModel(spec)
    x = model.init.copy()
    free = np.nonzero(~(model.frozen | model.analytic))[0]
    values = x[free] + 1e-3
    cols = free[::2]
    want = []
    lik = Likelihood(model, Dataset(model.data.copy(), model.glob0.copy()))
    for i, v in zip(free, values):
        xi = x.copy()
        xi[i] = v
        want.append(lik.evaluate(xi)[1][cols])
    monkeypatch.setattr(batch_gradient, "BLOCK_VALUES", 3 * max(model.E, model.M, model.P))  # blocks of 3 rows
    got = batch_gradient.shifted_gradients(lik, x, free, values, cols)
    np.testing.assert_allclose(got, np.array(want), rtol=1e-9, atol=1e-12)
    monkeypatch.setattr(batch_gradient, "supports", lambda m: False)
    fresh = Likelihood(model, Dataset(model.data.copy(), model.glob0.copy()))
    np.testing.assert_array_equal(batch_gradient.shifted_gradients(fresh, x, free, values, cols), np.array(want))
