"""The ``combine`` console script ends without the interpreter's teardown only when nothing can be
lost (pycombine/cli/fast_exit.py): its printed lines and files are complete, its exit status is
the command's, and with another thread alive it exits normally."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from pycombine.cli import fast_exit

CARD = """imax 1
jmax 1
kmax 1
bin a
observation 12
bin a a
process sig bkg
process 0 1
rate 3 10
lumi lnN 1.05 1.05
"""

SCRIPT = "import sys; from pycombine.cli.combine import console_main; sys.argv[0] = 'combine'; sys.exit(console_main())"


def _combine(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "card.txt").write_text(CARD)
    return subprocess.run([sys.executable, "-c", SCRIPT, *args], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_output_and_files_are_complete_with_the_fast_exit(tmp_path):
    fast = _combine(tmp_path, "-M", "AsymptoticLimits", "card.txt", "-n", "Fast")
    full = _combine(tmp_path, "-M", "AsymptoticLimits", "card.txt", "-n", "Full", PYCOMBINE_FULL_EXIT="1")
    assert fast.returncode == full.returncode == 0, fast.stderr + full.stderr
    assert fast.stdout.replace("Fast", "Full") == full.stdout  # every line, flushed through the pipe
    assert fast.stdout.rstrip().endswith("Expected 97.5%: r < " + full.stdout.rstrip().rsplit("< ", 1)[1])
    a = (tmp_path / "higgsCombineFast.AsymptoticLimits.mH120.root").read_bytes()
    b = (tmp_path / "higgsCombineFull.AsymptoticLimits.mH120.root").read_bytes()
    assert len(a) == len(b) > 0 and not list(tmp_path.glob(".*.tmp*"))  # complete, no scratch left


def test_errors_keep_their_status_and_message(tmp_path):
    out = _combine(tmp_path, "-M", "AsymptoticLimits", "missing.txt")
    assert out.returncode == 1
    assert "missing.txt" in out.stderr and "Traceback" not in out.stderr


def test_not_taken_while_another_thread_runs(monkeypatch):
    monkeypatch.delenv("PYCOMBINE_FULL_EXIT", raising=False)
    monkeypatch.setattr(sys, "gettrace", lambda: None)
    monkeypatch.delitem(sys.modules, "coverage", raising=False)
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        assert not fast_exit._safe()
    finally:
        stop.set()
        worker.join()
    # what earlier tests of this process may have left: threads, Dask, process pools
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    for name in ("distributed", "dask.distributed", "multiprocessing"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert fast_exit._safe()
    monkeypatch.setenv("PYCOMBINE_FULL_EXIT", "1")
    assert not fast_exit._safe()


def test_a_message_status_is_left_to_python():
    fast_exit.finish("Error: something")  # returns: Python prints the message and exits with 1
