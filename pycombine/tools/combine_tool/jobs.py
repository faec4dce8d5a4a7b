"""combineTool's jobs: what one job runs, and where it runs (``--job-mode``, ``--dry-run``).

A :class:`Job` is a list of :class:`Step` s (one console-script call each: ``combine``,
``text2workspace.py``, ``combineCards.py``) run in one directory. Jobs are data: the same job
is shown as a shell line (``--dry-run``, batch scripts) or run by a :data:`Runner`.

Job modes (:func:`submit`):

``interactive``
    run here, ``--parallel N`` at a time;
``dask``
    each job is a task on pycombine's Dask back end (:func:`pycombine.run.parallel.run_tasks`):
    ``--dask-scheduler tcp://host:port`` (any Dask cluster, also dask-jobqueue's HTCondor or
    Slurm clusters by their scheduler address) or ``local`` (a cluster on this machine);
``condor``
    writes ``condor_<task>.sh`` (job *i* runs when called with argument *i*) and
    ``condor_<task>.sub`` (``queue N``; ``--sub-opts`` lines added) as combineTool does, and
    prints the ``condor_submit`` line instead of running it;
``script``, ``slurm``
    write ``job_<task>_<i>.sh`` (each logging to ``.log``) or ``slurm_<task>.sh`` (an array job),
    not submitted either.

The running itself is not done here: the console layer passes a :data:`Runner` that knows how to
call the console scripts (:mod:`pycombine.cli.jobs`), so this layer never imports them.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import OptionError

__all__ = ["JOB_MODES", "Job", "JobOptions", "Runner", "Step", "ToolEnv", "submit"]

#: ``--job-mode`` values; combineTool's lxbatch, SGE and crab3 are refused with a hint
JOB_MODES = ("interactive", "dask", "condor", "script", "slurm", "lxbatch", "SGE", "crab3")


@dataclass
class Step:
    """One console-script call; ``output``: its stdout and stderr go to this file (shell ``&>``)."""

    program: str
    args: list[str]
    output: str | None = None

    def shell(self, pre_cmd: str = "") -> str:
        text = shlex.join([self.program, *self.args])
        if self.program == "combine" and pre_cmd:
            text = pre_cmd + text
        if self.output:
            text += " &> " + shlex.quote(self.output)
        return text


@dataclass
class Job:
    """Steps run one after another in ``cwd`` (None: the current directory)."""

    steps: list[Step]
    cwd: str | None = None

    def shell(self, pre_cmd: str = "") -> str:
        body = "; ".join(s.shell(pre_cmd) for s in self.steps)
        return f"pushd {shlex.quote(self.cwd)}; {body}; popd" if self.cwd else body


#: runs jobs and returns their exit statuses in order: ``runner(jobs, parallel, dask_scheduler)``
Runner = Callable[[Sequence[Job], int, Any], list[int]]


@dataclass
class JobOptions:
    """combineTool's job options."""

    mode: str = "interactive"
    parallel: int = 1
    dry_run: bool = False
    task_name: str = "combine_task"
    job_dir: str = ""
    merge: int = 1
    sub_opts: str = ""
    pre_cmd: str = ""
    post_job_cmd: str = ""
    prefix_file: str = ""
    dask_scheduler: str | None = None

    def check(self) -> None:
        if self.mode not in JOB_MODES:
            raise OptionError(f"--job-mode {self.mode}: choose from {', '.join(JOB_MODES)}")
        if self.mode in ("lxbatch", "SGE", "crab3"):
            raise OptionError(f"--job-mode {self.mode} is not supported by pycombine: use --job-mode dask "
                              "(any Dask cluster, e.g. dask-jobqueue's) or --job-mode condor/slurm/script "
                              "(writes the job scripts)")
        if self.merge < 1:
            raise OptionError("--merge must be at least 1")
        if self.parallel < 1:
            raise OptionError("--parallel must be at least 1")


# ---------------------------------------------------------------------------------------- scripts
def _prefix(options: JobOptions) -> str:
    """The top of every job script: the shell, and pycombine's console scripts first on PATH."""
    where = {"PWD": os.getcwd(), "CMSSW_BASE": os.environ.get("CMSSW_BASE", ""),
             "SCRAM_ARCH": os.environ.get("SCRAM_ARCH", ""), "PYCOMBINE_BIN": os.path.dirname(sys.executable)}
    if options.prefix_file:
        if not options.prefix_file.endswith(".txt"):
            raise OptionError(f"--prefix-file {options.prefix_file}: give a .txt file (CMSSW's named job "
                              "prefixes need CMSSW)")
        try:
            with open(options.prefix_file) as f:
                return f.read() % where
        except OSError as e:
            raise OptionError(f"--prefix-file {options.prefix_file}: {e.strerror}") from None
        except (KeyError, ValueError, TypeError) as e:
            raise OptionError(f"--prefix-file {options.prefix_file}: bad %(...)s field: {e}") from None
    return ("#!/bin/sh\n"
            "ulimit -s unlimited\n"
            "set -e\n"
            f"export PATH={shlex.quote(where['PYCOMBINE_BIN'])}:$PATH\n"
            f"cd {shlex.quote(where['PWD'])}\n")


def _make_executable(path: str) -> None:
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC | stat.S_IXGRP | stat.S_IXOTH)


def _chunks(jobs: Sequence[Job], merge: int) -> list[Sequence[Job]]:
    return [jobs[k:k + merge] for k in range(0, len(jobs), merge)]


