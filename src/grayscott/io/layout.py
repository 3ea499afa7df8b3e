"""The run file's layout rules: dataset and attribute names, the checks before a file is made,
its size, and the making of a file whose every structure exists before the first write
(:func:`durable_file`, :func:`_early_dataset`, the space reserved by :func:`_reserve`).

The layout itself and why it survives ``kill -9`` are told in :mod:`grayscott.io.runfile`.
This module is shared by the run's writer, its readers and the sweep's file
(:mod:`grayscott.sweep.hdf5`). It may not import the loop, the observers, the backends or the
views.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import DiskFullError, GrayScottError
from .paths import check_writable_file

DATASET = "matrix"
#: 3: the resume log is a dataset of fixed lines (was an attribute rewritten in place).
LAYOUT_VERSION = 3
#: The oldest layout ``resume`` continues (2: the first with checkpoints).
RESUMABLE_LAYOUT = 2
STATUS_BYTES = 160
#: The resume log: this many lines of this many bytes, allocated when the file is made (a
#: resume writes its line into the first empty one; the last is reused once all are taken).
LOG_LINES = 32
LOG_BYTES = 200
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
    text = str(getattr(exc, "strerror", None) or exc)
    said = re.search(r"error message = '([^']*)'", text)  # the OS's own words, in HDF5's text
    lines = text.splitlines()
    text = said.group(1) if said else (lines[0] if lines else type(exc).__name__)
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


def open_h5(path: str | os.PathLike, mode: str) -> h5py.File:
    """``path`` opened for a writer that may be killed at any moment or refused a write
    (``mode`` "w": made new, "r+": opened to write, "r": to read).

    No HDF5 file lock: readers open the file while it is written (OutputLock keeps writers
    out); the default (earliest) format has no "open for write" mark to go stale. No chunk
    cache and no sieve buffer: every write of raw data is one ``pwrite`` made when it is
    asked, in the order asked (the order of writes is the contract: a frame before its
    counter), and a write the disk refuses fails there, leaving nothing in a cache that a
    later flush or close would retry.
    """
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_cache(0, 0, 0, 0.75)
    fapl.set_sieve_buf_size(0)
    fapl.set_file_locking(False, True)
    name = os.fsencode(path)
    if mode == "w":
        fid = h5py.h5f.create(name, h5py.h5f.ACC_TRUNC, fapl=fapl)
    else:
        fid = h5py.h5f.open(name, h5py.h5f.ACC_RDWR if mode == "r+" else h5py.h5f.ACC_RDONLY,
                            fapl=fapl)
    return h5py.File(fid)


def _park(f: h5py.File) -> int | None:
    """Point ``f``'s descriptor at an anonymous file in memory; return a descriptor of that
    memory file (None if ``f`` is closed already)."""
    try:
        fd = f.id.get_vfd_handle()
    except (OSError, RuntimeError, ValueError):
        return None
    if hasattr(os, "memfd_create"):
        sink = os.memfd_create("grayscott-abandoned")
    else:  # an unlinked temporary file: a regular file, as HDF5 wants (it truncates at close)
        import tempfile

        sink = os.dup(tempfile.TemporaryFile().fileno())
    os.dup2(sink, fd)
    return sink


def abandon(f: h5py.File) -> None:
    """Stop ``f`` from writing to its file, for good, and make it safe to close.

    After a write the system refused (ENOSPC, EIO), HDF5 would retry what it holds at every
    flush and at close, fail again, and h5py then leaves an id it cannot close: "Exception
    ignored ... errno = 28" and, at exit, a segfault. Here the file's descriptor is pointed
    at an anonymous file in memory instead (``dup2``): what HDF5 still writes, at close, lands
    there and succeeds, and the file on disk stays as the last write that succeeded left it,
    as a ``kill -9`` at that moment would, which the layout survives.
    """
    sink = _park(f)
    if sink is not None:
        os.close(sink)


#: The superblock HDF5 rewrites at close (version 2: 48 bytes), its flags byte (bit 0: "open
#: for write") and where its checksum starts.
_SUPERBLOCK, _FLAGS, _CHECKSUM = 48, 11, 44
_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def close_durably(f: h5py.File, path: Path, fsync: bool = False) -> None:
    """Close ``f``, whose every write is flushed, so that a refusal at close cannot reach
    HDF5: the one write HDF5 still makes at close (the superblock, its "open for write" flag
    cleared) goes to memory (:func:`_park`), and is then copied to the file with one
    ``pwrite`` if it differs from the file's own only in that flag and its checksum. Refused,
    the copy is skipped: the flag stays set, as a kill leaves it, and HDF5 opens such files.
    """
    sink = _park(f)
    f.close()
    if sink is None:
        return
    try:
        new = os.pread(sink, _SUPERBLOCK, 0)
        fd = os.open(path, os.O_RDWR)
        try:
            old = os.pread(fd, _SUPERBLOCK, 0)
            same = (len(new) == len(old) == _SUPERBLOCK and new.startswith(_SIGNATURE)
                    and new[:_FLAGS] == old[:_FLAGS]
                    and new[_FLAGS + 1:_CHECKSUM] == old[_FLAGS + 1:_CHECKSUM])
            if same and new != old:
                os.pwrite(fd, new, 0)
                if fsync:
                    os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass  # the flag stays set: the file opens all the same
    finally:
        os.close(sink)


def close_quietly(f: h5py.File) -> None:
    """Close ``f`` after :func:`abandon`: nothing it writes reaches the disk, so nothing fails
    that matters; what HDF5 says about it is not the user's business."""
    with contextlib.suppress(Exception):
        f.close()


def fsync_folder(path: Path) -> None:
    """Make a rename in ``path``'s folder durable (the name, not only the data)."""
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def durable_file(path: Path, name: Path | None = None) -> Iterator[h5py.File]:
    """A new HDF5 file at ``path`` (:func:`open_h5`), open for a writer that may be killed at
    any moment (the run's file, the sweep's). The body creates every structure
    (:func:`_early_dataset`); on leaving it the file is flushed and its space reserved
    (:func:`_reserve`). On any error the file is abandoned (:func:`abandon`), closed and
    removed, and an HDF5 or OS error becomes one line naming ``name``.
    """
    display = Path(name or path)
    try:
        f = open_h5(path, "w")
    except (OSError, RuntimeError) as exc:
        raise file_error(exc, display) from None
    try:
        yield f
        # Twice: the second flush gives back the unused end of HDF5's allocation blocks (it
        # truncates the file and rewrites the superblock). Left to the first flush after the
        # file holds data, a kill between those two writes left a file too short to open.
        f.flush()
        f.flush()
        _reserve(path, display)
    except BaseException as exc:
        abandon(f)
        close_quietly(f)
        with contextlib.suppress(OSError):
            path.unlink()
        # h5py raises ValueError too when the disk refuses a dataset's space
        if isinstance(exc, OSError | RuntimeError | ValueError) \
                and not isinstance(exc, GrayScottError):
            raise file_error(exc, display) from None
        raise
