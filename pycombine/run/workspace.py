"""pycombine's workspace file: what ``text2workspace.py`` writes and ``combine ws.root`` reads.

Combine's text2workspace.py turns a datacard into a RooWorkspace; pycombine has no RooFit, so its
workspace is the *recipe* of the model instead: the datacard text, the text2workspace options that
change the model, the physics model resolved on the card (:class:`~pycombine.physics.PhysicsSetup`)
and every template the build read. Loading parses the stored text and builds the model with the
stored templates and physics setup (:func:`build_from_workspace`), so the original datacard, shape
files and physics-model modules are not needed any more, and the model is the one ``combine
card.txt`` builds, bit for bit. ``combine -M MultiDimFit --saveWorkspace`` writes the same
workspace next to its ``limit`` tree, with the run's parameter state and the snapshot
``MultiDimFit`` (the best fit), which ``--snapshotName MultiDimFit`` loads.

Layout (format version 1), readable with uproot::

    <w>/                      TDirectory named by -w/--workspaceName (default "w")
    <w>/index                 TObjString: JSON, see below
    <w>/card                  TObjString: the datacard text (a .gz card decompressed)
    <w>/templates/t<k>        TH1D: template k; bin contents = values, fSumw2 = errors**2,
                              x axis [0, nbins] with unit bins, title = where it was read from
    <w>/templates/e<k>        TH1D, only where sqrt(errors**2) would not give the errors back
                              bit for bit: the errors as bin contents

The index (JSON object)::

    format        "pycombine-workspace"
    version       1 (a reader refuses larger versions)
    pycombine     version of pycombine that wrote the file
    card          the datacard's name as given to text2workspace.py
    settings      text2workspace options that change the model: mass (-m, a number),
                  mass_string ($MASS as substituted), physics_model (-P), physics_options (--PO),
                  channel_masks, stat (-s), exclude_nuisance, allow_no_signal,
                  allow_no_background, no_check_norm, no_jmax, data_map_name, keyword_value
    physics       the PhysicsSetup (PhysicsSetup.to_json(): variables, pois, expressions,
                  scales per "channel/process", log)
    templates     one entry per template the build read, in reading order:
                  {"channel", "process", "syst" ("" for the nominal, else e.g. "jesUp"),
                   "hist" ("t<k>", or null: no template, e.g. FAKE shapes or an absent
                   optional shape? variation), "errors" ("e<k>" or null), "source" ("file:object"),
                   "integral" (double integral of the original histogram, a JSON number
                   written with Python's shortest round-trip repr)}
    state         null, or the parameter state a combine run saved (--saveWorkspace): {"names",
                  "values", "lo", "hi" (null: unbounded), "frozen"}, lists in model order
    snapshots     {name: {parameter: [value, frozen]}}: "clean" (the run's state after the
                  command-line options) and "MultiDimFit" (MultiDimFit's best fit)

Template values are float32-rounded doubles (what Combine's models use) and are stored exactly in
the TH1D contents; errors are doubles and come back bit for bit as sqrt(fSumw2) (the e<k> histogram
covers the rare values where squaring underflows or overflows); integrals are exact in JSON.

A RooWorkspace written by Combine's own text2workspace.py is recognised and refused with a message
saying how to make this file.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

from ..errors import DatacardError, OptionError
from ..physics.setup import DEFAULT_MODEL
from .options import parse_t2w_arguments, t2w_option_notes

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..datacard import Datacard
    from ..model.spec import ModelSpec
    from ..outputs.limit_tree import LimitTree
    from ..outputs.root.file import RootFileWriter
    from ..physics import PhysicsSetup
    from ..shapes import Template

FORMAT = "pycombine-workspace"
VERSION = 1
DEFAULT_NAME = "w"

#: what to do with a RooWorkspace file
_ROOFIT_HELP = (
    "pycombine cannot read RooFit workspaces: make a pycombine workspace from the datacard with "
    "pycombine's 'text2workspace.py card.txt -o ws.root', or give combine the datacard itself"
)


# ============================================================================ records
@dataclass
class Settings:
    """The text2workspace options a model is built with (those that change it)."""

    mass: float = 0.0
    mass_string: str = "0"  # what $MASS becomes in shapes lines
    physics_model: str = DEFAULT_MODEL
    physics_options: tuple[str, ...] = ()
    channel_masks: bool = False
    stat: bool = False
    exclude_nuisance: tuple[str, ...] = ()
    allow_no_signal: bool = False
    allow_no_background: bool = False
    no_check_norm: bool = False
    no_jmax: bool = False
    data_map_name: str = "data_obs"
    keyword_value: tuple[str, ...] = ()

    @classmethod
    def from_values(cls, values: dict, mass_string: str | None = None) -> "Settings":
        """From text2workspace option values (:func:`~.options.parse_t2w_arguments`, click)."""
        if (values.get("default_morphing") or "shape") != "shape":
            raise OptionError(f"text2workspace --default-morphing {values['default_morphing']}: only 'shape' is supported")
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in values.items() if k in names}
        kw["mass"] = float(values.get("mass") or 0.0)
        kw["mass_string"] = mass_string if mass_string is not None else t2w_mass_string(kw["mass"])
        return cls(**kw)

    def to_json(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict) -> "Settings":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in names})


@dataclass
class Snapshot:
    """Saved parameter values and constant flags (RooWorkspace::saveSnapshot of all variables)."""

    name: str
    values: dict[str, float]
    frozen: dict[str, bool] = field(default_factory=dict)


@dataclass
class Workspace:
    """Everything needed to rebuild a model without its original inputs (see the module docstring)."""

    card_name: str
    card_text: str
    settings: Settings
    physics: "PhysicsSetup"
    templates: dict[tuple[str, str, str], "Template | None"]
    #: a combine run's parameter state: name -> (value, lo, hi, frozen); None: the model's own
    state: dict[str, tuple[float, float | None, float | None, bool]] | None = None
    snapshots: dict[str, Snapshot] = field(default_factory=dict)


def t2w_mass_string(mass: float) -> str:
    """``$MASS`` as text2workspace.py substitutes its ``-m`` (``ShapeTools``: integral masses as ints)."""
    if math.isfinite(mass) and mass % 1 == 0:
        return "%d" % mass
    return str(mass)


def default_output(card: str) -> str:
    """text2workspace.py's ``-o`` default: the card name without ``.gz`` and ``.txt``, plus ``.root``."""
    name = card[:-3] if card.endswith(".gz") else card
    return re.sub(".txt$", "", name) + ".root"


