"""``sweep.h5``: the final V of every member of an (F, k) sweep, with its coordinates, written so
that a sweep stopped or killed at any moment leaves a file that plain h5py opens, with every
member it counted readable.

* ``v``: float32 (or the run's dtype), shape ``(N, M, nbrow, nbcol)``, chunks
  ``(1, 1, nbrow, nbcol)``: ``v[i, j]`` is V after ``steps`` steps with ``F = feed[i]``,
  ``k = kill[j]``, once ``done[i, j]`` is 1 (NaN before; :func:`read_sweep` gives NaN for
  every member ``done`` does not count).
* ``feed`` (N), ``kill`` (M), ``row``, ``col``: HDF5 dimension scales of ``v``'s four axes, so
  netCDF readers (xarray with h5netcdf) see labelled dimensions.
* ``frames`` (with ``--frames T``): shape ``(N, M, T, nbrow, nbcol)``, chunks
  ``(1, 1, 1, nbrow, nbcol)``: ``frames[i, j, t]`` is V after ``step[t]`` steps, ``step``
  (T) being its third dimension scale (``steps / T`` apart; the last frame is ``v``).
* Descriptors of each member (:mod:`.descriptors`), shape ``(N, M)``: ``spots`` (int32, -1 not
  yet written), ``coverage`` (float64), ``class`` (int8 codes, -1 not yet written; the labels
  are its attribute ``labels``, comma-separated, code 0 first) and ``change`` (float64, the
  largest |V| difference between the last two frames; NaN with fewer than two frames).
* Progress (datasets, updated after every piece): ``done`` (N, M) int8, 1 for a member that
  is in the file; ``members_written``; ``wall_seconds``; ``status`` ("running", "completed",
  "stopped" (SIGINT/SIGTERM, after a piece), "interrupted", "disk full", "failed: ...").
* The provenance as attributes of the root group, as ``grayscott run`` writes them (every
  shared rate, steps, grid, stencil, border, initial state, backend, versions, times), with
  ``completed`` (1/0) and ``status`` set again when the sweep ends under control.

Durable as the run's file is (:mod:`grayscott.io.runfile`): every structure is allocated
(``H5D_ALLOC_TIME_EARLY``), flushed and its space reserved before the first member, so a
member and the counters are raw data written into space that exists; a piece's members are
flushed before ``done`` and ``members_written`` count them.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import DiskFullError
from ..io.layout import (
    _OVERHEAD_FIXED,
    _OVERHEAD_PER_FRAME,
    STATUS_BYTES,
    _attr,
    _early_dataset,
    abandon,
    close_durably,
    close_quietly,
    durable_file,
    fsync_folder,
    write_refused,
)
from . import descriptors

DATASET = "v"
FRAMES = "frames"
#: Progress and end values: name, dtype, value when the file is made.
_PROGRESS = (("members_written", "int64", 0), ("wall_seconds", "float64", 0.0),
             ("status", f"S{STATUS_BYTES}", b"running"), ("completed", "int8", 0),
             ("finished", "S40", b""), ("compile_seconds", "float64", 0.0),
             ("strategy", "S40", b""), ("nonfinite_members", "int64", 0))


def estimated_bytes(n: int, m: int, shape: tuple[int, int], dtype: np.dtype,
                    frames: int = 0) -> int:
    """Bytes of the file of an ``n`` x ``m`` sweep: members (and their ``frames``),
    coordinates, descriptors, HDF5's overhead (a member's chunk entry as a run's frame)."""
    nr, nc = shape
    members = n * m
    return (members * (1 + frames) * (nr * nc * np.dtype(dtype).itemsize + _OVERHEAD_PER_FRAME)
            + members * (1 + 4 + 8 + 1 + 8) + 8 * (n + m + nr + nc + frames) + _OVERHEAD_FIXED)


