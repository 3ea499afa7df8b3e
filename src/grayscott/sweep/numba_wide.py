"""The ``"wide"`` sweep strategy: members side by side, so every row call is a long one.

A member of 128 x 128 gives ``numba-blocked``'s wavefront rows of 128 cells, and each row
call carries a fixed cost (row views, ring slots, the vector loop's set-up) that a 1024-cell
row of one big run spreads eight times thinner. Here ``G`` members are laid side by side in
one padded array of ``nbrow + 2`` rows by ``G (nbcol + 2)`` columns, each member keeping its
own ghost columns, and the wavefront runs over these wide rows: one row call computes the
same row of G members.

The arithmetic of every cell is that of the single run (the generic weighted sum, which equals
the specialised ones bit for bit, or the unit-weight sum where the stencil has it; then
:func:`grayscott.backends.numba_kernels._react`), with the feed rate and ``F + k`` read per
column from the member's row of rates instead of from scalars: the same values, so the same
bits. The columns between members are computed too (from both neighbours: meaningless) and
overwritten at once with the member's ghost values; the school border's corrected cells are
redone per member from its own strips and rates.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..backends import numba_blocked as NBk
from ..backends import numba_kernels as K

_OPTS = K._OPTS
_INLINE = K._INLINE

#: Members whose rows are shorter than this many cells are put side by side (a 1024-wide run
#: already runs at its full rate per cell), until a row holds at most :data:`WIDE_CELLS`
#: (wider measured faster still up to about 4000 cells: BENCHMARKS.md "Sweep against one run").
SHORT_ROW = 1024
WIDE_CELLS = 4096
#: ... and until a group's four padded fields reach this many bytes: 16 members of 128 x 128
#: float32 (4.3 MB) measured faster than 32, and 4 members of 256 x 256 (4.3 MB) faster than 8
#: (2026-12-06, 2 threads on an idle AMD EPYC, from a developed state).
GROUP_BYTES = 5 << 20

#: ``numba-blocked``'s ring-or-field row lookup, inlined here (the same source): a call per
#: row and level, each returning a view, is a fixed cost these rows cannot spread far.
_level_row = njit(**_INLINE)(NBk._level_row.py_func)


@njit(**_INLINE)
def _lines(um, u0, up, vm, v0, vp, uo, vo, w, c, fr, fkr, LU, LV, ones,
           unit_dt):  # pragma: no cover  (compiled)
    """:func:`~.numba_kernels._lines_ones` (``ones``) or ``_lines_generic``, with F and F + k
    of column j + 1 from ``fr``, ``fkr``; the Laplacians kept in ``LU``, ``LV`` for the
    corrected cells of the school border (:func:`_edges_wide`)."""
    nc = uo.shape[0] - 2
    ws = (w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8])
    du, dv, dt, one = c[0], c[1], c[4], c[5]
    for j in range(nc):
        if ones:
            lu = K.sum_ones(um, u0, up, j, ws[4])
            lv = K.sum_ones(vm, v0, vp, j, ws[4])
        else:
            lu = K.sum_generic(um, u0, up, j, ws)
            lv = K.sum_generic(vm, v0, vp, j, ws)
        LU[j + 1] = lu
        LV[j + 1] = lv
        uo[j + 1], vo[j + 1] = K._react(u0[j + 1], v0[j + 1], lu, lv, du, dv, fr[j + 1],
                                        fkr[j + 1], dt, one, unit_dt)


@njit(**_INLINE)
def wide_row(um, u0, up, vm, v0, vp, uo, vo, w, c, fr, fkr, LU, LV,
             kind):  # pragma: no cover  (compiled)
    """One wide row pair, the loop chosen by ``kind`` (:func:`~.numba_kernels.row_kind`)."""
    if kind == K.ONES + K.UNIT_DT:
        _lines(um, u0, up, vm, v0, vp, uo, vo, w, c, fr, fkr, LU, LV, True, True)
    elif kind == K.ONES:
        _lines(um, u0, up, vm, v0, vp, uo, vo, w, c, fr, fkr, LU, LV, True, False)
    elif kind >= K.UNIT_DT:
        _lines(um, u0, up, vm, v0, vp, uo, vo, w, c, fr, fkr, LU, LV, False, True)
    else:
        _lines(um, u0, up, vm, v0, vp, uo, vo, w, c, fr, fkr, LU, LV, False, False)


@njit(**_INLINE)
def _redo(u0, v0, uo, vo, LU, LV, x, d, du, dv, f, fk, dt, one):  # pragma: no cover
    """Cell ``x`` of a row pair redone with ``lap += d * x`` from the kept Laplacians:
    :func:`~.numba_kernels.cell_lines`' arithmetic, whose sum is the row loop's bit for bit."""
    uc = u0[x]
    vc = v0[x]
    uo[x], vo[x] = K._react(uc, vc, LU[x] + d * uc, LV[x] + d * vc, du, dv, f, fk, dt, one,
                            False)


@njit(**_INLINE)
def _redo_span(u0, v0, uo, vo, LU, LV, d, du, dv, f, fk, dt, one):  # pragma: no cover
    """Cells 1 .. len(d) by :func:`_redo`: the rows start at the member, the index at 0, so
    the compiler sees non-negative unit-stride accesses and vectorizes the loop."""
    for j in range(d.size):
        _redo(u0, v0, uo, vo, LU, LV, j + 1, d[j], du, dv, f, fk, dt, one)


@njit(**_INLINE)
def _edges_wide(u0, v0, uo, vo, LU, LV, r, nr, C, top, bottom, left,
                right):  # pragma: no cover  (compiled)
    """Per member of a wide row: the cells :func:`~.numba_kernels.edges_lines` redoes, with
    the member's own rates."""
    p = C.shape[0]
    width = uo.shape[0] // p
    nc = width - 2
    full = (r == 1 and top.size > 0) or (r == nr and bottom.size > 0)
    strip = top if r == 1 else bottom
    for g in range(p):
        o = g * width
        du, dv, f, fk, dt, one = C[g, 0], C[g, 1], C[g, 2], C[g, 3], C[g, 4], C[g, 5]
        if full:
            _redo_span(u0[o:], v0[o:], uo[o:], vo[o:], LU[o:], LV[o:], strip, du, dv, f, fk,
                       dt, one)
        elif 1 < r < nr:
            if left.size:
                _redo(u0, v0, uo, vo, LU, LV, o + 1, left[r - 2], du, dv, f, fk, dt, one)
            if right.size:
                _redo(u0, v0, uo, vo, LU, LV, o + nc, right[r - 2], du, dv, f, fk, dt, one)


