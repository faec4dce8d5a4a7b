"""The batched model and fitter against the one-point engine and closed forms.

* :class:`pycombine.model.batch.BatchModel` gives, point by point, the NLL and the per-entry
  yields that :class:`pycombine.model.likelihood.Likelihood` gives, on every model of the
  regression suite and on our bundled examples (random points, Poisson-varied data);
* :func:`pycombine.fit.batch.minimize_batch` finds the closed-form minimum of a counting
  experiment, and on toys of a shape model a minimum at least as low as the Minuit-based
  :class:`~pycombine.fit.minimize.Fitter`'s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from refsuite import params
from test_gradient import MODELS, _build, _random_point

from pycombine.datacard import parse_datacard_text
from pycombine.fit.batch import minimize_batch
from pycombine.fit.minimize import Fitter, MinimizerOptions, ParameterState
from pycombine.fit.toys import make_toy
from pycombine.model.batch import BatchModel
from pycombine.model.build import BuildOptions, build_model
from pycombine.model.compile import CompiledModel
from pycombine.model.likelihood import Dataset, Likelihood

EXAMPLES = Path(__file__).resolve().parents[1] / "datacards"


def _compare_nll(spec, model, data, rng) -> None:
    bm = BatchModel(model)
    theta = np.array([model.init.copy()] + [_random_point(spec, model, rng) for _ in range(5)])
    n = theta.shape[0]
    base = np.nan_to_num(data.counts)
    counts = np.where(np.isnan(data.counts), data.counts, rng.poisson(np.maximum(base, 0.5), size=(n, model.B)))
    glob = np.tile(data.glob, (n, 1))
    for analytic in (True, False):
        if not analytic and model.bb_par.size:
            theta[:, model.bb_par] = rng.uniform(-1.5, 1.5, size=(n, model.bb_par.size))
        got = bm.nll(theta, counts, glob, analytic_bb=analytic)
        for i in range(n):
            want = Likelihood(model, Dataset(counts[i], glob[i]), analytic_bb=analytic).nll(theta[i])
            assert got[i] == pytest.approx(want, rel=1e-12, abs=1e-9), (i, analytic)


def _compare_entry_yields(spec, model, data, rng) -> None:
    """FitDiagnostics' sampled yields: the batch rows are process_yields with explicit BB-lite values."""
    theta = np.array([model.init.copy()] + [_random_point(spec, model, rng) for _ in range(5)])
    if model.bb_par.size:
        theta[1:, model.bb_par] = rng.uniform(-1.5, 1.5, size=(theta.shape[0] - 1, model.bb_par.size))
    got = BatchModel(model).entry_yields(theta)
    lik = Likelihood(model, data, analytic_bb=False)
    for i, point in enumerate(theta):
        np.testing.assert_allclose(got[i], lik.process_yields(point), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("entry", params(MODELS, ids=lambda e: f"{e['folder']}/{e['card']}"))
def test_batch_nll_equals_the_likelihood_on_reference_models(entry, tmp_path):
    spec, model, data = _build(entry, tmp_path)
    _compare_nll(spec, model, data, np.random.default_rng(11))
    _compare_entry_yields(spec, model, data, np.random.default_rng(12))


@pytest.mark.parametrize("card", ["shapes/dijet_resonance.txt", "counting/monojet_counting.txt",
                                  "tprime/combined_search.txt", "h4l/h4l_datacard.txt"])
def test_batch_nll_equals_the_likelihood_on_our_examples(card, monkeypatch):
    path = EXAMPLES / card
    monkeypatch.chdir(path.parent)
    spec = build_model(parse_datacard_text(path.read_text(), path=str(path)), BuildOptions(warn=lambda m: None))
    model = CompiledModel(spec)
    data = Dataset(model.data.copy(), model.glob0.copy())
    _compare_nll(spec, model, data, np.random.default_rng(3))
    _compare_entry_yields(spec, model, data, np.random.default_rng(4))


COUNTING = """imax 1
jmax 1
kmax 0
bin b
observation 10
bin b b
process s bkg
process 0 1
rate 4 5
"""


def test_batch_fit_finds_the_closed_form_minimum():
    """One bin, no systematics: r_hat = (n - b) / s on [0, 20], NLL = nu - n - n ln(nu / n) (nu - n ln nu
    up to a constant of the data, in the form that keeps its digits with large yields)."""
    spec = build_model(parse_datacard_text(COUNTING))
    model = CompiledModel(spec)
    n = np.array([0.0, 3.0, 5.0, 10.0, 25.0, 200.0])
    counts = n[:, None]
    glob = np.tile(model.glob0, (n.size, 1))
    start = np.tile(model.init, (n.size, 1))
    res = minimize_batch(BatchModel(model), counts, glob, start, model.lo, model.hi, np.ones(model.P, bool))
    r_hat = np.clip((n - 5.0) / 4.0, 0.0, 20.0)
    assert res.converged.all()
    assert res.values[:, 0] == pytest.approx(r_hat, abs=1e-6)
    nu = 4.0 * r_hat + 5.0
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.where(n > 0, nu - n - n * np.log(nu / np.where(n > 0, n, 1.0)), nu)
    assert res.nll == pytest.approx(want, abs=1e-10)


def test_batch_fit_is_at_least_as_good_as_minuit_on_toys(monkeypatch):
    path = EXAMPLES / "shapes" / "dijet_resonance.txt"
    monkeypatch.chdir(path.parent)
    spec = build_model(parse_datacard_text(path.read_text(), path=str(path)), BuildOptions(warn=lambda m: None))
    model = CompiledModel(spec)
    state = ParameterState.initial(model)
    floating = ~state.frozen
    toys = [make_toy(model, state.values, model.glob0, floating, 5, i, frequentist=True) for i in range(1, 21)]
    counts = np.array([t.counts for t in toys])
    glob = np.array([t.glob for t in toys])
    res = minimize_batch(BatchModel(model), counts, glob, np.tile(state.values, (len(toys), 1)),
                         model.lo, model.hi, floating)
    assert res.converged.all()
    for i, t in enumerate(toys):
        minuit = Fitter(model, t, MinimizerOptions(strategy=1, tolerance=0.1)).minimize(state, {})
        assert res.nll[i] <= minuit.nll + 1e-6, i
        assert res.nll[i] == pytest.approx(minuit.nll, abs=2e-3)  # Minuit stops within its EDM
