"""The ``combineCards.py`` command: merge datacards, like CMS Combine's ``scripts/combineCards.py``.

    combineCards.py [options] [label=]card1.txt [label=]card2.txt ... > combined.txt

The merged card goes to stdout. Any problem is reported as one ``Error: ...`` line on stderr with
exit status 1 (``--debug`` shows the traceback instead). Only click is imported at start-up; the
datacard parser is imported when the cards are read.
"""

from __future__ import annotations

import sys

import click

from .clickutil import CombineCommand

_EPILOG = (
    "The label=datacard.txt syntax allows to specify the label that channels from datacard.txt will have "
    "in the combined datacard. To combine cards with different energies one can use dc_7TeV=datacard7.txt "
    "dc_8TeV=datacard8.txt (avoid using labels starting with numbers)."
)


def _run(cards, stat, force_shape, asimov, prefix, exclude_channels, include_channels, no_jmax,
         exclude_nuisances_file, edit_nuisances_file, drop_regularization_terms, keyword_values, debug) -> None:
    from ..datacard.combine_cards import CombineCardsOptions, combine_cards

    options = CombineCardsOptions(
        stat=stat,
        force_shape=force_shape,
        asimov=asimov,
        prefix=prefix or "",
        exclude_channels=list(exclude_channels),
        include_channels=list(include_channels),
        no_jmax=no_jmax,
        exclude_nuisances_file=exclude_nuisances_file,
        edit_nuisances_file=edit_nuisances_file,
        drop_regularization_terms=drop_regularization_terms,
        keyword_values=list(keyword_values),
    )
    text = combine_cards(list(cards), options)
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def build_command() -> click.Command:
    flag = dict(is_flag=True, default=False)
    params = [
        click.Argument(["cards"], nargs=-1),
        click.Option(["-s", "--stat", "stat"], help="Drop all systematics", **flag),
        click.Option(["-S", "--force-shape", "force_shape"],
                     help="Treat all channels as shape analysis. Useful for mixed combinations", **flag),
        click.Option(["-a", "--asimov", "asimov"],
                     help="Replace observation with asimov dataset (accepted, no effect, as in Combine)", **flag),
        click.Option(["-P", "--prefix", "prefix"], default="", help="Prefix this to all file names"),
        click.Option(["--xc", "--exclude-channel", "exclude_channels"], multiple=True,
                     help="Exclude channels that match this regexp; can specify multiple ones"),
        click.Option(["--ic", "--include-channel", "include_channels"], multiple=True,
                     help="Only include channels that match this regexp; can specify multiple ones"),
        click.Option(["--X-no-jmax", "no_jmax"],
                     help="FOR DEBUG ONLY: Turn off the consistency check between jmax and number of processes.",
                     **flag),
        click.Option(["--xn-file", "--exclude-nuisances-from-file", "exclude_nuisances_file"],
                     help="Exclude all the nuisance parameters in this file"),
        click.Option(["--en-file", "--edit-nuisances-from-file", "edit_nuisances_file"],
                     help="Edit the nuisance parameters in this file"),
        click.Option(["--drop_regularization_terms", "drop_regularization_terms"],
                     help="Drop regularization terms that would not be correctly combined.", **flag),
        click.Option(["--keyword-value", "keyword_values"], multiple=True,
                     help="Expand keyword using string provided - eg MASS=120.0. Repeat for multiple keywords"),
        click.Option(["--debug", "debug"], help="Show the Python traceback of errors", **flag),
    ]
    return CombineCommand(
        "combineCards.py",
        params=params,
        callback=_run,
        help="Merge datacards: combineCards.py [options] [label=datacard.txt | datacard.txt] ...",
        epilog=_EPILOG,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    )


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    command = build_command()
    try:
        code = command.main(argv, prog_name="combineCards.py", standalone_mode=False)
    except click.exceptions.Abort:
        sys.stderr.write("Error: aborted\n")
        sys.exit(1)
    except click.ClickException as exc:
        if debug:
            raise
        sys.stderr.write(f"Error: {_one_line(exc.format_message())}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        if debug:
            raise
        from ..errors import PyCombineError

        if isinstance(exc, PyCombineError):
            message = str(exc)
        elif isinstance(exc, OSError) and exc.filename:
            message = f"{exc.filename}: {exc.strerror or exc}"
        else:
            message = f"{type(exc).__name__}: {exc}"
        sys.stderr.write(f"Error: {_one_line(message)}\n")
        sys.exit(1)
    if isinstance(code, int) and code:
        sys.exit(code)


def console_main() -> None:
    """The ``combineCards.py`` console script: :func:`main` with :mod:`.fast_exit`'s exit."""
    from . import fast_exit

    fast_exit.run(main)


if __name__ == "__main__":  # pragma: no cover
    main()

