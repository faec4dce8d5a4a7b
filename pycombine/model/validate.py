"""The number contract of a model's inputs: what every number of a card and of its shape inputs
must be before the model builder computes with it.

Why here, between the datacard layer and the compiled model: the datacard layer reproduces
Combine's parser, which accepts any token Python's ``float`` accepts (``nan``, ``inf``, ``1e300``)
and never reads a shape file; ``combineCards.py`` must pass such cards through as Combine does. The
model builder is where the numbers start to mean something (an event count, a kappa, a range), and
where the shape inputs are read, so the contract of both is checked in one place, at the entrance
of the builder (:func:`check_card`), as each template is read (:func:`check_template`), once the
``-1`` rates and observations are resolved (:func:`check_resolved`), and for the expressions at
the initial parameter values (:func:`check_formulas`). Every refusal is a
:class:`~pycombine.errors.DatacardError` with the file and line: ``card.txt:17: ...``.

The contract (Combine's own checks are kept by the parser: positive kappas, no negative values
except for trG/dFD, integer gmN counts, ...):

* every number is finite (no ``nan``, no ``inf``, nothing that overflows a double);
* counts are non-negative: observations (``-1`` only where a data histogram supplies it), data
  histogram bins, gmN sideband counts N; rates are ``-1`` (template integral, shape channels) or
  finite;
* widths are positive: ``param`` sigmas (both sides of ``-a/+b``), dFD steepness; ranges are
  ordered (``[lo,hi]`` with lo <= hi: param, rateParam, extArg, unif);
* templates: finite contents (negative bins are allowed, Combine floors them), finite bin errors
  and non-negative sums of squared weights;
* shape-normalisation effects ``kappa = (Up or Down integral / nominal integral) ** value`` are
  finite and positive (a negative nominal integral with Up/Down templates would give a negative
  kappa: Combine computes NaNs from it);
* rateParam formulas are finite at the initial values of their arguments.

Cards that Combine accepts and computes sensibly on stay accepted.
"""

from __future__ import annotations

import math

import numpy as np

from ..datacard.model import Datacard, is_shape_type
from ..errors import DatacardError, ShapeError


def _bad(x: float) -> bool:
    return not math.isfinite(x)


def _num(x) -> str:
    return repr(x) if isinstance(x, str) else f"{x:g}"


def _parse(text: str, what: str, line: int | None) -> float:
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise DatacardError(f"{what} must be a number, got {text!r}", line=line) from None
    if _bad(v):
        raise DatacardError(f"{what} must be a finite number, got {text!r}", line=line)
    return v


def _range(text: str, what: str, line: int | None) -> tuple[float, float] | None:
    """``[lo,hi]`` as two finite, ordered numbers (None for ``[const]`` and an empty text)."""
    inner = text.strip()
    if not inner or inner.strip("[]") == "const":
        return None
    parts = inner.strip("[]").split(",")
    if len(parts) != 2:
        return None  # the builder reports the syntax
    lo = _parse(parts[0], f"{what}: the lower edge of the range {text}", line)
    hi = _parse(parts[1], f"{what}: the upper edge of the range {text}", line)
    if lo > hi:
        raise DatacardError(f"{what}: the range {text} is reversed (the lower edge {lo:g} is above the upper edge "
                            f"{hi:g})", line=line)
    return lo, hi


# ------------------------------------------------------------------------------------- the card
def check_card(card: Datacard) -> None:
    """Every number the card writes (see the module docstring); raises DatacardError with the line."""
    obs_line, rate_line = card.lines.get("observation"), card.lines.get("rate")
    for b, n in card.observations.items():
        if _bad(n):
            raise DatacardError(f"the observation of channel '{b}' is {_num(n)}: an event count must be a finite "
                                "number", line=obs_line)
        if n < 0 and not (n == -1 and card.has_shapes):
            raise DatacardError(f"the observation of channel '{b}' is {n:g}: an event count cannot be negative"
                                + (" (-1, 'take the data histogram', needs shapes lines)" if n == -1 else ""),
                                line=obs_line)
    for b, row in card.rates.items():
        for p, r in row.items():
            if _bad(r):
                raise DatacardError(f"the rate of '{p}' in channel '{b}' is {_num(r)}: a rate must be a finite number",
                                    line=rate_line)
            if r < 0 and not (r == -1 and card.has_shapes):
                raise DatacardError(f"the rate of '{p}' in channel '{b}' is {r:g}: an expected number of events "
                                    "cannot be negative" + (" (-1, 'take the template integral', needs shapes lines)"
                                                            if r == -1 else ""), line=rate_line)
    for s in card.systematics:
        _check_systematic(s)
    for (b, p), entries in card.rate_params.items():
        for rp in entries:
            if rp.kind != "value":
                continue
            v = _parse(rp.value, f"rateParam '{rp.name}': the initial value", rp.line)
            rng = _range(rp.range, f"rateParam '{rp.name}'", rp.line) if rp.range else None
            if rng is not None and not rng[0] <= v <= rng[1]:
                raise DatacardError(f"rateParam '{rp.name}': initial value {rp.value} is outside its range {rp.range}",
                                    line=rp.line)
    for name, tokens in card.ext_args.items():
        line = card.ext_arg_lines.get(name)
        if ":" in tokens[-1]:
            continue  # a workspace import: refused by the builder
        value_text, rng_text = (tokens[-2], tokens[-1]) if len(tokens) > 3 else (tokens[-1], "")
        try:
            v = float(value_text)
        except ValueError:
            continue  # the builder names the syntax error
        if _bad(v):
            raise DatacardError(f"extArg '{name}': the value must be a finite number, got {value_text!r}", line=line)
        if "[" in rng_text:
            _range(rng_text, f"extArg '{name}'", line)
    for b, amc in card.auto_mc_stats.items():
        if _bad(amc.threshold):
            raise DatacardError(f"autoMCStats of channel '{b}': the event threshold must be a finite number, got "
                                f"{_num(amc.threshold)}", line=amc.line)


