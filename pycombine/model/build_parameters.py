"""The parameters of the model other than systematic nuisances, and the parameter groups.

POIs and their expressions come from the physics model (``-P``); extArgs and rateParams are free
parameters or formulas declared in the card; ``nuisance edit freeze`` and ``--channel-masks``
add their flags and mask parameters. The nuisances of the systematic lines are made by
:func:`~pycombine.model.build_nuisances.add_nuisance`, in card order, before extArgs and rateParams
(a name already created keeps its first definition).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..datacard.model import Datacard
from ..datacard.parse import parse_range
from ..errors import DatacardError
from ..physics import PhysicsSetup
from .build_nuisances import add_nuisance
from .formula import Formula, FormulaError
from .spec import FormulaSpec, Parameter


@dataclass
class ParameterTable:
    """The parameters and formulas built so far, and the global observables of the systematic lines."""

    params: dict[str, Parameter] = field(default_factory=dict)
    formulas: dict[str, FormulaSpec] = field(default_factory=dict)
    global_obs: list[str] = field(default_factory=list)  # one entry per constrained line, may repeat
    constants: dict[str, float] = field(default_factory=dict)  # unused constants of the physics model (MH)

    def add(self, p: Parameter) -> Parameter:
        """Add (or replace) ``p`` by name and return it."""
        self.params[p.name] = p
        return p

    def defines(self, name: str) -> bool:
        """Whether ``name`` is a parameter or a formula."""
        return name in self.params or name in self.formulas


def build_parameters(card: Datacard, physics: PhysicsSetup, channel_masks: bool) -> ParameterTable:
    """All parameters and formulas the card and the physics model declare (autoMCStats ones come later)."""
    table = ParameterTable()
    _physics_parameters(physics, table)
    for e in physics.expressions:
        try:
            Formula(e.name, e.formula, list(e.args))
        except FormulaError as exc:
            raise DatacardError(f"physics model {physics.model}: expression '{e.name}': {exc}") from None
        table.formulas[e.name] = FormulaSpec(e.name, e.formula, list(e.args))
    for s in card.systematics:
        add_nuisance(table.params, table.global_obs, s)
    _ext_args(card, table)
    _rate_params(card, table)
    for e in physics.expressions:
        missing = [a for a in e.args if not table.defines(a)]
        if missing:
            raise DatacardError(f"physics model {physics.model}: expression '{e.name}' uses "
                                f"{', '.join(repr(a) for a in missing)}, which neither the model nor the card defines")
    for name in card.frozen:
        if name in table.params:
            table.params[name].frozen = True
    if channel_masks:
        for c in card.channels:
            name = f"mask_{c}"
            if name not in table.params:
                table.add(Parameter(name, 0.0, None, None, kind="extArg", frozen=True, origin="mask"))
    return table


def _physics_parameters(physics: PhysicsSetup, table: ParameterTable) -> None:
    """The POIs (in the POI set's order), then the model's other variables in creation order.

    A constant variable that no yield scale or expression uses (Combine's ``MH[mass]``) changes
    nothing in a template model: it is kept aside in ``table.constants`` (run-time options may
    still name it, as in Combine's workspace) instead of becoming a parameter.
    """
    used = {s for s in physics.scales.values() if isinstance(s, str)}
    used.update(a for e in physics.expressions for a in e.args)
    by_name = {v.name: v for v in physics.variables}
    for name in physics.pois:
        v = by_name.get(name)
        if v is None:
            raise DatacardError(f"physics model {physics.model}: POI {name!r} was never created (doVar)")
        table.add(Parameter(name, v.value, v.lo, v.hi, kind="poi", frozen=v.constant, origin="POI"))
    for v in physics.variables:
        if v.name in table.params:
            continue
        if v.constant and v.name not in used:
            table.constants[v.name] = v.value
            continue
        table.add(Parameter(v.name, v.value, v.lo, v.hi, kind="physics", frozen=v.constant, origin="physics model"))


def _ext_args(card: Datacard, table: ParameterTable) -> None:
    """extArg lines: free parameters with a value and an optional range (``[const]`` freezes them)."""
    for name, tokens in card.ext_args.items():
        if name in table.params:
            continue
        line = card.ext_arg_lines.get(name)
        last = tokens[-1]
        if ":" in last:
            raise DatacardError(
                f"extArg '{name}' imports from a ROOT workspace ({last}); RooFit inputs are not supported", line=line
            )
        value_text, rng_text = (tokens[-2], tokens[-1]) if len(tokens) > 3 else (tokens[-1], "")
        if rng_text and "[" not in rng_text:
            raise DatacardError(f"extArg '{name}': expected a range [min,max] or [const], got {rng_text!r}", line=line)
        try:
            value = float(value_text)
        except ValueError:
            raise DatacardError(f"extArg '{name}': value {value_text!r} is not a number", line=line) from None
        inner = rng_text.strip("[]")
        frozen = inner == "const"
        if inner in ("", "const"):
            lo = hi = None
        else:
            lo, hi = parse_range(rng_text, f"extArg '{name}'", line)
        table.add(Parameter(name, value, lo, hi, kind="extArg", frozen=frozen, line=line, origin="extArg"))


def _rate_params(card: Datacard, table: ParameterTable) -> None:
    """rateParam lines: free yield multipliers, and formulas of other parameters in dependency order."""
    for entries in card.rate_params.values():
        for rp in entries:
            if rp.kind == "workspace":
                raise DatacardError(
                    f"rateParam '{rp.name}' imports from a ROOT workspace ({rp.value}); "
                    "RooFit inputs are not supported",
                    line=rp.line,
                )
    for entries in card.rate_params.values():
        for rp in entries:
            if rp.kind != "value" or rp.name in table.params:
                continue
            v = float(rp.value)
            if rp.range:
                lo, hi = parse_range(rp.range, f"rateParam '{rp.name}'", rp.line)
                if v < lo or v > hi:
                    raise DatacardError(
                        f"rateParam '{rp.name}': initial value {rp.value} is outside its range {rp.range}", line=rp.line
                    )
            else:
                lo = hi = None  # created in [-2|v|, 2|v|] and then unbounded by Combine
            table.add(Parameter(rp.name, v, lo, hi, kind="rateParam", line=rp.line, origin="rateParam"))
    pending = []
    for entries in card.rate_params.values():
        for rp in entries:
            if rp.kind == "formula" and not table.defines(rp.name):
                if all(pending_rp.name != rp.name for pending_rp in pending):
                    pending.append(rp)
    while pending:
        progress = False
        for rp in list(pending):
            if all(table.defines(a) for a in rp.arg_names):
                try:
                    Formula(rp.name, rp.value, rp.arg_names)
                except FormulaError as exc:
                    raise DatacardError(f"rateParam '{rp.name}': {exc}", line=rp.line) from None
                table.formulas[rp.name] = FormulaSpec(rp.name, rp.value, rp.arg_names, rp.line)
                pending.remove(rp)
                progress = True
        if not progress:
            names = ", ".join(rp.name for rp in pending)
            missing = sorted({a for rp in pending for a in rp.arg_names if not table.defines(a)})
            raise DatacardError(
                f"cannot build rateParam formula(s) {names}: unknown argument(s) {', '.join(missing)}",
                line=pending[0].line,
            )


def assign_groups(card: Datacard, params: dict[str, Parameter]) -> dict[str, list[str]]:
    """Check the ``group`` lines and record each parameter's groups; returns group -> members."""
    known = card.all_parameter_names()
    for group, members in card.groups.items():
        for m in members:
            if m not in known:
                raise DatacardError(
                    f"group '{group}' refers to '{m}', which is not a parameter of this datacard (misspelled?)",
                    line=card.group_lines.get(group),
                )
            if m in params:
                params[m].groups.append(group)
    return {g: list(m) for g, m in card.groups.items()}
