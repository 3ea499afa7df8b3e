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
