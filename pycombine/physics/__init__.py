"""Physics models (text2workspace's ``-P module:object --PO ...``): the POIs and how they scale yields.

:func:`resolve_physics` runs a physics model against a datacard and returns a
:class:`~.setup.PhysicsSetup` (plain data: variables, POIs, expressions, a scale per process);
the model builder reads only that record. Models are Combine's own (``PhysicsModel.py``'s
yield-scaling models, re-implemented in :mod:`.physics_model`) or users' modules written for
Combine, run unchanged against an emulation of the parts of Combine's ModelBuilder they use
(:mod:`.loader`, :mod:`.builder`, :mod:`.workspace`). Combine's default model gives one POI ``r``
in [0, 20] scaling every signal process.

The machinery is imported on the first call, so ``import pycombine.physics`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .setup import DEFAULT_MODEL, Expression, PhysicsSetup, Scale, Variable

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..datacard.model import Datacard

__all__ = ["DEFAULT_MODEL", "Expression", "PhysicsSetup", "Scale", "Variable", "resolve_physics"]


def resolve_physics(card: "Datacard", model: str = DEFAULT_MODEL, options: tuple[str, ...] | list[str] = (),
                    mass: float = 0.0) -> PhysicsSetup:
    """Run the physics model ``model`` ("module:object") with ``--PO`` ``options`` on ``card``.

    ``mass`` is text2workspace's ``-m`` (0: not given). What the model printed is in the result's
    ``log``; every problem is raised as :class:`~pycombine.errors.OptionError`.
    """
    from .loader import run_physics_model

    return run_physics_model(card, model, tuple(options), mass)
