"""Per-event likelihood-ratio channels (docs/UNBINNED.md) on a synthetic analysis with known densities.

The model (x in [0, 10]): an exponential background B, a Gaussian signal S and their interference
I(x) = -2 rho sqrt(nu_S p_S(x) nu_B p_B(x)), so that with signal strength mu the expected density is
mu S + B + sqrt(mu) I = (mu - sqrt(mu)) S + sqrt(mu) SBI + (1 - sqrt(mu)) B (the NSBI
parametrisation, SBI = S + B + I). Events are drawn at mu = 1 with a fixed seed; the ratios
r_j = p_j / p_B are exact. Expected values are computed here from these formulas, never from
pycombine's output.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from contract import run_cli

LAM, M0, SIG, RHO = 0.3, 5.0, 0.6, 0.5
NU_S, NU_B = 60.0, 1000.0
LO, HI = 0.0, 10.0
KAPPA = 1.02  # lumi lnN on every process


def _phi_cdf(z):
    return 0.5 * (1.0 + np.vectorize(math.erf)(np.asarray(z, float) / math.sqrt(2.0)))


Z_S = float(_phi_cdf((HI - M0) / SIG) - _phi_cdf((LO - M0) / SIG))
Z_B = 1.0 - math.exp(-LAM * HI)


def p_s(x):
    return np.exp(-0.5 * ((x - M0) / SIG) ** 2) / (SIG * math.sqrt(2 * math.pi) * Z_S)


def p_b(x):
    return LAM * np.exp(-LAM * x) / Z_B


def interference(x):
    return -2.0 * RHO * np.sqrt(NU_S * p_s(x) * NU_B * p_b(x))


def _integral(f, a=LO, b=HI, n=200001):
    x = np.linspace(a, b, n)
    y = f(x)
    h = (b - a) / (n - 1)
    return h / 3.0 * (y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum())  # Simpson


NU_I = _integral(interference)
NU_SBI = NU_S + NU_B + NU_I


def p_sbi(x):
    return (NU_S * p_s(x) + NU_B * p_b(x) + interference(x)) / NU_SBI


def f_mu(mu):
    """(f_S, f_SBI, f_B)."""
    r = math.sqrt(mu)
    return mu - r, r, 1.0 - r


def generate(seed: int = 1, mu: float = 1.0) -> np.ndarray:
    """Events of the model at ``mu`` (accept-reject on a uniform proposal)."""
    rng = np.random.default_rng(seed)
    fs, fsbi, fb = f_mu(mu)
    dens = lambda x: fs * NU_S * p_s(x) + fsbi * NU_SBI * p_sbi(x) + fb * NU_B * p_b(x)  # noqa: E731
    total = _integral(dens)
    n = rng.poisson(total)
    top = 1.05 * dens(np.linspace(LO, HI, 10001)).max()
    out = []
    while len(out) < n:
        x = rng.uniform(LO, HI, 4 * n)
        keep = rng.uniform(0, top, x.size) < dens(x)
        out.extend(x[keep].tolist())
    return np.array(out[:n])


def physics_options(ch: str = "ev") -> list[str]:
    """The interference model on channel ``ch``: f_S = r - sqrt(r), f_SBI = sqrt(r), f_B = 1 - sqrt(r)."""
    return ["-P", "HiggsAnalysis.CombinedLimit.PhysicsModel:multiSignalModel",
            "--PO", f"map={ch}/S:r[1,0,5]",
            "--PO", f"map={ch}/S:fS=expr::fS('@0-sqrt(@0)', r)",
            "--PO", f"map={ch}/SBI:fSBI=expr::fSBI('sqrt(@0)', r)",
            "--PO", f"map={ch}/B:fB=expr::fB('1-sqrt(@0)', r)"]

CARD_EV = """imax 1 jmax 2 kmax 1
shapes * ev {table} events:w:r_$PROCESS events:w:r_$PROCESS_$SYSTEMATIC
bin ev
observation -1
bin ev ev ev
process S SBI B
process -1 0 1
rate {nu_s} {nu_sbi} {nu_b}
lumi lnN {k} {k} {k}
"""


def sample_sbi(n: int, seed: int) -> np.ndarray:
    """``n`` draws from p_SBI (the model at mu = 1): a reference sample."""
    rng = np.random.default_rng(seed)
    top = 1.05 * p_sbi(np.linspace(LO, HI, 10001)).max()
    out = np.zeros(0)
    while out.size < n:
        x = rng.uniform(LO, HI, 2 * n)
        out = np.concatenate([out, x[rng.uniform(0, top, x.size) < p_sbi(x)]])
    return out[:n]


def write_events(tmp_path: Path, x: np.ndarray, fmt: str = "csv", ref: np.ndarray | None = None) -> str:
    """The events table: weight w, exact ratios to p_B; with ``ref`` (a sample of p_SBI) also reference
    rows (weight 0) and the column v of reference weights p_B / (n p_SBI) (importance weights)."""
    w = np.ones_like(x)
    if ref is not None:
        v = np.concatenate([np.zeros_like(x), p_b(ref) / (ref.size * p_sbi(ref))])
        x = np.concatenate([x, ref])
        w = np.concatenate([w, np.zeros_like(ref)])
    cols = {"w": w, "r_S": p_s(x) / p_b(x), "r_SBI": p_sbi(x) / p_b(x), "r_B": np.ones_like(x)}
    if ref is not None:
        cols["v"] = v
    if fmt == "csv":
        path = tmp_path / "events.csv"
        names = list(cols)
        np.savetxt(path, np.column_stack([cols[n] for n in names]), delimiter=",", header=",".join(names),
                   comments="", fmt="%.17g")
    elif fmt == "npy":
        path = tmp_path / "events.npy"
        arr = np.zeros(x.size, dtype=[(n, "f8") for n in cols])
        for n, v in cols.items():
            arr[n] = v
        np.save(path, arr)
    else:
        import pandas as pd

        path = tmp_path / "events.parquet"
        pd.DataFrame(cols).to_parquet(path)
    return path.name


def write_card(tmp_path: Path, table: str, name: str = "ev.txt", extra: str = "", ref: bool = False) -> Path:
    text = CARD_EV.format(table=table, nu_s=NU_S, nu_sbi=f"{NU_SBI:.10g}", nu_b=NU_B, k=KAPPA) + extra
    if ref:
        text = text.replace("events:w:r_$PROCESS ", "events:w:r_$PROCESS:v ")
    path = tmp_path / name
    path.write_text(text)
    return path


def analytic_nll(x: np.ndarray, mu: float, theta: float) -> float:
    """-ln L of the events, with the lumi nuisance theta (up to a constant)."""
    fs, fsbi, fb = f_mu(mu)
    k = KAPPA ** theta
    dens = k * (fs * NU_S * p_s(x) + fsbi * NU_SBI * p_sbi(x) + fb * NU_B * p_b(x))
    total = k * (fs * NU_S + fsbi * NU_SBI + fb * NU_B)
    return total - float(np.sum(np.log(dens))) + 0.5 * theta**2


def analytic_profile(x: np.ndarray, mus: np.ndarray) -> np.ndarray:
    from scipy.optimize import minimize_scalar

    return np.array([minimize_scalar(lambda t: analytic_nll(x, m, t), bounds=(-5, 5), method="bounded",
                                     options={"xatol": 1e-9}).fun for m in mus])


def analytic_best(x: np.ndarray) -> tuple[float, float]:
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(lambda m: analytic_profile(x, np.array([m]))[0], bounds=(1e-6, 3), method="bounded",
                          options={"xatol": 1e-7})
    return float(res.x), float(res.fun)


@pytest.fixture(scope="module")
def events() -> np.ndarray:
    return generate(seed=7)


def _limit_rows(path: Path) -> dict[str, np.ndarray]:
    import uproot

    with uproot.open(path) as f:
        return f["limit"].arrays(library="np")


def workspace(tmp_path: Path, card: Path, ch: str = "ev") -> str:
    """text2workspace.py with the interference model; returns the workspace's name."""
    out = card.with_suffix(".root").name
    res = run_cli([card.name, *physics_options(ch), "-o", out], tmp_path, script="text2workspace.py")
    assert res.code == 0, res.err
    return out


