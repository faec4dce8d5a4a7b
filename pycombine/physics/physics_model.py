"""pycombine's stand-in for Combine's ``HiggsAnalysis.CombinedLimit.PhysicsModel`` module.

When a physics model is resolved, this module is registered in ``sys.modules`` under Combine's
name, so that ``-P HiggsAnalysis.CombinedLimit.PhysicsModel:multiSignalModel`` and users' modules
doing ``from HiggsAnalysis.CombinedLimit.PhysicsModel import PhysicsModel`` (or ``import *``) run
unchanged. It offers the names of Combine's module -- the classes users subclass, the Higgs
production and decay lists, ``getHiggsProdDecMode`` and the objects ``-P`` names -- implemented by
pycombine in :mod:`.model_classes` and :mod:`.higgs_models`, for the models that only scale yields:
``defaultModel``, ``multiSignalModel``, ``strictSMLikeHiggs``, ``floatingXSHiggs``, ``rVrFXSHiggs``,
``floatingBRHiggs``, ``rVFBRHiggs``, ``thetaVFBRHiggs``, ``floatingXSBRHiggs``,
``doubleRatioHiggs`` and ``ratioBRSMHiggs``. ``floatingHiggsMass`` (and ``--PO higgsMassRange=``)
is refused: pycombine's models are templates whose yields do not depend on MH.
"""

from __future__ import annotations

import re
from abc import ABCMeta, abstractmethod

from .higgs_models import (
    ALL_HIGGS_DECAYS,
    ALL_HIGGS_PROD,
    BSM_HIGGS_DECAYS,
    SM_HIGG_DECAYS,
    SM_HIGG_PROD,
    DoubleRatioHiggs,
    FloatingBRHiggs,
    FloatingHiggsMass,
    FloatingXSBRHiggs,
    FloatingXSHiggs,
    RatioBRSMHiggs,
    RvfBRHiggs,
    RvRfXSHiggs,
    SMLikeHiggsModel,
    StrictSMLikeHiggsModel,
    ThetaVFBRHiggs,
    getHiggsProdDecMode,
)
from .model_classes import (
    CanTurnOffBkgModel,
    HiggsMassRangeModel,
    MultiSignalModel,
    MultiSignalModelBase,
    PhysicsModel,
    PhysicsModelBase,
    PhysicsModelBase_NiceSubclasses,
)

# what ``from HiggsAnalysis.CombinedLimit.PhysicsModel import *`` gives in Combine (its module has
# no __all__, so its imports -- re, ABCMeta, abstractmethod -- come along and some models rely on it)
__all__ = [
    "re", "ABCMeta", "abstractmethod",
    "PhysicsModelBase", "PhysicsModelBase_NiceSubclasses", "PhysicsModel", "MultiSignalModelBase",
    "CanTurnOffBkgModel", "HiggsMassRangeModel", "MultiSignalModel",
    "SM_HIGG_DECAYS", "SM_HIGG_PROD", "BSM_HIGGS_DECAYS", "ALL_HIGGS_DECAYS", "ALL_HIGGS_PROD", "getHiggsProdDecMode",
    "SMLikeHiggsModel", "StrictSMLikeHiggsModel", "FloatingHiggsMass", "FloatingXSHiggs", "RvRfXSHiggs",
    "FloatingBRHiggs", "RvfBRHiggs", "ThetaVFBRHiggs", "FloatingXSBRHiggs", "DoubleRatioHiggs", "RatioBRSMHiggs",
    "defaultModel", "multiSignalModel", "strictSMLikeHiggs", "floatingXSHiggs", "rVrFXSHiggs", "floatingBRHiggs",
    "rVFBRHiggs", "thetaVFBRHiggs", "floatingXSBRHiggs", "floatingHiggsMass", "doubleRatioHiggs", "ratioBRSMHiggs",
]

defaultModel = PhysicsModel()
multiSignalModel = MultiSignalModel()
strictSMLikeHiggs = StrictSMLikeHiggsModel()
floatingXSHiggs = FloatingXSHiggs()
rVrFXSHiggs = RvRfXSHiggs()
floatingBRHiggs = FloatingBRHiggs()
rVFBRHiggs = RvfBRHiggs()
thetaVFBRHiggs = ThetaVFBRHiggs()
floatingXSBRHiggs = FloatingXSBRHiggs()
floatingHiggsMass = FloatingHiggsMass()
doubleRatioHiggs = DoubleRatioHiggs()
ratioBRSMHiggs = RatioBRSMHiggs()
