"""The ``text2workspace.py`` command: a datacard into a pycombine workspace file.

    text2workspace.py card.txt [-o ws.root] [-m 125] [-P module:object --PO ...] [--channel-masks]

Combine's options (:data:`pycombine.run.options.T2W_OPTIONS`); those that only tune Combine's
RooFit workspace are accepted with one note on stderr. The work is
:func:`pycombine.run.workspace.text2workspace`; the file layout is described in
:mod:`pycombine.run.workspace`. Errors are one ``Error: ...`` line on stderr, exit status 1, and
no output file. Only click and the option table are imported at start-up.
"""

from __future__ import annotations

import sys

import click

from .clickutil import CombineCommand
from ..run.options import T2W_OPTIONS, Opt

_TYPES = {"str": str, "float": float, "int": int}


def _click_param(o: Opt) -> click.Option:
    if o.kind == "flag":
        return click.Option([*o.names, o.dest], is_flag=True, default=False, help=o.help)
    if o.kind == "multi":
        return click.Option([*o.names, o.dest], multiple=True, default=(), help=o.help)
    if o.kind == "pair":
        return click.Option([*o.names, o.dest], nargs=2, multiple=True, default=(), help=o.help)
    return click.Option([*o.names, o.dest], type=_TYPES[o.kind], default=o.default,
                        show_default=o.default not in (None, ""), help=o.help)


def _run(card, debug, **values) -> None:
    from click.core import ParameterSource

    from ..run.workspace import text2workspace

    ctx = click.get_current_context()
    given = [p.name for p in ctx.command.params
             if p.name in values and ctx.get_parameter_source(p.name) == ParameterSource.COMMANDLINE]
    code = text2workspace(card, values, given)
    if code:
        sys.exit(code)


def build_command() -> click.Command:
    params: list[click.Parameter] = [click.Argument(["card"])]
    params += [_click_param(o) for o in T2W_OPTIONS]
    params.append(click.Option(["--debug", "debug"], is_flag=True, help="Show tracebacks of errors"))
    return CombineCommand(
        "text2workspace.py",
        params=params,
        callback=_run,
        help="Turn a datacard (.txt or .txt.gz) into a pycombine workspace file for combine "
        "(the card, its options, physics model and templates; no RooFit)",
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``text2workspace.py`` console script."""
    from .errors import run_guarded

    args = sys.argv[1:] if argv is None else list(argv)
    run_guarded(lambda: build_command().main(args=args, prog_name="text2workspace.py", standalone_mode=False), args,
                usage_hint="Use text2workspace.py --help to get the list of options")


def console_main() -> None:
    """The ``text2workspace.py`` console script: :func:`main` with :mod:`.fast_exit`'s exit."""
    from . import fast_exit

    fast_exit.run(main)