def test_scan_matches_analytic_profile(tmp_path, events):
    ws = workspace(tmp_path, write_card(tmp_path, write_events(tmp_path, events)))
    res = run_cli([ws, "-M", "MultiDimFit", "--algo", "grid", "--points", "30",
                   "--setParameterRanges", "r=0,3"], tmp_path)
    assert res.code == 0, res.err
    rows = _limit_rows(tmp_path / "higgsCombineTest.MultiDimFit.mH120.root")
    r, dnll = rows["r"][1:], rows["deltaNLL"][1:]
    r_best, nll_best = analytic_best(events)
    want = analytic_profile(events, r) - nll_best
    assert np.max(np.abs(dnll - want)) < 2e-4, np.c_[r, dnll, want]
    assert abs(rows["r"][0] - r_best) < 2e-3  # the best fit of the initial fit row


# ------------------------------------------------------------------------------ binned reference
CARD_BINNED = """imax 1 jmax 2 kmax 1
shapes * bn {file} $PROCESS
bin bn
observation -1
bin bn bn bn
process S SBI B
process -1 0 1
rate -1 -1 -1
lumi lnN {k} {k} {k}
"""


def write_binned(tmp_path: Path, x: np.ndarray, nbins: int = 1000) -> Path:
    """The same events in a histogram of ``nbins`` bins, templates integrated from the exact densities."""
    import uproot

    edges = np.linspace(LO, HI, nbins + 1)
    sub = 10  # Simpson's rule on 10 sub-intervals per bin
    h = (HI - LO) / (nbins * sub)
    grid = np.linspace(LO, HI, nbins * sub + 1)
    idx = np.arange(nbins)[:, None] * sub + np.arange(sub + 1)[None, :]
    wts = np.ones(sub + 1)
    wts[1:-1:2], wts[2:-1:2] = 4.0, 2.0
    with uproot.recreate(tmp_path / "binned.root") as f:
        for name, nu, p in (("S", NU_S, p_s), ("SBI", NU_SBI, p_sbi), ("B", NU_B, p_b)):
            f[name] = (nu * h / 3.0 * (p(grid)[idx] @ wts), edges)
        f["data_obs"] = (np.histogram(x, edges)[0].astype(float), edges)
    path = tmp_path / "bn.txt"
    path.write_text(CARD_BINNED.format(file="binned.root", k=KAPPA))
    return path



