"""The steps of one block between two halo exchanges: ``depth`` steps per exchange.

With halos ``depth`` lines deep (``--halo-depth``), an exchange fills ``depth`` ghost lines on
every side with a neighbour; step ``j`` of the ``g`` that follow computes the block grown by
``g - 1 - j`` cells into those sides, the cells that the next steps read, so that after ``g``
steps the block is exact again with no other message:

    exchange -> step (block + g-1) -> step (block + g-2) -> ... -> step (block)

With a depth of 1 a step instead hides its exchange behind the block's *interior* (the cells
whose stencil reads no ghost): it starts the exchange, computes the interior while the
messages travel, waits for them, then computes the frame of one cell around it:

    exchange.start -> interior -> exchange.finish -> frame

Both are :func:`region`: a box of cells less a hole. Each cell is computed by the kernels of
``numba`` (:mod:`grayscott.backends.numba_kernels`): the same generic row loop on a piece of
the same row, or, for pieces of at most :data:`NARROW` cells, cell by cell with the same terms
in the same order, and the school-border correction on the same cells, so the result is bit
for bit that of :func:`step_rows` (no fastmath: the vector width does not change a sum).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from ..backends.numba_kernels import _INLINE, _OPTS, _cell, _lines_generic, _react
from ..physics import deficit, fill_ghosts
from ..physics.borders import FIXED_GHOST
from .halo import HaloExchange


@njit(**_INLINE)
def _fix(U, V, U2, V2, w, c, top, bottom, left, right, i, c0,
         c1):  # pragma: no cover  (compiled)
    """The school-border corrections of row ``i``, columns ``[c0, c1)``: the cells that
    :func:`_edges` redoes there."""
    nr = U.shape[0] - 2
    nc = U.shape[1] - 2
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


@njit(**_OPTS)
def _box_row(U, V, U2, V2, w, c, top, bottom, left, right, i, c0,
             c1):  # pragma: no cover  (compiled)
    """Row ``i``, columns ``[c0, c1)`` (padded indices): the row loop on that piece of the
    row, then the school-border corrections that :func:`_edges` makes on those columns."""
    a, b = c0 - 1, c1 + 1
    _lines_generic(U[i - 1, a:b], U[i, a:b], U[i + 1, a:b], V[i - 1, a:b], V[i, a:b],
                   V[i + 1, a:b], U2[i, a:b], V2[i, a:b], w, c, False)
    _fix(U, V, U2, V2, w, c, top, bottom, left, right, i, c0, c1)


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


#: Pieces of rows at most this wide are computed cell by cell (:func:`_side_cell`): slicing a
#: row costs more than the cells of a narrow piece.
NARROW = 8


@njit(**_OPTS)
def _band(U, V, U2, V2, w, c, top, bottom, left, right, r0, r1, c0,
          c1):  # pragma: no cover  (compiled)
    """Rows ``[r0, r1)``, columns ``[c0, c1)``: row by row, or cell by cell when narrow."""
    if c1 - c0 > NARROW:
        for i in range(r0, r1):
            _box_row(U, V, U2, V2, w, c, top, bottom, left, right, i, c0, c1)
        return
    for i in range(r0, r1):
        for j in range(c0, c1):
            _side_cell(U, V, U2, V2, w, c, i, j)
    if top.size or bottom.size or left.size or right.size:  # apart: a lean loop above
        for i in range(r0, r1):
            _fix(U, V, U2, V2, w, c, top, bottom, left, right, i, c0, c1)


@njit(**_OPTS)
def region(U, V, U2, V2, w, c, top, bottom, left, right, box,
           hole):  # pragma: no cover  (compiled)
    """The cells of ``box`` (rows r0..r1-1, columns c0..c1-1, padded indices) not in ``hole``
    (a box inside it, or empty), one thread."""
    r0, r1, c0, c1 = box
    h0, h1, k0, k1 = hole
    if h0 >= h1 or k0 >= k1:
        h0 = h1 = r1
    for i in range(r0, h0):
        _box_row(U, V, U2, V2, w, c, top, bottom, left, right, i, c0, c1)
    for i in range(h1, r1):
        _box_row(U, V, U2, V2, w, c, top, bottom, left, right, i, c0, c1)
    if h0 < h1:
        _band(U, V, U2, V2, w, c, top, bottom, left, right, h0, h1, c0, k0)
        _band(U, V, U2, V2, w, c, top, bottom, left, right, h0, h1, k1, c1)


@njit(parallel=True, **_OPTS)
def region_parallel(U, V, U2, V2, w, c, top, bottom, left, right, box,
                    hole):  # pragma: no cover  (compiled)
    """:func:`region` with the rows of its wide parts shared among numba's threads."""
    r0, r1, c0, c1 = box
    h0, h1, k0, k1 = hole
    if h0 >= h1 or k0 >= k1:
        h0 = h1 = r1
    for i in prange(r0, h0):
        _box_row(U, V, U2, V2, w, c, top, bottom, left, right, i, c0, c1)
    for i in prange(h1, r1):
        _box_row(U, V, U2, V2, w, c, top, bottom, left, right, i, c0, c1)
    if h0 < h1:
        _band(U, V, U2, V2, w, c, top, bottom, left, right, h0, h1, c0, k0)
        _band(U, V, U2, V2, w, c, top, bottom, left, right, h0, h1, k1, c1)


