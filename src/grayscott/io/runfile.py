"""The run file's writer: :class:`RunFile`, the school's HDF5 layout (docs/model.md §5), written so
that a run killed at any moment, or refused a write, leaves a file that plain h5py opens, with
every frame it counted readable (docs/crash-safety.md).

The rule: **no change of structure in place on a file that holds data.** HDF5 keeps no
journal: a change of a file's structure or attributes in place (a dataset resized, an attribute
added) is several writes, and a process that dies among them leaves a file HDF5 cannot open.
So, per path:

* Everything the run will write is allocated when the file is made, before it holds data
  (:func:`grayscott.io.layout.durable_file`): the frames' chunks, the counters, the status,
  two checkpoint slots, the final state, the resume log's lines. From then on every write is
  raw data into space that exists (``pwrite`` into a place HDF5 already knows): a frame, the
  progress counters, the status, a checkpoint slot and the index naming it, the final state,
  a resume log line (:meth:`RunFile.log_resume`). No metadata changes while the file holds
  data; a write cut short by a kill changes the bytes of one value, never a structure.
* A new run writes beside its output (:func:`grayscott.io.paths.temporary_path`) when the
  output exists, and replaces it atomically (``os.replace``) once it holds its first frame
  (:class:`grayscott.observers.HDF5Writer`); a new name is taken at once (nothing to lose).
* A stop (SIGINT, SIGTERM, a blow-up, a full disk) changes no structure: ``matrix`` keeps
  its planned length, ``frames_written`` says how many frames hold data (the rest read as
  zeros). Cutting ``matrix`` to its frames was a resize in place, the stop's risk.
* ``resume`` to the planned number of frames writes in place (the room exists). A resume to
  another number of frames, or of a file of an older layout (no resume log lines), makes its
  room first, before it writes anything: a new file beside the old one, with the new length,
  the frames written so far copied chunk by chunk (no decoding), the checkpoint, the counters
  and the attributes, flushed and then renamed over the old one
  (:func:`grayscott.io.remake.remade`). The old file is only read. Its cost is a copy of the
  frames written (BENCHMARKS.md, "Crash safety at every write"); a resume to the same length,
  the usual one after a kill, copies nothing.

The order of writes is the contract: a frame, then ``frames_written`` counting it; a checkpoint
slot, then ``checkpoint/index`` naming it; the final state, then ``final_state_saved``, then
the status "completed". With ``fsync`` each step is also forced to the disk (``os.fsync``)
before the next, and a rename is made durable in its folder: then the order holds after a lost
node or a power cut too, not only after a killed process (whose writes the kernel keeps).

A write the system refuses (ENOSPC, EIO) is the last one: the file is abandoned
(:func:`grayscott.io.layout.abandon`: HDF5 writes to memory from then on, so it closes
cleanly) and stays as the refused write found it, which is a state a kill could leave.

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
* ``resume_log``: ``LOG_LINES`` lines of text, one per resume ("" where none yet).
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
a full disk ends the run with the frames so far kept.

Names, checks and the making of the file are in :mod:`grayscott.io.layout`, reading in
:mod:`grayscott.io.readers`. This module may not import the loop, the observers, the backends
or the views: the observers call it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import GrayScottError
from .layout import (
    _PROGRESS,
    DATASET,
    LAYOUT_VERSION,
    LOG_BYTES,
    LOG_LINES,
    STATUS_BYTES,
    _attr,
    _early_dataset,
    abandon,
    close_durably,
    close_quietly,
    durable_file,
    file_error,
    open_h5,
)
from .parts import make_matrix

__all__ = ["RunFile"]


#: Datasets a resume writes into, besides the progress counters.
_WRITTEN = (DATASET, "u_final", "v_final", "checkpoint/u", "checkpoint/v", "checkpoint/index",
            "resume_log")


class RunFile:
    """One run's HDF5 file, open for writing: frames, progress, checkpoints, the end.

    Build with :meth:`create` (a new run) or :meth:`open` (to resume); every method that writes
    puts raw data into space that exists. The first write the system refuses abandons the file
    (:meth:`abandon`): the error is raised, and from then on every write is skipped and
    :meth:`close` is safe. ``fsync``: force each step of the order of writes to the disk.
    """

    def __init__(self, file: h5py.File, path: Path, fsync: bool = False) -> None:
        self.file = file
        self.path = path
        self.fsync = fsync
        self.abandoned = False
        self.matrix: h5py.Dataset = file[DATASET]
        #: ``matrix`` maps part files that the ranks write (:mod:`grayscott.io.parts`).
        self.virtual = self.matrix.is_virtual
        # Handles kept: a name lookup per frame costs more than the write.
        self._progress = {name: file[name] for name in _PROGRESS if name in file}
        # Where frames_written's 8 bytes and the status's are: once the file is abandoned
        # (HDF5 may not be asked any more), what it counts is read there, and how it ended is
        # written there beside HDF5, after it closed (one pwrite over bytes that exist).
        self._counter_at, self._status_at = (
            self._progress[name].id.get_offset() if name in self._progress else None
            for name in ("frames_written", "status"))
        self._late_status: bytes | None = None

    # -- making and opening --------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike, *, nbimage: int, nbextrastep: int, dt: float,
               shape: tuple[int, int], output_dtype: np.dtype | str = "float32",
               state_dtype: np.dtype | str = "float64", attrs: dict[str, Any] | None = None,
               steps_before: int = 0, name: str | os.PathLike | None = None,
               fsync: bool = False, parts: list[dict[str, Any]] | None = None) -> RunFile:
        """Make the file at ``path`` (``name``: the output it becomes, for messages).
        ``parts``: the frames are in these sessions of part files (the ranks write them,
        :mod:`grayscott.io.parts`) and ``matrix`` maps them."""
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
            if parts:
                make_matrix(f, shape, nbimage, out_dtype, parts)
            else:
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
            log = _early_dataset(f, "resume_log", (LOG_LINES,), np.dtype(f"S{LOG_BYTES}"), None)
            log[...] = np.zeros(LOG_LINES, f"S{LOG_BYTES}")
            log.attrs["long_name"] = "one line per resume (empty where none yet)"
            for key, value in {**(attrs or {}), "nbimage": nbimage, "nbextrastep": nbextrastep,
                               "steps_before": steps_before, "dt": dt,
                               "layout_version": LAYOUT_VERSION}.items():
                f.attrs[key] = _attr(value)
            run = cls(f, path, fsync)
            run._write_coords(0, nbimage, nbextrastep, dt, steps_before)
        try:
            run._sync()  # with fsync: the file made, on the disk, before it is named
        except (OSError, RuntimeError, ValueError) as exc:  # abandoned by now
            close_quietly(f)
            path.unlink(missing_ok=True)
            raise file_error(exc, display) from None
        return run

    @classmethod
    def open(cls, path: str | os.PathLike, fsync: bool = False) -> RunFile:
        path = Path(path)
        try:
            f = open_h5(path, "r+")
        except (OSError, RuntimeError) as exc:
            raise file_error(exc, path) from None
        # Every dataset written in place must be there (a file cut down is not resumed from
        # its defaults: the write would fail halfway through the run).
        missing = [name for name in (*_PROGRESS, *_WRITTEN) if not isinstance(
            f.get(name), h5py.Dataset)]
        shape = f[DATASET].shape[1:] if not missing else ()
        missing += [name for name in ("u_final", "v_final") if not missing
                    and f[name].shape != shape]
        if missing:
            f.close()
            raise GrayScottError(f"{str(path)!r} is a damaged grayscott run file: "
                                 f"{missing[0]!r} is missing or not of the grid's shape")
        try:
            return cls(f, path, fsync)
        except (KeyError, OSError, RuntimeError, ValueError) as exc:
            f.close()
            raise file_error(exc, path) from None

    def _write_coords(self, start: int, stop: int, nbextrastep: int, dt: float,
                      steps_before: int) -> None:
        i = np.arange(start, stop)
        steps = steps_before + (i + 1) * nbextrastep
        self.file["frame"][start:stop] = i
        self.file["step"][start:stop] = steps
        self.file["time"][start:stop] = steps * dt

    # -- every write goes through here ----------------------------------------------------

    @contextlib.contextmanager
    def _writing(self):
        """Around the writes of one step: skipped once abandoned (the body is not run: use
        :meth:`_write`), and the first refused write abandons the file and is raised."""
        try:
            yield
        except (OSError, RuntimeError, ValueError):
            self.abandon()
            raise

    def _write(self, fn: Any) -> None:
        if self.abandoned:
            return
        with self._writing():
            fn()

    def abandon(self) -> None:
        """No more writes to this file through HDF5 (:func:`~grayscott.io.layout.abandon`)."""
        if not self.abandoned:
            self.abandoned = True
            abandon(self.file)

    def _sync(self) -> None:
        """Flush HDF5's writes (and with ``fsync``, force them to the disk) before the next
        step of the order of writes."""
        def sync() -> None:
            self.file.flush()
            if self.fsync:
                os.fsync(self.file.id.get_vfd_handle())

        self._write(sync)

    def counted(self) -> int | None:
        """``frames_written`` as the file on disk holds it now (read beside HDF5)."""
        if self._counter_at is None:
            return None
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return None
        try:
            raw = os.pread(fd, 8, self._counter_at)
        finally:
            os.close(fd)
        return int(np.frombuffer(raw, "<i8")[0]) if len(raw) == 8 else None

    # -- what the observers write ----------------------------------------------------------

    def write_frame(self, index: int, v: np.ndarray) -> None:
        if self.virtual:  # HDF5 would drop the write silently: the ranks write the parts
            raise GrayScottError(f"{str(self.path)!r} maps its frames to part files; they are "
                                 "written by the ranks, not through the run file")
        def write() -> None:
            self.matrix[index] = v

        self._write(write)

    def commit(self, frames_written: int, steps_done: int, wall_seconds: float,
               flush: bool = True) -> None:
        """Count the frames written so far, after they are in the file (flushed first); the
        counter is the last write, so the file never counts a frame it does not hold."""
        p = self._progress
        if flush:
            self._sync()

        def write() -> None:
            p["steps_done"][()] = steps_done
            p["wall_seconds"][()] = wall_seconds
            p["frames_written"][()] = frames_written

        self._write(write)
        if flush:
            self._sync()

    def write_checkpoint(self, u: np.ndarray, v: np.ndarray, frames: int, steps: int) -> None:
        """Write the state into the slot not in use, then (once it is in the file) name it."""
        if self.abandoned:
            return
        ck = self.file["checkpoint"]
        active = int(ck["index"][0])
        slot = 1 - active if active in (0, 1) else 0

        def state() -> None:
            ck["u"][slot] = u
            ck["v"][slot] = v

        def index() -> None:
            ck["index"][...] = np.array([slot, frames, steps], np.int64)  # one small write

        self._write(state)
        self._sync()
        self._write(index)
        self._sync()

    def read_checkpoint(self) -> tuple[np.ndarray, np.ndarray, int, int] | None:
        """(u, v, frames, steps) of the last whole checkpoint, or None."""
        from .readers import checkpoint_index

        index = checkpoint_index(self.file)
        if index is None:
            return None
        slot, frames, steps = index
        ck = self.file["checkpoint"]
        return ck["u"][slot], ck["v"][slot], frames, steps

    def set_status(self, status: str) -> None:
        """The status; once abandoned, kept to be written beside HDF5 at :meth:`close`."""
        if self.abandoned:
            self._late_status = status.encode("utf-8", "replace")[:STATUS_BYTES]
            return

        def write() -> None:
            self._progress["status"][()] = status.encode("utf-8", "replace")[:STATUS_BYTES]

        self._write(write)
        self._sync()

    def write_final(self, u: np.ndarray, v: np.ndarray) -> None:
        """The final state, then (once it is in the file) the flag that says it is there."""
        def state() -> None:
            self.file["u_final"][...] = u
            self.file["v_final"][...] = v

        def flag() -> None:
            self._progress["final_state_saved"][()] = 1

        self._write(state)
        self._sync()
        self._write(flag)
        self._sync()

    def log_resume(self, line: str) -> None:
        """Write ``line`` into the resume log's first empty line (the last once all are
        taken): one raw write into a line that exists."""
        if self.abandoned:
            return
        log = self.file["resume_log"]
        lines = log[...]
        empty = [i for i, x in enumerate(lines) if not x]
        i = empty[0] if empty else len(lines) - 1

        def write() -> None:
            log[i] = line.encode("utf-8", "replace")[:LOG_BYTES]

        self._write(write)
        self._sync()

    def flush(self) -> None:
        self._sync()

    def close(self) -> None:
        """Close (the structure is as it was made: nothing to cut, nothing to grow). A refused
        last write is raised, once the file is closed."""
        try:
            if not self.abandoned:
                self._sync()
                close_durably(self.file, self.path, self.fsync)
        except (OSError, RuntimeError, ValueError):
            self.abandon()
            raise
        finally:
            if self.abandoned:
                close_quietly(self.file)
                self._write_status_beside()

    def _write_status_beside(self) -> None:
        """The status asked after the file was abandoned, with one ``pwrite`` over its own
        bytes (no new space: a full disk takes it; an I/O error leaves "running")."""
        if self._late_status is None or self._status_at is None:
            return
        with contextlib.suppress(OSError):
            fd = os.open(self.path, os.O_WRONLY)
            try:
                os.pwrite(fd, self._late_status.ljust(STATUS_BYTES, b"\0"), self._status_at)
            finally:
                os.close(fd)
