"""The ``combineTool.py`` console script: Combine v10's job tool on pycombine.

    combineTool.py -M Impacts -d card.txt -m 125 --doInitialFit --robustFit 1
    combineTool.py -M Impacts -d card.txt -m 125 --robustFit 1 --doFits --parallel 4
    combineTool.py -M Impacts -d card.txt -m 125 -o impacts.json
    combineTool.py -M AsymptoticLimits -d card.txt -m 120:130:5,140 --parallel 2
    combineTool.py -M CollectLimits higgsCombine.Test.AsymptoticLimits.mH*.root -o limits.json
    combineTool.py card.txt -M MultiDimFit --algo grid --points 50 --split-points 10 --job-mode condor

The options are parsed as combineTool parses them, with argparse's ``parse_known_args``: the
options of combineTool and of the chosen method are read here (unambiguous prefixes of long
options included, as argparse allows), everything else is passed on to ``combine`` (or to
text2workspace.py for ``-M T2W``). That is why this front end is argparse and not click: unknown
options must flow through untouched, and some options take a variable number of values
(``-d card1 card2``, ``CollectLimits`` inputs). The work is done by
:mod:`pycombine.tools.combine_tool`; jobs run through :func:`pycombine.cli.jobs.run_jobs`.
Only argparse is imported before a method runs, so ``combineTool.py --help`` is instant.
"""

from __future__ import annotations

import argparse
import sys

#: combineTool methods pycombine runs itself (any other -M value is a combine method)
OWN_METHODS = {
    "Impacts": "nuisance impacts in three steps (--doInitialFit, --doFits, -o impacts.json)",
    "CollectLimits": "limit trees -> limits.json keyed by mass (plotLimits.py's input)",
    "CollectGoodnessOfFit": "GoodnessOfFit trees of data and toys -> gof.json (plotGof.py's input)",
    "T2W": "text2workspace.py on many cards or directories of cards",
    "FastScan": "the NLL along each parameter, the others fixed (nll.root, nll.pdf)",
}
#: combineTool methods that are not available here
NOT_AVAILABLE = ("PrintWorkspace", "ModifyDataSet", "ImpactsFromScans", "CovMatrix", "PrintFit", "AsymptoticGrid",
                 "HybridNewGrid", "TaylorExpand")

DESCRIPTION = ("Run combine over lists of masses, points, seeds and datacards, locally, on Dask or as batch jobs "
               "(pycombine's combineTool.py). Methods:\n\n"
               + "".join(f"  {k:<22}: {v}\n" for k, v in OWN_METHODS.items())
               + "  <combine method>      : e.g. AsymptoticLimits, MultiDimFit, GoodnessOfFit, FitDiagnostics, "
                 "Significance, HybridNew: one combine job per point of -m/-s/--singlePoint/--points lists; "
                 "options not listed here go to combine\n")


def _job_options(group) -> None:
    group.add_argument("--job-mode", default="interactive",
                       choices=["interactive", "dask", "condor", "script", "slurm", "lxbatch", "SGE", "crab3"],
                       help="interactive: run here; dask: tasks on a Dask cluster; condor/script/slurm: write the job "
                            "files (not submitted)")
    group.add_argument("--dask-scheduler", default=None,
                       help="with --job-mode dask: tcp://host:port of a Dask scheduler (also dask-jobqueue's "
                            "HTCondor/Slurm clusters) or 'local' (default); otherwise passed to combine")
    group.add_argument("--job-dir", default="", help="directory of the script/slurm job scripts")
    group.add_argument("--prefix-file", default="", help="a .txt file with the top of the job scripts")
    group.add_argument("--task-name", default="combine_task", help="name of the batch job files")
    group.add_argument("--parallel", type=int, default=1, help="jobs run at the same time (interactive)")
    group.add_argument("--merge", type=int, default=1, help="combine calls per batch job")
    group.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    group.add_argument("--sub-opts", default="", help="extra lines of the condor submit file (\\n for new lines)")
    group.add_argument("--memory", type=int, help="(crab only: not used)")
    group.add_argument("--cores", type=int, help="(crab only: not used)")
    group.add_argument("--crab-area", help="(crab only: not used)")
    group.add_argument("--custom-crab", default=None, help="(crab only: not used)")
    group.add_argument("--crab-extra-files", nargs="+", default=[], help="(crab only: not used)")
    group.add_argument("--pre-cmd", default="", help="put this in front of each combine call of the job scripts")
    group.add_argument("--post-job-cmd", default="", help="a command at the end of each batch job")
    group.add_argument("--custom-crab-post", default=None, help="(crab only: not used)")


