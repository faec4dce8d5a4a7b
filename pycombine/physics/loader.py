"""Finding and running a physics model (``-P module:object --PO ...``) as text2workspace does.

:func:`run_physics_model` loads the object ``-P`` names, runs it against an emulated model builder
(:mod:`.builder`) in Combine's call order -- ``setPhysicsOptions``, ``setModelBuilder``,
``doParametersOfInterest``, ``preProcessNuisances``, ``getYieldScale`` for every process with a
non-zero rate (channel by channel, in column order), ``done`` -- and reads what it built back as a
:class:`~.setup.PhysicsSetup`. What the model prints is captured into ``PhysicsSetup.log``.

Module names: ``HiggsAnalysis.CombinedLimit.PhysicsModel`` is pycombine's stand-in
(:mod:`.physics_model`, registered in ``sys.modules`` together with its parent packages); Combine's
other modules (``HiggsCouplings``, ``SMHiggsBuilder``, ...) are refused when imported; any other
``HiggsAnalysis.CombinedLimit.X`` is the user's ``X.py`` (a model copied into Combine's python
directory, here found on the path); other names are imported from the current directory or
``PYTHONPATH``. Every problem becomes an :class:`~pycombine.errors.OptionError` of one line.
"""

from __future__ import annotations

import copy
import importlib
import importlib.machinery
import importlib.util
import io
import os
import sys
import types
from contextlib import redirect_stdout
from typing import TYPE_CHECKING

from ..errors import OptionError
from . import physics_model
from .builder import CombineDatacard, ModelBuilder, text2workspace_options
from .physics_model import PhysicsModelBase
from .setup import Expression, PhysicsSetup, Variable
from .workspace import FactoryError, Function, RealVar, Unsupported

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..datacard.model import Datacard

COMBINE_PACKAGE = "HiggsAnalysis.CombinedLimit"
PHYSICS_MODULE = f"{COMBINE_PACKAGE}.PhysicsModel"

#: the python modules of Combine other than PhysicsModel.py (physics models and tools alike)
COMBINE_MODULES = frozenset({
    "AdditionalModels", "ChargedHiggs", "DataFrameWrapper", "Datacard", "DatacardParser", "DatacardPruner",
    "DegenerateMatrixRank", "FloatingHiggsWidth", "HTTAnomalousCouplings", "HiggsBenchmarkModels",
    "HiggsCouplings", "HiggsCouplingsLOSM", "HiggsCouplings_ICHEP12", "HiggsFermiophobic", "HiggsJPC",
    "HiggsWidth", "InterferenceModels", "InvisibleWidth", "LHCHCGModels", "LOFullParametrization",
    "ModelTools", "NuisanceModifier", "QuadraticScaling", "QuasiDegenerate", "RooAddPdfFixer",
    "SMHiggsBuilder", "STXS", "STXSModels", "STXStoEFTModel", "STXStoSMEFTModel", "ShapeTools",
    "SingleTopModels", "SpinZeroHiggsCTau", "SpinZeroStructure", "TagAndProbeModel",
    "TrilinearCouplingModels", "TwoHiggsModels", "VEVandEpsilon", "calculate_pulls", "tool_base", "util",
})

_HERE = os.path.dirname(os.path.abspath(__file__))
_IMPORTLIB = os.path.dirname(os.path.abspath(importlib.__file__))


class UnsupportedCombineModule(ImportError):
    """Importing one of Combine's modules that pycombine does not provide."""


def _refusal(module: str) -> str:
    return (f"{module} is not available: pycombine supports the yield-scaling models of "
            f"{PHYSICS_MODULE} and users' own modules built on them")


class _CombineFinder:
    """Resolves ``HiggsAnalysis.CombinedLimit.X`` (X not the stand-in): refused, or the user's X.py.

    A meta path finder by protocol (``find_spec``); deriving from ``importlib.abc.MetaPathFinder``
    would import importlib.resources and tempfile (~9 ms) in every command.
    """

    def find_spec(self, fullname, path, target=None):
        prefix = COMBINE_PACKAGE + "."
        if not fullname.startswith(prefix) or not getattr(sys.modules.get(COMBINE_PACKAGE), "__pycombine__", False):
            return None
        sub = fullname[len(prefix):]
        if sub.split(".")[0] in COMBINE_MODULES:
            raise UnsupportedCombineModule(_refusal(fullname), name=fullname)
        if "." in sub:
            return None
        found = importlib.machinery.PathFinder.find_spec(sub)
        if found is None or not found.origin or not found.has_location:
            return None
        return importlib.util.spec_from_file_location(fullname, found.origin)


_FINDER = _CombineFinder()


