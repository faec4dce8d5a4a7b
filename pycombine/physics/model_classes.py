"""Combine's base classes of physics models, and its general-purpose models, in pycombine's implementation.

``PhysicsModelBase`` (the interface text2workspace calls), ``PhysicsModelBase_NiceSubclasses``
(cooperative subclasses with ``getPOIList``/``processPhysicsOptions``), ``PhysicsModel`` (the
default model), ``MultiSignalModelBase``/``MultiSignalModel`` (``--PO map=...``),
``CanTurnOffBkgModel`` and ``HiggsMassRangeModel``, with the names, attributes and call order of
Combine's ``PhysicsModel.py`` so that users' subclasses work unchanged. They are published under
Combine's module name by :mod:`.physics_model`.
"""

from __future__ import annotations

import re
from abc import ABCMeta, abstractmethod

from .workspace import Unsupported

# ---------------------------------------------------------------------------------------- helpers


def _refuse_floating_mass(what: str) -> None:
    raise Unsupported(f"{what} lets MH float, which pycombine does not support: its models are built from "
                      "templates whose yields do not depend on MH (MH can only be fixed, with -m)")


def _range_option(po: str, key: str) -> list[str]:
    """``<key>=lo:hi`` -> [lo, hi] (strings, checked to be numbers in increasing order)."""
    values = po[len(key) + 1:].split(":")
    if len(values) != 2:
        raise ValueError(f"--PO {po}: expected {key}=min:max")
    try:
        lo, hi = float(values[0]), float(values[1])
    except ValueError:
        raise ValueError(f"--PO {po}: min and max must be numbers") from None
    if lo >= hi:
        raise ValueError(f"--PO {po}: min must be below max")
    return values


def _mass_text(mass) -> str:
    return "%g" % mass  # RooFit reads the number as printf's %g writes it


# ---------------------------------------------------------------------------------------- bases


class PhysicsModelBase(metaclass=ABCMeta):
    """What every physics model implements; text2workspace calls, in this order,
    ``setPhysicsOptions``, ``setModelBuilder``, ``doParametersOfInterest``, ``preProcessNuisances``,
    ``getYieldScale`` (each process of each bin) and ``done``."""

    def __init__(self):
        pass

    def setModelBuilder(self, modelBuilder):
        """Keep the model builder, its datacard (``DC``) and its options (not meant to be overridden)."""
        self.modelBuilder = modelBuilder
        self.DC = modelBuilder.DC
        self.options = modelBuilder.options

    def setPhysicsOptions(self, physOptions):
        """Receive the ``--PO`` strings (ignored unless a model overrides this)."""

    @abstractmethod
    def doParametersOfInterest(self):
        """Create the POIs and other parameters and define the set named "POI"."""

    def preProcessNuisances(self, nuisances):
        """Edit the list of systematics (nothing by default)."""

    def getYieldScale(self, bin, process):
        """What multiplies the yield of ``process`` in ``bin``: an object name, 1 (as is) or 0 (drop)."""
        return "r" if self.DC.isSignal[process] else 1

    def getChannelMask(self, bin):
        """Name of the mask of ``bin`` (``--channel-masks``), created if missing."""
        name = f"mask_{bin}"
        if not self.modelBuilder.out.arg(name):
            self.modelBuilder.doVar(f"{name}[0]")
        return name

    def done(self):
        """Called once the model is built."""


class PhysicsModelBase_NiceSubclasses(PhysicsModelBase):
    """A base for cooperative subclasses: each class contributes POIs (``getPOIList``) and consumes
    the options it knows (``processPhysicsOptions``); options nobody consumed are an error."""

    def doParametersOfInterest(self):
        self.modelBuilder.doSet("POI", ",".join(self.getPOIList()))

    @abstractmethod
    def getPOIList(self):
        """Create parameters and return the names of the POIs (extend ``super().getPOIList()``)."""
        return []

    def setPhysicsOptions(self, physOptions):
        used = set(self.processPhysicsOptions(physOptions))
        for po in used:
            physOptions.remove(po)
        if physOptions:
            raise ValueError(f"unknown --PO option(s): {', '.join(physOptions)}")

    @abstractmethod
    def processPhysicsOptions(self, physOptions):
        """Read the options this class knows and return them (extend ``super().processPhysicsOptions``)."""
        return []


class PhysicsModel(PhysicsModelBase):
    """Combine's default model: one POI ``r`` in [0, 20] scaling every signal process."""

    def doParametersOfInterest(self):
        self.modelBuilder.doVar("r[1,0,20]")
        self.modelBuilder.doSet("POI", "r")
        mass = self.options.mass
        if mass != 0:
            mh = self.modelBuilder.out.var("MH")
            if mh:
                mh.removeMin()
                mh.removeMax()
                mh.setVal(mass)
            else:
                self.modelBuilder.doVar(f"MH[{_mass_text(mass)}]")


