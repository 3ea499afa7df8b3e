"""The school's HDF5 layout (docs/model.md §5), written one frame at a time.

* ``matrix``: V of every frame, ``(nbimage, nbrow, nbcol)``, chunks ``(1, nbrow, nbcol)``,
  float32 unless asked otherwise. Frame ``i`` is V after ``(i + 1) * nbextrastep`` steps.
* ``frame``, ``row``, ``col``: HDF5 dimension scales, so netCDF readers (xarray with h5netcdf)
  see labelled dimensions; ``step`` and ``time`` along ``frame`` are coordinates too.
* ``u_final``, ``v_final``: the last state in full precision, for a later restart.
* Provenance as attributes of the root group; ``completed`` (1/0) and ``status`` say whether the
  run ended normally. An incomplete run shrinks ``matrix`` to the frames actually written.

Nothing here changes the school's reading code: ``h5py.File(path)["matrix"][i]`` is frame ``i``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import GrayScottError
from .paths import check_writable_file

DATASET = "matrix"


def estimated_bytes(nbimage: int, shape: tuple[int, int], output_dtype: np.dtype,
                    state_dtype: np.dtype) -> int:
    nr, nc = shape
    return nbimage * nr * nc * output_dtype.itemsize + 2 * nr * nc * state_dtype.itemsize


def check_output_path(path: str | os.PathLike, overwrite: bool, needed_bytes: int = 0) -> Path:
    """Refuse, before anything is written, an output we could not or must not write, or one
    the free disk space cannot hold."""
    path = check_writable_file(path, "output", overwrite)
    if needed_bytes:
        parent = path.parent if str(path.parent) else Path(".")
        free = shutil.disk_usage(parent).free + (path.stat().st_size if path.exists() else 0)
        if needed_bytes > free:
            raise GrayScottError(
                f"output {str(path)!r} needs about {needed_bytes / 1e9:.2f} GB and only "
                f"{free / 1e9:.2f} GB are free; write fewer frames (-n) or elsewhere (-o)")
    return path


def _attr(value: Any) -> Any:
    """HDF5/netCDF-friendly attribute values (no None, no bools, no nested dicts)."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return np.int8(value)
    if isinstance(value, np.ndarray):
        return value.ravel()
    return value


class FrameWriter:
    """Create the file, write frames as they come, and close it whatever happens."""

    def __init__(self, path: str | os.PathLike, nbimage: int, nbextrastep: int, dt: float,
                 shape: tuple[int, int], output_dtype: np.dtype | str = "float32",
                 attrs: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        output_dtype = np.dtype(output_dtype)
        self.nbimage = nbimage
        self.frames_written = 0
        nr, nc = shape
        self.file = h5py.File(self.path, "w")
        f = self.file
        # Dimension scales first, so netCDF readers get labelled dimensions.
        for name, values in (("frame", np.arange(nbimage)), ("row", np.arange(nr)),
                             ("col", np.arange(nc))):
            ds = f.create_dataset(name, data=values, maxshape=(None,) if name == "frame" else None,
                                  chunks=True if name == "frame" else None)
            ds.make_scale(name)
        steps = (np.arange(nbimage) + 1) * nbextrastep
        self.coords = {
            "step": f.create_dataset("step", data=steps, maxshape=(None,), chunks=True),
            "time": f.create_dataset("time", data=steps * dt, maxshape=(None,), chunks=True),
        }
        self.coords["step"].attrs["long_name"] = "time steps done"
        self.coords["time"].attrs["long_name"] = "simulated time (steps * dt)"
        for ds in self.coords.values():
            ds.dims[0].attach_scale(f["frame"])
        self.matrix = f.create_dataset(
            DATASET, shape=(nbimage, nr, nc), dtype=output_dtype, chunks=(1, nr, nc),
            maxshape=(nbimage, nr, nc))
        self.matrix.attrs["long_name"] = "V concentration"
        self.matrix.attrs["coordinates"] = "step time"
        for axis, name in enumerate(("frame", "row", "col")):
            self.matrix.dims[axis].attach_scale(f[name])
        self.set_attrs(attrs or {})
        self.set_attrs({"completed": False, "status": "running", "frames_written": 0})
        f.flush()

    def set_attrs(self, attrs: dict[str, Any]) -> None:
        for key, value in attrs.items():
            self.file.attrs[key] = _attr(value)

    def write(self, v: np.ndarray) -> None:
        """Write the next frame (V)."""
        self.matrix[self.frames_written] = v
        self.frames_written += 1
        self.file.attrs["frames_written"] = self.frames_written

    def close(self, completed: bool, status: str, u: np.ndarray | None = None,
              v: np.ndarray | None = None, attrs: dict[str, Any] | None = None) -> None:
        """Record how the run ended, keep the final state, shrink to the frames written."""
        f = self.file
        try:
            if self.frames_written < self.nbimage:
                n = self.frames_written
                self.matrix.resize(n, axis=0)
                f["frame"].resize((n,))
                for ds in self.coords.values():
                    ds.resize((n,))
            if u is not None and v is not None:
                for name, x in (("u_final", u), ("v_final", v)):
                    if name in f:
                        del f[name]
                    ds = f.create_dataset(name, data=x)
                    ds.dims[0].attach_scale(f["row"])
                    ds.dims[1].attach_scale(f["col"])
                    ds.attrs["long_name"] = f"{name[0].upper()} after the last step done"
            self.set_attrs(attrs or {})
            self.set_attrs({"completed": completed, "status": status,
                            "frames_written": self.frames_written})
        finally:
            f.close()


def read_frames(path: str | os.PathLike) -> np.ndarray:
    """All frames of a file as one array (small files; use h5py slicing for big ones)."""
    with h5py.File(path, "r") as f:
        return f[DATASET][...]


def read_final_state(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(path, "r") as f:
        if "u_final" not in f:
            raise GrayScottError(f"{path} holds no final state (u_final, v_final)")
        return f["u_final"][...], f["v_final"][...]
