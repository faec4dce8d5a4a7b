"""Pseudo-datasets in ROOT files: what ``--saveToys`` writes and ``--toysFile`` reads.

Combine stores each toy as a RooDataSet ``toys/toy_<i>`` (and its global observables as a
RooArgSet ``toys/toy_<i>_snapshot`` when the toys are frequentist; ``toy_asimov`` for ``-t -1``);
those classes need ROOT. pycombine stores the same content as flat TTrees under the same names,
so that ``hadd`` merges the files of many jobs and a job reads them back by name:

``toys/toy_<i>``           one entry per bin of the model, like Combine's weighted binned datasets:
                           ``CMS_channel`` (int32, the channel's index in the model),
                           ``CMS_th1x`` (float64, the bin centre: bin k of a channel at k + 0.5),
                           ``weight`` (float64, the count)
``toys/toy_<i>_snapshot``  one entry, a float64 branch ``<parameter>_In`` per global observable

A file whose ``toys/toy_<i>`` is a RooDataSet (written by Combine) is refused with a message.
"""

from __future__ import annotations

import numpy as np

from ..errors import OptionError


def dataset_columns(bin_channel: np.ndarray, bin_index: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "CMS_channel": np.asarray(bin_channel, dtype=np.int32),
        "CMS_th1x": np.asarray(bin_index, dtype=np.float64) + 0.5,
        "weight": np.asarray(counts, dtype=np.float64),
    }


def snapshot_columns(names: list[str], values: np.ndarray) -> dict[str, np.ndarray]:
    return {f"{n}_In": np.array([float(v)]) for n, v in zip(names, values)}


class ToysFile:
    """Reads the toys of one file (opened once)."""

    def __init__(self, path: str):
        import uproot

        self.path = path
        try:
            self.file = uproot.open(path)
        except FileNotFoundError:
            raise OptionError(f"--toysFile {path}: file not found") from None
        except Exception as exc:
            raise OptionError(f"--toysFile {path}: cannot read it as a ROOT file ({type(exc).__name__})") from None
        try:
            self.classes = {k.split(";")[0]: c for k, c in self.file["toys"].classnames(recursive=False).items()}
        except Exception:
            raise OptionError(f"--toysFile {path}: no 'toys' directory (write toys with --saveToys)") from None

    def _tree(self, name: str):
        cls = self.classes.get(name)
        if cls is None:
            have = sorted(k for k in self.classes if k.startswith("toy_"))[:5]
            raise OptionError(f"--toysFile {self.path}: Toy {name} not found (toys there: "
                              f"{', '.join(have) or 'none'}{', ...' if len(have) == 5 else ''})")
        if cls != "TTree":
            raise OptionError(f"--toysFile {self.path}: toys/{name} is a {cls} (toys written by Combine need ROOT); "
                              "make toys with pycombine: combine -M GenerateOnly -t N --saveToys")
        return self.file["toys"][name].arrays(library="np")

    def dataset(self, name: str, n_bins: int) -> np.ndarray:
        """Counts per bin of toy ``name`` (``toy_3``, ``toy_asimov``)."""
        cols = self._tree(name)
        w = np.asarray(cols["weight"], dtype=float)
        if w.size != n_bins:
            raise OptionError(f"--toysFile {self.path}: toys/{name} has {w.size} bins, the model has {n_bins} "
                              "(toys of another datacard?)")
        return w

    def snapshot(self, name: str, names: list[str]) -> dict[str, float]:
        cols = self._tree(f"{name}_snapshot")
        return {n: float(cols[f"{n}_In"][0]) for n in names if f"{n}_In" in cols}

    def has(self, name: str) -> bool:
        return name in self.classes

    def close(self) -> None:
        self.file.close()