def _scan(tmp_path: Path, ws: str, name: str, points: int = 30) -> tuple[np.ndarray, np.ndarray]:
    res = run_cli([ws, "-M", "MultiDimFit", "--algo", "grid", "--points", str(points), "--setParameterRanges", "r=0,3",
                   "-n", name], tmp_path)
    assert res.code == 0, res.err
    rows = _limit_rows(tmp_path / f"higgsCombine{name}.MultiDimFit.mH120.root")
    return rows["r"], rows["deltaNLL"]


def test_agrees_with_a_1000_bin_fit(tmp_path, events):
    ws_ev = workspace(tmp_path, write_card(tmp_path, write_events(tmp_path, events)))
    ws_bn = workspace(tmp_path, write_binned(tmp_path, events), ch="bn")
    r_ev, d_ev = _scan(tmp_path, ws_ev, "Ev")
    r_bn, d_bn = _scan(tmp_path, ws_bn, "Bn")
    assert np.allclose(r_ev[1:], r_bn[1:])
    # statistical precision: the 68% interval of the scan is ~0.4 wide in r; binning the events in
    # 0.01-wide bins (the signal is 0.6 wide) must not move the fit by more than a small part of it
    assert abs(r_ev[0] - r_bn[0]) < 0.005
    assert np.max(np.abs(d_ev[1:] - d_bn[1:])) < 0.03


# ------------------------------------------------------------------------------ every method
def test_methods_run(tmp_path, events):
    ws = workspace(tmp_path, write_card(tmp_path, write_events(tmp_path, events)))
    r_best, _ = analytic_best(events)
    res = run_cli([ws, "-M", "MultiDimFit", "--algo", "singles", "--setParameterRanges", "r=0,3"], tmp_path)
    assert res.code == 0, res.err
    rows = _limit_rows(tmp_path / "higgsCombineTest.MultiDimFit.mH120.root")
    assert abs(rows["r"][0] - r_best) < 2e-3
    # the 68% interval: where the analytic profile rises by 0.5
    from scipy.optimize import brentq

    _, nll_best = analytic_best(events)
    excess = lambda m: analytic_profile(events, np.array([m]))[0] - nll_best - 0.5  # noqa: E731
    lo, hi = brentq(excess, 1e-6, r_best), brentq(excess, r_best, 3.0)
    assert abs(rows["r"][1] - lo) < 0.01 and abs(rows["r"][2] - hi) < 0.01
    assert hi - r_best > 1.5 * (r_best - lo)  # not a parabola: the interference makes it asymmetric
    res = run_cli([ws, "-M", "FitDiagnostics"], tmp_path)
    assert res.code == 0, res.err
    assert "r: " in res.out or "Best fit r" in res.out
    res = run_cli([ws, "-M", "AsymptoticLimits"], tmp_path)
    assert res.code == 0, res.err
    lim = _limit_rows(tmp_path / "higgsCombineTest.AsymptoticLimits.mH120.root")["limit"]
    assert lim.size == 6 and np.all(np.isfinite(lim)) and np.all(lim > 0)
    res = run_cli([ws, "-M", "Significance"], tmp_path)
    assert res.code == 0, res.err
    assert np.isfinite(_limit_rows(tmp_path / "higgsCombineTest.Significance.mH120.root")["limit"][0])


