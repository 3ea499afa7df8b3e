"""When and with what software a result was made: one clock and one version lookup for every
output (a run's HDF5 file, a sweep's file, a benchmark's report).

Only the standard library and NumPy: importing it costs nothing, and it never imports the
optional libraries whose versions it reports (it asks the installed distributions' metadata).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import platform
from collections.abc import Iterable
from importlib import metadata

#: Distributions whose versions matter to the numbers (reported when installed).
LIBRARIES: tuple[str, ...] = ("numpy", "numba", "llvmlite", "jax", "jaxlib", "h5py", "click",
                              "tqdm", "matplotlib")


def now_utc() -> str:
    """The time now, UTC, ISO 8601 to the second (``2026-11-26T13:40:05+00:00``)."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def library_versions(dists: Iterable[str] = LIBRARIES) -> dict[str, str]:
    """``{distribution: version}`` for those of ``dists`` that are installed."""
    out = {}
    for dist in dists:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


def file_versions(backend_name: str) -> dict[str, str]:
    """The version attributes of an output file (``numpy_version``, ``h5py_version``,
    ``hdf5_version``, the backend's libraries, ``python_version``, ``platform``...)."""
    import h5py

    from . import __version__, backends

    libs = library_versions(("numpy", "h5py", *backends.info(backend_name).requires))
    return {"grayscott_version": __version__,
            **{f"{dist}_version": version for dist, version in libs.items()},
            "hdf5_version": h5py.version.hdf5_version,
            "python_version": platform.python_version(), "platform": platform.platform()}
