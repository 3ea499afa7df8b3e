"""One check for every file we are about to write (HDF5 output, video, reports): refuse early,
with one line, what could not or must not be written."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import GrayScottError


def check_writable_file(path: str | os.PathLike[str], what: str = "output",
                        overwrite: bool = False) -> Path:
    """``path`` as a Path, if a file can be written there; else a GrayScottError.

    ``what`` names the file in messages (``"output"``, ``"--json"``...). An existing file is
    refused unless ``overwrite``.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise GrayScottError(f"{what} {str(path)!r} is a directory; give a file name")
    if not parent.exists():
        raise GrayScottError(f"{what} directory {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise GrayScottError(f"{what}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise GrayScottError(f"{what} directory {str(parent)!r} is not writable")
    if path.exists() and not overwrite:
        raise GrayScottError(f"{what} {str(path)!r} exists; use --overwrite to replace it")
    if path.exists() and not os.access(path, os.W_OK):
        raise GrayScottError(f"{what} {str(path)!r} is not writable")
    return path


def format_duration(seconds: float) -> str:
    """A duration for people: '42 s', '17 min', '3.5 h', '2.1 days'."""
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
