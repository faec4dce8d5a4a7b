"""Leaving a finished command without tearing the interpreter down.

A small ``combine`` command spends ~40 ms after its last line of output in Python's
finalization: a last garbage collection and the deallocation of every module and object
(numpy, click, iminuit, ours), work whose only effect is to return memory the kernel takes back
anyway. Shell loops run thousands of these commands. :func:`finish` ends the process directly
once the command is done and nothing can be lost by it:

* standard output and error are flushed first, and the ``atexit`` handlers run (libraries'
  clean-ups, e.g. logging's);
* every output file is already complete: the ROOT writers close their files and move them into
  place atomically before the command returns, and their compression thread is joined;
* it is skipped (normal interpreter exit) whenever something else could still be running or
  waiting for the teardown: another live thread, child processes, Dask, a coverage or trace
  tool, a non-integer exit status, or ``PYCOMBINE_FULL_EXIT=1`` in the environment.
"""

from __future__ import annotations

import os
import sys


def _safe() -> bool:
    if os.environ.get("PYCOMBINE_FULL_EXIT"):
        return False
    if sys.gettrace() is not None or "coverage" in sys.modules:
        return False
    if any(name in sys.modules for name in ("distributed", "dask.distributed")):
        return False
    import threading

    if threading.active_count() > 1:
        return False
    mp = sys.modules.get("multiprocessing")
    if mp is not None and mp.active_children():
        return False
    return True


def finish(code: object) -> None:
    """End the process with exit status ``code`` now if that is safe (see the module docstring);
    otherwise return, and the caller exits normally."""
    if not isinstance(code, int) and code is not None:
        return  # sys.exit("message"): Python prints it on the way out
    if not _safe():
        return
    status = 0 if code is None else code
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe (`combine ... | head`) or stream: nothing to keep
            pass
    import atexit

    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_functions is not None:
        run_exit_functions()
    os._exit(status)


def run(main) -> None:
    """Call a console script's ``main()`` and :func:`finish` with its exit status."""
    try:
        main()
    except SystemExit as e:
        finish(e.code)
        raise
    finish(0)
