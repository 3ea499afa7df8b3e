"""Which block of the grid each rank owns: a 2-D Cartesian grid of ranks, uneven splits allowed.

Pure arithmetic on shapes plus the creation of the Cartesian communicator; no kernels, no halo.
Rank (i, j) of a ``dims = (P, Q)`` grid owns rows ``split(nbrow, P)[i]`` and columns
``split(nbcol, Q)[j]``. The first ``n % P`` blocks get one row more, so blocks differ by at most
one row (or column) and every rank does nearly the same work.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

from ..errors import GrayScottError
from ..physics.problem import MIN_SIZE


def split(n: int, parts: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of each of ``parts`` nearly equal pieces of ``range(n)``."""
    base, extra = divmod(n, parts)
    bounds, start = [], 0
    for p in range(parts):
        stop = start + base + (p < extra)
        bounds.append((start, stop))
        start = stop
    return bounds


def parse_dims(text: str | None, what: str = "--layout") -> tuple[int, int] | None:
    """``"2x3"`` -> (2, 3) (rank rows x rank columns); ``0`` lets the grid choose that factor;
    ``auto`` or empty -> None (the whole layout chosen for the grid). ``what`` names the
    option or variable in the error."""
    if text is None or text.strip().lower() in ("", "auto"):
        return None
    parts = text.lower().split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if len(dims) != 2 or min(dims) < 0:
        raise GrayScottError(f"{what} must look like 2x3 (rank rows x rank columns, 0 to let "
                             f"the grid choose one) or auto, got {text!r}")
    return dims  # type: ignore[return-value]


#: The eight directions (row step, column step) a halo message travels in.
DIRECTIONS = ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))


def halo_cells(shape: tuple[int, int], dims: tuple[int, int], coords: tuple[int, int],
               periodic: bool = False) -> int:
    """Cells of one field the block at ``coords`` of ``shape`` cut as ``dims`` sends per step
    (:func:`sent_cells`)."""
    (p, q), (i, j) = dims, coords
    r0, r1 = split(shape[0], p)[i]
    c0, c1 = split(shape[1], q)[j]
    return sent_cells((r1 - r0, c1 - c0), dims, coords, periodic)


def sent_cells(block: tuple[int, int], dims: tuple[int, int], coords: tuple[int, int],
               periodic: bool = False, depth: int = 1) -> int:
    """Cells of one field a ``block``-sized block at ``coords`` sends per exchange: ``depth``
    rows to each northern and southern neighbour, ``depth`` columns to each western and
    eastern one, ``depth`` x ``depth`` cells to each diagonal one. A message to oneself (alone
    along a periodic direction) is a copy, not counted."""
    (p, q), (i, j) = dims, coords
    cells = 0
    for di, dj in DIRECTIONS:
        ni, nj = i + di, j + dj
        if periodic:
            ni, nj = ni % p, nj % q
        elif not (0 <= ni < p and 0 <= nj < q):
            continue
        if (ni, nj) != (i, j):
            cells += (depth if di else block[0]) * (depth if dj else block[1])
    return cells


def rank_halo_bytes(shape: tuple[int, int], dims: tuple[int, int], periodic: bool = False,
                    itemsize: int = 4) -> tuple[int, int]:
    """(most bytes one rank sends per step, bytes all ranks send per step), U and V. Blocks
    are grouped by size and by whether they touch each end of the grid of ranks (all that
    :func:`sent_cells` depends on), so this costs the same for 10 ranks as for 10⁵."""
    def classes(n: int, parts: int) -> dict[tuple[int, bool, bool], tuple[int, int]]:
        out: dict[tuple[int, bool, bool], tuple[int, int]] = {}
        for i, (a, b) in enumerate(split(n, parts)):
            key = (b - a, i == 0, i == parts - 1)
            first, count = out.get(key, (i, 0))
            out[key] = (first, count + 1)
        return out

    most = total = 0
    for (h, *_), (i, nr) in classes(shape[0], dims[0]).items():
        for (w, *_), (j, nc) in classes(shape[1], dims[1]).items():
            size = 2 * itemsize * sent_cells((h, w), dims, (i, j), periodic)
            most, total = max(most, size), total + nr * nc * size
    return most, total


def fits(shape: tuple[int, int], dims: tuple[int, int]) -> bool:
    """Whether every block of ``dims`` is at least ``MIN_SIZE`` cells across."""
    return shape[0] // dims[0] >= MIN_SIZE and shape[1] // dims[1] >= MIN_SIZE


