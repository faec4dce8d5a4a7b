"""The model description: what Combine's text2workspace builds, as plain typed data.

This is the second intermediate representation, produced by :mod:`pycombine.model.build` from a
:class:`~pycombine.datacard.Datacard` and its shape inputs. It holds, per channel and process,
the nominal template and normalisation exactly as Combine builds them (float32 templates,
``rate -1`` integrals, gmN alpha, autoMCStats self-normalised coefficients), every systematic
effect with its numbers, and the parameters in Combine's order. The likelihood engine compiles
it into dense arrays; nothing here depends on numpy beyond holding arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

ConstraintKind = Literal["none", "gauss", "bifur", "poisson", "uniform", "gamma", "dfd", "dfd2"]


@dataclass
class Parameter:
    """A model parameter (POI, nuisance, rateParam, extArg or bin-wise statistical parameter).

    ``lo``/``hi`` are the range (None = unbounded). ``constraint`` describes the term added to
    the NLL: ``gauss`` (mean ``glob``, width ``sigma``), ``bifur`` (``sigma_lo``/``sigma_hi``),
    ``poisson`` (gmN / per-process BB: ``-ln Poisson(glob; value)``), ``uniform`` (flat, hard
    range), ``gamma`` (gmM), ``dfd``/``dfd2`` (double Fermi-Dirac, width parameter ``sigma``),
    ``none`` (free). ``global_obs`` names the global observable (``<name>_In``).
    """

    name: str
    init: float
    lo: float | None = None
    hi: float | None = None
    kind: Literal["poi", "nuisance", "rateParam", "extArg", "flatParam", "bb", "mass", "physics"] = "nuisance"
    constraint: ConstraintKind = "none"
    sigma: float = 1.0
    sigma_lo: float = 1.0
    sigma_hi: float = 1.0
    glob: float = 0.0
    global_obs: str | None = None
    global_obs_range: tuple[float, float] | None = None
    #: Combine removes the range of these (Gaussian lnN/shape/BB) in FitDiagnostics/MultiDimFit
    optimize_bounds: bool = False
    frozen: bool = False
    #: in the workspace's ``nuisances`` set (randomised for toys, listed in fit trees)
    is_nuisance: bool = False
    #: ``[nofloat]`` suffix in the card (attribute globalConstrained)
    nofloat: bool = False
    groups: list[str] = field(default_factory=list)
    origin: str = ""  # the datacard directive that created it (lnN, shape, gmN, param, rateParam, ...)
    line: int | None = None

    @property
    def is_constrained(self) -> bool:
        return self.constraint not in ("none",)


def gaussian_nuisance(name: str, init: float, lo: float, hi: float, origin: str, glob: float = 0.0,
                      sigma: float = 1.0) -> Parameter:
    """A nuisance with a Gaussian constraint (mean ``glob``, width ``sigma``) and its global
    observable ``<name>_In``: the parameters that model formats other than datacards declare."""
    p = Parameter(name, init, lo, hi, kind="nuisance", constraint="gauss", origin=origin)
    p.sigma = sigma
    p.glob = glob
    p.global_obs = name + "_In"
    p.is_nuisance = True
    return p


@dataclass
class FormulaSpec:
    """A ``rateParam`` defined by a formula of other parameters (RooFormulaVar)."""

    name: str
    expression: str
    args: list[str]
    line: int | None = None


@dataclass(eq=False)  # numpy fields: a generated __eq__ could not compare them
class ShapeEffect:
    """One ``shape``/``shapeN`` systematic acting on one process.

    ``up``/``down`` are the ±1σ templates as read (float32-rounded contents, stored as float32 by
    the datacard builder, float64 by the converters); ``up_integral``/
    ``down_integral`` the double integrals of the original histograms. ``kappa`` is the
    AsymPow normalisation effect (kappa_lo, kappa_hi), already raised to the datacard value and
    rounded to six decimals as Combine does, or None when it is negligible (or hist-mode 2).
    """

    name: str
    scale: float
    up: np.ndarray | None  # None once released (:meth:`ModelSpec.release_shape_templates`)
    down: np.ndarray | None
    up_integral: float
    down_integral: float
    kappa: tuple[float, float] | None
    line: int | None = None


@dataclass(eq=False)  # numpy fields: a generated __eq__ could not compare them
class ProcessSpec:
    """One process in one channel.

    The expected yield is ``norm * (lnN and AsymPow factors) * (other factors) * shape``, where
    ``norm`` is Combine's nominal normalisation value: the rate column (template integral for
    ``rate -1``) in channels without autoMCStats, 1 in autoMCStats channels whose templates carry
    absolute contents, and the gmN alpha (1/N with autoMCStats) for gmN processes.
    """

    channel: str
    name: str
    is_signal: bool
    rate: float  # the rate column as resolved (template integral for -1)
    norm: float
    template: np.ndarray | None = None  # nominal contents (float32-rounded); None for counting/FAKE
    errors: np.ndarray | None = None  # bin errors of the nominal template
    integral: float = 0.0
    lnN: list[tuple[str, float]] = field(default_factory=list)  # symmetric kappas (lnN, lnU)
    asym_lnN: list[tuple[str, float, float]] = field(default_factory=list)  # (name, kappa_lo, kappa_hi)
    shapes: list[ShapeEffect] = field(default_factory=list)
    morph: Literal["shape", "shapeN"] = "shape"
    smooth_region: float = 1.0  # q = min(1, smallest shape scale < 1)
    gmN: tuple[str, int] | None = None  # (parameter, N): yield multiplied by the gmN parameter
    gmM: list[str] = field(default_factory=list)  # multiplicative gamma parameters
    factors: list[str] = field(default_factory=list)  # POIs, rateParams and formulas multiplying the yield
    additive: list[tuple[str, float]] = field(default_factory=list)  # trG/unif/dFD: factor 1 + v*theta
    #: HistFactory normsys (pyhf workspaces): (parameter, kappa_lo, kappa_hi, interpolation code 1|4)
    hf_norm: list[tuple[str, float, float, int]] = field(default_factory=list)
    #: per-bin multiplicative parameters (pyhf staterror, shapesys, shapefactor): (bin, parameter,
    #: n0), the bin's yield times ``parameter / n0`` (several on one bin multiply)
    bin_factors: list[tuple[int, str, float]] = field(default_factory=list)

    @property
    def has_template(self) -> bool:
        return self.template is not None


@dataclass
class BinStat:
    """autoMCStats decision for one histogram bin of a channel (Combine ``setupBinPars``)."""

    bin: int
    kind: Literal["none", "bblite", "per_process"]
    parameter: str | None = None  # bblite: prop_bin<ch>_bin<j>
    #: per process: (process index in channel, "poisson"|"gauss", parameter, n0)
    per_process: list[tuple[int, str, str, float]] = field(default_factory=list)


@dataclass(eq=False)  # numpy fields: a generated __eq__ could not compare them
class ChannelSpec:
    """A datacard channel: a histogram (binned) or a single count (counting/FAKE)."""

    name: str
    binned: bool
    nbins: int
    processes: list[ProcessSpec]
    data: np.ndarray | None = None  # observed counts per bin (None: no observation line)
    auto_mc_stats: "AutoMCStatsSpec | None" = None
    #: templates are absolute contents (as with autoMCStats) without autoMCStats: pyhf workspaces
    absolute: bool = False
    #: a per-event likelihood-ratio channel (docs/UNBINNED.md): one "bin" per event, data = event
    #: weights, templates = density ratios (absolute); the likelihood uses the exact extended term
    #: sum_j nu_j instead of the sum of the per-event terms
    unbinned: bool = False
    #: per-event channels: the reference weight v_i of each event; v_i * (sum_j nu_j r_j(x_i)) is
    #: the event's expected (Asimov) weight, while the likelihood uses the ratios alone
    ref_weights: np.ndarray | None = None

    @property
    def process_names(self) -> list[str]:
        return [p.name for p in self.processes]


@dataclass
class AutoMCStatsSpec:
    threshold: float
    include_signal: bool
    hist_mode: int
    bins: list[BinStat] = field(default_factory=list)
    report: str = ""  # the table text2workspace prints


@dataclass
class ModelSpec:
    """Everything needed to evaluate the likelihood of a datacard."""

    channels: list[ChannelSpec]
    parameters: dict[str, Parameter]
    formulas: dict[str, FormulaSpec]
    pois: list[str]
    #: Combine's workspace sets, in order
    nuisances: list[str]
    global_observables: list[str]
    groups: dict[str, list[str]]
    mass: float
    counting: bool  # a pure counting card (no shapes line): plain RooFit likelihood in Combine
    max_bins: int  # M: bins of the common observable CMS_th1x (0 for counting cards)
    path: str | None = None
    build_log: list[str] = field(default_factory=list)  # text2workspace console output
    #: constants of the physics model that no yield depends on (``MH`` = the mass): not parameters
    #: of the likelihood, but run-time options may name them as in Combine's workspace
    constants: dict[str, float] = field(default_factory=dict)

    def channel(self, name: str) -> ChannelSpec:
        for c in self.channels:
            if c.name == name:
                return c
        raise KeyError(name)

    def release_shape_templates(self) -> None:
        """Drop the ±1σ templates of every shape systematic (``up``/``down`` become None).

        For the owner of a large model once it is compiled: the compiled morph matrices hold all
        the likelihood needs, and a combination's templates are ~10^2 MB. The spec can no longer
        be compiled (or exported) afterwards; :class:`~.compile.CompiledModel` refuses it."""
        for ch in self.channels:
            for proc in ch.processes:
                for eff in proc.shapes:
                    eff.up = eff.down = None
