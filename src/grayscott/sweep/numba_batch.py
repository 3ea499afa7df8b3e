"""The batched Numba kernel: B independent simulations, one compiled loop over a batch axis.

State: padded fields of shape ``(B, nbrow + 2, nbcol + 2)``; rates: one row of
:func:`grayscott.backends.numba_kernels.constants` per member, shape ``(B, 6)``. Each member is
advanced by the very functions the ``numba`` backend uses (``fill_ghosts``, ``_row``,
``_edges``) on its own 2-D slice, so it is bit for bit the single run with the same rates.

Ways to share the work among threads, chosen by :func:`strategy`, same results:

* ``"rows"``: every step, ``prange`` over members x rows (``B * nbrow`` independent rows), then
  the buffer swap. It balances any batch over any number of threads; one fork-join per step.
* ``"members"``: ``prange`` over members, each member's whole time loop on one thread. No
  fork-join per step and each member's four fields stay in that core's cache.
* ``"blocked"``: ``prange`` over members as "members", each member advanced by the wavefront of
  ``numba-blocked`` (:func:`grayscott.backends.numba_blocked._band`, one band over the whole
  grid, ``k`` levels per pass in rings of 3 rows): the loops specialised for unit weights and
  ``dt = 1`` and ``k`` steps per pass over the member's fields. The same arithmetic, so the same
  bits. The default when every thread gets whole members with long rows.
* ``"wide"``: "blocked" with members of short rows side by side, so that one row call computes
  a row of several members (:mod:`.numba_wide`). The default for small members.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import njit, prange

from ..backends import numba_blocked as NBk
from ..backends import numba_kernels as K
from ..physics import deficit
from ..physics.borders import FIXED_GHOST
from . import numba_wide as NW

_OPTS = K._OPTS  # the single-run kernels' options (no fastmath: the same bits)

#: A member whose four padded fields fit in this many bytes stays in one core's cache.
CACHE_BYTES = 1 << 20


@njit(parallel=True, **_OPTS)
def _step_rows(U, V, U2, V2, w, C, top, bottom, left, right):  # pragma: no cover (compiled)
    nb = U.shape[0]
    nr = U.shape[1] - 2
    for t in prange(nb * nr):
        b = t // nr
        i = t - b * nr + 1
        K._row(U[b], V[b], U2[b], V2[b], i, w, C[b])
        K._edges(U[b], V[b], U2[b], V2[b], i, w, C[b], top, bottom, left, right)


@njit(**_OPTS)
def advance_rows(U, V, U2, V2, w, C, border, ghost_u, ghost_v, top, bottom, left, right,
                 nsteps):  # pragma: no cover  (compiled)
    """``nsteps`` steps of every member, rows of all members shared among threads; the state
    ends in (U, V) if it returns 0, else in (U2, V2)."""
    nb = U.shape[0]
    for _ in range(nsteps):
        for b in range(nb):
            K.fill_ghosts(U[b], border, ghost_u)
            K.fill_ghosts(V[b], border, ghost_v)
        _step_rows(U, V, U2, V2, w, C, top, bottom, left, right)
        U, U2 = U2, U
        V, V2 = V2, V
    return nsteps % 2


@njit(parallel=True, **_OPTS)
def advance_members(U, V, U2, V2, w, C, border, ghost_u, ghost_v, top, bottom, left, right,
                    nsteps):  # pragma: no cover  (compiled)
    """``nsteps`` steps of every member, one member per thread at a time, each with the single
    run's own loop (:func:`grayscott.backends.numba_kernels.advance`). Same parity rule."""
    nb = U.shape[0]
    for b in prange(nb):
        K.advance(U[b], V[b], U2[b], V2[b], w, C[b], border, ghost_u, ghost_v, top, bottom,
                  left, right, nsteps)
    return nsteps % 2


@njit(**_OPTS)
def _advance_one_blocked(U, V, U2, V2, RU, RV, w, c, border, ghost_u, ghost_v, top, bottom,
                         left, right, k, nsteps):  # pragma: no cover  (compiled)
    """One member, ``nsteps`` steps in passes of ``k`` on one thread: ``numba-blocked``'s
    ``advance_blocked`` with a single band. Returns the parity of the passes."""
    kind = K.row_kind(w, c)
    nr = U.shape[0] - 2
    passes = 0
    done = 0
    while done < nsteps:
        m = min(k, nsteps - done)
        K.fill_ghosts(U, border, ghost_u)
        K.fill_ghosts(V, border, ghost_v)
        NBk._band(U, V, U2, V2, RU, RV, w, c, kind, border, ghost_u, ghost_v, top, bottom,
                  left, right, 1, nr + 1, m)
        U, U2 = U2, U
        V, V2 = V2, V
        done += m
        passes += 1
    return passes % 2


@njit(parallel=True, **_OPTS)
def advance_blocked(U, V, U2, V2, RU, RV, w, C, border, ghost_u, ghost_v, top, bottom, left,
                    right, k, nsteps):  # pragma: no cover  (compiled)
    """Every member by :func:`_advance_one_blocked`, members shared among threads. Every
    member makes the same passes: the state ends in (U2, V2) when their number is odd."""
    nb = U.shape[0]
    for b in prange(nb):
        _advance_one_blocked(U[b], V[b], U2[b], V2[b], RU[b], RV[b], w, C[b], border, ghost_u,
                             ghost_v, top, bottom, left, right, k, nsteps)


