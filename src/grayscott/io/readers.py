"""Reading a run's file, live or not: its frames, its final state, and what ``grayscott info``
shows (:func:`read_info`).

The layout is told in :mod:`grayscott.io.runfile`; names are in :mod:`grayscott.io.layout`.
Readers open the file read-only and take no HDF5 lock (the writer holds none either), so they
work while a run writes. This module may not write a run's file, nor import the loop, the
observers, the backends or the views.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import GrayScottError
from .layout import _PROGRESS, DATASET

__all__ = ["frames_available", "open_run", "read_final_state", "read_frames", "read_info"]


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


def open_hdf5(path: str | os.PathLike, what: str = "HDF5 file") -> h5py.File:
    """Open ``path`` as an HDF5 file for reading (live or not), or one line saying why not."""
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
        raise GrayScottError(f"{str(p)!r} is not an HDF5 file"
                             + ("" if what == "HDF5 file" else f", so not a grayscott {what}"))
    try:
        # No lock: the writer holds none either (OutputLock keeps writers apart), and within
        # the writer's own process HDF5 refuses to mix locking and non-locking opens.
        return h5py.File(p, "r", locking=False)
    except OSError as exc:  # a file cut short on disk ends here ("truncated file: eof = ...")
        raise GrayScottError(f"cannot open {str(p)!r}: {str(exc).splitlines()[0]}") from None


def open_run(path: str | os.PathLike, what: str = "run file") -> h5py.File:
    """Open a grayscott run's file for reading (live or not), or one line saying why not."""
    p = Path(path)
    f = open_hdf5(p, what)
    m = f.get(DATASET)
    if not isinstance(m, h5py.Dataset) or m.ndim != 3 or "nbextrastep" not in f.attrs:
        names = ", ".join(sorted(f.keys())) or "nothing"
        f.close()
        raise GrayScottError(f"{str(p)!r} is an HDF5 file but not a grayscott {what} (it holds "
                             f"{names})")
    try:
        problem = _damage(f)
    except (OSError, RuntimeError, ValueError, TypeError, KeyError) as exc:
        problem = f"cannot be read ({str(exc).splitlines()[0] if str(exc) else exc})"
    if problem:
        f.close()
        raise GrayScottError(f"{str(p)!r} is a damaged grayscott {what}: {problem}")
    return f


#: Attributes every run file has: whole numbers >= 1, finite numbers >= 0.
_WHOLE = ("nbimage", "nbextrastep", "nbrow", "nbcol")
_REAL = ("dt", "Du", "Dv", "F", "k")
_INTEGER_PROGRESS = ("frames_written", "steps_done", "final_state_saved")


def _number(x: Any) -> float | None:
    """``x`` as a float if it is one number (not text, not an array of several)."""
    if isinstance(x, bytes | str) or np.ndim(x) != 0:
        return None
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def _damage(f: h5py.File) -> str | None:
    """What is missing or wrong in the names the layout gives ``f`` (None: nothing), so that
    readers and ``resume`` meet only values of the right kind."""
    a = f.attrs
    for name in _WHOLE:
        x = _number(a.get(name))
        if x is None or x != int(x) or x < 1 or x > 2**62:
            return f"attribute {name!r} is missing or not a whole number >= 1"
    x = _number(a.get("steps_before", 0))
    if x is None or x != int(x) or not 0 <= x <= 2**62:
        return "attribute 'steps_before' is not a whole number >= 0"
    for name in _REAL:
        x = _number(a.get(name))
        if x is None or x < 0:
            return f"attribute {name!r} is missing or not a finite number >= 0"
    if f[DATASET].shape[1:] != (int(a["nbrow"]), int(a["nbcol"])):
        return f"{DATASET!r} has shape {f[DATASET].shape}, not frames of nbrow x nbcol"
    for name in _PROGRESS:
        obj = f.get(name)
        if obj is None:
            continue  # an older layout (attributes) or a file cut down: its default is used
        if not isinstance(obj, h5py.Dataset) or obj.shape != ():
            return f"{name!r} is not a single value"
        kind = obj.dtype.kind
        if name == "status" and kind not in "SUO":
            return f"{name!r} is not text"
        if name in _INTEGER_PROGRESS and (kind not in "iu" or int(obj[()]) < 0):
            return f"{name!r} is not a whole number >= 0"
        if name == "wall_seconds" and _number(obj[()]) is None:
            return f"{name!r} is not a finite number"
    return None


def checkpoint_index(f: h5py.File) -> tuple[int, int, int] | None:
    """``(slot, frames, steps)`` of the last whole checkpoint, or None (none, or not one that
    can be read: a damaged file is not resumed from nonsense)."""
    ck = f.get("checkpoint")
    if not isinstance(ck, h5py.Group):
        return None
    index, nr, nc = ck.get("index"), int(f.attrs["nbrow"]), int(f.attrs["nbcol"])
    if not (isinstance(index, h5py.Dataset) and index.shape == (3,) and index.dtype.kind in "iu"
            and all(isinstance(ck.get(x), h5py.Dataset) and ck[x].shape == (2, nr, nc)
                    and ck[x].dtype.kind == "f" for x in ("u", "v"))):
        return None
    slot, frames, steps = (int(x) for x in index[...])
    if slot not in (0, 1) or frames < 0 or steps < 0:
        return None
    return slot, frames, steps


def _resume_log(f: h5py.File) -> list[str]:
    """The resume log's lines: the dataset's (layout 3), or the attribute's before it."""
    log = f.get("resume_log")
    if isinstance(log, h5py.Dataset) and log.ndim == 1 and log.dtype.kind == "S":
        return [x.decode("utf-8", "replace") for x in log[...] if x]
    text = f.attrs.get("resume_log", "")
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return [line for line in text.splitlines() if line]


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
        info["resume_log"] = _resume_log(f)
        info["frames_room"] = int(f[DATASET].shape[0])
        info["frame_shape"] = [int(s) for s in f[DATASET].shape[1:]]
        info["frame_dtype"] = f[DATASET].dtype.name
        ck = checkpoint_index(f)
        info["checkpoint"] = None if ck is None else {"frames": ck[1], "steps": ck[2]}
    pid = holder(path)
    info["writer_pid"] = pid
    status = info["status"] or "unknown"
    if status == "running" and pid is None:
        status = "stopped without closing (killed?)"
    info["state"] = status
    info["resumable"] = info["checkpoint"] is not None and pid is None
    return info
