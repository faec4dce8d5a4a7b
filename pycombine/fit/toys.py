"""Pseudo-experiments (spec §4.3).

Every toy has its own random stream, ``numpy.random.default_rng([seed, i_toy])``, so a toy's
dataset depends only on the seed and its index: serial, process-pool and Dask runs give identical
results. (They are not bit-identical to ROOT's TRandom3 sequences; nothing depending on them can
be.)

Two generation modes, as in Combine:

* default (*a-priori*): before each toy the constrained nuisance parameters are drawn from their
  constraint pdfs (truncated to their ranges) around the nominal global observables; the data are
  Poisson counts at those values; the fit then uses the nominal global observables;
* ``--toysFrequentist`` (*a-posteriori*): the data are first fitted with the POIs fixed; the toy's
  global observables are drawn around the fitted nuisance values and its data are Poisson counts at
  the fitted values; the fit uses the toy's global observables.

``--toysNoSystematics`` turns the randomisation of nuisances/global observables off.
"""

from __future__ import annotations

import numpy as np

from ..model.compile import CompiledModel
from ..model.likelihood import Dataset, Likelihood


def toy_rng(seed: int, i_toy: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(i_toy)])


def _truncated_normal(rng, mean, sigma, lo, hi):
    """Draw N(mean, sigma) truncated to [lo, hi] by rejection (ranges are ~4-7 sigma wide)."""
    out = rng.normal(mean, sigma)
    bad = (out < lo) | (out > hi)
    for _ in range(100):
        if not bad.any():
            break
        out[bad] = rng.normal(mean[bad], sigma[bad])
        bad = (out < lo) | (out > hi)
    return np.clip(out, lo, hi)


def _gaussians(model: CompiledModel) -> tuple[np.ndarray, np.ndarray]:
    """All unit-or-sigma Gaussian constrained parameters, BB-lite ones included, sorted."""
    idx = np.concatenate([model.gauss_idx, model.bblite_idx])
    sig = np.concatenate([model.gauss_sigma, np.ones(model.bblite_idx.size)])
    order = np.argsort(idx)
    return idx[order], sig[order]


def randomise_nuisances(model: CompiledModel, values: np.ndarray, glob: np.ndarray, floating: np.ndarray,
                        rng: np.random.Generator) -> np.ndarray:
    """Draw the floating constrained nuisances from their constraints (a-priori toys)."""
    x = values.copy()
    lo, hi = model.lo, model.hi
    gauss_idx, gauss_sigma = _gaussians(model)
    sel = np.intersect1d(gauss_idx, np.nonzero(floating)[0])
    if sel.size:
        k = np.searchsorted(gauss_idx, sel)
        x[sel] = _truncated_normal(rng, glob[sel], gauss_sigma[k], lo[sel], hi[sel])
    sel = np.intersect1d(model.bifur_idx, np.nonzero(floating)[0])
    if sel.size:
        k = np.searchsorted(model.bifur_idx, sel)
        u = rng.uniform(size=sel.size)
        s_lo, s_hi = model.bifur_lo[k], model.bifur_hi[k]
        # split normal: pick the side in proportion to its width, then a half-normal on it
        side = u < s_lo / (s_lo + s_hi)
        z = np.abs(rng.normal(size=sel.size))
        x[sel] = np.clip(np.where(side, glob[sel] - z * s_lo, glob[sel] + z * s_hi), lo[sel], hi[sel])
    sel = np.intersect1d(model.poisson_idx, np.nonzero(floating)[0])
    if sel.size:
        # the Poisson constraint as a function of its mean: Gamma(N + 1, 1)
        x[sel] = np.clip(rng.gamma(glob[sel] + 1.0, 1.0), lo[sel], hi[sel])
    sel = np.intersect1d(model.gamma_idx, np.nonzero(floating)[0])
    if sel.size:
        k = np.searchsorted(model.gamma_idx, sel)
        x[sel] = np.clip(rng.gamma(glob[sel], model.gamma_scale[k]), lo[sel], hi[sel])
    uniform = floating & ~model.constrained & model.is_nuisance & np.isfinite(lo) & np.isfinite(hi)
    if uniform.any():
        x[uniform] = rng.uniform(lo[uniform], hi[uniform])
    return x


def randomise_global_observables(model: CompiledModel, values: np.ndarray, glob: np.ndarray, floating: np.ndarray,
                                 rng: np.random.Generator) -> np.ndarray:
    """Draw global observables around the (post-fit) nuisance values (frequentist toys)."""
    g = glob.copy()
    gauss_idx, gauss_sigma = _gaussians(model)
    sel = np.intersect1d(gauss_idx, np.nonzero(floating)[0])
    if sel.size:
        k = np.searchsorted(gauss_idx, sel)
        g[sel] = rng.normal(values[sel], gauss_sigma[k])
    sel = np.intersect1d(model.bifur_idx, np.nonzero(floating)[0])
    if sel.size:
        k = np.searchsorted(model.bifur_idx, sel)
        g[sel] = rng.normal(values[sel], 0.5 * (model.bifur_lo[k] + model.bifur_hi[k]))
    sel = np.intersect1d(model.poisson_idx, np.nonzero(floating)[0])
    if sel.size:
        g[sel] = rng.poisson(np.maximum(values[sel], 0.0)).astype(float)
    sel = np.intersect1d(model.gamma_idx, np.nonzero(floating)[0])
    if sel.size:
        k = np.searchsorted(model.gamma_idx, sel)
        # the gamma shape is the observable: shift it by the fitted multiplier's Poisson-like spread
        # (HistFactory shapesys: the auxiliary count n is Poisson, the shape is n + 1)
        n = rng.poisson(np.maximum(values[sel] / model.gamma_scale[k], 0.0))
        g[sel] = np.where(model.gamma_aux_offset[k] > 0, n + 1.0, np.maximum(n, 1.0))
    return g


