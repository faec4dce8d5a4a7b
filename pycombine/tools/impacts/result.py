"""The results of ``pycombine impacts``: per-parameter entries, ``impacts.json`` and a summary table.

:meth:`ImpactsResult.to_json` is combineTool's layout and :func:`dumps` its formatting (sorted
keys, indent 2, no trailing newline): the text combineTool writes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ImpactsResult", "ParamImpact", "dumps", "summary_lines", "write_json"]


@dataclass
class ParamImpact:
    """One parameter's entry of impacts.json."""

    name: str
    type: str
    prefit: list[float]
    groups: list[str]
    fit: list[float] | None = None  # [θ_lo, θ̂, θ_hi]
    pois: dict[str, list[float]] = field(default_factory=dict)  # poi -> [at θ_lo, best, at θ_hi]
    ok: bool = True
    nfits: int = 0
    at_limit: tuple[bool, bool] = (False, False)

    def impact(self, poi: str) -> float:
        lo, best, hi = self.pois[poi]
        return max(abs(hi - best), abs(lo - best))

    def to_json(self) -> dict:
        d: dict[str, Any] = {"name": self.name, "type": self.type, "prefit": list(self.prefit),
                             "groups": list(self.groups)}
        if self.fit is not None:
            d["fit"] = list(self.fit)
            for p, v in self.pois.items():
                d[p] = list(v)
                d["impact_" + p] = self.impact(p)
        return d


@dataclass
class ImpactsResult:
    """Everything ``pycombine impacts`` computed; :meth:`to_json` is combineTool's layout."""

    pois: list[str]
    poi_fits: dict[str, list[float]]  # poi -> [lo, best, hi]
    params: list[ParamImpact]
    method: str  # "default" or "hesse"
    missing: list[str] = field(default_factory=list)
    best: dict[str, float] = field(default_factory=dict)  # all parameters at the best fit
    seconds: float = 0.0
    nfits: int = 0

    def to_json(self) -> dict:
        return {
            "POIs": [{"name": p, "fit": list(self.poi_fits[p])} for p in self.pois],
            "method": self.method,
            "params": [p.to_json() for p in self.params if p.ok],
        }

    def dumps(self) -> str:
        """The text combineTool writes (sorted keys, indent 2, no trailing newline)."""
        return dumps(self.to_json())


def dumps(data: dict) -> str:
    return json.dumps(data, sort_keys=True, indent=2, separators=(",", ": "))


def write_json(path: str, result: ImpactsResult | dict) -> None:
    """Write impacts.json atomically."""
    text = result.dumps() if isinstance(result, ImpactsResult) else dumps(result)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def summary_lines(result: ImpactsResult) -> list[str]:
    """A table like MultiDimFit's ``--algo impact`` lines, one per parameter."""
    width = max([9] + [len(p.name) for p in result.params])
    head = f"  {'Parameter':<{width}} :   {'Best-fit':<21}" + "".join(f"  {p:<13}" for p in result.pois)
    lines = [head]
    for p in result.params:
        if not p.ok:
            lines.append(f"  {p.name:<{width}} :   fit failed")
            continue
        lo, b, hi = p.fit
        line = f"  {p.name:<{width}} : {b:+8.3f}  {lo - b:+6.3f}/{hi - b:+6.3f}"
        for poi in result.pois:
            plo, pb, phi = p.pois[poi]
            line += f"  {plo - pb:+6.3f}/{phi - pb:+6.3f}"
        lines.append(line)
    return lines
