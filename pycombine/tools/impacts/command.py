"""``pycombine impacts``: load the card, compute the impacts, write impacts.json (and the plot)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from .driver import ImpactsOptions, impacts
from .result import summary_lines, write_json

__all__ = ["run"]


def run(opts, options: ImpactsOptions, output: str | None = "impacts.json", plot: str | None = None,
        plot_per_page: int = 30, out: Callable[[str], None] = print) -> int:
    """``pycombine impacts``: load the card, compute, write impacts.json (and the plot)."""
    from ...run.loading import load
    from ...run.options import datacard_path
    from ...run.session import Session

    from ...outputs.paths import check_output_path
    from ...run.validate_options import validate_options

    t0 = time.perf_counter()
    path = datacard_path(opts)
    validate_options(opts)
    # before any fit: the results must have somewhere to go
    if output:
        check_output_path(output, "impacts file (-o)")
    if plot:
        check_output_path(plot, "impact plot (--plot)")
    _card, spec = load(path, opts)
    session = Session(spec, opts, out=out)
    result = impacts(session, options=options, out=out)
    for line in summary_lines(result):
        out(line)
    if output:
        write_json(output, result)
        out(f"Wrote {output}")
    if result.missing:
        out("Missing inputs: " + ",".join(result.missing))
    if plot:
        from ...plots.impacts import plot_impacts

        try:
            plot_impacts(result.to_json(), plot, per_page=plot_per_page)
            out(f"Wrote {plot}")
        except ImportError:
            sys.stderr.write("Warning: --plot needs matplotlib: pip install 'pycombine[plot]'\n")
    wall = time.perf_counter() - t0
    n = len(result.params)
    out(f"Impacts of {n} parameters: {result.nfits} profile fits, {result.seconds:.2f} s "
        f"({wall:.2f} s including model building)")
    return 0
