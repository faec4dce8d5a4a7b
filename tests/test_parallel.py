"""Toys in parallel: local process pool and Dask give the serial run's output, bit for bit.

The timing check needs the two cores of the test machine for itself: when other processes take a
noticeable share of the CPU during the measurement (read from /proc/stat), it is skipped rather
than failed, since a speed-up cannot be measured then.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pycombine.run import toys as toys_driver

BIN = str(Path(sys.executable).parent)
CARDS = Path(__file__).resolve().parent / "reference" / "cards"
N_TOYS = 200
#: FitDiagnostics on this card takes ~40 ms per toy (b-only and s+b fits, Hesse, Minos-like
#: interval), so the process start-up and result transfer are small against the work
ARGS = ["-M", "FitDiagnostics", "simple-shapes-TH1.txt", "-t", str(N_TOYS), "-s", "17", "--expectSignal", "1"]
OUT_FILES = ("higgsCombineTest.FitDiagnostics.mH120.17.root", "fitDiagnosticsTest.root")


def _copy_card(d: Path) -> None:
    for f in ("simple-shapes-TH1.txt", "simple-shapes-TH1_input.root"):
        shutil.copy(CARDS / "shapes" / f, d / f)


def _options(extra: dict):
    from pycombine.cli.combine import build_command
    from pycombine.run.options import RunOptions

    cmd = build_command()
    ctx = cmd.make_context("combine", list(ARGS) + [f"--{k}={v}" for k, v in extra.items()])
    opts = RunOptions.from_cli(ctx.params)
    opts._given = set()
    return opts


def _busy_jiffies() -> tuple[float, float] | None:
    """(busy, total) CPU time of the whole machine in seconds, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            v = [float(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    idle = v[3] + (v[4] if len(v) > 4 else 0.0)
    return (sum(v) - idle) / hz, sum(v) / hz


def run_in_process(workdir: Path, parallel: int) -> dict:
    """``combine ... --parallel N`` without the process start-up: time the toys and the output."""
    from pycombine.run.loading import load
    from pycombine.run.session import Session

    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        opts = _options({"parallel": parallel})
        _, spec = load("simple-shapes-TH1.txt", opts)
        session = Session(spec, opts, out=lambda m: None)
        # lazily imported modules would otherwise be charged to whichever run comes first
        import uproot  # noqa: F401

        import pycombine.methods.fit_diagnostics
        import pycombine.outputs.fit_diagnostics_file  # noqa: F401

        out = io.StringIO()
        sys_before, me_before = _busy_jiffies(), os.times()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(out):
            toys_driver.run(session)
        wall = time.perf_counter() - t0
        sys_after, me_after = _busy_jiffies(), os.times()
    finally:
        os.chdir(cwd)
    ours = sum(me_after[:4]) - sum(me_before[:4])  # user+system of this process and its workers
    others = None
    if sys_before and sys_after:
        others = max(0.0, (sys_after[0] - sys_before[0]) - ours)
    return {"wall": wall, "stdout": out.getvalue(), "others": others, "ours": ours}


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


def test_parallel_is_faster_and_identical(serial_run, tmp_path):
    _copy_card(tmp_path)
    serial = serial_run
    best = None
    for attempt in range(2):
        par = run_in_process(tmp_path, 2)
        speedup = serial["wall"] / par["wall"]
        if best is None or speedup > best[0]:
            best = (speedup, par)
        if speedup >= 1.7:
            break
    speedup, par = best
    assert par["stdout"] == serial["stdout"]
    assert_same_outputs(serial["dir"], tmp_path)
    if speedup < 1.7:
        busy = [r["others"] for r in (serial, par) if r["others"] is not None]
        if busy and max(b / r["wall"] for b, r in zip(busy, (serial, par))) > 0.15:
            pytest.skip(f"other processes used the CPU during the measurement (speed-up {speedup:.2f})")
    assert speedup >= 1.7, f"serial {serial['wall']:.2f} s, --parallel 2 {par['wall']:.2f} s"


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
        args = ["-M", "GoodnessOfFit", "--algo", "saturated", "simple-shapes-TH1.txt", "-t", "30", "-s", "5",
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
PICKLE_CARDS = [
    "shapes/simple-shapes-TH1.txt",
    "CAT23001/datacard-4-abcd.txt",  # rateParams incl. a formula (@0*@1/@2)
    "CAT23001/datacard-2-template-analysis.txt",
    "counting/realistic-multi-channel.txt",
    "shapes/simple-shapes-df.txt",
]


@pytest.mark.parametrize("card", PICKLE_CARDS)
def test_model_spec_pickles_and_compiles_identically(card, monkeypatch):
    from pycombine.model.compile import CompiledModel
    from pycombine.run.loading import load
    from pycombine.run.options import RunOptions

    path = CARDS / card
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
    _, spec = load("simple-shapes-TH1.txt", opts)
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
