"""MultiDimFit's options (``--algo`` and its settings) and their validation."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import OptionError
from ...fit.scan import parse_grid_points

ALGOS = ("none", "singles", "grid", "grid3x3", "fixed", "impact", "cross", "random", "contour2d", "stitch2d")
SUPPORTED = ("none", "singles", "grid", "fixed", "impact")

@dataclass
class MultiDimFitConfig:
    """The MultiDimFit options (defaults as in Combine)."""

    algo: str = "none"
    pois: list[str] = field(default_factory=list)  # -P; empty = all model POIs
    float_other_pois: bool = False
    points: int = 50
    first_point: int = 0
    last_point: int | None = None
    grid_points: list[int] | None = None
    align_edges: bool = False
    fast_scan: bool = False
    max_delta_nll_for_prof: float | None = None
    start_from_pre_fit: bool = False
    skip_initial_fit: bool = False
    auto_range: float | None = None
    centered_range: float | None = None
    fixed_point_pois: str = ""
    set_parameters: str = ""  # --setParameters (fallback point of --algo fixed)
    set_parameters_for_grid: str = ""
    save_specified_nuis: str = ""
    save_inactive_poi: bool = False
    save_fit_result: bool = False
    robust_fit: bool = False
    step_size: float = 0.1
    crossing_tolerance: float = 1e-4
    max_failed_steps: int = 5
    robust_fit_strategy: int = 0

    @classmethod
    def from_options(cls, opts) -> "MultiDimFitConfig":
        g = lambda name, default=None: getattr(opts, name, default)  # noqa: E731
        algo = g("algo") or "none"
        last = g("last_point", -1)
        gp = g("grid_points", "") or ""
        cfg = cls(
            algo=algo,
            pois=[p for p in (g("parameters", ()) or ()) if p],
            float_other_pois=bool(g("float_other_pois", False)),
            points=int(g("points", 50)),
            first_point=int(g("first_point", 0) or 0),
            last_point=None if last is None or int(last) < 0 else int(last),
            grid_points=parse_grid_points(gp) if gp else None,
            align_edges=bool(g("align_edges", False)),
            fast_scan=bool(g("fast_scan", False)),
            max_delta_nll_for_prof=g("max_delta_nll_for_prof"),
            start_from_pre_fit=bool(g("start_from_pre_fit", False)),
            skip_initial_fit=bool(g("skip_initial_fit", False)),
            auto_range=g("auto_range"),
            centered_range=g("centered_range"),
            fixed_point_pois=g("fixed_point_pois", "") or "",
            set_parameters=g("set_parameters", "") or "",
            set_parameters_for_grid=g("set_parameters_for_grid", "") or "",
            save_specified_nuis=g("save_specified_nuis", "") or "",
            save_inactive_poi=bool(g("save_inactive_poi", False)),
            save_fit_result=bool(g("save_fit_result", False)),
            robust_fit=bool(g("robust_fit", False)),
            step_size=float(g("step_size", 0.1)),
            crossing_tolerance=float(g("crossing_tolerance", 1e-4)),
            max_failed_steps=int(g("max_failed_steps", 5)),
            robust_fit_strategy=int(g("robust_fit_strategy", 0) or 0),
        )
        if algo == "impact":
            # combineTool's impacts: the other POIs float and are saved unless said otherwise
            if not _given(opts, "float_other_pois"):
                cfg.float_other_pois = True
            if not _given(opts, "save_inactive_poi"):
                cfg.save_inactive_poi = True
        return cfg


def _given(opts, dest: str) -> bool:
    """Whether an option was given on the command line (falls back to 'differs from default')."""
    given = getattr(opts, "_given", None)
    if given is not None:
        return dest in given
    return bool(getattr(opts, dest, False))


def check_options(opts) -> None:
    algo = getattr(opts, "algo", None) or "none"
    if algo not in ALGOS:
        raise OptionError(f"Unknown algorithm: {algo}")
    if algo not in SUPPORTED:
        raise OptionError(f"MultiDimFit --algo {algo} is not supported by pycombine (supported: {', '.join(SUPPORTED)})")
    if int(getattr(opts, "points", 50)) < 0:
        raise OptionError("--points must be non-negative")
    gp = getattr(opts, "grid_points", "") or ""
    if gp:
        try:
            parse_grid_points(gp)
        except ValueError:
            raise OptionError(f"--gridPoints: expected comma-separated integers, got {gp!r}") from None


def option_messages(opts) -> list[str]:
    return []
