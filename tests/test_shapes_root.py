"""The fast TH1 decoder gives exactly what uproot's general reader gives, on every ROOT file of our
examples and of the reference suite."""

from __future__ import annotations

import numpy as np
import pytest
import uproot
from pathlib import Path

from refsuite import params, ref_path

from pycombine.shapes.root import RootSource, _fast_th1, _th1_to_template

EXAMPLES = Path(__file__).resolve().parents[1] / "datacards"
FILES = sorted(EXAMPLES.rglob("*.root")) + params(sorted(ref_path("cards").rglob("*.root")),
                                                  ids=lambda p: str(p.relative_to(ref_path("cards"))))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(EXAMPLES)) if isinstance(p, Path) else None)
def test_fast_decoder_matches_uproot(path):
    fast = total = 0
    with uproot.open(path) as f:
        source = RootSource(str(path))
        for name, cls in f.classnames(recursive=True, cycle=False).items():
            if not cls.startswith("TH1"):
                continue
            got = source.get(name)
            want = _th1_to_template(f[name], "")
            np.testing.assert_array_equal(got.values, want.values)
            np.testing.assert_array_equal(got.errors, want.errors)
            assert got.integral == want.integral or (np.isnan(got.integral) and np.isnan(want.integral))
            if cls in ("TH1F", "TH1D"):
                total += 1
                fast += _fast_th1(f.key(name), ">f4" if cls == "TH1F" else ">f8", "") is not None
    # every TH1F/TH1D of the suite (files of ROOT 5, ROOT 6 and uproot) takes the fast path
    assert fast == total


def test_missing_and_wrong_objects(tmp_path):
    path = tmp_path / "f.root"
    with uproot.recreate(path) as f:
        f["h2"] = (np.ones((2, 2)), np.array([0.0, 1, 2]), np.array([0.0, 1, 2]))
    source = RootSource(str(path))
    assert source.get("nope") is None
    from pycombine.errors import ShapeError

    with pytest.raises(ShapeError, match="one-dimensional"):
        source.get("h2")
