"""A small on-disk cache for what a backend measured about this machine (``numba-blocked``'s k).

One JSON file, ``tuning.json``, in ``$GRAYSCOTT_CACHE_DIR``, else ``$XDG_CACHE_HOME/grayscott``,
else ``~/.cache/grayscott``. Entries are keyed by a string that names everything the measurement
depends on (CPU model, threads, grid width, dtype...). The cache only ever saves time: a file
that is missing, unreadable, corrupt or not writable is ignored, and the measurement is redone.
Writes go to a temporary file beside it, then ``os.replace``, so a reader never sees half a file.

``GRAYSCOTT_AUTOTUNE=0`` (or ``off``, ``false``, ``no``) turns measuring off: backends then use
their model's choice and never touch the cache.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

FILENAME = "tuning.json"
#: Bump when the stored measurements stop being comparable (a kernel change that moves rates).
VERSION = 1


def enabled() -> bool:
    """False when ``GRAYSCOTT_AUTOTUNE`` says off."""
    value = os.environ.get("GRAYSCOTT_AUTOTUNE", "1").strip().lower()
    return value not in ("0", "off", "false", "no")


def cache_dir() -> Path:
    if os.environ.get("GRAYSCOTT_CACHE_DIR"):
        return Path(os.environ["GRAYSCOTT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "grayscott"


def cache_path() -> Path:
    return cache_dir() / FILENAME


def _read() -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(cache_path().read_text())
        if isinstance(data, dict) and data.get("version") == VERSION:
            entries = data.get("entries")
            if isinstance(entries, dict):
                return entries
    return {}


def load(key: str) -> dict[str, Any] | None:
    """The entry stored under ``key``, or None."""
    entry = _read().get(key)
    return entry if isinstance(entry, dict) else None


def store(key: str, entry: dict[str, Any]) -> bool:
    """Save ``entry`` under ``key`` (other keys kept); False if the cache cannot be written."""
    path = cache_path()
    entries = _read()
    entries[key] = entry
    text = json.dumps({"version": VERSION, "entries": entries}, indent=1, sort_keys=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{FILENAME}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        return False
    return True
