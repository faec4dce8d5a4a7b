"""Generate synthetic combinations for the scaling benchmarks.

    python bench/generate.py OUTDIR --channels 10 --bins 100 --processes 5 \
        --shape-nuisances 50 --lnn-nuisances 50 [--auto-mc-stats] [--seed 1]

writes ``OUTDIR/card.txt`` (one multi-channel datacard) and ``OUTDIR/shapes.root``. Every
channel has one signal and ``processes - 1`` falling backgrounds. Like the systematics of a real
combination, most nuisances act on a few channels (``--scope`` channels each, on ~60 % of their
processes) and a handful (``--global-nuisances``, e.g. luminosity or jet energy scale) on every
channel; shape nuisances come with smooth ±1σ templates. Data are a Poisson draw of the nominal
background plus signal.
"""

from __future__ import annotations

import argparse
import os

import numpy as np


def generate(outdir: str, channels: int, bins: int, processes: int, shape_nuisances: int, lnn_nuisances: int,
             auto_mc_stats: bool, seed: int = 1, scope: int = 3, global_nuisances: int = 5) -> str:
    import uproot

    rng = np.random.default_rng(seed)
    os.makedirs(outdir, exist_ok=True)
    x = (np.arange(bins) + 0.5) / bins
    edges = np.linspace(0.0, 1.0, bins + 1)
    procs = ["sig"] + [f"bkg{i}" for i in range(1, processes)]
    hists = {}
    rates = {}
    for c in range(channels):
        ch = f"ch{c}"
        total = np.zeros(bins)
        for j, p in enumerate(procs):
            if j == 0:
                shape = np.exp(-0.5 * ((x - rng.uniform(0.3, 0.7)) / 0.08) ** 2)
                norm = rng.uniform(5, 20)
            else:
                shape = np.exp(-x * rng.uniform(1.0, 4.0)) + 0.05
                norm = rng.uniform(50, 500) * bins / 100
            nominal = norm * shape / shape.sum()
            # MC statistical errors: ~5 % per bin, more in the tails
            err = nominal * rng.uniform(0.03, 0.08, bins)
            hists[f"{ch}/{p}"] = (nominal, err)
            rates[(ch, p)] = float(nominal.sum())
            if j:
                total += nominal
            else:
                total += nominal
        hists[f"{ch}/data_obs"] = (rng.poisson(total).astype(float), None)
    def targets(k: int) -> list[tuple[int, str]]:
        """(channel, process) pairs a nuisance acts on."""
        chans = range(channels) if k < global_nuisances else rng.choice(channels, min(scope, channels), replace=False)
        return [(int(c), p) for c in chans for p in procs if rng.uniform() < 0.6]

    shape_effects = {}
    for k in range(shape_nuisances):
        name = f"shape{k}"
        for c, p in targets(k):
            nom, err = hists[f"ch{c}/{p}"]
            tilt = rng.normal(0, 0.05) * (x - 0.5) * 2
            scale = 1 + rng.normal(0, 0.02)
            hists[f"ch{c}/{p}_{name}Up"] = (nom * (1 + tilt) * scale, err)
            hists[f"ch{c}/{p}_{name}Down"] = (nom * (1 - tilt) / scale, err)
            shape_effects[(name, f"ch{c}", p)] = 1
    lnn_effects = {}
    for k in range(lnn_nuisances):
        name = f"lnN{k}"
        for c, p in targets(k):
            lnn_effects[(name, f"ch{c}", p)] = 1 + abs(rng.normal(0, 0.05))
    with uproot.recreate(os.path.join(outdir, "shapes.root")) as f:
        for key, (vals, err) in hists.items():
            h = np.asarray(vals, dtype=np.float64)
            if err is None:
                f[key] = (h, edges)
            else:
                # uproot writes sumw2 from a (values, edges) pair only as values; build the variances
                f[key] = _th1d(h, err, edges)
    cols = [(f"ch{c}", p) for c in range(channels) for p in procs]
    lines = [f"imax {channels}", f"jmax {processes - 1}", "kmax *", "-" * 40,
             "shapes * * shapes.root $CHANNEL/$PROCESS $CHANNEL/$PROCESS_$SYSTEMATIC", "-" * 40,
             "bin " + " ".join(f"ch{c}" for c in range(channels)),
             "observation " + " ".join("-1" for _ in range(channels)), "-" * 40,
             "bin " + " ".join(c for c, _ in cols),
             "process " + " ".join(p for _, p in cols),
             "process " + " ".join(str(procs.index(p)) for _, p in cols),
             "rate " + " ".join("-1" for _ in cols), "-" * 40]
    for k in range(lnn_nuisances):
        name = f"lnN{k}"
        vals = [f"{lnn_effects[(name, c, p)]:.4f}" if (name, c, p) in lnn_effects else "-" for c, p in cols]
        if any(v != "-" for v in vals):
            lines.append(f"{name} lnN " + " ".join(vals))
    for k in range(shape_nuisances):
        name = f"shape{k}"
        vals = ["1" if (name, c, p) in shape_effects else "-" for c, p in cols]
        if any(v != "-" for v in vals):
            lines.append(f"{name} shape " + " ".join(vals))
    if auto_mc_stats:
        lines.append("* autoMCStats 10")
    path = os.path.join(outdir, "card.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def _th1d(values, errors, edges):
    import uproot

    nb = len(values)
    flow = np.zeros(nb + 2)
    flow[1:-1] = values
    sumw2 = np.zeros(nb + 2)
    sumw2[1:-1] = errors**2
    return uproot.writing.identify.to_TH1x(
        fName=None, fTitle="", data=flow, fEntries=float(nb), fTsumw=float(values.sum()), fTsumw2=float(sumw2.sum()),
        fTsumwx=0.0, fTsumwx2=0.0, fSumw2=sumw2,
        fXaxis=uproot.writing.identify.to_TAxis("xaxis", "", nb, float(edges[0]), float(edges[-1])),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--channels", type=int, default=10)
    ap.add_argument("--bins", type=int, default=100)
    ap.add_argument("--processes", type=int, default=5)
    ap.add_argument("--shape-nuisances", type=int, default=50)
    ap.add_argument("--lnn-nuisances", type=int, default=50)
    ap.add_argument("--auto-mc-stats", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scope", type=int, default=3, help="channels each nuisance acts on")
    ap.add_argument("--global-nuisances", type=int, default=5, help="nuisances acting on every channel")
    a = ap.parse_args()
    print(generate(a.outdir, a.channels, a.bins, a.processes, a.shape_nuisances, a.lnn_nuisances, a.auto_mc_stats,
                   a.seed, a.scope, a.global_nuisances))


if __name__ == "__main__":
    main()
