"""Plots from a ``fitDiagnostics*.root`` file (read with uproot): the stacked post-fit
distributions and the nuisance pulls (``pycombine plot postfit`` / ``pycombine plot pulls``).

Post-fit (``--saveShapes`` files): per channel, the processes of ``shapes_<stage>/<channel>/``
(``prefit``, ``fit_b`` or ``fit_s``) stacked, backgrounds below and signals on top (the signals
are the processes that add up to the channel's pre-fit ``total_signal``, or ``signals=``), the
uncertainty of ``total`` hatched, the data (``data``, with its asymmetric errors), and a lower panel
with data / total. The histograms have one unit-wide bin per bin of the channel, as Combine writes
them, so the x axis is the bin number unless ``x_title`` says otherwise.

Pulls: for each nuisance of ``nuisances_prefit`` (pre-fit value θ₀ and constraint width σ₀) and each
fit (``fit_b``, ``fit_s``): ``(θ̂ - θ₀) / σ₀`` with the error bar ``σ̂ / σ₀`` (Hesse), the
definition of Combine's ``diffNuisances.py``. The fit results are read from pycombine's TH1D
views (one labelled bin per parameter, the Hesse error as bin error); a file where ``fit_s`` is a
RooFitResult keeps that view under another name, which is looked up (:func:`fit_view`).
"""

from __future__ import annotations

import itertools
import re

import numpy as np

from ..errors import PyCombineError
from .style import experiment_label, figure, style, tex

__all__ = ["Channel", "fit_view", "postfit_figure", "pulls", "pulls_figure", "read_channel"]

#: colours of the stacked processes (backgrounds, then signals in red tones)
BKG_COLORS = ("#3f90da", "#ffa90e", "#94a4a2", "#832db6", "#a96b59", "#b9ac70", "#717581", "#92dadd",
              "#5a9e6f", "#c9b2d6")
SIG_COLORS = ("#e42536", "#f89c20", "#964a8b")


def _open(path: str):
    import uproot

    try:
        return uproot.open(path)
    except FileNotFoundError:
        raise PyCombineError(f"{path}: file not found") from None
    except Exception as e:  # noqa: BLE001 - anything uproot cannot read
        raise PyCombineError(f"{path}: not a readable ROOT file ({e})") from None


# ---------------------------------------------------------------------------------------- post-fit
class Channel:
    """One channel of a ``shapes_<stage>`` directory."""

    def __init__(self, name: str, processes: dict[str, tuple[np.ndarray, np.ndarray]], signals: list[str],
                 total: tuple[np.ndarray, np.ndarray], data: tuple[np.ndarray, ...] | None, edges: np.ndarray):
        self.name, self.processes, self.signals = name, processes, signals
        self.total, self.data, self.edges = total, data, edges

    @property
    def backgrounds(self) -> list[str]:
        return [p for p in self.processes if p not in self.signals]


def _signals_from_total(processes: dict[str, np.ndarray], total_signal: np.ndarray) -> list[str] | None:
    """The processes whose sum is ``total_signal`` (the smallest such set; None if there is none)."""
    names = list(processes)
    scale = max(float(np.abs(total_signal).sum()), 1e-12)
    if len(names) > 14:
        return None
    for k in range(0, len(names) + 1):
        for combo in itertools.combinations(names, k):
            s = sum((processes[n] for n in combo), np.zeros_like(total_signal))
            if float(np.abs(s - total_signal).sum()) <= 1e-5 * scale:
                return list(combo)
    return None


def channels(path: str, stage: str = "fit_s") -> list[str]:
    with _open(path) as f:
        top = f"shapes_{stage}"
        if top not in f:
            raise PyCombineError(f"{path}: no {top} directory (run FitDiagnostics with --saveShapes)")
        return [k.split(";")[0] for k in f[top].keys(recursive=False) if f[top].classname_of(k) == "TDirectory"]


