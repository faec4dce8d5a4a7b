"""The contract of combine's command-line values: checked once, before any input is read.

Combine parses its options with Boost (integers must fit a C ``int``, ``-m``/``--cl``/``--rMin``/
``--rMax`` are C floats) and leaves most values unchecked: ``-C 0`` divides by zero,
``--cminDefaultMinimizerStrategy 5`` or a negative tolerance reach Minuit, ``--rMin 5 --rMax 1``
gives RooFit an empty range, NaN or infinite numbers flow into the limit tree. A statistics tool
must not compute on such values, so this module states what every numeric option must be and
refuses the rest with ``option value: what it must be`` (an :class:`~pycombine.errors.OptionError`,
exit status 1, before any output file exists). Values Combine accepts and computes sensibly on are
accepted.

The rules are one table, :data:`NUMERIC_RULES` (option destination -> rule), so that options added
to :data:`pycombine.run.options.OPTIONS` by other methods can be given a rule with one line;
:func:`validate_options` applies it, then the checks that involve more than one value (ordered
ranges) or a mini-language (``rgx{...}`` regular expressions, ``name=value`` lists,
``--text2workspace`` quoting, ``--keyword-value``).
"""

from __future__ import annotations

import math
import re
import shlex

from ..errors import OptionError
from .options import BY_DEST

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


# rule kinds: "finite" (any finite number), "nonneg" (finite, >= 0), "positive" (finite, > 0),
# "unit" (finite, 0 < v < 1), "int32" (fits a C int), "int_nonneg" (C int, >= 0),
# ("choice", values) (one of the values), ("atleast", n) (C int >= n)
NUMERIC_RULES: dict[str, object] = {
    "mass": "finite",
    "cl": "unit",
    "seed": "int32",
    "toys": ("atleast", -1),
    "r_min": "finite",
    "r_max": "finite",
    "expect_signal": "finite",
    "expect_signal_mass": "finite",
    "pick_toy": "int_nonneg",
    "cmin_tolerance": "nonneg",
    "cmin_strategy": ("choice", (0, 1, 2)),
    "cmin_precision": "finite",
    "cmin_pre_fit": "int_nonneg",
    "cmin_approx_pre_fit_tolerance": "nonneg",
    "r_abs_acc": "nonneg",
    "r_rel_acc": "nonneg",
    "signal_strength_for_expected": "finite",
    "signal_for_significance": "finite",
    "pre_fit_value": "finite",
    "step_size": "positive",
    "crossing_tolerance": "positive",
    "robust_fit_strategy": ("choice", (0, 1, 2)),
    "robust_fit_tolerance": "finite",
    "max_failed_steps": "int_nonneg",
    "num_toys_for_shapes": "int_nonneg",
    "points": "int_nonneg",
    "first_point": "int_nonneg",
    "last_point": ("atleast", -1),
    "max_delta_nll_for_prof": "positive",
    "auto_range": "positive",
    "centered_range": "positive",
    "fixed_signal_strength": "finite",
    "parallel": "int_nonneg",
    "verbose": "int32",
    # HybridNew
    "toys_h": "int_nonneg",
    "iterations": "int_nonneg",
    "cls_acc": "nonneg",
    "interp_acc": "nonneg",
    "expected_from_grid": "finite",
}

_RULE_TEXT = {
    "finite": "must be a finite number",
    "nonneg": "must be a finite number >= 0",
    "positive": "must be a finite number > 0",
    "unit": "must be a number strictly between 0 and 1",
    "int32": f"must be an integer between {INT32_MIN} and {INT32_MAX}",
    "int_nonneg": f"must be an integer between 0 and {INT32_MAX}",
}

#: options whose value is a list of parameter names or patterns (``rgx{...}``/``var{...}``)
PATTERN_OPTIONS = ("freeze_parameters", "float_parameters", "set_parameters", "set_parameter_ranges",
                   "track_parameters", "track_errors", "freeze_with_attributes", "save_specified_nuis")


def option_name(dest: str) -> str:
    """The long name of an option (``--rMin``), for messages."""
    o = BY_DEST.get(dest)
    if o is None:
        return dest
    longs = [n for n in o.names if n.startswith("--")]
    return longs[0] if longs else o.names[0]


def _show(v) -> str:
    return repr(v) if isinstance(v, str) else f"{v:g}" if isinstance(v, float) else str(v)


def _check_rule(dest: str, v, rule) -> None:
    if v is None:
        return
    name = option_name(dest)
    if isinstance(rule, tuple):
        kind, arg = rule
        ok = isinstance(v, int) and INT32_MIN <= v <= INT32_MAX and (v in arg if kind == "choice" else v >= arg)
        if not ok:
            what = (f"must be one of {', '.join(map(str, arg))}" if kind == "choice"
                    else f"must be an integer between {arg} and {INT32_MAX}")
            raise OptionError(f"{name} {_show(v)}: {what}")
        return
    if rule in ("int32", "int_nonneg"):
        ok = isinstance(v, int) and INT32_MIN <= v <= INT32_MAX and (v >= 0 or rule == "int32")
    else:
        ok = _finite(v) and (rule == "finite" or (rule == "nonneg" and v >= 0) or (rule == "positive" and v > 0)
                             or (rule == "unit" and 0 < v < 1))
    if not ok:
        extra = " (the value does not fit a single-precision float)" if isinstance(v, float) and math.isinf(v) else ""
        raise OptionError(f"{name} {_show(v)}: {_RULE_TEXT[rule]}{extra}")


