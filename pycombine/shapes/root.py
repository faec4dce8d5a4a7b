"""Histograms from ROOT files, read with uproot (no ROOT needed)."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .template import Template


class RootSource:
    """An open ROOT file; each file is opened once per run (see :class:`ShapeFiles`)."""

    def __init__(self, path: str):
        import uproot

        self.path = path
        try:
            self._file = uproot.open(path)
        except FileNotFoundError:
            raise ShapeError(f"cannot open ROOT file {path!r}: no such file") from None
        except Exception as exc:  # uproot raises several kinds for corrupt/non-ROOT files
            raise ShapeError(f"cannot open ROOT file {path!r}: {exc}") from None
        self._cache: dict[str, Template | None] = {}

    def get(self, name: str) -> Template | None:
        """The TH1 at ``name`` (sub-directories allowed: ``dir/hist``), or None if it is absent."""
        if name in self._cache:
            return self._cache[name]
        try:
            obj = self._file[name]
        except (KeyError, FileNotFoundError):
            obj = None
        except Exception as exc:  # pragma: no cover - corrupt object
            raise ShapeError(f"cannot read {name!r} from {self.path!r}: {exc}") from None
        if obj is None:
            self._cache[name] = None
            return None
        cls = getattr(obj, "classname", type(obj).__name__)
        if cls.startswith("TH1") and not cls.startswith("TH1K"):
            tmpl = _th1_to_template(obj, f"{self.path}:{name}")
        elif cls.startswith(("TH2", "TH3")):
            raise ShapeError(f"{name!r} in {self.path!r} is a {cls}; only one-dimensional TH1 templates are supported")
        elif cls.startswith("Roo") or cls == "RooWorkspace":
            raise ShapeError(
                f"{name!r} in {self.path!r} is a {cls}; RooFit objects need ROOT and are not supported by pycombine"
            )
        else:
            raise ShapeError(f"{name!r} in {self.path!r} is a {cls}, not a TH1 histogram")
        self._cache[name] = tmpl
        return tmpl


def _th1_to_template(hist, source: str) -> Template:
    contents = np.asarray(hist.values(flow=False))
    sumw2 = np.asarray(hist.member("fSumw2")) if "fSumw2" in hist.all_members else np.zeros(0)
    if sumw2.size:
        # TH1::GetBinError: sqrt(sumw2) when the weights were stored ...
        errors = np.sqrt(sumw2[1:-1].astype(np.float64))
    else:
        # ... else sqrt(|content|)
        errors = np.sqrt(np.abs(contents.astype(np.float64)))
    return Template.from_contents(contents, errors, source)