def generate(model: CompiledModel, values: np.ndarray, glob: np.ndarray, rng: np.random.Generator,
             name: str = "toy") -> Dataset:
    """Poisson counts per bin at ``values``; the dataset carries ``glob`` as global observables."""
    lik = Likelihood(model, Dataset(np.zeros(model.B), glob), analytic_bb=False)
    nu = np.maximum(lik.expected(values), 0.0)
    return Dataset(rng.poisson(nu).astype(float), glob.copy(), name=name)


def make_toy(model: CompiledModel, clean: np.ndarray, glob: np.ndarray, floating: np.ndarray, seed: int,
             i_toy: int, frequentist: bool = False, no_systematics: bool = False) -> Dataset:
    """The dataset of toy ``i_toy`` (1-based, like Combine's iToy)."""
    rng = toy_rng(seed, i_toy)
    if no_systematics:
        return generate(model, clean, glob, rng, name=f"toy_{i_toy}")
    if frequentist:
        g = randomise_global_observables(model, clean, glob, floating, rng)
        return generate(model, clean, g, rng, name=f"toy_{i_toy}")
    x = randomise_nuisances(model, clean, glob, floating, rng)
    return generate(model, x, glob, rng, name=f"toy_{i_toy}")


# ---------------------------------------------------------------------------- batched generation
# Toy-based methods that fit thousands of toys at once (HybridNew) draw them as a batch from one
# random stream per batch: the arrays below have one row per toy.

def _gaussians_floating(model: CompiledModel, floating: np.ndarray):
    idx, sig = _gaussians(model)
    keep = floating[idx]
    return idx[keep], sig[keep]


def randomise_global_observables_batch(model: CompiledModel, values: np.ndarray, glob: np.ndarray,
                                       floating: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, P) global observables drawn around ``values`` (:func:`randomise_global_observables` per row)."""
    g = np.tile(glob, (n, 1))
    idx, sig = _gaussians_floating(model, floating)
    if idx.size:
        g[:, idx] = rng.normal(values[idx], sig, size=(n, idx.size))
    sel = model.bifur_idx[floating[model.bifur_idx]]
    if sel.size:
        k = np.searchsorted(model.bifur_idx, sel)
        g[:, sel] = rng.normal(values[sel], 0.5 * (model.bifur_lo[k] + model.bifur_hi[k]), size=(n, sel.size))
    sel = model.poisson_idx[floating[model.poisson_idx]]
    if sel.size:
        g[:, sel] = rng.poisson(np.maximum(values[sel], 0.0), size=(n, sel.size)).astype(float)
    sel = model.gamma_idx[floating[model.gamma_idx]]
    if sel.size:
        k = np.searchsorted(model.gamma_idx, sel)
        counts = rng.poisson(np.maximum(values[sel] / model.gamma_scale[k], 0.0), size=(n, sel.size))
        g[:, sel] = np.where(model.gamma_aux_offset[k] > 0, counts + 1.0, np.maximum(counts, 1.0))
    return g


def randomise_nuisances_batch(model: CompiledModel, values: np.ndarray, glob: np.ndarray, floating: np.ndarray,
                              rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, P) parameter points with the floating constrained nuisances drawn from their constraints
    (:func:`randomise_nuisances` per row)."""
    x = np.tile(values, (n, 1))
    lo, hi = model.lo, model.hi
    idx, sig = _gaussians_floating(model, floating)
    if idx.size:
        mean = np.broadcast_to(glob[idx], (n, idx.size))
        draw = rng.normal(mean, sig)
        for _ in range(100):  # truncation to the ranges by rejection (ranges are 4-7 sigma wide)
            bad = (draw < lo[idx]) | (draw > hi[idx])
            if not bad.any():
                break
            draw[bad] = rng.normal(np.broadcast_to(glob[idx], draw.shape)[bad], np.broadcast_to(sig, draw.shape)[bad])
        x[:, idx] = np.clip(draw, lo[idx], hi[idx])
    sel = model.bifur_idx[floating[model.bifur_idx]]
    if sel.size:
        k = np.searchsorted(model.bifur_idx, sel)
        s_lo, s_hi = model.bifur_lo[k], model.bifur_hi[k]
        side = rng.uniform(size=(n, sel.size)) < s_lo / (s_lo + s_hi)
        z = np.abs(rng.normal(size=(n, sel.size)))
        x[:, sel] = np.clip(np.where(side, glob[sel] - z * s_lo, glob[sel] + z * s_hi), lo[sel], hi[sel])
    sel = model.poisson_idx[floating[model.poisson_idx]]
    if sel.size:
        x[:, sel] = np.clip(rng.gamma(glob[sel] + 1.0, 1.0, size=(n, sel.size)), lo[sel], hi[sel])
    sel = model.gamma_idx[floating[model.gamma_idx]]
    if sel.size:
        k = np.searchsorted(model.gamma_idx, sel)
        x[:, sel] = np.clip(rng.gamma(glob[sel], model.gamma_scale[k], size=(n, sel.size)), lo[sel], hi[sel])
    uniform = floating & ~model.constrained & model.is_nuisance & np.isfinite(lo) & np.isfinite(hi)
    if uniform.any():
        x[:, uniform] = rng.uniform(lo[uniform], hi[uniform], size=(n, int(uniform.sum())))
    return x
