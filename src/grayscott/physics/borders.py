"""Borders (docs/model.md §2) expressed as a ghost ring plus a per-cell centre correction.

Every kernel in this package works on *padded* fields of shape ``(nbrow + 2, nbcol + 2)``: the
interior is the grid, the outer ring holds ghost values. A kernel computes, for each interior cell,

    lap = sum_n w_n * X[n] - (S - deficit[c]) * X[c],   S = sum_n w_n

and never asks where the ghosts came from. That is what lets the same kernel advance a block whose
ghosts are filled by a halo exchange (MPI) or by a neighbouring tile.

* ``periodic``: ghosts hold the wrapped-around values; deficit = 0.
* ``fixed``: ghosts hold U = 1, V = 0; deficit = 0.
* ``school``: a neighbour outside the grid contributes nothing to ``sum w_n (x[n] - x[c])``.
  With ghosts = 0 the first sum already skips it; the centre term must then only count the
  neighbours inside, so ``deficit[c]`` is the weight of the neighbours outside. It is non-zero on
  the outer rows and columns only, kept as four strips so kernels correct O(perimeter) cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import GrayScottError
from .stencils import Stencil

BORDERS: tuple[str, ...] = ("school", "periodic", "fixed")

#: Ghost values of (U, V) for the ``fixed`` border.
FIXED_GHOST = (1.0, 0.0)


def check_border(name: str) -> str:
    if name not in BORDERS:
        raise GrayScottError(f"unknown border {name!r}; choose one of: {', '.join(BORDERS)}")
    return name


def fill_ghosts(field: np.ndarray, border: str, fixed_value: float = 0.0,
                sides: tuple[bool, bool, bool, bool] = (True, True, True, True)) -> None:
    """Fill the ghost ring of one padded field in place.

    ``sides`` (top, bottom, left, right) says which sides are the global border; a block of a
    decomposed grid leaves the others to its halo exchange. ``periodic`` needs all four sides
    (the wrap is a halo exchange with oneself).
    """
    top, bottom, left, right = sides
    if border == "periodic":
        field[0, 1:-1] = field[-2, 1:-1]
        field[-1, 1:-1] = field[1, 1:-1]
        field[:, 0] = field[:, -2]
        field[:, -1] = field[:, 1]
        return
    value = fixed_value if border == "fixed" else 0.0
    if top:
        field[0, :] = value
    if bottom:
        field[-1, :] = value
    if left:
        field[:, 0] = value
    if right:
        field[:, -1] = value


@dataclass(frozen=True)
class Deficit:
    """Centre correction of the school border, as strips along the four sides.

    ``top`` and ``bottom`` span the whole first and last rows (corners included), ``left`` and
    ``right`` rows 1 .. nbrow-2 of the first and last columns. A kernel adds
    ``strip * X[strip cells]`` to the Laplacian there.
    """

    top: np.ndarray
    bottom: np.ndarray
    left: np.ndarray
    right: np.ndarray

    def astype(self, dtype: np.dtype) -> Deficit:
        return Deficit(*(np.ascontiguousarray(s, dtype=dtype)
                         for s in (self.top, self.bottom, self.left, self.right)))

    def as_field(self, shape: tuple[int, int]) -> np.ndarray:
        """The same correction as a full (nbrow, nbcol) array (for simple kernels and tests)."""
        d = np.zeros(shape)
        d[0, :] += self.top
        d[-1, :] += self.bottom
        d[1:-1, 0] += self.left
        d[1:-1, -1] += self.right
        return d


def deficit(stencil: Stencil, border: str, shape: tuple[int, int],
            sides: tuple[bool, bool, bool, bool] = (True, True, True, True)) -> Deficit | None:
    """Weights of the outside neighbours of each edge cell, or None when nothing is to correct."""
    if border != "school" or not any(sides):
        return None
    nr, nc = shape
    w = stencil.weights
    top, bottom, left, right = sides

    def outside(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Summed weights of the neighbours of cells (rows x cols) that lie outside a
        corrected side; only edge cells are ever asked, so the cost is that of the edges."""
        rows, cols = rows[:, None], cols[None, :]
        total = np.zeros((rows.shape[0], cols.shape[1]))
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                if (di, dj) == (0, 0) or w[di + 1, dj + 1] == 0:
                    continue
                out = np.zeros(total.shape, dtype=bool)
                if top:
                    out |= rows + di < 0
                if bottom:
                    out |= rows + di >= nr
                if left:
                    out |= cols + dj < 0
                if right:
                    out |= cols + dj >= nc
                total += w[di + 1, dj + 1] * out
        return total

    every_col, inner_rows = np.arange(nc), np.arange(1, nr - 1)
    result = Deficit(top=outside(np.array([0]), every_col)[0],
                     bottom=outside(np.array([nr - 1]), every_col)[0],
                     left=outside(inner_rows, np.array([0]))[:, 0],
                     right=outside(inner_rows, np.array([nc - 1]))[:, 0])
    if not (result.top.any() or result.bottom.any() or result.left.any() or result.right.any()):
        return None
    return result
