"""FitDiagnostics' options after Combine's implications, and their validation."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import OptionError


@dataclass
class FitDiagnosticsOptions:
    """The method's options after Combine's implications (``FitDiagnostics::applyOptions``)."""

    pre_fit_value: float = 1.0
    minos: str = "poi"
    robust_fit: bool = False
    step_size: float = 0.1
    crossing_tolerance: float = 1e-4
    max_failed_steps: int = 5
    robust_strategy: int = 0
    robust_tolerance: float | None = None
    skip_b_only_fit: bool = False
    skip_sb_fit: bool = False
    just_fit: bool = False
    no_errors: bool = False
    save_normalizations: bool = False
    save_shapes: bool = False
    save_overall_shapes: bool = False
    save_with_uncertainties: bool = False
    ignore_cov_warning: bool = False
    plots: bool = False
    out: str = "."
    custom_starting_point: bool = False
    init_from_bonly: bool = False
    do95: bool = False

    @classmethod
    def from_opts(cls, opts) -> "FitDiagnosticsOptions":
        g = lambda name, default=None: getattr(opts, name, default)  # noqa: E731
        o = cls(
            pre_fit_value=float(g("pre_fit_value", 1.0)),
            minos=str(g("minos", "poi")),
            robust_fit=bool(g("robust_fit", False)),
            step_size=float(g("step_size", 0.1)),
            crossing_tolerance=float(g("crossing_tolerance", 1e-4)),
            max_failed_steps=int(g("max_failed_steps", 5)),
            robust_strategy=int(g("robust_fit_strategy", 0)),
            robust_tolerance=(None if (g("robust_fit_tolerance", -1.0) or -1.0) < 0 else float(g("robust_fit_tolerance"))),
            skip_b_only_fit=bool(g("skip_b_only_fit", False)),
            skip_sb_fit=bool(g("skip_sb_fit", False)),
            just_fit=bool(g("just_fit", False)),
            no_errors=bool(g("no_errors", False)),
            save_normalizations=bool(g("save_normalizations", False)),
            save_shapes=bool(g("save_shapes", False)),
            save_overall_shapes=bool(g("save_overall_shapes", False)),
            save_with_uncertainties=bool(g("save_with_uncertainties", False)),
            ignore_cov_warning=bool(g("ignore_cov_warning", False)),
            plots=bool(g("plots", False)),
            out=str(g("out", ".") or "."),
            custom_starting_point=bool(g("custom_starting_point", False)),
            init_from_bonly=bool(g("init_from_bonly", False)),
            do95=bool(g("do95", False)),
        )
        # implications, in Combine's order
        o.save_shapes = o.save_overall_shapes or o.save_shapes
        o.save_normalizations = o.save_shapes or o.save_normalizations
        if o.just_fit:
            o.out = "none"
            o.plots = False
            o.save_normalizations = o.save_shapes = o.save_overall_shapes = False
            o.init_from_bonly = False
            o.skip_b_only_fit = True
            o.skip_sb_fit = False
        return o

    @property
    def writes_file(self) -> bool:
        return not self.just_fit and self.out != "none"


def check_options(opts) -> None:
    o = FitDiagnosticsOptions.from_opts(opts)
    if o.do95 and not o.robust_fit:
        # Combine throws this from FitterAlgoBase::doFit when Minos is asked for 95 % intervals
        raise OptionError("95% CL uncertainties with Minos are not working at the moment (use --robustFit 1)")
    if o.step_size <= 0:
        raise OptionError("--stepSize must be positive")


def option_messages(opts) -> list[str]:
    return []
