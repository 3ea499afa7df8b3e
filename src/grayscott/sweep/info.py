"""``grayscott info`` of a sweep's file: what it holds, how far it got (read-only, works while
the sweep writes it)."""

from __future__ import annotations

import os
from typing import Any

import h5py
import numpy as np

from .hdf5 import DATASET


def is_sweep_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an HDF5 file with a sweep's ``v``, ``feed`` and ``kill`` (never
    raises: anything else is left to the run file's reader and its one-line errors)."""
    try:
        if not h5py.is_hdf5(path):
            return False
        with h5py.File(path, "r", locking=False) as f:
            return all(isinstance(f.get(n), h5py.Dataset) for n in (DATASET, "feed", "kill"))
    except OSError:
        return False


def _plain(x: Any) -> Any:
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace").rstrip("\x00")
    if isinstance(x, np.ndarray):
        return x.tolist()
    return x.item() if hasattr(x, "item") else x


def read_sweep_info(path: str | os.PathLike) -> dict[str, Any]:
    """Settings (the root's attributes), axes, members done, status and the datasets held."""
    with h5py.File(path, "r", locking=False) as f:
        attrs = {k: _plain(v) for k, v in f.attrs.items()}
        done = f["done"][...] if "done" in f else None
        info: dict[str, Any] = {
            "path": str(path), "kind": "sweep", "attrs": attrs,
            "feed": f["feed"][...].tolist(), "kill": f["kill"][...].tolist(),
            "v_shape": list(f[DATASET].shape),
            "members_done": None if done is None else int(np.count_nonzero(done)),
            "datasets": {n: list(d.shape) for n, d in f.items() if isinstance(d, h5py.Dataset)},
        }
        for name in ("status", "wall_seconds", "members_written"):
            obj = f.get(name)
            info[name] = _plain(obj[()]) if isinstance(obj, h5py.Dataset) else attrs.get(name)
    return info


def _axis(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:g} (1 value)"
    return f"{values[0]:g} .. {values[-1]:g} ({len(values)} values)"


def format_sweep_info(info: dict[str, Any]) -> str:
    """``grayscott info`` of a sweep for a person: one screen."""
    a = info["attrs"]
    members = len(info["feed"]) * len(info["kill"])
    done = info["members_done"]
    wall = info.get("wall_seconds") or 0.0
    shape = info["v_shape"]
    lines = [
        f"{info['path']}: grayscott sweep, v {' x '.join(map(str, shape))}",
        f"  feed F     {_axis(info['feed'])}",
        f"  kill k     {_axis(info['kill'])}",
        f"  grid       {a.get('nbrow', shape[-2])}x{a.get('nbcol', shape[-1])} "
        f"{a.get('dtype', '?')}, {a.get('steps', '?')} steps",
        f"  rates      Du={a.get('Du', '?')} Dv={a.get('Dv', '?')} dt={a.get('dt', '?')}",
        f"  stencil    {a.get('stencil', '?')}, border {a.get('border', '?')}, initial "
        f"{a.get('initial', '?')} (seed {a.get('seed', 0)})",
        f"  backend    {a.get('backend', '?')} ({a.get('strategy', '?')}), "
        f"{a.get('pieces', '?')} piece(s)",
        f"  members    {'?' if done is None else done} of {members} done",
        f"  status     {info.get('status') or '?'}",
        f"  wall time  {float(wall):.2f} s",
        f"  started    {a.get('started', '?')}",
        "  datasets   " + ", ".join(f"{n} {tuple(s)}" for n, s in info["datasets"].items()),
    ]
    return "\n".join(lines)