def test_asimov_from_a_reference_sample(tmp_path, events):
    """Expected results come from the reference rows: Asimov weights v_i sum_j nu_j r_j(x_i); they
    agree with those of a 1000-bin card (exact Asimov histogram) within the reference sample's
    precision (200k draws: ~0.01 on r)."""
    ref = sample_sbi(200_000, seed=11)
    ws = workspace(tmp_path, write_card(tmp_path, write_events(tmp_path, events, ref=ref), ref=True))
    ws_bn = workspace(tmp_path, write_binned(tmp_path, events), ch="bn")
    asimov = ["-M", "MultiDimFit", "-t", "-1", "--expectSignal", "1", "--algo", "singles", "--setParameterRanges", "r=0,3"]
    rows = {}
    for name, w in (("Ev", ws), ("Bn", ws_bn)):
        res = run_cli([w, *asimov, "-n", name], tmp_path)
        assert res.code == 0, res.err
        rows[name] = _limit_rows(tmp_path / f"higgsCombine{name}.MultiDimFit.mH120.root")["r"]
    assert abs(rows["Bn"][0] - 1.0) < 1e-3  # a binned Asimov fit returns its signal exactly
    assert np.allclose(rows["Ev"], rows["Bn"], atol=0.03), rows
    # observed results ignore the reference rows (weight 0): the same best fit as without them
    res = run_cli([ws, "-M", "MultiDimFit", "--algo", "none", "-n", "Obs"], tmp_path)
    assert res.code == 0, res.err
    r_best, _ = analytic_best(events)
    assert abs(_limit_rows(tmp_path / "higgsCombineObs.MultiDimFit.mH120.root")["r"][0] - r_best) < 2e-3
    # post-fit yields (the reference sample's sums of the expected event weights) are f_j(r) nu_j kappa^theta
    import uproot

    res = run_cli([ws, "-M", "FitDiagnostics", "--saveNormalizations"], tmp_path)
    assert res.code == 0, res.err
    with uproot.open(tmp_path / "fitDiagnosticsTest.root") as f:
        fit = dict(zip(f["fit_s_values"].axis().labels(), f["fit_s_values"].values()))
        norms = dict(zip(f["norm_fit_s_values"].axis().labels(), f["norm_fit_s_values"].values()))
    k = KAPPA ** fit["lumi"]
    for (proc, nu), fj in zip((("S", NU_S), ("SBI", NU_SBI), ("B", NU_B)), f_mu(fit["r"])):
        assert norms[f"ev/{proc}"] == pytest.approx(fj * nu * k, rel=0.02, abs=0.5), proc
    lims = {}
    for name, w in (("Ev", ws), ("Bn", ws_bn)):
        res = run_cli([w, "-M", "AsymptoticLimits", "-n", name], tmp_path)
        assert res.code == 0, res.err
        lims[name] = _limit_rows(tmp_path / f"higgsCombine{name}.AsymptoticLimits.mH120.root")["limit"]
    assert np.allclose(lims["Ev"], lims["Bn"], rtol=0.05), lims


# ------------------------------------------------------------------------------ combinations
HWW = Path(__file__).resolve().parent.parent / "datacards" / "hww"


def test_combined_with_binned_hww_cards(tmp_path, events, monkeypatch):
    """combineCards.py passes the per-event channel through; with the H->WW cards (autoMCStats,
    shape systematics) and a shared lumi nuisance the combination fits, scans and gives impacts."""
    import contextlib
    import io
    import json
    import shutil

    for name in ("hww_ggH_hww_0j_datacard.txt", "combine_input_ggH_hww_0j.root"):
        shutil.copy(HWW / name, tmp_path / name)
    sub = tmp_path / "ev_dir"
    sub.mkdir()
    write_card(sub, write_events(sub, events)).write_text(
        (sub / "ev.txt").read_text().replace("lumi lnN", "lumi_13TeV lnN"))
    from pycombine.cli.combine_cards import main as combine_cards

    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            combine_cards(["ev=ev_dir/ev.txt", "hww=hww_ggH_hww_0j_datacard.txt"])
        except SystemExit as e:
            assert not e.code
    text = out.getvalue()
    # the table's path is rewritten relative to the new card; the per-event objects are kept
    assert "shapes * ev ev_dir/events.csv events:w:r_$PROCESS events:w:r_$PROCESS_$SYSTEMATIC" in " ".join(text.split())
    (tmp_path / "comb.txt").write_text(text)
    po = physics_options("ev") + ["--PO", "map=hww/ggH_HWW:r"]
    res = run_cli(["comb.txt", *po, "-m", "125", "-o", "comb.root"], tmp_path, script="text2workspace.py")
    assert res.code == 0, res.err
    res = run_cli(["comb.root", "-M", "MultiDimFit", "--algo", "grid", "--points", "6", "-m", "125",
                   "--setParameterRanges", "r=0,3"], tmp_path)
    assert res.code == 0, res.err
    rows = _limit_rows(tmp_path / "higgsCombineTest.MultiDimFit.mH125.root")
    assert np.all(np.isfinite(rows["deltaNLL"])) and np.all(rows["deltaNLL"][1:] >= -1e-3)
    assert 0.0 < rows["r"][0] < 3.0
    res = run_cli(["impacts", "comb.root", "-m", "125", "--approx", "hesse", "-o", "impacts.json"], tmp_path,
                  script="pycombine")
    assert res.code == 0, res.err
    impacts = {p["name"]: p for p in json.loads((tmp_path / "impacts.json").read_text())["params"]}
    assert "lumi_13TeV" in impacts and np.isfinite(impacts["lumi_13TeV"]["impact_r"])


# ------------------------------------------------------------------------------ per-event morphing
DM = 0.15  # the signal mean shifted by +-DM in the Up/Down ratios of the systematic "scale"

