"""combineTool's default mode: one ``combine`` call per point of the lists on its command line.

``combineTool.py -M <any combine method> ...`` passes every option it does not know to
``combine`` and expands these into jobs (all combinations, in this order):

``-m 120:130:5,140``        one job per mass (:func:`.ranges.expand_values`);
``--singlePoint LIST``      one job per point, ``.POINT.<value>`` appended to the name;
``-s LIST``                 one job per seed;
``--generate 'P:n::a,x:b,y'`` one job per entry: here ``-P a`` named ``<name>.x``, then ``-P b``
                            named ``<name>.y`` (headers are option names, ``n``/``name`` extends
                            the name; ``;`` may replace ``:`` and ``,,`` the ``,``; an empty or
                            ``!`` value leaves that option out);
``--fromfile points.csv``   one ``--algo fixed`` job per row (``--fixedPointPOIs`` from the columns,
                            ``.POINT.<row>`` in the name; ``--limitPoints N`` keeps the first N rows);
``-d card1 card2 ...``      one job per datacard (with ``--there`` run in the card's directory);
                            without ``-m``, a directory named like a number (``.../125/card.txt``)
                            gives the mass;
``--points N --split-points K``  the grid cut into jobs of at most K points (``--firstPoint``,
                            ``--lastPoint``, ``.POINTS.<first>.<last>`` in the name);
``--boundlist bounds.json`` per-mass parameter ranges ``{"par": {"mass": [lo, hi], ...}}`` (the
                            bounds of the largest listed mass not above the job's mass), joined
                            to ``--setParameterRanges``.

``-n`` defaults to ``.Test`` (so files are ``higgsCombine.Test.<Method>.mH<m>.root``), as in
combineTool.
"""

from __future__ import annotations

import bisect
import csv
import itertools
import json
import os
from dataclasses import dataclass, field

from ...errors import OptionError
from .jobs import Job, Step
from .ranges import expand_values

__all__ = ["EnhancedArgs", "grid_ranges", "jobs_for"]


@dataclass
class EnhancedArgs:
    """The options combineTool reads itself in its default mode (the rest goes to combine)."""

    method: str | None = None
    mass: str | None = None
    points: str | None = None
    single_point: str | None = None
    seed: str | None = None
    datacard: list[str] = field(default_factory=list)
    name: str = ".Test"
    set_parameter_ranges: str | None = None
    algo: str | None = None
    there: bool = False
    split_points: int = 0
    boundlist: str | None = None
    fromfile: str | None = None
    limit_points: int = -1
    generate: list[str] = field(default_factory=list)


_MARK = "\x1f"


def _slot(key: str) -> str:
    return f"{_MARK}{key}{_MARK}"


def _fill(text: str, values: dict[str, str | list[str]]) -> str:
    for k, v in values.items():
        if isinstance(v, str):
            text = text.replace(_slot(k), v)
    return text


def _fill_tokens(tokens: list[str], values: dict[str, str | list[str]]) -> list[str]:
    """Substitute the slots; a slot standing alone whose value is a list becomes those tokens."""
    out: list[str] = []
    for t in tokens:
        v = values.get(t[1:-1]) if t.startswith(_MARK) and t.endswith(_MARK) and t.count(_MARK) == 2 else None
        if isinstance(v, list):
            out.extend(v)
        else:
            out.append(_fill(t, values))
    return out


def _generate(k: int, spec: str) -> tuple[tuple[str, ...], list[tuple], list[str], str]:
    """One ``--generate``: (slot keys, rows, tokens for the command, suffix for the name)."""
    sep = ":" if "::" in spec else ";"
    if sep * 2 not in spec:
        raise OptionError(f"--generate {spec!r}: expected HEADER{sep}HEADER{sep}{sep}VALUES{sep}VALUES...")
    head, content = spec.split(sep * 2, 1)
    headers = head.split(sep)
    keys, tokens, suffix = [], [], ""
    for h in headers:
        key = f"GEN{k}_{h}"
        keys.append(key)
        if h in ("n", "name"):
            suffix += "." + _slot(key)
        else:
            tokens.append(_slot(key))
    rows = []
    for entry in content.split(sep):
        fields = entry.split(",,") if ",," in entry else entry.split(",")
        fields += [""] * (len(headers) - len(fields))
        row = []
        for h, value in zip(headers, fields):
            if h in ("n", "name"):
                row.append(value)
            elif value and value != "!":
                row.append([("-" if len(h) == 1 else "--") + h, value])
            else:
                row.append([])
        rows.append(tuple(row))
    return tuple(keys), rows, tokens, suffix


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def grid_ranges(points: int, split: int) -> list[tuple[int, int]]:
    """``(first, last)`` of the jobs of a grid of ``points`` cut into pieces of at most ``split``."""
    return [(a, min(a + split, points) - 1) for a in range(0, points, split)]


