"""The classic (F, k) map: one tile per member, F growing upwards, k to the right.

matplotlib is imported here only (``pip install 'grayscott[plot]'``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GrayScottError
from ..io.paths import check_writable_file

#: Largest side of the mosaic in pixels: bigger tiles are decimated to fit.
MAX_PIXELS = 3000
#: What the tiles can be coloured by: V itself, or a descriptor (:mod:`.descriptors`).
COLOUR_BY = ("v", "class", "coverage", "spots", "change")
#: One colour per class code (died out, uniform, patterned, blew up).
CLASS_COLOURS = ("#404040", "#3b75af", "#ef8636", "#c0392b")


def _decimation(n: int, m: int, r: int, c: int, max_pixels: int) -> int:
    """The smallest whole factor that fits n x m tiles of r x c in ``max_pixels`` a side once
    decimated (rows kept: ceil(r / step)), so a mosaic of decimated tiles is not cut again."""
    step = max(1, math.ceil(max(n * r, m * c) / max_pixels))
    while step < max(r, c) and (n * -(-r // step) > max_pixels
                                or m * -(-c // step) > max_pixels):  # one pixel a tile at most
        step += 1
    return step


def mosaic(v: np.ndarray, gap: int = 1, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """The tiles of ``v`` (N, M, R, C) as one 2-D array, F (axis 0) upwards, NaN in the gaps;
    tiles are decimated by a whole factor when the mosaic would exceed ``max_pixels``."""
    n, m, r, c = v.shape
    step = _decimation(n, m, r, c, max_pixels)
    tiles = v[:, :, ::step, ::step]
    tr, tc = tiles.shape[2:]
    out = np.full((n * (tr + gap) - gap, m * (tc + gap) - gap), np.nan, dtype=np.float32)
    for i in range(n):
        row = (n - 1 - i) * (tr + gap)  # highest F on top
        for j in range(m):
            col = j * (tc + gap)
            out[row:row + tr, col:col + tc] = tiles[i, j]
    return out


def read_for_map(path: str | os.PathLike, max_pixels: int = MAX_PIXELS,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(v, feed, kill) of a sweep file, ``v`` read already decimated as :func:`mosaic` would
    (a big sweep is never read whole just to be drawn). Members a stopped or killed sweep did
    not finish are NaN: blank tiles."""
    import h5py

    from .hdf5 import _mask_unfinished

    with h5py.File(path, "r") as f:
        n, m, r, c = f["v"].shape
        step = _decimation(n, m, r, c, max_pixels)
        v = _mask_unfinished(f, f["v"][:, :, ::step, ::step])
        return v, f["feed"][...], f["kill"][...]


def _labels(values: np.ndarray) -> list[str]:
    """Shortest labels that tell the values apart (rates need 3 to 5 digits)."""
    for digits in range(2, 8):
        labels = [f"{x:.{digits}g}" for x in values]
        if len(set(labels)) == len(labels):
            return labels
    return [f"{x:g}" for x in values]


def tile_axis(values: np.ndarray) -> Any:
    """The map from a rate to the tile coordinate (tile t spans [t, t + 1], its rate at the
    centre), linear as the sweep's ranges are; None for a single value."""
    if len(values) < 2:
        return None
    v0, step = float(values[0]), float(values[1] - values[0])
    return lambda x: 0.5 + (np.asarray(x) - v0) / step


