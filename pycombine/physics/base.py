"""The physics-model interface (Combine's ``python/PhysicsModel.py``).

Physics models only describe; they hold no arrays and import nothing of the model builder, so
they can be written (and tested) on their own: plain data in, names and expressions out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..datacard.model import Datacard


@dataclass(frozen=True)
class POI:
    """A parameter of interest: initial value and range (Combine's ``r[1,0,20]``)."""

    name: str
    init: float
    lo: float | None
    hi: float | None


@dataclass(frozen=True)
class Expression:
    """A function of other parameters (Combine's ``expr::name("formula", args)``)."""

    name: str
    formula: str
    args: tuple[str, ...]


class PhysicsModel:
    """Declares the POIs and scales each process's yield.

    ``yield_scale`` returns the name of a POI or :class:`Expression` multiplying the yield of
    ``process`` in ``channel``, ``1`` for an unscaled process, or ``0`` for a process the model
    switches off.
    """

    #: the name Combine's ``-P`` uses for the model
    name: str = "PhysicsModel"

    def set_options(self, options: list[str]) -> None:
        """``--PO`` options; the base model takes none."""
        if options:
            from ..errors import OptionError

            raise OptionError(f"physics model {self.name} takes no --PO options, got {', '.join(options)}")

    def pois(self, card: "Datacard") -> list[POI]:
        raise NotImplementedError

    def expressions(self, card: "Datacard") -> list[Expression]:
        return []

    def yield_scale(self, card: "Datacard", channel: str, process: str) -> str | float:
        raise NotImplementedError