def _bounds(path: str) -> dict[str, list[tuple[float, float, float]]]:
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as e:
        raise OptionError(f"--boundlist {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise OptionError(f"--boundlist {path}: not valid JSON ({e})") from None
    out = {}
    try:
        for par, by_mass in data.items():
            out[par] = sorted((float(m), float(b[0]), float(b[1])) for m, b in by_mass.items())
    except (AttributeError, TypeError, ValueError, IndexError):
        raise OptionError(f"--boundlist {path}: expected {{\"parameter\": {{\"mass\": [lo, hi], ...}}, ...}}") from None
    return out


def _bound_ranges(bounds: dict[str, list[tuple[float, float, float]]], mass: str, current: str | None) -> str:
    parts = [current] if current else []
    m = float(mass)
    for par, rows in bounds.items():
        # the last listed mass at or below this one (the first row below the lowest mass)
        k = max(bisect.bisect_left([r[0] for r in rows], m + 1e-5) - 1, 0)
        parts.append(f"{par}={rows[k][1]:g},{rows[k][2]:g}")
    return ":".join(parts)


def _fromfile_rows(path: str, limit: int) -> list[str]:
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise OptionError(f"--fromfile {path}: {e.strerror}") from None
    if limit == 0:
        print("Warning: --limitPoints 0: no point to run")
        rows = []
    elif limit > 0:
        rows = rows[:limit]
    return [",".join(f"{k.strip()}={v.strip()}" for k, v in row.items()) for row in rows]


def jobs_for(a: EnhancedArgs, passthrough: list[str], out=print) -> list[Job]:
    """The combine jobs of one combineTool command line in its default mode."""
    args = list(passthrough)
    dims: list[tuple[tuple[str, ...], list[tuple[str, ...]]]] = []
    name = a.name
    if a.method is not None:
        args += ["-M", a.method]
    if a.mass is not None:
        dims.append((("MASS",), [(m,) for m in expand_values(a.mass)]))
        args += ["-m", _slot("MASS")]
    if a.single_point is not None:
        dims.append((("SINGLEPOINT",), [(p,) for p in expand_values(a.single_point)]))
        args += ["--singlePoint", _slot("SINGLEPOINT")]
        name += ".POINT." + _slot("SINGLEPOINT")
    if a.seed is not None:
        dims.append((("SEED",), [(s,) for s in expand_values(a.seed)]))
        args += ["-s", _slot("SEED")]
    for k, spec in enumerate(a.generate):
        keys, rows, tokens, suffix = _generate(k, spec)
        dims.append((keys, rows))
        args += tokens
        name += suffix
    algo = a.algo
    fixed_points: list[str] | None = None
    if a.fromfile is not None:
        if algo is None:
            out(f"--fromfile {a.fromfile}: using --algo fixed")
        elif algo != "fixed":
            out(f"Warning: --fromfile works with --algo fixed only: --algo {algo} replaced by fixed")
        algo = "fixed"
        fixed_points = _fromfile_rows(a.fromfile, int(a.limit_points))
    if algo is not None:
        args += ["--algo", algo]
    there_dir = None
    if a.datacard:
        with_mass, without_mass = [], []
        for dc in a.datacard:
            path, base = os.path.split(dc)
            path = path or "."
            card = base if a.there else dc
            last = path.split("/")[-1]
            if a.mass is None and _is_number(last):
                out(f"{dc}: mass {last} from the directory name")
                with_mass.append((path, card, last))
            without_mass.append((path, card))
        if with_mass:
            dims.append((("DIR", "DATACARD", "MASS"), with_mass))
            args += ["-d", _slot("DATACARD"), "-m", _slot("MASS")]
        else:
            dims.append((("DIR", "DATACARD"), without_mass))
            args += ["-d", _slot("DATACARD")]
        there_dir = _slot("DIR") if a.there else None
    elif a.there:
        raise OptionError("--there needs the datacards given with -d")
    bounds = None
    if a.boundlist is not None:
        bounds = _bounds(a.boundlist)
        if not any("MASS" in keys for keys, _ in dims):
            raise OptionError("--boundlist needs the mass (-m, or datacards in mass-named directories)")
        out(f"--boundlist: mass-dependent ranges of {','.join(bounds)}")
        args += ["--setParameterRanges", _slot("MODELBOUND")]
    elif a.set_parameter_ranges is not None:
        args += ["--setParameterRanges", a.set_parameter_ranges]
    if a.points is not None:
        args += ["--points", a.points]
    if a.split_points and a.split_points > 0:
        if a.points is None:
            out("Note: --split-points needs --points; the grid is not split")
        else:
            try:
                n = int(a.points)
            except ValueError:
                raise OptionError(f"--points {a.points}: not an integer") from None
            dims.append((("P_START", "P_END"), [(str(s), str(e)) for s, e in grid_ranges(n, a.split_points)]))
            args += ["--firstPoint", _slot("P_START"), "--lastPoint", _slot("P_END")]
            name += f".POINTS.{_slot('P_START')}.{_slot('P_END')}"
    if fixed_points is not None:
        dims.append((("FIXEDPOINTPOIS", "INDEX"), [(p, str(i)) for i, p in enumerate(fixed_points)]))
        args += ["--fixedPointPOIs", _slot("FIXEDPOINTPOIS")]
        name += ".POINT." + _slot("INDEX")
    args += ["-n", name]

    jobs = []
    for combo in itertools.product(*(rows for _keys, rows in dims)):
        values: dict[str, str | list[str]] = {}
        for (keys, _rows), row in zip(dims, combo):
            values.update(zip(keys, row))
        if bounds is not None:
            values["MODELBOUND"] = _bound_ranges(bounds, values["MASS"], a.set_parameter_ranges)
        cwd = _fill(there_dir, values) if there_dir else None
        jobs.append(Job([Step("combine", _fill_tokens(args, values))], cwd))
    return jobs
