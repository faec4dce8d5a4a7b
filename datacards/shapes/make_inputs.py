"""Write ``dijet_resonance_input.root``, the templates of pycombine's own shape example.

A synthetic dijet resonance search: a Gaussian Z' peak at 2 TeV over a falling QCD spectrum and
a small top background, in 20 bins of m_jj (1-3 TeV), with a jet-energy-scale shape systematic on
the signal and the top background, a slope systematic on QCD, MC statistical errors for
autoMCStats, and pseudo-data drawn once (fixed seed) from background + 0.5 x signal.

    python datacards/shapes/make_inputs.py      # rewrites the file next to this script
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import uproot
from uproot.writing import identify

EDGES = np.linspace(1000.0, 3000.0, 21)
CENTRES = 0.5 * (EDGES[1:] + EDGES[:-1])


def peak(mass: float, width: float, total: float) -> np.ndarray:
    from math import erf, sqrt

    cdf = np.array([0.5 * (1 + erf((e - mass) / (sqrt(2) * width))) for e in EDGES])
    return total * np.diff(cdf)


def falling(total: float, slope: float) -> np.ndarray:
    shape = np.exp(-slope * (CENTRES - 1000.0) / 1000.0)
    return total * shape / shape.sum()


def th1(name: str, values: np.ndarray, mc_events: float | None = None):
    """A TH1D with sqrt(N)-like MC errors from an equivalent number of MC events."""
    values = np.asarray(values, dtype=float)
    if mc_events is None:
        sumw2 = values.copy()  # data: Poisson errors
    else:
        w = values.sum() / mc_events  # constant event weight
        sumw2 = values * w
    contents = np.concatenate([[0.0], values, [0.0]])
    sumw2 = np.concatenate([[0.0], sumw2, [0.0]])
    axis = identify.to_TAxis("xaxis", "", len(values), EDGES[0], EDGES[-1], EDGES)
    return identify.to_TH1x(name, name, contents, values.sum(), values.sum(), sumw2.sum(),
                            float((values * CENTRES).sum()), float((values * CENTRES**2).sum()), sumw2, axis)


def main() -> None:
    signal = peak(2000.0, 120.0, 40.0)
    qcd = falling(1500.0, 2.2)
    top = peak(1400.0, 350.0, 120.0)
    hists = {
        "zprime": (signal, 4000),
        "zprime_jesUp": (peak(2040.0, 122.0, 41.5), 4000),
        "zprime_jesDown": (peak(1960.0, 118.0, 38.5), 4000),
        "qcd": (qcd, 3000),
        "qcd_slopeUp": (falling(1500.0, 2.0), 3000),
        "qcd_slopeDown": (falling(1500.0, 2.4), 3000),
        "top": (top, 1500),
        "top_jesUp": (peak(1428.0, 357.0, 124.0), 1500),
        "top_jesDown": (peak(1372.0, 343.0, 116.0), 1500),
    }
    rng = np.random.default_rng(20261202)
    data = rng.poisson(qcd + top + 0.5 * signal).astype(float)
    out = Path(__file__).resolve().parent / "dijet_resonance_input.root"
    with uproot.recreate(out) as f:
        for name, (values, n_mc) in hists.items():
            f[name] = th1(name, values, n_mc)
        f["data_obs"] = th1("data_obs", data)


if __name__ == "__main__":
    main()
