"""What ``combine`` does once its options are parsed: load the card, run the method, write files.

Console text follows Combine (``bin/combine.cpp``, ``src/Combine.cc``): the banner, method
option messages, the text2workspace output, then the method's block.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from types import SimpleNamespace

from .cli.options import OPTIONS
from .errors import DatacardError, OptionError

METHODS = {
    "AsymptoticLimits": "pycombine.methods.asymptotic_limits",
    "Significance": "pycombine.methods.significance",
    "FitDiagnostics": "pycombine.methods.fit_diagnostics",
    "MultiDimFit": "pycombine.methods.multidimfit",
    "GoodnessOfFit": "pycombine.methods.goodness_of_fit",
}


class RunOptions(SimpleNamespace):
    """All command-line options by destination name (see :data:`pycombine.cli.options.OPTIONS`)."""

    @classmethod
    def from_cli(cls, kwargs: dict) -> "RunOptions":
        return cls(**kwargs)

    @classmethod
    def defaults(cls, **overrides) -> "RunOptions":
        values = {o.dest: (tuple(o.default) if o.kind == "multi" else o.default) for o in OPTIONS}
        values["cards"] = ()
        values["_given"] = set(overrides)
        values.update(overrides)
        return cls(**values)


def datacard_path(opts: RunOptions) -> str:
    cards = list(opts.cards)
    if opts.datacard:
        cards.insert(0, opts.datacard)
    if not cards:
        raise OptionError("Missing datacard file (give it as an argument or with -d)")
    if len(cards) > 1:
        raise OptionError(f"only one datacard can be given, got {', '.join(cards)}")
    return cards[0]


def t2w_options(text: str) -> dict:
    """The text2workspace switches pycombine understands inside ``--text2workspace "..."``."""
    out = {"channel_masks": False, "check_norm": True, "allow_no_signal": False, "allow_no_background": False,
           "check_jmax": True, "stat_only": False, "exclude": []}
    tokens = shlex.split(text or "")
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t == "--channel-masks":
            out["channel_masks"] = True
        elif t == "--X-no-check-norm":
            out["check_norm"] = False
        elif t == "--X-allow-no-signal":
            out["allow_no_signal"] = True
        elif t == "--X-allow-no-background":
            out["allow_no_background"] = True
        elif t == "--X-no-jmax":
            out["check_jmax"] = False
        elif t in ("-s", "--stat"):
            out["stat_only"] = True
        elif t == "--X-exclude-nuisance" and i + 1 < len(tokens):
            out["exclude"].append(tokens[i + 1])
            i += 1
        elif t in ("-P", "--PO", "--physics-model"):
            raise OptionError(f"--text2workspace {t}: only Combine's default physics model is supported")
        else:
            sys.stderr.write(f"Warning: --text2workspace option {t} is ignored by pycombine\n")
        i += 1
    return out


def load(path: str, opts: RunOptions, log=None):
    """Parse and build a datacard: returns (Datacard, ModelSpec)."""
    from .datacard import ParseOptions, parse_datacard
    from .model.build import BuildOptions, build_model

    if path.endswith(".root"):
        raise DatacardError(
            "this is a ROOT file; pycombine reads text datacards (RooWorkspace inputs need ROOT)", path=path
        )
    if not os.path.exists(path):
        raise DatacardError("datacard file does not exist", path=path)
    t2w = t2w_options(opts.text2workspace)
    card = parse_datacard(
        path,
        ParseOptions(
            allow_no_signal=t2w["allow_no_signal"],
            allow_no_background=t2w["allow_no_background"],
            check_jmax=t2w["check_jmax"],
            stat_only=t2w["stat_only"],
            exclude_nuisances=t2w["exclude"],
        ),
    )
    model = build_model(
        card,
        BuildOptions(
            mass=opts.mass,
            keyword_values=list(opts.keyword_value),
            check_norm=t2w["check_norm"],
            channel_masks=t2w["channel_masks"],
            data_name=opts.data_map_name,
            warn=lambda m: sys.stderr.write(m + "\n"),
        ),
    )
    return card, model


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


#: ``--X-rtd`` switches that change what pycombine does; every other one tunes RooFit or Minuit
#: internals pycombine does not have, and is accepted with a note on stderr
RUNTIME_DEFINES_USED = {
    "MINIMIZER_no_analytic": "autoMCStats (BB-lite) parameters are minimised numerically, not analytically",
    "longName": "the fitDiagnostics file name carries the mass and toy tags",
}


def runtime_define(opts, name: str) -> int:
    """Value of ``--X-rtd name[=value]`` (1 without a value, C ``atoi`` of the value, 0 if absent);
    the last occurrence wins, as in Combine's ``runtimedef::set``."""
    out = 0
    for item in getattr(opts, "x_rtd", ()) or ():
        key, eq, value = item.partition("=")
        if key == name:
            digits = re.match(r"\s*[+-]?\d+", value) if eq else None
            out = (int(digits.group()) if digits else 0) if eq else 1
    return out


def runtime_defines(opts: RunOptions) -> None:
    """Combine's ``--X-rtd name[=value]`` handling: its ``-v`` lines, plus what they mean here."""
    for item in getattr(opts, "x_rtd", ()) or ():
        name, eq, value = item.partition("=")
        if opts.verbose > 0:
            if eq:
                digits = re.match(r"\s*[+-]?\d+", value)  # C atoi: the leading integer, 0 if none
                print(f"Setting runtime-define {name} to {int(digits.group()) if digits else 0}")
            else:
                print(f"Turning on runtime-define {name}")
        if name not in RUNTIME_DEFINES_USED:
            sys.stderr.write(f"Note: --X-rtd {item} has no effect in pycombine (it tunes RooFit/Minuit internals)\n")


def run_combine(opts: RunOptions) -> int:
    """Run one combine command line; returns the exit status."""
    path = datacard_path(opts)
    if opts.dump_model:
        from .inspect import dump

        card, model = load(path, opts)
        print(dump(card, model, as_json=opts.json))
        return 0
    if opts.method not in METHODS:
        raise OptionError(f"Unsupported method: {opts.method} (supported: {', '.join(METHODS)})")
    import importlib

    method = importlib.import_module(METHODS[opts.method])
    method.check_options(opts)  # option errors before any output, like Combine's applyOptions
    if opts.seed == -1:
        opts.seed = random_seed()
        banner(opts, random=True)
    else:
        banner(opts)
    for line in method.option_messages(opts):
        print(line)
    print(f">>> Method used is {opts.method}")
    runtime_defines(opts)
    card, model = load(path, opts)
    for line in model.build_log:
        print(line)
    from .session import Session

    session = Session(model, opts)
    sys.stdout.flush()
    if session.toys > 0:
        from .toys_driver import run as run_toys

        return run_toys(session)
    return method.run(session)