# ============================================================================ building
def _stored_reader(card: "Datacard", ws: Workspace):
    """A template reader that serves the workspace's templates and never opens a file."""
    from ..model.build_templates import TemplateReader

    class StoredTemplates(TemplateReader):
        def template(self, channel: str, process: str, syst: str = "", optional: bool = False):
            key = (channel, process, syst)
            if key not in self._cache:
                what = f"systematic template {syst} of" if syst else "template of"
                raise DatacardError(f"the workspace holds no {what} process '{process}', channel '{channel}'")
            return self._cache[key]

    reader = StoredTemplates(card, ws.settings.mass, list(ws.settings.keyword_value))
    reader.mass_str = ws.settings.mass_string
    reader._cache = dict(ws.templates)
    return reader


def _parse_options(settings: Settings, warn: bool):
    from ..datacard import ParseOptions

    return ParseOptions(allow_no_signal=settings.allow_no_signal, allow_no_background=settings.allow_no_background,
                        check_jmax=not settings.no_jmax, stat_only=settings.stat,
                        exclude_nuisances=list(settings.exclude_nuisance), warn=warn)


def _build(card: "Datacard", settings: Settings, physics, reader, warn) -> "ModelSpec":
    from ..model.build import BuildOptions, build_model

    spec = build_model(card, BuildOptions(
        mass=settings.mass, keyword_values=list(settings.keyword_value), check_norm=not settings.no_check_norm,
        channel_masks=settings.channel_masks, data_name=settings.data_map_name, warn=warn, physics=physics,
        templates=reader))
    from ..model.unbinned import finish_per_event

    finish_per_event(card, spec, reader, settings.data_map_name)  # per-event channels (docs/UNBINNED.md)
    # text2workspace's console output: the physics model's, then the model builder's
    spec.build_log = list(physics.log) + list(spec.build_log)
    return spec


def run_physics_model(card: "Datacard", settings: Settings) -> "PhysicsSetup":
    """The physics model of ``settings`` run on ``card``."""
    from ..physics import resolve_physics

    return resolve_physics(card, settings.physics_model, tuple(settings.physics_options), mass=settings.mass)


