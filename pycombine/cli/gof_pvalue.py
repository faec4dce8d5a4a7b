"""``pycombine gof-pvalue DATA.root TOYS.root [...]``: p-value of a goodness-of-fit result.

DATA.root is the output of ``combine -M GoodnessOfFit`` on the observed data (its iToy 0 row
holds the statistic), the TOYS files come from the same command with ``-t N -s SEED`` (usually
with ``--toysFrequentist``), possibly from several jobs with different seeds. The p-value is the
fraction of toys whose statistic is at least the observed one, with its binomial uncertainty.
The computation is :func:`pycombine.tools.gof_pvalue.gof_pvalue`.
"""

from __future__ import annotations

import click


@click.command("gof-pvalue")
@click.argument("data_file", type=click.Path(dir_okay=False))
@click.argument("toy_files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def gof_pvalue_command(data_file: str, toy_files: tuple[str, ...]) -> None:
    """p-value of the GoodnessOfFit statistic in DATA_FILE from the toys in TOY_FILES."""
    from ..tools.gof_pvalue import gof_pvalue

    res = gof_pvalue(data_file, list(toy_files))
    for line in res.lines():
        click.echo(line)
