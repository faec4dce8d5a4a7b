"""Time whole commands the way a user runs them and write a JSON + Markdown report.

    python bench/run.py                      # everything (about 25 minutes on 2 cores)
    python bench/run.py --quick              # 3 runs, no 50k-bin model (about 4 minutes)
    python bench/run.py --only cases --only lumi --runs 7
    python bench/run.py --only small --runs 3     # the start-up figures: small cards, combine --help

Each command runs in a fresh process (as in a shell script), once as a warm-up and then ``--runs``
times; the report gives the median wall time, the spread, and the peak resident memory of the
process tree (``wait4``'s ``ru_maxrss``, the largest over the runs). Suites:

* ``startup``: ``combine --help``, an argument error, and ``python -c "import pycombine"``;
* ``cases``: every case of the regression suite (``../shared/reference/cases.json``), beside the wall
  time the real Combine needed for it (``combine_wall_s``) and the ratio;
* ``small``: the small-card figures of the start-up issue: every reference case of the groups
  ``counting``, ``shapes``, ``seed`` and ``gof`` beside ``combine_wall_s``, with the median and the
  smallest speed-up, the median time of a counting card, and ``combine --help``;
* ``lumi``: the T′ luminosity-projection loop (8 luminosities x Significance + AsymptoticLimits,
  16 commands in one bash loop);
* ``toys``: 200 FitDiagnostics toys of our dijet example with ``--parallel 1`` and ``--parallel 2``
  (the speed-up of the process pool);
* ``hybrid``: HybridNew's observed limit on the tutorial's realistic counting card (default and
  Combine's precision) beside Combine's recorded time, and the full expected band;
* ``pyhf``: ``combine -M AsymptoticLimits`` on pyhf JSON workspaces (a validation model,
  ``xmlimport_input_bkg.json``, a patchset) beside pyhf computing the same limit, per process;
* ``synthetic``: FitDiagnostics and AsymptoticLimits on combinations made by
  ``bench/generate.py`` with 1k, 10k and 50k bins and 100, 500 and 2000 nuisances (autoMCStats on);
  ``--sizes 200k``: FitDiagnostics on 200k bins x 5000 nuisances.

Results go to ``bench/results/<timestamp>.json`` and ``.md`` (and ``latest.json``/``latest.md``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the regression suite recorded from Combine (not in the repository): ../shared/reference beside the
#: clone, or $PYCOMBINE_REFERENCE
REFERENCE = Path(os.environ.get("PYCOMBINE_REFERENCE") or ROOT.parent / "shared" / "reference")
RESULTS = ROOT / "bench" / "results"

#: synthetic combinations: name -> (channels, bins per channel, shape nuisances, lnN nuisances)
SYNTHETIC = {
    "1k": (10, 100, 50, 50),
    "10k": (20, 500, 250, 250),
    "50k": (50, 1000, 1000, 1000),
    # issue 16's largest model; only with --sizes 200k (not in the default run)
    "200k": (200, 1000, 2500, 2500),
}
#: the sizes run when --sizes is not given
DEFAULT_SIZES = ["1k", "10k", "50k"]

#: the targets of the speed issue, in seconds (None: no target, only reported)
TARGETS = {
    "small card": 0.5,
    "hww AsymptoticLimits": 1.0,
    "tprime FitDiagnostics": 2.0,
    "startup": 0.3,
    "combine --help": 0.1,
    "counting card": 0.25,
    "10k FitDiagnostics": 10.0,
    "10k AsymptoticLimits": 20.0,
    "50k FitDiagnostics": 30.0,  # issue 16: 30 s and 1 GB each on 2 cores
    "50k AsymptoticLimits": 30.0,
    "200k FitDiagnostics": 300.0,  # issue 16: 5 minutes and 4 GB
}
MEMORY_LIMIT_MB = 1024.0  # for the 50k-bin model (issue 16)


@dataclass
class Timing:
    suite: str
    name: str
    command: str
    runs: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    combine_s: float | None = None  # the real Combine's wall time, where recorded
    target_s: float | None = None
    error: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else float("nan")

    def as_dict(self) -> dict:
        d = asdict(self)
        d["median_s"] = self.median
        d["ratio"] = (self.combine_s / self.median) if self.combine_s and self.runs else None
        d["target_met"] = None if self.target_s is None or not self.runs else self.median <= self.target_s
        return d


def run_once(command: str, cwd: Path, env: dict) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS in MB of the process tree, exit status, stderr tail) of one run."""
    t0 = time.perf_counter()
    p = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    # wait4 gives this child's own resource usage (ru_maxrss: the largest of the shell and the
    # processes it waited for), where RUSAGE_CHILDREN would accumulate over all earlier runs
    stderr = p.stderr.read() if p.stderr else b""
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    rss_mb = usage.ru_maxrss / 1024.0  # Linux: kilobytes
    return wall, rss_mb, p.returncode, stderr.decode(errors="replace")[-400:]