def _enhanced_options(intercept, tool) -> None:
    intercept.add_argument("-m", "--mass", help="mass list, e.g. 120:130:5,140 (one combine job per value)")
    intercept.add_argument("--points", help="MultiDimFit grid points (with --split-points: split into jobs)")
    intercept.add_argument("--singlePoint", help="a list of points (one job each), as -m")
    intercept.add_argument("-s", "--seed", help="a list of seeds (one job each), as -m")
    intercept.add_argument("-d", "--datacard", nargs="*", default=[], help="one or more datacards (one job each)")
    intercept.add_argument("--name", "-n", default=".Test", help="name in the output file names")
    intercept.add_argument("--setParameterRanges", help="passed on (joined with the --boundlist ranges)")
    intercept.add_argument("--algo", help="MultiDimFit algorithm")
    tool.add_argument("--opts", nargs="+", default=[], help="(combineTool's option presets: not available)")
    tool.add_argument("--there", action="store_true", help="run each job in its datacard's directory")
    tool.add_argument("--split-points", type=int, default=0, help="at most this many grid points per job")
    tool.add_argument("--boundlist", help="JSON of mass-dependent parameter ranges")
    tool.add_argument("--generate", nargs="*", default=[],
                      help="jobs from option tables, e.g. 'P:n::r1,a:r2,b' (-P r1 named .a, -P r2 named .b)")
    tool.add_argument("--fromfile", help="CSV of points for --algo fixed (one job per row)")
    tool.add_argument("--limitPoints", default=-1, type=int, help="only the first N rows of --fromfile")


def _impacts_options(intercept, tool) -> None:
    intercept.add_argument("-m", "--mass", required=True)
    intercept.add_argument("-d", "--datacard", required=True)
    intercept.add_argument("--redefineSignalPOIs", help="the POIs (give it in all three steps)")
    intercept.add_argument("--setParameters")
    intercept.add_argument("--name", "-n", default="Test")
    tool.add_argument("--named", metavar="PARAM1,PARAM2,...", help="only these parameters")
    tool.add_argument("--exclude", metavar="PARAM1,PARAM2,...", help="skip these (names or 'rgx{regex}')")
    tool.add_argument("--doInitialFit", action="store_true", help="step 1: the fit of the POIs")
    tool.add_argument("--splitInitial", action="store_true", help="step 1: one job per POI")
    tool.add_argument("--doFits", action="store_true", help="step 2: the fits of every parameter")
    tool.add_argument("--allPars", action="store_true", help="(always on)")
    tool.add_argument("--output", "-o", help="step 3: write impacts.json here")
    tool.add_argument("--approx", default=None, choices=["hesse", "robust"],
                      help="hesse: impacts from the covariance of one fit")
    tool.add_argument("--noInitialFit", action="store_true", help="no POIs in the JSON")


