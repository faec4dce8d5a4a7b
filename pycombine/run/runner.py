"""What ``combine`` does once its options are parsed: load the card, run the method, write files.

Console text follows Combine (``bin/combine.cpp``, ``src/Combine.cc``): the banner, method
option messages, the text2workspace output, then the method's block.
"""

from __future__ import annotations

import os
import sys

from ..errors import OptionError
from ..methods import METHODS, method_module
from .loading import load
from .options import RunOptions, datacard_path, runtime_define_lines


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


def run_combine(opts: RunOptions) -> int:
    """Run one combine command line; returns the exit status."""
    path = datacard_path(opts)
    if opts.method not in METHODS:
        raise OptionError(f"Unsupported method: {opts.method} (supported: {', '.join(METHODS)})")
    method = method_module(opts.method)
    method.check_options(opts)  # option errors before any output, like Combine's applyOptions
    if opts.seed == -1:
        opts.seed = random_seed()
        banner(opts, random=True)
    else:
        banner(opts)
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
