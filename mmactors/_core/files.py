"""Output files: checked before a run starts, written atomically after it.

A result must never be lost after the work is done: every output path
(``--json``, ``--trace``) is checked before the simulation runs (its folder
exists, it is not a folder, it can be written), and every file is written to
a temporary file in the same folder and renamed into place, so a crash or an
interrupt never leaves half a file.
"""
from __future__ import annotations

import os
import tempfile

__all__ = ["OutputError", "check_output_path", "atomic_write"]


class OutputError(ValueError):
    """An output path that cannot be written: one line, exit status 2."""


def check_output_path(path: str, option: str) -> None:
    """Raise OutputError naming ``option`` if ``path`` cannot be written
    ("-" means standard output and is always fine)."""
    if path == "-":
        return
    if not path:
        raise OutputError(f"{option}: empty path")
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise OutputError(f"{option} {path}: is a directory")
    if not os.path.isdir(folder):
        raise OutputError(f"{option} {path}: no such directory {folder}")
    if os.path.exists(path):
        if not os.access(path, os.W_OK):
            raise OutputError(f"{option} {path}: not writable")
    elif not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {path}: directory {folder} is not writable")


def atomic_write(path: str, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a temporary file renamed into place."""
    if isinstance(data, str):
        data = data.encode()
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".mmactors-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if os.path.exists(path):
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
