"""Which block of the grid each rank owns: a 2-D Cartesian grid of ranks, uneven splits allowed.

Pure arithmetic on shapes plus the creation of the Cartesian communicator; no kernels, no halo.
Rank (i, j) of a ``dims = (P, Q)`` grid owns rows ``split(nbrow, P)[i]`` and columns
``split(nbcol, Q)[j]``. The first ``n % P`` blocks get one row more, so blocks differ by at most
one row (or column) and every rank does nearly the same work.
"""

from __future__ import annotations

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


def parse_dims(text: str | None) -> tuple[int, int] | None:
    """``"2x3"`` -> (2, 3) (rank rows x rank columns); ``0`` lets MPI choose that factor.
    The command line reads it from ``GRAYSCOTT_MPI_DIMS``."""
    if text is None or text == "":
        return None
    parts = text.lower().split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if len(dims) != 2 or min(dims) < 0:
        raise GrayScottError(f"GRAYSCOTT_MPI_DIMS must look like 2x3 (rank rows x rank columns, "
                             f"0 to let MPI choose), got {text!r}")
    return dims  # type: ignore[return-value]


def choose_dims(size: int, shape: tuple[int, int],
                dims: tuple[int, int] | None = None) -> tuple[int, int]:
    """The rank grid: ``dims`` if given (zeros filled by ``MPI.Compute_dims``), else
    ``Compute_dims(size, 2)``, which puts the larger factor first: more ranks along rows, so
    that blocks are contiguous runs of rows when it can (cheaper halo columns and gathers).
    Refuses a grid that leaves a block under ``MIN_SIZE`` cells across."""
    from mpi4py import MPI

    want = list(dims) if dims is not None else [0, 0]
    fixed = [d for d in want if d]
    if any(d < 0 for d in want) or (fixed and size % _prod(fixed)):
        raise GrayScottError(f"rank layout {want[0]}x{want[1]} does not fit {size} ranks")
    if len(fixed) == 2 and _prod(fixed) != size:
        raise GrayScottError(f"rank layout {want[0]}x{want[1]} is {_prod(fixed)} ranks, "
                             f"the run has {size}")
    p, q = MPI.Compute_dims(size, want)
    nr, nc = shape
    if nr // p < MIN_SIZE or nc // q < MIN_SIZE:
        raise GrayScottError(
            f"{size} ranks as {p}x{q} cut the {nr}x{nc} grid into blocks smaller than "
            f"{MIN_SIZE}x{MIN_SIZE}; use fewer ranks or another layout (GRAYSCOTT_MPI_DIMS)")
    return p, q


def _prod(xs: list[int]) -> int:
    out = 1
    for x in xs:
        out *= x
    return out


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

    ``reorder=False`` keeps every rank's number, so rank 0 (which gathers and writes) owns the
    top-left block and block order is rank order.
    """
    p, q = choose_dims(comm.Get_size(), shape, dims)
    cart = comm.Create_cart((p, q), periods=(periodic, periodic), reorder=False)
    i, j = cart.Get_coords(cart.Get_rank())
    north, south = cart.Shift(0, 1)
    west, east = cart.Shift(1, 1)
    block = Block(dims=(p, q), coords=(i, j), rows=split(shape[0], p)[i],
                  cols=split(shape[1], q)[j], north=north, south=south, west=west, east=east,
                  periodic=periodic)
    return cart, block
