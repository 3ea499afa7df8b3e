"""The school's HDF5 layout (docs/model.md §5), written so that a run killed at any moment leaves a
file that plain h5py opens, with every frame it flushed readable.

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
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import DiskFullError, GrayScottError
from .paths import check_writable_file

DATASET = "matrix"
LAYOUT_VERSION = 2
STATUS_BYTES = 160
#: Reserve the file's space when it is made (tests switch it off to meet a full disk mid-run).
RESERVE_SPACE = True
#: HDF5's own bytes beyond the data: headers and attributes, and per frame its chunk's entry
#: in the chunk index plus the frame, step and time coordinates (measured: about 60 + 24 B).
_OVERHEAD_FIXED = 256 * 1024
_OVERHEAD_PER_FRAME = 128
#: State fields stored beside the frames: two checkpoint slots of (u, v), and u_final, v_final.
STATE_FIELDS = 6
_PROGRESS = ("frames_written", "steps_done", "wall_seconds", "status", "final_state_saved")


def estimated_bytes(nbimage: int, shape: tuple[int, int], output_dtype: np.dtype,
                    state_dtype: np.dtype) -> int:
    """Bytes of the file of ``nbimage`` frames: frames, the stored states, HDF5's overhead."""
    nr, nc = shape
    return (nbimage * (nr * nc * np.dtype(output_dtype).itemsize + _OVERHEAD_PER_FRAME)
            + STATE_FIELDS * nr * nc * np.dtype(state_dtype).itemsize + _OVERHEAD_FIXED)


def check_output_path(path: str | os.PathLike, overwrite: bool, needed_bytes: int = 0,
                      fewer: str = "frames (-n)") -> Path:
    """Refuse, before anything is written, an output we could not or must not write, or one
    the free disk space cannot hold (the message says to write fewer ``fewer``). An existing
    file to overwrite is not counted as free: it is kept until the new run has its first
    frame."""
    path = check_writable_file(path, "output", overwrite)
    if path.exists() and not path.is_file():
        raise GrayScottError(f"output {str(path)!r} is not a regular file; give a file name")
    # where the file lands: beside the file a symlinked output points to (as run writes)
    folder = Path(os.path.realpath(path)).parent
    if not folder.is_dir():
        raise GrayScottError(f"output {str(path)!r} is a link into a missing folder "
                             f"{str(folder)!r}")
    if needed_bytes:
        free = shutil.disk_usage(folder).free
        if needed_bytes > free:
            raise GrayScottError(
                f"output {str(path)!r} needs about {needed_bytes / 1e9:.3g} GB and only "
                f"{free / 1e9:.3g} GB are free; write fewer {fewer} or elsewhere (-o)")
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


def is_disk_full(exc: BaseException) -> bool:
    """Whether an OSError (h5py's included, which carry HDF5's text) means "no space left"."""
    if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc).lower()
    return "no space left" in text or "errno = 28" in text or "disk quota" in text


def file_error(exc: BaseException, path: str | os.PathLike) -> GrayScottError:
    """One line for an error HDF5 or the OS gave while writing ``path`` (HDF5's own text spans
    several lines and names internals)."""
    if is_disk_full(exc):
        return DiskFullError(f"the disk is full: cannot write {str(path)!r}")
    lines = str(exc).splitlines()
    text = getattr(exc, "strerror", None) or (lines[0] if lines else type(exc).__name__)
    return GrayScottError(f"cannot write {str(path)!r}: {text}")


def write_refused(exc: BaseException, path: str | os.PathLike, kept: str) -> GrayScottError:
    """The one-line error for a write h5py refused while adding to ``path``: on a full disk,
    :class:`DiskFullError` saying what is kept (``kept``: "3 frames"), else :func:`file_error`
    (HDF5's own text spans several lines and names internals)."""
    if not is_disk_full(exc):
        return file_error(exc, path)
    return DiskFullError(f"the disk is full after {kept}; they are kept in {str(path)!r}")


def _early_dataset(group: h5py.Group, name: str, shape: tuple[int, ...], dtype: np.dtype,
                   chunks: tuple[int, ...] | None, maxshape: tuple[int | None, ...] | None = None,
                   fill: float | None = None) -> h5py.Dataset:
    """A dataset whose space is allocated now (so later writes never change the file's
    structure). ``fill``: written now (space on disk taken); None: never written (sparse until
    reserved, reads as zeros)."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    if chunks is not None:
        dcpl.set_chunk(chunks)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    if fill is None:
        dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
    else:
        dcpl.set_fill_time(h5py.h5d.FILL_TIME_ALLOC)
        dcpl.set_fill_value(np.array(fill, dtype))
    dcpl.set_obj_track_times(False)  # no time stamps in headers: a write changes no metadata
    space = h5py.h5s.create_simple(shape, tuple(h5py.h5s.UNLIMITED if m is None else m
                                                for m in (maxshape or shape)))
    h5py.h5d.create(group.id, name.encode(), h5py.h5t.py_create(np.dtype(dtype)), space,
                    dcpl=dcpl)
    return group[name]


def _reserve(path: Path, name: Path | None = None) -> None:
    """Take the disk space of the whole file now (the frames' chunks are holes until written)."""
    if not RESERVE_SPACE or not hasattr(os, "posix_fallocate"):
        return
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"the disk has no room for {str(name or path)!r} "
                                f"({os.fstat(fd).st_size / 1e9:.3g} GB)") from None
        # EOPNOTSUPP, EINVAL...: this file system cannot reserve; frames take space as written
    finally:
        os.close(fd)


