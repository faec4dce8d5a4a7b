"""Per-event likelihood-ratio channels at scale (docs/UNBINNED.md).

    python bench/unbinned.py                          # 10^6 events x 4 processes x 10 systematics
    python bench/unbinned.py --events 100000 --points 10

Writes an events table (``.npy``) of a synthetic interference analysis (S, SBI, B1, B2 with the
NSBI scalings f_S = mu - sqrt(mu), f_SBI = sqrt(mu), f_B1 = 1 - sqrt(mu)), ``--systematics`` shape
systematics on every process (per-event up/down ratios) and three lnN, then times, each as a fresh
``combine`` process: one fit (``-M MultiDimFit --algo none``) and a ``--points`` scan. Wall times
and the peak resident memory of each command are printed and written to
``bench/results/unbinned.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

PO = ('-P HiggsAnalysis.CombinedLimit.PhysicsModel:multiSignalModel --PO "map=ev/S:r[1,0,5]" '
      '--PO "map=ev/S:fS=expr::fS(\'@0-sqrt(@0)\',r)" --PO "map=ev/SBI:fSBI=expr::fSBI(\'sqrt(@0)\',r)" '
      '--PO "map=ev/B1:fB=expr::fB(\'1-sqrt(@0)\',r)"')


def write_inputs(workdir: str, n: int, n_syst: int, seed: int = 1) -> str:
    """The table and the card; returns the card's path."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 10.0, n)  # the events (reference density: uniform)
    p_ref = np.full(n, 0.1)
    gauss = np.exp(-0.5 * ((x - 5.0) / 0.6) ** 2) / (0.6 * np.sqrt(2 * np.pi))
    expo = 0.3 * np.exp(-0.3 * x) / (1 - np.exp(-3.0))
    flat = np.full(n, 0.1)
    inter = -np.sqrt(gauss * expo)  # an interference-like shape (normalised below)
    sbi = 0.1 * gauss + expo + 0.05 * inter
    sbi = sbi / (0.1 + 1.0 + 0.05 * np.mean(inter / p_ref))
    dens = {"S": gauss, "SBI": sbi, "B1": expo, "B2": flat}
    names = ["w"] + [f"r_{p}" for p in dens]
    names += [f"r_{p}_s{k}{d}" for p in dens for k in range(n_syst) for d in ("Up", "Down")]
    table = np.zeros(n, dtype=[(c, "f8") for c in names])
    rates = {"S": 100.0, "SBI": 1150.0, "B1": 1000.0, "B2": float(n) - 1150.0}
    # weighted events of the model at r = 1 (f_S = f_B1 = 0): x is drawn from p_ref (uniform), so the
    # weight of an event is the expected density over p_ref divided by the number of draws
    table["w"] = (rates["SBI"] * dens["SBI"] + rates["B2"] * dens["B2"]) / p_ref / n
    for p, d in dens.items():
        r = d / p_ref
        table[f"r_{p}"] = r
        for k in range(n_syst):
            shift = 0.03 * np.sin((k + 1) * 0.3 * x + k)
            shift -= np.sum(r * shift) / np.sum(r)  # shifted ratios keep int p_ref r = 1 (yields: lnN)
            table[f"r_{p}_s{k}Up"] = r * (1 + shift)
            table[f"r_{p}_s{k}Down"] = r * (1 - shift)
    np.save(os.path.join(workdir, "events.npy"), table)
    procs = list(dens)
    lines = [
        "imax 1 jmax 3 kmax *",
        "shapes * ev events.npy events:w:r_$PROCESS events:w:r_$PROCESS_$SYSTEMATIC",
        "bin ev", "observation -1",
        "bin " + " ".join(["ev"] * 4), "process " + " ".join(procs), "process -2 -1 0 1",
        "rate " + " ".join(f"{rates[p]:g}" for p in procs),
        "lumi lnN " + " ".join(["1.02"] * 4),
        "xs_b1 lnN - - 1.05 -", "xs_b2 lnN - - - 1.03",
    ]
    lines += [f"s{k} shape " + " ".join(["1"] * 4) for k in range(n_syst)]
    card = os.path.join(workdir, "ev.txt")
    with open(card, "w") as f:
        f.write("\n".join(lines) + "\n")
    return card


def timed(cmd: list[str], cwd: str) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one command in a fresh process."""
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.chdir(cwd)
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
        os.execvp(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        subprocess.run(cmd, cwd=cwd)  # show the error
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return wall, usage.ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--systematics", type=int, default=10)
    ap.add_argument("--points", type=int, default=50)
    ap.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results", "unbinned.json"))
    args = ap.parse_args(argv)
    combine = os.path.join(os.path.dirname(sys.executable), "combine")
    with tempfile.TemporaryDirectory() as work:
        t0 = time.perf_counter()
        write_inputs(work, args.events, args.systematics)
        gen = time.perf_counter() - t0
        base = [combine, "ev.txt", "--text2workspace", PO]
        fit = timed(base + ["-M", "MultiDimFit", "--algo", "none"], work)
        scan = timed(base + ["-M", "MultiDimFit", "--algo", "grid", "--points", str(args.points),
                             "--setParameterRanges", "r=0,3"], work)
    report = {"events": args.events, "processes": 4, "shape_systematics": args.systematics, "lnN": 3,
              "generate_s": round(gen, 2), "fit_s": round(fit[0], 2), "fit_peak_mb": round(fit[1]),
              "scan_points": args.points, "scan_s": round(scan[0], 2), "scan_peak_mb": round(scan[1]),
              "cores": os.cpu_count()}
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(report, f, indent=1)
    for k, v in report.items():
        print(f"{k:>18}: {v}")


if __name__ == "__main__":
    main()
