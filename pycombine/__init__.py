"""pycombine: a ROOT-free, drop-in replacement for the CMS Combine statistics tool.

The public Python API is small::

    import pycombine
    model = pycombine.load_datacard("card.txt")            # a card compiled into the engine
    result = model.fit()
    session = pycombine.Session.from_card("card.txt", "MultiDimFit", algo="singles")

Heavy modules (numpy, scipy, iminuit, uproot, lark) are imported lazily so that the command-line
tools start quickly. The package layout is described in docs/ARCHITECTURE.md.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "Session", "load_datacard", "parse_datacard", "run_toys", "toys_for_card"]

#: lazy attributes (keep `import pycombine` cheap): name -> (module, attribute)
_LAZY = {
    "parse_datacard": ("pycombine.datacard", "parse_datacard"),
    "load_datacard": ("pycombine.api", "load_datacard"),
    "Session": ("pycombine.run.session", "Session"),
    "run_toys": ("pycombine.run.toys", "run_toys"),
    "toys_for_card": ("pycombine.run.toys", "toys_for_card"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'pycombine' has no attribute {name!r}")
