"""The ``pycombine`` command: tools beyond Combine's own command line.

    pycombine inspect card.txt [--json]        the model as pycombine builds it
    pycombine impacts card.txt -m 125 ...      nuisance impacts (combineTool.py -M Impacts)
    pycombine regress manifest.toml ...        regression checks for CI
    pycombine gof-pvalue data.root toys*.root  p-value of a goodness-of-fit result
    pycombine plot KIND ...                    plots: impacts, scan1d, limits, gof, scan2d, postfit, pulls
    pycombine export-pyhf card.txt -o ws.json  the card as a pyhf JSON workspace (HistFactory)
    pycombine simplify card.txt -o sl.json     the card's simplified likelihood (m1, m2, m3 per bin)
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
    from ..tools.inspect import dump
    from ..run.loading import load
    from ..run.options import RunOptions

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

    from ..tools.regress import manifest_from_cases
    from ..tools.regress import regress as run

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


from .gof_pvalue import gof_pvalue_command  # noqa: E402

cli.add_command(gof_pvalue_command)


# ---------------------------------------------------------------------------------------- impacts
#: combine options that matter for impacts besides the common ones (the robust crossing search)
_IMPACTS_EXTRA = {"robust_fit", "step_size", "crossing_tolerance", "robust_fit_strategy", "max_failed_steps"}
#: options of the impacts command itself (taken out of the combine table if it has them too)
_IMPACTS_OWN = {"output", "parallel", "dask_scheduler", "approx", "plot", "plot_per_page", "named", "exclude", "mass"}


def _impacts_command() -> click.Command:
    from .clickutil import CombineCommand, Float32
    from .combine import _click_param
    from ..run.options import OPTIONS

    params: list[click.Parameter] = [click.Argument(["cards"], nargs=-1)]
    for o in OPTIONS:
        if o.dest in _IMPACTS_OWN or o.dest == "method":
            continue
        if o.group == "common" or o.dest in _IMPACTS_EXTRA:
            params.append(_click_param(o))
    params += [
        click.Option(["-m", "--mass", "mass"], type=Float32(), required=True, help="Mass (as for combine -m)"),
        click.Option(["-o", "--output", "output"], default="impacts.json", show_default=True,
                     help="Write the impacts (combineTool.py's JSON layout) here"),
        click.Option(["--parallel", "parallel"], type=int, default=0, show_default=True,
                     help="Worker processes for the per-parameter fits (0: one per core)"),
        click.Option(["--dask-scheduler", "dask_scheduler"], default=None,
                     help="Run the per-parameter fits on a Dask cluster: tcp://host:port, or 'local'"),
        click.Option(["--approx", "approx"], type=click.Choice(["hesse"]), default=None,
                     help="Impacts from the covariance of one fit instead of profile fits"),
        click.Option(["--plot", "plot"], default=None, help="Also draw the impact plot to this file (.pdf: all pages)"),
        click.Option(["--plot-per-page", "plot_per_page"], type=int, default=30, show_default=True,
                     help="Parameters per page of the plot"),
        click.Option(["--named", "named"], default=None, help="Only these parameters (comma-separated)"),
        click.Option(["--exclude", "exclude"], default=None,
                     help="Skip these parameters: comma-separated names or rgx{regex} patterns"),
    ]
    return CombineCommand(
        "impacts",
        params=params,
        callback=_impacts,
        help="Impacts of the nuisance parameters on the POIs (combineTool.py -M Impacts): "
        "pycombine impacts card.txt -m 125 --robustFit 1 -o impacts.json",
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    )


def _impacts(**kw) -> None:
    from click.core import ParameterSource

    from ..tools.impacts import ImpactsOptions, run
    from ..run.options import RunOptions

    ctx = click.get_current_context()
    given = {p.name for p in ctx.command.params if ctx.get_parameter_source(p.name) == ParameterSource.COMMANDLINE}
    own = {k: kw.pop(k) for k in list(kw) if k in _IMPACTS_OWN and k != "mass"}
    opts = RunOptions.defaults(**kw)
    opts.method = "MultiDimFit"
    opts._given = given
    options = ImpactsOptions(
        approx=own["approx"],
        named=[n for n in own["named"].split(",") if n] if own["named"] else None,
        exclude=[n for n in own["exclude"].split(",") if n] if own["exclude"] else [],
        parallel=own["parallel"] or None,
        dask_scheduler=own["dask_scheduler"],
    )
    code = run(opts, options, output=own["output"], plot=own["plot"], plot_per_page=own["plot_per_page"],
               out=click.echo)
    if code:
        sys.exit(code)


cli.add_command(_impacts_command())


# ---------------------------------------------------------------------------------------- export-pyhf
@cli.command("export-pyhf")
@click.argument("card")
@click.option("-o", "--output", default="workspace.json", show_default=True, help="Write the pyhf workspace here")
@click.option("-m", "--mass", type=float, default=120.0, show_default=True, help="Mass ($MASS in shapes lines)")
@click.option("--no-compare", is_flag=True, help="Skip the side-by-side limits and fits of the card and the export")
@click.option("--keyword-value", multiple=True, help="WORD=VALUE substitutions in the card")
def export_pyhf(card: str, output: str, mass: float, no_compare: bool, keyword_value: tuple[str, ...]) -> None:
    """Write CARD as a pyhf JSON workspace (schema 1.0.0) and print how far it is from the card.

    Symmetric lnN and rateParams map exactly (read the file back with normsys interpolation
    code 1); asymmetric lnN, shape morphing and autoMCStats are approximated and listed. Unless
    --no-compare, the observed and expected limits and the best fit of r of the card and of the
    export are printed side by side.
    """
    from ..tools.export_pyhf import run

    code = run(card, output, mass=mass, compare=not no_compare, keyword_value=keyword_value, out=click.echo)
    if code:
        sys.exit(code)


# ---------------------------------------------------------------------------------------- simplify
@cli.command("simplify")
@click.argument("card")
@click.option("-o", "--output", default="simplified.json", show_default=True, help="Write the simplified likelihood here")
@click.option("--type", "kind", type=click.Choice(["A", "B"], case_sensitive=False), default="B", show_default=True,
              help="B: pre-fit, background-only (r = 0); A: post-fit of the control regions, signal regions masked")
@click.option("--mask-regex", default=None,
              help="Channels that are signal regions (regex): masked in the type A fit; the SL covers only them")
@click.option("-m", "--mass", type=float, default=120.0, show_default=True, help="Mass ($MASS in shapes lines)")
@click.option("--toys", type=int, default=100_000, show_default=True, help="Parameter draws behind the moments")
@click.option("-s", "--seed", type=int, default=123456, show_default=True, help="Seed of the draws")
@click.option("--keyword-value", multiple=True, help="WORD=VALUE substitutions in the card")
def simplify(card: str, output: str, kind: str, mask_regex: str | None, mass: float, toys: int, seed: int,
             keyword_value: tuple[str, ...]) -> None:
    """Write CARD's simplified likelihood (CMS-NOTE-2017-001, with the third-moment expansion) as JSON:
    per signal-region bin the background mean m1, covariance m2 and third moment m3 (as Combine's
    FitDiagnostics overall_total_M1/M2/M3), the signal at r = 1 and the data. `combine -M
    AsymptoticLimits OUTPUT` evaluates it; spey reads it too (docs/SIMPLIFIED.md)."""
    from ..interop.simplified import write
    from ..outputs.paths import check_output_path
    from ..tools.simplify import SimplifyOptions, summary_lines
    from ..tools.simplify import simplify as run

    check_output_path(output)
    sl = run(card, SimplifyOptions(type=kind.upper(), mask_regex=mask_regex, mass=mass, toys=toys, seed=seed,
                                   keyword_value=keyword_value), out=click.echo)
    # the file first: a summary piped into `head` must not cost the user the file
    write(sl, output)
    for line in summary_lines(sl):
        click.echo(line)
    click.echo(f"Wrote {output}")


# ---------------------------------------------------------------------------------------- neyman
@cli.command("neyman")
@click.argument("card")
@click.option("--poi", default=None, help="The parameter of interest (default: the first POI)")
@click.option("--range", "grid_range", default=None, metavar="LO,HI", help="The grid's range (default: the POI's range)")
@click.option("--points", type=int, default=13, show_default=True, help="Grid points")
@click.option("--toys", type=int, default=300, show_default=True, help="Toys per grid point")
@click.option("--cl", "cls", type=float, multiple=True, help="Confidence levels (default: 0.6827 and 0.9545)")
@click.option("-s", "--seed", type=int, default=123456, show_default=True, help="Seed of the toys")
@click.option("-m", "--mass", type=float, default=120.0, show_default=True, help="Mass ($MASS in shapes lines)")
@click.option("--parallel", type=int, default=0, show_default=True, help="Processes (0: all cores)")
@click.option("--dask-scheduler", default=None, help="Run the toys on this Dask scheduler instead")
@click.option("-o", "--output", default="neyman.json", show_default=True, help="Write the belt and intervals here")
@click.option("--plot", "plot_path", default=None, help="Draw the belt and the scan here (.pdf/.png; no extension: both)")
def neyman_command(card: str, poi: str | None, grid_range: str | None, points: int, toys: int, cls: tuple[float, ...],
                   seed: int, mass: float, parallel: int, dask_scheduler: str | None, output: str,
                   plot_path: str | None) -> None:
    """Neyman construction for one POI of CARD (a datacard or workspace): on a grid, the observed
    profile-likelihood ratio, its distribution from toys generated at the profiled nuisances (per-event
    channels: Poisson bootstrap of their Asimov weights), the belt and the intervals (docs/UNBINNED.md)."""
    from ..errors import OptionError
    from ..outputs.paths import check_output_path
    from ..run.session import Session
    from ..tools.neyman import CL_1SIGMA, CL_2SIGMA, NeymanOptions, neyman, summary_lines, write_json

    check_output_path(output)
    lo = hi = None
    if grid_range is not None:
        try:
            lo, hi = (float(v) for v in grid_range.split(","))
        except ValueError:
            raise OptionError(f"--range {grid_range!r}: expected LO,HI") from None
    session = Session.from_card(card, "MultiDimFit", out=click.echo, mass=mass)
    try:
        res = neyman(session, NeymanOptions(poi=poi, lo=lo, hi=hi, points=points, toys=toys,
                                            cls=tuple(cls) or (CL_1SIGMA, CL_2SIGMA), seed=seed, parallel=parallel,
                                            dask_scheduler=dask_scheduler), out=click.echo)
    finally:
        session.close()
    write_json(res, output)
    for line in summary_lines(res):
        click.echo(line)
    click.echo(f"Wrote {output}")
    if plot_path:
        from ..plots.neyman import plot_neyman

        for path in plot_neyman(plot_path, res.poi, res.grid, res.t_obs, res.quantiles, res.intervals):
            click.echo(f"Wrote {path}")


# ---------------------------------------------------------------------------------------- plot
@cli.command("plot", context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                       "help_option_names": []})
@click.argument("kind", required=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def plot(ctx: click.Context, kind: str | None, args: tuple[str, ...]) -> None:
    """Draw a plot: KIND is impacts (plotImpacts.py), scan1d (plot1DScan.py), limits (plotLimits.py),
    gof (plotGof.py), scan2d (2D contours), postfit or pulls (from fitDiagnostics); `pycombine plot
    KIND --help` lists its options."""
    from .plot_scripts import KINDS, run_plot

    if kind is None or kind in ("-h", "--help"):
        click.echo(ctx.get_help())
        return
    if kind not in KINDS:
        raise click.UsageError(f"unknown plot {kind!r} (choose from {', '.join(KINDS)})")
    run_plot(kind, list(args))


def main() -> None:
    from .errors import run_guarded

    argv = sys.argv[1:]
    args = [a for a in argv if a != "--debug"]  # --debug (tracebacks) works for every sub-command
    run_guarded(lambda: cli.main(args=args, prog_name="pycombine", standalone_mode=False), argv,
                usage_hint="Use pycombine --help (or pycombine COMMAND --help) for the commands and their options")
