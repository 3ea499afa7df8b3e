"""The batched Numba kernel: B independent simulations, one compiled loop over a batch axis.

State: padded fields of shape ``(B, nbrow + 2, nbcol + 2)``; rates: one row of
:func:`grayscott.backends.numba_kernels.constants` per member, shape ``(B, 6)``. Each member is
advanced by the very functions the ``numba`` backend uses (``fill_ghosts``, ``_row``,
``_edges``) on its own 2-D slice, so it is bit for bit the single run with the same rates.

Two ways to share the work among threads, chosen by :func:`strategy`, same results:

* ``"rows"``: every step, ``prange`` over members x rows (``B * nbrow`` independent rows), then
  the buffer swap. It balances any batch over any number of threads; one fork-join per step.
* ``"members"``: ``prange`` over members, each member's whole time loop on one thread. No
  fork-join per step and each member's four fields stay in that core's cache.
* ``"blocked"``: ``prange`` over members as "members", each member advanced by the wavefront of
  ``numba-blocked`` (:func:`grayscott.backends.numba_blocked._band`, one band over the whole
  grid, ``k`` levels per pass in rings of 3 rows): the loops specialised for unit weights and
  ``dt = 1`` and ``k`` steps per pass over the member's fields. The same arithmetic, so the same
  bits. The default when every thread gets whole members.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from ..backends import numba_blocked as NBk
from ..backends import numba_kernels as K

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
    """``"blocked"`` when the members share out evenly among the threads (or there are many,
    or they are small enough to live in a core's cache), else ``"rows"`` (all give the same
    bits). Measured on 2 busy cores at 1080x1920 with 4 members: members 914 Mcell/s, rows 517:
    a barrier per step waits for the slowest thread, and a preempted thread stalls all;
    "blocked" is "members" with k steps per pass over each member (BENCHMARKS.md, "Sweep
    against one run")."""
    nthreads = threads() if nthreads is None else nthreads
    if batch < nthreads:
        return "rows"
    member_bytes = 4 * padded_shape[0] * padded_shape[1] * itemsize
    even = batch % nthreads == 0 or batch >= 4 * nthreads
    return "blocked" if even or member_bytes <= CACHE_BYTES else "rows"


KERNELS = {"rows": advance_rows, "members": advance_members}


def run_batch(U: np.ndarray, V: np.ndarray, U2: np.ndarray, V2: np.ndarray, w: np.ndarray,
              C: np.ndarray, border: int, ghost_u: np.generic, ghost_v: np.generic,
              strips: tuple[np.ndarray, ...], nsteps: int, how: str) -> bool:
    """Advance the batch by ``nsteps``; True when the result is in (U2, V2). "blocked" makes
    its rings here: they hold nothing between calls (a pass starts from the fields)."""
    if how == "blocked":
        k = blocking(U.shape[1:], U.dtype.itemsize)
        ring = (U.shape[0], max(k - 1, 1), 3, U.shape[2])
        RU, RV = np.empty(ring, U.dtype), np.empty(ring, U.dtype)
        advance_blocked(U, V, U2, V2, RU, RV, w, C, border, ghost_u, ghost_v, *strips, k,
                        nsteps)
        return -(-nsteps // k) % 2 == 1
    return bool(KERNELS[how](U, V, U2, V2, w, C, border, ghost_u, ghost_v, *strips, nsteps))
