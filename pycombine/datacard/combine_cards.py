"""``combineCards.py``: merge datacards into one, exactly like CMS Combine v10.6.0.

This is a pure text tool (Combine's ``scripts/combineCards.py``): every card is parsed with
``nuisance edit`` lines kept unevaluated, channels are renamed after their card's label, columns,
systematics, rateParams, shapes lines, groups, autoMCStats and edits are merged
(:mod:`.combine_merge`), and the merged card is written with Combine's exact spelling
(:mod:`.combine_format`) and column widths (:mod:`.combine_render`). No shape file is opened.

The output matches Combine's token for token, including its quirks, each noted where it is
reproduced (symmetric values written with Python ``str(float)``, the width of the label column
computed from the Python list repr of the type arguments, ``label+channel`` in re-emitted edits,
channel vetoes tested on the original channel name for rateParams and autoMCStats, ...).
The one thing that cannot be reproduced is the order of group members, which Combine keeps in a
Python ``set``: here they keep their order of first appearance.

Usage::

    from pycombine.datacard.combine_cards import CombineCardsOptions, combine_cards
    text = combine_cards(["sr=sr.txt", "cr=cr.txt"], CombineCardsOptions(exclude_channels=["cr"]))
"""

from __future__ import annotations

from typing import Sequence, Union

from .combine_format import float_to_string, float_to_string_scientific, format_effect, format_rate
from .combine_merge import CardMerger
from .combine_options import CombineCardsError, CombineCardsOptions, read_exclusion_file
from .combine_render import render_combined_card
from .parse import ParseOptions, parse_datacard

CardArg = Union[str, tuple[Union[str, None], str]]


def _split_arg(arg: CardArg, index: int) -> tuple[str, str, str]:
    """(label, path as given, text for the 'Combination of' line)."""
    if isinstance(arg, tuple):
        label, path = arg
        if label is None:
            return "ch%d" % (index + 1), path, path
        return label, path, f"{label}={path}"
    if "=" in arg:
        parts = arg.split("=")
        if len(parts) != 2:
            raise CombineCardsError(
                f"cannot read argument {arg!r}: expected 'label=datacard.txt' or 'datacard.txt' (only one '=')"
            )
        return parts[0], parts[1], arg
    return "ch%d" % (index + 1), arg, arg


def combine_cards(args: Sequence[CardArg], options: CombineCardsOptions | None = None) -> str:
    """Merge the datacards and return the text ``combineCards.py`` prints.

    ``args`` are ``"[label=]card.txt"`` strings (as on the command line) or ``(label, path)``
    pairs (``label`` None for the default ``ch<k>``). Raises :class:`~pycombine.errors.PyCombineError`
    subclasses (:class:`~pycombine.errors.DatacardError` with file and line when known).
    """
    options = options or CombineCardsOptions()
    if not args:
        raise CombineCardsError("no input datacards specified")
    excluded = read_exclusion_file(options.exclude_nuisances_file) if options.exclude_nuisances_file else []
    parse_options = ParseOptions(
        evaluate_edits=False,
        allow_no_signal=True,
        allow_no_background=True,
        check_jmax=not options.no_jmax,
        stat_only=options.stat,
        exclude_nuisances=excluded,
        warn=options.warn,
    )
    merger = CardMerger(options)
    header_args = []
    for index, arg in enumerate(args):
        label, path, shown = _split_arg(arg, index)
        header_args.append(shown)
        path = options.prefix + path
        card = parse_datacard(path, parse_options)
        merger.add_card(label, path, card)
    return render_combined_card(merger, header_args)


__all__ = [
    "CombineCardsError",
    "CombineCardsOptions",
    "combine_cards",
    "float_to_string",
    "float_to_string_scientific",
    "format_effect",
    "format_rate",
    "read_exclusion_file",
]
