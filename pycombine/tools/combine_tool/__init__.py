"""``combineTool.py``: Combine v10's job tool (``python/tool_base``) on pycombine.

The console script (:mod:`pycombine.cli.combine_tool`) parses the command line; this package does
the work, one module per ``-M`` of combineTool:

* :mod:`.enhanced` -- any combine method: one ``combine`` job per point of the mass, seed,
  ``--singlePoint``, datacard and ``--split-points`` lists (:mod:`.ranges` reads the lists);
* :mod:`.impacts` -- ``-M Impacts``, its three steps, on pycombine's impacts engine;
* :mod:`.collect` -- ``-M CollectLimits`` (limits.json) and ``-M CollectGoodnessOfFit`` (gof.json);
* :mod:`.t2w` -- ``-M T2W`` (text2workspace.py over many cards and directories);
* :mod:`.fast_scan` -- ``-M FastScan`` (the NLL along every parameter);
* :mod:`.jobs` -- what a job is and where it runs (``--job-mode interactive|dask|condor|script|slurm``,
  ``--dry-run``); the console layer supplies the function that runs jobs (:class:`.jobs.ToolEnv`).
"""

from .collect import collect_goodness_of_fit, collect_limits, limit_key
from .enhanced import EnhancedArgs, grid_ranges, jobs_for
from .fast_scan import FastScanResult, fast_scan, fit_values, write_fast_scan
from .impacts import ImpactsArgs, run_impacts
from .jobs import JOB_MODES, Job, JobOptions, Runner, Step, ToolEnv, submit
from .ranges import expand_values
from .t2w import t2w_jobs

__all__ = [
    "JOB_MODES",
    "EnhancedArgs",
    "FastScanResult",
    "ImpactsArgs",
    "Job",
    "JobOptions",
    "Runner",
    "Step",
    "ToolEnv",
    "collect_goodness_of_fit",
    "collect_limits",
    "expand_values",
    "fast_scan",
    "fit_values",
    "grid_ranges",
    "jobs_for",
    "limit_key",
    "run_impacts",
    "submit",
    "t2w_jobs",
    "write_fast_scan",
]