def _check_systematic(s) -> None:
    name, pdf, line = s.name, s.pdf, s.line
    if pdf == "param":
        _parse(s.args[0], f"param '{name}': the mean", line)
        sigma = s.args[1]
        if "/" in sigma:
            lo_t, _, hi_t = sigma.partition("/")
            parts = [lo_t.lstrip("-"), hi_t.lstrip("+")]
        else:
            parts = [sigma]
        for t in parts:
            v = _parse(t, f"param '{name}': the sigma", line)
            if not v > 0:
                raise DatacardError(f"param '{name}': the sigma must be positive, got {sigma!r} (a Gaussian "
                                    "constraint needs a positive width)", line=line)
        if len(s.args) >= 3:
            _range(s.args[2], f"param '{name}'", line)
        return
    if pdf == "gmN":
        n = s.args[0]
        if n < 0:
            raise DatacardError(f"gmN '{name}': the number of sideband events N is {n}; it cannot be negative",
                                line=line)
    if pdf == "unif":
        lo, hi = s.args
        if _bad(lo) or _bad(hi) or not lo < hi:
            raise DatacardError(f"unif '{name}': the range {lo:g} {hi:g} must be two finite numbers, the first "
                                "below the second", line=line)
    if pdf in ("dFD", "dFD2"):
        k = s.args[0]
        if _bad(k) or not k > 0:
            raise DatacardError(f"{pdf} '{name}': the steepness must be a finite positive number, got {k:g}", line=line)
    if not s.has_columns:
        return
    for b, row in s.effects.items():
        for p, v in row.items():
            values = v if isinstance(v, tuple) else (v,)
            if any(_bad(x) for x in values):
                shown = "/".join(_num(x) for x in values)
                kind = "kappa" if pdf in ("lnN", "lnU") or pdf.endswith("?") else "value"
                raise DatacardError(f"{pdf} '{name}' has the {kind} {shown} for '{p}' in '{b}': it must be a finite "
                                    "number", line=line)


# ------------------------------------------------------------------------------------ templates
def check_template(tmpl, *, data: bool, what: str, line: int | None) -> None:
    """A template as read: finite contents; data bins are also non-negative counts.

    ``what`` names the template for messages (process, channel, object and file). Bin errors are
    checked only where they are used (:func:`check_errors`, autoMCStats channels): Combine's own
    tutorial files carry NaN errors in their data histograms, which nothing reads.
    """
    values = np.asarray(tmpl.values)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise ShapeError(f"{what}: bin {i + 1} holds {float(values[i])!r}; template contents must be finite numbers",
                         line=line)
    if not math.isfinite(tmpl.integral):
        raise ShapeError(f"{what}: the integral {tmpl.integral!r} of the contents is not a finite number "
                         "(contents too large for a double)", line=line)
    if data:
        neg = values < 0
        if neg.any():
            i = int(np.argmax(neg))
            raise ShapeError(f"{what}: bin {i + 1} of the observed data holds {values[i]:g}; an event count cannot "
                             "be negative", line=line)


def check_errors(errors, what: str, line: int | None) -> None:
    """Bin errors of a template whose errors the model uses (autoMCStats): finite (a negative sum of
    squared weights gives a NaN error)."""
    errors = np.asarray(errors)
    bad = ~np.isfinite(errors)
    if bad.any():
        i = int(np.argmax(bad))
        raise ShapeError(f"{what}: bin {i + 1} has the error {float(errors[i])!r} (its sum of squared weights is "
                         "negative or not a number); autoMCStats needs finite bin errors", line=line)