def check_pattern(text: str, where: str) -> None:
    """Every ``rgx{...}``/``var{...}`` item of a comma/colon separated list must be a valid regex."""
    for item in re.split(r"[,:]", text or ""):
        name = item.partition("=")[0]
        for prefix in ("rgx{", "var{"):
            if name.startswith(prefix):
                body = name[len(prefix):]
                body = body[:-1] if body.endswith("}") else body
                try:
                    re.compile(body)
                except re.error as exc:
                    raise OptionError(f"{where} {item!r}: invalid regular expression {body!r}: {exc}") from None


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise OptionError(f"{what}: {text!r} is not a number") from None


def _check_assignments(text: str, dest: str) -> None:
    """``name=value,...``: each value a finite number (``--setParameters``, ``--setParametersForFit``, ...)."""
    name = option_name(dest)
    for item in (text or "").split(","):
        if not item.strip():
            continue
        par, eq, val = item.partition("=")
        if not eq:
            raise OptionError(f"{name} {item!r}: expected name=value")
        v = _number(val, f"{name} {item!r}")
        if not math.isfinite(v):
            raise OptionError(f"{name} {item!r}: the value must be a finite number")


def _check_ranges(text: str) -> None:
    """``--setParameterRanges a=lo,hi:b=lo,hi``: numbers, not NaN, lo <= hi (infinite edges allowed,
    as RooFit allows them: ``-inf,inf`` leaves a parameter without range)."""
    for item in (text or "").split(":"):
        if not item:
            continue
        par, eq, rng = item.partition("=")
        parts = rng.split(",")
        if not eq or len(parts) != 2:
            raise OptionError(f"--setParameterRanges {item!r}: expected name=lo,hi")
        lo = _number(parts[0], f"--setParameterRanges {item!r}")
        hi = _number(parts[1], f"--setParameterRanges {item!r}")
        if math.isnan(lo) or math.isnan(hi):
            raise OptionError(f"--setParameterRanges {item!r}: the range edges must be numbers, not nan")
        if lo > hi:
            raise OptionError(f"--setParameterRanges {item!r}: the range is reversed (the lower edge {lo:g} is above "
                              f"the upper edge {hi:g})")


def check_r_range(lo: float, hi: float, what: str = "--rMin/--rMax") -> None:
    """The range of the first POI after ``--rMin``/``--rMax``: ordered, not empty."""
    if not lo < hi:
        raise OptionError(f"{what}: the range of the parameter of interest [{lo:g}, {hi:g}] is empty or reversed "
                          "(the minimum must be below the maximum)")


def validate_options(opts) -> None:
    """Refuse option values no method can compute on (see the module docstring); returns None."""
    for dest, rule in NUMERIC_RULES.items():
        if hasattr(opts, dest):
            _check_rule(dest, getattr(opts, dest), rule)
    r_min, r_max = getattr(opts, "r_min", None), getattr(opts, "r_max", None)
    if r_min is not None and r_max is not None:
        check_r_range(r_min, r_max)
    for dest in PATTERN_OPTIONS:
        check_pattern(getattr(opts, dest, "") or "", option_name(dest))
    if getattr(opts, "set_parameters", ""):
        _check_assignments(opts.set_parameters, "set_parameters")
    for dest in ("set_parameters_for_fit", "set_parameters_for_eval", "set_parameters_for_grid", "fixed_point_pois"):
        if getattr(opts, dest, ""):
            _check_assignments(getattr(opts, dest), dest)
    if getattr(opts, "set_parameter_ranges", ""):
        _check_ranges(opts.set_parameter_ranges)
    text = getattr(opts, "text2workspace", "") or ""
    try:
        shlex.split(text)
    except ValueError as exc:
        raise OptionError(f"--text2workspace {text!r}: cannot split it into arguments ({exc})") from None
    _check_single_point(getattr(opts, "single_point", None))
    _check_pyhf_options(opts)


def _check_pyhf_options(opts) -> None:
    """--patchset and --patch-name go together; interpolation codes are the supported ones."""
    patchset, name = getattr(opts, "patchset", "") or "", getattr(opts, "patch_name", "") or ""
    if patchset and not name:
        raise OptionError(f"--patchset {patchset}: name the patch to apply with --patch-name")
    if name and not patchset:
        raise OptionError(f"--patch-name {name}: give the patchset file with --patchset")
    code = getattr(opts, "normsys_interpcode", "code4")
    if code not in ("code1", "code4"):
        raise OptionError(f"--normsys-interpcode {code}: unsupported interpolation code (supported: code1, code4)")
    code = getattr(opts, "histosys_interpcode", "code4p")
    if code not in ("code0", "code4p"):
        why = " (pyhf's and ROOT's code 2 differ outside |alpha| < 1)" if code == "code2" else ""
        raise OptionError(f"--histosys-interpcode {code}: unsupported interpolation code{why} (supported: code0, code4p)")


def _check_single_point(text) -> None:
    """``--singlePoint r`` or ``r=1,x=2`` (HybridNew): no NaN or infinite value (the methods parse it)."""
    if text is None:
        return
    for item in str(text).split(","):
        value = item.rpartition("=")[2].strip()
        try:
            v = float(value)
        except ValueError:
            continue  # not a number: the method says what it expects
        if not math.isfinite(v):
            raise OptionError(f"--singlePoint {text}: the point must be given by finite numbers")
