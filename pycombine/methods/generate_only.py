"""``combine -M GenerateOnly``: generate pseudo-datasets and analyse nothing (Combine's ``src/GenerateOnly.cc``).

With ``-t N --saveToys`` the toys go to the ``toys`` directory of the output file
(:mod:`pycombine.outputs.toys_file`), where ``--toysFile`` reads them back for any method; with
``-t -1 --saveToys`` the Asimov dataset (``toy_asimov``). The ``limit`` tree holds only the rows
``--saveToys`` adds (quantileExpected -2), as in Combine.
"""

from __future__ import annotations

import sys

from ..errors import OptionError
from .base import ToyOutcome


def check_options(opts) -> None:
    if int(getattr(opts, "toys", 0) or 0) == 0:
        raise OptionError("GenerateOnly: give the number of toys with -t N (or -t -1 for the Asimov dataset)")


def option_messages(opts) -> list[str]:
    return []


def run(session) -> int:
    """-t -1: nothing to analyse; the Asimov dataset is saved with --saveToys."""
    session.main_dataset()
    tree = session.limit_tree()
    sys.stdout.flush()
    tree.write(session.output_filename())
    return 0


def run_toy(session, data, i_toy: int, generation, first: bool) -> ToyOutcome:
    # GenerateOnly::run returns true without a value: the toy counts with limit 0 (no tree entry)
    return ToyOutcome(i_toy, [], [], counted=True, limit=0.0)