def read_channel(path: str, channel: str, stage: str = "fit_s", signals: list[str] | None = None) -> Channel:
    """The histograms of one channel at one stage."""
    with _open(path) as f:
        where = f"shapes_{stage}/{channel}"
        if where not in f:
            raise PyCombineError(f"{path}: no {where} (channels: {', '.join(channels(path, stage))})")
        d = f[where]
        processes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        total = None
        data = None
        edges = None
        for key, cls in d.classnames(recursive=False).items():
            name = key.split(";")[0]
            if cls.startswith("TH1"):
                h = d[name]
                if edges is None:
                    edges = h.axis().edges()
                if name == "total":
                    total = (h.values(), h.errors())
                elif not name.startswith("total"):
                    processes[name] = (h.values(), h.errors())
            elif name == "data" and cls.startswith("TGraph"):
                g = d[name]
                data = tuple(np.asarray(g.member(m), dtype=float) for m in ("fX", "fY", "fEYlow", "fEYhigh"))
        if total is None or edges is None:
            raise PyCombineError(f"{path}: {where} has no 'total' histogram")
        if signals is None:
            ref = f"shapes_prefit/{channel}/total_signal"
            ref = ref if ref in f else f"{where}/total_signal"
            if ref in f:
                pre = {n: (f[f"shapes_prefit/{channel}/{n}"].values() if f"shapes_prefit/{channel}/{n}" in f else v[0])
                       for n, v in processes.items()} if ref.startswith("shapes_prefit") else \
                    {n: v[0] for n, v in processes.items()}
                signals = _signals_from_total(pre, f[ref].values())
            if signals is None:
                signals = []
    return Channel(channel, processes, [s for s in signals if s in processes], total, data, edges)


def postfit_figure(ch: Channel, stage: str = "fit_s", x_title: str = "", y_title: str = "Events", logy: bool = False,
                   style_name: str = "cms", cms_sub: str = "Internal", ratio: bool = True):
    """Stacked processes, uncertainty band, data and the data/total ratio of one channel (a Figure)."""
    edges = ch.edges
    with style(style_name):
        fig = figure(10.0, 11.0 if ratio else 9.0)
        if ratio:
            gs = fig.add_gridspec(2, 1, height_ratios=(3, 1), hspace=0.06)
            ax = fig.add_subplot(gs[0])
            rax = fig.add_subplot(gs[1], sharex=ax)
        else:
            ax, rax = fig.add_subplot(1, 1, 1), None
        base = np.zeros(len(edges) - 1)
        order = ch.backgrounds + ch.signals  # backgrounds in the file's order, the signals on top
        for k, name in enumerate(order):
            vals = ch.processes[name][0]
            color = SIG_COLORS[ch.signals.index(name) % len(SIG_COLORS)] if name in ch.signals \
                else BKG_COLORS[k % len(BKG_COLORS)]
            ax.stairs(base + vals, edges, baseline=base, fill=True, color=color, label=name, gid=f"stack_{name}")
            base = base + vals
        tot, err = ch.total
        ax.stairs(tot + err, edges, baseline=tot - err, fill=False, hatch="///", color="#555555", lw=0,
                  label="Uncertainty", gid="uncertainty")
        if ch.data is not None:
            x, y, lo, hi = ch.data
            ax.errorbar(x, y, yerr=[lo, hi], fmt="o", color="black", ms=4, label="Data", gid="data")
        ax.set_ylabel(tex(y_title))
        if logy:
            ax.set_yscale("log")
            positive = tot[tot > 0]
            ax.set_ylim(max(float(positive.min()) * 0.1, 1e-3) if positive.size else 1e-3, float(tot.max()) * 100)
        else:
            top = max(float((tot + err).max()), float(ch.data[1].max() + ch.data[3].max()) if ch.data is not None else 0)
            ax.set_ylim(0, top * 1.4)
        ax.legend(loc="upper right", ncols=2, fontsize=10, frameon=False)
        stage_name = {"prefit": "pre-fit", "fit_b": "B-only fit", "fit_s": "S+B fit"}.get(stage, stage)
        experiment_label(ax, style_name, cms_sub, right=f"{ch.name}, {stage_name}")
        if rax is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.where(tot > 0, err / tot, 0.0)
            rax.stairs(1 + rel, edges, baseline=1 - rel, fill=True, color="#bbbbbb", gid="ratio_band")
            rax.axhline(1.0, color="black", lw=1)
            if ch.data is not None:
                x, y, lo, hi = ch.data
                idx = np.clip(np.searchsorted(edges, x) - 1, 0, len(tot) - 1)
                t = tot[idx]
                with np.errstate(divide="ignore", invalid="ignore"):
                    r = np.where(t > 0, y / t, np.nan)
                    rlo, rhi = np.where(t > 0, lo / t, 0), np.where(t > 0, hi / t, 0)
                rax.errorbar(x, r, yerr=[rlo, rhi], fmt="o", color="black", ms=4, gid="ratio")
            rax.set_ylim(0.5, 1.5)
            rax.set_ylabel("Data / pred.")
            rax.set_xlabel(tex(x_title) or "Bin")
            ax.tick_params(labelbottom=False)
        else:
            ax.set_xlabel(tex(x_title) or "Bin")
        ax.set_xlim(edges[0], edges[-1])
        fig.subplots_adjust(left=0.14, right=0.96, top=0.94, bottom=0.09)
    return fig


