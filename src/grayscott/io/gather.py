"""``grayscott gather``: a run written in part files (:mod:`grayscott.io.parts`) as one
self-contained file, the frames copied into ``matrix`` itself.

The new file is made beside the output (:func:`~grayscott.io.paths.temporary_path`): a copy of
the run file whose virtual ``matrix`` is replaced by a dataset made as a run's is (every chunk
allocated, the space reserved), filled frame by frame from the parts, and flushed. It then
replaces the output atomically; gathering in place removes the part files after that. A crash
meanwhile leaves the run as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import click
import h5py
import numpy as np

from ..errors import GrayScottError
from .layout import DATASET, _early_dataset, _reserve, check_output_path, file_error
from .parts import AXES, PARTS_ATTR, parts_folder, referenced, sessions
from .paths import OutputLock, temporary_path
from .readers import frames_available, open_run


def gather(path: str | os.PathLike, output: str | os.PathLike | None = None,
           overwrite: bool = False, lock: bool = True) -> Path:
    """Write the run of ``path`` as one file at ``output`` (default: in place); returns it.
    ``lock``: take the output's lock (a resume that gathers first holds it already)."""
    path = Path(path)
    with open_run(path) as f:
        if not f[DATASET].is_virtual:
            raise GrayScottError(f"{str(path)!r} holds its frames itself; nothing to gather")
        n = frames_available(f)
        needed = n * int(np.prod(f[DATASET].shape[1:])) * f[DATASET].dtype.itemsize
    out = path if output is None else check_output_path(output, overwrite, needed)
    if output is None:
        check_output_path(path, True, needed)
    tmp = temporary_path(out)
    with OutputLock(out) if lock else contextlib.nullcontext():
        try:
            shutil.copyfile(path, tmp)
            with h5py.File(tmp, "r+", locking=False, rdcc_nbytes=0) as g, \
                    h5py.File(path, "r", locking=False) as f:
                _fill(g, f[DATASET], n)
            _reserve(tmp, out)
            os.replace(tmp, out)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if isinstance(exc, OSError | RuntimeError) and not isinstance(exc, GrayScottError):
                raise file_error(exc, out) from None
            raise
    if output is None:
        _remove_parts(path)
    return out


def _fill(g: h5py.File, source: h5py.Dataset, n: int) -> None:
    """Replace ``g``'s virtual matrix by a plain one of ``n`` frames copied from ``source``."""
    shape, dtype = source.shape[1:], source.dtype
    old = g[DATASET]
    attrs = {k: v for k, v in old.attrs.items()
             if k not in ("DIMENSION_LIST", "REFERENCE_LIST", "parts")}
    for axis, name in enumerate(AXES):
        if name in g:
            old.dims[axis].detach_scale(g[name])
    del old
    del g[DATASET]
    for name in ("frame", "step", "time"):  # the coordinates of the frames there are
        if name in g and g[name].shape[0] > n:
            g[name].resize((n,))
    m = _early_dataset(g, DATASET, (n, *shape), dtype, (1, *shape), (None, *shape))
    for k, v in attrs.items():
        m.attrs[k] = v
    for axis, name in enumerate(AXES):
        if name in g:
            m.dims[axis].attach_scale(g[name])
    del g.attrs[PARTS_ATTR]
    g.attrs["nbimage"] = max(int(g.attrs.get("nbimage", n)), n)
    g.flush()
    for i in range(n):
        m[i] = source[i]
    g.flush()


def _remove_parts(path: Path) -> None:
    folder = parts_folder(path)
    with h5py.File(path, "r", locking=False) as f:
        keep = referenced(path, f) if sessions(f) else set()
    for p in folder.glob("*-r*.h5"):
        if p not in keep:
            p.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()


@click.command("gather")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="Write the one file here (default: replace FILE and remove its parts).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output.")
def gather_cmd(file: str, output: str | None, overwrite: bool) -> None:
    """Copy the frames of an MPI run's part files (FILE.parts) into FILE itself (or into
    --output), so that it is one self-contained file."""
    out = gather(file, output, overwrite)
    click.echo(f"grayscott: gathered {file} -> {out}")
