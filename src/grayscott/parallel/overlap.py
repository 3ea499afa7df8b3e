"""One step of a block with its halo exchange hidden behind the interior's compute.

A block's cells split in two: the *interior* (rows 2 .. nr-1, columns 2 .. nc-1 in padded
indices), whose stencil reads no ghost cell, and the *frame* around it (the first and last
rows and columns), which does. A step starts the exchange, computes the interior while the
messages travel, waits for them, then computes the frame:

    exchange.start -> interior -> exchange.finish -> frame

Each cell is computed by the kernels of ``numba`` (:mod:`grayscott.backends.numba_kernels`):
the same generic row loop on a shorter piece of the same row, and the school-border
correction on the same cells, so the result is bit for bit that of :func:`step_rows` (no
fastmath: the vector width does not change a sum).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from ..backends.numba_kernels import _INLINE, _OPTS, _cell, _lines_generic, _react
from .halo import HaloExchange


@njit(**_OPTS)
def _box_row(U, V, U2, V2, w, c, top, bottom, left, right, i, c0,
             c1):  # pragma: no cover  (compiled)
    """Row ``i``, columns ``[c0, c1)`` (padded indices): the row loop on that piece of the
    row, then the school-border corrections that :func:`_edges` makes on those columns."""
    nr = U.shape[0] - 2
    nc = U.shape[1] - 2
    a, b = c0 - 1, c1 + 1
    _lines_generic(U[i - 1, a:b], U[i, a:b], U[i + 1, a:b], V[i - 1, a:b], V[i, a:b],
                   V[i + 1, a:b], U2[i, a:b], V2[i, a:b], w, c, False)
    if i == 1 and top.size:
        for j in range(c0, c1):
            _cell(U, V, U2, V2, i, j, w, c, top[j - 1])
    elif i == nr and bottom.size:
        for j in range(c0, c1):
            _cell(U, V, U2, V2, i, j, w, c, bottom[j - 1])
    elif 1 < i < nr:
        if left.size and c0 <= 1 < c1:
            _cell(U, V, U2, V2, i, 1, w, c, left[i - 2])
        if right.size and c0 <= nc < c1:
            _cell(U, V, U2, V2, i, nc, w, c, right[i - 2])


@njit(**_INLINE)
def _side_cell(U, V, U2, V2, w, c, i, j):  # pragma: no cover  (compiled)
    """Cell (i, j) as :func:`_lines_generic` computes it (same terms, same order), without a
    row's slicing: the frame's columns are one cell wide."""
    lu = (w[0] * U[i - 1, j - 1] + w[1] * U[i - 1, j] + w[2] * U[i - 1, j + 1]
          + w[3] * U[i, j - 1] + w[4] * U[i, j] + w[5] * U[i, j + 1]
          + w[6] * U[i + 1, j - 1] + w[7] * U[i + 1, j] + w[8] * U[i + 1, j + 1])
    lv = (w[0] * V[i - 1, j - 1] + w[1] * V[i - 1, j] + w[2] * V[i - 1, j + 1]
          + w[3] * V[i, j - 1] + w[4] * V[i, j] + w[5] * V[i, j + 1]
          + w[6] * V[i + 1, j - 1] + w[7] * V[i + 1, j] + w[8] * V[i + 1, j + 1])
    U2[i, j], V2[i, j] = _react(U[i, j], V[i, j], lu, lv, c[0], c[1], c[2], c[3], c[4], c[5],
                                False)


@njit(**_OPTS)
def interior(U, V, U2, V2, w, c, top, bottom, left, right):  # pragma: no cover  (compiled)
    """The cells whose stencil reads no ghost, one thread."""
    nr = U.shape[0] - 2
    nc = U.shape[1] - 2
    for i in range(2, nr):
        _box_row(U, V, U2, V2, w, c, top, bottom, left, right, i, 2, nc)


@njit(parallel=True, **_OPTS)
def interior_parallel(U, V, U2, V2, w, c, top, bottom, left,
                      right):  # pragma: no cover  (compiled)
    """:func:`interior` with its rows shared among numba's threads."""
    nr = U.shape[0] - 2
    nc = U.shape[1] - 2
    for i in prange(2, nr):
        _box_row(U, V, U2, V2, w, c, top, bottom, left, right, i, 2, nc)


@njit(**_OPTS)
def frame(U, V, U2, V2, w, c, top, bottom, left, right):  # pragma: no cover  (compiled)
    """The cells around the interior (they read ghosts): first and last rows, then the first
    and last columns between them."""
    nr = U.shape[0] - 2
    nc = U.shape[1] - 2
    _box_row(U, V, U2, V2, w, c, top, bottom, left, right, 1, 1, nc + 1)
    _box_row(U, V, U2, V2, w, c, top, bottom, left, right, nr, 1, nc + 1)
    for i in range(2, nr):
        _side_cell(U, V, U2, V2, w, c, i, 1)
        _side_cell(U, V, U2, V2, w, c, i, nc)
        if left.size:  # the school border's correction, as _edges makes it
            _cell(U, V, U2, V2, i, 1, w, c, left[i - 2])
        if right.size:
            _cell(U, V, U2, V2, i, nc, w, c, right[i - 2])


class OverlapStepper:
    """``numba`` and ``numba-parallel`` on one block: each step starts the exchange, computes
    the interior, waits, computes the frame (the backend's own ``advance`` fills the ring
    itself, so it is not used here)."""

    def __init__(self, inner: Any, strips: tuple[np.ndarray, ...], halo: HaloExchange) -> None:
        self.inner = inner
        self.halo = halo
        self.strips = strips
        self.parallel = inner.name == "numba-parallel"
        self.inside = interior_parallel if self.parallel else interior

    def compile(self) -> None:
        """Compile (or load from the cache) the kernels for this dtype, on a throwaway block."""
        z = np.zeros((5, 5), self.inner.problem.dtype)
        self._set_threads()
        for kernel in (self.inside, frame):
            kernel(z, z.copy(), z.copy(), z.copy(), self.inner.w, self.inner.c, *self.strips)

    def _set_threads(self) -> None:
        if self.parallel:
            import numba

            numba.set_num_threads(self.inner.threads)

    def advance(self, nsteps: int) -> None:
        inner, halo = self.inner, self.halo
        w, c, strips = inner.w, inner.c, self.strips
        self._set_threads()
        for _ in range(nsteps):
            U, V, U2, V2 = inner.U, inner.V, inner.U2, inner.V2
            halo.start(U, V)
            self.inside(U, V, U2, V2, w, c, *strips)
            halo.finish()
            frame(U, V, U2, V2, w, c, *strips)
            inner.U, inner.U2 = U2, U
            inner.V, inner.V2 = V2, V