# ---------------------------------------------------------------------------------------- pulls
def fit_view(f, name: str):
    """The TH1 with one labelled bin per parameter of fit ``name`` (``fit_s``, ``fit_b``,
    ``nuisances_prefit``): the object itself, or another TH1 called ``<name>...`` with bin labels
    (pycombine's TH1D view beside a RooFitResult), never the ``_errLo``/``_errHi``/``_covariance``."""
    skip = ("_errlo", "_errhi", "_covariance", "_status", "_correlation")
    classes = f.classnames(recursive=False)
    candidates = [k.split(";")[0] for k, c in classes.items() if c in ("TH1D", "TH1F")
                  and k.split(";")[0].startswith(name) and not k.split(";")[0].lower().endswith(skip)]
    candidates.sort(key=lambda n: (n != name, len(n)))
    for n in candidates:
        h = f[n]
        labels = h.axis().labels()
        if labels:
            return h
    raise PyCombineError(f"{f.file_path}: no histogram view of {name!r} (one labelled bin per parameter)")


def pulls(path: str, fits=("fit_b", "fit_s"), regex: str | None = None) -> dict:
    """``{"names": [...], fit: (pull, error)}`` for the constrained nuisances of the file."""
    with _open(path) as f:
        pre = fit_view(f, "nuisances_prefit")
        names = [str(n) for n in pre.axis().labels()]
        theta0, sigma0 = pre.values(), pre.errors()
        keep = [i for i, n in enumerate(names) if sigma0[i] > 0 and (regex is None or re.search(regex, n))]
        out: dict = {"names": [names[i] for i in keep]}
        for fit in fits:
            if fit not in f and not any(k.startswith(fit) for k in f.keys()):
                continue
            h = fit_view(f, fit)
            idx = {str(n): i for i, n in enumerate(h.axis().labels())}
            vals, errs = h.values(), h.errors()
            p, e = [], []
            for i in keep:
                j = idx.get(names[i])
                if j is None:  # frozen in that fit
                    p.append(np.nan)
                    e.append(np.nan)
                    continue
                p.append((vals[j] - theta0[i]) / sigma0[i])
                e.append(errs[j] / sigma0[i])
            out[fit] = (np.array(p), np.array(e))
    if len(out) == 1:
        raise PyCombineError(f"{path}: none of the fits {', '.join(fits)} is in the file")
    return out


def pulls_figure(data: dict, style_name: str = "cms", cms_sub: str = "Internal"):
    """Pulls of every nuisance, one row each, one marker per fit (a Figure)."""
    names = data["names"]
    fits = [k for k in data if k != "names"]
    n = len(names)
    colors = {"fit_b": "#1f77b4", "fit_s": "#d62728"}
    labels = {"fit_b": "B-only fit", "fit_s": "S+B fit"}
    with style(style_name):
        fig = figure(8.0, 2.0 + 0.3 * max(n, 5))
        ax = fig.add_subplot(1, 1, 1)
        y = np.arange(n)[::-1].astype(float)
        ax.axvspan(-2, 2, color="#ffe680", zorder=0)
        ax.axvspan(-1, 1, color="#8fd18f", zorder=0)
        ax.axvline(0, color="black", lw=0.8)
        for k, fit in enumerate(fits):
            p, e = data[fit]
            offset = (k - (len(fits) - 1) / 2) * 0.25
            ax.errorbar(p, y + offset, xerr=e, fmt="o", ms=5, color=colors.get(fit, f"C{k}"),
                        label=labels.get(fit, fit), gid=f"pulls_{fit}")
        ax.set_yticks(y)
        ax.set_yticklabels(names, fontsize=9 if n > 25 else 11)
        ax.set_ylim(-0.7, n - 0.3)
        finite = [abs(v) for fit in fits for v in np.concatenate([data[fit][0] + data[fit][1],
                                                                   data[fit][0] - data[fit][1]]) if np.isfinite(v)]
        lim = max([2.5] + [v * 1.1 for v in finite])
        ax.set_xlim(-lim, lim)
        ax.set_xlabel(r"$(\hat{\theta}-\theta_0)/\sigma_0$")
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, fontsize=11, frameon=False)
        experiment_label(ax, style_name, cms_sub)
        fig.tight_layout()
    return fig
