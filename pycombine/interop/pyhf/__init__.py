"""pyhf JSON workspaces (HistFactory): :mod:`.workspace` reads, checks and patches them,
:mod:`.convert` builds the model with HistFactory's semantics. pyhf itself is not used."""

from __future__ import annotations

from .convert import build_model
from .workspace import apply_patch, is_pyhf_workspace, load_patched, read_patchset, read_workspace

__all__ = ["apply_patch", "build_model", "is_pyhf_workspace", "load_patched", "read_patchset", "read_workspace"]