class SweepWriter:
    """Create the file with every structure, write members a piece at a time, close.

    ``path``: where the file is made. ``publish_to``: the output it replaces (atomically, by
    ``os.replace``) once it holds its first piece; until then the old output is untouched, and
    a sweep that ends with no member leaves it so and removes its own file.
    """

    def __init__(self, path: str | os.PathLike, feed: np.ndarray, kill: np.ndarray,
                 shape: tuple[int, int], dtype: np.dtype, attrs: dict[str, Any],
                 publish_to: Path | None = None, fsync: bool = False,
                 frame_steps: np.ndarray | None = None) -> None:
        self.path = Path(path)
        self.publish_to = publish_to
        self.members_written = 0
        self.disk_full = False
        nr, nc = shape
        n, m = len(feed), len(kill)
        with durable_file(self.path, publish_to or self.path) as f:
            for name, values, long_name in (("feed", feed, "feed rate F"),
                                            ("kill", kill, "kill rate k"),
                                            ("row", np.arange(nr), "grid row"),
                                            ("col", np.arange(nc), "grid column")):
                ds = f.create_dataset(name, data=np.asarray(values), track_times=False)
                ds.make_scale(name)
                ds.attrs["long_name"] = long_name
            # NaN written now (0.1 s for 262 MB measured): a member never finished reads NaN
            # with plain h5py too, not zeros that look like a pattern that died out.
            v = _early_dataset(f, DATASET, (n, m, nr, nc), np.dtype(dtype), (1, 1, nr, nc),
                               fill=np.nan)
            v.attrs["long_name"] = "V after the last step (NaN where done is 0)"
            for axis, name in enumerate(("feed", "kill", "row", "col")):
                v.dims[axis].attach_scale(f[name])
            if frame_steps is not None:
                _frames_dataset(f, n, m, shape, dtype, frame_steps)
            done = _early_dataset(f, "done", (n, m), np.dtype("int8"), None, fill=0)
            done.attrs["long_name"] = "1 where the member is in the file"
            _descriptor_datasets(f, n, m)
            for name in ("done", *descriptors.NAMES):
                for axis, scale in enumerate(("feed", "kill")):
                    f[name].dims[axis].attach_scale(f[scale])
            for name, dtype_, value in _PROGRESS:
                _early_dataset(f, name, (), np.dtype(dtype_), None)[()] = value
            for key, value in attrs.items():
                f.attrs[key] = _attr(value)
        self.file = f
        self.fsync = fsync
        self.abandoned = False
        self.v, self.done = f[DATASET], f["done"]
        self.frames = f.get(FRAMES)
        self.descriptors = {name: f[name] for name in descriptors.NAMES}
        self._done = np.zeros((n, m), np.int8)
        self._progress = {name: f[name] for name, _, _ in _PROGRESS}
        self._counter_at = f["members_written"].id.get_offset()
        self._status_at = f["status"].id.get_offset()

    @property
    def output(self) -> Path:
        """Where the file is (or will be once published)."""
        return self.publish_to or self.path

    def _sync(self) -> None:
        self.file.flush()
        if self.fsync:
            os.fsync(self.file.id.get_vfd_handle())

    def _refused(self, exc: BaseException) -> Exception:
        """Abandon the file (nothing more reaches it) and say, in one line, what it keeps:
        the members it counts, read beside HDF5."""
        if not self.abandoned:
            self.abandoned = True
            abandon(self.file)
        try:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                kept = int(np.frombuffer(os.pread(fd, 8, self._counter_at), "<i8")[0])
            finally:
                os.close(fd)
        except (OSError, ValueError, IndexError):
            kept = self.members_written
        self.members_written = kept
        error = write_refused(exc, self.output, f"{kept} members")
        self.disk_full = isinstance(error, DiskFullError)
        return error

    def write_piece(self, start: int, v: np.ndarray, wall_seconds: float,
                    frames: np.ndarray | None = None,
                    described: dict[str, np.ndarray] | None = None) -> None:
        """Write members ``start`` .. ``start + len(v) - 1`` (F-major), their ``frames``
        (b, T, R, C) and descriptors (:func:`.descriptors.describe`), flush, then count them
        (``members_written`` last)."""
        if self.abandoned:
            return
        m = self._done.shape[1]
        try:
            for x, member in enumerate(v):
                at = divmod(start + x, m)
                self.v[at] = member
                if frames is not None and self.frames is not None:
                    self.frames[at] = frames[x]
                for name, values in (described or {}).items():
                    self.descriptors[name][at] = values[x]
            self._sync()
            self._done.flat[start:start + len(v)] = 1
            self.done[...] = self._done  # one small write: flags already set stay set
            self._progress["wall_seconds"][()] = wall_seconds
            self._progress["members_written"][()] = self.members_written + len(v)
            self._sync()
        except (OSError, RuntimeError, ValueError) as exc:  # h5py raises these for a refusal
            raise self._refused(exc) from None
        self.members_written += len(v)
        self.publish()

    def publish(self) -> None:
        """Take the output's name now (atomically); nothing if it has it already."""
        if self.publish_to is not None:
            os.replace(self.path, self.publish_to)
            self.path, self.publish_to = self.publish_to, None
            if self.fsync:
                fsync_folder(self.path)

    def close(self, status: str, end: dict[str, Any] | None = None) -> None:
        """Record how the sweep ended (``end``: the values of :data:`_PROGRESS` to set), the
        status, then ``completed`` last, and close. An unpublished file (no member) is
        removed: the output it was to replace stays as it was. A refused write is raised once
        the file is closed."""
        error: Exception | None = None
        if not self.abandoned:
            p = self._progress
            try:
                for key, value in (end or {}).items():
                    if key in p:
                        p[key][()] = value.encode() if isinstance(value, str) else value
                p["status"][()] = status.encode("utf-8", "replace")[:STATUS_BYTES]
                self._sync()
                p["completed"][()] = status == "completed"
                self._sync()
                close_durably(self.file, self.path, self.fsync)
            except (OSError, RuntimeError, ValueError) as exc:
                error = self._refused(exc)
        if self.abandoned:
            close_quietly(self.file)
            # how it ended, beside HDF5 (one pwrite over the status's own bytes)
            with contextlib.suppress(OSError):
                fd = os.open(self.path, os.O_WRONLY)
                try:
                    text = status.encode("utf-8", "replace")[:STATUS_BYTES]
                    os.pwrite(fd, text.ljust(STATUS_BYTES, b"\0"), self._status_at)
                finally:
                    os.close(fd)
        if self.publish_to is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
        if error is not None:
            raise error