def build_text_card(path: str, settings: Settings, warn: Callable[[str], None] | None = None,
                    keep: bool = True) -> tuple["Datacard", "ModelSpec", Workspace | None]:
    """text2workspace on a datacard file: (card, model, workspace record or None if not ``keep``).

    The model's ``build_log`` is what text2workspace prints (physics model, autoMCStats tables);
    ``warn`` receives the build warnings (parse warnings go to stderr).
    """
    from ..datacard import parse_datacard_text
    from ..datacard.source import read_text
    from ..model.unbinned import EventTemplateReader

    text = read_text(path)
    card = parse_datacard_text(text, path=path, options=_parse_options(settings, warn=True))
    physics = run_physics_model(card, settings)
    reader = EventTemplateReader(card, settings.mass, list(settings.keyword_value))  # histograms and event tables
    reader.mass_str = settings.mass_string
    spec = _build(card, settings, physics, reader, warn)
    if not keep:
        return card, spec, None
    ws = Workspace(card_name=path, card_text=text, settings=settings, physics=physics,
                   templates=dict(reader._cache))  # every template the build read, in reading order
    return card, spec, ws


def build_from_workspace(ws: Workspace) -> tuple["Datacard", "ModelSpec"]:
    """The model of a workspace, built from its stored card text, templates and physics setup.

    Nothing is printed: text2workspace's output and warnings were shown when the workspace was
    made (Combine does not repeat them either). A stored parameter state (``--saveWorkspace``)
    becomes the parameters' initial values, ranges and constant flags.
    """
    from ..datacard import parse_datacard_text

    card = parse_datacard_text(ws.card_text, path=ws.card_name, options=_parse_options(ws.settings, warn=False))
    spec = _build(card, ws.settings, ws.physics, _stored_reader(card, ws), warn=None)
    spec.build_log = []
    if ws.state:
        params = dict(spec.parameters)
        for name, (value, lo, hi, frozen) in ws.state.items():
            if name in params:
                params[name] = dataclasses.replace(params[name], init=value, lo=lo, hi=hi, frozen=frozen)
        spec.parameters = params
    return card, spec


# ============================================================================ writing
def _finite_or_none(x: float) -> float | None:
    return None if math.isinf(x) else float(x)


def _index(ws: Workspace, hist_names: list[tuple[str | None, str | None]]) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    try:
        writer = version("pycombine")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        writer = "unknown"
    templates = []
    for (key, tmpl), (hist, errors) in zip(ws.templates.items(), hist_names):
        channel, process, syst = key
        entry = {"channel": channel, "process": process, "syst": syst, "hist": hist, "errors": errors}
        if tmpl is not None:
            entry["source"] = tmpl.source
            entry["integral"] = float(tmpl.integral)
        templates.append(entry)
    state = None
    if ws.state is not None:
        names = list(ws.state)
        state = {"names": names,
                 "values": [float(ws.state[n][0]) for n in names],
                 "lo": [ws.state[n][1] for n in names],
                 "hi": [ws.state[n][2] for n in names],
                 "frozen": [bool(ws.state[n][3]) for n in names]}
    return {
        "format": FORMAT,
        "version": VERSION,
        "pycombine": writer,
        "card": ws.card_name,
        "settings": ws.settings.to_json(),
        "physics": ws.physics.to_json(),
        "templates": templates,
        "state": state,
        "snapshots": {s.name: {n: [float(v), bool(s.frozen.get(n, False))] for n, v in s.values.items()}
                      for s in ws.snapshots.values()},
    }


def _th1d(values, sumw2, title: str):
    """A TH1D with unit bins on [0, nbins]; its statistics are plain sums (inf/nan where the
    numbers overflow: a template is data here, not a filled histogram)."""
    import numpy as np
    import uproot

    identify = uproot.writing.identify
    n = len(values)
    data = np.zeros(n + 2)
    data[1:-1] = values
    x = np.arange(n) + 0.5
    variance = np.abs(values) if sumw2 is None else sumw2
    return identify.to_TH1x(
        fName=None, fTitle=title, data=data, fEntries=float(n), fTsumw=float(np.sum(values)),
        fTsumw2=float(np.sum(variance)), fTsumwx=float(np.sum(values * x)), fTsumwx2=float(np.sum(values * x * x)),
        fSumw2=None if sumw2 is None else np.concatenate([[0.0], sumw2, [0.0]]),
        fXaxis=identify.to_TAxis(fName="xaxis", fTitle="", fNbins=n, fXmin=0.0, fXmax=float(n)),
        fYaxis=identify.to_TAxis(fName="yaxis", fTitle="", fNbins=1, fXmin=0.0, fXmax=1.0),
    )


