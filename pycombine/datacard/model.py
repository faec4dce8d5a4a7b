"""The parsed datacard: plain, typed containers for what the text says.

This is the first intermediate representation of pycombine. It mirrors Combine's own ``Datacard``
class (``python/Datacard.py``) closely, because ``combineCards.py`` and the model builder both need
the card *as written* (column order, value spelling, the order of lines), but with types and the
source line of every statement so later stages can point at the line a problem comes from.

Nothing here reads shape files; :mod:`pycombine.build` turns a :class:`Datacard` plus its shape
inputs into the numeric model description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

#: The effect of a systematic on one (channel, process) column: ``0.0`` means "no effect",
#: a float is a symmetric value (lnN kappa, shape scale, gmN alpha, ...), a pair is an
#: asymmetric ``kappa_down/kappa_up``.
Effect = Union[float, tuple[float, float]]

#: Systematic types whose lines carry one value per column.
PER_COLUMN_TYPES = ("lnN", "lnU", "gmN", "gmM", "trG", "unif", "dFD", "dFD2")


def is_shape_type(pdf: str) -> bool:
    """True for ``shape``, ``shape?``, ``shapeN``, ``shapeU``, ``shape2``, ... (Combine: startswith)."""
    return pdf.startswith("shape")


@dataclass
class Column:
    """One column of the ``bin/process/process/rate`` block."""

    channel: str
    process: str
    is_signal: bool


@dataclass
class Systematic:
    """A line of the systematics section that defines a constrained (or lnU/flat) nuisance.

    ``args`` holds the type arguments: ``[N]`` for gmN, ``[mean, sigma(, range)]`` (strings, as
    written) for param, ``[lo, hi]`` for unif, ``[k]`` for dFD/dFD2, raw tokens for constr.
    ``effects[channel][process]`` is defined for every column of the card (0.0 = none).
    """

    name: str
    pdf: str
    args: list
    effects: dict[str, dict[str, Effect]]
    nofloat: bool = False
    line: int | None = None

    def effect(self, channel: str, process: str) -> Effect:
        return self.effects.get(channel, {}).get(process, 0.0)

    @property
    def has_columns(self) -> bool:
        return self.pdf not in ("param", "constr", "flatParam")


@dataclass
class RateParam:
    """A ``rateParam`` entry for one (channel, process) pair.

    ``kind`` is ``"value"`` (``init [lo,hi]``), ``"formula"`` (``expression args``) or
    ``"workspace"`` (``file.root:ws``, needs RooFit). ``value`` is the text as written.
    """

    name: str
    channel: str
    process: str
    kind: Literal["value", "formula", "workspace"]
    value: str
    formula_args: str | None = None
    range: str = ""
    line: int | None = None

    @property
    def arg_names(self) -> list[str]:
        return self.formula_args.split(",") if self.formula_args else []


@dataclass
class ShapeLine:
    """A ``shapes`` line: where the templates of (process, channel) come from."""

    process: str
    channel: str
    fields: list[str]  # file [object [systematics object]] or ["FAKE"]
    line: int | None = None

    @property
    def is_fake(self) -> bool:
        return len(self.fields) == 1 and self.fields[0] == "FAKE"


@dataclass
class AutoMCStats:
    """``<channel> autoMCStats threshold [include-signal] [hist-mode]`` settings of one channel."""

    threshold: float
    include_signal: bool = False
    hist_mode: int = 1
    line: int | None = None


@dataclass
class NuisanceEdit:
    """A ``nuisance edit`` line (kept unevaluated by combineCards.py)."""

    command: str
    args: list[str]
    line: int | None = None


@dataclass
class Datacard:
    """Everything a text datacard declares, in Combine's terms (a *channel* is a datacard bin)."""

    path: str | None = None
    channels: list[str] = field(default_factory=list)
    #: observed events per channel; empty when the card has no ``observation`` line
    observations: dict[str, float] = field(default_factory=dict)
    processes: list[str] = field(default_factory=list)
    is_signal: dict[str, bool] = field(default_factory=dict)
    columns: list[Column] = field(default_factory=list)
    #: the ``rate`` column per channel and process, in column order (-1 = template integral)
    rates: dict[str, dict[str, float]] = field(default_factory=dict)
    systematics: list[Systematic] = field(default_factory=list)
    #: shapes lines: shape_map[channel or "*"][process or "*"]
    shape_map: dict[str, dict[str, ShapeLine]] = field(default_factory=dict)
    #: flatParam declarations: name -> extra tokens
    flat_params: dict[str, list[str]] = field(default_factory=dict)
    #: rateParams keyed by (channel, process), each a list in line order
    rate_params: dict[tuple[str, str], list[RateParam]] = field(default_factory=dict)
    #: names of all rateParams in order of first appearance
    rate_param_names: list[str] = field(default_factory=list)
    #: extArg lines: name -> all tokens of the line
    ext_args: dict[str, list[str]] = field(default_factory=dict)
    ext_arg_lines: dict[str, int | None] = field(default_factory=dict)
    discretes: list[str] = field(default_factory=list)
    #: nuisance groups: name -> members (insertion ordered, no repetitions)
    groups: dict[str, list[str]] = field(default_factory=dict)
    group_lines: dict[str, int | None] = field(default_factory=dict)
    auto_mc_stats: dict[str, AutoMCStats] = field(default_factory=dict)
    #: nuisance edits kept unevaluated (combineCards.py mode)
    nuisance_edits: list[NuisanceEdit] = field(default_factory=list)
    #: parameters frozen by ``nuisance edit freeze``
    frozen: list[str] = field(default_factory=list)
    #: templates of renamed shape systematics keep their old name: (new, channel, process) -> old
    shape_template_names: dict[tuple[str, str, str], str] = field(default_factory=dict)
    #: globally renamed param lines: old -> new
    param_renames: dict[str, str] = field(default_factory=dict)
    #: line numbers of the header statements, for messages raised after parsing
    lines: dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------------ helpers
    @property
    def has_shapes(self) -> bool:
        """A card "has shapes" iff it has at least one ``shapes`` line (else it is a counting card)."""
        return len(self.shape_map) > 0

    @property
    def signals(self) -> list[str]:
        return [p for p in self.processes if self.is_signal.get(p)]

    @property
    def backgrounds(self) -> list[str]:
        return [p for p in self.processes if not self.is_signal.get(p)]

    def channel_processes(self, channel: str) -> list[str]:
        """Processes of a channel in column order (including those with rate 0)."""
        return list(self.rates.get(channel, {}))

    def systematic(self, name: str) -> Systematic | None:
        for s in self.systematics:
            if s.name == name:
                return s
        return None

    def all_parameter_names(self) -> set[str]:
        """Every name that denotes a model parameter declared in the card (Combine's getAllVariables)."""
        names = {s.name for s in self.systematics}
        names.update(self.flat_params)
        names.update(self.ext_args)
        names.update(self.discretes)
        names.update(self.rate_param_names)
        return names

    def shape_line_for(self, channel: str, process: str) -> ShapeLine | None:
        """The shapes line that applies to (channel, process), with Combine's precedence.

        The entry list of the channel (or of ``*`` if the channel has none) is searched for the
        process, then ``*``; failing that the ``*`` channel list is searched the same way.
        Returns None when nothing matches.
        """
        if channel in self.shape_map:
            entries = self.shape_map[channel]
        elif "*" in self.shape_map:
            entries = self.shape_map["*"]
        else:
            return None
        if process in entries:
            return entries[process]
        if "*" in entries:
            return entries["*"]
        star = self.shape_map.get("*", {})
        if process in star:
            return star[process]
        return star.get("*")
