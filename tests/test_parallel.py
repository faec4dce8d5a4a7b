"""Toys in parallel: local process pool and Dask give the serial run's output, bit for bit.

The speed-up of ``--parallel`` is measured by ``bench/run.py`` (suite ``toys``), not here.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from refsuite import params, ref_path

from pycombine.run import toys as toys_driver

BIN = str(Path(sys.executable).parent)
EXAMPLES = Path(__file__).resolve().parents[1] / "datacards"
CARD = "dijet_resonance.txt"  # our own shape example (autoMCStats, shape systematics, a rateParam)
N_TOYS = 60
ARGS = ["-M", "FitDiagnostics", CARD, "-t", str(N_TOYS), "-s", "17", "--expectSignal", "1"]
OUT_FILES = ("higgsCombineTest.FitDiagnostics.mH120.17.root", "fitDiagnosticsTest.root")


def _copy_card(d: Path) -> None:
    for f in (CARD, "dijet_resonance_input.root"):
        shutil.copy(EXAMPLES / "shapes" / f, d / f)


def _options(extra: dict):
    from pycombine.cli.combine import build_command
    from pycombine.run.options import RunOptions

    cmd = build_command()
    ctx = cmd.make_context("combine", list(ARGS) + [f"--{k}={v}" for k, v in extra.items()])
    opts = RunOptions.from_cli(ctx.params)
    opts._given = set()
    return opts


def run_in_process(workdir: Path, parallel: int) -> dict:
    """``combine ... --parallel N`` in this process: its console text (files go to ``workdir``)."""
    from pycombine.run.loading import load
    from pycombine.run.session import Session

    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        opts = _options({"parallel": parallel})
        _, spec = load(CARD, opts)
        session = Session(spec, opts, out=lambda m: None)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            toys_driver.run(session)
    finally:
        os.chdir(cwd)
    return {"stdout": out.getvalue()}


def read_trees(path: Path) -> dict[str, dict[str, np.ndarray]]:
    import uproot

    with uproot.open(path) as f:
        return {k.split(";")[0]: f[k].arrays(library="np") for k, c in f.classnames().items() if c == "TTree"}


def assert_same_outputs(a: Path, b: Path) -> None:
    for name in OUT_FILES:
        ta, tb = read_trees(a / name), read_trees(b / name)
        assert ta.keys() == tb.keys(), name
        for tree in ta:
            assert list(ta[tree]) == list(tb[tree]), (name, tree)
            for br in ta[tree]:
                x, y = ta[tree][br], tb[tree][br]
                assert x.dtype == y.dtype and x.shape == y.shape, (name, tree, br)
                # bitwise, row by row (NaN payloads included)
                assert x.tobytes() == y.tobytes(), (name, tree, br)
    assert read_trees(a / OUT_FILES[0])["limit"]["iToy"].max() == N_TOYS


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("serial")
    _copy_card(d)
    res = run_in_process(d, 1)
    res["dir"] = d
    return res


def test_parallel_is_identical(serial_run, tmp_path):
    """--parallel 2 gives the serial run's console text and files, bit for bit (its speed-up is
    measured by bench/run.py, not here)."""
    _copy_card(tmp_path)
    par = run_in_process(tmp_path, 2)
    assert par["stdout"] == serial_run["stdout"]
    assert_same_outputs(serial_run["dir"], tmp_path)


def test_dask_local_cluster_identical(serial_run, tmp_path):
    distributed = pytest.importorskip("distributed")
    _copy_card(tmp_path)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        p = subprocess.run([f"{BIN}/combine", *ARGS, "--dask-scheduler", cluster.scheduler_address],
                           cwd=tmp_path, check=False, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.endswith(serial_run["stdout"])
    assert_same_outputs(serial_run["dir"], tmp_path)


def test_command_line_parallel_identical(tmp_path):
    """`combine --parallel 2` and `--parallel 1` from the command line: same console text and files."""
    runs = []
    for par in ("1", "2"):
        d = tmp_path / par
        d.mkdir()
        _copy_card(d)
        args = ["-M", "GoodnessOfFit", "--algo", "saturated", CARD, "-t", "30", "-s", "5",
                "--toysFrequentist", "--parallel", par]
        p = subprocess.run([f"{BIN}/combine", *args], cwd=d, check=False, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr
        runs.append((d, p.stdout, p.stderr))
    assert runs[0][1] == runs[1][1]
    assert runs[0][2] == runs[1][2]
    a = read_trees(runs[0][0] / "higgsCombineTest.GoodnessOfFit.mH120.5.root")["limit"]
    b = read_trees(runs[1][0] / "higgsCombineTest.GoodnessOfFit.mH120.5.root")["limit"]
    assert all(a[k].tobytes() == b[k].tobytes() for k in a)
    assert list(a["iToy"]) == list(range(1, 31))


# ------------------------------------------------------------------------- what Dask workers get
PICKLE_CARDS = [EXAMPLES / "shapes" / CARD, EXAMPLES / "tprime" / "combined_search.txt",  # dataframe shapes
                EXAMPLES / "counting" / "monojet_counting.txt", EXAMPLES / "h4l" / "h4l_datacard.txt"]
PICKLE_CARDS += [c for c in params([ref_path("cards", "CAT23001", "datacard-4-abcd.txt"),  # formula rateParam
                                    ref_path("cards", "counting", "realistic-multi-channel.txt")],
                                   ids=lambda p: p.name)]


@pytest.mark.parametrize("path", PICKLE_CARDS, ids=lambda p: getattr(p, "name", None))
def test_model_spec_pickles_and_compiles_identically(path, monkeypatch):
    from pycombine.model.compile import CompiledModel
    from pycombine.run.loading import load
    from pycombine.run.options import RunOptions

    monkeypatch.chdir(path.parent)
    _, spec = load(path.name, RunOptions.defaults())
    copy = pickle.loads(pickle.dumps(spec))
    a, b = CompiledModel(spec), CompiledModel(copy)
    assert a.names == b.names
    for attr in ("init", "lo", "hi", "glob0", "data"):
        assert np.array_equal(getattr(a, attr), getattr(b, attr), equal_nan=True), attr
    assert len(a.formulas) == len(b.formulas)


def test_worker_session_from_job_matches_parent(tmp_path, monkeypatch):
    """A chunk run from a pickled job (what a Dask worker does) equals the parent's results."""
    monkeypatch.chdir(tmp_path)
    _copy_card(tmp_path)
    from pycombine.run.loading import load
    from pycombine.run.options import RunOptions
    from pycombine.run.session import Session

    opts = RunOptions.defaults(method="MultiDimFit", algo="singles", toys=4, seed=3, expect_signal=1.0,
                               toys_frequentist=True)
    _, spec = load(CARD, opts)
    session = Session(spec, opts, out=lambda m: None)
    plan = toys_driver.prepare(session)
    toys_driver._SESSIONS[plan.token] = session
    try:
        local = toys_driver._run_chunk(toys_driver._Chunk(plan, [1, 2, 3, 4]))
    finally:
        toys_driver._SESSIONS.pop(plan.token)
    job = pickle.loads(pickle.dumps(toys_driver._Chunk(plan, [1, 2, 3, 4],
                                                       toys_driver._Job(spec, toys_driver._picklable_opts(opts)))))
    remote = toys_driver._run_chunk(job)
    toys_driver._SESSIONS.clear()
    for x, y in zip(local, remote):
        assert x.stdout == y.stdout
        assert [(r.limit, r.quantile, r.i_toy, r.extra) for r in x.rows] == \
               [(r.limit, r.quantile, r.i_toy, r.extra) for r in y.rows]


# ------------------------------------------------------------------------------ progress bar
class _Terminal:
    """A stand-in for stderr on a terminal that keeps what is written."""

    def __init__(self, tty: bool):
        self.tty, self.text = tty, []

    def isatty(self) -> bool:
        return self.tty

    def write(self, s: str) -> int:
        self.text.append(s)
        return len(s)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("tty", [True, False])
def test_progress_bar_only_on_a_terminal(tty, monkeypatch):
    from pycombine.run import parallel

    term = _Terminal(tty)
    monkeypatch.setattr(sys, "stderr", term)
    bar = parallel.Progress(3, "toys", min_seconds=0.0)
    for _ in range(3):
        bar.update()
    bar.close()
    text = "".join(term.text)
    if tty:
        assert "toys" in text and "3/3" in text
    else:
        assert text == "" and bar.bar is None