def choose_dims(size: int, shape: tuple[int, int], dims: tuple[int, int] | None = None,
                periodic: bool = False) -> tuple[int, int]:
    """The rank grid for ``size`` ranks on ``shape``: ``dims`` if given whole; else, among
    the layouts that match its fixed factor (if any) and leave every block at least
    ``MIN_SIZE`` across, the one whose busiest rank sends the fewest halo bytes (then the
    fewest in all, then more ranks along rows: contiguous row blocks). Refuses what fits no
    layout, in one line."""
    want = dims or (0, 0)
    candidates = [(p, size // p) for p in range(1, size + 1) if size % p == 0]
    candidates = [d for d in candidates if all(w in (0, x) for w, x in zip(want, d, strict=True))]
    name = f"{want[0]}x{want[1]}"
    if 0 not in want and want[0] * want[1] != size:
        raise GrayScottError(f"rank layout {name} is {want[0] * want[1]} ranks, the run has "
                             f"{size}")
    if not candidates:
        raise GrayScottError(f"rank layout {name} does not fit {size} ranks")
    fitting = [d for d in candidates if fits(shape, d)]
    if not fitting:
        which = (f"as {name}" if dims and 0 not in dims else "in any layout")
        raise GrayScottError(
            f"{size} ranks {which} cut the {shape[0]}x{shape[1]} grid into blocks smaller than "
            f"{MIN_SIZE}x{MIN_SIZE}; use fewer ranks" + ("" if which == "in any layout" else
                                                          " or another --layout"))
    return min(fitting, key=lambda d: (*rank_halo_bytes(shape, d, periodic), -d[0]))


#: Steps per exchange on the numba backends when not asked: one exchange's fixed cost and its
#: wait for the slower neighbour are then paid once per this many steps, for a few extra cells
#: a step (about DEPTH / 2 lines per side with a neighbour).
DEPTH = 4


def choose_depth(shape: tuple[int, int], block: Block, numba: bool,
                 asked: int | None) -> int:
    """The halo depth: ``asked``, or :data:`DEPTH` on numba backends and 1 on numpy ones;
    never more than the thinnest block along a cut direction (a neighbour sends its own
    lines only). The same on every rank: it depends on the grid and the layout only."""
    p, q = block.dims
    cut = [min(b - a for a, b in split(n, k)) for n, k in zip(shape, (p, q), strict=True)
           if k > 1 or block.periodic]
    thinnest = min(cut, default=shape[0])
    if asked is None:
        return min(DEPTH, thinnest) if numba else 1
    # From Python too: a float would reach the array shapes (numpy's integers are fine).
    if isinstance(asked, bool) or not isinstance(asked, numbers.Integral) or asked < 1:
        raise GrayScottError(f"--halo-depth must be an integer, at least 1, got {asked!r}")
    asked = int(asked)
    if asked > 1 and not numba:
        raise GrayScottError(f"--halo-depth {asked} needs the numba or numba-parallel backend "
                             f"(the numpy ones exchange one line a step)")
    if asked > thinnest:
        raise GrayScottError(f"--halo-depth {asked} is deeper than the thinnest block "
                             f"({thinnest} lines across) of this layout; use at most {thinnest}")
    return asked


def format_dims(dims: tuple[int, int]) -> str:
    return f"{dims[0]}x{dims[1]}"


@dataclass(frozen=True)
class Block:
    """What one rank owns of the global grid, and who its neighbours are."""

    dims: tuple[int, int]
    coords: tuple[int, int]
    rows: tuple[int, int]  # [start, stop) in the global grid
    cols: tuple[int, int]
    #: neighbour ranks in the Cartesian communicator, MPI.PROC_NULL beyond a non-periodic border
    north: int
    south: int
    west: int
    east: int
    periodic: bool

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows[1] - self.rows[0], self.cols[1] - self.cols[0]

    @property
    def sides(self) -> tuple[bool, bool, bool, bool]:
        """(top, bottom, left, right): which sides lie on the global border (never, when
        periodic: the wrap is a halo exchange like any other)."""
        if self.periodic:
            return (False, False, False, False)
        (i, j), (p, q) = self.coords, self.dims
        return (i == 0, i == p - 1, j == 0, j == q - 1)

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(*self.rows), slice(*self.cols)


def blocks(shape: tuple[int, int], dims: tuple[int, int]) -> list[tuple[slice, slice]]:
    """The (rows, cols) slices of every rank's block, in Cartesian rank order (row-major
    coordinates, as ``Create_cart`` numbers ranks when it does not reorder)."""
    rows, cols = split(shape[0], dims[0]), split(shape[1], dims[1])
    return [(slice(*r), slice(*c)) for r in rows for c in cols]


def decompose(comm: Any, shape: tuple[int, int], periodic: bool,
              dims: tuple[int, int] | None = None) -> tuple[Any, Block]:
    """The Cartesian communicator over ``comm`` and this rank's :class:`Block`.

    ``reorder=False`` keeps every rank's number, so rank 0 owns the top-left block and block
    order is rank order.
    """
    p, q = choose_dims(comm.Get_size(), shape, dims, periodic)
    cart = comm.Create_cart((p, q), periods=(periodic, periodic), reorder=False)
    i, j = cart.Get_coords(cart.Get_rank())
    north, south = cart.Shift(0, 1)
    west, east = cart.Shift(1, 1)
    block = Block(dims=(p, q), coords=(i, j), rows=split(shape[0], p)[i],
                  cols=split(shape[1], q)[j], north=north, south=south, west=west, east=east,
                  periodic=periodic)
    return cart, block
