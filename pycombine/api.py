"""The Python API: the same engine as the ``combine`` command, for notebooks and scripts.

>>> import pycombine
>>> model = pycombine.load_datacard("datacards/counting/realistic-counting-experiment.txt")
>>> result = model.fit()
>>> result.values["r"], result.errors["r"]
>>> result.yields[("bin1", "ggH")]          # post-fit expected events per bin (numpy)

Everything returned is plain numpy / dicts; no ROOT objects.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .datacard import Datacard, ParseOptions, parse_datacard
from .fit.intervals import DELTA68 as DNLL_68  # ΔNLL of Combine's 68.0 % interval
from .fit.minimize import Fitter, MinimizerOptions, ParameterState
from .model.build import BuildOptions, build_model
from .model.compile import CompiledModel
from .model.likelihood import Dataset, Likelihood
from .model.spec import ModelSpec


@dataclass
class FitOutcome:
    """A fit: parameter values/errors/covariance and the expected yields at the minimum."""

    names: list[str]
    values: dict[str, float]
    errors: dict[str, float]
    covariance: np.ndarray  # (P, P), parameter order = ``names``; zero rows for fixed parameters
    nll: float
    status: int
    valid: bool
    yields: dict[tuple[str, str], np.ndarray]  # (channel, process) -> expected events per bin
    totals: dict[str, np.ndarray]  # channel -> expected events per bin
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # 68 % profile intervals

    def correlation(self) -> np.ndarray:
        d = np.sqrt(np.diag(self.covariance))
        with np.errstate(divide="ignore", invalid="ignore"):
            c = self.covariance / np.outer(d, d)
        return np.nan_to_num(c)

    def __repr__(self) -> str:
        lines = [f"FitOutcome(valid={self.valid}, status={self.status}, nll={self.nll:.6g})"]
        width = max((len(n) for n in self.names), default=4)
        for n in self.names:
            iv = self.intervals.get(n)
            extra = f"  [{iv[0]:+.4g}, {iv[1]:+.4g}]" if iv else ""
            lines.append(f"  {n:<{width}}  {self.values[n]:+.6g} +- {self.errors[n]:.4g}{extra}")
        return "\n".join(lines)


class Model:
    """A datacard compiled into pycombine's likelihood engine."""

    def __init__(self, card: Datacard, spec: ModelSpec):
        self.card = card
        self.spec = spec
        self.compiled = CompiledModel(spec)
        self.state = ParameterState.initial(self.compiled)

    # ------------------------------------------------------------------ description
    @property
    def parameters(self) -> list[str]:
        return list(self.compiled.names)

    @property
    def pois(self) -> list[str]:
        return list(self.spec.pois)

    @property
    def channels(self) -> list[str]:
        return [c.name for c in self.spec.channels]

    def observed(self) -> dict[str, np.ndarray]:
        """Observed counts per channel (empty if the card has no observation)."""
        m = self.compiled
        if not m.has_data:
            return {}
        return {c.name: m.data[c.bin_start : c.bin_start + c.nbins].copy() for c in m.channels}

    def _vector(self, params: dict[str, float] | None) -> np.ndarray:
        x = self.state.values.copy()
        for k, v in (params or {}).items():
            x[self.compiled.parameter_index(k)] = v
        return x

    # ------------------------------------------------------------------ evaluation
    def expected(self, params: dict[str, float] | None = None) -> dict[tuple[str, str], np.ndarray]:
        """Expected events per (channel, process) and bin at ``params`` (default: initial values)."""
        lik = Likelihood(self.compiled, self._dataset(None), analytic_bb=False)
        return self._split(lik.process_yields(self._vector(params), include_bb_share=False))

    def nll(self, params: dict[str, float] | None = None, data: str | np.ndarray = "observed") -> float:
        """NLL at ``params`` (only differences are meaningful, as in Combine)."""
        return Likelihood(self.compiled, self._dataset(data)).nll(self._vector(params))

    def asimov(self, params: dict[str, float] | None = None) -> np.ndarray:
        """Expected counts per bin (all channels concatenated) at ``params``."""
        lik = Likelihood(self.compiled, self._dataset(None), analytic_bb=False)
        return lik.expected(self._vector(params))

    def _dataset(self, data) -> Dataset:
        m = self.compiled
        if data is None:
            return Dataset(np.zeros(m.B), m.glob0.copy())
        if isinstance(data, str):
            if data == "observed":
                if not m.has_data:
                    raise ValueError("the datacard has no observation; pass data='asimov' or an array")
                return Dataset(m.data.copy(), m.glob0.copy())
            if data == "asimov":
                return Dataset(self.asimov(), m.glob0.copy(), is_asimov=True)
            raise ValueError(f"unknown dataset {data!r}")
        return Dataset(np.asarray(data, dtype=float), m.glob0.copy())

    def _split(self, per_entry: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
        m = self.compiled
        out = {}
        for s in range(m.S):
            sel = m.entry_sample == s
            out[(m.channels[m.sample_channel[s]].name, m.sample_process[s])] = per_entry[sel].copy()
        return out

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        data: str | np.ndarray = "observed",
        fixed: dict[str, float] | None = None,
        start: dict[str, float] | None = None,
        intervals: tuple[str, ...] | list[str] = (),
        remove_bounds: bool = True,
        strategy: int = 1,
        tolerance: float = 0.1,
    ) -> FitOutcome:
        """Maximum-likelihood fit (Migrad with the analytic gradient, then Hesse).

        ``fixed`` pins parameters, ``start`` sets starting values, ``intervals`` lists parameters
        whose 68 % profile-likelihood interval (ΔNLL = 0.494473) is computed. By default the
        ranges of Gaussian nuisances are removed, as Combine does for FitDiagnostics.
        """
        m = self.compiled
        ds = self._dataset(data)
        fitter = Fitter(m, ds, MinimizerOptions(strategy=strategy, tolerance=tolerance), remove_bounds=remove_bounds)
        state = self.state.copy()
        for k, v in (start or {}).items():
            state.values[m.parameter_index(k)] = v
        fix = {m.parameter_index(k): v for k, v in (fixed or {}).items()}
        res = fitter.minimize(state, fix, hesse=True)
        lik = fitter.lik
        yields = self._split(lik.process_yields(res.values))
        nu = lik.expected(res.values)
        totals = {c.name: nu[c.bin_start : c.bin_start + c.nbins].copy() for c in m.channels}
        out = FitOutcome(
            names=list(m.names),
            values={n: float(res.values[i]) for i, n in enumerate(m.names)},
            errors={n: float(res.errors[i]) for i, n in enumerate(m.names)},
            covariance=res.covariance,
            nll=res.nll,
            status=res.status,
            valid=res.valid,
            yields=yields,
            totals=totals,
        )
        for name in intervals:
            out.intervals[name] = self._interval(fitter, state, fix, res, name)
        return out

    def _interval(self, fitter: Fitter, state: ParameterState, fix, res, name: str) -> tuple[float, float]:
        """68 % profile-likelihood interval of one parameter by root finding on the profile."""
        from .fit.roots import brent_root as brentq

        m = self.compiled
        i = m.parameter_index(name)
        best, nll0 = res.values[i], res.nll
        lo_lim, hi_lim = state.lo[i], state.hi[i]
        sigma = res.errors[i] if res.errors[i] > 0 else 0.1 * max(abs(best), 1.0)
        start = state.copy()
        start.values = res.values.copy()

        def excess(v):
            r = fitter.minimize(start, {**fix, i: v})
            return r.nll - nll0 - DNLL_68

        def side(sign, limit):
            step = sigma
            x = best
            for _ in range(40):
                nxt = best + sign * step
                if np.isfinite(limit) and (nxt - limit) * sign > 0:
                    nxt = limit
                if excess(nxt) > 0:
                    return brentq(excess, x, nxt, xtol=1e-4 * sigma) if x != nxt else nxt
                if nxt == limit:
                    return limit
                x = nxt
                step *= 2
            return nxt

        return side(-1, lo_lim), side(+1, hi_lim)


def load_datacard(path: str | os.PathLike, mass: float = 120.0, keyword_values: list[str] | None = None,
                  **parse_options) -> Model:
    """Parse a text datacard, read its shape inputs and compile it (like text2workspace)."""
    card = parse_datacard(path, ParseOptions(**parse_options))
    from .model.unbinned import EventTemplateReader, finish_per_event

    reader = EventTemplateReader(card, mass, list(keyword_values or []))  # histograms and per-event tables
    spec = build_model(card, BuildOptions(mass=mass, keyword_values=list(keyword_values or []), templates=reader))
    finish_per_event(card, spec, reader)
    return Model(card, spec)
