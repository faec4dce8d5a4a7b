"""What a physics model contributes to the model, as plain data (:class:`PhysicsSetup`).

A physics model (text2workspace's ``-P module:object --PO ...``) creates parameters (the POIs and
possibly other variables), functions of them (``expr::``), and names, for every process of every
channel, what multiplies its yield: a parameter or function name, ``1`` (unscaled) or ``0``
(switched off). Resolving a model against a datacard (:func:`pycombine.physics.resolve_physics`)
gives a :class:`PhysicsSetup`; the model builder (:mod:`pycombine.model.build`) reads only this
record, and a workspace file stores it (:meth:`PhysicsSetup.to_json`), so a workspace does not
need the physics model's Python module any more.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: the model ``-P`` names when none is given (Combine's text2workspace default)
DEFAULT_MODEL = "HiggsAnalysis.CombinedLimit.PhysicsModel:defaultModel"


@dataclass(frozen=True)
class Variable:
    """A variable the model created (Combine's ``doVar("name[value,lo,hi]")``).

    ``lo``/``hi`` are None for an unbounded side; ``constant`` is RooFit's constant flag
    (``name[value]`` creates a constant, ``setConstant`` changes it).
    """

    name: str
    value: float
    lo: float | None = None
    hi: float | None = None
    constant: bool = False


@dataclass(frozen=True)
class Expression:
    """A function of other parameters (Combine's ``expr::name("formula", args)``), RooFormulaVar syntax."""

    name: str
    formula: str
    args: tuple[str, ...]


Scale = str | int  # a parameter or expression name, 1 (unscaled) or 0 (switched off)


@dataclass
class PhysicsSetup:
    """A physics model resolved against one datacard."""

    model: str  # "module:object" as given to -P
    options: tuple[str, ...] = ()  # --PO
    variables: list[Variable] = field(default_factory=list)  # in creation order
    pois: list[str] = field(default_factory=list)  # the POI set, in its order
    expressions: list[Expression] = field(default_factory=list)  # in creation order
    #: "channel/process" -> scale, for every process with a non-zero rate
    scales: dict[str, Scale] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)  # what the model printed (text2workspace's output)

    def scale(self, channel: str, process: str) -> Scale:
        """What multiplies the yield of ``process`` in ``channel`` (1 if the model said nothing)."""
        return self.scales.get(f"{channel}/{process}", 1)

    def variable(self, name: str) -> Variable | None:
        return next((v for v in self.variables if v.name == name), None)

    # ------------------------------------------------------------------ storage
    def to_json(self) -> dict:
        """A JSON-able dict (the workspace file stores it)."""
        return {
            "model": self.model,
            "options": list(self.options),
            "variables": [[v.name, v.value, v.lo, v.hi, v.constant] for v in self.variables],
            "pois": list(self.pois),
            "expressions": [[e.name, e.formula, list(e.args)] for e in self.expressions],
            "scales": dict(self.scales),
            "log": list(self.log),
        }

    @classmethod
    def from_json(cls, data: dict) -> "PhysicsSetup":
        return cls(
            model=str(data["model"]),
            options=tuple(data.get("options", ())),
            variables=[Variable(str(n), float(v), lo, hi, bool(c)) for n, v, lo, hi, c in data["variables"]],
            pois=[str(p) for p in data["pois"]],
            expressions=[Expression(str(n), str(f), tuple(a)) for n, f, a in data.get("expressions", ())],
            scales={str(k): (v if isinstance(v, str) else int(v)) for k, v in data.get("scales", {}).items()},
            log=[str(line) for line in data.get("log", ())],
        )
