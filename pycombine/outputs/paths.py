"""Can an output file be written there? Checked before any computation.

A combine job that runs for an hour and then cannot write its result (a ``-n`` with a ``/``, a
directory that does not exist, a read-only working directory, a name longer than the file system
allows, a directory already named like the output file) has wasted the hour. The writers of this
package write to a hidden temporary file beside the final one and rename it
(:class:`~pycombine.outputs.root.file.RootFileWriter`), so the check covers that temporary name
too: its directory must exist and accept a new file, and both names must fit the file system.
"""

from __future__ import annotations

import os

from ..errors import OutputPathError

#: what the atomic writers add to a file name for their temporary file: '.' + name + '.tmp' + 8 hex
TMP_OVERHEAD = 1 + 4 + 8


def _name_max(directory: str) -> int:
    try:
        return int(os.pathconf(directory, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def check_output_path(path: str, what: str = "output file") -> None:
    """Raise :class:`~pycombine.errors.OutputPathError` (one line, naming ``path`` and ``what`` it
    is) if ``path`` cannot be written; creates and removes a probe file in its directory."""
    directory = os.path.dirname(path) or "."
    base = os.path.basename(path)
    if not base:
        raise OutputPathError(f"{what} {path!r}: the name ends with '/', it names no file")
    if not os.path.isdir(directory):
        raise OutputPathError(f"cannot write the {what} {path}: the directory {directory!r} does not exist")
    limit = _name_max(directory)
    if len(os.fsencode(base)) + TMP_OVERHEAD > limit:
        raise OutputPathError(f"cannot write the {what}: its name is {len(os.fsencode(base))} bytes long, the file "
                              f"system allows {limit} (with the temporary name, at most {limit - TMP_OVERHEAD}): "
                              f"{base[:40]}...")
    if os.path.isdir(path):
        raise OutputPathError(f"cannot write the {what} {path}: a directory of that name exists")
    probe = os.path.join(directory, f".pycombine-write-test-{os.urandom(4).hex()}")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        where = "the current directory" if directory == "." else f"the directory {directory!r}"
        raise OutputPathError(f"cannot write the {what} {path}: {where} does not accept new files "
                              f"({exc.strerror or exc})") from None
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:  # pragma: no cover - the probe disappears with the directory's own clean-up
        pass
