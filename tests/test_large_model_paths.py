"""The memory and warm-start paths of large models, checked on our bundled dijet card.

* shape templates of the model description are float32 (lossless: the contents are float32-rounded)
  and, once released, the description refuses to compile instead of giving wrong numbers;
* the vectorised autoMCStats effective counts equal the per-bin rule;
* AsymptoticLimits' profile fits start on the line through the two previous minima, and reach the
  same minimum as from the previous minimum itself;
* returning freed heap pages is harmless (and skipped for small models).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

CARD = Path(__file__).resolve().parents[1] / "datacards" / "shapes" / "dijet_resonance.txt"


@pytest.fixture(scope="module")
def dijet():
    import pycombine

    return pycombine.load_datacard(CARD)


def _shape_effects(spec):
    return [e for ch in spec.channels for p in ch.processes for e in p.shapes]


def test_shape_templates_are_lossless_float32(dijet):
    effects = _shape_effects(dijet.spec)
    assert effects, "the dijet card has shape systematics"
    for e in effects:
        assert e.up.dtype == np.float32 and e.down.dtype == np.float32
        assert np.all(np.isfinite(e.up)) and np.all(np.isfinite(e.down))


def test_released_templates_refuse_to_compile():
    import pycombine
    from pycombine.model.compile import CompiledModel

    spec = pycombine.load_datacard(CARD).spec
    before = CompiledModel(spec)
    spec.release_shape_templates()
    assert all(e.up is None and e.down is None for e in _shape_effects(spec))
    with pytest.raises(ValueError, match="released"):
        CompiledModel(spec)
    assert before.M > 0  # the model compiled before the release keeps its morphs


def test_effective_counts_equal_the_per_bin_rule():
    """floor(0.5 + v^2 / e^2) worked out in Python floats, inf where it is not finite; the
    one-value form gives the same."""
    from pycombine.model.build_binstats import _effective_count, _effective_counts

    values = [10.0, 3.2, 0.0, 1e200, 5.0, 7.0, math.nan, -2.0]
    errors = [1.0, 0.7, 0.3, 1e-200, 0.0, 2.5, 1.0, 1.5]
    got = _effective_counts(np.array(values), np.array(errors)).tolist()
    for g, v, e in zip(got, values, errors):
        try:
            x = 0.5 + v * v / (e * e)
        except (ZeroDivisionError, OverflowError):
            x = math.inf
        want = math.floor(x) if math.isfinite(x) else math.inf
        assert g == want, (v, e)
        assert _effective_count(v, e) == want, (v, e)
    assert got[0] == 100.0 and got[1] == 21.0  # by hand: 0.5 + 100 and 0.5 + 10.24 / 0.49


def test_profile_fits_start_on_the_line_through_the_previous_minima():
    from pycombine.methods.asymptotic_limits import ModelNLL
    from pycombine.run.session import Session

    session = Session.from_card(str(CARD), "AsymptoticLimits", out=lambda _m: None)
    data, _ = session.main_dataset()
    nll = ModelNLL(session, data, session.state)
    start = session.state.values.copy()
    f1 = nll.profile(start, 0.5)
    f2 = nll.profile(f1.state, 1.0)
    free = nll._free
    predicted = nll._predicted_start(f2.state, 1.5)
    line = f2.state[free] + (1.5 - 1.0) / (1.0 - 0.5) * (f2.state[free] - f1.state[free])
    np.testing.assert_allclose(predicted[free], np.clip(line, nll._lo, nll._hi), rtol=0, atol=0)
    # beyond twice the last step, or from another state, the start is left alone
    np.testing.assert_array_equal(nll._predicted_start(f2.state, 2.5), f2.state)
    np.testing.assert_array_equal(nll._predicted_start(f2.state.copy(), 1.5), f2.state)
    # the minimum reached from the prediction is the one reached from the previous minimum
    from_prediction = nll.profile(f2.state, 1.5)
    plain = ModelNLL(session, data, session.state)
    from_previous = plain.profile(f2.state, 1.5)
    assert from_prediction.nll == pytest.approx(from_previous.nll, abs=1e-5)


def test_release_free_memory_is_harmless():
    from pycombine.run.memory import LARGE_MODEL_VALUES, release_free_memory

    release_free_memory(0)  # small models: skipped
    release_free_memory(LARGE_MODEL_VALUES)  # glibc: malloc_trim; elsewhere a no-op
    assert np.ones(3).sum() == 3.0  # the allocator still works after the trim