def write_into(out: "RootFileWriter", ws: Workspace, name: str = DEFAULT_NAME) -> None:
    """Write the workspace into an open :class:`~pycombine.outputs.root.file.RootFileWriter` as ``name/``."""
    import numpy as np

    hist_names: list[tuple[str | None, str | None]] = []
    for k, tmpl in enumerate(ws.templates.values()):
        if tmpl is None:
            hist_names.append((None, None))
            continue
        values = np.asarray(tmpl.values, dtype=np.float64)
        errors = np.asarray(tmpl.errors, dtype=np.float64)
        hist = f"t{k}"
        with np.errstate(all="ignore"):
            square = errors * errors
            out.put(f"{name}/templates/{hist}", _th1d(values, square, tmpl.source))
            exact = None
            if not np.array_equal(np.sqrt(square), errors, equal_nan=True):
                exact = f"e{k}"
                out.put(f"{name}/templates/{exact}", _th1d(errors, None, tmpl.source))
        hist_names.append((hist, exact))
    out.put(f"{name}/card", ws.card_text)
    import json

    out.put(f"{name}/index", json.dumps(_index(ws, hist_names), separators=(",", ":")))


def write_workspace(path: str, ws: Workspace, name: str = DEFAULT_NAME) -> None:
    """Write a workspace file atomically (nothing is left behind on an error)."""
    from ..outputs.root.file import RootFileWriter

    with RootFileWriter(path) as out:
        write_into(out, ws, name)


def write_limit_file(path: str, tree: "LimitTree", ws: Workspace, name: str = DEFAULT_NAME) -> None:
    """A ``higgsCombine*.root`` file with the workspace beside the ``limit`` tree (``--saveWorkspace``)."""
    from ..outputs.root.file import RootFileWriter

    columns = {k: v for k, v in tree.columns().items() if v.dtype != object}  # as LimitTree.write
    with RootFileWriter(path, fsync=False) as out:
        out.tree("limit", columns)
        out.mkdir("toys")
        write_into(out, ws, name)


# ============================================================================ reading
def _problem(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0].rstrip(' ,')}" if text else type(exc).__name__


def read_workspace(path: str, name: str = DEFAULT_NAME) -> Workspace:
    """Read a pycombine workspace file; a clear one-line error for anything else."""
    if not os.path.exists(path):
        raise DatacardError("workspace file does not exist", path=path)
    if os.path.isdir(path):
        raise DatacardError("is a directory, not a workspace file", path=path)
    with open(path, "rb") as raw:
        if raw.read(4) != b"root":
            raise DatacardError("not a ROOT file (no ROOT signature at its start); combine reads .root inputs as "
                                "workspace files", path=path)
    import uproot

    damaged = "the ROOT file is damaged or truncated"
    try:
        f = uproot.open(path)
    except Exception as exc:  # uproot raises several kinds for damaged files
        raise DatacardError(f"{damaged} ({_problem(exc)})", path=path) from None
    with f:
        try:
            top = {k.split(";")[0]: c for k, c in f.classnames(recursive=False).items()}
        except Exception as exc:
            raise DatacardError(f"{damaged} ({_problem(exc)})", path=path) from None
        roofit = [k for k, c in top.items() if c == "RooWorkspace"]
        if roofit:
            raise DatacardError(
                f"this file holds a RooWorkspace ('{roofit[0]}') written by Combine's text2workspace.py; {_ROOFIT_HELP}",
                path=path)
        index = None
        if top.get(name) == "TDirectory":
            try:
                inner = {k.split(";")[0]: c for k, c in f[name].classnames(recursive=False).items()}
                if inner.get("index") == "TObjString":
                    import json

                    index = json.loads(str(f[f"{name}/index"]))
            except Exception as exc:
                raise DatacardError(f"{damaged}: cannot read the workspace '{name}' ({_problem(exc)})",
                                    path=path) from None
        if not isinstance(index, dict) or index.get("format") != FORMAT:
            held = ", ".join(sorted(top)) or "nothing"
            raise DatacardError(
                f"no pycombine workspace '{name}' in this ROOT file (it holds: {held}); make one with "
                f"'text2workspace.py card.txt -o ws.root' (or combine -M MultiDimFit --saveWorkspace), "
                f"or give combine the datacard itself", path=path)
        version = index.get("version")
        if not isinstance(version, int) or version > VERSION:
            raise DatacardError(f"workspace format version {version} is newer than this pycombine reads "
                                f"(up to {VERSION}): update pycombine", path=path)
        try:
            return _from_index(f, path, name, index)
        except DatacardError:
            raise
        except Exception as exc:
            raise DatacardError(f"{damaged}: cannot read the workspace '{name}' ({_problem(exc)})",
                                path=path) from None