def measure(t: Timing, cwd: Path, env: dict, runs: int, warmup: int = 1) -> Timing:
    for i in range(warmup + runs):
        wall, rss, rc, err = run_once(t.command, cwd, env)
        if rc != 0:
            t.error = f"exit {rc}: {err.strip()}"
            break
        t.peak_rss_mb = max(t.peak_rss_mb, rss)
        if i >= warmup:
            t.runs.append(wall)
    status = f"{t.median:8.3f} s" if t.runs else "  FAILED  "
    extra = f"  (Combine {t.combine_s:.1f} s, x{t.combine_s / t.median:.0f})" if t.combine_s and t.runs else ""
    print(f"  {t.suite:<9} {t.name:<40} {status}  {t.peak_rss_mb:7.0f} MB{extra}", flush=True)
    return t


# ------------------------------------------------------------------------------------------ suites

def bench_startup(env: dict, runs: int) -> list[Timing]:
    py = sys.executable
    out = []
    for name, cmd in (("combine --help", "combine --help"),
                      ("argument error", "combine -M NoSuchMethod card.txt"),
                      ("import pycombine", f"{py} -c 'import pycombine'")):
        t = Timing("startup", name, cmd, target_s=TARGETS["startup"] if name != "import pycombine" else None)
        if name == "argument error":
            # a refused command line must fail fast: time it, accept its exit status 1
            t = _measure_failing(t, ROOT, env, runs)
        else:
            measure(t, ROOT, env, runs)
        out.append(t)
    return out


def _measure_failing(t: Timing, cwd: Path, env: dict, runs: int) -> Timing:
    for i in range(1 + runs):
        wall, rss, rc, _ = run_once(t.command, cwd, env)
        if rc == 0:
            t.error = "expected a non-zero exit status"
            break
        t.peak_rss_mb = max(t.peak_rss_mb, rss)
        if i:
            t.runs.append(wall)
    print(f"  {t.suite:<9} {t.name:<40} {t.median:8.3f} s  {t.peak_rss_mb:7.0f} MB", flush=True)
    return t


def _case_target(case: dict) -> float | None:
    if case["id"] == "seed_hww_asym_obs":
        return TARGETS["hww AsymptoticLimits"]
    if case["id"] == "seed_tprime_fitdiag":
        return TARGETS["tprime FitDiagnostics"]
    if case["group"] in ("counting", "shapes"):
        return TARGETS["small card"]
    return None


def bench_cases(env: dict, runs: int, work: Path, only: set[str] | None) -> list[Timing]:
    cases = json.loads((REFERENCE / "cases.json").read_text())["cases"]
    out = []
    for case in cases:
        if only and case["id"] not in only:
            continue
        folder = work / "cases" / case["id"]
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(REFERENCE / "cards" / case["folder"], folder)
        t = Timing("cases", case["id"], case["command"], combine_s=case.get("combine_wall_s"),
                   target_s=_case_target(case))
        for cmd in case.get("setup", []):
            p = subprocess.run(cmd, shell=True, cwd=folder, env=env, capture_output=True, text=True, check=False)
            if p.returncode:
                t.error = f"setup failed: {cmd}: {p.stderr.strip()[-300:]}"
                break
        if t.error is None:
            measure(t, folder, env, runs)
        else:
            print(f"  cases     {case['id']:<40}   FAILED  {t.error}", flush=True)
        out.append(t)
    return out