def _write_condor(jobs: Sequence[Job], options: JobOptions, out: Callable[[str], None]) -> None:
    script = f"condor_{options.task_name}.sh"
    subfile = f"condor_{options.task_name}.sub"
    out(f">> condor job script will be {script}")
    parts = [_prefix(options)]
    chunks = _chunks(jobs, options.merge)
    for i, chunk in enumerate(chunks):
        parts.append(f"\nif [ $1 -eq {i} ]; then\n")
        parts += [f"  {j.shell(options.pre_cmd)}\n" for j in chunk]
        parts.append("fi")
    parts.append(f"\n{options.post_job_cmd}\n")
    with open(script, "w") as f:
        f.write("".join(parts))
    _make_executable(script)
    extra = options.sub_opts.encode("utf-8").decode("unicode_escape") if options.sub_opts else ""
    t = options.task_name
    with open(subfile, "w") as f:
        f.write(f"executable = {script}\n"
                "arguments = $(ProcId)\n"
                f"output                = {t}.$(ClusterId).$(ProcId).out\n"
                f"error                 = {t}.$(ClusterId).$(ProcId).err\n"
                f"log                   = {t}.$(ClusterId).log\n"
                "\n"
                "# a job that fails is held, and released for another try after 10 minutes (3 starts at most)\n"
                "on_exit_hold = (ExitBySignal == True) || (ExitCode != 0)\n"
                "periodic_release =  (NumJobStarts < 3) && ((CurrentTime - EnteredCurrentStatus) > 600)\n"
                "\n"
                f"{extra}\n"
                f"queue {len(chunks)}\n\n")
    _not_submitted(f"condor_submit {subfile}", options, out)


def _write_scripts(jobs: Sequence[Job], options: JobOptions, out: Callable[[str], None]) -> None:
    if options.job_dir:
        os.makedirs(options.job_dir, exist_ok=True)
    for i, chunk in enumerate(_chunks(jobs, options.merge)):
        name = os.path.join(options.job_dir, f"job_{options.task_name}_{i}.sh")
        log = name[:-3] + ".log"
        lines = [_prefix(options)]
        for k, j in enumerate(chunk):
            lines.append(f"{j.shell(options.pre_cmd)} 2>&1 | {'tee' if k == 0 else 'tee -a'} {shlex.quote(log)}\n")
        lines.append(f"\n{options.post_job_cmd}\n")
        with open(name, "w") as f:
            f.write("".join(lines))
        _make_executable(name)
        out(f"Created job script: {name}")


def _write_slurm(jobs: Sequence[Job], options: JobOptions, out: Callable[[str], None]) -> None:
    if options.job_dir:
        os.makedirs(options.job_dir, exist_ok=True)
    name = os.path.join(options.job_dir, f"slurm_{options.task_name}.sh")
    lines = [_prefix(options)]
    chunks = _chunks(jobs, options.merge)
    for i, chunk in enumerate(chunks, start=1):
        lines.append(f"if [ ${{SLURM_ARRAY_TASK_ID}} -eq {i} ]; then\n")
        lines += [f"  {j.shell(options.pre_cmd)}\n" for j in chunk]
        lines.append("fi\n")
    lines.append(f"\n{options.post_job_cmd}\n")
    with open(name, "w") as f:
        f.write("".join(lines))
    _make_executable(name)
    out(f"Created job script: {name}")
    log = os.path.abspath(name)[:-3] + "_%A_%a.log"
    sub = f" {options.sub_opts}" if options.sub_opts else ""
    _not_submitted(f"sbatch --array=1-{len(chunks)} -o {log}{sub} {os.path.abspath(name)}", options, out)


def _not_submitted(command: str, options: JobOptions, out: Callable[[str], None]) -> None:
    if options.dry_run:
        out(f"[DRY-RUN]: {command}")
    else:
        out(f">> not submitted (pycombine writes the job files only); to submit: {command}")


# ---------------------------------------------------------------------------------------- submit
def submit(jobs: Sequence[Job], options: JobOptions, runner: Runner | None,
           out: Callable[[str], None] = print) -> int:
    """Run or write ``jobs`` as ``options`` say; returns the exit status (1 if a job failed)."""
    options.check()
    jobs = list(jobs)
    if not jobs:
        return 0
    if options.mode in ("interactive", "dask"):
        if options.dry_run:
            for j in jobs:
                out(f"[DRY-RUN]: {j.shell(options.pre_cmd)}")
            return 0
        if runner is None:
            raise OptionError("no job runner available")
        scheduler = (options.dask_scheduler or "local") if options.mode == "dask" else None
        codes = runner(jobs, options.parallel, scheduler)
        failed = [j for j, c in zip(jobs, codes) if c != 0]
        if failed:
            out(f">> {len(failed)} of {len(jobs)} jobs failed:")
            for j in failed:
                out(f"   {j.shell(options.pre_cmd)}")
            return 1
        return 0
    if options.mode == "condor":
        _write_condor(jobs, options, out)
    elif options.mode == "script":
        _write_scripts(jobs, options, out)
    elif options.mode == "slurm":
        _write_slurm(jobs, options, out)
    return 0


@dataclass
class ToolEnv:
    """What the console layer gives combineTool's methods: a job runner, combine's option parser
    (a combine argument list -> :class:`~pycombine.run.options.RunOptions`) and the output."""

    runner: Runner | None
    parse_combine: Callable[[list[str]], Any]
    out: Callable[[str], None] = print
