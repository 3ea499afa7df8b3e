"""A run's file made again with room for another number of frames, beside the old one, before
anything is written (``grayscott resume -n``, or a file of an older layout): the rule of
:mod:`grayscott.io.runfile` (no change of structure in place on a file that holds data).

The new file is a whole run file of the new length (:meth:`RunFile.create`: every structure
allocated), into which the old file's frames are copied chunk by chunk as stored (HDF5's
direct chunk read and write: no decoding, one ``pwrite`` per frame), then its checkpoint, its
counters, its resume log and its attributes. Once flushed (and forced to the disk with
``fsync``) it is renamed over the old file, which until then was only read: a kill at any
moment leaves either the old file whole or the new one whole (and a hidden temporary file
that the next run or resume to that name removes).

What was considered instead: growing ``matrix`` in place (the resize a kill could cut short:
the old way), room reserved up front for longer resumes (disk space taken for frames that may
never come), and a virtual dataset or external link from a new file to the old frames (no
copy, but the output would be two files, and one moved without the other reads as zeros
without an error).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .layout import DATASET, LOG_LINES, file_error, fsync_folder
from .parts import PARTS_ATTR, sessions
from .paths import temporary_path
from .runfile import RunFile

__all__ = ["needs_room", "remade"]

#: Attributes the new file sets itself (the new length and layout).
_OWN = ("nbimage", "nbextrastep", "steps_before", "dt", "layout_version", "resume_log",
        PARTS_ATTR)


def needs_room(f: h5py.File, nbimage: int) -> bool:
    """Whether resuming ``f`` to ``nbimage`` frames needs a new file: another length, or no
    resume log lines to write into."""
    return int(f[DATASET].shape[0]) != nbimage or not isinstance(
        f.get("resume_log"), h5py.Dataset) or f["resume_log"].shape != (LOG_LINES,)


def _log_lines(old: h5py.File) -> list[str]:
    """The resume log of ``old``: its lines, or the attribute of the layout before them."""
    log = old.get("resume_log")
    if isinstance(log, h5py.Dataset):  # a damaged log (not lines of text) is not copied
        ok = log.ndim == 1 and log.dtype.kind == "S"
        return [x.decode("utf-8", "replace") for x in log[...] if x] if ok else []
    text = old.attrs.get("resume_log", "")
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return [line for line in text.splitlines() if line]


def _copy(old: h5py.File, new: RunFile, frames: int) -> None:
    """Frames, checkpoint, counters and log of ``old`` into ``new`` (the final state is not:
    a run of another length has another end). Frames in part files stay there: the new
    ``matrix`` maps them."""
    src, dst = old[DATASET], new.matrix
    for i in range(0 if new.virtual else frames):
        mask, chunk = src.id.read_direct_chunk((i, 0, 0))
        dst.id.write_direct_chunk((i, 0, 0), chunk, mask)
    f = new.file
    for name in ("u", "v", "index"):
        f["checkpoint"][name][...] = old["checkpoint"][name][...]
    for name in ("steps_done", "wall_seconds"):  # the status stays "running": not the end
        f[name][()] = old[name][()]
    lines = _log_lines(old)[-LOG_LINES:]
    if lines:
        f["resume_log"][:len(lines)] = np.array([x.encode("utf-8", "replace")
                                                 for x in lines], f["resume_log"].dtype)
    f["frames_written"][()] = frames  # last: the counter after what it counts


def remade(path: Path, nbimage: int, frames: int, hold: Callable[[Path], None] | None = None,
           fsync: bool = False, parts: dict[str, Any] | None = None) -> RunFile:
    """The run of ``path`` in a new file of ``nbimage`` frames holding its first ``frames``
    frames, renamed over ``path`` once whole; open for writing. ``hold(tmp)`` locks the new
    file before it takes the name (:meth:`grayscott.io.paths.OutputLock.hold`). ``parts``: a
    new session of part files takes the frames from its first on (a resume over MPI ranks of
    a file whose frames are in part files: the new ``matrix`` maps the old sessions' frames
    before it)."""
    tmp = temporary_path(path)
    try:
        old = h5py.File(path, "r", locking=False)
    except OSError as exc:
        raise file_error(exc, path) from None
    with old:
        a = old.attrs
        m = old[DATASET]
        new = RunFile.create(tmp, nbimage=nbimage, nbextrastep=int(a["nbextrastep"]),
                             dt=float(a["dt"]), shape=m.shape[1:], output_dtype=m.dtype,
                             state_dtype=old["checkpoint/u"].dtype,
                             attrs={k: v for k, v in a.items() if k not in _OWN},
                             steps_before=int(a.get("steps_before", 0)), name=path,
                             fsync=fsync, parts=sessions(old) + [parts] if parts else None)
        try:
            if hold is not None:
                hold(tmp)
            _copy(old, new, min(frames, nbimage, m.shape[0]))
            new.flush()
        except BaseException as exc:
            new.abandon()
            with contextlib.suppress(Exception):
                new.close()
            tmp.unlink(missing_ok=True)
            if isinstance(exc, OSError | RuntimeError | ValueError):
                raise file_error(exc, path) from None
            raise
    os.replace(tmp, path)
    new.path = path
    if fsync:
        fsync_folder(path)
    return new