def _frames_dataset(f: h5py.File, n: int, m: int, shape: tuple[int, int], dtype: np.dtype,
                    frame_steps: np.ndarray) -> None:
    """``frames`` (N, M, T, R, C), NaN until written, with ``step`` as its third scale."""
    nr, nc = shape
    step = f.create_dataset("step", data=np.asarray(frame_steps, np.int64), track_times=False)
    step.make_scale("step")
    step.attrs["long_name"] = "steps behind the frame"
    ds = _early_dataset(f, FRAMES, (n, m, len(frame_steps), nr, nc), np.dtype(dtype),
                        (1, 1, 1, nr, nc), fill=np.nan)
    ds.attrs["long_name"] = "V after step[t] steps (NaN where done is 0)"
    for axis, name in enumerate(("feed", "kill", "step", "row", "col")):
        ds.dims[axis].attach_scale(f[name])


def _descriptor_datasets(f: h5py.File, n: int, m: int) -> None:
    """The descriptors (N, M), each allocated now with a value that says "not written"."""
    for name, dtype, fill, long_name in (
            ("spots", "int32", -1, "connected regions where V > V_ON in the last frame"),
            ("coverage", "float64", np.nan, "fraction of cells where V > V_ON"),
            ("class", "int8", -1, "0 died out, 1 uniform, 2 patterned, 3 blew up"),
            ("change", "float64", np.nan, "max |V| difference between the last two frames")):
        ds = _early_dataset(f, name, (n, m), np.dtype(dtype), None, fill=fill)
        ds.attrs["long_name"] = long_name
    f["class"].attrs["labels"] = ",".join(descriptors.CLASSES)
    f["spots"].attrs["V_ON"] = descriptors.V_ON
    f["coverage"].attrs["V_ON"] = descriptors.V_ON


def read_descriptors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The descriptors (N, M) of a sweep file, and ``labels`` of the classes."""
    with h5py.File(path, "r") as f:
        out = {name: f[name][...] for name in descriptors.NAMES if name in f}
        labels = f["class"].attrs["labels"] if "class" in f else ",".join(descriptors.CLASSES)
    out["labels"] = np.array(str(labels).split(","))
    return out


def _mask_unfinished(f: h5py.File, v: np.ndarray) -> np.ndarray:
    """``v`` (N, M, ...) read from ``f`` with NaN for the members ``done`` does not count (a
    file from before ``done`` is taken as whole)."""
    done = f.get("done")
    if isinstance(done, h5py.Dataset) and done.shape == v.shape[:2]:
        missing = done[...] == 0
        if missing.any():
            v = v.astype(np.result_type(v.dtype, np.float32), copy=False)
            v[missing] = np.nan
    return v


def read_sweep(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                   dict[str, Any]]:
    """(v, feed, kill, attrs) of a sweep file; in a stopped or killed sweep's file the members
    not finished are NaN (``attrs`` then says ``status`` "running" (killed) or how it ended)."""
    with h5py.File(path, "r") as f:
        attrs = dict(f.attrs)
        for name, _, _ in _PROGRESS:  # how it ended, beside the provenance
            x = f.get(name)
            if isinstance(x, h5py.Dataset) and x.shape == ():
                value = x[()]
                attrs[name] = (value.decode("utf-8", "replace").rstrip("\x00")
                               if isinstance(value, bytes) else value.item())
        return _mask_unfinished(f, f[DATASET][...]), f["feed"][...], f["kill"][...], attrs