def install_combine_modules() -> None:
    """Make ``HiggsAnalysis.CombinedLimit.PhysicsModel`` importable (pycombine's stand-in)."""
    parent = None
    for name in ("HiggsAnalysis", COMBINE_PACKAGE):
        module = sys.modules.get(name)
        if not getattr(module, "__pycombine__", False):
            module = types.ModuleType(name, "pycombine's stand-in for Combine's python package")
            module.__path__ = []  # a package: submodules go through the import system
            module.__pycombine__ = True
            sys.modules[name] = module
        if parent is not None:
            setattr(parent, name.rsplit(".", 1)[1], module)
        parent = module
    sys.modules[PHYSICS_MODULE] = physics_model
    parent.PhysicsModel = physics_model
    if _FINDER not in sys.meta_path:
        sys.meta_path.append(_FINDER)


# ---------------------------------------------------------------------------------------- loading


def _defines_models(module) -> bool:
    return any(isinstance(v, PhysicsModelBase) for v in vars(module).values())


def _import_user_module(name: str, spec: str):
    """Import ``name`` afresh (a model module keeps state, and Combine runs each model once)."""
    cached = sys.modules.get(name)
    if cached is not None and _defines_models(cached):
        del sys.modules[name]
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, cwd)
    importlib.invalidate_caches()  # the file may be new (directory listings are cached)
    try:
        return importlib.import_module(name)
    except UnsupportedCombineModule as exc:
        raise OptionError(f"physics model {spec}: {exc}") from exc
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == name or name.startswith(missing + "."):
            if name.startswith(COMBINE_PACKAGE + "."):
                short = name[len(COMBINE_PACKAGE) + 1:]
                raise OptionError(f"physics model {spec}: no module {name}: pycombine provides only "
                                  f"{PHYSICS_MODULE}; for your own model put {short}.py in the current directory "
                                  "or on PYTHONPATH") from exc
            raise OptionError(f"physics model {spec}: no module named {name!r} in the current directory "
                              "or on PYTHONPATH") from exc
        hint = " (pycombine runs without ROOT)" if missing.split(".")[0] == "ROOT" else ""
        raise OptionError(f"physics model {spec}: module {name} imports {missing!r}, which is not "
                          f"available{hint}") from exc
    except SyntaxError as exc:
        raise OptionError(f"physics model {spec}: {exc.filename}:{exc.lineno}: syntax error: {exc.msg}") from exc
    except Exception as exc:  # anything the module's own code raises while it is imported
        raise OptionError(_describe(spec, f"importing {name}", exc)) from exc
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


def load_physics_model(spec: str) -> PhysicsModelBase:
    """A fresh instance of the object ``spec`` ("module:object") names."""
    if spec.count(":") != 1:
        raise OptionError(f"physics model {spec}: expected -P <module>:<object>, e.g. "
                          f"{PHYSICS_MODULE}:multiSignalModel")
    module_name, object_name = spec.split(":")
    install_combine_modules()
    if module_name == PHYSICS_MODULE:
        module = physics_model
    else:
        module = _import_user_module(module_name, spec)
    obj = getattr(module, object_name, None)
    if obj is None:
        known = sorted(k for k, v in vars(module).items() if isinstance(v, PhysicsModelBase))
        listed = f" (it defines {', '.join(known)})" if known else ""
        raise OptionError(f"physics model {spec}: module {module_name} has no object {object_name!r}{listed}")
    if isinstance(obj, type):
        raise OptionError(f"physics model {spec}: {object_name} is a class; -P names an instance "
                          f"(e.g. myModel = {object_name}())")
    if not isinstance(obj, PhysicsModelBase):
        raise OptionError(f"physics model {spec}: {object_name} is not a physics model (it must be an instance of "
                          f"a class deriving from {PHYSICS_MODULE}.PhysicsModelBase)")
    # the objects of the stand-in module are shared: work on a copy so that every run starts afresh
    return copy.deepcopy(obj) if module is physics_model else obj


# ---------------------------------------------------------------------------------------- errors


