"""The input contract of the console scripts, as a checker shared by the validation and property tests.

Whatever the input, a command ends in one of two ways:

* refusal: exit status 1, exactly one ``Error: ...`` line on stderr (the last one), no traceback,
  no "Internal error" or "Caught exception", and no ``.root`` file left behind;
* success: exit status 0, no "Internal error"/"Caught exception", and every new
  ``higgsCombine*.root`` holds a non-empty ``limit`` tree of finite values.

Commands run in-process (:func:`run_cli`): much faster than a subprocess per example, which the
property-based tests need.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORBIDDEN = ("Traceback", "Internal error", "Caught exception")


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    new_files: list[str]

    @property
    def text(self) -> str:
        return self.out + self.err

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("Error:")]


def run_cli(argv: list[str], cwd: Path, script: str = "combine") -> Outcome:
    """Run a console script's ``main`` in ``cwd`` with ``argv``; never raises SystemExit."""
    if script == "combine":
        from pycombine.cli.combine import main

        call = lambda: main(list(argv))  # noqa: E731
    elif script == "pycombine":
        import sys

        from pycombine.cli.tool import main as tool_main

        def call():
            old = sys.argv
            sys.argv = ["pycombine", *argv]
            try:
                tool_main()
            finally:
                sys.argv = old
    elif script == "text2workspace.py":
        from pycombine.cli.text2workspace import main

        call = lambda: main(list(argv))  # noqa: E731
    else:  # pragma: no cover - test helper
        raise ValueError(script)
    before = set(os.listdir(cwd))
    out, err = io.StringIO(), io.StringIO()
    old_cwd = os.getcwd()
    code = 0
    os.chdir(cwd)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                call()
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        os.chdir(old_cwd)
    new = sorted(set(os.listdir(cwd)) - before)
    return Outcome(code, out.getvalue(), err.getvalue(), new)


def limit_values(path: Path) -> np.ndarray:
    import uproot

    with uproot.open(path) as f:
        assert "limit" in [k.split(";")[0] for k in f.keys()], f"{path.name}: no limit tree"
        return f["limit"]["limit"].array(library="np")


def assert_contract(res: Outcome, cwd: Path, what: str = "") -> None:
    """Assert the contract of the module docstring for one command's outcome."""
    ctx = f"{what}\nexit {res.code}\nstderr:\n{res.err[-1500:]}\nstdout:\n{res.out[-800:]}"
    for bad in FORBIDDEN:
        assert bad not in res.text, f"{bad!r} in the output\n{ctx}"
    assert res.code in (0, 1), ctx
    roots = [f for f in res.new_files if f.endswith(".root")]
    if res.code == 1:
        assert not roots, f"refusal left {roots}\n{ctx}"
        lines = [line for line in res.err.splitlines() if line.strip()]
        assert lines and lines[-1].startswith("Error:"), f"the last stderr line is not one error message\n{ctx}"
        assert len(res.error_lines) == 1, f"more than one error message\n{ctx}"
        return
    for f in roots:
        if f.startswith("higgsCombine"):
            lim = limit_values(cwd / f)
            assert lim.size > 0, f"{f}: empty limit tree with exit 0\n{ctx}"
            assert np.all(np.isfinite(lim)), f"{f}: non-finite limit values with exit 0\n{ctx}"


def assert_refused(res: Outcome, cwd: Path, *fragments: str, what: str = "") -> str:
    """A clean refusal whose message contains every fragment; returns the message."""
    assert res.code == 1, f"{what}: not refused (exit {res.code})\n{res.err[-1500:]}\n{res.out[-500:]}"
    assert_contract(res, cwd, what)
    msg = res.error_lines[-1]
    for frag in fragments:
        assert frag in msg, f"{what}: {frag!r} not in {msg!r}"
    return msg
