"""Shape templates: which object a shapes line names, reading it, and the nominal normalisations.

``$PROCESS``, ``$CHANNEL``, ``$SYSTEMATIC``, ``$MASS`` and ``--keyword-value`` words are
substituted as in Combine's ``ShapeTools.py``; every template is read once (the
:class:`~pycombine.shapes.ShapeFiles` cache keeps each file open once too). The first pass over
the card (Combine's ``prepareAllShapes``) resolves ``-1`` rates and observations from the
template integrals and checks the numbers written in the card against them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..datacard.model import Datacard, ShapeLine
from ..errors import DatacardError, OptionError, ShapeError
from ..shapes import ShapeFiles, Template
from .build_numeric import mass_string
from .validate import check_resolved, check_template


#: the words of a shapes line that combine fills in itself
PROTECTED_KEYWORDS = ("PROCESS", "CHANNEL", "SYSTEMATIC", "MASS")


def check_keyword_values(keyword_values, has_shapes: bool, warn: Callable[[str], None]) -> None:
    """``--keyword-value`` items must be ``WORD=VALUE`` with one '=' and a word of the user's.

    As in Combine, only a card with shapes lines (whose file and object names the keywords fill in)
    refuses the others; for a counting card an item without '=' is ignored with a warning.
    """
    for kv in keyword_values:
        if not has_shapes:
            if "=" not in kv:
                warn(f"Warning: --keyword-value {kv}: no value found for the keyword (use WORD=VALUE); it is ignored")
            continue
        if kv.count("=") != 1:
            raise OptionError(f"--keyword-value {kv!r}: no value found for the keyword (use --keyword-value WORD=VALUE)")
        if kv.partition("=")[0] in PROTECTED_KEYWORDS:
            raise OptionError(f"--keyword-value {kv!r}: ${kv.partition('=')[0]} is filled in by combine itself "
                              f"(reserved: {', '.join('$' + w for w in PROTECTED_KEYWORDS)})")


class TemplateReader:
    """Finds and reads the templates that a datacard's ``shapes`` lines name, each once."""

    def __init__(self, card: Datacard, mass: float, keyword_values: list[str]):
        self.card = card
        base = os.path.dirname(os.path.abspath(card.path)) if card.path else os.getcwd()
        self.files = ShapeFiles(base)
        self.mass_str = mass_string(mass)
        self.keyword_values = keyword_values  # --keyword-value WORD=VALUE
        self._cache: dict[tuple[str, str, str], Template | None] = {}

    def shape_line(self, channel: str, process: str) -> ShapeLine:
        """The ``shapes`` line that covers ``process`` in ``channel`` (an error if none does)."""
        card = self.card
        if channel not in card.shape_map and "*" not in card.shape_map:
            raise DatacardError(f"no shapes line covers channel '{channel}' (add 'shapes * {channel} ...')")
        line = card.shape_line_for(channel, process)
        if line is None:
            raise DatacardError(f"no shapes line covers process '{process}' in channel '{channel}'")
        return line

    def _substitute(self, text: str, process: str, channel: str, syst: str) -> str:
        """``text`` with ``$PROCESS``, ``$CHANNEL``, ``$SYSTEMATIC``, ``$MASS`` and keyword values filled in."""
        out = text.replace("$PROCESS", process).replace("$CHANNEL", channel).replace("$SYSTEMATIC", syst)
        out = out.replace("$MASS", self.mass_str)
        for kv in self.keyword_values:
            word, _, value = kv.partition("=")
            out = out.replace(f"${word}", value)
        return out

    def template(self, channel: str, process: str, syst: str = "", optional: bool = False) -> Template | None:
        """The template of (channel, process[, systematic Up/Down]); None for FAKE shapes.

        With ``optional`` a missing systematic template gives None instead of an error (shape?).
        """
        key = (channel, process, syst)
        if key in self._cache:
            return self._cache[key]
        sl = self.shape_line(channel, process)
        if sl.is_fake:
            self._cache[key] = None
            return None
        fields = sl.fields
        if syst:
            if len(fields) < 3:
                if optional:
                    self._cache[key] = None
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
        if tmpl is not None:
            check_template(tmpl, data=False, line=sl.line,
                           what=f"the {'template ' + repr(syst) if syst else 'template'} of '{process}' in channel "
                                f"'{channel}' ({obj!r} in {file_string!r})")
        if tmpl is None:
            if optional:
                self._cache[key] = None
                return None
            what = f"systematic template {syst} for" if syst else "template for"
            raise ShapeError(
                f"{what} process '{process}', channel '{channel}' not found: no object {obj!r} in {file_string!r} "
                f"(from pattern {pattern!r})",
                line=sl.line,
            )
        self._cache[key] = tmpl
        return tmpl

    def is_shape_systematic(self, channel: str, process: str, syst: str) -> bool:
        """Whether ``syst`` has an Up template for (channel, process): decides what a ``shape?`` line is."""
        name = self.card.shape_template_names.get((syst, channel, process), syst)
        return self.template(channel, process, name + "Up", optional=True) is not None

@dataclass
class NominalShapes:
    """The nominal templates of a card (None for FAKE shapes and counting cards)."""

    processes: dict[tuple[str, str], Template | None]  # (channel, process) -> template
    data: dict[str, Template | None]  # channel -> observed histogram
    max_bins: int  # the largest number of bins of any template (0 for a counting card)


def prepare_shapes(
    card: Datacard, reader: TemplateReader, data_name: str, check_norm: bool, warn: Callable[[str], None]
) -> NominalShapes:
    """Combine's ``prepareAllShapes``: read the nominal templates and resolve the card's normalisations.

    A rate or observation of ``-1`` is replaced (in ``card``) by the template integral; other values
    must agree with it unless ``check_norm`` is off (``--X-no-check-norm``). ``warn`` receives
    Combine's warning about data in bins that every background leaves empty.
    """
    # first pass: templates, resolved rates and observations (prepareAllShapes)
    nominal: dict[tuple[str, str], Template | None] = {}
    data: dict[str, Template | None] = {}
    for b in card.channels:
        for p in [data_name] + card.channel_processes(b):
            if p == data_name:
                if not card.observations:
                    continue
            elif card.rates[b][p] == 0:
                continue
            tmpl = reader.template(b, p) if card.has_shapes else None
            if p == data_name:
                data[b] = tmpl
                if tmpl is not None:
                    check_template(tmpl, data=True, what=f"the data of channel '{b}' ({tmpl.source})",
                                   line=reader.shape_line(b, p).line)
            else:
                nominal[(b, p)] = tmpl
            if tmpl is None or tmpl.integral == 0:
                continue
            norm = tmpl.integral
            if p == data_name:
                obs = card.observations[b]
                if obs == -1:
                    card.observations[b] = norm
                elif check_norm and (
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
                elif check_norm and rate > 0 and abs(norm - rate) > 0.01 * max(1.0, rate):
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
                warn(f"Channel {b} has bin {i + 1} filled in data but empty in all backgrounds")
    check_resolved(card)
    binned_sizes = [t.nbins for t in list(nominal.values()) + list(data.values()) if t is not None]
    max_bins = max(binned_sizes) if binned_sizes else 0
    return NominalShapes(nominal, data, max_bins)
