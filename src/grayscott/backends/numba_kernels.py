"""Compiled kernels shared by the ``numba`` and ``numba-parallel`` backends.

Everything works on padded fields (ghost ring, see :mod:`grayscott.physics.borders`):

* :func:`fill_ghosts` fills the ring of one field by the border rule;
* :func:`step_rows` computes the interior rows ``[r0, r1)`` of the next state from the current
  one and never looks at where the ghosts came from, so it can advance a block whose ring a halo
  exchange or a neighbouring tile filled;
* :func:`advance` and :func:`advance_parallel` run the whole ``nsteps`` loop (ghost fill, step,
  buffer swap) in compiled code, one thread or ``prange`` over rows;
* :func:`row_lines`, :func:`edges_lines` do a row's work on 1-D rows taken from anywhere (the
  ring buffers of ``numba-blocked``), with loops specialised by :func:`row_kind` for unit
  weights and a unit time step (exact: ``1 * x`` is ``x``, same terms in the same order).

The arithmetic is the school's, in the order of its NumPy expression (``numpy-school``): the nine
stencil terms summed left to right in row-major order with the centre weight in place, then the
school-border correction ``lap += deficit * x`` on the edge cells, then
``u + dt * (Du * lap_u - u*v*v + F * (1 - u))``. Nothing is reassociated and no FMA contraction is
allowed (no ``fastmath``), so the result does not depend on the vector width or on the number of
threads: ``numba`` and ``numba-parallel`` agree bit for bit.

Weights, rates and deficit strips are runtime arrays of the field's dtype, so one compilation per
dtype serves every stencil and border; all of them are cached on disk (``cache=True``).

``mask`` (last argument, default 0: IEEE) is an MXCSR mask set in every thread that computes, for
the duration of the call, and restored after (:mod:`.fpmode`): :data:`~.fpmode.FLUSH` flushes
subnormals to zero, the ``subnormals="flush"`` option. The arithmetic is the same either way.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .fpmode import enter, leave

#: Border codes of the compiled ghost fill.
SCHOOL, PERIODIC, FIXED = 0, 1, 2
BORDER_CODES = {"school": SCHOOL, "periodic": PERIODIC, "fixed": FIXED}

# No fastmath: it would allow reassociation and FMA contraction, i.e. results that change with
# the vector width. The loops vectorize without it (each cell is independent).
_OPTS = dict(cache=True, nogil=True, boundscheck=False, error_model="numpy")
# The row loops are inlined into their callers by numba itself: a call per row that passes eight
# array views costs about a tenth of a 1920-cell row (argument structs, reference counts).
_INLINE = dict(_OPTS, inline="always")


def constants(du: float, dv: float, f: float, k: float, dt: float, dtype: np.dtype) -> np.ndarray:
    """The rates as one array of the field's dtype, in the order the kernels read them.

    ``F + k`` is summed in double precision and rounded once, as NumPy does with ``(F + k) * v``.
    """
    return np.array([du, dv, f, f + k, dt, 1.0], dtype=dtype)


@njit(**_OPTS)
def fill_ghosts(X, border, value):  # pragma: no cover  (compiled)
    """Fill the ghost ring of padded ``X``: wrap-around (periodic) or the constant ``value``."""
    nr = X.shape[0] - 2
    nc = X.shape[1] - 2
    if border == PERIODIC:
        for j in range(1, nc + 1):
            X[0, j] = X[nr, j]
            X[nr + 1, j] = X[1, j]
        for i in range(nr + 2):  # corners follow the rows just filled
            X[i, 0] = X[i, nc]
            X[i, nc + 1] = X[i, 1]
    else:
        for j in range(nc + 2):
            X[0, j] = value
            X[nr + 1, j] = value
        for i in range(1, nr + 1):
            X[i, 0] = value
            X[i, nc + 1] = value


#: What :func:`stencil_kind` returns: which specialised loop computes a row.
GENERIC, ONES, CROSS = 0, 1, 2
#: Added to a stencil kind by :func:`row_kind` when ``dt`` is 1 (the school's time step).
UNIT_DT = 3


@njit(**_OPTS)
def stencil_kind(w):  # pragma: no cover  (compiled)
    """ONES when every neighbour weight is 1 (the school's stencil), CROSS when the edge
    neighbours weigh 1 and the corners 0 (``laplace5``), else GENERIC.

    Decided on the weights' values, so any stencil that has them gets the faster loop and the
    callers' signatures stay the same. The loops differ only by multiplications by 1, which are
    exact: the sums are the same terms in the same order, hence the same bits.
    """
    ones = w[1] == 1 and w[3] == 1 and w[5] == 1 and w[7] == 1
    if ones and w[0] == 1 and w[2] == 1 and w[6] == 1 and w[8] == 1:
        return ONES
    if ones and w[0] == 0 and w[2] == 0 and w[6] == 0 and w[8] == 0:
        return CROSS
    return GENERIC


@njit(**_OPTS)
def row_kind(w, c):  # pragma: no cover  (compiled)
    """The loop :func:`row_lines` runs: the :func:`stencil_kind`, plus :data:`UNIT_DT` when
    ``dt == 1``: ``1 * x`` is ``x`` for every x (signed zeros, inf and NaN included), so the
    two multiplications by dt are dropped with the same bits (measured ×1.16 on the school's
    loop: the loop is bound by its floating-point operations, 33 per cell with dt)."""
    return stencil_kind(w) + (UNIT_DT if c[4] == 1 else 0)


@njit(**_INLINE)
def _react(uc, vc, lu, lv, du, dv, f, fk, dt, one, unit_dt):  # pragma: no cover  (compiled)
    """The update of one cell from its Laplacians, in the school's order; ``unit_dt`` (a
    constant where it is inlined: folded, no branch in the loop) drops the exact ``1 *``. The
    rates come as scalars read before the loop (``c``, an array, might alias the output)."""
    uvv = uc * vc * vc
    if unit_dt:
        return uc + (du * lu - uvv + f * (one - uc)), vc + (dv * lv + uvv - fk * vc)
    return uc + dt * (du * lu - uvv + f * (one - uc)), vc + dt * (dv * lv + uvv - fk * vc)


@njit(**_INLINE)
def sum_generic(xm, x0, xp, j, ws):  # pragma: no cover  (compiled)
    """The weighted nine-point sum at column ``j + 1`` of three rows, left to right (``ws``:
    the nine weights as a tuple, so a loop keeps them in registers)."""
    return (ws[0] * xm[j] + ws[1] * xm[j + 1] + ws[2] * xm[j + 2]
            + ws[3] * x0[j] + ws[4] * x0[j + 1] + ws[5] * x0[j + 2]
            + ws[6] * xp[j] + ws[7] * xp[j + 1] + ws[8] * xp[j + 2])


@njit(**_INLINE)
def sum_ones(xm, x0, xp, j, w4):  # pragma: no cover  (compiled)
    """:func:`sum_generic` with the eight neighbour weights equal to 1: ``1 * x`` is ``x``
    exactly, so dropping the multiplication keeps every sum, in the same order, bit for bit."""
    return (xm[j] + xm[j + 1] + xm[j + 2]
            + x0[j] + w4 * x0[j + 1] + x0[j + 2]
            + xp[j] + xp[j + 1] + xp[j + 2])


@njit(**_INLINE)
def _lines_generic(um, u0, up, vm, v0, vp, uo, vo, w, c, unit_dt):  # pragma: no cover  (compiled)
    nc = uo.shape[0] - 2
    ws = (w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8])
    du, dv, f, fk, dt, one = c[0], c[1], c[2], c[3], c[4], c[5]
    for j in range(nc):
        lu = sum_generic(um, u0, up, j, ws)
        lv = sum_generic(vm, v0, vp, j, ws)
        uo[j + 1], vo[j + 1] = _react(u0[j + 1], v0[j + 1], lu, lv, du, dv, f, fk, dt, one,
                                      unit_dt)


@njit(**_INLINE)
def _lines_ones(um, u0, up, vm, v0, vp, uo, vo, w, c, unit_dt):  # pragma: no cover  (compiled)
    """:func:`_lines_generic` with the eight neighbour weights equal to 1 (:func:`sum_ones`)."""
    nc = uo.shape[0] - 2
    w4 = w[4]
    du, dv, f, fk, dt, one = c[0], c[1], c[2], c[3], c[4], c[5]
    for j in range(nc):
        lu = sum_ones(um, u0, up, j, w4)
        lv = sum_ones(vm, v0, vp, j, w4)
        uo[j + 1], vo[j + 1] = _react(u0[j + 1], v0[j + 1], lu, lv, du, dv, f, fk, dt, one,
                                      unit_dt)


@njit(**_INLINE)
def _lines_cross(um, u0, up, vm, v0, vp, uo, vo, w, c, unit_dt):  # pragma: no cover  (compiled)
    """``laplace5``: the unit weights dropped as in :func:`_lines_ones`. The zero-weight
    corner terms stay: ``0 * x`` is not always a no-op (``-0``, ``inf``, NaN), and dropping
    them could change a signed zero or hide a blow-up."""
    nc = uo.shape[0] - 2
    z, w4 = w[0], w[4]
    du, dv, f, fk, dt, one = c[0], c[1], c[2], c[3], c[4], c[5]
    for j in range(nc):
        lu = (z * um[j] + um[j + 1] + z * um[j + 2]
              + u0[j] + w4 * u0[j + 1] + u0[j + 2]
              + z * up[j] + up[j + 1] + z * up[j + 2])
        lv = (z * vm[j] + vm[j + 1] + z * vm[j + 2]
              + v0[j] + w4 * v0[j + 1] + v0[j + 2]
              + z * vp[j] + vp[j + 1] + z * vp[j + 2])
        uo[j + 1], vo[j + 1] = _react(u0[j + 1], v0[j + 1], lu, lv, du, dv, f, fk, dt, one,
                                      unit_dt)


@njit(**_INLINE)
def row_lines(um, u0, up, vm, v0, vp, uo, vo, w, c, kind):  # pragma: no cover  (compiled)
    """Interior of one output row pair (uo, vo) from the three padded input rows of U and V
    (above, same, below): the vectorized inner loop, specialised by ``kind``
    (:func:`row_kind`). Rows are 1-D, so a caller may take them from anywhere (a field, a
    ring buffer of a temporal-blocking wavefront)."""
    if kind == ONES + UNIT_DT:  # the school's problem first
        _lines_ones(um, u0, up, vm, v0, vp, uo, vo, w, c, True)
    elif kind == ONES:
        _lines_ones(um, u0, up, vm, v0, vp, uo, vo, w, c, False)
    elif kind == CROSS + UNIT_DT:
        _lines_cross(um, u0, up, vm, v0, vp, uo, vo, w, c, True)
    elif kind == CROSS:
        _lines_cross(um, u0, up, vm, v0, vp, uo, vo, w, c, False)
    elif kind == GENERIC + UNIT_DT:
        _lines_generic(um, u0, up, vm, v0, vp, uo, vo, w, c, True)
    else:
        _lines_generic(um, u0, up, vm, v0, vp, uo, vo, w, c, False)


@njit(**_OPTS)
def _row(U, V, U2, V2, i, w, c):  # pragma: no cover  (compiled)
    """Row ``i`` (padded index) of U2, V2 from U, V: the vectorized inner loop.

    Every row is a contiguous 1-D view and the loop index starts at 0, so the compiler sees
    non-negative, unit-stride accesses and no aliasing it cannot check once per row.
    The generic weighted sum on purpose: choosing a :func:`row_lines` specialisation here, per
    row, measured 0.90-0.95 x on laplace9 and no gain on the school's stencil (BENCHMARKS.md).
    """
    _lines_generic(U[i - 1], U[i], U[i + 1], V[i - 1], V[i], V[i + 1], U2[i], V2[i], w, c,
                   False)


@njit(**_INLINE)
def cell_lines(um, u0, up, vm, v0, vp, uo, vo, j, w, c, d):  # pragma: no cover  (compiled)
    """:func:`_cell` on rows: cell ``j`` (padded index) of the row pair, with the school-border
    correction ``lap += d * x``; the generic sum, which equals every specialised one bit for
    bit."""
    cell_rates(um, u0, up, vm, v0, vp, uo, vo, j, w, c[0], c[1], c[2], c[3], c[4], c[5], d)


@njit(**_INLINE)
def cell_rates(um, u0, up, vm, v0, vp, uo, vo, j, w, du, dv, f, fk, dt, one,
               d):  # pragma: no cover  (compiled)
    """:func:`cell_lines` with the rates as scalars (a caller holding several members' rates
    reads them without making a row view per cell)."""
    lu = (w[0] * um[j - 1] + w[1] * um[j] + w[2] * um[j + 1]
          + w[3] * u0[j - 1] + w[4] * u0[j] + w[5] * u0[j + 1]
          + w[6] * up[j - 1] + w[7] * up[j] + w[8] * up[j + 1])
    lv = (w[0] * vm[j - 1] + w[1] * vm[j] + w[2] * vm[j + 1]
          + w[3] * v0[j - 1] + w[4] * v0[j] + w[5] * v0[j + 1]
          + w[6] * vp[j - 1] + w[7] * vp[j] + w[8] * vp[j + 1])
    uc = u0[j]
    vc = v0[j]
    lu = lu + d * uc
    lv = lv + d * vc
    uvv = uc * vc * vc
    uo[j] = uc + dt * (du * lu - uvv + f * (one - uc))
    vo[j] = vc + dt * (dv * lv + uvv - fk * vc)


@njit(**_OPTS)
def _cell(U, V, U2, V2, i, j, w, c, d):  # pragma: no cover  (compiled)
    """Cell (i, j) (padded indices) with the school-border correction ``lap += d * x``."""
    lu = (w[0] * U[i - 1, j - 1] + w[1] * U[i - 1, j] + w[2] * U[i - 1, j + 1]
          + w[3] * U[i, j - 1] + w[4] * U[i, j] + w[5] * U[i, j + 1]
          + w[6] * U[i + 1, j - 1] + w[7] * U[i + 1, j] + w[8] * U[i + 1, j + 1])
    lv = (w[0] * V[i - 1, j - 1] + w[1] * V[i - 1, j] + w[2] * V[i - 1, j + 1]
          + w[3] * V[i, j - 1] + w[4] * V[i, j] + w[5] * V[i, j + 1]
          + w[6] * V[i + 1, j - 1] + w[7] * V[i + 1, j] + w[8] * V[i + 1, j + 1])
    uc = U[i, j]
    vc = V[i, j]
    lu = lu + d * uc
    lv = lv + d * vc
    uvv = uc * vc * vc
    U2[i, j] = uc + c[4] * (c[0] * lu - uvv + c[2] * (c[5] - uc))
    V2[i, j] = vc + c[4] * (c[1] * lv + uvv - c[3] * vc)


@njit(**_INLINE)
def edges_lines(um, u0, up, vm, v0, vp, uo, vo, i, nr, w, c, top, bottom, left,
                right):  # pragma: no cover  (compiled)
    """:func:`_edges` on rows: redo the cells of grid row ``i`` (padded index, ``nr`` rows) that
    carry a school-border correction."""
    nc = uo.shape[0] - 2
    if i == 1 and top.size:
        for j in range(1, nc + 1):
            cell_lines(um, u0, up, vm, v0, vp, uo, vo, j, w, c, top[j - 1])
    elif i == nr and bottom.size:
        for j in range(1, nc + 1):
            cell_lines(um, u0, up, vm, v0, vp, uo, vo, j, w, c, bottom[j - 1])
    elif 1 < i < nr:
        if left.size:
            cell_lines(um, u0, up, vm, v0, vp, uo, vo, 1, w, c, left[i - 2])
        if right.size:
            cell_lines(um, u0, up, vm, v0, vp, uo, vo, nc, w, c, right[i - 2])


@njit(**_OPTS)
def _edges(U, V, U2, V2, i, w, c, top, bottom, left, right):  # pragma: no cover  (compiled)
    """Redo the cells of row ``i`` that carry a school-border correction (strips of
    :class:`~grayscott.physics.borders.Deficit`; empty strips mean no correction)."""
    nr = U.shape[0] - 2
    nc = U.shape[1] - 2
    if i == 1 and top.size:
        for j in range(1, nc + 1):
            _cell(U, V, U2, V2, i, j, w, c, top[j - 1])
    elif i == nr and bottom.size:
        for j in range(1, nc + 1):
            _cell(U, V, U2, V2, i, j, w, c, bottom[j - 1])
    elif 1 < i < nr:
        if left.size:
            _cell(U, V, U2, V2, i, 1, w, c, left[i - 2])
        if right.size:
            _cell(U, V, U2, V2, i, nc, w, c, right[i - 2])


@njit(**_OPTS)
def step_rows(U, V, U2, V2, w, c, top, bottom, left, right, r0, r1):  # pragma: no cover
    """Interior rows ``[r0, r1)`` (padded indices, 1 .. nbrow) of the next state, one thread.

    ``w``: the 9 stencil weights, row-major, centre ``-sum(neighbours)`` in place; ``c``: see
    :func:`constants`; ``top`` .. ``right``: deficit strips, or empty arrays. The ghosts of U and
    V must be filled; U2 and V2 get their interior rows written, nothing else.
    """
    for i in range(r0, r1):
        _row(U, V, U2, V2, i, w, c)
        _edges(U, V, U2, V2, i, w, c, top, bottom, left, right)


@njit(**_OPTS)
def advance(U, V, U2, V2, w, c, border, ghost_u, ghost_v, top, bottom, left, right,
            nsteps, mask=0):  # pragma: no cover  (compiled)
    """``nsteps`` steps on one thread; the state ends in (U, V) if it returns 0, else (U2, V2).
    ``mask``: MXCSR bits set meanwhile (see the module docstring)."""
    nr = U.shape[0] - 2
    old = enter(mask)
    for _ in range(nsteps):
        fill_ghosts(U, border, ghost_u)
        fill_ghosts(V, border, ghost_v)
        for i in range(1, nr + 1):
            _row(U, V, U2, V2, i, w, c)
            _edges(U, V, U2, V2, i, w, c, top, bottom, left, right)
        U, U2 = U2, U
        V, V2 = V2, V
    leave(old, mask)
    return nsteps % 2


@njit(parallel=True, **_OPTS)
def _step_parallel(U, V, U2, V2, w, c, top, bottom, left, right,
                   mask=0):  # pragma: no cover  (compiled)
    nr = U.shape[0] - 2
    for i in prange(1, nr + 1):  # static schedule: each thread streams one block of rows
        # The mode is per thread and prange gives no hook per worker: set it per row (a few
        # cycles against a row's thousands of operations), in whichever thread runs the row.
        old = enter(mask)
        _row(U, V, U2, V2, i, w, c)
        _edges(U, V, U2, V2, i, w, c, top, bottom, left, right)
        leave(old, mask)


@njit(**_OPTS)
def advance_parallel(U, V, U2, V2, w, c, border, ghost_u, ghost_v, top, bottom, left, right,
                     nsteps, mask=0):  # pragma: no cover  (compiled)
    """:func:`advance` with the rows of each step shared among numba's threads."""
    for _ in range(nsteps):
        fill_ghosts(U, border, ghost_u)
        fill_ghosts(V, border, ghost_v)
        _step_parallel(U, V, U2, V2, w, c, top, bottom, left, right, mask)
        U, U2 = U2, U
        V, V2 = V2, V
    return nsteps % 2
