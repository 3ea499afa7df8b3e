"""Frames written by many processes at once: one part file per rank, and the run file's
``matrix`` an HDF5 virtual dataset over them, so plain h5py reads it like any run's.

An MPI run writes ``run.h5`` (everything but the frames: progress, checkpoints, provenance) and
``run.h5.parts/<session>-r<rank>.h5``, one file per rank holding its block of every frame of
the session. Each part is made as the run file is (every structure and the space of every
frame exist before the first write, :func:`~grayscott.io.layout.durable_file`), so a rank
writes raw data only, into a file of its own: no rank waits for another to write, and rank 0
gathers nothing.

``matrix`` maps each frame's blocks onto the parts. Its sources are named relative to the run
file (HDF5 looks for a relative source beside the file that holds the virtual dataset, not in
the working directory): the run file and its ``.parts`` folder move together. A source that is
missing, or a frame a part has not written yet, reads as the fill value (NaN); ``frames_written``
counts a frame only once every rank has flushed its block. ``grayscott gather`` copies the run
into one self-contained file.

A session is one run or one resume: a resume starts a new session at the checkpoint it
continues from (on any number of ranks and any layout), and the mapping of the earlier sessions
is cut there. The sessions are the root attribute ``frame_parts`` (JSON): for each, the first
frame, the frames its parts have room for, the rank layout and the parts' file names.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .layout import DATASET, _early_dataset, durable_file

#: Root attribute of the run file listing its sessions of part files.
PARTS_ATTR = "frame_parts"
AXES = ("frame", "row", "col")


def parts_folder(path: str | os.PathLike) -> Path:
    """The folder of ``path``'s part files (beside it: ``run.h5.parts``)."""
    path = Path(path)
    return path.with_name(path.name + ".parts")


def new_session(path: str | os.PathLike, first: int, nbimage: int,
                dims: tuple[int, int]) -> dict[str, Any]:
    """A session of part files from frame ``first`` to ``nbimage`` over ``dims`` ranks, named
    so that no earlier session's files are touched (an overwritten run's stay until the new
    one has its first frame)."""
    tag = secrets.token_hex(4)
    folder = parts_folder(path).name
    files = [f"{folder}/{tag}-r{r:05d}.h5" for r in range(dims[0] * dims[1])]
    return {"first": first, "stop": nbimage, "dims": list(dims), "files": files}


def sessions(f: h5py.File) -> list[dict[str, Any]]:
    """The sessions of a run file (empty for a file whose frames it holds itself)."""
    text = f.attrs.get(PARTS_ATTR)
    if text is None:
        return []
    return json.loads(text.decode() if isinstance(text, bytes) else str(text))


def block_slices(shape: tuple[int, int], dims: tuple[int, int]) -> list[tuple[slice, slice]]:
    """Every rank's block, in rank order (as :func:`grayscott.parallel.decomposition.blocks`;
    repeated here so that reading a file never imports the MPI layer)."""
    def split(n: int, parts: int) -> list[slice]:
        base, extra = divmod(n, parts)
        out, start = [], 0
        for p in range(parts):
            out.append(slice(start, start + base + (p < extra)))
            start = out[-1].stop
        return out

    return [(r, c) for r in split(shape[0], dims[0]) for c in split(shape[1], dims[1])]


def create_part(path: Path, session: dict[str, Any], rank: int, shape: tuple[int, int],
                dtype: np.dtype) -> h5py.File:
    """Make (and keep open) rank ``rank``'s part of ``session``: its block of every frame."""
    rows, cols = block_slices(shape, tuple(session["dims"]))[rank]
    block = (rows.stop - rows.start, cols.stop - cols.start)
    frames = session["stop"] - session["first"]
    with durable_file(path) as f:
        _early_dataset(f, DATASET, (frames, *block), np.dtype(dtype), (1, *block))
        for key, value in (("first_frame", session["first"]), ("rank", rank),
                           ("rows", [rows.start, rows.stop]), ("cols", [cols.start, cols.stop])):
            f.attrs[key] = value
    return f  # left open by durable_file, for raw writes (no cache: each write is one pwrite)


def _layout(shape: tuple[int, int], nbimage: int, dtype: np.dtype,
            all_sessions: list[dict[str, Any]]) -> h5py.VirtualLayout:
    layout = h5py.VirtualLayout((nbimage, *shape), np.dtype(dtype))
    for k, s in enumerate(all_sessions):
        stop = min([s["stop"], nbimage] + [t["first"] for t in all_sessions[k + 1:]])
        if stop <= s["first"]:
            continue
        blocks = block_slices(shape, tuple(s["dims"]))
        for name, (rows, cols) in zip(s["files"], blocks, strict=True):
            room = (s["stop"] - s["first"], rows.stop - rows.start, cols.stop - cols.start)
            source = h5py.VirtualSource(name, DATASET, shape=room, dtype=np.dtype(dtype))
            layout[s["first"]:stop, rows, cols] = source[:stop - s["first"]]
    return layout


def make_matrix(f: h5py.File, shape: tuple[int, int], nbimage: int, dtype: np.dtype,
                all_sessions: list[dict[str, Any]]) -> h5py.Dataset:
    """``matrix`` as a virtual dataset over the parts of ``all_sessions`` (frames no session
    covers read as NaN), with the attributes and dimension scales of the plain one."""
    m = f.create_virtual_dataset(DATASET, _layout(shape, nbimage, dtype, all_sessions),
                                 fillvalue=np.nan)
    f.attrs[PARTS_ATTR] = json.dumps(all_sessions)
    m.attrs["long_name"] = "V concentration"
    m.attrs["coordinates"] = "step time"
    m.attrs["parts"] = "virtual: each rank's block is in the part files of frame_parts"
    for axis, name in enumerate(AXES):
        if name in f:
            m.dims[axis].attach_scale(f[name])
    return m


def remake_matrix(f: h5py.File, nbimage: int, all_sessions: list[dict[str, Any]]) -> h5py.Dataset:
    """Map ``matrix`` anew (a metadata change: a resume's new session, the end of a run cut
    short): ``nbimage`` frames over ``all_sessions``."""
    old = f[DATASET]
    dtype, shape = old.dtype, old.shape[1:]
    for axis, name in enumerate(AXES):
        if name in f:
            old.dims[axis].detach_scale(f[name])
    del old
    del f[DATASET]
    return make_matrix(f, shape, nbimage, dtype, all_sessions)


def referenced(path: str | os.PathLike, f: h5py.File) -> set[Path]:
    """The part files the run file at ``path`` maps."""
    here = Path(path).parent
    return {here / name for s in sessions(f) for name in s["files"]}


def remove_unreferenced(path: str | os.PathLike, f: h5py.File) -> None:
    """Delete the part files beside ``path`` that its ``matrix`` no longer maps (an
    overwritten run's, a session cut off before its first frame)."""
    folder = parts_folder(path)
    if not folder.is_dir():
        return
    keep = referenced(path, f)
    for p in folder.glob("*-r*.h5"):
        if p not in keep:
            p.unlink(missing_ok=True)