#: the reference groups of small cards whose speed-ups the start-up issue counts, and its targets
SMALL_GROUPS = ("counting", "shapes", "seed", "gof")
SMALL_MEDIAN_TARGET = 12.0  # median speed-up over those cases
SMALL_MIN_TARGET = 6.0  # no case below


def bench_small(env: dict, runs: int, work: Path) -> list[Timing]:
    """``combine --help`` and every reference case of :data:`SMALL_GROUPS` (see :func:`small_summary`)."""
    help_t = measure(Timing("small", "combine --help", "combine --help", target_s=TARGETS["combine --help"]), ROOT,
                     env, runs)
    cases = json.loads((REFERENCE / "cases.json").read_text())["cases"]
    ids = {c["id"] for c in cases if c["group"] in SMALL_GROUPS}
    out = bench_cases(env, runs, work, ids)
    groups = {c["id"]: c["group"] for c in cases}
    for t in out:
        t.suite = "small"
        t.name = f"{groups[t.name]}/{t.name}"
        if t.name.startswith("counting/"):
            t.target_s = TARGETS["counting card"]
    return [help_t, *out]


def small_summary(timings: list[Timing]) -> list[str]:
    """The start-up issue's figures: median and smallest speed-up over the small-card cases, the
    median time of a counting card, ``combine --help``."""
    cases = [t for t in timings if t.suite == "small" and t.combine_s and t.runs]
    if not cases:
        return []
    ratios = sorted((t.combine_s / t.median, t.name) for t in cases)
    median = statistics.median(r for r, _ in ratios)
    counting = [t.median for t in cases if t.name.startswith("counting/")]
    lines = [f"Small cards ({', '.join(SMALL_GROUPS)}; {len(cases)} cases): median speed-up {median:.1f}x "
             f"(target ≥ {SMALL_MEDIAN_TARGET:g}x: {'met' if median >= SMALL_MEDIAN_TARGET else '**not met**'}), "
             f"slowest {ratios[0][0]:.1f}x ({ratios[0][1]}; target ≥ {SMALL_MIN_TARGET:g}x: "
             f"{'met' if ratios[0][0] >= SMALL_MIN_TARGET else '**not met**'})."]
    for group in SMALL_GROUPS:
        g = [(t.combine_s / t.median, t.median) for t in cases if t.name.startswith(group + "/")]
        if g:
            lines.append(f"- {group}: {len(g)} cases, median {statistics.median(m for _, m in g):.3f} s per command, "
                         f"median speed-up {statistics.median(r for r, _ in g):.1f}x, slowest {min(r for r, _ in g):.1f}x")
    if counting:
        med = statistics.median(counting)
        lines.append(f"- counting cards: median {med:.3f} s per command (target ≤ {TARGETS['counting card']:g} s: "
                     f"{'met' if med <= TARGETS['counting card'] else '**not met**'})")
    helps = [t for t in timings if t.suite == "small" and t.name == "combine --help" and t.runs]
    if helps:
        h = helps[0].median
        lines.append(f"- combine --help: {h:.3f} s (target ≤ {TARGETS['combine --help']:g} s: "
                     f"{'met' if h <= TARGETS['combine --help'] else '**not met**'})")
    return lines


LUMIS = (1, 10, 20, 50, 100, 200, 500, 1000)