def blocking(padded_shape: tuple[int, int], itemsize: int) -> int:
    """Steps per pass of one member: ``numba-blocked``'s model for one band on one core."""
    nr, nc = padded_shape[0] - 2, padded_shape[1] - 2
    return int(NBk.choose_blocking((nr, nc), itemsize, 1)["blocking"])


def threads() -> int:
    return int(numba.get_num_threads())


def strategy(batch: int, padded_shape: tuple[int, int], itemsize: int,
             nthreads: int | None = None) -> str:
    """``"wide"`` when several members fit side by side in a row of about
    :data:`.numba_wide.WIDE_CELLS` cells and the groups share out among the threads;
    ``"blocked"`` when the members share out evenly among the threads (or there are many, or
    they are small enough to live in a core's cache), else ``"rows"`` (all give the same bits).
    Measured on 2 busy cores at 1080x1920 with 4 members: members 914 Mcell/s, rows 517: a
    barrier per step waits for the slowest thread, and a preempted thread stalls all;
    "blocked" is "members" with k steps per pass over each member, "wide" is "blocked" with
    the short rows of small members joined (BENCHMARKS.md, "Sweep against one run")."""
    nthreads = threads() if nthreads is None else nthreads
    if batch < nthreads:
        return "rows"
    if NW.group_size(batch, padded_shape[1] - 2, nthreads, padded_shape[0] - 2, itemsize) > 1:
        return "wide"
    member_bytes = 4 * padded_shape[0] * padded_shape[1] * itemsize
    even = batch % nthreads == 0 or batch >= 4 * nthreads
    return "blocked" if even or member_bytes <= CACHE_BYTES else "rows"


KERNELS = {"rows": advance_rows, "members": advance_members}


def run_batch(U: np.ndarray, V: np.ndarray, U2: np.ndarray, V2: np.ndarray, w: np.ndarray,
              C: np.ndarray, border: int, ghost_u: np.generic, ghost_v: np.generic,
              strips: tuple[np.ndarray, ...], nsteps: int, how: str) -> bool:
    """Advance the batch by ``nsteps``; True when the result is in (U2, V2). "blocked" makes
    its rings here: they hold nothing between calls (a pass starts from the fields). "wide"
    keeps its own layout between calls: see :class:`.numba_wide.WideBatch`."""
    if how == "blocked":
        k = blocking(U.shape[1:], U.dtype.itemsize)
        ring = (U.shape[0], max(k - 1, 1), 3, U.shape[2])
        RU, RV = np.empty(ring, U.dtype), np.empty(ring, U.dtype)
        advance_blocked(U, V, U2, V2, RU, RV, w, C, border, ghost_u, ghost_v, *strips, k,
                        nsteps)
        return -(-nsteps // k) % 2 == 1
    return bool(KERNELS[how](U, V, U2, V2, w, C, border, ghost_u, ghost_v, *strips, nsteps))


class NumbaPiece:
    """A piece of the batch as padded NumPy fields, run by one of the strategies above."""

    def __init__(self, u: np.ndarray, v: np.ndarray, C: np.ndarray, problem: Any,
                 how: str | None) -> None:
        dt_ = problem.dtype
        b = len(C)
        shape = (b, *problem.padded_shape)
        self.U, self.V = np.zeros(shape, dt_), np.zeros(shape, dt_)
        self.U[:, 1:-1, 1:-1] = u  # rounded to the dtype on assignment, no temporary batch
        self.V[:, 1:-1, 1:-1] = v
        self.w = np.array(problem.stencil.weights.ravel(), dtype=dt_)
        self.C = np.ascontiguousarray(C, dtype=dt_)
        self.border = K.BORDER_CODES[problem.border]
        fixed = problem.border == "fixed"
        self.gu = dt_.type(FIXED_GHOST[0] if fixed else 0.0)
        self.gv = dt_.type(FIXED_GHOST[1] if fixed else 0.0)
        d = deficit(problem.stencil, problem.border, problem.shape)
        empty = np.zeros(0, dt_)
        if d is not None:
            d = d.astype(dt_)
        self.strips = (empty,) * 4 if d is None else (d.top, d.bottom, d.left, d.right)
        self.how = how or strategy(b, problem.padded_shape, dt_.itemsize)
        self.wide = None
        if self.how == "wide":  # members side by side from here on (numba_wide)
            g = NW.group_size(b, problem.shape[1], threads(), problem.shape[0],
                              dt_.itemsize)
            self.wide = NW.WideBatch(self.U, self.V, self.w, self.C, self.border, self.gu,
                                     self.gv, self.strips, g)
            self.U = self.V = None  # the wide copies replace them: 4 fields at most, as planned
        else:
            self.U2, self.V2 = np.zeros_like(self.U), np.zeros_like(self.V)

    def advance(self, nsteps: int) -> None:
        if self.wide is not None:
            self.wide.advance(nsteps)
            return
        swapped = run_batch(self.U, self.V, self.U2, self.V2, self.w, self.C, self.border,
                            self.gu, self.gv, self.strips, nsteps, self.how)
        if swapped:
            self.U, self.U2 = self.U2, self.U
            self.V, self.V2 = self.V2, self.V

    def sync(self) -> None:
        """Nothing to wait for: the kernel returns when it is done."""

    def v(self) -> np.ndarray:
        if self.wide is not None:
            return self.wide.v()
        return self.V[:, 1:-1, 1:-1].copy()
