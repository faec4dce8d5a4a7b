"""Per-event likelihood-ratio channels (neural simulation-based inference, arXiv:2412.01600).

A ``shapes`` line whose object starts with ``events:`` makes its channel a per-event channel
(``docs/UNBINNED.md``)::

    shapes * ch_ev events.parquet events:w:r_$PROCESS events:w:r_$PROCESS_$SYSTEMATIC

Each table row is an event x_i with weight ``w`` and density ratios r_j(x_i) = p_j(x_i)/p_ref(x_i)
in the columns ``r_<process>`` (``r_<process>_<syst>Up/Down`` for shape systematics). The NLL is
the extended unbinned likelihood

    sum_j nu_j(theta) - sum_i w_i ln sum_j nu_j(theta) r_j(x_i; theta)  (+ constraints),

with the yields nu_j of the rate column and every normalisation effect of the card (lnN,
rateParam formulas, physics models), and the ratios morphed per event by the card's ``shape``
(vertical, Combine's quintic inside |alpha| < 1, linear outside) or ``shapeN`` (in ln r) lines.

How it is built: the channel is an ordinary channel with one bin per event, whose templates are
absolute (``ChannelSpec.absolute``) and hold the ratios ``r_j(x_i)``, with data ``w_i`` and the
flag ``ChannelSpec.unbinned``, which makes the likelihood (:mod:`.likelihood`, :mod:`.batch`) use
the exact extended term ``sum_j nu_j`` in place of the sum of the per-event values
``s_i = sum_j nu_j r_j(x_i)``, and leaves shapeN morphs of the ratios unnormalised. The Gauss-Newton
Hessian (:mod:`.hessian`) needs nothing new: ``J^T diag(w/s^2) J`` is the log term's, up to its
second-derivative part as for binned channels.

Expected data (Asimov sets, toys, post-fit yields) are per-event weights ``v_i s_i(theta)``, with
``ChannelSpec.ref_weights`` v_i: the table's reference column (``events:w:r_$PROCESS:v``: rows of
a reference sample of p_ref with weights v_i, and weight w = 0 unless they are data), else
``w_i / s_i(theta_0)`` (the events read as a weighted sample of the pre-fit model). Toys are
then the Poisson bootstrap ``w_i ~ Pois(v_i s_i(theta))`` of the binned toy machinery.

Reading happens in :class:`EventTemplateReader` (a :class:`~.build_templates.TemplateReader`
that serves the per-event columns as templates, so the builder is untouched), and
:func:`finish_per_event` turns the built channels into per-event ones.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..datacard.model import Datacard
from ..errors import DatacardError, ShapeError
from ..shapes.events import EventTable
from ..shapes.template import Template
from .build_templates import TemplateReader
from .spec import ModelSpec

EVENTS_PREFIX = "events:"
#: the cache key (channel, data, REFERENCE) of the reference weights (stored in workspaces too)
REFERENCE = "$REFERENCE"


def _parse_object(obj: str, what: str, line: int | None) -> tuple[str, str]:
    """``events:WEIGHT:RATIO[:REFERENCE]`` -> (weight column, ratio column)."""
    parts = obj[len(EVENTS_PREFIX):].split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise DatacardError(f"{what}: a per-event object is 'events:<weight column>:<ratio column>"
                            f"[:<reference weight column>]', not {obj!r}", line=line)
    return parts[0], parts[1]


def is_events_line(fields: list[str]) -> bool:
    return len(fields) >= 2 and fields[1].startswith(EVENTS_PREFIX)


def per_event_channels(card: Datacard) -> list[str]:
    """The channels of ``card`` whose shapes lines name per-event tables (every process must agree)."""
    out = []
    if not card.has_shapes:
        return out
    for b in card.channels:
        kinds = {}
        for p in card.channel_processes(b) + ["data_obs"]:
            sl = card.shape_line_for(b, p)
            if sl is not None and not sl.is_fake:
                kinds[p] = is_events_line(sl.fields)
        if any(kinds.values()):
            if not all(kinds.values()):
                binned = sorted(p for p, k in kinds.items() if not k)
                raise DatacardError(f"channel '{b}' mixes per-event tables with histograms (for {', '.join(binned)})",
                                    path=card.path)
            out.append(b)
    return out


class EventTemplateReader(TemplateReader):
    """A template reader that also serves per-event tables: a process's template is its ratio
    column, the data's its weight column (one bin per event)."""

    def __init__(self, card: Datacard, mass: float, keyword_values: list[str]):
        super().__init__(card, mass, keyword_values)
        self._tables: dict[str, EventTable] = {}
        self._rows: dict[str, tuple[int, str]] = {}  # channel -> (events, table) of its first table

    def table(self, file_string: str, line: int | None) -> EventTable:
        if file_string not in self._tables:
            path = self.files.resolve(file_string)
            try:
                self._tables[file_string] = EventTable(path, shown=file_string)
            except ShapeError as err:
                raise err.located(path=self.card.path, line=line) from None
        return self._tables[file_string]

    def reference(self, channel: str, data_name: str = "data_obs") -> Template | None:
        """The reference weights of a per-event channel (``events:w:r_$PROCESS:v``), None without."""
        key = (channel, data_name, REFERENCE)
        if key not in self._cache:
            sl = self.shape_line(channel, data_name)
            file_string = self._substitute(sl.fields[0], data_name, channel, "")
            parts = self._substitute(sl.fields[1], data_name, channel, "")[len(EVENTS_PREFIX):].split(":")
            tmpl = None
            if len(parts) == 3:
                tab = self.table(file_string, sl.line)
                try:
                    values = tab.column(parts[2], f"reference weights of channel '{channel}'")
                except ShapeError as err:
                    raise err.located(path=self.card.path, line=sl.line) from None
                tmpl = Template(values, np.zeros(values.size), float(values.sum()), f"{file_string}:{parts[2]}")
            self._cache[key] = tmpl
        return self._cache[key]

    def template(self, channel: str, process: str, syst: str = "", optional: bool = False) -> Template | None:
        key = (channel, process, syst)
        if key in self._cache:
            return self._cache[key]
        sl = self.shape_line(channel, process)
        if not is_events_line(sl.fields):
            return super().template(channel, process, syst, optional)
        fields = sl.fields
        file_string = self._substitute(fields[0], process, channel, syst)
        tab = self.table(file_string, sl.line)
        where = f"channel '{channel}'"
        weight_col, ratio_col = _parse_object(self._substitute(fields[1], process, channel, ""),
                                              f"the shapes line of {where}", sl.line)
        try:
            if process == "data_obs":
                values = tab.column(weight_col, f"event weights of {where}")
                integral = float(values.sum())
            else:
                rate = self.card.rates[channel][process]
                if rate == -1:
                    raise DatacardError(f"process '{process}' in per-event {where}: the rate must be the expected "
                                        f"yield (an events table has no integral to take for -1)",
                                        line=self.card.lines.get("rate"))
                if syst:
                    if len(fields) < 3:
                        if optional:
                            return None
                        raise DatacardError(f"systematic ratios {syst} of '{process}' in {where} are needed but the "
                                            f"shapes line has no pattern for them (e.g. events:w:r_$PROCESS_$SYSTEMATIC)",
                                            line=sl.line)
                    obj = self._substitute(fields[2], process, channel, syst)
                    col = _parse_object(obj, f"the shapes line of {where}", sl.line)[1] if obj.startswith(EVENTS_PREFIX) else obj
                    if optional and not tab.has(col):
                        self._cache[key] = None
                        return None
                    values = tab.column(col, f"ratio {syst} of '{process}' in {where}")
                else:
                    values = tab.column(ratio_col, f"ratio of '{process}' in {where}")
                # the integral is the card's yield, so the builder's rate check passes and shape
                # systematics add no normalisation of their own (their ratios only change shapes)
                integral = float(rate)
        except ShapeError as err:
            raise err.located(path=self.card.path, line=sl.line) from None
        n, first = self._rows.setdefault(channel, (tab.nrows, file_string))
        if tab.nrows != n:
            raise DatacardError(f"per-event {where}: {file_string!r} has {tab.nrows} events but {first!r} has {n}",
                                path=self.card.path, line=sl.line)
        if n == 0:
            raise DatacardError(f"per-event {where}: {file_string!r} has no events", path=self.card.path, line=sl.line)
        values = values.view()  # a read-only view: the table's columns are contiguous already
        values.setflags(write=False)
        errors = np.zeros(n)
        errors.setflags(write=False)
        tmpl = Template(values, errors, integral, f"{file_string}:{ratio_col if process != 'data_obs' else weight_col}")
        self._cache[key] = tmpl
        return tmpl


