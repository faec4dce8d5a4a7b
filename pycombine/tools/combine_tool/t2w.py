"""``combineTool.py -M T2W -i CARDS_OR_DIRS [--cc [NAME]] [-m MASS] [text2workspace options]``.

One ``text2workspace.py`` job per input, run in the input's directory:

* a datacard: text2workspace.py on it (without ``--cc``);
* a directory: its ``*.txt`` cards are merged first with ``combineCards.py name=name.txt ...`` into
  ``<NAME>.cmb`` (``NAME``: ``--cc``'s value, default ``combined.txt``; the extra extension keeps the
  merged card out of a later merge), then text2workspace.py on that;
* datacards with ``--cc NAME``: merged together into ``NAME`` here, one text2workspace.py job.

Without ``-m``, a directory named like a number (``.../125/``) gives the mass. Options that are
not T2W's go to text2workspace.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from .jobs import Job, Step

__all__ = ["DEFAULT_CARD", "t2w_jobs"]

DEFAULT_CARD = "combined.txt"


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _with_mass(args: list[str], mass: str | None, directory: str, out: Callable[[str], None]) -> list[str]:
    base = os.path.basename(os.path.normpath(directory))
    if mass is None and _is_number(base):
        out(f">> {directory}: mass {base} from the directory name")
        return args + ["-m", base]
    if mass is not None:
        return args + ["-m", mass]
    return args


def t2w_jobs(inputs: list[str], passthrough: list[str], mass: str | None = None, cc: str | None = None,
             out: Callable[[str], None] = print) -> list[Job]:
    """The jobs of one ``-M T2W`` command line."""
    jobs = []
    to_merge = []
    for arg in inputs:
        if os.path.isdir(arg):
            out(f">> Directory {arg}: merging its datacards")
            cards = sorted(f for f in os.listdir(arg) if f.endswith(".txt"))
            if not cards:
                out(">> no .txt files there, skipping it")
                continue
            merged = (cc if cc is not None else DEFAULT_CARD) + ".cmb"
            merge = Step("combineCards.py", [f"{os.path.splitext(c)[0]}={c}" for c in cards], output=merged)
            t2w = Step("text2workspace.py", _with_mass(list(passthrough), mass, arg, out) + [merged])
            jobs.append(Job([merge, t2w], arg))
        elif cc is None:
            directory = os.path.dirname(arg) or "."
            t2w = Step("text2workspace.py", _with_mass(list(passthrough), mass, directory, out) + [os.path.basename(arg)])
            jobs.append(Job([t2w], directory))
        else:
            to_merge.append(f"{os.path.splitext(os.path.basename(arg))[0]}={arg}")
    if to_merge:
        args = list(passthrough) + (["-m", mass] if mass is not None else [])
        jobs.append(Job([Step("combineCards.py", to_merge, output=cc), Step("text2workspace.py", args + [cc])], "."))
    return jobs