@njit(**_INLINE)
def _ghost_columns(uo, vo, p, periodic, ghost_u, ghost_v):  # pragma: no cover  (compiled)
    """Every member's ghost columns of a wide row pair, as the next level reads them
    (overwriting what the wide loop computed there from two members)."""
    width = uo.shape[0] // p
    nc = width - 2
    for o in range(0, p * width, width):
        if periodic:
            uo[o] = uo[o + nc]
            uo[o + nc + 1] = uo[o + 1]
            vo[o] = vo[o + nc]
            vo[o + nc + 1] = vo[o + 1]
        else:
            uo[o] = ghost_u
            uo[o + nc + 1] = ghost_u
            vo[o] = ghost_v
            vo[o + nc + 1] = ghost_v


@njit(**_OPTS)
def _band_wide(U, V, U2, V2, RU, RV, L, w, C, fr, fkr, kind, border, ghost_u, ghost_v, top,
               bottom, left, right, m):  # pragma: no cover  (compiled)
    """All rows of a group advanced by ``m`` steps: ``numba_blocked._band`` over one band
    (rows 1 .. nr), the rows wide."""
    nr = U.shape[0] - 2
    periodic = border == K.PERIODIC
    slot_off = 3 * (m + 1)
    wrap_off = nr * (m // nr + 1)
    a, b = 1, nr + 1
    first = a - (m - 1)
    if not periodic and first < 1:
        first = 1
    for s in range(first, b + m - 1):
        for t in range(1, m + 1):
            r = s - t + 1
            lo = a - (m - t)
            hi = b + (m - t)
            if not periodic:
                lo = max(lo, 1)
                hi = min(hi, nr + 1)
            if r < lo:
                break
            if r >= hi:
                continue
            um = _level_row(U, RU, t - 1, r - 1, nr, periodic, slot_off, wrap_off)
            u0 = _level_row(U, RU, t - 1, r, nr, periodic, slot_off, wrap_off)
            up = _level_row(U, RU, t - 1, r + 1, nr, periodic, slot_off, wrap_off)
            vm = _level_row(V, RV, t - 1, r - 1, nr, periodic, slot_off, wrap_off)
            v0 = _level_row(V, RV, t - 1, r, nr, periodic, slot_off, wrap_off)
            vp = _level_row(V, RV, t - 1, r + 1, nr, periodic, slot_off, wrap_off)
            if t == m:
                uo = U2[r]
                vo = V2[r]
            else:
                uo = RU[t - 1, (r + slot_off) % 3]
                vo = RV[t - 1, (r + slot_off) % 3]
            wide_row(um, u0, up, vm, v0, vp, uo, vo, w, C[0], fr, fkr, L[0], L[1], kind)
            if not periodic:
                _edges_wide(u0, v0, uo, vo, L[0], L[1], r, nr, C, top, bottom, left, right)
            if t < m:
                _ghost_columns(uo, vo, C.shape[0], periodic, ghost_u, ghost_v)


@njit(**_OPTS)
def _fill_ghosts_wide(X, p, border, value):  # pragma: no cover  (compiled)
    width = X.shape[1] // p
    for g in range(p):
        K.fill_ghosts(X[:, g * width:(g + 1) * width], border, value)


@njit(**_OPTS)
def _advance_group(U, V, U2, V2, RU, RV, L, w, C, fr, fkr, border, ghost_u, ghost_v, top,
                   bottom, left, right, k, nsteps):  # pragma: no cover  (compiled)
    kind = K.row_kind(w, C[0])
    p = C.shape[0]
    done = 0
    passes = 0
    while done < nsteps:
        m = min(k, nsteps - done)
        _fill_ghosts_wide(U, p, border, ghost_u)
        _fill_ghosts_wide(V, p, border, ghost_v)
        _band_wide(U, V, U2, V2, RU, RV, L, w, C, fr, fkr, kind, border, ghost_u, ghost_v, top,
                   bottom, left, right, m)
        U, U2 = U2, U
        V, V2 = V2, V
        done += m
        passes += 1
    return passes % 2


@njit(parallel=True, **_OPTS)
def advance_wide(U, V, U2, V2, RU, RV, L, w, C, FR, FKR, border, ghost_u, ghost_v, top,
                 bottom, left, right, k, nsteps):  # pragma: no cover  (compiled)
    """Every group (``U[q]``: G members side by side, rates ``C[q]``, per-column ``FR[q]``,
    ``FKR[q]``) advanced ``nsteps``; groups shared among threads."""
    for q in prange(U.shape[0]):
        _advance_group(U[q], V[q], U2[q], V2[q], RU[q], RV[q], L[q], w, C[q], FR[q], FKR[q],
                       border, ghost_u, ghost_v, top, bottom, left, right, k, nsteps)


def group_size(batch: int, ncol: int, nthreads: int, nrow: int = 0, itemsize: int = 4) -> int:
    """Members per wide row: the largest divisor of ``batch`` whose row stays within
    :data:`WIDE_CELLS` and whose four padded fields (``nrow`` rows, 0: not counted) within
    :data:`GROUP_BYTES` (at least one member), and that leaves whole groups for every thread
    (or at least four groups a thread); 1 for members with long rows, 0 when none does."""
    if ncol + 2 >= SHORT_ROW:
        return 1
    member = 4 * (nrow + 2) * (ncol + 2) * itemsize if nrow else 0
    for g in range(batch, 0, -1):
        if batch % g or (g > 1 and (g * (ncol + 2) > WIDE_CELLS or g * member > GROUP_BYTES)):
            continue
        groups = batch // g
        if groups % nthreads == 0 or groups >= 4 * nthreads:
            return g
    return 0


def to_wide(X: np.ndarray, g: int) -> np.ndarray:
    """(B, R, C) -> (B / g, R, g C): members q g .. q g + g - 1 side by side in group q."""
    b, r, c = X.shape
    return np.ascontiguousarray(X.reshape(b // g, g, r, c).transpose(0, 2, 1, 3)).reshape(
        b // g, r, g * c)


def interiors(W: np.ndarray, g: int) -> np.ndarray:
    """The members' interiors (B, R, C) of the wide (B / g, R + 2, g (C + 2)), undoing
    :func:`to_wide` (a new array, the ghosts not copied)."""
    q, r, gc = W.shape
    c = gc // g
    inner = W.reshape(q, r, g, c)[:, 1:-1, :, 1:-1].transpose(0, 2, 1, 3)
    return np.ascontiguousarray(inner).reshape(q * g, r - 2, c - 2)


class WideBatch:
    """A batch of padded members (B, R + 2, C + 2) held side by side in groups of ``g`` for
    as long as it runs; :meth:`v` gives V back member by member. Members must share Du, Dv
    and dt (a sweep varies F and k): otherwise every group holds one member."""

    def __init__(self, U: np.ndarray, V: np.ndarray, w: np.ndarray, C: np.ndarray,
                 border: int, ghost_u: np.generic, ghost_v: np.generic,
                 strips: tuple[np.ndarray, ...], g: int, k: int = 0) -> None:
        b, pr, pc = U.shape
        shared = (C[:, [0, 1, 4, 5]] == C[0, [0, 1, 4, 5]]).all()
        self.g = g = g if shared and g > 0 and b % g == 0 else 1
        self.k = k or int(NBk.choose_blocking((pr - 2, g * pc - 2), U.dtype.itemsize,
                                              1)["blocking"])
        self.U, self.V = to_wide(U, g), to_wide(V, g)
        self.U2 = self.V2 = None  # made at the first step, once the caller has let U, V go
        self.C = np.ascontiguousarray(C.reshape(b // g, g, C.shape[1]))
        self.rest = (w, border, ghost_u, ghost_v, *strips)

    def advance(self, nsteps: int) -> None:
        """``nsteps`` steps. The scratch (rings, the Laplacians of the row in hand, the rates
        per column) is made per call, as "blocked" makes its rings: nothing in it outlives a
        call, and a member then holds its 4 padded fields only, as the sweep plans."""
        if self.U2 is None:
            self.U2, self.V2 = np.empty_like(self.U), np.empty_like(self.V)
        q, _, width = self.U.shape
        ring = (q, max(self.k - 1, 1), 3, width)
        RU, RV = np.empty(ring, self.U.dtype), np.empty(ring, self.U.dtype)
        L = np.empty((q, 2, width), self.U.dtype)
        FR = np.repeat(self.C[:, :, 2], width // self.g, axis=1)
        FKR = np.repeat(self.C[:, :, 3], width // self.g, axis=1)
        w, border, ghost_u, ghost_v, *strips = self.rest
        advance_wide(self.U, self.V, self.U2, self.V2, RU, RV, L, w, self.C, FR, FKR, border,
                     ghost_u, ghost_v, *strips, self.k, nsteps)
        if -(-nsteps // self.k) % 2:
            self.U, self.U2 = self.U2, self.U
            self.V, self.V2 = self.V2, self.V

    def v(self) -> np.ndarray:
        """V of every member, (B, R, C): one copy of the interiors (not of the padded fields
        first: that would be a fifth padded field per member beside the four planned)."""
        return interiors(self.V, self.g)