CARD_MORPH = """imax 1 jmax 1 kmax 2
shapes * ev {table} events:w:r_$PROCESS events:w:r_$PROCESS_$SYSTEMATIC
bin ev
observation -1
bin ev ev
process S B
process 0 1
rate {nu_s} {nu_b}
lumi {kind} {k} {k}
scale {morph} 1 -
"""


def _p_s_at(x, m):
    return np.exp(-0.5 * ((x - m) / SIG) ** 2) / (SIG * math.sqrt(2 * math.pi) * Z_S)


def _morph_card(tmp_path: Path, x: np.ndarray, morph: str = "shape", fmt: str = "csv") -> Path:
    cols = {"w": np.ones_like(x), "r_S": p_s(x) / p_b(x), "r_B": np.ones_like(x),
            "r_S_scaleUp": _p_s_at(x, M0 + DM) / p_b(x), "r_S_scaleDown": _p_s_at(x, M0 - DM) / p_b(x)}
    names = list(cols)
    table = "events." + fmt
    if fmt == "csv":
        np.savetxt(tmp_path / table, np.column_stack([cols[n] for n in names]), delimiter=",", header=",".join(names),
                   comments="", fmt="%.17g")
    elif fmt == "npy":
        arr = np.zeros(x.size, dtype=[(n, "f8") for n in names])
        for n in names:
            arr[n] = cols[n]
        np.save(tmp_path / table, arr)
    else:
        import pandas as pd

        pd.DataFrame(cols).to_parquet(tmp_path / table)
    path = tmp_path / "morph.txt"
    path.write_text(CARD_MORPH.format(table=table, nu_s=NU_S, nu_b=NU_B, k=KAPPA, kind="lnN", morph=morph))
    return path


def _vertical(alpha: float, nom, up, down):
    """Combine's vertical morph written out: quintic inside |alpha| < 1, linear outside."""
    if alpha >= 1:
        return nom + alpha * (up - nom)
    if alpha <= -1:
        return nom - alpha * (down - nom)
    s = alpha * (3 * alpha**4 - 10 * alpha**2 + 15) / 8
    return nom + 0.5 * alpha * (up - down) + 0.5 * alpha * s * (up + down - 2 * nom)


def _morph_nll(x, r, lumi, alpha, log_mode=False):
    rs, up, down = p_s(x) / p_b(x), _p_s_at(x, M0 + DM) / p_b(x), _p_s_at(x, M0 - DM) / p_b(x)
    if log_mode:
        rs_a = rs * np.exp(_vertical(alpha, 0.0, np.log(up / rs), np.log(down / rs)))
    else:
        rs_a = np.maximum(_vertical(alpha, rs, up, down), 1e-9)
    k = KAPPA**lumi
    nu_s, nu_b = r * NU_S * k, NU_B * k
    return nu_s + nu_b - float(np.sum(np.log(nu_s * rs_a + nu_b))) + 0.5 * lumi**2 + 0.5 * alpha**2


@pytest.mark.parametrize("fmt", ["csv", "npy", "parquet"])
def test_per_event_morphing_matches_the_formula(tmp_path, events, fmt):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    import pycombine

    model = pycombine.load_datacard(_morph_card(tmp_path, events, fmt=fmt))
    assert model.compiled.any_unbinned and model.compiled.B == events.size
    points = [(1.0, 0.0, 0.0), (1.7, 0.5, -0.3), (0.4, -1.2, 0.8), (2.0, 0.3, 1.6), (1.0, 0.0, -2.5)]
    got = [model.nll({"r": r, "lumi": lu, "scale": a}) for r, lu, a in points]
    want = [_morph_nll(events, r, lu, a) for r, lu, a in points]
    assert np.allclose(np.array(got) - got[0], np.array(want) - want[0], atol=1e-6)


def test_nll_keeps_its_digits_with_large_yields(tmp_path):
    """10^5 events with yields of 10^7: each s_i = sum_j nu_j r_j(x_i) is ~10^7, so sum_i s_i is
    ~10^12 and an NLL written as Poisson terms minus sum_i s_i keeps only ~10^-4 of its digits.
    NLL differences must match the formula summed exactly (math.fsum) to 1e-7."""
    import pycombine

    x = np.random.default_rng(7).uniform(LO, HI, 100_000)
    arr = np.zeros(x.size, dtype=[(n, "f8") for n in ("w", "r_S", "r_B")])
    arr["w"], arr["r_S"], arr["r_B"] = 1.0, p_s(x) / p_b(x), 1.0
    np.save(tmp_path / "big.npy", arr)
    nu_s, nu_b = 6.0e5, 1.0e7
    card = tmp_path / "big.txt"
    card.write_text(CARD_MORPH.format(table="big.npy", nu_s=nu_s, nu_b=nu_b, k=KAPPA, kind="lnN", morph="lnN")
                    .replace("scale lnN 1 -", "scale lnN 1.1 -"))
    model = pycombine.load_datacard(card)

    def exact(r, lumi, scale):
        ns = r * nu_s * KAPPA**lumi * 1.1**scale
        nb = nu_b * KAPPA**lumi
        logs = math.fsum(np.log(ns * np.maximum(arr["r_S"], 1e-9) + nb).tolist())  # Combine's template floor
        return ns + nb - logs + 0.5 * lumi**2 + 0.5 * scale**2

    points = [(1.0, 0.0, 0.0), (1.0001, 0.0, 0.0), (0.9, 0.2, -0.1), (1.2, -0.05, 0.3)]
    got = np.array([model.nll({"r": r, "lumi": lu, "scale": sc}) for r, lu, sc in points])
    want = np.array([exact(*p) for p in points])
    assert np.allclose(got - got[0], want - want[0], rtol=0, atol=1e-7)


