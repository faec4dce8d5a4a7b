"""A combine run's model and run-time parameter state (Combine's ``Combine::run``, spec §4.1).

:class:`Session` compiles the model, applies the command-line parameter options in Combine's
order (ranges, values, POI redefinition, freezing, ``-t`` handling), and provides what every
method needs: the dataset to analyse (observed or Asimov), fitters, and the output file name.
The state after the options are applied is Combine's ``clean`` snapshot.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from dataclasses import dataclass

import numpy as np

from ..errors import OptionError
from ..fit.minimize import Fitter, MinimizerOptions, ParameterState
from ..model.compile import CompiledModel
from ..model.likelihood import Dataset, Likelihood
from ..model.spec import ModelSpec
from ..model.validate import check_initial_likelihood
from ..outputs.limit_tree import LimitTree, output_filename
from .loading import load
from .options import RunOptions, runtime_define
from .validate_options import check_r_range


def _fmt(x: float) -> str:
    """C++ default stream formatting of a double (6 significant digits, %g-like)."""
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return format(x, ".6g")


@dataclass
class ToyInfo:
    index: int  # iToy: 0 observed, -1 Asimov, 1..N toys
    label: str


class Session:
    """The compiled model, the ``clean`` parameter state and the datasets of one run."""

    @classmethod
    def from_card(cls, path: str, method: str, out=print, err=None, **options) -> "Session":
        """Parse and build the datacard ``path`` as ``combine -M method`` would, with command-line
        options given by their Python names, e.g. ``Session.from_card("card.txt", "MultiDimFit",
        algo="singles", expect_signal=1.0)``."""
        opts = RunOptions.defaults(method=method, cards=(str(path),), **options)
        _card, spec = load(str(path), opts)
        return cls(spec, opts, out=out, err=err)

    def __init__(self, spec: ModelSpec, opts, out=print, err=None):
        self.spec = spec
        self.opts = opts
        self.out = out
        self.err = err or (lambda m: sys.stderr.write(m + "\n"))
        # --redefineSignalPOIs: Combine ignores the constraint of a nuisance made POI and takes it
        # out of the nuisance set (src/Combine.cc)
        new_pois = [n for n in (getattr(opts, "redefine_signal_pois", "") or "").split(",") if n]
        if new_pois:
            spec = dataclasses.replace(spec, parameters={
                n: (dataclasses.replace(p, constraint="none", is_nuisance=False) if n in new_pois else p)
                for n, p in spec.parameters.items()
            })
            self.spec = spec
        self.model = CompiledModel(spec)
        self.state = ParameterState.initial(self.model)
        self.pois = list(spec.pois)
        self.observed = Dataset(self.model.data.copy(), self.model.glob0.copy()) if self.model.has_data else None
        self.minimizer = MinimizerOptions(
            strategy=int(getattr(opts, "cmin_strategy", 1)),
            tolerance=float(getattr(opts, "cmin_tolerance", 0.1)),
        )
        self.analytic_bb = not self.runtime_define("MINIMIZER_no_analytic")
        self.toys = int(getattr(opts, "toys", 0) or 0)
        self._pool = None
        self._asimov: Dataset | None = None  # the -t -1 dataset, made once
        self._apply_options()
        # the number contract at run time: every fit starts where the likelihood is defined
        check_initial_likelihood(self.model, self.model.data if self.model.has_data else np.zeros(self.model.B),
                                 self.state.values, spec.path)

    def map_tasks(self, func, tasks) -> list:
        """``[func(t) for t in tasks]`` on the run's worker processes (``--parallel``; one per core by
        default), in task order. The pool is started at the first call and kept until :meth:`close`,
        so a method may hand out many small rounds; ``func`` must be a module-level function whose
        tasks are picklable, and what it needs beyond the task must exist before the first call."""
        if self._pool is None:
            from .parallel import WorkerPool

            self._pool = WorkerPool(self.workers())
        return self._pool.map(func, tasks)

    def workers(self) -> int:
        """How many processes :meth:`map_tasks` uses."""
        from .parallel import available_cores

        n = int(getattr(self.opts, "parallel", 0) or 0)
        return n if n > 0 else available_cores()

    def release_free_memory(self) -> None:
        """Between the phases of a run on a large model (build, fits, writing): give the pages
        of freed arrays back to the system (:mod:`.memory`)."""
        from .memory import release_free_memory

        release_free_memory(self.model.stored_values)

    def close(self) -> None:
        """Stop the worker processes of :meth:`map_tasks`, if any."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def runtime_define(self, name: str) -> int:
        """Value of ``--X-rtd name[=value]`` for this run (0 if not given)."""
        return runtime_define(self.opts, name)

    # ------------------------------------------------------------------ names
    def index(self, name: str) -> int:
        return self.model.parameter_index(name)

    @property
    def poi_index(self) -> int:
        return self.index(self.pois[0])

    def values_dict(self, values: np.ndarray | None = None) -> dict[str, float]:
        v = self.state.values if values is None else values
        return {n: float(v[i]) for i, n in enumerate(self.model.names)}

    # ------------------------------------------------------------------ run-time options
    def _apply_options(self) -> None:
        o = self.opts
        st = self.state
        ir = self.poi_index
        # --rMin/--rMax: range of the first POI, which moves to the middle of its range
        r_min, r_max = getattr(o, "r_min", None), getattr(o, "r_max", None)
        if r_min is not None:
            st.lo[ir] = r_min
        if r_max is not None:
            st.hi[ir] = r_max
        if r_min is not None or r_max is not None:
            check_r_range(float(st.lo[ir]), float(st.hi[ir]), "--rMin/--rMax" if r_min is not None and r_max is not None
                          else ("--rMin" if r_min is not None else "--rMax"))
            st.values[ir] = 0.5 * (st.lo[ir] + st.hi[ir])
        # --snapshotName: the snapshot's values and constant flags (set by run/loading from a workspace)
        snapshot = getattr(o, "loaded_snapshot", None)
        if snapshot is not None:
            self._load_snapshot(snapshot)
        if getattr(o, "set_parameter_ranges", ""):
            self._set_ranges(o.set_parameter_ranges)
        set_names: set[str] = set()
        if getattr(o, "set_parameters", ""):
            set_names = self._set_values(o.set_parameters)
        if getattr(o, "redefine_signal_pois", ""):
            self._redefine_pois(o.redefine_signal_pois)
        for i in (self.index(p) for p in self.pois):
            st.frozen[i] = False
        if getattr(o, "float_parameters", ""):
            self._float(o.float_parameters)
        if getattr(o, "freeze_parameters", ""):
            self._freeze(o.freeze_parameters)
        if getattr(o, "freeze_nuisance_groups", ""):
            self._freeze_groups(o.freeze_nuisance_groups)
        if getattr(o, "float_all_nuisances", False):
            st.frozen[self.model.is_nuisance] = False
        # -t: r is set to --expectSignal (default 0) unless r= was given in --setParameters alone
        # or a snapshot was loaded (then only an explicit --expectSignal sets it)
        if self.toys != 0 and "r" in self.model.index and "r" in self.pois:
            expect = getattr(o, "expect_signal", None)
            if "r" in set_names and expect is not None:
                self.err(
                    "Warning: A value of r is specified in both the --setParameters and --expectSignal options. "
                    "The argument of --expectSignal will take precedence"
                )
            if expect is not None or ("r" not in set_names and snapshot is None):
                st.values[self.index("r")] = expect if expect is not None else 0.0

    def _load_snapshot(self, snapshot) -> None:
        """RooWorkspace::loadSnapshot: the values and constant flags of the snapshot's parameters
        (MH, a constant no yield depends on, has no effect)."""
        st = self.state
        for name, value in snapshot.values.items():
            i = self.model.index.get(name)
            if i is None:
                continue
            st.values[i] = value
            st.frozen[i] = bool(snapshot.frozen.get(name, st.frozen[i]))

    def _matching(self, pattern: str) -> list[int]:
        """Parameter indices for a name, ``rgx{...}`` or ``var{...}`` (full match)."""
        if (pattern.startswith("rgx{") or pattern.startswith("var{")) and pattern.endswith("}"):
            rx = re.compile(pattern[4:-1])
            return [i for i, n in enumerate(self.model.names) if rx.fullmatch(n)]
        i = self.model.index.get(pattern)
        return [] if i is None else [i]

    def _set_ranges(self, text: str) -> None:
        st = self.state
        for item in text.split(":"):
            if not item:
                continue
            name, eq, rng = item.partition("=")
            parts = rng.split(",")
            if not eq or len(parts) != 2:
                raise OptionError(f"--setParameterRanges: expected name=lo,hi, got {item!r}")
            if parts[0].strip() == "-inf" and parts[1].strip() in ("inf", "+inf"):
                i = self.model.index.get(name)
                if i is None:
                    self.out(f"Warning: Did not find a parameter with name {name}")
                else:
                    self.out(f"Leave Parameter {name} freely floating, with no range")
                    st.lo[i], st.hi[i] = -np.inf, np.inf
                continue
            if name.startswith("rgx{") and name.endswith("}"):
                self.out(f"interpreting {name[4:-1]} as regex ")
            try:
                lo, hi = float(parts[0]), float(parts[1])
            except ValueError:
                raise OptionError(f"--setParameterRanges: bad range in {item!r}") from None
            idx = self._matching(name)
            if not idx and name in self.spec.constants:  # MH: in Combine's workspace, no effect here
                self.out(f"Set Range of Parameter {name} To : ({_fmt(lo)},{_fmt(hi)})")
                continue
            if not idx:
                self.out(f"Warning: Did not find a parameter with name {name}")
                continue
            for i in idx:
                if name.startswith("rgx{") and st.frozen[i]:
                    continue
                self.out(f"Set Range of Parameter {self.model.names[i]} To : ({_fmt(lo)},{_fmt(hi)})")
                st.lo[i], st.hi[i] = lo, hi

    def _set_values(self, text: str) -> set[str]:
        st = self.state
        done = set()
        for item in text.split(","):
            if not item:
                continue
            name, eq, val = item.partition("=")
            if not eq:
                raise OptionError(f"--setParameters: expected name=value, got {item!r}")
            if name.startswith("rgx{") and name.endswith("}"):
                self.out(f"interpreting {name[4:-1]} as regex ")
            try:
                v = float(val)
            except ValueError:
                raise OptionError(f"--setParameters: value of {name} is not a number: {val!r}") from None
            idx = self._matching(name)
            if not idx and name in self.spec.constants:  # MH: in Combine's workspace, no effect here
                self.out(f"Set Default Value of Parameter {name} To : {_fmt(v)}")
                continue
            if not idx:
                self.out(f"Warning: Did not find a parameter with name {name}")
                continue
            for i in idx:
                n = self.model.names[i]
                if v < st.lo[i] or v > st.hi[i]:
                    raise OptionError(
                        f"Parameter {n} value {_fmt(v)} is outside its range [{_fmt(st.lo[i])}, {_fmt(st.hi[i])}]. "
                        f"Use --rMin/--rMax or --setParameterRanges to adjust the range."
                    )
                self.out(f"Set Default Value of Parameter {n} To : {_fmt(v)}")
                st.values[i] = v
                done.add(n)
        return done

    def _redefine_pois(self, text: str) -> None:
        names = [n for n in text.split(",") if n]
        for n in names:
            if n not in self.model.index:
                raise OptionError(f"--redefineSignalPOIs: no parameter named {n!r}")
        self.pois = names
        for n in names:
            self.state.frozen[self.index(n)] = False

    def _float(self, text: str) -> None:
        for item in text.split(","):
            if item == "all":
                self.state.frozen[:] = False
                continue
            for i in self._matching(item):
                self.state.frozen[i] = False

    def _freeze(self, text: str) -> None:
        m = self.model
        for item in text.split(","):
            if not item:
                continue
            if item == "allConstrainedNuisances":
                idx = [i for i in range(m.P) if m.is_nuisance[i] and self.model.names[i] not in self.pois]
            elif item.startswith("rgx{"):
                rx = re.compile(item[4:-1])
                idx = [i for i in range(m.P) if m.is_nuisance[i] and rx.fullmatch(m.names[i])]
            else:
                idx = self._matching(item)
                if not idx and item not in self.spec.constants:  # MH is constant already
                    self.out(f"WARNING: cannot freeze nuisance parameter {item} if it doesn't exist!")
            for i in idx:
                self.state.frozen[i] = True

    def _freeze_groups(self, text: str) -> None:
        groups = self.spec.groups
        m = self.model
        for g in text.split(","):
            if not g:
                continue
            inverse = g.startswith("^")
            name = g[1:] if inverse else g
            if name not in groups:
                raise OptionError(f"Unknown nuisance group name {name!r} (groups: {', '.join(groups) or 'none'})")
            members = set(groups[name])
            for i, n in enumerate(m.names):
                if not m.is_nuisance[i]:
                    if not inverse and n in members:
                        self.state.frozen[i] = True
                    continue
                if (n in members) != inverse:
                    self.state.frozen[i] = True

    # ------------------------------------------------------------------ datasets
    def asimov(self, values: np.ndarray | None = None, glob: np.ndarray | None = None, name="toy_asimov") -> Dataset:
        """Expected data at ``values`` (default: the clean state), with the given global observables."""
        v = self.state.values if values is None else values
        g = self.model.glob0.copy() if glob is None else glob
        lik = Likelihood(self.model, Dataset(np.zeros(self.model.B), g), analytic_bb=False)
        nu = lik.expected(v)
        return Dataset(nu, g, name=name, is_asimov=True)

    def main_dataset(self) -> tuple[Dataset, int]:
        """The dataset the method analyses and its iToy value (0 observed, -1 Asimov)."""
        if self.toys == 0:
            if self.observed is None:
                raise OptionError("the datacard has no observation: use -t -1 (Asimov) or toys")
            return self.observed, 0
        if self.toys == -1:
            if self._asimov is None:
                if getattr(self.opts, "toys_file", ""):
                    self._asimov = self._read_asimov(self.opts.toys_file)
                elif getattr(self.opts, "toys_frequentist", False):
                    self._asimov = self.frequentist_asimov()
                else:
                    self._asimov = self.asimov()
            return self._asimov, -1
        raise OptionError("toys (-t N with N > 0) are run by the toy driver")

    def _read_asimov(self, path: str) -> Dataset:
        """``-t -1 --toysFile``: the dataset ``toys/toy_asimov`` (with its global observables when saved)."""
        from ..outputs.toys_file import ToysFile

        f = ToysFile(path)
        try:
            counts = f.dataset("toy_asimov", self.model.B)
            glob = self.model.glob0.copy()
            if f.has("toy_asimov_snapshot"):
                for k, v in f.snapshot("toy_asimov", list(self.model.names)).items():
                    glob[self.index(k)] = v
        finally:
            f.close()
        return Dataset(counts, glob, name="toy_asimov", is_asimov=True)

    def frequentist_asimov(self) -> Dataset:
        """--toysFrequentist: fit the data with the POIs fixed, generate from the post-fit values.

        The global observables move to the fitted nuisance values and the post-fit state becomes
        the clean state (fits start there, constraints are centred there).
        """
        if self.observed is None:
            raise OptionError("--toysFrequentist needs observed data")
        glob = self.model.glob0.copy()
        if not getattr(self.opts, "bypass_frequentist_fit", False):
            fitter = Fitter(self.model, self.observed, self.minimizer, analytic_bb=self.analytic_bb)
            fixed = {self.index(p): self.state.values[self.index(p)] for p in self.pois}
            res = fitter.minimize(self.state, fixed)
            self.state.values = res.values.copy()
        has = ~np.isnan(glob)
        glob[has] = self.state.values[has]
        m = self.model
        hf = m.gamma_idx[m.gamma_aux_offset > 0]  # HistFactory shapesys: the observable is gamma*tau + 1
        if hf.size:
            glob[hf] = self.state.values[hf] / m.gamma_scale[m.gamma_aux_offset > 0] + 1.0
        return self.asimov(self.state.values, glob)

    # ------------------------------------------------------------------ fitting
    def fitter(self, data: Dataset, remove_bounds: bool = False) -> Fitter:
        return Fitter(self.model, data, self.minimizer, remove_bounds=remove_bounds, analytic_bb=self.analytic_bb)

    # ------------------------------------------------------------------ outputs
    def output_filename(self, method: str | None = None) -> str:
        o = self.opts
        return output_filename(
            o.name, method or o.method, o.mass, getattr(o, "keyword_value", ()), o.seed, self.toys,
            getattr(o, "save_toys", False),
        )

    def write_limit_file(self, tree: LimitTree, path: str, snapshot: tuple[str, dict[str, float] | None] | None = None) -> None:
        """Write the ``limit`` tree to ``path``; with ``--saveWorkspace`` the workspace goes into the same
        file (Combine's ``w``), carrying this run's clean state (also as snapshot ``clean``) and
        ``snapshot`` = (name, values) when given (values None: the clean values)."""
        ws = getattr(self.opts, "loaded_workspace", None)
        if not getattr(self.opts, "save_workspace", False) or ws is None:
            tree.write(path)
            return
        from .workspace import Snapshot, write_limit_file

        st, names = self.state, self.model.names
        state = {n: (float(st.values[i]), None if np.isinf(st.lo[i]) else float(st.lo[i]),
                     None if np.isinf(st.hi[i]) else float(st.hi[i]), bool(st.frozen[i])) for i, n in enumerate(names)}
        frozen = {n: bool(st.frozen[i]) for i, n in enumerate(names)}
        snapshots = dict(ws.snapshots)
        snapshots["clean"] = Snapshot("clean", {n: v[0] for n, v in state.items()}, frozen)
        if snapshot is not None:
            name, values = snapshot
            values = {n: float(values[n]) for n in names if n in values} if values else snapshots["clean"].values
            snapshots[name] = Snapshot(name, values, frozen)
        saved = dataclasses.replace(ws, state=state, snapshots=snapshots)
        write_limit_file(path, tree, saved, getattr(self.opts, "workspace_name", "w") or "w")

    def limit_tree(self) -> LimitTree:
        """The run's ``limit`` tree; with ``-t -1 --saveToys`` it already holds Combine's row with
        quantileExpected -2 and the Asimov dataset for the ``toys`` directory."""
        tree = LimitTree(self.opts.mass, self.opts.seed, keyword_values=tuple(getattr(self.opts, "keyword_value", ())))
        if getattr(self.opts, "save_toys", False) and self.toys == -1 and self._asimov is not None:
            from ..outputs.toys_file import dataset_columns, snapshot_columns

            m = self.model
            starts = np.array([c.bin_start for c in m.channels])
            tree.add(0.0, 0.0, -2.0, -1)
            tree.toys["toy_asimov"] = dataset_columns(m.bin_channel, np.arange(m.B) - starts[m.bin_channel],
                                                      self._asimov.counts)
            glob = [i for i in range(m.P) if np.isfinite(m.glob0[i])]
            if getattr(self.opts, "toys_frequentist", False) and glob:
                tree.toys["toy_asimov_snapshot"] = snapshot_columns([m.names[i] for i in glob],
                                                                    self._asimov.glob[glob])
        return tree