def _colour_tiles(ax: Any, values: np.ndarray, colour_by: str, n: int, m: int) -> None:
    """Paint each tile by its descriptor, with a colour bar (class: its labels)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from .descriptors import CLASSES

    extent = (0, m, 0, n)
    if colour_by == "class":
        shown = np.ma.masked_less(values, 0)  # -1: not written
        image = ax.imshow(shown, cmap=ListedColormap(CLASS_COLOURS), vmin=-0.5, vmax=3.5,
                          origin="lower", extent=extent, interpolation="nearest", aspect="auto")
        bar = plt.colorbar(image, ax=ax, ticks=range(len(CLASSES)))
        bar.ax.set_yticklabels(CLASSES)
        return
    shown = np.ma.masked_invalid(np.where(values < 0, np.nan, values).astype(float))
    image = ax.imshow(shown, cmap="viridis", origin="lower", extent=extent,
                      interpolation="nearest", aspect="auto")
    plt.colorbar(image, ax=ax, label=colour_by)


def draw_map(v: np.ndarray, feed: np.ndarray, kill: np.ndarray, ax: Any = None,
             cmap: str = "inferno", title: str | None = None, colour_by: str = "v",
             descriptors: dict[str, np.ndarray] | None = None, lines: bool = False) -> Any:
    """Draw the map on a matplotlib ``ax`` (a new figure if None); returns the axes.

    ``colour_by`` a descriptor (one of :data:`COLOUR_BY` but "v", taken from ``descriptors``,
    (N, M) arrays): each tile is painted by it, V drawn over it in grey. ``lines``: Pearson's
    saddle-node and Hopf lines (:mod:`grayscott.physics.homogeneous`) over the tiles."""
    import matplotlib.pyplot as plt

    if colour_by not in COLOUR_BY:
        raise GrayScottError(f"colour by {colour_by!r}: choose one of {', '.join(COLOUR_BY)}")
    if colour_by != "v" and (descriptors is None or colour_by not in descriptors):
        raise GrayScottError(f"colour by {colour_by!r} needs the sweep's descriptors")

    n, m = v.shape[:2]
    if ax is None:
        width = min(14.0, 1.2 + 1.6 * m)
        height = min(14.0, 1.0 + 1.6 * n * v.shape[2] / v.shape[3])
        _, ax = plt.subplots(figsize=(width, height), layout="constrained")
    finite = v[np.isfinite(v)]
    vmax = float(finite.max()) if finite.size else 1.0
    image = np.ma.masked_invalid(mosaic(v))
    colours = plt.get_cmap(cmap).with_extremes(bad="white")  # the gaps between tiles
    if colour_by != "v":
        _colour_tiles(ax, descriptors[colour_by], colour_by, n, m)
        colours = plt.get_cmap("gray").with_extremes(bad="white")
    ax.imshow(image, cmap=colours, vmin=0.0, vmax=max(vmax, 1e-6), extent=(0, m, 0, n),
              interpolation="nearest", aspect=v.shape[2] / v.shape[3],
              alpha=None if colour_by == "v" else 0.5)
    to_x, to_y = tile_axis(kill), tile_axis(feed)
    if lines and to_x is not None and to_y is not None:
        from ..physics.homogeneous import draw_lines

        draw_lines(ax, to_x, to_y)
    ax.set_xticks(np.arange(m) + 0.5, _labels(kill), rotation=90 if m > 8 else 0)
    ax.set_yticks(np.arange(n) + 0.5, _labels(feed))
    ax.set_xlabel("kill rate k")
    ax.set_ylabel("feed rate F")
    ax.tick_params(length=0)
    if title:
        ax.set_title(title)
    return ax


def save_map(v: np.ndarray, feed: np.ndarray, kill: np.ndarray, path: str | os.PathLike,
             overwrite: bool = False, cmap: str = "inferno", title: str | None = None,
             dpi: int = 100, colour_by: str = "v",
             descriptors: dict[str, np.ndarray] | None = None, lines: bool = False) -> Path:
    """Write the map as an image (PNG, SVG, PDF: by the extension); ``colour_by``,
    ``descriptors`` and ``lines`` as :func:`draw_map`."""
    path = check_writable_file(path, "--image", overwrite)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise GrayScottError("--image needs matplotlib: pip install 'grayscott[plot]'") from None
    import matplotlib.pyplot as plt  # no display: matplotlib falls back to Agg by itself

    ax = draw_map(v, feed, kill, cmap=cmap, title=title, colour_by=colour_by,
                  descriptors=descriptors, lines=lines)
    ax.figure.savefig(path, dpi=dpi)
    plt.close(ax.figure)
    return path



def _span(rates: np.ndarray) -> tuple[float, float]:
    """Where the image spans along one axis: cell centres at the rates, so half a cell beyond
    the first and last ones; an axis of one rate (a map's "0.05:0.05") gets 5 % of it on each
    side (at least 0.001), not a zero width that draws nothing."""
    first, last = float(rates[0]), float(rates[-1])
    half = (last - first) / max(len(rates) - 1, 1) / 2
    if half == 0:
        half = max(abs(first) * 0.05, 1e-3)
    return first - half, last + half


def draw_rate_map(v: np.ndarray, feed: np.ndarray, kill: np.ndarray, ax: Any = None,
                  cmap: str = "inferno", title: str | None = None, lines: bool = False) -> Any:
    """Draw one frame ``v`` (R, C) of a ``run --map`` (row i has ``feed[i]``, column j
    ``kill[j]``) on k-F axes, F upwards; ``lines``: Pearson's saddle-node and Hopf lines.
    Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 6), layout="constrained")
    extent = (*_span(kill), *_span(feed))
    image = ax.imshow(v, cmap=cmap, origin="lower", extent=extent, aspect="auto",
                      interpolation="nearest")
    plt.colorbar(image, ax=ax, label="V")
    ax.set_xlabel("kill rate k")
    ax.set_ylabel("feed rate F")
    if lines:
        from ..physics.homogeneous import draw_lines

        draw_lines(ax)
    if title:
        ax.set_title(title)
    return ax


def read_rate_map(path: str | os.PathLike, frame: int = -1,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(V of ``frame``, feed per row, kill per column) of a ``run --map`` file; ``frame``
    counts among the frames written (-1: the last of them)."""
    return read_rate_map_step(path, frame)[:3]


def read_rate_map_step(path: str | os.PathLike, frame: int = -1,
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int | None]:
    """:func:`read_rate_map` and the step of that frame (None where the file does not say)."""
    from ..io.readers import frames_available, open_run
    from ..physics import parse_map

    with open_run(path) as f:
        spec = f.attrs.get("map")
        if spec is None:
            raise GrayScottError(f"{str(path)!r} is not a map run (no attribute map)")
        n = frames_available(f)
        if not -n <= frame < n:
            raise GrayScottError(f"{str(path)!r} holds {n} frame(s) written: frame {frame} "
                                 f"is not one of them")
        shape = f["matrix"].shape[1:]
        v = f["matrix"][frame % n]
        step = _frame_step(f, frame % n)
    rmap = parse_map(spec.decode() if isinstance(spec, bytes) else str(spec), shape)
    return v, np.asarray(rmap.feed), np.asarray(rmap.kill), step


def _frame_step(f: Any, i: int) -> int | None:
    """Step of frame ``i``: the ``step`` scale, else ``nbextrastep`` per frame; None when
    neither reads as a count (a damaged file still draws)."""
    from ..io.readers import _value

    try:
        step = int(f["step"][i]) if "step" in f else (i + 1) * int(_value(f, "nbextrastep"))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return step if step >= 0 else None


def save_rate_map(v: np.ndarray, feed: np.ndarray, kill: np.ndarray, path: str | os.PathLike,
                  overwrite: bool = False, **draw: Any) -> Path:
    """Write :func:`draw_rate_map` of one frame as an image (by the extension)."""
    import matplotlib.pyplot as plt

    path = check_writable_file(path, "--output", overwrite)
    ax = draw_rate_map(v, feed, kill, **draw)
    ax.figure.savefig(path)
    plt.close(ax.figure)
    return path