def bench_lumi(env: dict, runs: int, work: Path) -> list[Timing]:
    """The T′ luminosity projection as in the tutorial: one bash loop of 16 commands."""
    cases = {c["id"]: c for c in json.loads((REFERENCE / "cases.json").read_text())["cases"]}
    case = cases["seed_tprime_lumi10_sig"]
    folder = work / "lumi"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(REFERENCE / "cards" / case["folder"], folder)
    for cmd in case["setup"]:
        subprocess.run(cmd, shell=True, cwd=folder, env=env, check=True, capture_output=True)
    loop = (f"set -e; for i in {' '.join(map(str, LUMIS))}; do "
            "combine combined_search.txt -M Significance --expectSignal 1 -t -1 --setParameters lumi_scale=$i "
            "-n scale.$i; "
            "combine combined_search.txt -M AsymptoticLimits --run blind --setParameters lumi_scale=$i -n scale.$i; "
            "done")
    t = Timing("lumi", f"{2 * len(LUMIS)}-command luminosity loop", loop, combine_s=None)
    # Combine's time for the loop: the recorded times of the two lumi = 10 commands, 8 times
    sig, asym = cases["seed_tprime_lumi10_sig"], cases["seed_tprime_lumi10_blind"]
    if sig.get("combine_wall_s") and asym.get("combine_wall_s"):
        t.combine_s = len(LUMIS) * (sig["combine_wall_s"] + asym["combine_wall_s"])
    return [measure(t, folder, env, runs)]


def bench_toys(env: dict, runs: int, work: Path) -> list[Timing]:
    """200 FitDiagnostics toys (~50 ms each) serially and on two worker processes."""
    folder = work / "toys"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(ROOT / "datacards" / "shapes", folder)
    out = []
    for parallel in (1, 2):
        cmd = f"combine -M FitDiagnostics dijet_resonance.txt -t 200 -s 17 --expectSignal 1 --parallel {parallel}"
        out.append(measure(Timing("toys", f"200 FitDiagnostics toys, --parallel {parallel}", cmd), folder, env, runs))
    if all(t.runs for t in out):
        print(f"  toys      speed-up of --parallel 2: {out[0].median / out[1].median:.2f}", flush=True)
    return out


def bench_hybrid(env: dict, runs: int, work: Path) -> list[Timing]:
    """HybridNew on the tutorial's realistic counting card (the reference case toys_hybrid_lhc_limit,
    134 s with Combine): the observed limit at the default accuracy and at Combine's precision, and
    the full expected band (five --expectedFromGrid quantiles)."""
    cases = {c["id"]: c for c in json.loads((REFERENCE / "cases.json").read_text())["cases"]}
    case = cases.get("toys_hybrid_lhc_limit")
    if case is None:
        return []
    folder = work / "hybrid"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(REFERENCE / "cards" / case["folder"], folder)
    base = "combine -M HybridNew --LHCmode LHC-limits realistic-counting-experiment.txt -s 1"
    band = "; ".join(f"{base} --expectedFromGrid {q} -n q{q}" for q in (0.025, 0.16, 0.5, 0.84, 0.975))
    out = [
        measure(Timing("hybrid", "observed limit (default accuracy)", base, combine_s=case.get("combine_wall_s")),
                folder, env, runs),
        measure(Timing("hybrid", "observed limit, limitErr < 0.022 as Combine's",
                       base + " --rAbsAcc 0.02 --rRelAcc 0.01", combine_s=case.get("combine_wall_s")),
                folder, env, runs),
        measure(Timing("hybrid", "expected band (5 quantiles)", band, target_s=60.0), folder, env, runs),
    ]
    return out


#: pyhf's limit (observed + expected band by its TOMS748 root finder, q~mu, CLs, numpy backend), as a
#: user runs it: one fresh Python process per limit, like ``combine``
PYHF_LIMIT = """import json, sys, pyhf
pyhf.set_backend("numpy")
ws = json.load(open(sys.argv[1]))
if len(sys.argv) > 2:
    ws = pyhf.PatchSet(json.load(open(sys.argv[2]))).apply(pyhf.Workspace(ws), sys.argv[3])
w = pyhf.Workspace(ws); m = w.model(); d = w.data(m)
lo, hi = m.config.suggested_bounds()[m.config.poi_index]
obs, exp = pyhf.infer.intervals.upper_limits.toms748_scan(d, m, lo, hi, level=0.05)
print(obs, exp)
"""


