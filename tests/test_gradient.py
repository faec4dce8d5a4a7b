"""The analytic gradient of the NLL agrees with central finite differences on every reference model.

Every model of the regression suite (each card used by ``tests/reference/cases.json``, built with
the case's mass; cases whose setup runs ``combineCards.py`` use the combined card recorded in the
expected json plus their further setup lines) is checked at its initial point and at two random
points (fixed seed, inside the parameter ranges), for every parameter the minimiser sees
(``~model.analytic``: the Barlow-Beeston-lite parameters are profiled in closed form and never
reach the minimiser). A separate test checks pinned BB-lite parameters (``Likelihood.pin``).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess

import numpy as np
import pytest
from refsuite import built_case_ids, env, expected, needs_reference, params, ref_path

from pycombine.model.compile import AMC_LIN, FLOOR, TH1_LIN
from pycombine.model.likelihood import Dataset, Likelihood

SEED = 20240611
REL_TOL = 1e-4  # relative agreement asked of the analytic gradient
STEP = 1e-6  # relative finite-difference step


def _models() -> list[dict]:
    """Unique (folder, card, mass, setup) combinations of the reference cases."""
    out, seen = [], set()
    for case_id in built_case_ids():
        exp = expected(case_id)
        toks = shlex.split(exp["command"])
        card = next(t for t in toks[1:] if t.endswith((".txt", ".root")))  # a card or a workspace
        mass = 120.0
        for i, t in enumerate(toks):
            if t in ("-m", "--mass"):
                mass = float(toks[i + 1])
            elif t.startswith("--mass="):
                mass = float(t.split("=", 1)[1])
        key = (exp["folder"], card, mass, tuple(exp["setup"]))
        if key in seen:
            continue
        seen.add(key)
        out.append(
            {"id": case_id, "folder": exp["folder"], "card": card, "mass": mass,
             "setup": list(exp["setup"]), "combined": exp.get("combined_card")}
        )
    return out


MODELS = _models()


def _prepare(entry: dict, workdir) -> str:
    """Copy the inputs; replay combineCards.py from its recorded output and run the other setup lines."""
    shutil.copytree(ref_path("cards", entry["folder"]), workdir, dirs_exist_ok=True)
    for cmd in entry["setup"]:
        if cmd.startswith("combineCards.py"):
            target = re.search(r">\s*(\S+)\s*$", cmd).group(1)
            assert entry["combined"], f"{entry['id']}: no recorded combined_card"
            (workdir / target).write_text(entry["combined"] + ("" if entry["combined"].endswith("\n") else "\n"))
        else:
            p = subprocess.run(cmd, check=False, shell=True, cwd=workdir, capture_output=True, text=True, env=env(), timeout=60)
            assert p.returncode == 0, p.stderr
    return str(workdir / entry["card"])


def _build(entry: dict, workdir):
    from pycombine.model.compile import CompiledModel
    from pycombine.run.loading import load
    from pycombine.run.options import RunOptions

    path = _prepare(entry, workdir)
    _, spec = load(path, RunOptions.defaults(mass=entry["mass"]))
    model = CompiledModel(spec)
    data = Dataset(model.data.copy(), model.glob0.copy())
    return spec, model, data


def _random_point(spec, model, rng) -> np.ndarray:
    """A point inside the ranges, a few constraint widths around the nominal values."""
    x = model.init.copy()
    for i, name in enumerate(model.names):
        if model.frozen[i] or model.analytic[i]:
            continue
        p = spec.parameters[name]
        lo, hi = model.lo[i], model.hi[i]
        if p.constraint in ("gauss", "bifur"):
            v = p.glob + rng.uniform(-1.5, 1.5) * p.sigma
        elif p.constraint in ("poisson", "gamma"):
            v = max(p.init, 0.5) * rng.uniform(0.6, 1.4)
        elif p.constraint == "uniform":
            v = lo + (hi - lo) * rng.uniform(0.1, 0.9)
        elif p.kind == "poi":
            v = rng.uniform(0.2, 3.0)
        elif p.init != 0:
            v = p.init * rng.uniform(0.7, 1.3)
        else:
            v = rng.uniform(-0.5, 0.5)
        if np.isfinite(lo) and np.isfinite(hi):
            margin = 1e-3 * (hi - lo)
            v = min(max(v, lo + margin), hi - margin)
        x[i] = v
    return x


def _floor_pattern(lik: Likelihood, theta: np.ndarray) -> np.ndarray:
    """Which template entries / autoMCStats bin totals sit above Combine's 1e-9 floors.

    A finite difference whose two points see different patterns straddles a kink of the NLL.
    """
    m = lik.m
    lik._current_theta = theta
    parts = []
    if m.M:
        _, cache = lik.templates(theta)
        lin = (m.entry_group == TH1_LIN) | (m.entry_group == AMC_LIN)
        parts.append(np.where(lin, cache["u"] >= FLOOR, True))
    state = lik.forward(theta)[0]
    parts.append(np.where(m.bin_amc, state.mu + state.sigma * state.bb_x >= FLOOR, True))
    return np.concatenate(parts)


def _check_gradient(lik: Likelihood, theta: np.ndarray, indices, label: str) -> int:
    """Compare analytic and central finite-difference derivatives; returns the number checked."""
    val, grad, state = lik.evaluate(theta, grad=True)
    assert np.isfinite(val) and val < 9e9, f"{label}: NLL not finite at the test point"
    # rounding noise of an NLL evaluation: the sum of the magnitudes of its terms
    scale = float(np.sum(np.abs(state.nu)) + np.sum(np.abs(lik.n * np.log(np.maximum(state.nu, 1e-300))))) + abs(val)
    checked = 0
    bad = []
    for i in indices:
        h = STEP * max(1.0, abs(theta[i]))
        lo, hi = lik.m.lo[i], lik.m.hi[i]
        xp, xm = theta.copy(), theta.copy()
        xp[i] += h
        xm[i] -= h
        if xp[i] > hi or xm[i] < lo:
            # at a range edge: one-sided difference inside the range (never happens with the
            # margins above, kept for safety)
            continue
        noise = 20 * np.finfo(float).eps * scale / h
        g = grad[i]
        if not np.array_equal(_floor_pattern(lik, xp), _floor_pattern(lik, xm)):
            # the central difference straddles a template/bin floor (a kink of the NLL, e.g. a
            # template bin of 0 at θ = 0): the analytic gradient must be one of the one-sided
            # derivatives. Richardson-extrapolated one-sided differences (O(h²) error).
            sides = []
            for sgn in (1.0, -1.0):
                x1, x2 = theta.copy(), theta.copy()
                x1[i] += sgn * h
                x2[i] += sgn * 2 * h
                d1 = (lik.nll(x1) - val) / (sgn * h)
                d2 = (lik.nll(x2) - val) / (sgn * 2 * h)
                sides.append(2 * d1 - d2)
            if min(abs(g - d) for d in sides) > 1e-3 * max(abs(g), 1e-3) + 4 * noise:
                bad.append(f"{lik.m.names[i]} (at a floor): analytic {g:.10g}, one-sided {sides[0]:.10g} / {sides[1]:.10g}")
            checked += 1
            continue
        fd = (lik.nll(xp) - lik.nll(xm)) / (2 * h)
        if abs(g - fd) > REL_TOL * max(abs(g), abs(fd)) + noise:
            bad.append(f"{lik.m.names[i]}: analytic {g:.10g}, finite difference {fd:.10g}")
        checked += 1
    assert not bad, f"{label}:\n" + "\n".join(bad[:20])
    return checked


@pytest.mark.parametrize("entry", params(MODELS, ids=lambda e: f"{e['folder']}/{e['card']}"))
def test_gradient_matches_finite_differences(entry, tmp_path):
    spec, model, data = _build(entry, tmp_path)
    lik = Likelihood(model, data)
    indices = np.nonzero(~model.analytic)[0]
    rng = np.random.default_rng(SEED + MODELS.index(entry))
    points = [("initial point", model.init.copy())]
    points += [(f"random point {k}", _random_point(spec, model, rng)) for k in (1, 2)]
    n = 0
    for label, theta in points:
        n += _check_gradient(lik, theta, indices, f"{entry['card']} at {label}")
    assert n == 3 * len(indices)


@needs_reference
def test_gradient_with_pinned_bb_lite_parameters(tmp_path):
    """BB-lite parameters pinned to a value (scans/impacts of one of them) get their explicit
    gradient (Poisson term + their Gaussian constraint); the others stay profiled."""
    entry = next(e for e in MODELS if e["card"] == "template-analysis_shape_autoMCStats.txt")
    spec, model, data = _build(entry, tmp_path)
    bb = model.bb_par
    assert bb.size >= 3
    rng = np.random.default_rng(SEED)
    pinned = bb[[0, bb.size // 2, bb.size - 1]]
    for label, theta in (("initial point", model.init.copy()), ("random point", _random_point(spec, model, rng))):
        theta = theta.copy()
        theta[pinned] = rng.uniform(-1.5, 1.5, size=pinned.size)
        lik = Likelihood(model, data)
        lik.pin(pinned)
        indices = np.concatenate([np.nonzero(~model.analytic)[0], pinned])
        assert _check_gradient(lik, theta, indices, f"pinned BB-lite at {label}") == indices.size
        # the unpinned BB-lite parameters are profiled: moving them in theta changes nothing
        other = np.setdiff1d(bb, pinned)
        moved = theta.copy()
        moved[other] += 0.7
        assert lik.nll(moved) == pytest.approx(lik.nll(theta), abs=1e-12)
        # the pinned one is not: it enters the NLL as given
        moved = theta.copy()
        moved[pinned[0]] += 0.3
        assert abs(lik.nll(moved) - lik.nll(theta)) > 1e-6


SYNTHETIC = """imax 3
jmax 3
kmax *
------------
shapes * chC FAKE
shapes * * t.csv $CHANNEL:$PROCESS $CHANNEL:$PROCESS:$SYSTEMATIC
------------
bin         chA chB chC
observation -1  -1  9
------------
bin      chA chA chA chB chB chB chC chC
process  sig b1  b2  sig b1  b2  sig bkg
process  0   1   2   0   1   2   0   3
rate     -1  -1  -1  -1  -1  -1  2   6
------------
lumi  lnN    1.05 1.05 1.05 1.05 1.05 1.05 1.05 -
asy   lnN    -    -    0.9/1.15 - - 0.85/1.1 - -
s1    shape  -    1    -    -    1    -    -    -
s2    shape  -    0.5  -    -    -    -    -    -
s3    shapeN -    -    1    -    -    -    -    -
g     gmN 12 -    -    -    -    -    -    -    0.5
t     trG    -    -    -    -    -    -    0.1  -
u     lnU    -    -    -    -    -    -    1.3  -
pb    param 0 -0.8/+1.2
rp    rateParam chC bkg 1
rf    rateParam chB b2 (@0*(1+0.1*@1)) rp,pb
chB autoMCStats 25
"""

SYNTHETIC_TABLES = {
    ("chA", "data_obs", "nominal"): [14.0, 25.0, 36.0, 40.0],
    ("chA", "sig", "nominal"): [1.0, 2.0, 2.0, 1.0],
    ("chA", "b1", "nominal"): [10.0, 20.0, 30.0, 0.0],  # an empty bin: morphs start at the floor
    ("chA", "b1", "s1Up"): [12.0, 22.0, 28.0, 4.0],
    ("chA", "b1", "s1Down"): [9.0, 18.0, 33.0, 0.0],
    ("chA", "b1", "s2Up"): [11.0, 19.0, 31.0, 1.0],
    ("chA", "b1", "s2Down"): [10.0, 21.0, 28.0, 0.5],
    ("chA", "b2", "nominal"): [3.0, 4.0, 5.0, 40.0],
    ("chA", "b2", "s3Up"): [3.5, 4.0, 4.0, 44.0],
    ("chA", "b2", "s3Down"): [2.0, 4.5, 6.0, 38.0],
    ("chB", "data_obs", "nominal"): [90.0, 14.0, 6.0, 3.0],
    ("chB", "sig", "nominal"): ([5.0, 2.0, 1.0, 1.0], [4.0, 1.0, 1.0, 1.0]),
    ("chB", "b1", "nominal"): ([50.0, 4.0, 3.0, 0.5], [25.0, 4.0, 0.0, 1.0]),
    ("chB", "b1", "s1Up"): [55.0, 5.0, 3.0, 0.6],
    ("chB", "b1", "s1Down"): [47.0, 3.5, 3.5, 0.4],
    ("chB", "b2", "nominal"): ([30.0, 6.0, 2.0, 2.0], [9.0, 1.0, 0.0, 0.0]),
}


def _synthetic(tmp_path):
    from pycombine.model.compile import CompiledModel
    from pycombine.run.loading import load
    from pycombine.run.options import RunOptions

    lines = ["channel,process,systematic,bin,sum_w,sum_ww"]
    for (ch, proc, syst), v in SYNTHETIC_TABLES.items():
        w, ww = v if isinstance(v, tuple) else (v, v)
        lines += [f"{ch},{proc},{syst},{j},{a!r},{b!r}" for j, (a, b) in enumerate(zip(w, ww))]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "card.txt").write_text(SYNTHETIC)
    _, spec = load(str(tmp_path / "card.txt"), RunOptions.defaults())
    model = CompiledModel(spec)
    return spec, model, Dataset(model.data.copy(), model.glob0.copy())


@pytest.mark.parametrize("analytic_bb", [True, False])
def test_gradient_on_a_model_with_every_modifier(tmp_path, analytic_bb):
    """lnN (symmetric, asymmetric), shape (two scales), shapeN, gmN, trG, lnU, bifurcated param,
    rateParam and formula, autoMCStats BB-lite and per-process Poisson/Gaussian parameters, in a
    TH1 channel, an autoMCStats channel and a counting (FAKE) channel; BB-lite profiled or not."""
    spec, model, data = _synthetic(tmp_path)
    kinds = [b.kind for b in spec.channel("chB").auto_mc_stats.bins]
    assert kinds == ["bblite", "per_process", "none", "per_process"]
    lik = Likelihood(model, data, analytic_bb=analytic_bb)
    indices = np.nonzero(~model.analytic if analytic_bb else np.ones(model.P, bool))[0]
    rng = np.random.default_rng(SEED)
    points = [model.init.copy()] + [_random_point(spec, model, rng) for _ in range(3)]
    for k, theta in enumerate(points):
        if not analytic_bb:
            theta[model.bb_par] = rng.uniform(-1.5, 1.5, size=model.bb_par.size)
        assert _check_gradient(lik, theta, indices, f"synthetic model, point {k}") == indices.size


@needs_reference
def test_every_reference_model_is_covered():
    cards = {(e["folder"], e["card"]) for e in MODELS}
    for case_id in built_case_ids():
        exp = expected(case_id)
        card = next(t for t in shlex.split(exp["command"])[1:] if t.endswith((".txt", ".root")))
        assert (exp["folder"], card) in cards
    assert len(MODELS) >= 25
