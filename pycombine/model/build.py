"""Build the model description (:class:`ModelSpec`) from a parsed datacard and its shape inputs.

This is pycombine's text2workspace: it makes the decisions Combine makes in
``python/ModelTools.py`` and ``python/ShapeTools.py`` (which normalisation a process uses, which
parameters exist with which ranges and constraints, how shape systematics normalise, which
autoMCStats parameters a bin gets) and records them as data for the likelihood engine.
Shape files are opened once each (:class:`~pycombine.shapes.ShapeFiles`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..datacard.model import Datacard, ShapeLine, Systematic, is_shape_type
from ..datacard.parse import parse_range
from ..errors import DatacardError, ShapeError
from ..physics import DefaultModel, PhysicsModel
from ..shapes import ShapeFiles, Template
from .formula import Formula, FormulaError
from .spec import (
    AutoMCStatsSpec,
    BinStat,
    ChannelSpec,
    FormulaSpec,
    ModelSpec,
    Parameter,
    ProcessSpec,
    ShapeEffect,
)

FLOOR = 1e-9


@dataclass
class BuildOptions:
    """text2workspace options that change the model."""

    mass: float = 120.0
    keyword_values: list[str] = field(default_factory=list)  # --keyword-value WORD=VALUE
    check_norm: bool = True  # --X-no-check-norm turns the rate/template consistency checks off
    channel_masks: bool = False  # --channel-masks
    data_name: str = "data_obs"  # --dataMapName
    warn: Callable[[str], None] | None = None  # receives warnings (stderr in the CLI)
    physics: PhysicsModel | None = None  # -P: the POIs and yield scalings (default: Combine's defaultModel)


def _g(x: float) -> float:
    """A number as RooFit's factory sees it after "%g" formatting (6 significant digits)."""
    return float("%g" % x)


def _f(x: float) -> float:
    """A number after "%f" formatting (6 decimals), as Combine writes gmN ranges and kappas."""
    return float("%f" % x)


def _tmath_poisson(x: float, par: float) -> float:
    """ROOT's TMath::Poisson(x, par) for real x."""
    if x < 0:
        return 0.0
    if x == 0.0:
        return math.exp(-par)
    if par <= 0:
        return 0.0
    return math.exp(x * math.log(par) - math.lgamma(x + 1.0) - par)


def mass_string(mass: float) -> str:
    """``$MASS`` as Combine substitutes it: combine passes ``-m %f`` of a float32 to text2workspace."""
    m = float("%f" % float(np.float32(mass)))
    return "%d" % m if m % 1 == 0 else str(m)