#: the same two limits timed inside one process each (no interpreter start-up, no imports): median
#: seconds per limit after a warm-up, printed as JSON
PYHF_IN_PROCESS = """import json, statistics, sys, time
import pyhf
from pycombine.methods.asymptotic_limits import asymptotic_limits
from pycombine.run.session import Session
pyhf.set_backend("numpy")
path, runs = sys.argv[1], int(sys.argv[2])
extra = dict(patchset=sys.argv[3], patch_name=sys.argv[4]) if len(sys.argv) > 3 else {}
def ours():
    s = Session.from_card(path, "AsymptoticLimits", out=lambda *a: None, **extra)
    asymptotic_limits(s, s.observed)
def theirs():
    ws = json.load(open(path))
    if extra:
        ws = pyhf.PatchSet(json.load(open(extra["patchset"]))).apply(pyhf.Workspace(ws), extra["patch_name"])
    w = pyhf.Workspace(ws); m = w.model(); d = w.data(m)
    lo, hi = m.config.suggested_bounds()[m.config.poi_index]
    pyhf.infer.intervals.upper_limits.toms748_scan(d, m, lo, hi, level=0.05)
out = {}
for name, f in (("ours", ours), ("pyhf", theirs)):
    times = []
    for i in range(runs + 1):
        t0 = time.perf_counter(); f(); times.append(time.perf_counter() - t0)
    out[name] = times[1:]
print(json.dumps(out))
"""


def bench_pyhf(env: dict, runs: int, work: Path) -> list[Timing]:
    """pyhf JSON workspaces: ``combine -M AsymptoticLimits ws.json`` (observed limit and expected band)
    beside pyhf computing the same limit (``PYHF_LIMIT``), each a fresh process; skipped without
    ../shared/pyhf or without pyhf installed."""
    shared = ROOT.parent / "shared" / "pyhf"
    if not shared.is_dir() or subprocess.run([sys.executable, "-c", "import pyhf"], capture_output=True).returncode:
        print("  pyhf      skipped: needs ../shared/pyhf and pyhf installed", flush=True)
        return []
    folder = work / "pyhf"
    folder.mkdir(parents=True, exist_ok=True)
    b = json.loads((shared / "validation_data" / "1bin_example1.json").read_text())["bindata"]
    validation = {  # pyhf's 1bin_shapesys validation model
        "channels": [{"name": "singlechannel", "samples": [
            {"name": "signal", "data": b["sig"], "modifiers": [{"name": "mu", "type": "normfactor", "data": None}]},
            {"name": "background", "data": b["bkg"], "modifiers": [
                {"name": "uncorr_bkguncrt", "type": "shapesys", "data": b["bkgerr"]}]}]}],
        "observations": [{"name": "singlechannel", "data": b["data"]}],
        "measurements": [{"name": "meas", "config": {"poi": "mu", "parameters": []}}], "version": "1.0.0"}
    (folder / "validation_1bin_shapesys.json").write_text(json.dumps(validation))
    (folder / "pyhf_limit.py").write_text(PYHF_LIMIT)
    (folder / "pyhf_in_process.py").write_text(PYHF_IN_PROCESS)
    for f in ("xmlimport_input_bkg.json", "example_bkgonly.json", "example_patchset.json"):
        shutil.copy(shared / f, folder / f)
    patch = "patch_channel1_signal_syst1"
    inputs = [("validation 1bin_shapesys", "validation_1bin_shapesys.json", "", ""),
              ("xmlimport_input_bkg", "xmlimport_input_bkg.json", "", ""),
              ("example_bkgonly + patchset", "example_bkgonly.json", f"--patchset example_patchset.json --patch-name {patch}",
               f"example_patchset.json {patch}")]
    out = []
    for name, ws, ours_extra, pyhf_extra in inputs:
        t_ours = measure(Timing("pyhf", f"{name}: combine AsymptoticLimits",
                                f"combine -M AsymptoticLimits {ws} {ours_extra}".strip()), folder, env, runs)
        t_pyhf = measure(Timing("pyhf", f"{name}: pyhf toms748_scan",
                                f"{sys.executable} pyhf_limit.py {ws} {pyhf_extra}".strip()), folder, env, runs)
        out += [t_ours, t_pyhf]
        if t_ours.runs and t_pyhf.runs:
            print(f"  pyhf      {name}: pycombine {t_pyhf.median / t_ours.median:.1f}x faster than pyhf per limit "
                  "(fresh processes)", flush=True)
        p = subprocess.run([sys.executable, "pyhf_in_process.py", ws, str(runs), *pyhf_extra.split()], cwd=folder, env=env,
                           capture_output=True, text=True)
        if p.returncode == 0:
            times = json.loads(p.stdout.strip().splitlines()[-1])
            pair = [Timing("pyhf", f"{name}: {who} limit in-process", "(in-process)", runs=times[key])
                    for who, key in (("our", "ours"), ("pyhf's", "pyhf"))]
            out += pair
            for t in pair:
                print(f"  {t.suite:<9} {t.name:<40} {t.median:8.3f} s", flush=True)
            print(f"  pyhf      {name}: pycombine {pair[1].median / pair[0].median:.1f}x faster than pyhf per limit "
                  "(in-process)", flush=True)
        else:
            out.append(Timing("pyhf", f"{name}: in-process", "(in-process)", error=p.stderr[-400:]))
    return out


