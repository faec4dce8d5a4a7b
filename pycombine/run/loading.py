"""Reading a run's input as ``combine`` does: the datacard, parsed and built into a model.

Combine runs text2workspace.py on a text card before the method; ``--text2workspace "..."``
passes it options. :func:`load` does both steps with the switches pycombine understands.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import TYPE_CHECKING

from ..errors import DatacardError, OptionError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..datacard import Datacard
    from ..model.spec import ModelSpec
    from .options import RunOptions


def t2w_options(text: str) -> dict:
    """The text2workspace switches pycombine understands inside ``--text2workspace "..."``."""
    out = {"channel_masks": False, "check_norm": True, "allow_no_signal": False, "allow_no_background": False,
           "check_jmax": True, "stat_only": False, "exclude": []}
    tokens = shlex.split(text or "")
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t == "--channel-masks":
            out["channel_masks"] = True
        elif t == "--X-no-check-norm":
            out["check_norm"] = False
        elif t == "--X-allow-no-signal":
            out["allow_no_signal"] = True
        elif t == "--X-allow-no-background":
            out["allow_no_background"] = True
        elif t == "--X-no-jmax":
            out["check_jmax"] = False
        elif t in ("-s", "--stat"):
            out["stat_only"] = True
        elif t == "--X-exclude-nuisance" and i + 1 < len(tokens):
            out["exclude"].append(tokens[i + 1])
            i += 1
        elif t in ("-P", "--PO", "--physics-model"):
            raise OptionError(f"--text2workspace {t}: only Combine's default physics model is supported")
        else:
            sys.stderr.write(f"Warning: --text2workspace option {t} is ignored by pycombine\n")
        i += 1
    return out


def load(path: str, opts: "RunOptions") -> tuple["Datacard", "ModelSpec"]:
    """Parse and build a datacard: returns (Datacard, ModelSpec)."""
    from ..datacard import ParseOptions, parse_datacard
    from ..model.build import BuildOptions, build_model

    if path.endswith(".root"):
        raise DatacardError(
            "this is a ROOT file; pycombine reads text datacards (RooWorkspace inputs need ROOT)", path=path
        )
    if not os.path.exists(path):
        raise DatacardError("datacard file does not exist", path=path)
    t2w = t2w_options(opts.text2workspace)
    card = parse_datacard(
        path,
        ParseOptions(
            allow_no_signal=t2w["allow_no_signal"],
            allow_no_background=t2w["allow_no_background"],
            check_jmax=t2w["check_jmax"],
            stat_only=t2w["stat_only"],
            exclude_nuisances=t2w["exclude"],
        ),
    )
    model = build_model(
        card,
        BuildOptions(
            mass=opts.mass,
            keyword_values=list(opts.keyword_value),
            check_norm=t2w["check_norm"],
            channel_masks=t2w["channel_masks"],
            data_name=opts.data_map_name,
            warn=lambda m: sys.stderr.write(m + "\n"),
        ),
    )
    return card, model