def test_vertical_morph_outside_is_linear():
    nom, up, down = np.array([1.0]), np.array([1.5]), np.array([0.8])
    assert np.allclose(_vertical(2.0, nom, up, down), 1.0 + 2.0 * 0.5)
    assert np.allclose(_vertical(-2.0, nom, up, down), 1.0 - 2.0 * 0.2)


def test_shapeN_morphs_log_ratios(tmp_path, events):
    """shapeN: the ratios are morphed in ln r (exponential outside |alpha| < 1), not renormalised."""
    import pycombine

    model = pycombine.load_datacard(_morph_card(tmp_path, events, morph="shapeN"))
    points = [(1.0, 0.0, 0.0), (1.7, 0.5, -0.3), (0.4, -1.2, 0.8), (2.0, 0.3, 1.6), (1.0, 0.0, -2.5)]
    got = [model.nll({"r": r, "lumi": lu, "scale": a}) for r, lu, a in points]
    want = [_morph_nll(events, r, lu, a, log_mode=True) for r, lu, a in points]
    assert np.allclose(np.array(got) - got[0], np.array(want) - want[0], atol=1e-6)


def test_gradient_hessian_and_batch(tmp_path, events):
    import pycombine
    from pycombine.model.batch import BatchModel
    from pycombine.model.hessian import gauss_newton_hessian
    from pycombine.model.likelihood import Dataset, Likelihood

    model = pycombine.load_datacard(_morph_card(tmp_path, events))
    m = model.compiled
    lik = Likelihood(m, Dataset(m.data.copy(), m.glob0.copy()))
    theta = model._vector({"r": 1.3, "lumi": 0.4, "scale": -0.6})
    _, g, _ = lik.evaluate(theta)
    eps = 1e-6
    fd = np.array([(lik.nll(theta + eps * e) - lik.nll(theta - eps * e)) / (2 * eps) for e in np.eye(m.P)])
    assert np.allclose(g, fd, rtol=1e-5, atol=1e-4)
    # the batched NLL (toys, grids) equals the single one
    bm = BatchModel(m)
    pts = np.stack([theta, model._vector({"r": 0.5})])
    got = bm.nll(pts, np.stack([m.data, m.data]), np.stack([m.glob0, m.glob0]))
    assert np.allclose(got, [lik.nll(pts[0]), lik.nll(pts[1])], rtol=1e-12, atol=1e-8)
    # Gauss-Newton Hessian at the best fit: close to the finite-difference Hessian of the NLL
    from scipy.optimize import minimize

    free = np.array([m.parameter_index(n) for n in ("r", "lumi", "scale")])

    def f(v):
        t = theta.copy()
        t[free] = v
        return lik.nll(t)

    best = minimize(f, theta[free], method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000}).x
    t0 = theta.copy()
    t0[free] = best
    H = gauss_newton_hessian(lik, t0, free)
    h = 1e-4
    fdh = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            ei, ej = np.eye(3)[i] * h, np.eye(3)[j] * h
            fdh[i, j] = (f(best + ei + ej) - f(best + ei - ej) - f(best - ei + ej) + f(best - ei - ej)) / (4 * h * h)
    assert np.allclose(np.sqrt(np.diag(np.linalg.inv(H))), np.sqrt(np.diag(np.linalg.inv(fdh))), rtol=0.1)


# ------------------------------------------------------------------------------ bad input
def _bad_table(tmp_path: Path, x: np.ndarray, edit) -> None:
    cols = {"w": np.ones_like(x), "r_S": p_s(x) / p_b(x), "r_B": np.ones_like(x),
            "r_S_scaleUp": _p_s_at(x, M0 + DM) / p_b(x), "r_S_scaleDown": _p_s_at(x, M0 - DM) / p_b(x)}
    edit(cols)
    names = list(cols)
    np.savetxt(tmp_path / "events.csv", np.column_stack([cols[n] for n in names]), delimiter=",",
               header=",".join(names), comments="", fmt="%.17g")


def _set(name, i, value):
    def edit(cols):
        cols[name][i] = value
    return edit


