"""Physics models (text2workspace's ``-P module:model --PO ...``): the POIs and how they scale yields.

A physics model declares the parameters of interest and the functions of them
(:class:`~.base.Expression`), and names, for every (channel, process), the parameter or
function that multiplies its yield (:meth:`~.base.PhysicsModel.yield_scale`). The model
builder (:mod:`pycombine.model.build`) asks the model and never hard-codes a POI.

Combine's default model is :class:`~.default.DefaultModel` (one POI ``r`` scaling every signal
process).
"""

from .base import POI, Expression, PhysicsModel
from .default import DefaultModel

__all__ = ["DefaultModel", "Expression", "PhysicsModel", "POI"]
