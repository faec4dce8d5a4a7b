"""What ``combine`` does once its options are parsed: load the card, run the method, write files.

Console text follows Combine (``bin/combine.cpp``, ``src/Combine.cc``): the banner, method
option messages, the text2workspace output, then the method's block.
"""

from __future__ import annotations

import os
import sys

from ..errors import OptionError, OutputPathError
from ..methods import METHODS, method_module
from ..outputs.limit_tree import output_filename
from ..outputs.paths import check_output_path
from .loading import load
from .memory import LARGE_MODEL_VALUES
from .options import RunOptions, datacard_path, runtime_define_lines
from .validate_options import validate_options


def random_seed() -> int:
    """``-s -1``: a random seed from the system's entropy (Combine reads ``openssl rand``)."""
    seed = -1
    while seed in (-1, 123456):
        seed = int.from_bytes(os.urandom(4), "little", signed=True)
    return seed


def banner(opts: RunOptions, random: bool = False) -> None:
    print(" <<< Combine >>> ")
    print(" <<< v10.6.0 >>>")
    if random:
        print(f">>> Used OpenSSL to get a truly random seed {opts.seed}")
    else:
        print(f">>> Random number generator seed is {opts.seed}")


def output_files(opts: RunOptions, method) -> list[tuple[str, str]]:
    """(path, what) of every file the run writes: the ``higgsCombine*.root`` file, and the method's
    own files (a method module may list them with ``output_files(opts)``)."""
    name = output_filename(opts.name, opts.method, opts.mass, getattr(opts, "keyword_value", ()), opts.seed,
                           int(getattr(opts, "toys", 0) or 0), getattr(opts, "save_toys", False))
    files = [(name, "output file")]
    extra = getattr(method, "output_files", None)
    if extra is not None:
        files += [(p, f"{opts.method} output file") for p in extra(opts)]
    return files


def check_output_paths(opts: RunOptions, method) -> None:
    """Every output file can be written (directory exists and accepts files, legal name, no
    directory in the way): :class:`~pycombine.errors.OutputPathError` otherwise."""
    for path, what in output_files(opts, method):
        try:
            check_output_path(path, what)
        except OutputPathError as err:
            if "/" in (opts.name or ""):
                raise OutputPathError(f"{err} (-n {opts.name!r}: a '/' in the name makes a directory part)") from None
            raise


#: methods that are not valid on per-event likelihood-ratio channels, with the reason
UNBINNED_UNSUPPORTED = {
    "HybridNew": "its batched toy fits assume binned channels; not available with per-event channels "
                 "(use `pycombine neyman` for toy-based intervals)",
    "GoodnessOfFit": "a saturated model (or KS/AD of bin contents) has no meaning for per-event channels",
}


def run_combine(opts: RunOptions) -> int:
    """Run one combine command line; returns the exit status."""
    path = datacard_path(opts)
    if opts.method not in METHODS:
        raise OptionError(f"Unsupported method: {opts.method} (supported: {', '.join(METHODS)})")
    method = method_module(opts.method)
    validate_options(opts)  # the values no method can compute on (NaN, reversed ranges, ...)
    method.check_options(opts)  # option errors before any output, like Combine's applyOptions
    random = opts.seed == -1
    if random:
        opts.seed = random_seed()
    check_output_paths(opts, method)  # before any computation: a run must be able to write its result
    banner(opts, random=random)
    for line in method.option_messages(opts):
        print(line)
    print(f">>> Method used is {opts.method}")
    lines, notes = runtime_define_lines(opts)
    for line in lines:
        print(line)
    for note in notes:
        sys.stderr.write(note + "\n")
    card, model = load(path, opts)
    for line in model.build_log:
        print(line)
    from .session import Session

    session = Session(model, opts)
    if session.model.stored_values >= LARGE_MODEL_VALUES:
        # this run owns the model description: its shape templates are in the compiled model now
        session.spec.release_shape_templates()
    session.release_free_memory()  # what building a large model left behind
    if session.model.any_unbinned and opts.method in UNBINNED_UNSUPPORTED:
        raise OptionError(f"-M {opts.method}: {UNBINNED_UNSUPPORTED[opts.method]} (docs/UNBINNED.md)")
    bin_outputs = [f for f, name in (("--saveShapes", "save_shapes"), ("--saveOverallShapes", "save_overall_shapes"),
                                     ("--saveWithUncertainties", "save_with_uncertainties")) if getattr(opts, name, False)]
    if session.model.any_unbinned and bin_outputs:
        # their "bins" are events: the bin-by-bin covariances of these outputs grow as events^2
        raise OptionError(f"{bin_outputs[0]}: per-event channels have no histograms to save or bin-by-bin "
                          "uncertainties (post-fit yields: --saveNormalizations; docs/UNBINNED.md)")
    masks = [i for i, n in enumerate(session.model.names) if session.spec.parameters[n].origin == "mask"]
    if masks:  # Combine::run lists the channel masks of the model
        active = sum(1 for i in masks if session.state.values[i] > 0)
        print(f">>> {active} out of {len(masks)} channels masked\n")
    sys.stdout.flush()
    try:
        if session.toys > 0:
            from .toys import run as run_toys

            return run_toys(session)
        return method.run(session)
    finally:
        session.close()