@pytest.mark.parametrize("edit, card_edit, words", [
    (lambda c: c.pop("r_B"), None, ["events.csv", "no column 'r_B'", "ratio of 'B'"]),
    (lambda c: c.pop("r_S_scaleDown"), None, ["events.csv", "no column 'r_S_scaleDown'"]),
    (_set("r_S", 3, np.nan), None, ["events.csv", "'r_S'", "non-finite", "row 3"]),
    (_set("w", 5, -1.0), None, ["events.csv", "'w'", "negative", "row 5"]),
    (_set("r_B", 2, -0.5), None, ["events.csv", "'r_B'", "negative"]),
    (None, ("events.csv", "missing.csv"), ["missing.csv", "no such file"]),
    (None, ("rate 60.0 1000.0", "rate -1 1000.0"), ["'S'", "rate must be the expected yield"]),
    (None, ("events:w:r_$PROCESS ", "events:w "), ["events:<weight column>:<ratio column>"]),
    (None, ("scale shape 1 -", "scale shape 1 -\nev autoMCStats 10"), ["autoMCStats", "per-event channel 'ev'"]),
])
def test_bad_input_is_one_line(tmp_path, events, edit, card_edit, words):
    card = _morph_card(tmp_path, events)
    if edit is not None:
        _bad_table(tmp_path, events, edit)
    if card_edit is not None:
        text = card.read_text()
        assert card_edit[0] in text
        card.write_text(text.replace(card_edit[0], card_edit[1]))
    res = run_cli([card.name, "-M", "MultiDimFit"], tmp_path)
    assert res.code == 1 and len(res.error_lines) == 1, res.err
    line = res.error_lines[0]
    assert "Traceback" not in res.err and "Internal error" not in res.err
    assert "morph.txt" in line, line
    for w in words:
        assert w in line, line


@pytest.mark.parametrize("method", ["HybridNew", "GoodnessOfFit", "FitDiagnostics"])
def test_methods_without_meaning_are_refused(tmp_path, events, method):
    card = _morph_card(tmp_path, events)
    extra = {"GoodnessOfFit": ["--algo", "saturated"], "FitDiagnostics": ["--saveShapes"]}.get(method, [])
    res = run_cli([card.name, "-M", method, *extra], tmp_path)
    assert res.code == 1 and len(res.error_lines) == 1 and "per-event channels" in res.error_lines[0], res.err
    assert not [f for f in res.new_files if f.endswith(".root")]


# ------------------------------------------------------------------------------ Neyman construction
def test_neyman_cli_writes_belt_intervals_and_plot(tmp_path, events):
    import json

    pytest.importorskip("matplotlib")
    ws = workspace(tmp_path, write_card(tmp_path, write_events(tmp_path, events)))
    res = run_cli(["neyman", ws, "--range", "0,3", "--points", "13", "--toys", "15", "--parallel", "1",
                   "-o", "neyman.json", "--plot", "belt.png"], tmp_path, script="pycombine")
    assert res.code == 0, res.err
    out = json.loads((tmp_path / "neyman.json").read_text())
    assert out["poi"] == "r" and len(out["grid"]) == 13 and out["toys_per_point"] == 15
    # the observed statistic is twice the analytic profile's rise
    r_best, nll_best = analytic_best(events)
    want = 2 * (analytic_profile(events, np.array(out["grid"])) - nll_best)
    assert np.allclose(out["t_obs"], want, atol=5e-4)
    assert abs(out["mu_hat"] - r_best) < 2e-3
    (lo, hi), = out["intervals"]["0.6827"]
    assert 0 <= lo < r_best < hi <= 3  # (15 toys per point: only the shape of the result is checked)
    assert (tmp_path / "belt.png").stat().st_size > 1000
    assert "68.27% CL: r in [" in res.out


@pytest.mark.parametrize("mu_true", [0.5, 2.0])
def test_neyman_coverage(tmp_path, events, mu_true):
    """The 68.27% Neyman interval covers mu_true iff t_obs(mu_true) <= q_68(mu_true): over 300
    pseudo-experiments (Poisson bootstrap of the Asimov weights of a reference sample, independent
    of the 400 toys behind the quantile) that happens in 68.27% +- 3 binomial sigma of them."""
    from pycombine.run.session import Session
    from pycombine.tools.neyman import CL_1SIGMA, context_of, quantile, toy_distribution

    ref = sample_sbi(3000, seed=5)
    ws = workspace(tmp_path, write_card(tmp_path, write_events(tmp_path, events, ref=ref), ref=True))
    session = Session.from_card(str(tmp_path / ws), "MultiDimFit", out=lambda m: None)
    ctx = context_of(session, "r", seed=2024)
    clean = session.state.values.copy()
    clean[ctx.poi] = mu_true
    q = quantile(toy_distribution(ctx, clean, mu_true, 400, stream=1, parallel=1), CL_1SIGMA)
    t = toy_distribution(ctx, clean, mu_true, 300, stream=2, parallel=1)
    assert np.isfinite(t).all()
    cover = float(np.mean(t <= q))
    sigma = math.sqrt(CL_1SIGMA * (1 - CL_1SIGMA) / t.size)
    assert abs(cover - CL_1SIGMA) < 3 * sigma, (cover, q)


