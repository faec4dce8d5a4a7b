"""Human- and machine-readable summaries of a built model (``combine --dump-model``)."""

from __future__ import annotations

import json

import numpy as np

from ..datacard.model import Datacard
from ..model.prefit import prefit_yields
from ..model.spec import ModelSpec


def _effect_text(v) -> str:
    if isinstance(v, tuple):
        return f"{v[0]:g}/{v[1]:g}"
    return f"{v:g}"


def summarize(card: Datacard, model: ModelSpec, with_bins: bool = True) -> dict:
    """A JSON-serialisable description: channels, processes (pre-fit yields), systematics, parameters."""
    yields = prefit_yields(model)
    channels = []
    for ch in model.channels:
        procs = []
        for p in ch.processes:
            y = yields[(ch.name, p.name)]
            entry = {
                "name": p.name,
                "signal": p.is_signal,
                "rate": p.rate,
                "prefit_yield": float(np.sum(y)),
            }
            if p.template is not None:
                entry["template_integral"] = p.integral
            if with_bins:
                entry["prefit_bins"] = [float(v) for v in y]
            if p.gmN:
                entry["gmN"] = {"parameter": p.gmN[0], "N": p.gmN[1], "alpha": p.norm if ch.auto_mc_stats is None else None}
            procs.append(entry)
        c = {
            "name": ch.name,
            "kind": "shape" if ch.binned else "counting",
            "bins": ch.nbins,
            "observed": None if ch.data is None else float(np.sum(ch.data)),
            "processes": procs,
        }
        if with_bins and ch.data is not None:
            c["data_bins"] = [float(v) for v in ch.data]
        if ch.auto_mc_stats is not None:
            a = ch.auto_mc_stats
            c["autoMCStats"] = {
                "threshold": a.threshold,
                "include_signal": a.include_signal,
                "hist_mode": a.hist_mode,
                "bblite_bins": sum(b.kind == "bblite" for b in a.bins),
                "per_process_bins": sum(b.kind == "per_process" for b in a.bins),
            }
        channels.append(c)
    systs = []
    for s in card.systematics:
        entry = {"name": s.name, "type": s.pdf, "line": s.line}
        if s.args:
            entry["args"] = [a if isinstance(a, (int, float)) else str(a) for a in s.args]
        effects = {
            f"{b}/{p}": (list(v) if isinstance(v, tuple) else v)
            for b, row in s.effects.items()
            for p, v in row.items()
            if v != 0.0
        }
        if effects:
            entry["effects"] = effects
        systs.append(entry)
    params = []
    for p in model.parameters.values():
        params.append(
            {
                "name": p.name,
                "kind": p.kind,
                "init": p.init,
                "range": [p.lo, p.hi],
                "constraint": p.constraint,
                "frozen": p.frozen,
                "groups": p.groups,
            }
        )
    return {
        "datacard": card.path,
        "counting": model.counting,
        "channels": channels,
        "systematics": systs,
        "rateParams": [
            {"name": rp.name, "channel": rp.channel, "process": rp.process, "kind": rp.kind, "value": rp.value,
             "range": rp.range or None, "args": rp.formula_args}
            for entries in card.rate_params.values() for rp in entries
        ],
        "parameters": params,
        "pois": model.pois,
        "groups": model.groups,
    }


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = "  ".join("{:<%d}" % w for w in widths)
    out = [fmt.format(*header).rstrip(), "  ".join("-" * w for w in widths)]
    out += [fmt.format(*map(str, r)).rstrip() for r in rows]
    return out


def format_summary(summary: dict) -> str:
    lines = [f"Datacard: {summary['datacard']}" + ("  (counting experiment)" if summary["counting"] else "")]
    lines.append("")
    rows = []
    for ch in summary["channels"]:
        amc = ch.get("autoMCStats")
        amc_text = "-" if amc is None else f"threshold {amc['threshold']:g}, mode {amc['hist_mode']}"
        obs = "-" if ch["observed"] is None else f"{ch['observed']:g}"
        rows.append([ch["name"], ch["kind"], ch["bins"], obs, amc_text])
    lines += _table(rows, ["channel", "kind", "bins", "observed", "autoMCStats"])
    lines.append("")
    rows = []
    for ch in summary["channels"]:
        for p in ch["processes"]:
            rows.append([ch["name"], p["name"], "signal" if p["signal"] else "background", f"{p['rate']:.6g}",
                         f"{p['prefit_yield']:.6g}"])
    lines += _table(rows, ["channel", "process", "type", "rate", "pre-fit yield"])
    lines.append("")
    rows = []
    for s in summary["systematics"]:
        eff = s.get("effects", {})
        shown = ", ".join(f"{k}={_effect_text(tuple(v) if isinstance(v, list) else v)}" for k, v in list(eff.items())[:4])
        if len(eff) > 4:
            shown += f", ... ({len(eff)} entries)"
        args = " ".join(map(str, s.get("args", [])))
        rows.append([s["name"], s["type"] + (f" {args}" if args else ""), shown or "-"])
    if rows:
        lines += _table(rows, ["systematic", "type", "effects"])
        lines.append("")
    rows = [[r["name"], f"{r['channel']}/{r['process']}", r["value"] + (f" {r['args']}" if r["args"] else ""), r["range"] or "-"]
            for r in summary["rateParams"]]
    if rows:
        lines += _table(rows, ["rateParam", "channel/process", "value", "range"])
        lines.append("")
    rows = []
    for p in summary["parameters"]:
        lo, hi = p["range"]
        rng = "unbounded" if lo is None and hi is None else f"[{lo:g}, {hi:g}]"
        rows.append([p["name"], p["kind"], f"{p['init']:g}", rng, p["constraint"], "frozen" if p["frozen"] else ""])
    lines += _table(rows, ["parameter", "kind", "initial", "range", "constraint", ""])
    return "\n".join(lines)


def dump(card: Datacard, model: ModelSpec, as_json: bool = False) -> str:
    summary = summarize(card, model)
    if as_json:
        return json.dumps(summary, indent=1)
    return format_summary(summary)
