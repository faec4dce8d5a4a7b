"""Build the model description (:class:`ModelSpec`) from a parsed datacard and its shape inputs.

This is pycombine's text2workspace: it makes the decisions Combine makes in
``python/ModelTools.py`` and ``python/ShapeTools.py`` (which normalisation a process uses, which
parameters exist with which ranges and constraints, how shape systematics normalise, which
autoMCStats parameters a bin gets) and records them as data for the likelihood engine.
Shape files are opened once each (:class:`~pycombine.shapes.ShapeFiles`).

This module is the driver; the steps live in sibling modules: :mod:`.build_parameters` (POIs,
extArgs, rateParams, groups) with :mod:`.build_nuisances` (the systematic lines),
:mod:`.build_templates` (reading shapes and checking the card's rates against them),
:mod:`.build_channels` (processes and their effects), :mod:`.build_binstats` (autoMCStats);
:mod:`.build_numeric` holds the number formatting they share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..datacard.model import Datacard
from ..errors import DatacardError
from ..physics import PhysicsSetup, resolve_physics
from .build_binstats import setup_bin_stats
from .build_channels import build_channels
from .build_numeric import mass_string
from .build_parameters import assign_groups, build_parameters
from .build_templates import TemplateReader, check_keyword_values, prepare_shapes
from .spec import ModelSpec
from .validate import check_card, check_formulas

__all__ = ["BuildOptions", "build_model", "mass_string"]


@dataclass
class BuildOptions:
    """text2workspace options that change the model."""

    mass: float = 120.0
    keyword_values: list[str] = field(default_factory=list)  # --keyword-value WORD=VALUE
    check_norm: bool = True  # --X-no-check-norm turns the rate/template consistency checks off
    channel_masks: bool = False  # --channel-masks
    data_name: str = "data_obs"  # --dataMapName
    warn: Callable[[str], None] | None = None  # receives warnings (stderr in the CLI)
    #: -P/--PO resolved on this card (:func:`pycombine.physics.resolve_physics`); None: Combine's default model
    physics: PhysicsSetup | None = None
    #: the templates to use instead of reading the card's shape files (e.g. those stored in a
    #: workspace file); its ``card`` must be the card being built. None: a new reader
    templates: TemplateReader | None = None


def build_model(card: Datacard, options: BuildOptions | None = None) -> ModelSpec:
    """Build the :class:`ModelSpec` of a parsed datacard (reads its shape files)."""
    options = options or BuildOptions()
    reader = options.templates or TemplateReader(card, options.mass, options.keyword_values)
    if reader.card is not card:
        raise ValueError("BuildOptions.templates reads the templates of another datacard object")
    physics = options.physics or resolve_physics(card, mass=options.mass)

    def warn(msg: str) -> None:
        if options.warn:
            options.warn(msg)

    check_keyword_values(options.keyword_values, card.has_shapes, warn)
    log: list[str] = []
    try:
        check_card(card)  # the number contract (pycombine.model.validate)
        table = build_parameters(card, physics, options.channel_masks)
        check_formulas(table)
        shapes = prepare_shapes(card, reader, options.data_name, options.check_norm, warn)
        channels = build_channels(card, reader, physics, table, shapes)
        bb_names = setup_bin_stats(channels, table, log)
        groups = assign_groups(card, table.params)
    except DatacardError as err:
        raise err.located(path=card.path)
    params = table.params
    if bb_names:
        groups = dict(groups)
        groups["autoMCStats"] = list(bb_names)
        for n in bb_names:
            params[n].groups.append("autoMCStats")
    # Combine's workspace sets: every systematic line in order (deduplicated), then BB parameters
    nuisances = list(dict.fromkeys(s.name for s in card.systematics if s.pdf != "constr"))
    nuisances += bb_names
    for n in bb_names:
        params[n].is_nuisance = True
    global_obs = list(dict.fromkeys(table.global_obs + [params[n].global_obs for n in bb_names]))
    for name in card.flat_params:
        if name in params:
            params[name].kind = "flatParam" if params[name].kind == "extArg" else params[name].kind
        elif name not in table.formulas:
            warn(f"Missing variable {name} declared as flatParam, will create one!")
    return ModelSpec(
        channels=channels,
        parameters=params,
        formulas=table.formulas,
        pois=list(physics.pois),
        nuisances=nuisances,
        global_observables=global_obs,
        groups=groups,
        mass=options.mass,
        counting=not card.has_shapes,
        max_bins=shapes.max_bins,
        path=card.path,
        build_log=log,
        constants=dict(table.constants),
    )
