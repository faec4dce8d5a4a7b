"""pycombine: a ROOT-free, drop-in replacement for the CMS Combine statistics tool.

The public Python API is small::

    import pycombine
    model = pycombine.load_datacard("card.txt")
    result = model.fit()

Heavy modules (numpy, scipy, iminuit, uproot, lark) are imported lazily so that the command-line
tools start quickly.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_datacard", "parse_datacard"]


def __getattr__(name: str):
    # lazy attributes: keep `import pycombine` cheap
    if name == "parse_datacard":
        from .datacard import parse_datacard

        return parse_datacard
    if name == "load_datacard":
        from .api import load_datacard

        return load_datacard
    raise AttributeError(f"module 'pycombine' has no attribute {name!r}")
