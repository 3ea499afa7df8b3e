"""Compiled loops of the ``numba`` backends for a rate map (F per row, k per column).

The arithmetic of :mod:`.numba_kernels` cell for cell (the generic weighted sum, which equals
the specialised ones bit for bit, then :func:`~.numba_kernels._react` with ``dt`` kept), with
the feed rate read per row (``f[i - 1]``) and ``F + k`` per cell (``fk[i - 1, j - 1]``), both
rounded once by :meth:`grayscott.physics.RateMap.coefficients` as a uniform run rounds its
scalars. ``c`` still gives Du, Dv, dt and 1. So ``numba`` and ``numba-parallel`` agree bit for
bit on a map, and a map without diffusion is, cell by cell, the uniform run of that cell's rates.
"""

from __future__ import annotations

from numba import njit, prange

from . import numba_kernels as K
from .fpmode import enter, leave

_OPTS = K._OPTS


@njit(**_OPTS)
def _lap(X, i, j, w):  # pragma: no cover  (compiled)
    """The nine terms of :func:`~.numba_kernels._lines_generic`, left to right."""
    return (w[0] * X[i - 1, j - 1] + w[1] * X[i - 1, j] + w[2] * X[i - 1, j + 1]
            + w[3] * X[i, j - 1] + w[4] * X[i, j] + w[5] * X[i, j + 1]
            + w[6] * X[i + 1, j - 1] + w[7] * X[i + 1, j] + w[8] * X[i + 1, j + 1])


@njit(**_OPTS)
def _map_cell(U, V, U2, V2, i, j, w, c, f, fk, d, corrected):  # pragma: no cover
    lu = _lap(U, i, j, w)
    lv = _lap(V, i, j, w)
    uc = U[i, j]
    vc = V[i, j]
    if corrected:  # the school border's ``lap += deficit * x`` (as numba_kernels._cell)
        lu = lu + d * uc
        lv = lv + d * vc
    U2[i, j], V2[i, j] = K._react(uc, vc, lu, lv, c[0], c[1], f, fk, c[4], c[5], False)


@njit(**_OPTS)
def _map_row(U, V, U2, V2, i, w, c, f, fk, top, bottom, left, right):  # pragma: no cover
    """Row ``i`` (padded index), then its school-border cells redone as ``_edges`` does."""
    nr = U.shape[0] - 2
    nc = U.shape[1] - 2
    fi = f[i - 1]
    row = fk[i - 1]
    zero = c[5] - c[5]  # of the field's dtype: a float64 literal would promote lu to double
    for j in range(1, nc + 1):
        _map_cell(U, V, U2, V2, i, j, w, c, fi, row[j - 1], zero, False)
    if i == 1 and top.size:
        for j in range(1, nc + 1):
            _map_cell(U, V, U2, V2, i, j, w, c, fi, row[j - 1], top[j - 1], True)
    elif i == nr and bottom.size:
        for j in range(1, nc + 1):
            _map_cell(U, V, U2, V2, i, j, w, c, fi, row[j - 1], bottom[j - 1], True)
    elif 1 < i < nr:
        if left.size:
            _map_cell(U, V, U2, V2, i, 1, w, c, fi, row[0], left[i - 2], True)
        if right.size:
            _map_cell(U, V, U2, V2, i, nc, w, c, fi, row[nc - 1], right[i - 2], True)


@njit(**_OPTS)
def advance_map(U, V, U2, V2, w, c, f, fk, border, ghost_u, ghost_v, top, bottom, left, right,
                nsteps, mask=0):  # pragma: no cover  (compiled)
    """:func:`~.numba_kernels.advance` with the rate map; same parity rule."""
    nr = U.shape[0] - 2
    old = enter(mask)
    for _ in range(nsteps):
        K.fill_ghosts(U, border, ghost_u)
        K.fill_ghosts(V, border, ghost_v)
        for i in range(1, nr + 1):
            _map_row(U, V, U2, V2, i, w, c, f, fk, top, bottom, left, right)
        U, U2 = U2, U
        V, V2 = V2, V
    leave(old, mask)
    return nsteps % 2


@njit(parallel=True, **_OPTS)
def _step_map_parallel(U, V, U2, V2, w, c, f, fk, top, bottom, left, right,
                       mask):  # pragma: no cover  (compiled)
    nr = U.shape[0] - 2
    for i in prange(1, nr + 1):
        old = enter(mask)
        _map_row(U, V, U2, V2, i, w, c, f, fk, top, bottom, left, right)
        leave(old, mask)


@njit(**_OPTS)
def advance_map_parallel(U, V, U2, V2, w, c, f, fk, border, ghost_u, ghost_v, top, bottom,
                         left, right, nsteps, mask=0):  # pragma: no cover  (compiled)
    """:func:`advance_map` with the rows of each step shared among numba's threads."""
    for _ in range(nsteps):
        K.fill_ghosts(U, border, ghost_u)
        K.fill_ghosts(V, border, ghost_v)
        _step_map_parallel(U, V, U2, V2, w, c, f, fk, top, bottom, left, right, mask)
        U, U2 = U2, U
        V, V2 = V2, V
    return nsteps % 2