def _build_parser(method: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="combineTool.py", add_help=False, description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-M", "--method")
    _job_options(parser.add_argument_group("job options"))
    name = method if method in OWN_METHODS else "combine pass-through"
    tool = parser.add_argument_group(f"{name} options")
    intercept = parser.add_argument_group("combine options read by combineTool")
    if method == "Impacts":
        _impacts_options(intercept, tool)
    elif method == "CollectLimits":
        tool.add_argument("input", nargs="+", default=[], help="limit files")
        tool.add_argument("-o", "--output", nargs="?", const="limits.json", default="limits.json")
        tool.add_argument("--use-dirs", action="store_true", help="one JSON per enclosing directory")
        tool.add_argument("--toys", action="store_true", help="expected band from toy limits")
        tool.add_argument("--limit-err", action="store_true", help="also the limits' errors")
        tool.add_argument("--key", default="mh", help="(pycombine) key the entries by this branch instead of mh, or "
                                                      "'file:REGEX': by the number REGEX's group finds in the file name")
    elif method == "CollectGoodnessOfFit":
        tool.add_argument("--input", nargs="+", default=[], help="GoodnessOfFit files (data and toys)")
        tool.add_argument("-o", "--output", nargs="?", const="gof.json", default="gof.json")
        tool.add_argument("--use-dirs", action="store_true", help="one JSON per enclosing directory")
    elif method == "T2W":
        intercept.add_argument("-m", "--mass", help="mass for text2workspace.py")
        tool.add_argument("-i", "--input", nargs="+", default=[], help="datacards and directories of datacards")
        tool.add_argument("--cc", nargs="?", const="combined.txt", default=None, help="merge the cards into this card")
    elif method == "FastScan":
        tool.add_argument("-w", "--workspace", required=True, help="workspace (or datacard) file[:workspace name]")
        tool.add_argument("-d", "--data", help="(a dataset from another file: not available)")
        tool.add_argument("-f", "--fitres", help="start from a fit result: fitDiagnostics.root:fit_s")
        tool.add_argument("--match", help="only parameters matching this regular expression")
        tool.add_argument("--no-match", help="skip parameters matching this regular expression")
        tool.add_argument("-o", "--output", default="nll", help="output name (.root and .pdf are added)")
        tool.add_argument("-p", "--points", default=200, type=int, help="points per scan")
    else:
        _enhanced_options(intercept, tool)
    parser.add_argument("-h", "--help", action="help", help="show this help (per method: with -M METHOD)")
    return parser


def parse_combine(args: list[str]):
    """combine's options (``RunOptions``) from a combine argument list, as ``combine`` parses them."""
    import click
    from click.core import ParameterSource

    from ..errors import OptionError
    from ..run.options import RunOptions
    from .combine import _compatibility, _old_names, build_command

    cmd = build_command()
    try:
        ctx = cmd.make_context("combine", _old_names(list(args)))
    except click.ClickException as e:
        raise OptionError(f"combine options {' '.join(args)}: {e.format_message()}") from None
    opts = RunOptions.from_cli(ctx.params)
    opts._given = {p.name for p in cmd.params if ctx.get_parameter_source(p.name) == ParameterSource.COMMANDLINE}
    _compatibility(opts)
    return opts


def run(argv: list[str]) -> int:
    """One combineTool.py command line; returns the exit status."""
    from ..errors import OptionError

    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("-M", "--method")
    known, _ = first.parse_known_args(argv)
    method = known.method
    if method in NOT_AVAILABLE:
        raise OptionError(f"combineTool.py -M {method} is not available in pycombine "
                          f"(available: {', '.join(OWN_METHODS)} and every combine method)")
    args, passthrough = _build_parser(method).parse_known_args(argv)

    from ..tools.combine_tool import JobOptions, ToolEnv
    from .jobs import run_jobs

    jopts = JobOptions(mode=args.job_mode, parallel=args.parallel, dry_run=args.dry_run, task_name=args.task_name,
                       job_dir=args.job_dir, merge=args.merge, sub_opts=args.sub_opts, pre_cmd=args.pre_cmd,
                       post_job_cmd=args.post_job_cmd, prefix_file=args.prefix_file,
                       dask_scheduler=args.dask_scheduler)
    if args.dask_scheduler is not None and args.job_mode != "dask":
        passthrough += ["--dask-scheduler", args.dask_scheduler]  # combine's own (toys on Dask)
    jopts.check()
    env = ToolEnv(runner=run_jobs, parse_combine=parse_combine, out=lambda line: print(line, flush=True))
    return _dispatch(method, args, passthrough, jopts, env)


def _dispatch(method, args, passthrough, jopts, env) -> int:
    from ..errors import OptionError
    from ..tools import combine_tool as ct

    if method == "Impacts":
        a = ct.ImpactsArgs(mass=args.mass, datacard=args.datacard, name=args.name if args.name is not None else "",
                           redefine_signal_pois=args.redefineSignalPOIs, set_parameters=args.setParameters,
                           named=args.named, exclude=args.exclude, do_initial_fit=args.doInitialFit,
                           split_initial=args.splitInitial, do_fits=args.doFits, all_pars=args.allPars,
                           output=args.output, approx=args.approx, no_initial_fit=args.noInitialFit)
        return ct.run_impacts(a, passthrough, jopts, env)
    if method == "CollectLimits":
        ct.collect_limits(args.input, args.output, args.use_dirs, args.toys, args.limit_err, key=args.key, out=env.out)
        return 0
    if method == "CollectGoodnessOfFit":
        if not args.input:
            raise OptionError("-M CollectGoodnessOfFit: give the files with --input")
        ct.collect_goodness_of_fit(args.input, args.output, args.use_dirs, out=env.out)
        return 0
    if method == "T2W":
        if not args.input:
            raise OptionError("-M T2W: give datacards or directories with -i")
        jobs = ct.t2w_jobs(args.input, passthrough, args.mass, args.cc, out=env.out)
        return ct.submit(jobs, jopts, env.runner, env.out)
    if method == "FastScan":
        if args.data is not None:
            raise OptionError("-M FastScan -d: reading a dataset from another file needs RooFit datasets, which "
                              "pycombine does not write; the scan uses the workspace's data")
        results = ct.fast_scan(args.workspace, parse_combine, args.points, args.match, args.no_match, args.fitres,
                               out=env.out)
        ct.write_fast_scan(results, args.output, out=env.out)
        return 0
    if args.opts:
        raise OptionError("--opts (combineTool's option presets) is not available: give the combine options directly")
    a = ct.EnhancedArgs(method=method, mass=args.mass, points=args.points, single_point=args.singlePoint,
                        seed=args.seed, datacard=list(args.datacard), name=args.name,
                        set_parameter_ranges=args.setParameterRanges, algo=args.algo, there=args.there,
                        split_points=args.split_points, boundlist=args.boundlist, fromfile=args.fromfile,
                        limit_points=args.limitPoints, generate=list(args.generate))
    jobs = ct.jobs_for(a, passthrough, out=env.out)
    return ct.submit(jobs, jopts, env.runner, env.out)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``combineTool.py`` console script."""
    from ..errors import PyCombineError

    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    try:
        code = run(args)
    except PyCombineError as e:
        if debug:
            raise
        sys.stdout.flush()
        print(f"Error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        sys.exit(130)
    sys.exit(code)
