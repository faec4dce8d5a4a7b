"""A binned template as Combine uses it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)  # numpy fields: no generated __eq__/__hash__ over them
class Template:
    """Contents of one histogram (or dataframe selection) as Combine's model sees it.

    Combine copies every template into a ``TH1F`` with unit-width bins before use
    (``ShapeTools.rebinH1``), so ``values`` hold float32-rounded contents (stored as float64
    for arithmetic). Bin errors survive in double precision (``TH1`` keeps ``sumw2`` as
    double). ``integral`` is the double sum of the *original* contents: Combine takes
    ``rate -1`` and the shape-normalisation kappas from the original histogram.
    Under- and overflow bins are never used; original bin edges are discarded.
    """

    values: np.ndarray
    errors: np.ndarray
    integral: float
    source: str  # "file:object", for messages

    @property
    def nbins(self) -> int:
        return int(self.values.shape[0])

    @classmethod
    def from_contents(cls, contents, errors, source: str) -> "Template":
        contents = np.asarray(contents)
        integral = float(np.sum(contents, dtype=np.float64))
        values = contents.astype(np.float32).astype(np.float64)
        errs = np.asarray(errors, dtype=np.float64)
        values.setflags(write=False)
        errs.setflags(write=False)
        return cls(values, errs, integral, source)
