"""The run file's writer: :class:`RunFile`, the school's HDF5 layout (docs/model.md §5), written so
that a run killed at any moment leaves a file that plain h5py opens, with every frame it flushed
readable.

What is written in place, and what goes through a new file:

* In place, as raw data into space that exists since the file was made: a frame, the progress
  counters, the status, a checkpoint slot and the index naming it, the final state. Each is
  flushed before the counter that names it (a frame before ``frames_written``, a slot before
  ``checkpoint/index``).
* In place, as a metadata change, only at controlled moments, flushed before the next raw
  write: :meth:`RunFile.extend` (``resume --nbimage``), the resume log (before the resumed
  loop starts) and :meth:`RunFile.close` shrinking an incomplete run to its frames.
* Through a new file: a new run whose output already exists. It is written beside it
  (:func:`grayscott.io.paths.temporary_path`) and replaces it atomically (``os.replace``) once
  it holds its first frame (:class:`grayscott.observers.HDF5Writer`); until then the old file
  is untouched, and it stays so if the run ends without a frame. A new run whose output does
  not exist takes the name at once (there is nothing to protect). The sweep's file follows the
  same rule (:mod:`grayscott.sweep.hdf5`).

Layout (``h5py.File(path)["matrix"][i]`` is frame ``i``, as in the school):

* ``matrix``: V of every frame, ``(nbimage, nbrow, nbcol)``, chunks ``(1, nbrow, nbcol)``,
  float32 unless asked otherwise. Frame ``i`` is V after ``steps_before + (i + 1) * nbextrastep``
  steps. ``frame``, ``row``, ``col`` are HDF5 dimension scales (xarray with h5netcdf sees labelled
  dimensions); ``step`` and ``time`` along ``frame`` are coordinates.
* Progress, updated at every frame (datasets, not attributes): ``frames_written``,
  ``steps_done``, ``wall_seconds``, ``status`` ("running", "completed", "interrupted", "blew up",
  "disk full", "failed: ..."), ``final_state_saved``.
* ``checkpoint/u``, ``checkpoint/v``: two slots ``(2, nbrow, nbcol)`` of the state in the run's
  dtype, written in turn; ``checkpoint/index`` = ``[slot, frames, steps]`` names the last whole
  one: the state after ``steps`` steps, when ``frames`` frames were written. ``grayscott resume``
  starts there and is bit for bit the run that never stopped.
* ``u_final``, ``v_final``: the state after the last step, once the run ends with a whole,
  finite state (NaN until then).
* Provenance as attributes of the root group, written once when the file is made.

How it survives ``kill -9`` without HDF5's SWMR mode: every HDF5 structure (object headers, the
chunk index, the space of every chunk: ``H5D_ALLOC_TIME_EARLY``) is created and flushed before
the first frame, so a frame, the counters and the checkpoint are raw data written into space
that already exists; no metadata changes while frames are written, and a crash between two
writes leaves structures that are whole. The order of writes makes the counters honest: a frame
is flushed before ``frames_written`` counts it, a checkpoint slot before ``checkpoint/index``
names it. SWMR was measured and left out: a writer killed in SWMR mode leaves the superblock
marked "open for write", and plain ``h5py.File(path)`` then refuses the file until ``h5clear``
is run; the file written here opens with plain h5py during the run (the writer takes no HDF5
file lock) and after any crash, and ``h5py.File(path, "r", swmr=True)`` works too.

The space of the whole file is reserved (``posix_fallocate``) when it is made, so a disk that
fills up during the run cannot take a frame's space away; on file systems that cannot reserve,
a full disk ends the run with the frames so far kept (metadata is never touched then).
Metadata changes only at a controlled end (an incomplete run's ``matrix`` is shrunk to its
frames) and when ``resume`` extends a run.

Names, checks and the making of the file are in :mod:`grayscott.io.layout`, reading in
:mod:`grayscott.io.readers`. This module may not import the loop, the observers, the backends
or the views: the observers call it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .layout import (
    _PROGRESS,
    DATASET,
    LAYOUT_VERSION,
    STATUS_BYTES,
    _attr,
    _early_dataset,
    _reserve,
    durable_file,
    file_error,
)

__all__ = ["RunFile"]


class RunFile:
    """One run's HDF5 file, open for writing: frames, progress, checkpoints, the end.

    Build with :meth:`create` (a new run) or :meth:`open` (to resume); every method that writes
    puts raw data into space that exists, except :meth:`extend` and :meth:`close` (shrink).
    """

    def __init__(self, file: h5py.File, path: Path) -> None:
        self.file = file
        self.path = path
        self.matrix: h5py.Dataset = file[DATASET]
        # Handles kept: a name lookup per frame costs more than the write.
        self._progress = {name: file[name] for name in _PROGRESS if name in file}

    # -- making and opening --------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike, *, nbimage: int, nbextrastep: int, dt: float,
               shape: tuple[int, int], output_dtype: np.dtype | str = "float32",
               state_dtype: np.dtype | str = "float64", attrs: dict[str, Any] | None = None,
               steps_before: int = 0, name: str | os.PathLike | None = None) -> RunFile:
        """Make the file at ``path`` (``name``: the output it becomes, for messages)."""
        path = Path(path)
        display = Path(name or path)
        out_dtype, st_dtype = np.dtype(output_dtype), np.dtype(state_dtype)
        nr, nc = shape
        with durable_file(path, display) as f:
            for name, values in (("frame", np.arange(nbimage)), ("row", np.arange(nr)),
                                 ("col", np.arange(nc))):
                ds = _early_dataset(f, name, (len(values),), np.dtype("int64"),
                                    (4096,) if name == "frame" else None,
                                    (None,) if name == "frame" else None, fill=0)
                ds[...] = values
                ds.make_scale(name)
            for name, dtype, text in (("step", "int64", "time steps done"),
                                      ("time", "float64", "simulated time (steps * dt)")):
                ds = _early_dataset(f, name, (nbimage,), np.dtype(dtype), (4096,), (None,),
                                    fill=0)
                ds.attrs["long_name"] = text
                ds.dims[0].attach_scale(f["frame"])
            m = _early_dataset(f, DATASET, (nbimage, nr, nc), out_dtype, (1, nr, nc),
                               (None, nr, nc))
            m.attrs["long_name"] = "V concentration"
            m.attrs["coordinates"] = "step time"
            for axis, name in enumerate(("frame", "row", "col")):
                m.dims[axis].attach_scale(f[name])
            for name in ("u_final", "v_final"):
                ds = _early_dataset(f, name, (nr, nc), st_dtype, None, fill=np.nan)
                ds.dims[0].attach_scale(f["row"])
                ds.dims[1].attach_scale(f["col"])
                ds.attrs["long_name"] = (f"{name[0].upper()} after the last step, once the run "
                                         "ended with a whole, finite state (NaN before)")
            for name, dtype, value in (("frames_written", "int64", 0),
                                       ("steps_done", "int64", steps_before),
                                       ("wall_seconds", "float64", 0.0),
                                       ("final_state_saved", "int8", 0),
                                       ("status", f"S{STATUS_BYTES}", b"running")):
                # written, not a fill value (h5py garbles a string fill value)
                _early_dataset(f, name, (), np.dtype(dtype), None)[()] = value
            ck = f.create_group("checkpoint")
            ck.attrs["description"] = ("two slots of the state, written in turn; index = "
                                       "[slot, frames, steps] names the last whole one")
            for name in ("u", "v"):
                _early_dataset(ck, name, (2, nr, nc), st_dtype, None, fill=np.nan)
            idx = _early_dataset(ck, "index", (3,), np.dtype("int64"), None, fill=-1)
            idx.attrs["long_name"] = "slot, frames, steps of the last whole checkpoint"
            for key, value in {**(attrs or {}), "nbimage": nbimage, "nbextrastep": nbextrastep,
                               "steps_before": steps_before, "dt": dt,
                               "layout_version": LAYOUT_VERSION}.items():
                f.attrs[key] = _attr(value)
            run = cls(f, path)
            run._write_coords(0, nbimage, nbextrastep, dt, steps_before)
        return run

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunFile:
        path = Path(path)
        try:
            return cls(h5py.File(path, "r+", locking=False, rdcc_nbytes=0), path)
        except (OSError, RuntimeError) as exc:
            raise file_error(exc, path) from None

    def _write_coords(self, start: int, stop: int, nbextrastep: int, dt: float,
                      steps_before: int) -> None:
        i = np.arange(start, stop)
        steps = steps_before + (i + 1) * nbextrastep
        self.file["frame"][start:stop] = i
        self.file["step"][start:stop] = steps
        self.file["time"][start:stop] = steps * dt

    def extend(self, nbimage: int) -> None:
        """Grow the run to ``nbimage`` frames (resume --nbimage): a metadata change, flushed
        before any frame is written."""
        f = self.file
        old = self.matrix.shape[0]
        if nbimage == old:
            return
        for name in ("frame", "step", "time"):
            f[name].resize((nbimage,))
        self.matrix.resize(nbimage, axis=0)
        a = f.attrs
        if nbimage > old:
            self._write_coords(old, nbimage, int(a["nbextrastep"]), float(a["dt"]),
                               int(a.get("steps_before", 0)))
        a["nbimage"] = nbimage
        f.flush()
        _reserve(self.path)

    # -- what the observers write ----------------------------------------------------------

    def write_frame(self, index: int, v: np.ndarray) -> None:
        self.matrix[index] = v

    def commit(self, frames_written: int, steps_done: int, wall_seconds: float,
               flush: bool = True) -> None:
        """Count the frames written so far, after they are in the file (flushed first)."""
        f, p = self.file, self._progress
        if flush:
            f.flush()
        p["frames_written"][()] = frames_written
        p["steps_done"][()] = steps_done
        p["wall_seconds"][()] = wall_seconds
        if flush:
            f.flush()

    def write_checkpoint(self, u: np.ndarray, v: np.ndarray, frames: int, steps: int) -> None:
        """Write the state into the slot not in use, then (once it is in the file) name it."""
        ck = self.file["checkpoint"]
        active = int(ck["index"][0])
        slot = 1 - active if active in (0, 1) else 0
        ck["u"][slot] = u
        ck["v"][slot] = v
        self.file.flush()
        ck["index"][...] = np.array([slot, frames, steps], np.int64)  # one small write
        self.file.flush()

    def read_checkpoint(self) -> tuple[np.ndarray, np.ndarray, int, int] | None:
        """(u, v, frames, steps) of the last whole checkpoint, or None."""
        ck = self.file.get("checkpoint")
        if ck is None:
            return None
        slot, frames, steps = (int(x) for x in ck["index"][...])
        if slot not in (0, 1):
            return None
        return ck["u"][slot], ck["v"][slot], frames, steps

    def set_status(self, status: str) -> None:
        self.file["status"][()] = status.encode("utf-8", "replace")[:STATUS_BYTES]

    def write_final(self, u: np.ndarray, v: np.ndarray) -> None:
        self.file["u_final"][...] = u
        self.file["v_final"][...] = v
        self.file.flush()
        self.file["final_state_saved"][()] = 1

    def flush(self) -> None:
        self.file.flush()

    def close(self, shrink_to: int | None = None) -> None:
        """Close; with ``shrink_to``, first cut ``matrix`` and its coordinates to that many
        frames (an incomplete run, so the school's tools see only frames with data)."""
        f = self.file
        try:
            f.flush()
            if shrink_to is not None and shrink_to < self.matrix.shape[0]:
                self.matrix.resize(shrink_to, axis=0)
                for name in ("frame", "step", "time"):
                    f[name].resize((shrink_to,))
        finally:
            f.close()
