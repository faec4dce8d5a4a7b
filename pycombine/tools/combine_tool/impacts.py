"""``combineTool.py -M Impacts``: the three documented steps, on pycombine's fast impacts engine.

1. ``--doInitialFit``: one ``combine -M MultiDimFit --algo singles`` job, named
   ``_initialFit_<name>`` (``--splitInitial``: one job per POI), exactly combineTool's job; it
   writes ``higgsCombine_initialFit_<name>.MultiDimFit.mH<m>.root``.
2. ``--doFits``: combineTool runs one ``--algo impact -P <θ>`` fit per parameter. Here all
   parameters are computed at once by :func:`pycombine.tools.impacts.impacts` (one model build,
   warm-started profile fits, ``--parallel N`` processes or ``--job-mode dask`` tasks), and the
   result of each parameter is written to the file that job would have written,
   ``higgsCombine_paramFit_<name>_<θ>.MultiDimFit.mH<m>.root`` (``limit`` rows: best fit, θ at its
   low crossing, θ at its high crossing; branches θ, the POIs, ``deltaNLL``), so scripts reading
   those files keep working. With ``--dry-run`` or a batch job mode the per-parameter ``combine``
   jobs themselves are printed or written (pycombine's ``combine`` runs them too).
3. ``-o impacts.json``: reads those files as combineTool does (rows 1, 0, 2 of each column;
   a file missing or short is a "missing input") and writes combineTool's JSON (sorted keys,
   indent 2): ``POIs`` with the initial fit's intervals, and per parameter its ``type``,
   ``prefit``, ``groups`` (:func:`pycombine.tools.impacts.prefit_info`), ``fit``, the POIs'
   values and ``impact_<poi>``.

``--approx hesse`` takes the impacts from the covariance of one fit at step 3 (nothing to run
before it); ``--approx robust`` (robustHesse) is not available.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import OptionError
from .jobs import Job, JobOptions, Step, ToolEnv, submit

__all__ = ["ImpactsArgs", "run_impacts"]


@dataclass
class ImpactsArgs:
    """The options of ``combineTool.py -M Impacts`` (the rest goes to combine)."""

    mass: str
    datacard: str
    name: str = "Test"
    redefine_signal_pois: str | None = None
    set_parameters: str | None = None
    named: str | None = None
    exclude: str | None = None
    do_initial_fit: bool = False
    split_initial: bool = False
    do_fits: bool = False
    all_pars: bool = False
    output: str | None = None
    approx: str | None = None
    no_initial_fit: bool = False


class _Run:
    """One ``-M Impacts`` command: its combine arguments, model and file names."""

    def __init__(self, a: ImpactsArgs, passthrough: list[str], env: ToolEnv):
        self.a, self.env = a, env
        self.common = list(passthrough) + ["-m", a.mass, "-d", a.datacard]
        if a.set_parameters is not None:
            self.common += ["--setParameters", a.set_parameters]
        self._session = None
        self._pois: list[str] | None = [p for p in a.redefine_signal_pois.split(",") if p] \
            if a.redefine_signal_pois else None

    # ---- the model, loaded as the per-parameter combine jobs would load it
    def session(self):
        if self._session is None:
            from ...run.loading import load
            from ...run.options import datacard_path
            from ...run.session import Session

            args = ["-M", "MultiDimFit", *self.common]
            if self._pois is not None:
                args += ["--redefineSignalPOIs", ",".join(self._pois)]
            opts = self.env.parse_combine(args)
            _card, spec = load(datacard_path(opts), opts)
            self._session = Session(spec, opts, out=lambda line: None)
        return self._session

    @property
    def pois(self) -> list[str]:
        if self._pois is None:
            self._pois = list(self.session().pois)
        return self._pois

    def parameters(self) -> list[str]:
        from ..impacts import impact_parameters

        named = [n for n in self.a.named.split(",") if n] if self.a.named else None
        exclude = [n for n in self.a.exclude.split(",") if n] if self.a.exclude else []
        return impact_parameters(self.session(), named, exclude)

    def filename(self, name: str) -> str:
        from ...outputs.limit_tree import output_filename

        o = self.session().opts
        return output_filename(name, "MultiDimFit", o.mass, getattr(o, "keyword_value", ()), o.seed,
                               self.session().toys, getattr(o, "save_toys", False))

    # ---- job lines, as combineTool writes them
    def initial_jobs(self) -> list[Job]:
        poistr = ",".join(self.pois)
        base = ["-M", "MultiDimFit"]
        if self.a.split_initial:
            return [Job([Step("combine", base + ["-n", f"_initialFit_{self.a.name}_POI_{p}", "--algo", "singles",
                                                 "--redefineSignalPOIs", poistr, "--floatOtherPOIs", "1",
                                                 "--saveInactivePOI", "1", "-P", p, *self.common])])
                    for p in self.pois]
        return [Job([Step("combine", base + ["-n", f"_initialFit_{self.a.name}", "--algo", "singles",
                                             "--redefineSignalPOIs", poistr, *self.common])])]

    def param_jobs(self, params: list[str]) -> list[Job]:
        poistr = ",".join(self.pois)
        return [Job([Step("combine", ["-M", "MultiDimFit", "-n", f"_paramFit_{self.a.name}_{p}", "--algo", "impact",
                                      "--redefineSignalPOIs", poistr, "-P", p, "--floatOtherPOIs", "1",
                                      "--saveInactivePOI", "1", *self.common])]) for p in params]


# ---------------------------------------------------------------------------------------- step 2
def _write_param_files(run: _Run, result) -> list[str]:
    """One ``limit`` file per parameter, with the rows the ``--algo impact`` job would write."""
    from ...outputs.limit_tree import LimitTree

    session = run.session()
    o = session.opts
    best = result.best
    written = []
    for p in result.params:
        others = [q for q in result.pois if q != p.name]
        tree = LimitTree(o.mass, o.seed, keyword_values=tuple(getattr(o, "keyword_value", ())))
        tree.branches = [(p.name, np.dtype(np.float32)), *((q, np.dtype(np.float32)) for q in others),
                         ("deltaNLL", np.dtype(np.float32))]
        row = {p.name: best[p.name], **{q: best[q] for q in others}, "deltaNLL": 0.0}
        tree.add(0.0, quantile=-1.0, **row)
        if p.ok and p.fit is not None:
            for side in (0, 2):
                vals = {p.name: p.fit[side], **{q: p.pois[q][side] for q in others}, "deltaNLL": 0.0}
                tree.add(0.0, quantile=0.32, **vals)
        path = run.filename(f"_paramFit_{run.a.name}_{p.name}")
        tree.write(path)
        written.append(path)
    return written


def _do_fits(run: _Run, jopts: JobOptions) -> int:
    from ..impacts import ImpactsOptions, impacts

    env, a = run.env, run.a
    params = run.parameters()
    if jopts.dry_run or jopts.mode not in ("interactive", "dask"):
        env.out(f"Have POIs: {run.pois}")
        env.out(f"Have parameters: {len(params)}")
        # the per-parameter combine jobs, as combineTool would run them
        return submit(run.param_jobs(params), jopts, env.runner, env.out)
    dask = (jopts.dask_scheduler or "local") if jopts.mode == "dask" else None
    options = ImpactsOptions(named=params, parallel=jopts.parallel, dask_scheduler=dask)
    env.out(f">> computing the impacts of {len(params)} parameters at once (pycombine's impacts engine, "
            f"{'Dask ' + dask if dask else str(jopts.parallel) + ' process(es)'})")
    result = impacts(run.session(), options=options, out=env.out)
    files = _write_param_files(run, result)
    env.out(f">> wrote {len(files)} files " + run.filename(f"_paramFit_{a.name}_<parameter>"))
    if result.missing:
        env.out("Fits that failed (their files hold only the best fit): " + ",".join(result.missing))
    return 0


# ---------------------------------------------------------------------------------------- step 3
def _read_columns(path: str, columns: list[str]) -> dict[str, list[float]] | None:
    import uproot

    try:
        with uproot.open(path) as f:
            tree = f["limit"]
            missing = [c for c in columns if c not in tree.keys()]
            if missing:
                print(f"{path}: no branch {','.join(missing)}, skipping")
                return None
            arrays = tree.arrays(columns, library="np")
    except (OSError, KeyError, ValueError):
        return None
    return {c: [float(x) for x in arrays[c]] for c in columns}


def _triplets(path: str, scanned: list[str], columns: list[str]) -> dict[str, dict[str, list[float]]] | None:
    """combineTool's reading of a singles/impact file: per scanned parameter, per column, the
    values of rows 2k+1 (low), 0 (best), 2k+2 (high)."""
    cols = _read_columns(path, columns)
    if cols is None:
        return None
    n = len(next(iter(cols.values()))) if cols else 0
    if n < 1 + 2 * len(scanned):
        print(f"{path}: fewer rows than expected ({n} < {1 + 2 * len(scanned)}), skipping")
        return None
    return {s: {c: [cols[c][2 * k + 1], cols[c][0], cols[c][2 * k + 2]] for c in columns}
            for k, s in enumerate(scanned)}


def _initial_fit(run: _Run) -> dict[str, list[float]]:
    a, pois = run.a, run.pois
    if a.split_initial:
        found = {}
        for p in pois:
            path = run.filename(f"_initialFit_{a.name}_POI_{p}")
            t = _triplets(path, [p], pois)
            if t is None:
                raise OptionError(f"{path}: missing or incomplete: run --doInitialFit --splitInitial first")
            found[p] = t[p][p]
        return found
    path = run.filename(f"_initialFit_{a.name}")
    t = _triplets(path, pois, pois)
    if t is None:
        raise OptionError(f"{path}: missing or incomplete: run the --doInitialFit step first")
    return {p: t[p][p] for p in pois}


def _output(run: _Run) -> int:
    from ..impacts import ImpactsOptions, dumps, impacts, prefit_info, write_json

    a, env = run.a, run.env
    pois = run.pois
    env.out(f"Have POIs: {pois}")
    params = run.parameters()
    env.out(f"Have parameters: {len(params)}")
    if a.approx == "hesse":
        res = impacts(run.session(), options=ImpactsOptions(named=params, approx="hesse"), out=env.out).to_json()
        if a.no_initial_fit:
            res.pop("POIs", None)
        if a.output:
            write_json(a.output, res)
        return 0
    prefit = prefit_info(run.session(), params)
    res: dict = {}
    if not a.no_initial_fit:
        initial = _initial_fit(run)
        res["POIs"] = [{"name": p, "fit": initial[p]} for p in pois]
    res["params"] = []
    missing = []
    for name in params:
        entry = {"name": name, **prefit[name]}
        scan = _triplets(run.filename(f"_paramFit_{a.name}_{name}"), [name], pois + [name])
        if scan is None:
            missing.append(name)
            continue
        entry["fit"] = scan[name][name]
        for p in pois:
            lo, best, hi = scan[name][p]
            entry[p] = [lo, best, hi]
            entry["impact_" + p] = max(abs(hi - best), abs(lo - best))
        res["params"].append(entry)
    res["method"] = "default"
    if a.output:
        with open(a.output, "w") as f:
            f.write(dumps(res))
    if missing:
        env.out("Missing inputs: " + ",".join(missing))
    return 0


# ---------------------------------------------------------------------------------------- entry
def run_impacts(a: ImpactsArgs, passthrough: list[str], jopts: JobOptions, env: ToolEnv) -> int:
    """One ``combineTool.py -M Impacts`` command line."""
    if a.approx not in (None, "hesse", "robust"):
        raise OptionError(f"--approx {a.approx}: choose hesse or robust")
    if a.approx == "robust":
        raise OptionError("--approx robust needs Combine's --robustHesse, which pycombine does not have; "
                          "use --approx hesse or the profile fits")
    if a.all_pars:
        env.out("Note: --allPars changes nothing: every floating parameter is always included")
    run = _Run(a, passthrough, env)
    if a.do_initial_fit:
        if a.approx is not None:
            env.out("--approx: there is no initial fit to run; go to the output step (-o)")
            return 0
        env.out(f"Have POIs: {run.pois}")
        return submit(run.initial_jobs(), jopts, env.runner, env.out)
    code = 0
    if a.do_fits:
        if a.approx == "hesse":
            env.out("--approx hesse: nothing to run before the output step (-o), which takes the impacts from "
                    "the covariance of one fit")
            return 0
        code = _do_fits(run, jopts)
        if code or not a.output or jopts.dry_run or jopts.mode not in ("interactive", "dask"):
            return code
    return _output(run)