@contextlib.contextmanager
def durable_file(path: Path, name: Path | None = None) -> Iterator[h5py.File]:
    """A new HDF5 file at ``path``, open for a writer that may be killed at any moment (the
    run's file, the sweep's). The body creates every structure (:func:`_early_dataset`); on
    leaving it the file is flushed and its space reserved (:func:`_reserve`). On any error the
    file is closed and removed, and an HDF5 or OS error becomes one line naming ``name``.

    No HDF5 file lock: readers open the file while it is written (OutputLock keeps writers
    out); the default (earliest) format has no "open for write" mark to go stale.
    rdcc_nbytes=0: data goes to the file when written, so a write the disk refuses fails there
    and leaves nothing in a cache that a later flush or close would retry.
    """
    display = Path(name or path)
    try:
        f = h5py.File(path, "w", locking=False, rdcc_nbytes=0)
    except (OSError, RuntimeError) as exc:
        raise file_error(exc, display) from None
    try:
        yield f
        f.flush()
        _reserve(path, display)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            f.close()
        with contextlib.suppress(OSError):
            path.unlink()
        # h5py raises ValueError too when the disk refuses a dataset's space
        if (isinstance(exc, OSError | RuntimeError) or is_disk_full(exc)) \
                and not isinstance(exc, GrayScottError):
            raise file_error(exc, display) from None
        raise


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


# -- reading --------------------------------------------------------------------------------


def _value(f: h5py.File, name: str, default: Any = None) -> Any:
    """A progress value: the dataset of today's layout, else the attribute of the first one."""
    obj = f.get(name)
    if isinstance(obj, h5py.Dataset) and obj.shape == ():
        x = obj[()]
        return x.decode("utf-8", "replace").rstrip("\x00") if isinstance(x, bytes) else x.item()
    if name in f.attrs:
        x = f.attrs[name]
        return x.decode() if isinstance(x, bytes) else (x.item() if hasattr(x, "item") else x)
    return default


def frames_available(f: h5py.File) -> int:
    """Frames that hold data: ``frames_written`` (a live or killed run has more room)."""
    n = int(f[DATASET].shape[0])
    written = _value(f, "frames_written")
    return n if written is None else min(n, int(written))


def read_frames(path: str | os.PathLike) -> np.ndarray:
    """The frames written, as one array (small files; use h5py slicing for big ones)."""
    with h5py.File(path, "r") as f:
        return f[DATASET][:frames_available(f)]


def read_final_state(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """The run's last state (``u_final``, ``v_final``), refused when the run saved none."""
    with h5py.File(path, "r") as f:
        if "u_final" not in f or not _value(f, "final_state_saved", 1):
            raise GrayScottError(f"{path} holds no final state (u_final, v_final)")
        return f["u_final"][...], f["v_final"][...]


def open_run(path: str | os.PathLike, what: str = "run file") -> h5py.File:
    """Open a grayscott run's file for reading (live or not), or one line saying why not."""
    p = Path(path)
    if not p.exists():
        raise GrayScottError(f"no such file: {str(p)!r}")
    if p.is_dir():
        raise GrayScottError(f"{str(p)!r} is a folder, not a {what}")
    try:
        ok = h5py.is_hdf5(p)
    except OSError as exc:
        raise GrayScottError(f"cannot read {str(p)!r}: {exc.strerror or exc}") from None
    if not ok:
        raise GrayScottError(f"{str(p)!r} is not an HDF5 file, so not a grayscott {what}")
    try:
        # No lock: the writer holds none either (OutputLock keeps writers apart), and within
        # the writer's own process HDF5 refuses to mix locking and non-locking opens.
        f = h5py.File(p, "r", locking=False)
    except OSError as exc:
        raise GrayScottError(f"cannot open {str(p)!r}: {str(exc).splitlines()[0]}") from None
    m = f.get(DATASET)
    if not isinstance(m, h5py.Dataset) or m.ndim != 3 or "nbextrastep" not in f.attrs:
        names = ", ".join(sorted(f.keys())) or "nothing"
        f.close()
        raise GrayScottError(f"{str(p)!r} is an HDF5 file but not a grayscott {what} (it holds "
                             f"{names})")
    return f


def read_info(path: str | os.PathLike) -> dict[str, Any]:
    """What ``grayscott info`` shows: settings, progress and whether the run can be resumed."""
    from .paths import holder

    with open_run(path) as f:
        a = {k: (v.decode() if isinstance(v, bytes) else
                 (v.tolist() if isinstance(v, np.ndarray) else
                  (v.item() if hasattr(v, "item") else v)))
             for k, v in f.attrs.items()}
        info: dict[str, Any] = {"path": str(path), "attrs": a}
        for name in _PROGRESS:
            info[name] = _value(f, name)
        info["frames_available"] = frames_available(f)
        info["frames_room"] = int(f[DATASET].shape[0])
        info["frame_shape"] = [int(s) for s in f[DATASET].shape[1:]]
        info["frame_dtype"] = f[DATASET].dtype.name
        ck = f.get("checkpoint")
        info["checkpoint"] = None
        if isinstance(ck, h5py.Group) and "index" in ck:
            slot, frames, steps = (int(x) for x in ck["index"][...])
            if slot in (0, 1):
                info["checkpoint"] = {"frames": frames, "steps": steps}
    pid = holder(path)
    info["writer_pid"] = pid
    status = info["status"] or "unknown"
    if status == "running" and pid is None:
        status = "stopped without closing (killed?)"
    info["state"] = status
    info["resumable"] = info["checkpoint"] is not None and pid is None
    return info
