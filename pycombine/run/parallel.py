"""Run independent tasks (toys, grid points, impact fits, luminosity points) in parallel.

One entry point, :func:`run_tasks`, with three back ends:

* serial (``parallel=1``);
* a local process pool (``parallel=N``; ``None``/``0`` means one worker per core);
* a Dask cluster (``dask_scheduler="tcp://host:port"``, an existing ``distributed.Client``, or
  ``"local"`` for a ``LocalCluster`` on this machine). Dask is an existing distributed engine, so
  HTCondor/Slurm clusters come from ``dask-jobqueue``: start e.g. ``HTCondorCluster(...).scale(50)``
  and pass its scheduler address.

Results always come back in task order, and tasks must not depend on which worker runs them
(toys derive their random streams from the seed and the toy index), so every back end gives
identical output. ``func`` must be a module-level function and tasks picklable.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class Progress:
    """A progress bar on stderr (tqdm), shown only on a terminal and for runs worth watching.

    tqdm is imported only when a bar is shown: in scripts, CI logs and batch jobs (stderr not a
    terminal) nothing is printed and nothing imported.
    """

    def __init__(self, total: int, label: str | None, min_seconds: float = 1.0):
        self.bar = None
        if label and total > 1 and sys.stderr.isatty():
            from tqdm import tqdm

            # delay: runs shorter than min_seconds never show a bar
            self.bar = tqdm(total=total, desc=label, file=sys.stderr, delay=min_seconds, dynamic_ncols=True)

    def update(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_tasks(func: Callable[[T], R], tasks: Sequence[T], parallel: int | None = 1,
              dask_scheduler: Any = None, progress: str | None = None) -> list[R]:
    """``[func(t) for t in tasks]``, possibly in parallel; results in task order."""
    tasks = list(tasks)
    bar = Progress(len(tasks), progress)
    try:
        if dask_scheduler is not None:
            return _run_dask(func, tasks, dask_scheduler, bar)
        return _run_local(func, tasks, parallel, bar)
    finally:
        bar.close()


def _run_local(func, tasks: list, parallel: int | None, bar: Progress) -> list:
    workers = available_cores() if not parallel else int(parallel)
    workers = max(1, min(workers, len(tasks)))
    if workers == 1:
        out = []
        for t in tasks:
            out.append(func(t))
            bar.update()
        return out
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # fork: workers inherit the imported modules and the compiled model instead of rebuilding
    ctx = mp.get_context("fork") if sys.platform.startswith("linux") else mp.get_context()
    results: list[Any] = [None] * len(tasks)
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {pool.submit(func, t): i for i, t in enumerate(tasks)}
        from concurrent.futures import as_completed

        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            bar.update()
    return results


def _run_dask(func, tasks, scheduler, bar: Progress) -> list:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        from ..errors import OptionError

        raise OptionError("--dask-scheduler needs dask.distributed: pip install 'pycombine[dask]'") from None
    own_client = False
    cluster = None
    if isinstance(scheduler, Client):
        client = scheduler
    elif scheduler == "local":
        cluster = LocalCluster(n_workers=available_cores(), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        own_client = True
    else:
        client = Client(scheduler)
        own_client = True
    try:
        futures = client.map(func, tasks, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(tasks)
        for fut in as_completed(futures):
            results[index[fut.key]] = fut.result()
            bar.update()
        return results
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()


class WorkerPool:
    """A process pool kept for a whole run, for methods that hand out many small rounds of work.

    Creating a pool per round would cost tens of milliseconds each time; this one is started at
    the first :meth:`map` (forked, so workers inherit everything in memory at that moment, e.g.
    the compiled model) and closed by :meth:`close`. Results come back in task order.
    """

    def __init__(self, workers: int):
        self.workers = max(1, int(workers))
        self._pool = None

    def map(self, func: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
        tasks = list(tasks)
        if self.workers == 1 or len(tasks) <= 1 or not sys.platform.startswith("linux"):
            return [func(t) for t in tasks]
        if self._pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            sys.stdout.flush()
            sys.stderr.flush()
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("fork"))
        return list(self._pool.map(func, tasks))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
