"""The ``combine`` command: Combine's command line on pycombine's engine.

Only click and the option table are imported at start-up, so option errors return immediately;
the datacard machinery is imported when a card is processed. ``combine --help`` (and ``-h``)
alone does not import click either: :mod:`.fast_help` renders click's page from the table.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ..run.options import OPTIONS, Opt

if TYPE_CHECKING:
    import click

DESCRIPTION = "Run a statistical method on a datacard, like CMS Combine: combine -M AsymptoticLimits card.txt"
#: click's page is at most this wide
MAX_WIDTH = 110


def _click_param(o: Opt) -> click.Option:
    import click

    from .clickutil import BoolValue, Float32

    if o.kind == "flag":
        return click.Option([*o.names, o.dest], is_flag=True, default=o.default, help=o.help)
    if o.kind == "multi":
        return click.Option([*o.names, o.dest], multiple=True, default=(), help=o.help)
    types = {"str": str, "float": float, "int": int, "float32": Float32(), "bool": BoolValue()}
    return click.Option(
        [*o.names, o.dest], type=types[o.kind], default=o.default, show_default=o.default not in (None, ""), help=o.help
    )


def _run(**kwargs) -> None:
    import click
    from click.core import ParameterSource

    from ..run.options import RunOptions

    ctx = click.get_current_context()
    opts = RunOptions.from_cli(kwargs)
    # which options the user gave explicitly (some methods change defaults, e.g. --algo impact)
    opts._given = {
        p.name for p in ctx.command.params if ctx.get_parameter_source(p.name) == ParameterSource.COMMANDLINE
    }
    _compatibility(opts)
    if opts.dump_model:
        code = _dump_model(opts)
    else:
        from ..run.runner import run_combine

        code = run_combine(opts)
    if code:
        sys.exit(code)


def _compatibility(opts) -> None:
    """Old spellings of Combine's command lines, and options that change nothing here."""
    import click

    from ..errors import OptionError
    from ..run.options import METHOD_ALIASES, NLL_BACKENDS

    opts.method = METHOD_ALIASES.get(opts.method, opts.method)
    if opts.nll_backend not in NLL_BACKENDS:
        raise OptionError(f"option 'nllbackend' can only take as values {', '.join(map(repr, NLL_BACKENDS))}")
    if "nll_backend" in opts._given:
        click.echo(f"Note: --nllbackend {opts.nll_backend} has no effect in pycombine (it selects a RooFit NLL "
                   f"implementation)", err=True)
    if opts.save_workspace and (opts.method != "MultiDimFit" or opts.toys > 0):
        click.echo("Note: --saveWorkspace is only implemented for MultiDimFit without toys (-t N); "
                   "no workspace is written", err=True)


def _method_in(args: list[str], long_names: list[str]) -> str | None:
    """The ``-M`` value of a command line, read before the options are parsed (None if absent)."""
    method = None
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--":
            break
        if a == "-M" or (a.startswith("--") and "=" not in a and len(a) > 3
                         and [n for n in long_names if n.startswith(a)] == ["--method"]):
            method = args[i] if i < len(args) else None
            i += 1
        elif a.startswith("-M") and not a.startswith("--"):
            method = a[2:].lstrip("=")
        elif a.startswith("--") and "=" in a:
            name, _, value = a.partition("=")
            if len(name) > 3 and [n for n in long_names if n.startswith(name)] == ["--method"]:
                method = value
    return method


def _old_names(args: list[str]) -> list[str]:
    """``--setPhysicsModelParameters`` and ``--freezeNuisances`` under their current names."""
    from ..run.options import OLD_OPTION_NAMES

    out = []
    for a in args:
        name, eq, value = a.partition("=")
        out.append(OLD_OPTION_NAMES[name] + eq + value if name in OLD_OPTION_NAMES else a)
    return out


def _check_method(args: list[str], cmd: click.Command) -> None:
    """An unknown ``-M`` is named before any complaint about options of that method."""
    from ..errors import OptionError
    from ..methods import METHODS
    from ..run.options import METHOD_ALIASES

    if "-h" in args or "--help" in args:
        return
    long_names = [o for p in cmd.params for o in [*getattr(p, "opts", []), *getattr(p, "secondary_opts", [])]
                  if o.startswith("--")]
    method = _method_in(args, long_names)
    if method is not None and method not in METHODS and method not in METHOD_ALIASES:
        raise OptionError(f"Unsupported method: {method} (supported: {', '.join(METHODS)})")


def _dump_model(opts) -> int:
    """``--dump-model``: the model as pycombine builds it (``pycombine inspect``), no method."""
    from ..run.loading import load
    from ..run.options import datacard_path
    from ..tools.inspect import dump

    card, model = load(datacard_path(opts), opts)
    import click

    click.echo(dump(card, model, as_json=opts.json))
    return 0


def build_command() -> click.Command:
    import click

    from .clickutil import CombineCommand

    params: list[click.Parameter] = [click.Argument(["cards"], nargs=-1)]
    params += [_click_param(o) for o in OPTIONS]
    params.append(click.Option(["--version"], is_flag=True, expose_value=False, is_eager=True,
                               callback=_print_version, help="Show the pycombine version and exit"))
    return CombineCommand(
        "combine",
        params=params,
        callback=_run,
        help=DESCRIPTION,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": MAX_WIDTH},
    )


def _print_version(ctx, param, value):
    if value and not ctx.resilient_parsing:
        import click

        from .. import __version__

        click.echo(f"pycombine {__version__} (reproduces CMS Combine v10.6.0)")
        ctx.exit(0)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``combine`` console script."""
    args = _old_names(sys.argv[1:] if argv is None else list(argv))
    if args in (["--help"], ["-h"]):
        sys.stdout.write(help_text())
        return
    from .errors import run_guarded

    cmd = build_command()

    def run():
        _check_method(args, cmd)
        return cmd.main(args=args, prog_name="combine", standalone_mode=False)

    run_guarded(run, args, usage_hint="Use combine --help to get a list of all the allowed options")


def console_main() -> None:
    """The ``combine`` console script: :func:`main`, then an exit without the interpreter's
    teardown when nothing can be lost by it (:mod:`.fast_exit`)."""
    from . import fast_exit

    fast_exit.run(main)


#: the options click adds after the table's (``build_command``)
_TRAILING_ROWS = [("--version", "Show the pycombine version and exit"), ("-h, --help", "Show this message and exit.")]


def help_text(width: int | None = None) -> str:
    """``combine --help``: click's page for :func:`build_command`, without importing click."""
    from .fast_help import option_rows, render, terminal_width

    return render("combine", DESCRIPTION, option_rows(OPTIONS) + _TRAILING_ROWS,
                  terminal_width(MAX_WIDTH) if width is None else width)
