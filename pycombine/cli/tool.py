"""The ``pycombine`` command: tools beyond Combine's own command line.

    pycombine inspect card.txt [--json]        the model as pycombine builds it
    pycombine impacts card.txt -m 125 ...      nuisance impacts (combineTool.py -M Impacts)
    pycombine regress manifest.toml ...        regression checks for CI
    pycombine gof-pvalue data.root toys*.root  p-value of a goodness-of-fit result
"""

from __future__ import annotations

import sys

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="pycombine", prog_name="pycombine")
def cli() -> None:
    """pycombine tools (the Combine command line itself is `combine`)."""


@cli.command()
@click.argument("card")
@click.option("-m", "--mass", type=float, default=120.0, show_default=True, help="Mass ($MASS in shapes lines)")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables")
@click.option("--keyword-value", multiple=True, help="WORD=VALUE substitutions in the card")
def inspect(card: str, mass: float, as_json: bool, keyword_value: tuple[str, ...]) -> None:
    """Print channels, processes, pre-fit yields, systematics and parameters of CARD."""
    from ..inspect import dump
    from ..runner import RunOptions, load

    opts = RunOptions.defaults(mass=mass, keyword_value=keyword_value)
    c, model = load(card, opts)
    click.echo(dump(c, model, as_json=as_json))


@cli.command()
@click.argument("manifest")
@click.option("--update", is_flag=True, help="Rewrite the references with the current results")
@click.option("--junit", type=click.Path(dir_okay=False), help="Write a JUnit XML report here")
@click.option("--case", "cases", multiple=True, help="Run only these cases (repeatable)")
def regress(manifest: str, update: bool, junit: str | None, cases: tuple[str, ...]) -> None:
    """Run the command lines of MANIFEST and compare with stored references.

    Prints a table of drifts; exits 1 if any quantity drifts beyond its tolerance.
    MANIFEST may also be a Combine reference suite's cases.json.
    """
    import json
    import tempfile
    from pathlib import Path

    from ..regress import manifest_from_cases
    from ..regress import regress as run

    path = Path(manifest)
    if path.name == "cases.json":
        # Combine's recorded suite: build the manifest next to it
        data = manifest_from_cases(path)
        tmp = Path(tempfile.mkdtemp()) / "manifest.json"
        tmp.write_text(json.dumps(data))
        for sub in ("cards", "expected"):
            (tmp.parent / sub).symlink_to(path.parent.resolve() / sub)
        path = tmp
    sys.exit(run(path, update=update, junit=junit, only=list(cases) or None, out=click.echo))


def main() -> None:
    from ..errors import PyCombineError

    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        click.echo(f"Error: {e.format_message()}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        sys.exit(1)
    except PyCombineError as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(1)
