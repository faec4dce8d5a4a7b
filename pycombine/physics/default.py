"""Combine's default physics model: one signal strength ``r`` multiplying every signal process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import POI, PhysicsModel

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..datacard.model import Datacard


class DefaultModel(PhysicsModel):
    """``HiggsAnalysis.CombinedLimit.PhysicsModel:defaultModel``: ``r`` in [0, 20], starting at 1."""

    name = "defaultModel"

    def pois(self, card: "Datacard") -> list[POI]:
        return [POI("r", 1.0, 0.0, 20.0)]

    def yield_scale(self, card: "Datacard", channel: str, process: str) -> str | float:
        return "r" if card.is_signal[process] else 1
