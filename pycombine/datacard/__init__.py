"""The datacard language: parsing text cards into :class:`Datacard` and combining cards."""

from .combine_cards import CombineCardsOptions, combine_cards
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
