"""``grayscott diff A.h5 B.h5``: the h5diff of the school's layout, frame by frame.

Only one frame of each file is in memory at a time, so two 8 GB runs compare in a few tens of
MB. Per frame it reports whether the bytes are equal (bit for bit) and the largest absolute and
relative difference; for the files, the grid, dtype and frame count, and the attributes that
differ. Attributes are reported but decide nothing: two runs of one configuration differ in
their start time and versions.

Equality of values, and NaN: two cells are equal when ``|a - b| <= tol + rtol * max(|a|, |b|)``
(both 0 by default: equal values); a NaN equals a NaN in the same cell and differs from any
number (difference infinite); infinities of the same sign are equal. Bit for bit compares the
bytes, so NaNs of different payloads, or 0.0 and -0.0, are equal in value but not bit for bit.
The relative difference of a cell is ``|a - b| / max(|a|, |b|)`` (0 where both are 0).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click
import h5py
import numpy as np

from ..errors import GrayScottError
from .layout import DATASET
from .readers import frames_available

#: Differing frames listed in the text report (``--json`` lists every frame).
SHOWN = 10
#: Attributes that are settings of the run: a difference here explains differing frames.
SETTINGS = ("nbrow", "nbcol", "nbextrastep", "Du", "Dv", "F", "k", "dt", "dtype",
            "output_dtype", "stencil", "stencil_weights", "border", "initial", "seed",
            "steps_before", "backend_subnormals")


def open_frames(path: str | os.PathLike) -> tuple[h5py.File, h5py.Dataset, int]:
    """The file, its ``matrix`` and the frames that hold data; one line when it cannot be."""
    p = Path(path)
    if not p.exists():
        raise GrayScottError(f"no such file: {str(p)!r}")
    if p.is_dir():
        raise GrayScottError(f"{str(p)!r} is a folder, not an HDF5 file")
    try:
        ok = h5py.is_hdf5(p)
    except OSError as exc:
        raise GrayScottError(f"cannot read {str(p)!r}: {exc.strerror or exc}") from None
    if not ok:
        raise GrayScottError(f"{str(p)!r} is not an HDF5 file")
    try:
        f = h5py.File(p, "r", locking=False)
    except OSError as exc:  # a file cut short on disk ends here ("truncated file: eof = ...")
        raise GrayScottError(f"cannot open {str(p)!r}: {str(exc).splitlines()[0]}") from None
    m = f.get(DATASET)
    if not isinstance(m, h5py.Dataset) or m.ndim != 3 or m.dtype.kind != "f":
        names = ", ".join(sorted(f.keys())) or "nothing"
        f.close()
        raise GrayScottError(f"{str(p)!r} holds no '{DATASET}' dataset of frames (frame, row, "
                             f"col) of floats; it holds {names}")
    try:
        n = frames_available(f)
    except (OSError, KeyError, ValueError, TypeError):
        n = int(m.shape[0])
    return f, m, n


def read_frame(ds: h5py.Dataset, i: int, out: np.ndarray, path: str | os.PathLike) -> None:
    try:
        ds.read_direct(out, np.s_[i])
    except (OSError, ValueError) as exc:  # chunks past the end of a truncated file
        raise GrayScottError(f"cannot read frame {i} of {str(path)!r}: "
                             f"{str(exc).splitlines()[0]}") from None


def compare_frame(a: np.ndarray, b: np.ndarray) -> tuple[bool, np.ndarray, np.ndarray]:
    """``(bit for bit, |a - b| per cell, max(|a|, |b|) per cell)``, NaN == NaN, in float64."""
    same = a.dtype == b.dtype and np.array_equal(a.view(f"u{a.itemsize}"),
                                                 b.view(f"u{b.itemsize}"))
    if same:
        return True, np.zeros(1), np.zeros(1)
    x, y = a.astype(np.float64), b.astype(np.float64)
    with np.errstate(invalid="ignore"):
        d = np.abs(x - y)
        d[x == y] = 0.0  # equal infinities (inf - inf is NaN)
    nx, ny = np.isnan(x), np.isnan(y)
    d[nx & ny] = 0.0
    d[nx ^ ny] = np.inf
    scale = np.maximum(np.abs(x), np.abs(y))
    scale[nx | ny] = 0.0  # a NaN's cell is equal (d = 0) or differs without bound (d = inf)
    return False, d, scale


@dataclass
class FrameDiff:
    frame: int
    bit_for_bit: bool
    max_abs: float
    max_rel: float
    within_tol: bool
    nan_mismatch: int = 0  # cells NaN in one file only


@dataclass
class DiffResult:
    a: str
    b: str
    shape: tuple[list[int], list[int]]
    dtype: tuple[str, str]
    frames: tuple[int, int]
    tol: float
    rtol: float
    compared: int = 0
    per_frame: list[FrameDiff] = field(default_factory=list)
    settings_differ: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    attrs_differ: list[str] = field(default_factory=list)

    @property
    def comparable(self) -> bool:
        return self.shape[0][1:] == self.shape[1][1:]

    @property
    def bit_for_bit(self) -> bool:
        return (self.comparable and self.frames[0] == self.frames[1]
                and self.dtype[0] == self.dtype[1] and all(f.bit_for_bit for f in self.per_frame))

    @property
    def equal(self) -> bool:
        """Equal within the tolerance: same grid, same frame count, every frame within it."""
        return (self.comparable and self.frames[0] == self.frames[1]
                and all(f.within_tol for f in self.per_frame))

    def first(self, what: str = "bit_for_bit") -> int | None:
        return next((f.frame for f in self.per_frame if not getattr(f, what)), None)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(bit_for_bit=self.bit_for_bit, equal=self.equal,
                 first_differing_frame=self.first(), first_beyond_tol=self.first("within_tol"))
        return d


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value


def _attrs(fa: h5py.File, fb: h5py.File) -> tuple[dict[str, tuple[Any, Any]], list[str]]:
    settings, others = {}, []
    for key in sorted(set(fa.attrs) | set(fb.attrs)):
        x = _plain(fa.attrs[key]) if key in fa.attrs else None
        y = _plain(fb.attrs[key]) if key in fb.attrs else None
        if x == y:
            continue
        if key in SETTINGS:
            settings[key] = (x, y)
        else:
            others.append(key)
    return settings, others


def diff_files(a: str | os.PathLike, b: str | os.PathLike, tol: float = 0.0, rtol: float = 0.0,
               progress: bool = False) -> DiffResult:
    """Compare two run files frame by frame (one frame of each in memory at a time)."""
    from ..progress import progress_bar

    if not (tol >= 0 and rtol >= 0 and math.isfinite(tol) and math.isfinite(rtol)):
        raise GrayScottError("--tol and --rtol must be finite numbers >= 0")
    fa, ma, na = open_frames(a)
    try:
        fb, mb, nb = open_frames(b)
    except BaseException:
        fa.close()
        raise
    with fa, fb:
        res = DiffResult(str(a), str(b), (list(ma.shape), list(mb.shape)),
                         (ma.dtype.name, mb.dtype.name), (na, nb), tol, rtol)
        res.settings_differ, res.attrs_differ = _attrs(fa, fb)
        if not res.comparable:
            return res
        n = min(na, nb)
        bufa, bufb = np.empty(ma.shape[1:], ma.dtype), np.empty(mb.shape[1:], mb.dtype)
        bar = progress_bar(n, enabled=progress, desc="diff")
        try:
            for i in range(n):
                read_frame(ma, i, bufa, a)
                read_frame(mb, i, bufb, b)
                res.per_frame.append(_frame_diff(i, bufa, bufb, tol, rtol))
                res.compared = i + 1
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    return res


def _frame_diff(i: int, a: np.ndarray, b: np.ndarray, tol: float, rtol: float) -> FrameDiff:
    same, d, scale = compare_frame(a, b)
    if same:
        return FrameDiff(i, True, 0.0, 0.0, True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(d > 0, d / scale, 0.0)
    within = bool(np.all(d <= tol + rtol * scale))
    mismatch = int(np.count_nonzero(np.isinf(d) & (np.isnan(a) | np.isnan(b))))
    return FrameDiff(i, False, float(d.max()), float(np.nanmax(rel)), within, mismatch)


def _g(x: float) -> str:
    return f"{x:.3g}"


def format_diff(r: DiffResult) -> str:
    lines = [f"{path}: {n} frames of {'x'.join(map(str, shape[1:]))} {dt}"
             for path, n, shape, dt in zip((r.a, r.b), r.frames, r.shape, r.dtype, strict=True)]
    if not r.comparable:
        lines.append("grids differ: no frame compared")
    elif r.frames[0] != r.frames[1]:
        lines.append(f"frame counts differ: compared the first {r.compared}")
    differing = [f for f in r.per_frame if not f.bit_for_bit]
    if r.comparable and not differing:
        lines.append(f"frames: bit for bit identical ({r.compared} compared)")
    elif differing and max(f.max_abs for f in differing) == 0:
        lines.append(f"frames: {len(differing)} of {r.compared} differ in their bytes only "
                     "(equal values: another dtype, -0.0 for 0.0, other NaN payloads)")
    elif differing:
        worst = max(differing, key=lambda f: f.max_abs)
        lines.append(f"frames: {len(differing)} of {r.compared} differ, the first is frame "
                     f"{differing[0].frame}; largest difference {_g(worst.max_abs)} (frame "
                     f"{worst.frame}), relative {_g(max(f.max_rel for f in differing))}")
        lines.append("  frame      max abs      max rel")
        lines += [f"  {f.frame:>5}  {_g(f.max_abs):>11}  {_g(f.max_rel):>11}"
                  + (f"  ({f.nan_mismatch} cells NaN in one file only)" if f.nan_mismatch
                     else "") for f in differing[:SHOWN]]
        if len(differing) > SHOWN:
            lines.append(f"  ... {len(differing) - SHOWN} more (--json lists every frame)")
    if r.dtype[0] != r.dtype[1]:
        lines.append(f"dtypes differ: {r.dtype[0]} and {r.dtype[1]}")
    for key, (x, y) in r.settings_differ.items():
        lines.append(f"setting {key}: {x!r} and {y!r}")
    if r.attrs_differ:
        lines.append(f"other attributes that differ: {', '.join(r.attrs_differ)}")
    lines.append(verdict(r))
    return "\n".join(lines)


def verdict(r: DiffResult) -> str:
    """The last line: equal bit for bit, equal (within the tolerance), or different."""
    tol = f"--tol {r.tol:g} --rtol {r.rtol:g}" if r.tol or r.rtol else ""
    if r.bit_for_bit:
        return "equal: bit for bit"
    if r.equal:
        return f"equal {'within ' + tol if tol else 'in value'} (not bit for bit)"
    if not r.comparable:
        return "different: the grids differ"
    if r.frames[0] != r.frames[1]:
        return f"different: {r.frames[0]} and {r.frames[1]} frames"
    first = r.first("within_tol")
    where = f", first at frame {first}" if first is not None else ""
    return f"different{' beyond ' + tol if tol else ''}{where}"


@click.command("diff")
@click.argument("a", type=click.Path(dir_okay=False))
@click.argument("b", type=click.Path(dir_okay=False))
@click.option("--tol", type=float, default=0.0, show_default=True,
              help="Absolute tolerance: cells within it are equal.")
@click.option("--rtol", type=float, default=0.0, show_default=True,
              help="Relative tolerance, times max(|a|, |b|) of the cell, added to --tol.")
@click.option("--json", "as_json", is_flag=True, help="Everything as JSON, every frame.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar; only the verdict line.")
def diff_cmd(a: str, b: str, tol: float, rtol: float, as_json: bool, quiet: bool) -> int:
    """Compare the frames of two runs' HDF5 files A and B, as h5diff does.

    Exit status 0 when equal (within --tol/--rtol), 1 when not (other grids, other frame
    counts, or a frame beyond the tolerance), 2 when a file cannot be read. NaN equals NaN.
    """
    r = diff_files(a, b, tol, rtol, progress=not (quiet or as_json))
    if as_json:
        click.echo(json.dumps(r.as_dict(), default=str))
    else:
        click.echo(verdict(r) if quiet else format_diff(r))
    return 0 if r.equal else 1