def _from_index(f, path: str, name: str, index: dict) -> Workspace:
    import numpy as np

    from ..physics import PhysicsSetup
    from ..shapes import Template
    from ..shapes.root import RootSource

    source = RootSource(path)  # the fast TH1 decoder (values float32-exact, errors sqrt(fSumw2))
    templates: dict[tuple[str, str, str], Template | None] = {}
    for e in index["templates"]:
        key = (str(e["channel"]), str(e["process"]), str(e["syst"]))
        if e.get("hist") is None:
            templates[key] = None
            continue
        t = source.get(f"{name}/templates/{e['hist']}")
        if t is None:
            raise DatacardError(f"damaged workspace '{name}': template {e['hist']} is missing", path=path)
        errors = t.errors
        if e.get("errors"):
            errors = np.asarray(f[f"{name}/templates/{e['errors']}"].values(flow=False), dtype=np.float64)
            errors.setflags(write=False)
        templates[key] = Template(t.values, errors, float(e["integral"]), str(e["source"]))
    state = None
    if index.get("state"):
        s = index["state"]
        state = {n: (float(v), lo, hi, bool(fr)) for n, v, lo, hi, fr in zip(s["names"], s["values"], s["lo"], s["hi"],
                                                                             s["frozen"])}
    snapshots = {sn: Snapshot(sn, {n: float(v[0]) for n, v in vals.items()}, {n: bool(v[1]) for n, v in vals.items()})
                 for sn, vals in (index.get("snapshots") or {}).items()}
    return Workspace(card_name=str(index["card"]), card_text=str(f[f"{name}/card"]),
                     settings=Settings.from_json(index["settings"]), physics=PhysicsSetup.from_json(index["physics"]),
                     templates=templates, state=state, snapshots=snapshots)


# ============================================================================ text2workspace.py
def text2workspace(card: str, values: dict, given: Iterable[str] = (), out: Callable[[str], None] = print,
                   err: Callable[[str], None] | None = None) -> int:
    """The ``text2workspace.py`` command: build ``card`` and write the workspace file.

    ``values`` are the option values by destination name (:data:`~.options.T2W_OPTIONS`), ``given``
    the options given on the command line (for the notes on options without effect). Prints what
    Combine's text2workspace.py prints (the physics model's lines, autoMCStats tables); warnings
    and notes go to ``err`` (stderr).
    """
    err = err or (lambda m: sys.stderr.write(m + "\n"))
    for note in t2w_option_notes(given):
        err(note)
    mass = values.get("mass")
    if mass is not None and not math.isfinite(float(mass)):
        raise OptionError(f"-m/--mass {mass}: must be a finite number")
    settings = Settings.from_values(values)
    target = values.get("out") or default_output(card)
    if not values.get("just_check_physics_model"):
        from ..outputs.paths import check_output_path

        check_output_path(target, "workspace file")  # before the card is built
    if values.get("just_check_physics_model"):
        from ..datacard import parse_datacard_text
        from ..datacard.source import read_text

        parsed = parse_datacard_text(read_text(card), path=card, options=_parse_options(settings, warn=True))
        for line in run_physics_model(parsed, settings).log:
            out(line)
        out("Model is OK")
        return 0
    _card, spec, ws = build_text_card(card, settings, warn=err)
    for line in spec.build_log:
        out(line)
    try:
        write_workspace(target, ws)
    except OSError as exc:
        raise OptionError(f"cannot write the workspace file {target}: {exc.strerror or exc}") from None
    return 0


def t2w_settings_for_combine(text: str, mass: float, mass_string: str, keyword_values, data_map_name: str) -> Settings:
    """The settings of the text2workspace run ``combine`` makes for a text card: ``-m`` (as
    ``%f``), ``--keyword-value`` and the ``--text2workspace "..."`` string (which comes last and so
    overrides); notes on options without effect go to stderr."""
    import shlex

    try:
        tokens = shlex.split(text or "")
    except ValueError as exc:  # unbalanced quotes
        raise OptionError(f"--text2workspace {text!r}: cannot split it into arguments ({exc})") from None
    values, given, positional = parse_t2w_arguments(tokens, where="--text2workspace")
    if positional:
        raise OptionError(f"--text2workspace: unexpected argument {positional[0]!r} (the datacard is combine's)")
    for note in t2w_option_notes(given):
        sys.stderr.write(note + "\n")
    if "mass" not in given:
        values["mass"] = mass
    values["keyword_value"] = tuple(keyword_values) + tuple(values["keyword_value"])
    if "data_map_name" not in given:
        values["data_map_name"] = data_map_name
    return Settings.from_values(values, mass_string if "mass" not in given else None)
