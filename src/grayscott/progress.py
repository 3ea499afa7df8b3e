"""The one progress bar of the package (tqdm, on stderr, only on a terminal)."""

from __future__ import annotations

import sys
from typing import Any


def progress_bar(total: int, enabled: bool = True, unit: str = "frame", desc: str | None = None,
                 leave: bool = True) -> Any:
    """A tqdm bar with rate and ETA, or None when disabled or stderr is not a terminal."""
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=desc, dynamic_ncols=True, file=sys.stderr,
                leave=leave)
