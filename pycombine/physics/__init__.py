"""Physics models (text2workspace's ``-P module:object --PO ...``): the POIs and how they scale yields.

:func:`resolve_physics` runs a physics model against a datacard and returns a
:class:`~.setup.PhysicsSetup` (plain data: variables, POIs, expressions, a scale per process);
the model builder reads only that record. Combine's default model gives one POI ``r`` in
[0, 20] scaling every signal process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .setup import DEFAULT_MODEL, Expression, PhysicsSetup, Scale, Variable

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..datacard.model import Datacard

__all__ = ["DEFAULT_MODEL", "Expression", "PhysicsSetup", "Scale", "Variable", "resolve_physics"]


def resolve_physics(card: "Datacard", model: str = DEFAULT_MODEL, options: tuple[str, ...] | list[str] = (),
                    mass: float = 0.0) -> PhysicsSetup:
    """Run the physics model ``model`` ("module:object") with ``--PO`` ``options`` on ``card``."""
    if model != DEFAULT_MODEL or options:
        from ..errors import OptionError

        raise OptionError(f"physics model {model}: only Combine's default model is supported")
    scales = {f"{b}/{p}": ("r" if card.is_signal[p] else 1)
              for b in card.channels for p in card.channel_processes(b) if card.rates[b][p] != 0}
    return PhysicsSetup(model, tuple(options), [Variable("r", 1.0, 0.0, 20.0)], ["r"], [], scales)
