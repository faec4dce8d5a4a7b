"""How every console script ends on a failure: one line on stderr, exit status 1, no traceback.

``combine``, ``text2workspace.py`` and the ``pycombine`` sub-commands (``inspect``, ``impacts``,
``regress``, ``gof-pvalue``, ...) run their click command through :func:`run_guarded`:

* a user-facing error (:class:`~pycombine.errors.PyCombineError`: a bad card, option, shape file or
  output path) is printed as ``Error: <file:line: message>``;
* a click usage error as ``Error: <message>`` plus the command's help hint;
* a file the system refuses to read or write (``OSError``) as ``Error: <file>: <reason>``;
* anything else is a bug of ours: ``Internal error while processing <the input files>: ...``,
  naming the inputs so the report can be reproduced;
* ``--debug`` re-raises instead, with the traceback.

numpy's RuntimeWarnings (overflow, invalid value) are silenced unless ``--debug`` is given: the
numbers they concern are checked where they matter (non-finite likelihoods, non-finite results
are reported with their cause), so the warnings would only repeat that in numpy's words.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Sequence

import click


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def input_files(argv: Sequence[str]) -> list[str]:
    """The arguments of a command line that name existing files (the inputs a failure concerns)."""
    out = []
    for a in argv:
        if a.startswith("-"):
            a = a.partition("=")[2]
        if a and os.path.isfile(a) and a not in out:
            out.append(a)
    return out


def run_guarded(run: Callable[[], object], argv: Sequence[str], usage_hint: str | None = None) -> None:
    """Call ``run()`` (a click command's ``main`` with ``standalone_mode=False``) and turn every
    failure into one line on stderr and an exit status (see the module docstring)."""
    from ..errors import PyCombineError

    debug = "--debug" in argv
    if not debug:
        warnings.filterwarnings("ignore", category=RuntimeWarning)
    try:
        code = run()
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        sys.stdout.flush()
        click.echo(f"Error: {_one_line(e.format_message())}", err=True)
        if usage_hint:
            click.echo(usage_hint, err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        sys.stdout.flush()
        click.echo("Error: aborted (end of input or interrupt)", err=True)
        sys.exit(1)
    except PyCombineError as e:
        if debug:
            raise
        sys.stdout.flush()
        click.echo(f"Error: {_one_line(str(e))}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except OSError as e:
        if debug or not getattr(e, "filename", None):
            if debug:
                raise
            _internal(e, argv)
        sys.stdout.flush()
        click.echo(f"Error: {e.filename}: {e.strerror or e}", err=True)
        sys.exit(1)
    except RecursionError as e:
        if debug:
            raise
        _internal(e, argv)
    except Exception as e:  # a bug of ours: still no traceback unless asked for
        if debug:
            raise
        _internal(e, argv)
    if isinstance(code, int) and code:
        sys.exit(code)


def _internal(e: BaseException, argv: Sequence[str]) -> None:
    sys.stdout.flush()
    inputs = input_files(argv)
    where = f" while processing {', '.join(inputs)}" if inputs else ""
    click.echo(f"Internal error{where}: {type(e).__name__}: {_one_line(str(e))} "
               "(rerun with --debug for the traceback)", err=True)
    sys.exit(1)