# ------------------------------------------------------------------------------ NSBI toolkit JSON
def _nsbi_workspace(tmp_path: Path, x: np.ndarray) -> Path:
    """A workspace in the NSBI toolkit's format: an unbinned SR (ratios inline and in .npy files) and
    a binned CR, a normfactor POI and a normplusshape systematic in both."""
    r_s, up, down = p_s(x) / p_b(x), _p_s_at(x, M0 + DM) / p_b(x), _p_s_at(x, M0 - DM) / p_b(x)
    np.save(tmp_path / "r_S_up.npy", up)
    np.save(tmp_path / "r_S_dn.npy", down)
    ws = {
        "channels": [
            {"name": "SR", "type": "unbinned", "weights": [1.0] * x.size,
             "samples": [
                 {"name": "S", "data": [NU_S], "ratios": r_s.tolist(),
                  "modifiers": [{"name": "mu", "type": "normfactor", "data": None},
                                {"name": "scale", "type": "normplusshape",
                                 "data": {"hi_data": [1.03], "lo_data": [0.98],
                                          "hi_ratio": "r_S_up.npy", "lo_ratio": "r_S_dn.npy"}}]},
                 {"name": "B", "data": [NU_B], "ratios": [1.0] * x.size, "modifiers": []}]},
            {"name": "CR", "type": "binned",
             "samples": [{"name": "B", "data": [100.0, 50.0],
                          "modifiers": [{"name": "scale", "type": "normplusshape",
                                         "data": {"hi_data": [1.1, 1.2], "lo_data": [0.95, 0.9]}}]}]}],
        "measurements": [{"name": "meas", "config": {"poi": "mu", "parameters": [
            {"name": "mu", "inits": [1.0], "bounds": [[0.0, 5.0]]}]}}],
        "version": "1.0.0"}
    path = tmp_path / "nsbi.json"
    path.write_text(json.dumps(ws))
    return path


def _nsbi_nll(x, mu, a):
    """By hand; |a| >= 1 or a = 0, where HistFactory's code 4 is kappa**a and the ratio morph is linear."""
    rs, up, down = p_s(x) / p_b(x), _p_s_at(x, M0 + DM) / p_b(x), _p_s_at(x, M0 - DM) / p_b(x)
    if a >= 0:
        rs_a, k = rs + a * (up - rs), 1.03**a
    else:
        rs_a, k = rs - a * (down - rs), 0.98**-a
    rs_a = np.maximum(rs_a, 1e-9)  # Combine's floor of morphed templates
    nu_s = mu * NU_S * k
    sr = nu_s + NU_B - float(np.sum(np.log(nu_s * rs_a + NU_B)))
    cr_n = np.array([100.0, 50.0])
    cr_nu = cr_n + a * (cr_n * (np.array([1.1, 1.2]) if a >= 0 else np.array([0.95, 0.9])) - cr_n) * (1 if a >= 0 else -1)
    cr = float(np.sum(cr_nu - cr_n * np.log(cr_nu)))
    return sr + cr + 0.5 * a * a


def test_nsbi_toolkit_workspace(tmp_path, events):
    from pycombine.model.likelihood import Dataset, Likelihood
    from pycombine.run.session import Session

    path = _nsbi_workspace(tmp_path, events)
    s = Session.from_card(str(path), "MultiDimFit", out=lambda m: None)
    m = s.model
    assert m.any_unbinned and s.spec.pois == ["mu"] and sorted(m.names) == ["mu", "scale"]
    lik = Likelihood(m, Dataset(m.data.copy(), m.glob0.copy()))
    pts = [(1.0, 0.0), (1.5, 1.3), (0.6, -1.5), (2.0, 2.0), (1.2, -1.0)]
    got = []
    for mu, a in pts:
        v = s.state.values.copy()
        v[m.index["mu"]], v[m.index["scale"]] = mu, a
        got.append(lik.nll(v))
    want = [_nsbi_nll(events, mu, a) for mu, a in pts]
    assert np.allclose(np.array(got) - got[0], np.array(want) - want[0], atol=1e-6)
    res = run_cli([path.name, "-M", "MultiDimFit", "--algo", "singles"], tmp_path)
    assert res.code == 0, res.err
    # bad input: one line naming the file and what is wrong
    ws = json.loads(path.read_text())
    ws["channels"][0]["samples"][1]["ratios"] = [1.0] * (events.size - 1)
    path.write_text(json.dumps(ws))
    res = run_cli([path.name, "-M", "MultiDimFit"], tmp_path)
    assert res.code == 1 and len(res.error_lines) == 1, res.err
    assert "nsbi.json" in res.error_lines[0] and f"{events.size - 1} ratios for {events.size} events" in res.error_lines[0]
