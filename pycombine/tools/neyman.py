"""The Neyman construction of confidence intervals for one parameter of interest (``pycombine neyman``).

For non-parabolic likelihoods (the interference of per-event NSBI channels, docs/UNBINNED.md;
small counts; physical boundaries) Wilks' theorem does not give the intervals. Here, for each mu
on a grid:

1. the profile-likelihood ratio ``t(mu) = 2 (NLL(mu, theta_hat_mu) - NLL(mu_hat, theta_hat))`` of
   the observed data (mu_hat within the POI's range);
2. its distribution from toys generated at ``(mu, theta_hat_mu)`` (the nuisances profiled on the
   observed data, the "profile construction"; frequentist toys: global observables drawn around
   them), each toy fitted twice: at mu and free;
3. the belt: mu belongs to the interval at confidence level CL if ``t_obs(mu)`` is at most the CL
   quantile of its toys. The interval's ends are where ``t_obs - q_CL`` changes sign, interpolated
   linearly between grid points.

Toys of per-event channels are the Poisson bootstrap of their Asimov weights (``fit.toys``). The
toys of all grid points run on all cores (``run.parallel``: forked processes, or a Dask scheduler),
with a progress bar on terminals.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import OptionError
from ..fit.minimize import Fitter, MinimizerOptions, ParameterState
from ..fit.toys import make_toy
from ..model.compile import CompiledModel
from ..model.likelihood import Dataset

CL_1SIGMA, CL_2SIGMA = 0.6827, 0.9545


@dataclass
class NeymanOptions:
    poi: str | None = None  # default: the first POI
    lo: float | None = None  # grid range (default: the POI's range)
    hi: float | None = None
    points: int = 13
    toys: int = 300  # per grid point
    cls: tuple[float, ...] = (CL_1SIGMA, CL_2SIGMA)
    seed: int = 123456
    parallel: int = 0  # processes (0: all cores)
    dask_scheduler: str | None = None
    chunk: int = 25  # toys per task


@dataclass
class NeymanResult:
    poi: str
    grid: np.ndarray  # (K,)
    t_obs: np.ndarray  # (K,)
    mu_hat: float
    toys: np.ndarray  # (K, T) toy test statistics (nan: a failed fit)
    quantiles: dict[float, np.ndarray] = field(default_factory=dict)  # CL -> (K,)
    intervals: dict[float, list[tuple[float, float]]] = field(default_factory=dict)  # CL -> [(lo, hi), ...]

    def to_json(self) -> dict:
        return {"poi": self.poi, "mu_hat": self.mu_hat, "grid": self.grid.tolist(), "t_obs": self.t_obs.tolist(),
                "toys_per_point": int(self.toys.shape[1]),
                "quantiles": {f"{cl:g}": q.tolist() for cl, q in self.quantiles.items()},
                "intervals": {f"{cl:g}": [list(iv) for iv in ivs] for cl, ivs in self.intervals.items()},
                "failed_toys": int(np.isnan(self.toys).sum())}


@dataclass
class _Context:
    """What a toy task needs besides its task (inherited by forked workers, shipped to Dask)."""

    model: CompiledModel
    state: ParameterState
    poi: int
    minimizer: MinimizerOptions
    analytic_bb: bool
    seed: int


_CONTEXT: _Context | None = None


def profile_statistic(ctx: _Context, data: Dataset, mus: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """(t(mu) per grid point, mu_hat, the fitted parameters at each mu (K, P)) for ``data``."""
    fitter = Fitter(ctx.model, data, ctx.minimizer, analytic_bb=ctx.analytic_bb)
    free = fitter.minimize(ctx.state)
    best, mu_hat = free.nll, float(free.values[ctx.poi])
    nll = np.empty(mus.size)
    values = np.empty((mus.size, ctx.model.P))
    start = ctx.state.copy()
    start.values = free.values.copy()
    for k, mu in enumerate(mus):
        res = fitter.minimize(start, fixed={ctx.poi: float(mu)})
        nll[k], values[k] = res.nll, res.values
    if nll.min() < best:  # the free fit stopped short of a point of the grid
        k = int(np.argmin(nll))
        best, mu_hat = float(nll[k]), float(mus[k])
    return np.maximum(2.0 * (nll - best), 0.0), mu_hat, values


def toy_statistic(ctx: _Context, clean: np.ndarray, mu: float, i_toy: int, stream: int) -> float:
    """t(mu) of one frequentist toy generated at ``clean`` (whose POI is ``mu``)."""
    floating = ~ctx.state.frozen
    data = make_toy(ctx.model, clean, ctx.model.glob0.copy(), floating, ctx.seed + 7919 * stream, i_toy, frequentist=True)
    try:
        t, _, _ = profile_statistic(ctx, data, np.array([mu]))
    except (ArithmeticError, ValueError):  # a toy whose fit fails is counted apart, not as a value
        return math.nan
    return float(t[0])


def _toy_task(task) -> list[float]:
    ctx_in, clean, mu, first, n, stream = task
    ctx = ctx_in or _CONTEXT
    return [toy_statistic(ctx, np.asarray(clean), mu, i, stream) for i in range(first, first + n)]


def toy_distribution(ctx: _Context, clean: np.ndarray, mu: float, toys: int, stream: int = 0, parallel: int = 0,
                     dask_scheduler: str | None = None, progress: str | None = None) -> np.ndarray:
    """The test statistic t(mu) of ``toys`` toys at ``clean`` (toy seeds: the context's seed and ``stream``)."""
    return _run(ctx, [(clean, mu, toys, stream)], 25, parallel, dask_scheduler, progress)[0]


def _run(ctx: _Context, points, chunk: int, parallel: int, dask_scheduler, progress) -> list[np.ndarray]:
    from ..run.parallel import run_tasks

    global _CONTEXT
    _CONTEXT = ctx
    ship = ctx if dask_scheduler else None  # forked workers inherit the context, Dask workers receive it
    tasks, owner = [], []
    for j, (clean, mu, toys, stream) in enumerate(points):
        for first in range(1, toys + 1, chunk):
            tasks.append((ship, np.asarray(clean).tolist(), float(mu), first, min(chunk, toys + 1 - first), stream))
            owner.append(j)
    results = run_tasks(_toy_task, tasks, parallel=parallel or None, dask_scheduler=dask_scheduler, progress=progress)
    out: list[list[float]] = [[] for _ in points]
    for j, vals in zip(owner, results):
        out[j].extend(vals)
    return [np.array(v) for v in out]


def quantile(values: np.ndarray, cl: float) -> float:
    """The CL quantile of the toys' statistics (failed toys left out)."""
    v = values[np.isfinite(values)]
    return float(np.quantile(v, cl)) if v.size else math.nan


def intervals(grid: np.ndarray, t_obs: np.ndarray, q: np.ndarray) -> list[tuple[float, float]]:
    """The accepted regions ``t_obs <= q`` as intervals, ends interpolated linearly between grid points."""
    d = t_obs - q
    inside = d <= 0
    out = []
    k = 0
    while k < grid.size:
        if not inside[k]:
            k += 1
            continue
        j = k
        while j + 1 < grid.size and inside[j + 1]:
            j += 1
        lo = grid[k] if k == 0 else _cross(grid[k - 1], grid[k], d[k - 1], d[k])
        hi = grid[j] if j == grid.size - 1 else _cross(grid[j], grid[j + 1], d[j], d[j + 1])
        out.append((float(lo), float(hi)))
        k = j + 1
    return out


def _cross(x0, x1, d0, d1) -> float:
    return x0 if d1 == d0 else x0 + (x1 - x0) * d0 / (d0 - d1)


def context_of(session, poi: str | None, seed: int) -> _Context:
    name = poi or session.pois[0]
    if name not in session.model.index:
        raise OptionError(f"--poi {name}: no such parameter (the POIs are {', '.join(session.pois)})")
    idx = session.index(name)
    state = session.state.copy()
    state.frozen[idx] = False
    return _Context(session.model, state, idx, session.minimizer, session.analytic_bb, seed)


def neyman(session, opts: NeymanOptions, out=print) -> NeymanResult:
    """The Neyman construction on ``session``'s observed data (see the module docstring)."""
    ctx = context_of(session, opts.poi, opts.seed)
    lo = ctx.state.lo[ctx.poi] if opts.lo is None else opts.lo
    hi = ctx.state.hi[ctx.poi] if opts.hi is None else opts.hi
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo) or opts.points < 2 or opts.toys < 1:
        raise OptionError(f"the grid needs a finite range lo < hi ({lo:g}, {hi:g}), at least 2 points and 1 toy")
    if any(not 0 < cl < 1 for cl in opts.cls):
        raise OptionError(f"--cl values must be in (0, 1), not {opts.cls}")
    ctx.state.lo[ctx.poi], ctx.state.hi[ctx.poi] = min(lo, ctx.state.lo[ctx.poi]), max(hi, ctx.state.hi[ctx.poi])
    grid = np.linspace(lo, hi, opts.points)
    data = session.observed
    if data is None:
        raise OptionError("the datacard has no observation: the Neyman construction needs data")
    t_obs, mu_hat, fitted = profile_statistic(ctx, data, grid)
    out(f"Best fit {session.model.names[ctx.poi]} = {mu_hat:.4g}; {opts.toys} toys at each of {grid.size} points")
    points = [(fitted[k], grid[k], opts.toys, k) for k in range(grid.size)]
    toys = np.array(_run(ctx, points, opts.chunk, opts.parallel, opts.dask_scheduler, "Neyman toys"))
    res = NeymanResult(session.model.names[ctx.poi], grid, t_obs, mu_hat, toys)
    for cl in opts.cls:
        q = np.array([quantile(toys[k], cl) for k in range(grid.size)])
        res.quantiles[cl] = q
        res.intervals[cl] = intervals(grid, t_obs, q)
    return res


def summary_lines(res: NeymanResult) -> list[str]:
    lines = [f"Neyman construction for {res.poi}: best fit {res.mu_hat:.4g}, {res.toys.shape[1]} toys per point"]
    for cl, ivs in res.intervals.items():
        text = " U ".join(f"[{a:.4g}, {b:.4g}]" for a, b in ivs) or "empty"
        lines.append(f"  {100 * cl:.2f}% CL: {res.poi} in {text}")
    failed = int(np.isnan(res.toys).sum())
    if failed:
        lines.append(f"  ({failed} toy fits failed and are left out)")
    return lines


def write_json(res: NeymanResult, path: str) -> None:
    with open(path, "w") as f:
        json.dump(res.to_json(), f, indent=1)