def check_resolved(card: Datacard) -> None:
    """After ``-1`` rates and observations took the template integrals: observations are
    non-negative counts, and a rate taken from a template with a negative integral is refused in
    channels without autoMCStats (the yield is the rate times the unit-normalised template there,
    so it would be negative; with autoMCStats the floored bin contents are used as they are)."""
    for b, n in card.observations.items():
        if n < 0:
            raise DatacardError(f"the observation of channel '{b}' is {n:g} (no data histogram gave it a value): an "
                                "event count cannot be negative", line=card.lines.get("observation"))
    for b, row in card.rates.items():
        if b in card.auto_mc_stats:
            continue
        for p, r in row.items():
            if r < 0:
                raise DatacardError(f"the rate of '{p}' in channel '{b}' is {r:g} after 'rate -1' took the template "
                                    "integral (or no template gave it one): it would give a negative number of "
                                    "expected events (channels with autoMCStats use the bin contents, floored at "
                                    "1e-9, instead)", line=card.lines.get("rate"))


def shape_kappa(k: float, value: float, what: str, line: int | None) -> float:
    """``k ** value`` of a shape systematic's normalisation effect, refused when it is not a finite
    positive number (Combine would compute NaN or overflow)."""
    if not k > 0:
        raise DatacardError(f"{what}: the normalisation effect is the ratio {k:g} of the Up/Down template integral "
                            "to the nominal one, which must be positive (is the nominal integral negative?)",
                            line=line)
    try:
        out = k**value
    except OverflowError:
        out = math.inf
    if not (math.isfinite(out) and out > 0):
        raise DatacardError(f"{what}: the normalisation effect {k:g}**{value:g} is not a finite positive number "
                            "(is the scale of the systematic too large?)", line=line)
    return out


# ------------------------------------------------------------------------------------ formulas
def check_formulas(table) -> None:
    """Each rateParam formula (and physics-model expression) is finite at the initial values of its
    arguments: a yield that starts at inf or NaN (``@0/@1`` with ``@1`` = 0, ``log(@0)`` with
    ``@0`` = 0) makes every fit meaningless."""
    from .formula import Formula

    values = {n: p.init for n, p in table.params.items()}
    done: dict[str, tuple[float, str]] = {}

    def evaluate(name: str) -> tuple[float, str]:
        if name in values:
            return values[name], ""
        if name not in done:
            f = table.formulas[name]
            done[name] = Formula(f.name, f.expression, f.args).evaluate([evaluate(a)[0] for a in f.args])
        return done[name]

    def value(name: str) -> float:
        return evaluate(name)[0]

    for name, f in table.formulas.items():
        v, why = evaluate(name)
        if not math.isfinite(v):
            args = ", ".join(f"{a} = {value(a) if a in values else '(formula)'}" for a in f.args)
            raise DatacardError(f"rateParam '{name}': the formula {f.expression} is {why or _num(v)} at the initial "
                                f"values of its arguments ({args}); give them initial values where it is finite",
                                line=f.line)


# ------------------------------------------------------------------- the compiled model
def check_initial_likelihood(model, counts, values, path: str | None = None) -> None:
    """The expected events at the initial parameter values are finite, and positive in every bin
    with observed events: otherwise the likelihood is undefined where every fit starts (Combine's
    NLL is 9e9 there and every result is meaningless). Raises
    :class:`~pycombine.errors.ModelError` naming the channel and bin."""
    from ..errors import ModelError
    from .likelihood import Dataset, Likelihood

    counts = np.asarray(counts, dtype=float)
    lik = Likelihood(model, Dataset(counts, model.glob0.copy()), analytic_bb=False)
    with np.errstate(all="ignore"):
        # the likelihood's own per-bin value (per-event channels: sum_j nu_j r_j, not the Asimov weight)
        lik._current_theta = np.asarray(values, dtype=float)
        nu = lik.forward(lik._current_theta)[0].nu
    bad = ~np.isfinite(nu) | ((counts > 0) & ~(nu > 0))
    if not bad.any():
        return
    j = int(np.argmax(bad))
    ch = next(c for c in model.channels if c.bin_start <= j < c.bin_start + c.nbins)
    where = f"bin {j - ch.bin_start + 1} of channel '{ch.name}'" if ch.binned else f"channel '{ch.name}'"
    why = (f"is {nu[j]!r}" if not np.isfinite(nu[j])
           else f"is {nu[j]:g} where {counts[j]:g} events are observed")
    raise ModelError(f"{path or '<datacard>'}: the expected number of events in {where} at the initial parameter "
                     f"values {why}: the likelihood is undefined there (negative rates or yields, or formulas "
                     "outside their domain?)")


__all__ = ["check_initial_likelihood", "check_card", "check_template", "check_errors", "check_resolved", "shape_kappa", "check_formulas",
           "is_shape_type"]
