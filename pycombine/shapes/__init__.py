"""Shape inputs: TH1 histograms in ROOT files (via uproot) and pandas tables."""

from .files import ShapeFiles
from .template import Template

__all__ = ["ShapeFiles", "Template"]
