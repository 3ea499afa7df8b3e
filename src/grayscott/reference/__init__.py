"""The shipped reference runs and the comparisons against them.

Owns the manifests of reference runs (each frame's SHA-256 and statistics, package data under
``data/``), the small full reference file, and ``grayscott verify``. Reads run files through
:mod:`grayscott.io`; imports no backend (the manifests are made by scripts/make_reference.py).
"""

from .manifest import Manifest, config_of, digest, find, load_all, stats
from .verify import Verification, verify_file

__all__ = ["Manifest", "Verification", "config_of", "digest", "find", "load_all", "stats",
           "verify_file"]