class _Builder:
    def __init__(self, card: Datacard, options: BuildOptions):
        self.card = card
        self.opt = options
        base = os.path.dirname(os.path.abspath(card.path)) if card.path else os.getcwd()
        self.files = ShapeFiles(base)
        self.params: dict[str, Parameter] = {}
        self.formulas: dict[str, FormulaSpec] = {}
        self.global_obs: list[str] = []
        self.log: list[str] = []
        self.templates: dict[tuple[str, str, str], Template | None] = {}
        self.mass_str = mass_string(options.mass)
        self.physics = options.physics or DefaultModel()

    def warn(self, msg: str) -> None:
        if self.opt.warn:
            self.opt.warn(msg)

    # ------------------------------------------------------------------ shapes
    def _shape_line(self, channel: str, process: str) -> ShapeLine:
        card = self.card
        if channel not in card.shape_map and "*" not in card.shape_map:
            raise DatacardError(f"no shapes line covers channel '{channel}' (add 'shapes * {channel} ...')")
        line = card.shape_line_for(channel, process)
        if line is None:
            raise DatacardError(f"no shapes line covers process '{process}' in channel '{channel}'")
        return line

    def _substitute(self, text: str, process: str, channel: str, syst: str) -> str:
        out = text.replace("$PROCESS", process).replace("$CHANNEL", channel).replace("$SYSTEMATIC", syst)
        out = out.replace("$MASS", self.mass_str)
        for kv in self.opt.keyword_values:
            word, _, value = kv.partition("=")
            out = out.replace(f"${word}", value)
        return out

    def template(self, channel: str, process: str, syst: str = "", optional: bool = False) -> Template | None:
        """The template of (channel, process[, systematic Up/Down]); None for FAKE shapes.

        With ``optional`` a missing systematic template gives None instead of an error (shape?).
        """
        key = (channel, process, syst)
        if key in self.templates:
            return self.templates[key]
        sl = self._shape_line(channel, process)
        if sl.is_fake:
            self.templates[key] = None
            return None
        fields = sl.fields
        if syst:
            if len(fields) < 3:
                if optional:
                    self.templates[key] = None
                    return None
                raise DatacardError(
                    f"systematic template {syst} for process '{process}', channel '{channel}' is needed but the "
                    f"shapes line has no pattern for systematics (a third name, e.g. $PROCESS_$SYSTEMATIC)",
                    line=sl.line,
                )
            pattern = fields[2]
        else:
            if len(fields) < 2:
                raise DatacardError(
                    f"the shapes line for process '{process}', channel '{channel}' names a file but no object",
                    line=sl.line,
                )
            pattern = fields[1]
        file_string = self._substitute(fields[0], process, channel, syst)
        obj = self._substitute(pattern, process, channel, syst)
        try:
            source = self.files.open(file_string)
        except ShapeError as err:
            pat = f" (from pattern {fields[0]!r})" if fields[0] != file_string else ""
            raise ShapeError(f"{err.message}{pat}", line=sl.line) from None
        from ..shapes.root import RootSource

        if isinstance(source, RootSource) and ":" in obj:
            raise ShapeError(
                f"'{obj}' refers to a RooWorkspace object (file:workspace:object); RooFit inputs need ROOT and "
                f"are not supported by pycombine",
                line=sl.line,
            )
        try:
            tmpl = source.get(obj)
        except ShapeError as err:
            raise err.located(line=sl.line)
        if tmpl is None:
            if optional:
                self.templates[key] = None
                return None
            what = f"systematic template {syst} for" if syst else "template for"
            raise ShapeError(
                f"{what} process '{process}', channel '{channel}' not found: no object {obj!r} in {file_string!r} "
                f"(from pattern {pattern!r})",
                line=sl.line,
            )
        self.templates[key] = tmpl
        return tmpl

    def is_shape_systematic(self, channel: str, process: str, syst: str) -> bool:
        name = self.card.shape_template_names.get((syst, channel, process), syst)
        return self.template(channel, process, name + "Up", optional=True) is not None

    # ------------------------------------------------------------------ parameters
    def add_param(self, p: Parameter) -> Parameter:
        self.params[p.name] = p
        return p

    def build_parameters(self) -> None:
        card = self.card
        for poi in self.physics.pois(card):
            self.add_param(Parameter(poi.name, poi.init, poi.lo, poi.hi, kind="poi", origin="POI"))
        for e in self.physics.expressions(card):
            self.formulas[e.name] = FormulaSpec(e.name, e.formula, list(e.args))
        for s in card.systematics:
            self._nuisance(s)
        self._ext_args()
        self._rate_params()
        for name in card.frozen:
            if name in self.params:
                self.params[name].frozen = True
        if self.opt.channel_masks:
            for c in card.channels:
                name = f"mask_{c}"
                if name not in self.params:
                    self.add_param(Parameter(name, 0.0, None, None, kind="extArg", frozen=True, origin="mask"))

    def _gauss(self, s: Systematic, lo: float, hi: float) -> None:
        name = s.name
        p = self.params.get(name)
        if p is None:
            p = self.add_param(Parameter(name, 0.0, lo, hi, line=s.line, origin=s.pdf))
            p.global_obs_range = (lo, hi)
        if p.constraint == "none" or p.kind != "nuisance":
            p.constraint = "gauss"
            p.sigma = 1.0
            p.glob = 0.0
            p.global_obs = name + "_In"
            if p.global_obs_range is None:
                p.global_obs_range = (lo, hi)
        p.init = 0.0
        p.optimize_bounds = True
        p.kind = "nuisance"

    def _nuisance(self, s: Systematic) -> None:
        name, pdf = s.name, s.pdf
        if pdf == "lnN" or (is_shape_type(pdf) and pdf != "shapeU"):
            r = 4.0 if pdf == "shape" else 7.0
            self._gauss(s, -r, r)
            self.global_obs.append(name + "_In")
        elif pdf == "gmN":
            n = s.args[0]
            min_exp = n + 1 if n > 0 else 0
            while _tmath_poisson(n, min_exp) > 1e-12 and min_exp > 0:
                min_exp *= 0.8
            max_exp = n + 1
            while _tmath_poisson(n, max_exp) > 1e-12:
                max_exp *= 1.2
            min_obs = n
            while min_obs > 0 and _tmath_poisson(min_obs, n + 1) > 1e-12:
                min_obs -= math.sqrt(n) if n > 10 else 1
            max_obs = n + 2
            while _tmath_poisson(max_obs, n + 1) > 1e-12:
                max_obs += math.sqrt(n) if n > 10 else 2
            if name not in self.params:
                p = self.add_param(
                    Parameter(name, _f(n + 1), _f(min_exp), _f(max_exp), constraint="poisson", line=s.line, origin="gmN")
                )
                p.glob = float(n)
                p.global_obs = name + "_In"
                p.global_obs_range = (_f(min_obs), _f(max_obs))
            self.global_obs.append(name + "_In")
        elif pdf == "gmM":
            val = 0.0
            for row in s.effects.values():
                for v in row.values():
                    if v != 0:
                        if val != 0 and v != val:
                            raise DatacardError(f"gmM line '{name}' has two different values {v:g} and {val:g}", line=s.line)
                        val = v
            theta = val * val
            kappa = 1.0 / theta
            if name not in self.params:
                p = self.add_param(
                    Parameter(name, 1.0, _f(max(0.01, 1 - 5 * val)), _f(1 + 5 * val), constraint="gamma", line=s.line, origin="gmM")
                )
                p.sigma = theta  # the gamma scale
                p.glob = kappa  # the gamma shape (global observable)
                p.global_obs = name + "_In"
                p.global_obs_range = (1.0, 2 * kappa + 4)
            self.global_obs.append(name + "_In")
        elif pdf == "trG":
            lo, hi = -7.0, 7.0
            for row in s.effects.values():
                for v in row.values():
                    if v > 0 and 1.0 + lo * v < 0:
                        lo = -1.0 / v
                    if v < 0 and 1.0 + hi * v < 0:
                        hi = -1.0 / v
            if name not in self.params:
                p = self.add_param(Parameter(name, 0.0, _f(lo), _f(hi), constraint="gauss", line=s.line, origin="trG"))
                p.global_obs = name + "_In"
                p.global_obs_range = (_f(lo), _f(hi))
            self.global_obs.append(name + "_In")
        elif pdf in ("lnU", "shapeU"):
            if name not in self.params:
                self.add_param(Parameter(name, 0.0, -1.0, 1.0, constraint="uniform", line=s.line, origin=pdf))
        elif pdf == "unif":
            if name not in self.params:
                lo, hi = s.args
                self.add_param(Parameter(name, 0.5 * (lo + hi), _f(lo), _f(hi), constraint="uniform", line=s.line, origin="unif"))
        elif pdf in ("dFD", "dFD2"):
            k = s.args[0]
            lo, hi = -(1 + 8 / k), 1 + 8 / k
            for row in s.effects.values():
                for v in row.values():
                    if v > 0 and 1.0 + lo * v < 0:
                        lo = -1.0 / v
                    if v < 0 and 1.0 + hi * v < 0:
                        hi = -1.0 / v
            if name not in self.params:
                p = self.add_param(
                    Parameter(name, 0.0, _f(lo), _f(hi), constraint="dfd" if pdf == "dFD" else "dfd2", line=s.line, origin=pdf)
                )
                p.sigma = k
                p.global_obs = name + "_In"
                p.global_obs_range = (_f(lo), _f(hi))
            self.global_obs.append(name + "_In")
        elif pdf == "constr":
            raise DatacardError(
                f"'{name} constr ...' regularisation terms are not supported by pycombine", line=s.line
            )
        elif pdf == "param":
            self._param(s)
            self.global_obs.append(name + "_In")
        else:
            raise DatacardError(f"unsupported systematic type '{pdf}' for '{name}'", line=s.line)
        p = self.params[name]
        p.is_nuisance = True
        if s.nofloat:
            p.nofloat = True

    def _param(self, s: Systematic) -> None:
        name = s.name
        mean_text, sigma_text = s.args[0], s.args[1]
        mean = float(mean_text) if _isfloat(mean_text) else None
        if mean is None:
            raise DatacardError(f"param '{name}': the mean must be a number, got {mean_text!r}", line=s.line)
        existing = self.params.get(name)
        rng = None
        if len(s.args) >= 3:
            rng = parse_range(s.args[2], f"param '{name}'", s.line)
        if "/" in sigma_text:
            lo_t, _, hi_t = sigma_text.partition("/")
            if not lo_t.startswith("-") or not hi_t.startswith("+"):
                raise DatacardError(
                    f"param '{name}': asymmetric uncertainties must be written -x/+y, got {sigma_text!r}", line=s.line
                )
            try:
                sig_lo, sig_hi = float(lo_t[1:]), float(hi_t[1:])
            except ValueError:
                raise DatacardError(f"param '{name}': {sigma_text!r} is not of the form -x/+y", line=s.line) from None
            if rng is not None:
                lo, hi = rng
            else:
                lo, hi = (mean - 4 * sig_lo, mean + 4 * sig_hi) if existing else (_g(mean - 4 * sig_lo), _g(mean + 4 * sig_hi))
            constraint, sigma = "bifur", 0.5 * (sig_lo + sig_hi)
        else:
            try:
                sigma = float(sigma_text)
            except ValueError:
                raise DatacardError(f"param '{name}': the sigma must be a number, got {sigma_text!r}", line=s.line) from None
            sig_lo = sig_hi = sigma
            if rng is not None:
                if existing is not None and (existing.lo, existing.hi) == rng:
                    lo, hi = existing.lo, existing.hi
                else:
                    lo, hi = rng
            else:
                lo, hi = (mean - 4 * sigma, mean + 4 * sigma) if existing else (_g(mean - 4 * sigma), _g(mean + 4 * sigma))
            constraint = "gauss"
        if existing is None:
            existing = self.add_param(Parameter(name, mean, lo, hi, line=s.line, origin="param"))
        existing.lo, existing.hi = lo, hi
        existing.init = mean
        existing.kind = "nuisance"
        existing.constraint = constraint
        existing.sigma = sigma
        existing.sigma_lo, existing.sigma_hi = sig_lo, sig_hi
        existing.glob = mean
        existing.global_obs = name + "_In"
        existing.global_obs_range = (lo, hi)
        existing.optimize_bounds = False
        existing.origin = "param"

    def _ext_args(self) -> None:
        for name, tokens in self.card.ext_args.items():
            if name in self.params:
                continue
            line = self.card.ext_arg_lines.get(name)
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
            self.add_param(Parameter(name, value, lo, hi, kind="extArg", frozen=frozen, line=line, origin="extArg"))

    def _rate_params(self) -> None:
        card = self.card
        for entries in card.rate_params.values():
            for rp in entries:
                if rp.kind == "workspace":
                    raise DatacardError(
                        f"rateParam '{rp.name}' imports from a ROOT workspace ({rp.value}); RooFit inputs are not supported",
                        line=rp.line,
                    )
        for entries in card.rate_params.values():
            for rp in entries:
                if rp.kind != "value" or rp.name in self.params:
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
                self.add_param(Parameter(rp.name, v, lo, hi, kind="rateParam", line=rp.line, origin="rateParam"))
        pending = []
        for entries in card.rate_params.values():
            for rp in entries:
                if rp.kind == "formula" and rp.name not in self.params and rp.name not in self.formulas:
                    if all(pending_rp.name != rp.name for pending_rp in pending):
                        pending.append(rp)
        while pending:
            progress = False
            for rp in list(pending):
                if all(a in self.params or a in self.formulas for a in rp.arg_names):
                    try:
                        Formula(rp.name, rp.value, rp.arg_names)
                    except FormulaError as exc:
                        raise DatacardError(f"rateParam '{rp.name}': {exc}", line=rp.line) from None
                    self.formulas[rp.name] = FormulaSpec(rp.name, rp.value, rp.arg_names, rp.line)
                    pending.remove(rp)
                    progress = True
            if not progress:
                names = ", ".join(rp.name for rp in pending)
                missing = sorted({a for rp in pending for a in rp.arg_names if a not in self.params and a not in self.formulas})
                raise DatacardError(
                    f"cannot build rateParam formula(s) {names}: unknown argument(s) {', '.join(missing)}",
                    line=pending[0].line,
                )

    # ------------------------------------------------------------------ channels
    def build_channels(self) -> tuple[list[ChannelSpec], int]:
        card = self.card
        channels = []
        # first pass: templates, resolved rates and observations (prepareAllShapes)
        nominal: dict[tuple[str, str], Template | None] = {}
        data: dict[str, Template | None] = {}
        for b in card.channels:
            for p in [self.opt.data_name] + card.channel_processes(b):
                if p == self.opt.data_name:
                    if not card.observations:
                        continue
                elif card.rates[b][p] == 0:
                    continue
                tmpl = self.template(b, p) if card.has_shapes else None
                if p == self.opt.data_name:
                    data[b] = tmpl
                else:
                    nominal[(b, p)] = tmpl
                if tmpl is None or tmpl.integral == 0:
                    continue
                norm = tmpl.integral
                if p == self.opt.data_name:
                    obs = card.observations[b]
                    if obs == -1:
                        card.observations[b] = norm
                    elif self.opt.check_norm and (
                        (obs == 0 and norm > 0.01) or (obs > 0 and abs(norm / obs - 1) > 0.005)
                    ):
                        raise DatacardError(
                            f"observation {obs:g} of channel '{b}' does not match the data histogram integral "
                            f"{norm:g} (they must agree to 0.5%; write -1 to use the histogram)",
                            line=card.lines.get("observation"),
                        )
                else:
                    rate = card.rates[b][p]
                    if rate == -1:
                        card.rates[b][p] = norm
                    elif self.opt.check_norm and rate > 0 and abs(norm - rate) > 0.01 * max(1.0, rate):
                        raise DatacardError(
                            f"rate {rate:g} of process '{p}' in channel '{b}' does not match its template integral "
                            f"{norm:g} (they must agree within 1%; write -1 to use the template)",
                            line=card.lines.get("rate"),
                        )
            # warn about data in bins empty in all backgrounds (Combine prints this on stderr)
            d = data.get(b)
            if d is not None:
                bkg = np.zeros(d.nbins)
                for p in card.channel_processes(b):
                    t = nominal.get((b, p))
                    if t is not None and not card.is_signal[p]:
                        n = min(t.nbins, d.nbins)
                        bkg[:n] += t.values[:n] > 0
                for i in np.nonzero((d.values > 0) & (bkg == 0))[0]:
                    self.warn(f"Channel {b} has bin {i + 1} filled in data but empty in all backgrounds")
        binned_sizes = [t.nbins for t in list(nominal.values()) + list(data.values()) if t is not None]
        max_bins = max(binned_sizes) if binned_sizes else 0
        for b in card.channels:
            channels.append(self._channel(b, nominal, data.get(b), max_bins))
        return channels, max_bins

    def _channel(self, b: str, nominal, data_tmpl: Template | None, max_bins: int) -> ChannelSpec:
        card = self.card
        procs = [p for p in card.channel_processes(b) if card.rates[b][p] != 0]
        templates = [nominal.get((b, p)) for p in procs]
        binned = any(t is not None for t in templates) or data_tmpl is not None
        if binned and any(t is None for t in templates):
            fake = [p for p, t in zip(procs, templates) if t is None]
            raise DatacardError(
                f"channel '{b}' mixes histogram templates with FAKE (counting) shapes for {', '.join(fake)}",
                line=card.lines.get("rate"),
            )
        amc = card.auto_mc_stats.get(b)
        if amc is not None and not binned:
            raise DatacardError(
                f"autoMCStats needs histogram templates but channel '{b}' is a counting channel", line=amc.line
            )
        nbins = max([t.nbins for t in templates if t is not None] + ([data_tmpl.nbins] if data_tmpl else [])) if binned else 1
        self_norm = amc is not None
        processes = [self._process(b, p, t, nbins, self_norm) for p, t in zip(procs, templates)]
        if card.observations:
            if binned:
                data = np.zeros(nbins)
                if data_tmpl is not None:
                    data[: data_tmpl.nbins] = data_tmpl.values[:nbins]
            else:
                data = np.array([card.observations[b]], dtype=float)
        else:
            data = None
        ch = ChannelSpec(b, binned, nbins, processes, data)
        if amc is not None:
            ch.auto_mc_stats = AutoMCStatsSpec(amc.threshold, amc.include_signal, amc.hist_mode)
        return ch

    def _pad(self, values: np.ndarray, nbins: int) -> np.ndarray:
        out = np.zeros(nbins)
        n = min(nbins, values.shape[0])
        out[:n] = values[:n]
        return out

    def _process(self, b: str, p: str, tmpl: Template | None, nbins: int, self_norm: bool) -> ProcessSpec:
        card = self.card
        rate = card.rates[b][p]
        signal = bool(card.is_signal[p])
        spec = ProcessSpec(b, p, signal, rate=rate, norm=rate)
        scale = self.physics.yield_scale(card, b, p)
        if isinstance(scale, str):
            spec.factors.append(scale)
        elif scale != 1:
            raise DatacardError(f"physics model {self.physics.name}: yield scale {scale!r} of '{p}' in '{b}' "
                                "is not supported (a parameter name or 1)")
        for rp in card.rate_params.get((b, p), []):
            if rp.name not in self.params and rp.name not in self.formulas:
                raise DatacardError(f"rateParam '{rp.name}' could not be created", line=rp.line)
            spec.factors.append(rp.name)
        nominal_norm = rate
        self_norm_rate = 1.0
        gamma = None
        for s in card.systematics:
            pdf = s.pdf
            if pdf in ("param", "constr", "rateParam", "flatParam"):
                continue
            v = s.effects.get(b, {}).get(p, 0.0)
            if v == 0.0:
                continue
            if is_shape_type(pdf) and pdf.endswith("?"):
                if tmpl is None or not self.is_shape_systematic(b, p, s.name):
                    pdf = "lnN"  # an lnN in disguise
            if is_shape_type(pdf):
                continue
            if pdf == "lnN" and v == 1.0:
                continue
            if pdf in ("lnN", "lnU"):
                if isinstance(v, tuple):
                    klo, khi = v
                    if abs(klo * khi - 1) < 1e-5:  # ProcessNormalization collapses it to a symmetric kappa
                        spec.lnN.append((s.name, khi))
                    else:
                        spec.asym_lnN.append((s.name, klo, khi))
                else:
                    spec.lnN.append((s.name, v))
            elif pdf == "gmM":
                spec.gmM.append(s.name)
            elif pdf in ("trG", "unif", "dFD", "dFD2"):
                spec.additive.append((s.name, float(v)))
            elif pdf == "gmN":
                n = s.args[0]
                if abs(v * n - rate) > max(0.05 * max(rate, 1), v):
                    raise DatacardError(
                        f"gmN '{s.name}': N = {n} times alpha = {v:g} does not match the rate {rate:g} of "
                        f"'{p}' in '{b}'",
                        line=s.line,
                    )
                if gamma is not None:
                    raise DatacardError(
                        f"more than one gmN uncertainty for process '{p}' in channel '{b}' (second one is '{s.name}')",
                        line=s.line,
                    )
                gamma = s.name
                nominal_norm = v
                if n > 0:
                    self_norm_rate /= n
                spec.gmN = (s.name, n)
        spec.norm = self_norm_rate if self_norm else nominal_norm
        if tmpl is not None:
            if tmpl.integral == 0:
                raise DatacardError(
                    f"the template of process '{p}' in channel '{b}' has zero integral", line=self._shape_line(b, p).line
                )
            spec.template = self._pad(tmpl.values, nbins)
            spec.errors = self._pad(tmpl.errors, nbins)
            spec.integral = tmpl.integral
            self._shape_effects(spec, b, p, tmpl, nbins)
        return spec

    def _shape_effects(self, spec: ProcessSpec, b: str, p: str, tmpl: Template, nbins: int) -> None:
        card = self.card
        amc = card.auto_mc_stats.get(b)
        hist_mode = amc.hist_mode if amc else 1
        algo = None
        min_scale = 1.0
        for s in card.systematics:
            if "shape" not in s.pdf:
                continue
            v = s.effects.get(b, {}).get(p, 0.0)
            if v == 0:
                continue
            optional = s.pdf.endswith("?")
            kind = s.pdf.replace("?", "")
            if kind.endswith("U"):
                kind = kind[:-1]
            if algo is None:
                algo = kind
            elif kind != algo:
                raise DatacardError(
                    f"process '{p}' in channel '{b}': systematic '{s.name}' asks for morphing '{kind}' after "
                    f"'{algo}' was requested; only one morphing algorithm is allowed per process",
                    line=s.line,
                )
            if optional and not self.is_shape_systematic(b, p, s.name):
                continue
            if isinstance(v, tuple):
                raise DatacardError(
                    f"shape systematic '{s.name}' has an asymmetric value for '{p}' in '{b}' but templates exist",
                    line=s.line,
                )
            tname = card.shape_template_names.get((s.name, b, p), s.name)
            up = self.template(b, p, tname + "Up")
            down = self.template(b, p, tname + "Down")
            if "shapeL" in kind:
                raise DatacardError("morphing algorithm shapeL is not supported (deprecated in Combine)", line=s.line)
            kappa = None
            if not (amc is not None and hist_mode == 2):
                if not up.integral > 0:
                    raise DatacardError(
                        f"template {tname}Up of '{p}' in '{b}' has a non-positive integral {up.integral:g}", line=s.line
                    )
                if not down.integral > 0:
                    raise DatacardError(
                        f"template {tname}Down of '{p}' in '{b}' has a non-positive integral {down.integral:g}",
                        line=s.line,
                    )
                k_up = up.integral / tmpl.integral
                k_down = down.integral / tmpl.integral
                if not (abs(k_up - 1) < 1e-3 and abs(k_down - 1) < 1e-3):
                    kappa = (_f(k_down**v), _f(k_up**v))
            spec.shapes.append(
                ShapeEffect(s.name, float(v), self._pad(up.values, nbins), self._pad(down.values, nbins),
                            up.integral, down.integral, kappa, s.line)
            )
            if v < min_scale:
                min_scale = v
        if algo is not None:
            spec.morph = "shapeN" if "shapeN" in algo else "shape"
        spec.smooth_region = min_scale

    # ------------------------------------------------------------------ autoMCStats
    def coefficient_at_build(self, proc: ProcessSpec) -> float:
        """The process coefficient with every parameter at its initial value (r = 1, gmN at N+1)."""
        values = {n: p.init for n, p in self.params.items()}
        c = proc.norm
        for f in proc.factors:
            c *= self._value(f, values)
        if proc.gmN:
            c *= values[proc.gmN[0]]
        for g in proc.gmM:
            c *= values[g]
        for name, v in proc.additive:
            c *= 1.0 + v * values[name]
        return c

    def _value(self, name: str, values: dict[str, float]) -> float:
        if name in values:
            return values[name]
        f = self.formulas[name]
        return Formula(f.name, f.expression, f.args).value([self._value(a, values) for a in f.args])

    def setup_bin_stats(self, channels: list[ChannelSpec]) -> list[str]:
        """Combine's ``CMSHistErrorPropagator::setupBinPars``: decide the autoMCStats parameters."""
        new_params = []
        for ch in channels:
            amc = ch.auto_mc_stats
            if amc is None:
                continue
            self.log.append(
                "Channel %s will use autoMCStats with settings: event-threshold=%g, include-signal=%i, hist-mode=%i"
                % (ch.name, amc.threshold, int(amc.include_signal), amc.hist_mode)
            )
            if amc.threshold < 0:
                continue
            new_params += self._bin_pars(ch)
        return new_params

    def _bin_pars(self, ch: ChannelSpec) -> list[str]:
        amc = ch.auto_mc_stats
        tau = amc.threshold
        prop = f"prop_bin{ch.name}"
        coeffs = np.array([self.coefficient_at_build(p) for p in ch.processes])
        vals = np.array([np.maximum(p.template, FLOOR) for p in ch.processes])
        errs = np.array([p.errors for p in ch.processes])
        skip = np.array([p.is_signal and not amc.include_signal for p in ch.processes])
        valsum = (coeffs[:, None] * vals).sum(axis=0)
        toterr = np.sqrt(((coeffs[:, None] * errs) ** 2).sum(axis=0))
        out = []
        log = self.log
        log.append("=" * 60)
        log.append(f"Analyzing bin errors for: {prop}")
        log.append(f"Poisson cut-off: {tau:g}")
        if skip.any():
            log.append("Processes excluded for sums: " + " ".join(p.name for p, s in zip(ch.processes, skip) if s))
        log.append("=" * 60)
        log.append("%-10s %-15s %-15s %-30s" % ("Bin", "Contents", "Error", "Notes"))
        keep = ~skip
        for j in range(ch.nbins):
            log.append("%-10i %-15f %-15f %-30s" % (j, valsum[j], toterr[j], "total sum"))
            sub_sum = float((coeffs[keep] * vals[keep, j]).sum())
            sub_err = math.sqrt(float(((coeffs[keep] * errs[keep, j]) ** 2).sum()))
            if skip.any():
                log.append("%-10i %-15f %-15f %-30s" % (j, sub_sum, sub_err, "excluding marked processes"))
            if sub_err <= 0.0:
                log.append("  %-30s" % "=> Error is zero, ignore")
                log.append("-" * 60)
                amc.bins.append(BinStat(j, "none"))
                continue
            n = math.floor(0.5 + sub_sum * sub_sum / (sub_err * sub_err))
            alpha = valsum[j] / n if n else float("inf")
            log.append("%-10i %-15f %-15f %-30s" % (j, n, math.sqrt(n), "Unweighted events, alpha=%f" % alpha))
            if n <= tau:
                log.append("  %-30s" % "=> Number of weighted events is below Poisson threshold")
                stat = BinStat(j, "per_process")
                for i, p in enumerate(ch.processes):
                    v_p, e_p = float(vals[i, j]), float(errs[i, j])
                    log.append("    %-20s %-15f %-15f %-30s" % (p.name, v_p, e_p, ""))
                    name = f"{prop}_bin{j}_{p.name}"
                    if e_p <= 0.0:
                        log.append("      %-30s" % "=> Error is zero, ignore")
                    elif v_p < 0.0:
                        log.append("      %-30s" % "=> Cannot handle negative content, ignore")
                    elif v_p > 0.0 and v_p >= e_p * 0.999:
                        n_p = math.floor(0.5 + v_p * v_p / (e_p * e_p))
                        log.append("    %-20s %-15f %-15f %-30s" % ("", n_p, math.sqrt(n_p), "Unweighted events, alpha=%f" % (v_p / n_p)))
                        if n_p <= tau:
                            lo, hi = _poisson_bb_range(n_p)
                            par = Parameter(name, float(n_p), lo, hi, kind="bb", constraint="poisson", origin="autoMCStats")
                            par.glob = float(n_p)
                            par.global_obs = name + "_In"
                            par.global_obs_range = _poisson_bb_obs_range(n_p)
                            log.append(
                                "      => Product of %s[%.2f,%.2f,%.2f] and const [%.4f] to be Poisson constrained"
                                % (name, n_p, lo, hi, 1.0 / n_p)
                            )
                            stat.per_process.append((i, "poisson", name, float(n_p)))
                        else:
                            par = self._bb_gauss(name)
                            log.append("      => Parameter %s[%.2f,%.2f,%.2f] to be Gaussian constrained" % (name, 0, -7, 7))
                            stat.per_process.append((i, "gauss", name, 0.0))
                        self.add_param(par)
                        out.append(name)
                    else:
                        par = self._bb_gauss(name)
                        self.add_param(par)
                        out.append(name)
                        log.append(
                            "      => Poisson not viable, %s[%.2f,%.2f,%.2f] to be Gaussian constrained" % (name, 0, -7, 7)
                        )
                        stat.per_process.append((i, "gauss", name, 0.0))
                    log.append("  " + "-" * 58)
                amc.bins.append(stat)
            elif toterr[j] > 0.0:
                name = f"{prop}_bin{j}"
                self.add_param(self._bb_gauss(name))
                out.append(name)
                log.append("  => Total parameter %s[%.2f,%.2f,%.2f] to be Gaussian constrained" % (name, 0, -7, 7))
                amc.bins.append(BinStat(j, "bblite", name))
            else:
                amc.bins.append(BinStat(j, "none"))
            log.append("-" * 60)
        return out

    def _bb_gauss(self, name: str) -> Parameter:
        par = Parameter(name, 0.0, -7.0, 7.0, kind="bb", constraint="gauss", origin="autoMCStats")
        par.global_obs = name + "_In"
        par.global_obs_range = (-7.0, 7.0)
        par.optimize_bounds = True
        return par

    # ------------------------------------------------------------------ groups
    def assign_groups(self) -> dict[str, list[str]]:
        card = self.card
        known = card.all_parameter_names()
        for group, members in card.groups.items():
            for m in members:
                if m not in known:
                    raise DatacardError(
                        f"group '{group}' refers to '{m}', which is not a parameter of this datacard (misspelled?)",
                        line=card.group_lines.get(group),
                    )
                if m in self.params:
                    self.params[m].groups.append(group)
        return {g: list(m) for g, m in card.groups.items()}