class MultiSignalModelBase(PhysicsModelBase_NiceSubclasses):
    """Scalings chosen with ``--PO map=<bin regex>/<process regex>[,...]:<what>`` where ``<what>`` is
    ``name[init,min,max]`` (a new POI), ``name`` (one defined by another map), ``1``, ``0``,
    ``name=expr::name("formula", args)`` (a function; ``;`` stands for ``:``) or ``super``.
    The last matching map wins; ``turnoff=p1,p2`` is ``map=.*/(p1|p2):0`` after all others."""

    def __init__(self):
        self.poiMap = []  # [(name, [patterns])] in option order
        self.pois = {}  # POI name -> its declaration, in order of first appearance
        self.verbose = False
        self.factories = []  # expr:: statements, run after the POIs exist
        super().__init__()

    def setPhysicsOptions(self, physOptions):
        turned_off = [po for po in physOptions if po.startswith("turnoff=")]
        for po in turned_off:
            physOptions.remove(po)
            procs = po[len("turnoff="):].split(",")
            physOptions.append(f"map=.*/({'|'.join(procs)}):0")
        super().setPhysicsOptions(physOptions)

    def processPhysicsOptions(self, physOptions):
        used = []
        physOptions.sort(key=lambda po: not po.startswith("verbose"))  # verbose first, else stable
        for po in physOptions:
            if po == "verbose":
                self.verbose = True
                used.append(po)
            if not po.startswith("map="):
                continue
            if ":" not in po:
                raise ValueError(f"--PO {po}: expected map=<bin>/<process>:<parameter>")
            patterns_text, what = po[len("map="):].split(":", 1)
            patterns = patterns_text.split(",")
            for pattern in patterns:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"--PO {po}: '{pattern}' is not a valid regular expression ({exc})") from None
            name = re.sub(r"\[.*", "", what)
            if what == "super":
                pass
            elif "=" in what:
                name, _, statement = what.partition("=")
                statement = statement.replace(";", ":")
                if self.verbose:
                    print(f"Will create expression  {name}  with factory  {statement}")
                self.factories.append(statement)
            elif name not in self.pois and what not in ("1", "0"):
                if self.verbose:
                    print(f"Will create a POI  {name}  with factory  {what}")
                self.pois[name] = what
            if self.verbose:
                if what == "super":
                    print(f"Using super method to get scaling for  {patterns}  patterns")
                else:
                    print(f"Mapping  {name}  to  {patterns}  patterns")
            self.poiMap.append((name, patterns))
            used.append(po)
        return used + super().processPhysicsOptions(physOptions)

    def getPOIList(self):
        names = list(super().getPOIList())
        for name, declaration in self.pois.items():
            names.append(name)
            self.modelBuilder.doVar(declaration)
        for statement in self.factories:
            self.modelBuilder.factory_(statement)
        return names

    def getYieldScale(self, bin, process):
        key = f"{bin}/{process}"
        chosen = None
        for name, patterns in self.poiMap:
            if any(re.match(p, key) for p in patterns):
                chosen = name
        if chosen == "super":
            chosen = super().getYieldScale(bin, process)
        if chosen is None:
            chosen = "1"
        print(f"Will scale  {key}  by  {chosen}")
        if chosen in ("1", "0"):
            return int(chosen)
        return chosen


class CanTurnOffBkgModel(PhysicsModelBase_NiceSubclasses):
    """Mix-in (put it first among the bases): ``--PO nobkg`` drops every background process."""

    def __init__(self, *args, **kwargs):
        self.usebkg = True
        super().__init__(*args, **kwargs)

    def processPhysicsOptions(self, physOptions):
        used = super().processPhysicsOptions(physOptions)
        for po in physOptions:
            if po.lower() == "nobkg":
                self.usebkg = False
                print("all background processes are switched off (--PO nobkg)")
                used.append(po)
        return used

    def getYieldScale(self, bin, process):
        scale = super().getYieldScale(bin, process)
        if not self.usebkg and not self.DC.isSignal[process]:
            print(f"background {process} switched off")
            return 0
        return scale


class HiggsMassRangeModel(PhysicsModelBase_NiceSubclasses):
    """Adds MH, fixed to the -m value (``--PO higgsMassRange=`` would let it float: refused)."""

    def __init__(self):
        self.mHRange = []
        super().__init__()

    def processPhysicsOptions(self, physOptions):
        used = super().processPhysicsOptions(physOptions)
        for po in physOptions:
            if po.startswith("higgsMassRange="):
                _refuse_floating_mass(f"--PO {po}")
        return used

    def getPOIList(self):
        names = list(super().getPOIList())
        if self.mHRange:
            _refuse_floating_mass("higgsMassRange")
        _fix_mass_announced(self)
        return names


class MultiSignalModel(MultiSignalModelBase, HiggsMassRangeModel):
    pass


def _fix_mass_announced(model) -> None:
    """MH fixed at the -m value, saying so (the SM-like cross-section and BR models do this)."""
    mass = model.options.mass
    mh = model.modelBuilder.out.var("MH")
    if mh:
        print(f"MH will be assumed to be {mass}")
        mh.removeMin()
        mh.removeMax()
        mh.setVal(mass)
    else:
        print(f"MH (not there before) will be assumed to be {mass}")
        model.modelBuilder.doVar(f"MH[{_mass_text(mass)}]")


def _fix_mass_quietly(model) -> None:
    """MH fixed (and constant) at the -m value, silently (the ratio models do this)."""
    mass = model.options.mass
    mh = model.modelBuilder.out.var("MH")
    if mh:
        mh.setVal(mass)
        mh.setConstant(True)
    else:
        model.modelBuilder.doVar(f"MH[{_mass_text(mass)}]")
