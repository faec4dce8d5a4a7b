"""Reading a run's input as ``combine`` does: a datacard or a workspace file, built into a model.

Combine runs text2workspace.py on a text card before the method (``--text2workspace "..."``
passes it options, e.g. ``-P``/``--PO`` for a physics model) and reads ``.root`` inputs as
workspaces. :func:`load` does the same: a text card is parsed and built; a ``.root`` file must be
a pycombine workspace (:mod:`.workspace`, written by pycombine's ``text2workspace.py`` or by
``--saveWorkspace``), whose model is rebuilt from the stored card text, templates and physics
setup. A RooWorkspace of Combine's own text2workspace.py is refused with a message saying how to
make ours. A ``.json`` input is a pyhf workspace (HistFactory semantics, :mod:`pycombine.interop.pyhf`),
patched by ``--patch`` files and ``--patchset``/``--patch-name``, unless its content marks it as a
simplified likelihood (:mod:`pycombine.interop.simplified`, written by ``pycombine simplify``).
``--snapshotName`` picks a snapshot of the workspace; the session applies it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import OptionError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..datacard import Datacard
    from ..model.spec import ModelSpec
    from .options import RunOptions


def is_pyhf_path(path: str) -> bool:
    """Whether combine reads ``path`` as a pyhf JSON workspace (the name ends with ``.json``)."""
    return str(path).endswith(".json")


def load_pyhf(path: str, opts: "RunOptions") -> tuple["Datacard", "ModelSpec"]:
    """A pyhf workspace with its patches applied, as a model with HistFactory's semantics; or a
    simplified likelihood (recognised by its content, :func:`~pycombine.interop.simplified.is_simplified`)."""
    from ..datacard import Datacard
    from ..interop.nsbi import is_nsbi_workspace
    from ..interop.simplified import is_simplified

    if is_nsbi_workspace(path):  # the NSBI toolkit's workspaces: per-event channels (docs/UNBINNED.md)
        from ..interop.nsbi import build_model as build_nsbi

        return Datacard(path=path), build_nsbi(path, float(opts.mass))
    if is_simplified(path):
        from ..interop.simplified import build_model as build_sl
        from ..interop.simplified import read as read_sl

        pyhf_only = [o for o, v in (("--patch", getattr(opts, "patch", ())), ("--patchset", getattr(opts, "patchset", "")),
                                    ("--measurement", getattr(opts, "measurement", ""))) if v]
        if pyhf_only:
            raise OptionError(f"{pyhf_only[0]}: only for pyhf JSON workspaces, {path} is a simplified likelihood")
        return Datacard(path=path), build_sl(read_sl(path), path, float(opts.mass))
    from ..interop.pyhf import build_model, load_patched

    ws = load_patched(path, tuple(getattr(opts, "patch", ()) or ()), getattr(opts, "patchset", "") or "",
                      getattr(opts, "patch_name", "") or "")
    spec = build_model(ws, path, getattr(opts, "measurement", "") or "", getattr(opts, "normsys_interpcode", "code4"),
                       getattr(opts, "histosys_interpcode", "code4p"), float(opts.mass))
    return Datacard(path=path), spec


def is_workspace_path(path: str) -> bool:
    """Whether combine reads ``path`` as a workspace file (Combine: the name ends with ``.root``)."""
    return str(path).endswith(".root")


def load(path: str, opts: "RunOptions") -> tuple["Datacard", "ModelSpec"]:
    """Parse and build a datacard, or rebuild the model of a workspace file: (Datacard, ModelSpec).

    Sets ``opts.loaded_snapshot`` (the ``--snapshotName`` snapshot, or None) and, with
    ``--saveWorkspace``, ``opts.loaded_workspace`` (what that option writes).
    """
    import sys

    from ..model.build_numeric import mass_string
    from .workspace import build_from_workspace, build_text_card, read_workspace, t2w_settings_for_combine

    snapshot_name = getattr(opts, "snapshot_name", "") or ""
    # what --saveWorkspace writes (MultiDimFit without toys writes it; kept only then, toy jobs copy opts)
    save = bool(getattr(opts, "save_workspace", False)) and int(getattr(opts, "toys", 0) or 0) <= 0
    opts.loaded_snapshot = None
    opts.loaded_workspace = None
    if is_pyhf_path(path):
        if snapshot_name:
            raise OptionError(f"--snapshotName {snapshot_name}: a pyhf workspace has no snapshots")
        return load_pyhf(path, opts)
    pyhf_only = [o for o, v in (("--patch", getattr(opts, "patch", ())), ("--patchset", getattr(opts, "patchset", "")),
                                ("--measurement", getattr(opts, "measurement", ""))) if v]
    if pyhf_only:
        raise OptionError(f"{pyhf_only[0]}: only for pyhf JSON workspaces (an input ending in .json), not {path}")
    if is_workspace_path(path):
        ws = read_workspace(path, getattr(opts, "workspace_name", "w") or "w")
        card, spec = build_from_workspace(ws)
        if "MH" in spec.constants:  # Combine sets MH to -m when it loads a workspace
            spec.constants["MH"] = float(opts.mass)
        if snapshot_name:
            snap = ws.snapshots.get(snapshot_name)
            if snap is None:
                have = ", ".join(sorted(ws.snapshots)) or "none"
                raise OptionError(f"--snapshotName {snapshot_name}: no such snapshot in workspace "
                                  f"'{getattr(opts, 'workspace_name', 'w') or 'w'}' of {path} (snapshots: {have})")
            opts.loaded_snapshot = snap
        if save:
            opts.loaded_workspace = ws
        return card, spec
    if snapshot_name:
        raise OptionError(f"--snapshotName {snapshot_name}: a text datacard has no snapshots; they are stored in "
                          f"workspace files (combine -M MultiDimFit --saveWorkspace writes one)")
    mass = float(opts.mass)
    settings = t2w_settings_for_combine(getattr(opts, "text2workspace", ""), float("%f" % mass), mass_string(mass),
                                        getattr(opts, "keyword_value", ()), opts.data_map_name)
    card, spec, ws = build_text_card(path, settings, warn=lambda m: sys.stderr.write(m + "\n"), keep=save)
    opts.loaded_workspace = ws
    return card, spec