def _isfloat(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _poisson_bb_range(n: float) -> tuple[float, float]:
    # scipy.special (not scipy.stats, which costs 0.5 s to import): half the chi2 quantile of k
    # dof at p is gammaincinv(k/2, p); the normal upper tail at 7 sigma is ndtr(-7)
    from scipy.special import gammaincinv, ndtr

    pval = float(ndtr(-7.0))
    lo = gammaincinv(n, pval)
    hi = gammaincinv(n + 1.0, 1.0 - pval)  # like Combine, through the rounded 1 - p
    return float(lo), float(hi)


def _poisson_bb_obs_range(nom: float) -> tuple[float, float]:
    pval = 0.5 * math.erfc(7.0 / math.sqrt(2.0))  # normal upper tail at 7 sigma
    min_obs = nom
    while min_obs > 0 and _tmath_poisson(min_obs, nom + 1) > pval:
        min_obs -= math.sqrt(nom) if nom > 10 else 1
    max_obs = nom + 2
    while _tmath_poisson(max_obs, nom + 1) > pval:
        max_obs += math.sqrt(nom) if nom > 10 else 2
    return _f(min_obs), _f(max_obs)


def build_model(card: Datacard, options: BuildOptions | None = None) -> ModelSpec:
    """Build the :class:`ModelSpec` of a parsed datacard (reads its shape files)."""
    options = options or BuildOptions()
    b = _Builder(card, options)
    try:
        b.build_parameters()
        channels, max_bins = b.build_channels()
        bb_names = b.setup_bin_stats(channels)
        groups = b.assign_groups()
    except DatacardError as err:
        raise err.located(path=card.path)
    if bb_names:
        groups = dict(groups)
        groups["autoMCStats"] = list(bb_names)
        for n in bb_names:
            b.params[n].groups.append("autoMCStats")
    # Combine's workspace sets: every systematic line in order (deduplicated), then BB parameters
    nuisances = list(dict.fromkeys(s.name for s in card.systematics if s.pdf != "constr"))
    nuisances += bb_names
    for n in bb_names:
        b.params[n].is_nuisance = True
    global_obs = list(dict.fromkeys(b.global_obs + [b.params[n].global_obs for n in bb_names]))
    for name in card.flat_params:
        if name in b.params:
            b.params[name].kind = "flatParam" if b.params[name].kind == "extArg" else b.params[name].kind
        elif name not in b.formulas:
            b.warn(f"Missing variable {name} declared as flatParam, will create one!")
    return ModelSpec(
        channels=channels,
        parameters=b.params,
        formulas=b.formulas,
        pois=[poi.name for poi in b.physics.pois(card)],
        nuisances=nuisances,
        global_observables=global_obs,
        groups=groups,
        mass=options.mass,
        counting=not card.has_shapes,
        max_bins=max_bins,
        path=card.path,
        build_log=b.log,
    )