def bench_synthetic(env: dict, runs: int, work: Path, sizes: list[str]) -> list[Timing]:
    out = []
    for size in sizes:
        channels, bins, n_shape, n_lnn = SYNTHETIC[size]
        folder = work / "synthetic" / size
        if not (folder / "card.txt").exists():
            print(f"  generating the {size}-bin model ({channels} channels x {bins} bins, "
                  f"{n_shape + n_lnn} nuisances)...", flush=True)
            subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), str(folder),
                            "--channels", str(channels), "--bins", str(bins), "--shape-nuisances", str(n_shape),
                            "--lnn-nuisances", str(n_lnn), "--auto-mc-stats"], check=True, capture_output=True)
        for method in ("FitDiagnostics",) if size == "200k" else ("FitDiagnostics", "AsymptoticLimits"):
            name = f"{size} bins x {n_shape + n_lnn} nuisances {method}"
            t = Timing("synthetic", name, f"combine -M {method} card.txt", target_s=TARGETS.get(f"{size} {method}"))
            out.append(measure(t, folder, env, runs))
    return out


# ------------------------------------------------------------------------------------------ report

def machine() -> dict:
    import numpy

    return {
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                 text=True, check=False).stdout.strip(),
        "install": _install_kind(),
    }


def _install_kind() -> str:
    """"editable" (pip install -e: every import goes through the editable finder, ~10-20 ms of
    start-up users of ``pip install .`` do not pay) or "regular"."""
    from importlib import metadata

    import json

    try:
        url = json.loads(metadata.distribution("pycombine").read_text("direct_url.json") or "{}")
    except metadata.PackageNotFoundError:
        return "not installed"
    return "editable" if url.get("dir_info", {}).get("editable") else "regular"


