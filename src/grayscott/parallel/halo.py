"""The ghost ring of one rank's block: the border rule on global sides, neighbours elsewhere.

Every ghost cell comes from the one neighbour that owns it, in one round of messages that can
run while the block's interior is computed (:meth:`HaloExchange.start`, then
:meth:`~HaloExchange.finish`):

* the sides that lie on the global border get the border rule (ghosts 0 for ``school``, U=1,
  V=0 for ``fixed``), the whole side, corners included, before any message;
* the four sides go to the four neighbours (interior cells only), and the four corner cells to
  the four diagonal neighbours, so nothing waits for anything else. A corner ghost is the
  diagonal block's corner cell, which is what a one-process run reads there; where a diagonal
  neighbour does not exist, one of the two sides is a global border and its rule filled it.

``periodic`` has no global side: the Cartesian communicator wraps, and a rank alone along a
direction sends to itself. Each message carries U and V at once, with no packing: an MPI struct
of two subarray types at the fields' absolute addresses. The requests are persistent, made once
for each pair of arrays the stepper alternates between, so a step costs two MPI calls
(``Startall``, ``Waitall``). Each message's tag is its direction, so two messages between the
same two ranks (two ranks along a periodic direction) cannot be confused.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..physics import fill_ghosts
from ..physics.borders import FIXED_GHOST
from .decomposition import DIRECTIONS, Block, sent_cells


def neighbour(cart: Any, block: Block, di: int, dj: int) -> int:
    """The rank at (di, dj) from this block, MPI.PROC_NULL past a non-periodic border."""
    from mpi4py import MPI

    (i, j), (p, q) = block.coords, block.dims
    i, j = i + di, j + dj
    if block.periodic:
        i, j = i % p, j % q
    elif not (0 <= i < p and 0 <= j < q):
        return MPI.PROC_NULL
    return cart.Get_cart_rank((i, j))


def _span(step: int, n: int, ghost: bool, pad: int, depth: int) -> tuple[int, int]:
    """(start, size) along one axis of a field padded by ``pad`` cells before its ``n``
    interior ones: the interior (step 0), or its first or last ``depth`` lines (step -1, +1),
    or the ``depth`` ghost lines beyond them (``ghost``)."""
    if step == 0:
        return pad, n
    if step < 0:
        return (pad - depth if ghost else pad), depth
    return (pad + n if ghost else pad + n - depth), depth


def pads(block: Block, depth: int) -> tuple[int, int, int, int]:
    """Ghost lines on each side (top, bottom, left, right) of a block whose halo is ``depth``
    deep: ``depth`` where a neighbour sends them, 1 on a global side (the border rule's)."""
    from mpi4py import MPI

    around = (block.north, block.south, block.west, block.east)
    return tuple(1 if r == MPI.PROC_NULL else depth for r in around)  # type: ignore[return-value]


class HaloExchange:
    """Fill the ghost rings of a rank's padded U and V; counts the time and bytes it takes.

    ``depth`` ghost lines come from each neighbour (the fields are then padded by
    :attr:`pads`: ``depth`` on a side with a neighbour, 1 on a global side), so that a stepper
    can take ``depth`` steps per exchange (:mod:`.overlap`). ``rule=False`` leaves the global
    sides to the caller (a stepper that fills them once: nothing else writes them)."""

    def __init__(self, cart: Any, block: Block, border: str, dtype: np.dtype,
                 depth: int = 1, rule: bool = True) -> None:
        from mpi4py import MPI
        from mpi4py.util.dtlib import from_numpy_dtype

        self.cart = cart
        self.block = block
        self.border = border
        self.null = MPI.PROC_NULL
        self.sides = block.sides
        self.rule = rule and border != "periodic" and any(self.sides)
        self.base = from_numpy_dtype(np.dtype(dtype))
        self.depth = depth
        #: Ghost lines (top, bottom, left, right) of the fields this exchange fills.
        self.pads = pads(block, depth)
        nr, nc = block.shape
        #: The shape of those fields.
        self.shape = (nr + self.pads[0] + self.pads[1], nc + self.pads[2] + self.pads[3])
        #: (tag, rank it goes to, rank it comes from) of each message of a step.
        self.routes = []
        for tag, (di, dj) in enumerate(DIRECTIONS):  # the tag is the direction's index
            dest, source = neighbour(cart, block, di, dj), neighbour(cart, block, -di, -dj)
            if dest != self.null or source != self.null:
                self.routes.append((tag, dest, source))
        #: Bytes this rank sends per exchange (U and V; not those it sends itself).
        self.bytes_per_call = 2 * np.dtype(dtype).itemsize * sent_cells(
            block.shape, block.dims, block.coords, block.periodic, depth)
        self._types: dict[tuple[int, int, int], Any] = {}
        #: (U, V, [(request, struct type), ...], [request, ...]) for each pair of arrays
        #: seen, found by identity: holding the arrays keeps their addresses valid.
        self._requests: list[tuple[np.ndarray, np.ndarray, list[Any], list[Any]]] = []
        self._pending: list[Any] = []
        self._t0 = 0.0
        self._c0 = 0.0
        #: Seconds spent in the exchange that the step waits for (border rule, starting the
        #: messages, waiting for them): the time not hidden behind the interior's compute.
        self.seconds = 0.0
        #: CPU seconds of this process in the same (MPICH polls while it waits).
        self.cpu_seconds = 0.0

    # -- the datatypes and persistent requests of one pair of arrays -------------------------

    def _region(self, di: int, dj: int, ghost: bool) -> Any:
        """The subarray type of the cells a message in direction (di, dj) sends (or, with
        ``ghost``, the ghost cells on the opposite side it fills)."""
        key = (di, dj, ghost)
        if key not in self._types:
            (nr, nc), (top, _, left, _), h = self.block.shape, self.pads, self.depth
            r0, rn = _span(-di if ghost else di, nr, ghost, top, h)
            c0, cn = _span(-dj if ghost else dj, nc, ghost, left, h)
            t = self.base.Create_subarray(self.shape, (rn, cn), (r0, c0))
            self._types[key] = t.Commit()
        return self._types[key]

    def _pair(self, U: np.ndarray, V: np.ndarray, region: Any) -> Any:
        """One message of ``region`` in U and in V (absolute addresses: buffer MPI.BOTTOM)."""
        from mpi4py import MPI

        t = MPI.Datatype.Create_struct([1, 1], [MPI.Get_address(U), MPI.Get_address(V)],
                                       [region, region])
        return t.Commit()

    def _requests_for(self, U: np.ndarray, V: np.ndarray) -> list[Any]:
        # Found by identity, not by address: reading an array's address (``.ctypes.data``)
        # took 17 to 36 µs right after a step's kernel, more than starting the messages.
        for u, v, _, requests in self._requests:
            if u is U and v is V:
                return requests
        from mpi4py import MPI

        if len(self._requests) >= 4:  # the fields were reallocated: drop the old ones
            self.free()
        recvs, sends = [], []
        for tag, dest, source in self.routes:
            di, dj = DIRECTIONS[tag]
            if source != self.null:
                t = self._pair(U, V, self._region(di, dj, ghost=True))
                recvs.append((self.cart.Recv_init([MPI.BOTTOM, 1, t], source, tag), t))
            if dest != self.null:
                t = self._pair(U, V, self._region(di, dj, ghost=False))
                sends.append((self.cart.Send_init([MPI.BOTTOM, 1, t], dest, tag), t))
        pairs = recvs + sends  # receives posted first
        self._requests.append((U, V, pairs, [r for r, _ in pairs]))
        return self._requests[-1][3]

    def free(self, types: bool = False) -> None:
        """Free the persistent requests and their struct types; with ``types``, the region
        types too (the exchange is then done with: :meth:`DistributedBackend.free`)."""
        for _, _, pairs, _ in self._requests:
            for request, t in pairs:
                request.Free()
                t.Free()
        self._requests.clear()
        if types:
            for t in self._types.values():
                t.Free()
            self._types.clear()

    # -- the exchange ------------------------------------------------------------------------

    def start(self, U: np.ndarray, V: np.ndarray) -> None:
        """Fill the global sides by the rule and start every message; U and V's interior
        must not change, nor their ghost rings be read, until :meth:`finish`."""
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        if self.rule:
            fill_ghosts(U, self.border, FIXED_GHOST[0], self.sides)
            fill_ghosts(V, self.border, FIXED_GHOST[1], self.sides)
        from mpi4py import MPI

        self._pending = self._requests_for(U, V)
        MPI.Prequest.Startall(self._pending)
        self._stop_clock()

    def finish(self) -> None:
        """Wait for the messages started by :meth:`start`: the ghost rings are then full."""
        from mpi4py import MPI

        self._t0, self._c0 = time.perf_counter(), time.process_time()
        MPI.Request.Waitall(self._pending)
        self._pending = []
        self._stop_clock()

    def fill(self, U: np.ndarray, V: np.ndarray) -> None:
        """The whole exchange, nothing overlapped."""
        self.start(U, V)
        self.finish()

    def _stop_clock(self) -> None:
        self.seconds += time.perf_counter() - self._t0
        self.cpu_seconds += time.process_time() - self._c0