def finish_per_event(card: Datacard, spec: ModelSpec, reader: TemplateReader, data_name: str = "data_obs") -> ModelSpec:
    """Turn the built channels of per-event tables into per-event channels (in place; returns ``spec``)."""
    names = set(per_event_channels(card))
    if not names:
        return spec
    for b in names:
        if b in card.auto_mc_stats:
            raise DatacardError(f"autoMCStats has no meaning for the per-event channel '{b}' (it has no bins)",
                                path=card.path, line=card.auto_mc_stats[b].line)
    chans = [ch for ch in spec.channels if ch.name in names]
    given = {}
    for ch in chans:
        ch.unbinned = True
        ch.absolute = True
        ref = reader.reference(ch.name, data_name) if isinstance(reader, EventTemplateReader) else \
            reader._cache.get((ch.name, data_name, REFERENCE))  # a workspace's stored templates
        given[ch.name] = None if ref is None else ref.values
        if ch.data is None and ref is None:  # no observation line: the weights still define the reference
            ch.data = np.array(reader.template(ch.name, data_name).values, dtype=float)
    reference_weights(spec, chans, given)
    return spec


def reference_weights(spec: ModelSpec, chans: list, given: dict) -> None:
    """Each channel's ``ref_weights``: the table's reference column, else ``w_i / s_i(theta_0)``."""
    from .compile import CompiledModel
    from .likelihood import Dataset, Likelihood

    todo = [ch for ch in chans if given.get(ch.name) is None]
    for ch in chans:
        if given.get(ch.name) is not None:
            ch.ref_weights = np.asarray(given[ch.name], dtype=float)
    if not todo:
        return
    # only these channels, without their morphs (the costly part of compiling; shape nuisances start
    # at 0, where the ratios are the nominal ones)
    light = dataclasses.replace(spec, channels=[
        dataclasses.replace(ch, processes=[dataclasses.replace(p, shapes=[]) for p in ch.processes]) for ch in todo])
    m = CompiledModel(light)
    lik = Likelihood(m, Dataset(np.nan_to_num(m.data), m.glob0.copy()))
    lik._current_theta = m.init
    state, _, _ = lik.forward(m.init)
    for ch in todo:
        lay = next(c for c in m.channels if c.name == ch.name)
        s = state.mu[lay.bin_start: lay.bin_start + lay.nbins]
        w = np.asarray(ch.data, dtype=float)
        bad = (w > 0) & ~(s > 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise DatacardError(f"per-event channel '{ch.name}': event {i} has weight {w[i]:g} but no expected "
                                f"events (sum_j nu_j r_j = {s[i]:g}) at the initial parameters", path=spec.path)
        ch.ref_weights = np.where(w > 0, w / np.where(s > 0, s, 1.0), 0.0)