def _shrink(box: tuple[int, int, int, int], by: tuple[int, int, int, int]) -> tuple[int, ...]:
    return (box[0] + by[0], box[1] - by[1], box[2] + by[2], box[3] - by[3])


class OverlapStepper:
    """``numba`` and ``numba-parallel`` on one block, ``halo.depth`` steps per exchange.

    The stepper owns the fields: two pairs of U and V padded by ``halo.pads``, the backend's
    ``U``, ``V``, ``U2`` and ``V2`` being views of their block and its ring (so its
    ``set_state`` and ``get_state`` work unchanged; its own ``advance``, which fills the ring
    itself, is not used). With a halo ``depth`` deep, step ``j`` of ``g`` (g <= depth) after
    an exchange computes the block grown by ``g - 1 - j`` cells into each neighbour's side:
    the cells the next steps read, from ghosts that are still exact (into the left side,
    always ``depth - 1``: see :meth:`advance`). Exchanges: one per ``depth`` steps.
    """

    def __init__(self, inner: Any, halo: HaloExchange, border: str,
                 sides: tuple[bool, bool, bool, bool]) -> None:
        self.inner = inner
        self.halo = halo
        self.depth = halo.depth
        self.parallel = inner.name == "numba-parallel"
        self.kernel = region_parallel if self.parallel else region
        p = inner.problem
        pt, pb, pl, pr = halo.pads
        nr, nc = p.shape
        #: How far a step may reach into each side's ghosts (0 on a global side).
        self.reach = (pt - 1, pb - 1, pl - 1, pr - 1)
        self.block = (pt, pt + nr, pl, pl + nc)  # the block in padded indices
        #: At depth 1, the cells whose stencil reads no neighbour's ghost: computed while the
        #: messages travel.
        self.hole = _shrink(self.block, tuple(int(not s) for s in sides))
        grown = (nr + pt + pb - 2, nc + pl + pr - 2)
        d = deficit(p.stencil, border, grown, sides)
        d = None if d is None else d.astype(p.dtype)
        empty = np.zeros(0, p.dtype)
        self.strips = (empty,) * 4 if d is None else (d.top, d.bottom, d.left, d.right)
        self.fields = [np.zeros(halo.shape, p.dtype) for _ in range(4)]  # U, V, U2, V2
        if border != "periodic" and any(sides):  # constant ghosts, which nothing overwrites
            for k, f in enumerate(self.fields):
                fill_ghosts(f, border, FIXED_GHOST[k % 2], sides)
        self._show()

    def _show(self) -> None:
        """The backend's fields as views of ours (its get_state and set_state use them)."""
        r0, r1, c0, c1 = self.block
        view = (slice(r0 - 1, r1 + 1), slice(c0 - 1, c1 + 1))
        self.inner.U, self.inner.V, self.inner.U2, self.inner.V2 = (f[view] for f in self.fields)

    def compile(self) -> None:
        """Compile (or load from the cache) the kernel for this dtype, on a throwaway block."""
        z = np.zeros((5, 5), self.inner.problem.dtype)
        self._set_threads()
        self.kernel(z, z.copy(), z.copy(), z.copy(), self.inner.w, self.inner.c, *self.strips,
                    (1, 4, 1, 4), (2, 3, 2, 3))

    def _set_threads(self) -> None:
        if self.parallel:
            import numba

            numba.set_num_threads(self.inner.threads)

    def exchange(self) -> None:
        """One exchange alone on the current fields (what ``bench`` times)."""
        self.halo.fill(self.fields[0], self.fields[1])

    def advance(self, nsteps: int) -> None:
        w, c, strips, kernel, halo = self.inner.w, self.inner.c, self.strips, self.kernel, self.halo
        self._set_threads()
        none = (0, 0, 0, 0)
        while nsteps > 0:
            g = min(self.depth, nsteps)
            for j in range(g):
                grow = g - 1 - j
                top, bottom, _, right = (min(grow, r) for r in self.reach)
                # The left side keeps its whole reach: row pieces that start one cell later
                # each step (their vector loads aligned differently each step) made the rank
                # whose neighbour is on its left measurably slower than the other, which
                # then waited for it. The extra cells read stale ghosts; the steps left in
                # the group never read them back.
                box = _shrink(self.block, (-top, -bottom, -self.reach[2], -right))
                if j > 0:
                    kernel(*self.fields, w, c, *strips, box, none)
                elif self.depth > 1:  # one exchange for `depth` steps: no overlap (measured)
                    halo.fill(self.fields[0], self.fields[1])
                    kernel(*self.fields, w, c, *strips, box, none)
                else:  # the block's inside while the messages travel, then its frame
                    halo.start(self.fields[0], self.fields[1])
                    kernel(*self.fields, w, c, *strips, self.hole, none)
                    halo.finish()
                    kernel(*self.fields, w, c, *strips, box, self.hole)
                f = self.fields
                self.fields = [f[2], f[3], f[0], f[1]]
            nsteps -= g
        self._show()
