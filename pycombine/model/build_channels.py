"""Channels and processes: yields, normalisation effects and shape morphing of each process.

This is the part of Combine's ``ShapeTools.py``/``ModelTools.py`` that decides how a process is
normalised (the rate, the physics-model scaling, rateParams, lnN/lnU kappas, gmN/gmM factors) and
which shape systematics morph its template (``shape``/``shapeN`` with their Up/Down templates and
the kappas that shape systematics add to the normalisation).
"""

from __future__ import annotations

import numpy as np

from ..datacard.model import Datacard, is_shape_type
from ..errors import DatacardError
from ..physics import PhysicsSetup
from ..shapes import Template
from .build_numeric import round_f
from .build_parameters import ParameterTable
from .build_templates import NominalShapes, TemplateReader
from .validate import check_errors, shape_kappa
from .spec import AutoMCStatsSpec, ChannelSpec, ProcessSpec, ShapeEffect


def build_channels(
    card: Datacard, reader: TemplateReader, physics: PhysicsSetup, table: ParameterTable, shapes: NominalShapes
) -> list[ChannelSpec]:
    """The channels of ``card`` in card order, from the nominal templates of :func:`prepare_shapes`.

    ``table`` must hold every parameter and formula of the card already (rateParams are checked).
    """
    builder = _ChannelBuilder(card, reader, physics, table)
    return [builder.channel(b, shapes) for b in card.channels]


def _pad(values: np.ndarray, nbins: int) -> np.ndarray:
    """``values`` cut or zero-padded to ``nbins`` (the template's own read-only array when it has
    ``nbins`` bins already: large combinations hold tens of thousands of templates, a copy each
    would double their memory)."""
    if values.shape[0] == nbins and values.dtype == np.float64 and not values.flags.writeable:
        return values
    out = np.zeros(nbins)
    n = min(nbins, values.shape[0])
    out[:n] = values[:n]
    return out


class _ChannelBuilder:
    """Builds channel specs; holds what every process needs (card, templates, physics model, parameters)."""

    def __init__(self, card: Datacard, reader: TemplateReader, physics: PhysicsSetup, table: ParameterTable):
        self.card = card
        self.reader = reader
        self.physics = physics
        self.table = table
        # the systematic lines acting on each (channel, process), in card order: a combination has
        # thousands of lines, each acting on a few of its hundreds of processes
        self._acting: dict[tuple[str, str], list] = {}
        for s in card.systematics:
            for b, effects in s.effects.items():
                for p, v in effects.items():
                    if v != 0.0:
                        self._acting.setdefault((b, p), []).append(s)

    def channel(self, b: str, shapes: NominalShapes) -> ChannelSpec:
        """The :class:`ChannelSpec` of channel ``b``: its processes, data and autoMCStats settings."""
        nominal, data_tmpl = shapes.processes, shapes.data.get(b)
        card = self.card
        # a process the physics model switches off (scale 0) is left out, like a zero rate
        procs = [p for p in card.channel_processes(b) if card.rates[b][p] != 0 and self.physics.scale(b, p) != 0]
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
        if binned:
            nbins = max([t.nbins for t in templates if t is not None] + ([data_tmpl.nbins] if data_tmpl else []))
        else:
            nbins = 1
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

    def _process(self, b: str, p: str, tmpl: Template | None, nbins: int, self_norm: bool) -> ProcessSpec:
        """Process ``p`` of channel ``b``: normalisation factors and effects, template and shape effects.

        With ``self_norm`` (channels with autoMCStats) ``norm`` is 1 (1/N with a gmN line) instead of the
        rate (alpha with a gmN line).
        """
        card = self.card
        rate = card.rates[b][p]
        signal = bool(card.is_signal[p])
        spec = ProcessSpec(b, p, signal, rate=rate, norm=rate)
        scale = self.physics.scale(b, p)
        if isinstance(scale, str):
            if not self.table.defines(scale):
                raise DatacardError(f"physics model {self.physics.model}: '{p}' in '{b}' is scaled by {scale!r}, "
                                    "which the model never created")
            spec.factors.append(scale)
        for rp in card.rate_params.get((b, p), []):
            if not self.table.defines(rp.name):
                raise DatacardError(f"rateParam '{rp.name}' could not be created", line=rp.line)
            spec.factors.append(rp.name)
        nominal_norm = rate
        self_norm_rate = 1.0
        gamma = None
        for s in self._acting.get((b, p), ()):
            pdf = s.pdf
            if pdf in ("param", "constr", "rateParam", "flatParam"):
                continue
            v = s.effects.get(b, {}).get(p, 0.0)
            if v == 0.0:
                continue
            if is_shape_type(pdf) and pdf.endswith("?"):
                if tmpl is None or not self.reader.is_shape_systematic(b, p, s.name):
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
                    f"the template of process '{p}' in channel '{b}' has zero integral",
                    line=self.reader.shape_line(b, p).line,
                )
            if self_norm:  # autoMCStats: the bin errors enter the model
                check_errors(tmpl.errors, f"the template of '{p}' in channel '{b}' ({tmpl.source})",
                             self.reader.shape_line(b, p).line)
            spec.template = _pad(tmpl.values, nbins)
            spec.errors = _pad(tmpl.errors, nbins)
            spec.integral = tmpl.integral
            self._shape_effects(spec, b, p, tmpl, nbins)
        return spec

    def _shape_effects(self, spec: ProcessSpec, b: str, p: str, tmpl: Template, nbins: int) -> None:
        """The shape systematics of ``p`` in ``b``: Up/Down templates, morphing algorithm, normalisation kappas."""
        card = self.card
        amc = card.auto_mc_stats.get(b)
        hist_mode = amc.hist_mode if amc else 1
        algo = None
        min_scale = 1.0
        for s in self._acting.get((b, p), ()):
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
            if optional and not self.reader.is_shape_systematic(b, p, s.name):
                continue
            if isinstance(v, tuple):
                raise DatacardError(
                    f"shape systematic '{s.name}' has an asymmetric value for '{p}' in '{b}' but templates exist",
                    line=s.line,
                )
            tname = card.shape_template_names.get((s.name, b, p), s.name)
            up = self.reader.template(b, p, tname + "Up")
            down = self.reader.template(b, p, tname + "Down")
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
                    what = f"shape systematic '{s.name}' of '{p}' in '{b}'"
                    kappa = (round_f(shape_kappa(k_down, v, what, s.line)), round_f(shape_kappa(k_up, v, what, s.line)))
            # float32: the contents are float32-rounded already, so this is lossless and halves
            # the largest part of a big combination's model description (10^4 pairs of templates)
            spec.shapes.append(
                ShapeEffect(s.name, float(v), _pad(up.values, nbins).astype(np.float32),
                            _pad(down.values, nbins).astype(np.float32), up.integral, down.integral, kappa, s.line)
            )
            if v < min_scale:
                min_scale = v
        if algo is not None:
            spec.morph = "shapeN" if "shapeN" in algo else "shape"
        spec.smooth_region = min_scale
