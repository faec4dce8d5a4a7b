"""The side of Combine's ModelBuilder that a physics model sees.

Combine hands a physics model its ``ModelBuilder`` (``setModelBuilder``); the model reads
``modelBuilder.DC`` (the parsed datacard), ``modelBuilder.options`` (text2workspace's options)
and creates objects through ``doVar``/``doSet``/``doExp``/``doObj``/``factory_`` or directly in
``modelBuilder.out`` (the workspace). :class:`ModelBuilder` offers the same calls on top of
:class:`~.workspace.Workspace`; :class:`CombineDatacard` presents pycombine's
:class:`~pycombine.datacard.model.Datacard` with the attribute names of Combine's ``Datacard``;
:func:`text2workspace_options` gives an options object with text2workspace's defaults.
"""

from __future__ import annotations

import os
import re
from types import SimpleNamespace
from typing import TYPE_CHECKING

from .workspace import Unsupported, Workspace

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..datacard.model import Datacard


def text2workspace_options(card: "Datacard", model: str, options: list[str], mass: float) -> SimpleNamespace:
    """text2workspace's option values as a physics model reads them (``self.options``)."""
    file_name = card.path or ""
    return SimpleNamespace(
        # -m is a float option whose default is the integer 0 (what models print when it is not given)
        mass=float(mass) if mass else 0,
        fileName=file_name,
        out=(re.sub(r"\.txt$", "", file_name) + ".root") if file_name else None,
        baseDir=os.path.dirname(file_name),
        verbose=0,
        bin=True,
        stat=False,
        fixpars=False,
        cexpr=False,
        dataname="data_obs",
        libs=None,
        modelparams=[],
        poisson=0,
        defMorph="shape",
        noBOnly=False,
        noHistFuncWrappers=False,
        useCMSHistSum=False,
        noOptimizePdf=False,
        noData=False,
        moreOptimizeSimPdf="none",
        doMasks=False,
        useHistPdf="never",
        nuisancesToExclude=[],
        nuisancesToRescale=[],
        nuisanceFunctions=[],
        nuisanceGroupFunctions=[],
        forceNonSimPdf=False,
        noCheckNorm=False,
        noJMax=False,
        allowNoSignal=False,
        allowNoBackground=False,
        optimizeExistingTemplates=True,
        optimizeBoundNuisances=True,
        optimizeTemplateBins=True,
        packAsymPows=False,
        optimizeMHDependency=None,
        flatParamPrior=False,
        physModel=model,
        physOpt=list(options),
        dumpCard=False,
        justCheckPhysicsModel=False,
        removeMultiPdf=False,
    )


class CombineDatacard:
    """pycombine's Datacard under the attribute names of Combine's ``Datacard`` (copies, read-only use).

    ``systs`` (Combine's ``(name, nofloat, pdf, args, errline)`` list) is built on first use.
    """

    def __init__(self, card: "Datacard"):
        self._card = card
        self.bins = list(card.channels)
        self.processes = list(card.processes)
        self.isSignal = dict(card.is_signal)
        self.signals = [p for p in card.processes if card.is_signal.get(p)]
        self.obs = dict(card.observations)
        self.exp = {b: dict(card.rates.get(b, {})) for b in card.channels}
        self.keyline = [(c.channel, c.process, c.is_signal) for c in card.columns]
        self.hasShapes = card.has_shapes
        self.shapeMap = {b: {p: list(s.fields) for p, s in procs.items()} for b, procs in card.shape_map.items()}
        self.flatParamNuisances = {n: True for n in card.flat_params}
        self.extArgs = {n: list(t) for n, t in card.ext_args.items()}
        # [[name, value, 0] | [name, formula, args, 1] | [name, "file:workspace", 2], range]
        kinds = {"value": 0, "formula": 1, "workspace": 2}
        self.rateParams = {f"{b}AND{p}": [[[rp.name, rp.value, rp.formula_args, 1] if rp.kind == "formula"
                                           else [rp.name, rp.value, kinds[rp.kind]], rp.range] for rp in rps]
                           for (b, p), rps in card.rate_params.items()}
        self.rateParamsOrder = set(card.rate_param_names)
        self.discretes = list(card.discretes)
        self.groups = {g: set(m) for g, m in card.groups.items()}
        self.frozenNuisances = set(card.frozen)
        self.binParFlags = {b: (a.threshold, a.include_signal, a.hist_mode) for b, a in card.auto_mc_stats.items()}
        self._systs = None

    @property
    def systs(self) -> list:
        if self._systs is None:
            self._systs = make_systs(self._card)
        return self._systs

    def list_of_bins(self) -> list[str]:
        return self.bins

    def list_of_procs(self, type: str = "") -> list[str]:
        if type == "s":
            return self.signals
        if type == "b":
            return [p for p, s in self.isSignal.items() if not s]
        return self.processes

    def list_of_signals(self) -> list[str]:
        return self.list_of_procs("s")

    def list_of_backgrounds(self) -> list[str]:
        return self.list_of_procs("b")

    def rate(self, bin: str, proc: str) -> float:
        return self.exp[bin][proc]

    def getAllVariables(self) -> list[str]:
        return sorted(self._card.all_parameter_names())


def make_systs(card: "Datacard") -> list:
    """Combine's ``DC.systs``: ``(name, nofloat, pdf, args, errline)``, asymmetric effects as [lo, hi]."""
    out = []
    for s in card.systematics:
        errline = {b: {p: (list(v) if isinstance(v, tuple) else v) for p, v in procs.items()}
                   for b, procs in s.effects.items()}
        out.append((s.name, s.nofloat, s.pdf, list(s.args), errline))
    return out


class ModelBuilder:
    """``modelBuilder`` as physics models use it: ``DC``, ``options``, ``out`` and the ``do*`` calls."""

    def __init__(self, datacard: CombineDatacard, options: SimpleNamespace):
        self.DC = datacard
        self.options = options
        self.out = Workspace()
        self.physics = None
        self.discrete_param_set: list = []

    def setPhysics(self, physics) -> None:
        self.physics = physics
        physics.setModelBuilder(self)

    def factory_(self, spec: str):
        return self.out.factory(spec)

    def doVar(self, vardef: str):
        return self.factory_(vardef)

    def doSet(self, name: str, vars) -> None:
        self.out.defineSet(name, vars)

    def doExp(self, name: str, expression: str, vars) -> object:
        if not isinstance(vars, str):
            vars = ",".join(v if isinstance(v, str) else v.GetName() for v in vars)
        quote = "'" if '"' in expression else '"'
        return self.factory_(f"expr::{name}({quote}{expression}{quote},{vars})")

    def doObj(self, name: str, type: str, X: str, ignoreExisting: bool = False):
        if ignoreExisting and self.out.arg(name) is not None:
            return 1
        return self.factory_(f"{type}::{name}({X})")

    def doComment(self, X: str) -> None:
        pass

    def addDiscrete(self, var) -> None:
        raise Unsupported("discrete parameters (addDiscrete) are not supported in a physics model")

    def addObj(self, classtype, name, *args):
        raise Unsupported("RooFit objects made by the physics model (addObj) are not supported")

    def getObj(self, name):
        raise Unsupported("RooFit objects made by the physics model (getObj) are not supported")
