"""HybridNew's options after Combine's implications (``HybridNew::applyOptions``/``validateOptions``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import OptionError

#: --testStat aliases (Combine's validateOptions)
_ALIASES = {"SimpleLikelihoodRatio": "LEP", "SLR": "LEP", "RatioOfProfiledLikelihoods": "TEV", "ROPL": "TEV",
            "ProfileLikelihood": "Profile", "PL": "Profile", "ModifiedProfileLikelihood": "LHC", "MPL": "LHC",
            "SignFlipProfileLikelihood": "LHCFC", "SFPL": "LHCFC", "Atlas": "LHC"}
_MESSAGES = {
    "LEP": ">>> using the Simple Likelihood Ratio test statistic (Q_LEP)",
    "TEV": ">>> using the Ratio of Profiled Likelihoods test statistic (Q_TEV)",
    "LHC": ">>> using the Profile Likelihood test statistic modified for upper limits (Q_LHC)",
    "LHCFC": ">>> using the Profile Likelihood test statistic modified for upper limits and Feldman-Cousins (Q_LHCFC)",
    "Profile": ">>> using the Profile Likelihood test statistic not modified for upper limits (Q_Profile)",
}
#: the test statistics pycombine computes (MLZ, Combine's best-fit-r statistic, is not)
SUPPORTED = ("LEP", "TEV", "LHC", "LHCFC", "Profile")


def _given(opts, dest: str) -> bool:
    return dest in (getattr(opts, "_given", None) or set())


def parse_point(text: str, pois: list[str], what: str) -> dict[str, float]:
    """``1.5`` (the first POI) or ``r=1,x=2`` (every POI) as {name: value}."""
    out: dict[str, float] = {}
    items = [t for t in str(text).split(",") if t.strip()]
    for item in items:
        name, eq, value = item.partition("=")
        if not eq:
            name, value = pois[0], item
        try:
            v = float(value)
        except ValueError:
            raise OptionError(f"{what}: {value!r} is not a number") from None
        if not math.isfinite(v):
            raise OptionError(f"{what}: {item!r} is not a finite number")
        out[name.strip()] = v
    unknown = [n for n in out if n not in pois]
    if unknown:
        raise OptionError(f"{what}: {', '.join(unknown)} is not a parameter of interest (POIs: {', '.join(pois)})")
    if set(out) != set(pois):
        raise OptionError(f"Error: not all parameters of interest specified in {what}")
    return out


@dataclass
class HybridNewOptions:
    """What HybridNew does, after the --LHCmode and --frequentist shortcuts."""

    mode: str = "limit"  # limit, significance, single_point, test_statistic
    test_stat: str = "LEP"
    cls: bool = True  # rule CLs (else Pmu = CLs+b)
    fc: bool = False  # Feldman-Cousins (LHC-feldman-cousins)
    gen_nuisances: bool = True
    gen_global_obs: bool = False
    fit_nuisances: bool = False
    toys: int = 500
    iterations: int = 1
    cls_acc: float = 0.005
    r_abs_acc: float = 0.1
    r_rel_acc: float = 0.05
    interp_acc: float = 0.2
    full_b_toys: bool = False
    expected_quantile: float | None = None
    cls_quantiles: bool = True
    save_hybrid_result: bool = False
    read_hybrid_results: bool = False
    grid: str = ""
    no_update_grid: bool = False
    save_grid: bool = False
    full_grid: bool = False
    point: str = "1.0"  # --singlePoint (or --signalForSignificance in significance mode)
    report_pvalue: bool = False
    plot: str = ""
    cl: float = 0.95

    @property
    def profile_like(self) -> bool:
        """The profiled test statistics (LHC, LHCFC, Profile): data minus EPS, right-tail p-values."""
        return self.test_stat in ("LHC", "LHCFC", "Profile")

    @classmethod
    def from_opts(cls, opts, with_systematics: bool = True) -> "HybridNewOptions":
        g = lambda dest, default=None: getattr(opts, dest, default)  # noqa: E731
        o = cls(
            test_stat=str(g("test_stat", "LEP") or "LEP"),
            gen_nuisances=bool(g("generate_nuisances", True)),
            gen_global_obs=bool(g("generate_external_measurements", False)),
            fit_nuisances=bool(g("fit_nuisances", False)),
            toys=int(g("toys_h", 500)),
            iterations=int(g("iterations", 1)),
            cls_acc=float(g("cls_acc", 0.005)),
            r_abs_acc=0.1 if g("r_abs_acc") is None else float(g("r_abs_acc")),
            r_rel_acc=0.05 if g("r_rel_acc") is None else float(g("r_rel_acc")),
            interp_acc=float(g("interp_acc", 0.2)),
            full_b_toys=bool(g("full_b_toys", False)),
            cls_quantiles=bool(g("cls_quantiles", True)),
            save_hybrid_result=bool(g("save_hybrid_result", False)),
            grid=str(g("grid", "") or ""),
            no_update_grid=bool(g("no_update_grid", False)),
            save_grid=bool(g("save_grid", False)),
            full_grid=bool(g("full_grid", False)),
            report_pvalue=bool(g("pvalue", False)),
            plot=str(g("plot", "") or ""),
            cl=float(g("cl", 0.95)),
        )
        rule = str(g("rule", "CLs") or "CLs")
        if g("expected_from_grid") is not None:
            q = float(g("expected_from_grid"))
            if not 0.0 < q < 1.0:
                raise OptionError("HybridNew: the quantile for the expected limit must be between 0 and 1")
            o.expected_quantile = q
        if g("frequentist", False):
            o.gen_nuisances, o.gen_global_obs, o.fit_nuisances = False, with_systematics, with_systematics
            if not _given(opts, "test_stat"):
                o.test_stat = "LHC"
        significance = False
        mode = str(g("lhc_mode", "") or "")
        if mode:
            o.gen_nuisances, o.gen_global_obs, o.fit_nuisances = False, with_systematics, with_systematics
            if mode == "LHC-limits":
                o.test_stat = "LHC"
            elif mode == "LHC-significance":
                o.test_stat = "LHC"
                significance = True
            elif mode == "LHC-feldman-cousins":
                o.test_stat, rule, o.fc = "Profile", "Pmu", True
            else:
                raise OptionError(f"HybridNew: invalid LHCmode {mode}, only --LHCmode 'LHC-significance', "
                                  "'LHC-limits', and 'LHC-feldman-cousins' supported")
        single = g("single_point")
        if o.fc and single in (None, "") and not (g("read_hybrid_results", False) or o.grid):
            raise OptionError("HybridNew: Can't run feldman-cousins without --singlePoint, unless reading in grid "
                              "file with --readHybridResults")
        if single not in (None, ""):
            if significance:
                raise OptionError("HybridNew: Can't use --significance and --singlePoint at the same time")
            o.mode = "test_statistic" if g("only_test_stat", False) else "single_point"
            o.point = str(single)
        elif g("only_test_stat", False):
            if not significance:
                raise OptionError("HybridNew: --onlyTestStat works only with --singlePoint or --significance")
            o.mode = "test_statistic"
            o.point = "0"
        elif significance:
            o.mode = "significance"
            sfs = g("signal_for_significance")
            o.point = "1" if sfs in (None, "") else str(sfs)
        o.read_hybrid_results = bool(g("read_hybrid_results", False)) or bool(o.grid)
        if o.read_hybrid_results and not (o.grid or g("toys_file", "")):
            raise OptionError("HybridNew: must have 'toysFile' or 'grid' option to have 'readHybridResults'")
        # validateOptions
        if rule == "CLs":
            o.cls = True
        elif rule in ("Pmu", "CLsplusb"):
            o.cls = False
        elif rule == "FC":
            o.cls, o.fc = False, True
        else:
            raise OptionError("HybridNew: Rule must be either 'CLs' or 'Pmu'")
        if o.fc:
            o.no_update_grid = True
        o.test_stat = _ALIASES.get(o.test_stat, o.test_stat)
        if o.test_stat not in _MESSAGES and o.test_stat != "MLZ":
            raise OptionError("HybridNew: Test statistic should be one of 'LEP' or 'TEV' or 'LHC' or 'Profile'")
        if o.test_stat not in SUPPORTED:
            raise OptionError(f"HybridNew: the test statistic {o.test_stat} is not supported by pycombine "
                              f"(supported: {', '.join(SUPPORTED)})")
        if o.report_pvalue and o.mode != "significance":
            raise OptionError("HybridNew: option --pvalue must go together with --significance")
        if o.toys <= 0:
            raise OptionError("HybridNew: -T/--toysH must be a positive number of toys")
        if o.iterations <= 0:
            raise OptionError("HybridNew: -i/--iterations must be positive")
        for name, v in (("--clsAcc", o.cls_acc), ("--rAbsAcc", o.r_abs_acc), ("--rRelAcc", o.r_rel_acc)):
            if not (math.isfinite(v) and v >= 0):
                raise OptionError(f"HybridNew: {name} must be a non-negative number, got {v:g}")
        if not 0.0 < o.cl < 1.0:
            raise OptionError(f"HybridNew: the confidence level -C must be between 0 and 1, got {o.cl:g}")
        return o

    def message(self) -> str:
        return _MESSAGES[self.test_stat]