def markdown(timings: list[Timing], info: dict, runs: int) -> str:
    lines = [f"# pycombine benchmark ({info['date']}, commit {info['commit'] or '?'})", "",
             f"{info['cpus']} CPUs, Python {info['python']}, numpy {info['numpy']}, {info.get('install', '?')} "
             f"install; median of {runs} runs "
             "after one warm-up; peak RSS of the process tree.", "",
             "| suite | command | pycombine (s) | Combine (s) | speed-up | peak RSS (MB) | target |",
             "|---|---|---:|---:|---:|---:|---|"]
    for t in timings:
        med = f"{t.median:.3f}" if t.runs else "failed"
        comb = f"{t.combine_s:.1f}" if t.combine_s else ""
        ratio = f"{t.combine_s / t.median:.0f}x" if t.combine_s and t.runs else ""
        if t.target_s is None or not t.runs:
            target = ""
        else:
            target = f"≤ {t.target_s:g} s {'met' if t.median <= t.target_s else '**not met**'}"
        lines.append(f"| {t.suite} | {t.name} | {med} | {comb} | {ratio} | {t.peak_rss_mb:.0f} | {target} |")
    big = [t for t in timings if t.suite == "synthetic" and t.name.startswith("50k") and t.runs]
    if big:
        ok = all(t.peak_rss_mb <= MEMORY_LIMIT_MB for t in big)
        lines += ["", f"50k-bin model memory: {max(t.peak_rss_mb for t in big):.0f} MB "
                      f"({'within' if ok else '**above**'} {MEMORY_LIMIT_MB:.0f} MB)."]
    small = small_summary(timings)
    if small:
        lines += ["", *small]
    failed = [t for t in timings if t.error]
    if failed:
        lines += ["", "Failures:"] + [f"- {t.name}: {t.error}" for t in failed]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=None, help="timed runs per command (default 5; --quick: 3)")
    ap.add_argument("--quick", action="store_true", help="3 runs, synthetic models 1k and 10k only")
    ap.add_argument("--only", action="append", choices=["startup", "small", "cases", "lumi", "toys", "hybrid", "synthetic", "pyhf"],
                    help="run only these suites (repeatable)")
    ap.add_argument("--case", action="append", help="only these reference cases (repeatable)")
    ap.add_argument("--sizes", default=None, help="synthetic models, comma separated (default 1k,10k,50k; also 200k)")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one; "
                    "the synthetic models are cached in bench/results/synthetic)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args(argv)
    runs = a.runs or (3 if a.quick else 5)
    sizes = (a.sizes.split(",") if a.sizes else (["1k", "10k"] if a.quick else DEFAULT_SIZES))
    unknown = [s for s in sizes if s not in SYNTHETIC]
    if unknown:
        ap.error(f"unknown synthetic size(s) {unknown}; known: {', '.join(SYNTHETIC)}")
    suites = set(a.only or ["startup", "cases", "lumi", "toys", "hybrid", "synthetic", "pyhf"])

    # the console scripts next to this interpreter come first, like in an activated venv
    env = dict(os.environ)
    # as on a user's machine, Python may cache compiled modules (the warm-up run writes them);
    # without this every run would recompile pycombine from source (~0.05 s)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if not shutil.which("combine", path=env["PATH"]):
        sys.stderr.write("bench/run.py: no `combine` on PATH; install pycombine first (pip install .)\n")
        return 1

    a.out.mkdir(parents=True, exist_ok=True)
    timings: list[Timing] = []
    with tempfile.TemporaryDirectory(prefix="pycombine-bench-") as tmp:
        work = a.work or Path(tmp)
        print(f"median of {runs} runs after a warm-up; peak RSS of the process tree ({_install_kind()} install)")
        if "startup" in suites:
            timings += bench_startup(env, runs)
        if "small" in suites:
            timings += bench_small(env, runs, work)
        if "cases" in suites:
            timings += bench_cases(env, runs, work, set(a.case) if a.case else None)
        if "lumi" in suites:
            timings += bench_lumi(env, runs, work)
        if "toys" in suites:
            timings += bench_toys(env, runs, work)
        if "hybrid" in suites:
            timings += bench_hybrid(env, runs, work)
        if "synthetic" in suites:
            timings += bench_synthetic(env, runs, a.out, sizes)
        if "pyhf" in suites:
            timings += bench_pyhf(env, runs, work)

    info = machine()
    report = {"machine": info, "runs": runs, "timings": [t.as_dict() for t in timings]}
    stamp = info["date"].replace(":", "").replace("-", "")
    for stem in (stamp, "latest"):
        (a.out / f"{stem}.json").write_text(json.dumps(report, indent=1) + "\n")
        (a.out / f"{stem}.md").write_text(markdown(timings, info, runs))
    for line in small_summary(timings):
        print(line)
    print(f"\nwritten {a.out / (stamp + '.json')} and {a.out / (stamp + '.md')}")
    return 1 if any(t.error for t in timings) else 0


if __name__ == "__main__":
    sys.exit(main())
