"""``sweep.h5``: the final V of every member of an (F, k) sweep, with its coordinates.

* ``v``: float32 (or the run's dtype), shape ``(N, M, nbrow, nbcol)``, chunks
  ``(1, 1, nbrow, nbcol)``: ``v[i, j]`` is V after ``steps`` steps with ``F = feed[i]``,
  ``k = kill[j]``.
* ``feed`` (N), ``kill`` (M), ``row``, ``col``: HDF5 dimension scales of ``v``'s four axes, so
  netCDF readers (xarray with h5netcdf) see labelled dimensions.
* The provenance as attributes of the root group, as ``grayscott run`` writes them (every
  shared rate, steps, grid, stencil, border, initial state, backend, versions, times), with
  ``completed`` (1/0) and ``status``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..io.hdf5 import _attr

DATASET = "v"


class SweepWriter:
    """Create the file with every coordinate, write members as their piece ends, close."""

    def __init__(self, path: str | os.PathLike, feed: np.ndarray, kill: np.ndarray,
                 shape: tuple[int, int], dtype: np.dtype, attrs: dict[str, Any]) -> None:
        self.path = Path(path)
        self.file = f = h5py.File(self.path, "w")
        nr, nc = shape
        for name, values, long_name in (("feed", feed, "feed rate F"),
                                        ("kill", kill, "kill rate k"),
                                        ("row", np.arange(nr), "grid row"),
                                        ("col", np.arange(nc), "grid column")):
            ds = f.create_dataset(name, data=np.asarray(values))
            ds.make_scale(name)
            ds.attrs["long_name"] = long_name
        self.v = f.create_dataset(DATASET, shape=(len(feed), len(kill), nr, nc), dtype=dtype,
                                  chunks=(1, 1, nr, nc), fillvalue=np.nan)
        self.v.attrs["long_name"] = "V after the last step"
        for axis, name in enumerate(("feed", "kill", "row", "col")):
            self.v.dims[axis].attach_scale(f[name])
        self.set_attrs({**attrs, "completed": False, "status": "running"})
        f.flush()

    def set_attrs(self, attrs: dict[str, Any]) -> None:
        for key, value in attrs.items():
            self.file.attrs[key] = _attr(value)

    def write(self, i: int, j: int, v: np.ndarray) -> None:
        self.v[i, j] = v

    def close(self, completed: bool, status: str, attrs: dict[str, Any] | None = None) -> None:
        try:
            self.set_attrs({**(attrs or {}), "completed": completed, "status": status})
        finally:
            self.file.close()


def read_sweep(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                   dict[str, Any]]:
    """(v, feed, kill, attrs) of a sweep file."""
    with h5py.File(path, "r") as f:
        return f[DATASET][...], f["feed"][...], f["kill"][...], dict(f.attrs)