def _location(tb) -> tuple[str, int] | None:
    """The innermost frame outside pycombine's physics package (the user's code), if any."""
    found = None
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        path = os.path.abspath(name)
        if not name.startswith("<") and os.path.dirname(path) != _HERE and not path.startswith(_IMPORTLIB):
            found = (name, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _raised_here(tb) -> bool:
    while tb.tb_next is not None:
        tb = tb.tb_next
    return os.path.dirname(os.path.abspath(tb.tb_frame.f_code.co_filename)) == _HERE


def _describe(spec: str, phase: str, exc: BaseException) -> str:
    """One line: which model, in which call, what went wrong and where in the user's code."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    tb = exc.__traceback__
    ours = tb is not None and _raised_here(tb) and isinstance(exc, (RuntimeError, ValueError, Unsupported))
    if not ours and not isinstance(exc, (FactoryError, Unsupported)):
        text = f"{type(exc).__name__}: {text}"
    where = _location(tb) if tb is not None else None
    at = f" (at {os.path.basename(where[0])}:{where[1]})" if where else ""
    return f"physics model {spec}: {phase}: {text}{at}"


# ---------------------------------------------------------------------------------------- running


def run_physics_model(card: "Datacard", spec: str, options, mass: float) -> PhysicsSetup:
    """Run the physics model ``spec`` with ``--PO`` ``options`` on ``card``."""
    options = tuple(options)
    captured = io.StringIO()
    with redirect_stdout(captured):
        setup = _run(card, spec, options, mass)
    setup.log = captured.getvalue().splitlines()
    return setup


def _run(card: "Datacard", spec: str, options: tuple[str, ...], mass: float) -> PhysicsSetup:
    model = load_physics_model(spec)
    builder = ModelBuilder(CombineDatacard(card), text2workspace_options(card, spec, list(options), mass))
    phase = "setPhysicsOptions"
    try:
        model.setPhysicsOptions(list(options))
        phase = "setModelBuilder"
        builder.setPhysics(model)
        phase = "doParametersOfInterest"
        model.doParametersOfInterest()
        if type(model).preProcessNuisances is not PhysicsModelBase.preProcessNuisances:
            phase = "preProcessNuisances"
            systs = builder.DC.systs
            before = copy.deepcopy(systs)
            model.preProcessNuisances(systs)
            if systs != before:
                raise Unsupported("it changes the systematics; pycombine does not let a physics model edit "
                                  "nuisances (use 'nuisance edit' lines in the datacard instead)")
        scales = _scales(card, model, builder, spec)
        phase = "done"
        model.done()
    except OptionError:
        raise
    except Exception as exc:
        raise OptionError(_describe(spec, phase, exc)) from exc
    return _collect(spec, options, builder, scales)


def _scales(card: "Datacard", model, builder: ModelBuilder, spec: str) -> dict:
    """``getYieldScale`` of every process with a non-zero rate, checked as Combine's builder does."""
    objects = builder.out.objects
    card_names = None
    scales: dict[str, str | int] = {}
    get = model.getYieldScale
    b = p = ""
    try:
        for b in card.channels:
            for p, rate in card.rates.get(b, {}).items():
                if rate == 0:
                    continue
                s = get(b, p)
                if isinstance(s, str):
                    if s not in objects:
                        if card_names is None:
                            card_names = card.all_parameter_names()
                        if s not in card_names:
                            raise OptionError(f"physics model {spec}: getYieldScale({b!r}, {p!r}) returned {s!r}, "
                                              "which is neither an object the model created nor a parameter of "
                                              "the datacard")
                    scales[f"{b}/{p}"] = s
                elif s == 0:
                    scales[f"{b}/{p}"] = 0
                elif s == 1:
                    scales[f"{b}/{p}"] = 1
                else:
                    raise OptionError(f"physics model {spec}: getYieldScale({b!r}, {p!r}) returned {s!r}; "
                                      "expected the name of a parameter or function, 1 or 0")
    except OptionError:
        raise
    except Exception as exc:
        raise OptionError(_describe(spec, f"getYieldScale({b!r}, {p!r})", exc)) from exc
    return scales


def _collect(spec: str, options: tuple[str, ...], builder: ModelBuilder, scales: dict) -> PhysicsSetup:
    """The workspace the model filled, as a PhysicsSetup (after the checks a template model needs)."""
    ws = builder.out
    poi_set = ws.sets.get("POI")
    if poi_set is None:
        why = ws.set_errors.get("POI") or "the model never defined it (doSet(\"POI\", \"a,b,...\"))"
        raise OptionError(f"physics model {spec}: no set of parameters of interest: {why}")
    pois = poi_set.names()
    for name in pois:
        if not isinstance(ws.objects[name], RealVar):
            raise OptionError(f"physics model {spec}: the POI {name!r} is a function, not a variable")
    if not pois:
        raise OptionError(f"physics model {spec}: the model defines no parameter of interest")
    mh = ws.var("MH")
    if mh is not None and not mh.isConstant():
        raise OptionError(f"physics model {spec}: MH floats, which pycombine does not support: its models are built "
                          "from templates whose yields do not depend on MH (MH can only be fixed, with -m)")
    variables, expressions = [], []
    for obj in ws.objects.values():
        if isinstance(obj, RealVar):
            lo, hi = obj.bounds()
            variables.append(Variable(obj.GetName(), obj.getVal(), lo, hi, obj.isConstant()))
        elif isinstance(obj, Function):
            expressions.append(Expression(obj.GetName(), obj.formula, tuple(obj.args)))
    return PhysicsSetup(spec, options, variables, pois, expressions, scales)
