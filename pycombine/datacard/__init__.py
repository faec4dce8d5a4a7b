"""The datacard language: parsing text cards into :class:`Datacard` and combining cards."""

from .model import (
    AutoMCStats,
    Column,
    Datacard,
    NuisanceEdit,
    RateParam,
    ShapeLine,
    Systematic,
)
from .parse import ParseOptions, parse_datacard, parse_datacard_text

#: combineCards.py's engine, imported on first use: a combine command on one card never needs it
_LAZY = {"CombineCardsOptions": "combine_cards", "combine_cards": "combine_cards"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AutoMCStats",
    "CombineCardsOptions",
    "combine_cards",
    "Column",
    "Datacard",
    "NuisanceEdit",
    "ParseOptions",
    "RateParam",
    "ShapeLine",
    "Systematic",
    "parse_datacard",
    "parse_datacard_text",
]
