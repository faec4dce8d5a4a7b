"""Running combineTool's jobs: pycombine's own console scripts, called in forked processes.

A job (:class:`pycombine.tools.combine_tool.jobs.Job`) is one or more console-script calls
(``combine``, ``text2workspace.py``, ``combineCards.py``) in a directory. They are run by calling
the scripts' ``main(argv)`` functions, never by looking ``combine`` up on PATH, so a job always
runs the pycombine of this interpreter even where CMSSW's Combine is installed too.

Why in-process, in a forked child per job: the child starts with numpy, scipy, uproot and
pycombine already imported by the parent (about 0.3 s of every ``combine`` start-up is imports),
so a list of ten masses or a grid split in twenty jobs costs the imports once; and the child
still isolates each job as a separate ``combine`` run would (its directory, ``sys.exit``,
module-level caches, a crash). ``--parallel N`` runs N such children at a time through
:func:`pycombine.run.parallel.run_tasks`. Where fork is not available (Windows), and on Dask
workers (long-lived, multi-threaded processes where fork is unsafe), each job is a subprocess of
the same Python (``python -m pycombine.cli.jobs PROGRAM ARGS...``); on Dask its output comes back
with the result and is printed here in job order.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Sequence

#: console scripts a job may call: name -> module with ``main(argv)``
PROGRAMS = {
    "combine": "pycombine.cli.combine",
    "text2workspace.py": "pycombine.cli.text2workspace",
    "combineCards.py": "pycombine.cli.combine_cards",
}

__all__ = ["PROGRAMS", "run_jobs", "run_program"]


def run_program(program: str, args: Sequence[str]) -> int:
    """Call one console script's ``main`` here; returns its exit status."""
    if program not in PROGRAMS:
        sys.stderr.write(f"Error: unknown program {program!r} in a job\n")
        return 1
    main = importlib.import_module(PROGRAMS[program]).main
    try:
        main(list(args))
    except SystemExit as e:
        code = e.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


def _run_steps(job) -> int:
    """The job's steps, here (the caller is a child process that owns its directory and fds)."""
    if job.cwd:
        os.chdir(job.cwd)
    for step in job.steps:
        saved = None
        if step.output:
            fd = os.open(step.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            saved = (os.dup(1), os.dup(2))
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
        try:
            code = run_program(step.program, step.args)
        finally:
            if saved is not None:
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0])
                os.close(saved[1])
        if code:
            return code
    return 0


def _forked(job) -> int:
    """Run a job in a forked child; returns its exit status."""
    print(">> " + job.shell(), flush=True)
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: run, then leave without running the parent's cleanup handlers
        code = 1
        try:
            code = _run_steps(job)
        except BaseException as e:  # noqa: BLE001 - whatever happens, the child must exit here
            sys.stderr.write(f"Error: {type(e).__name__}: {e}\n")
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _subprocess(job, capture: bool = False) -> tuple[int, str]:
    """Run a job's steps as subprocesses of this Python; ``capture``: return the output too."""
    text = [">> " + job.shell() + "\n"]
    if not capture:
        print(text[0], end="", flush=True)
    for step in job.steps:
        cmd = [sys.executable, "-m", "pycombine.cli.jobs", step.program, *step.args]
        if step.output:
            with open(os.path.join(job.cwd or ".", step.output), "w") as out:
                p = subprocess.run(cmd, cwd=job.cwd or None, stdout=out, stderr=subprocess.STDOUT)
        elif capture:
            p = subprocess.run(cmd, cwd=job.cwd or None, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            text.append(p.stdout)
        else:
            p = subprocess.run(cmd, cwd=job.cwd or None)
        if p.returncode:
            return p.returncode, "".join(text)
    return 0, "".join(text)


def _local_task(job) -> int:
    return _forked(job) if hasattr(os, "fork") else _subprocess(job)[0]


def _dask_task(job) -> tuple[int, str]:
    return _subprocess(job, capture=True)


def _preload() -> None:
    """Import what every combine run needs once, before the children are forked."""
    import numpy  # noqa: F401
    import uproot  # noqa: F401

    import pycombine.cli.combine  # noqa: F401
    import pycombine.run.runner  # noqa: F401


def run_jobs(jobs: Sequence, parallel: int = 1, dask_scheduler=None) -> list[int]:
    """Exit statuses of ``jobs``, run ``parallel`` at a time here, or as tasks on a Dask cluster."""
    from ..run.parallel import run_tasks

    if dask_scheduler is not None:
        results = run_tasks(_dask_task, list(jobs), dask_scheduler=dask_scheduler, progress="jobs")
        for _code, text in results:
            sys.stdout.write(text)
        sys.stdout.flush()
        return [code for code, _text in results]
    if hasattr(os, "fork"):
        _preload()
    sys.stdout.flush()
    return run_tasks(_local_task, list(jobs), parallel=max(1, int(parallel)), progress=None)


if __name__ == "__main__":  # one job step: python -m pycombine.cli.jobs PROGRAM ARGS...
    sys.exit(run_program(sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else 2)
