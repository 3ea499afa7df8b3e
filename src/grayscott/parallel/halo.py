"""The ghost ring of one rank's block: the border rule on global sides, neighbours elsewhere.

A block's ring is filled in three steps so that corners need no message of their own:

1. the sides that lie on the global border get the border rule (ghosts 0 for ``school``, U=1,
   V=0 for ``fixed``), the whole side, corners included;
2. rows: the first and last interior rows (interior columns only) go north and south;
3. columns: the first and last interior columns go west and east *full height*, ghost rows
   included, so the corner ghosts arrive with them, already filled by steps 1 and 2 on the
   neighbour.

``periodic`` has no global side: the Cartesian communicator is periodic and the wrap is an
exchange like any other (with oneself when one rank spans a direction). U and V travel in one
message per direction (4 ``Sendrecv`` per step), packed into small contiguous buffers: the copy
is O(perimeter) and a strided column needs one anyway.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..physics import fill_ghosts
from ..physics.borders import FIXED_GHOST
from .decomposition import Block


class HaloExchange:
    """Fill the ghost rings of a rank's padded U and V; counts the time and bytes it takes."""

    def __init__(self, cart: Any, block: Block, border: str, dtype: np.dtype) -> None:
        from mpi4py import MPI

        self.cart = cart
        self.block = block
        self.border = border
        self.null = MPI.PROC_NULL
        nr, nc = block.shape
        self.rows_out = np.empty((2, nc), dtype)
        self.rows_in = np.empty((2, nc), dtype)
        self.cols_out = np.empty((2, nr + 2), dtype)
        self.cols_in = np.empty((2, nr + 2), dtype)
        self.sides = block.sides
        self.rule = border != "periodic" and any(self.sides)
        #: Seconds spent in :meth:`fill` (border rule, packing and messages).
        self.seconds = 0.0
        #: CPU seconds of this process in :meth:`fill` (MPICH polls while it waits).
        self.cpu_seconds = 0.0
        n = sum(x != self.null for x in (block.north, block.south)) * nc
        n += sum(x != self.null for x in (block.west, block.east)) * (nr + 2)
        #: Bytes this rank sends per exchange (U and V).
        self.bytes_per_call = 2 * n * np.dtype(dtype).itemsize

    def fill(self, U: np.ndarray, V: np.ndarray) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        if self.rule:
            fill_ghosts(U, self.border, FIXED_GHOST[0], self.sides)
            fill_ghosts(V, self.border, FIXED_GHOST[1], self.sides)
        b = self.block
        # Rows, interior columns: my first row is my northern neighbour's bottom ghost row.
        self._swap(U, V, (1, slice(1, -1)), b.north, (-1, slice(1, -1)), b.south,
                   self.rows_out, self.rows_in, tag=0)
        self._swap(U, V, (-2, slice(1, -1)), b.south, (0, slice(1, -1)), b.north,
                   self.rows_out, self.rows_in, tag=1)
        # Columns, full height: the corners come with them.
        self._swap(U, V, (slice(None), 1), b.west, (slice(None), -1), b.east,
                   self.cols_out, self.cols_in, tag=2)
        self._swap(U, V, (slice(None), -2), b.east, (slice(None), 0), b.west,
                   self.cols_out, self.cols_in, tag=3)
        self.seconds += time.perf_counter() - t0
        self.cpu_seconds += time.process_time() - c0

    def _swap(self, U: np.ndarray, V: np.ndarray, send_at: tuple, dest: int, recv_at: tuple,
              source: int, out: np.ndarray, into: np.ndarray, tag: int) -> None:
        """Send U, V at ``send_at`` to ``dest``; receive ``source``'s into U, V at ``recv_at``."""
        if dest == self.null and source == self.null:
            return
        if dest != self.null:
            out[0] = U[send_at]
            out[1] = V[send_at]
        self.cart.Sendrecv(out, dest, tag, into, source, tag)
        if source != self.null:  # beyond a global border the rule already filled the ghosts
            U[recv_at] = into[0]
            V[recv_at] = into[1]
