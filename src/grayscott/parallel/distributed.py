"""The ordinary :class:`~grayscott.backends.base.Backend` interface over the ranks of a
communicator: every rank holds one block and advances it with a CPU backend.

``set_state`` takes the global state on rank 0 (other ranks may pass None) and scatters it;
``advance`` runs the steps, each with a halo exchange (on the numba backends, hidden behind the
interior's compute: :mod:`.overlap`); ``get_state`` and ``get_v``
gather to rank 0 and return None elsewhere. Every method is collective: all ranks call it.

Results equal the one-process run bit for bit: each cell is computed by the same kernel, with
the same operations in the same order, from the same neighbour values; only where the ghost
values come from changes. The school border's centre correction (``deficit``) is built per
block with :func:`~grayscott.physics.deficit`'s side flags, so only cells on the global border
get one.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from .. import backends
from ..backends.base import Backend, Capabilities
from ..errors import GrayScottError
from ..physics import Problem, deficit
from .decomposition import Block, blocks, choose_depth, decompose
from .halo import HaloExchange

#: Backends that can advance one block: padded NumPy state whose ghost ring the step only reads.
DECOMPOSABLE = ("numpy", "numpy-school", "numba", "numba-parallel")
ROOT = 0


def check_decomposable(name: str) -> str:
    backends.info(name)  # unknown name: the registry's one-line error
    if name not in DECOMPOSABLE:
        raise GrayScottError(
            f"backend {name!r} cannot run decomposed under MPI (its state is not padded NumPy "
            f"fields whose ghost ring a halo exchange can fill); use one of: "
            f"{', '.join(DECOMPOSABLE)}")
    return name


class DistributedBackend(Backend):
    """``backend`` on every rank of ``comm``, each on its block of ``problem``'s grid
    (``threads`` and ``options`` go to each rank's backend)."""

    name = "mpi"
    capabilities = Capabilities(decomposable=False)

    def __init__(self, problem: Problem, backend: str = "numpy", comm: Any = None,
                 dims: tuple[int, int] | None = None, threads: int | None = None,
                 options: dict[str, Any] | None = None, depth: int | None = None) -> None:
        super().__init__(problem)
        from . import world

        check_decomposable(backend)
        # Even on one rank: the numba stepper computes uniform rates and would ignore the map.
        if problem.rate_map is not None:
            raise GrayScottError("a rate map (--map) runs in one process, not over MPI ranks")
        if (options or {}).get("subnormals", "keep") != "keep":  # the steppers call IEEE kernels
            raise GrayScottError("flushing subnormals is not supported under MPI; run without "
                                 "--flush-subnormals (or on one process)")
        self.inner_name = backend
        self.comm = comm if comm is not None else world()
        self.cart, self.block = decompose(self.comm, problem.shape,
                                          problem.border == "periodic", dims)
        try:
            self.rank = self.cart.Get_rank()
            self.size = self.cart.Get_size()
            self.local_problem = dataclasses.replace(problem, shape=self.block.shape)
            if backend == "numba-parallel" and threads is None:
                threads = _threads_per_rank(self.cart)
            self.inner = backends.create(backend, self.local_problem, threads=threads,
                                         **(options or {}))
            numba = backend.startswith("numba")
            #: Halo lines exchanged at once: steps per exchange (1 on the numpy backends).
            self.depth = choose_depth(problem.shape, self.block, numba, depth)
            self.halo = HaloExchange(self.cart, self.block, problem.border, problem.dtype,
                                     self.depth, rule=not numba)
            self.stepper = (_numba_stepper if numba else _NumpyStepper)(
                self.inner, self.block, self.halo)
            self._slices = blocks(problem.shape, self.block.dims)
            self._counts = [(r.stop - r.start) * (c.stop - c.start) for r, c in self._slices]
            self._displs = list(np.cumsum([0] + self._counts[:-1]))
        except BaseException:  # refused (a depth, the backend's options): no communicator kept
            self.cart.Free()
            raise
        #: Seconds spent gathering frames and states to rank 0 (scatter included).
        self.gather_seconds = 0.0

    # -- description -------------------------------------------------------------------------

    @property
    def threads(self) -> int:
        return self.inner.threads

    @property
    def is_root(self) -> bool:
        return self.rank == ROOT

    @property
    def provenance(self) -> dict[str, Any]:
        p, q = self.block.dims
        return {"mpi_ranks": self.size, "mpi_dims": f"{p}x{q}", "mpi_halo_depth": self.depth,
                **self.inner.provenance}

    def describe(self) -> str:
        p, q = self.block.dims
        deep = f", halos {self.depth} lines deep" if self.depth > 1 else ""
        return f"{self.size} MPI ranks as {p}x{q}{deep}, {self.inner_name} on each"

    def compile(self) -> None:
        self.stepper.compile()

    def free(self) -> None:
        """Release this backend's MPI objects: its Cartesian communicator and the exchange's
        requests and datatypes. Every rank calls it; the backend is not used after.

        A process can hold a few thousand communicators at most (MPICH: 2046 here), so a loop
        that makes a backend per pass frees each one (``run``/``resume`` free theirs at the
        end of a run); ``with DistributedBackend(...) as be:`` does it on leaving without an
        error."""
        if self.freed:
            return
        self.halo.free(types=True)
        self.cart.Free()

    @property
    def freed(self) -> bool:
        """Whether :meth:`free` was called (mpi4py then holds a null communicator)."""
        from mpi4py import MPI

        return self.cart == MPI.COMM_NULL

    def _require_live(self, what: str) -> None:
        if self.freed:
            raise GrayScottError(f"this DistributedBackend was freed (by free(), or at the end "
                                 f"of its run): make a new one to call {what}()")

    def require_state(self, what: str) -> None:
        self._require_live(what)
        super().require_state(what)

    def __enter__(self) -> DistributedBackend:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is None:  # after an error, some rank may never get here: nothing collective
            self.free()

    # -- the interface, collective -----------------------------------------------------------

    def set_state(self, u: np.ndarray | None, v: np.ndarray | None) -> None:
        """Scatter the global U, V of rank 0 (the other ranks' arguments are ignored)."""
        self._require_live("set_state")
        error = None
        if self.is_root:
            u, v = np.asarray(u), np.asarray(v)
            if u.shape != self.problem.shape or v.shape != self.problem.shape:
                error = (f"state must have shape {self.problem.shape}, got {u.shape} and "
                         f"{v.shape}")
        error = self.cart.bcast(error, root=ROOT)
        if error:
            raise ValueError(error)
        dt = self.problem.dtype
        ub = self._scatter(u.astype(dt, copy=False) if self.is_root else None)
        vb = self._scatter(v.astype(dt, copy=False) if self.is_root else None)
        self.inner.set_state(ub, vb)
        self._loaded = True

    def _set_state(self, u: np.ndarray, v: np.ndarray) -> None:  # pragma: no cover
        raise AssertionError("set_state is collective and overridden")

    def _advance(self, nsteps: int) -> None:
        self.stepper.advance(nsteps)

    def get_state(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """U and V on rank 0, (None, None) on the others."""
        self.require_state("get_state")
        u, v = self.inner.get_state()
        return self._gather(u), self._gather(v)

    def get_v(self) -> np.ndarray | None:
        """V on rank 0, None on the others."""
        self.require_state("get_v")
        return self._gather(self.inner.get_v())

    def _get_state(self) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise AssertionError("get_state is collective and overridden")

    def local_v(self) -> np.ndarray:
        """This rank's block of V (no communication): what it writes into its part file."""
        self.require_state("local_v")
        return self.inner.get_v()

    def all_finite(self) -> bool:
        """Whether V is finite on every rank (one allreduce, no gather)."""
        from mpi4py import MPI

        self.require_state("all_finite")
        ok = bool(np.isfinite(self.inner.V[1:-1, 1:-1]).all())
        return bool(self.cart.allreduce(ok, op=MPI.LAND))

    # -- scatter and gather ------------------------------------------------------------------

    def _mpi_type(self) -> Any:
        from mpi4py.util.dtlib import from_numpy_dtype

        return from_numpy_dtype(self.problem.dtype)

    def _scatter(self, x: np.ndarray | None) -> np.ndarray:
        t0 = time.perf_counter()
        mine = np.empty(self.block.shape, self.problem.dtype)
        send = None
        if self.is_root:
            flat = (np.ascontiguousarray(x).ravel() if self.block.dims[1] == 1 else
                    np.concatenate([x[s].ravel() for s in self._slices]))
            send = [flat, self._counts, self._displs, self._mpi_type()]
        self.cart.Scatterv(send, mine, root=ROOT)
        self.gather_seconds += time.perf_counter() - t0
        return mine

    def _gather(self, mine: np.ndarray) -> np.ndarray | None:
        """The global field on rank 0 from every rank's block (None elsewhere)."""
        if self.size == 1:  # nothing to gather: the block is the grid (and already a copy)
            return mine
        t0 = time.perf_counter()
        out = flat = None
        if self.is_root:
            out = np.empty(self.problem.shape, self.problem.dtype)
            # Blocks that are runs of whole rows arrive in place; others need one copy each.
            flat = out.reshape(-1) if self.block.dims[1] == 1 else np.empty(out.size, out.dtype)
        recv = [flat, self._counts, self._displs, self._mpi_type()] if self.is_root else None
        self.cart.Gatherv(np.ascontiguousarray(mine), recv, root=ROOT)
        if self.is_root and self.block.dims[1] != 1:
            for s, n, d in zip(self._slices, self._counts, self._displs, strict=True):
                out[s] = flat[d:d + n].reshape(s[0].stop - s[0].start, s[1].stop - s[1].start)
        self.gather_seconds += time.perf_counter() - t0
        return out


def _threads_per_rank(comm: Any) -> int:
    """numba-parallel's default under MPI: the cores shared by the ranks on this node."""
    from mpi4py import MPI

    from ..backends.numba_parallel import max_threads
    from ..bench.machine import usable_cores

    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:  # the cores this rank may use (a launcher that binds ranks leaves one), shared
        return max(1, min(max_threads(), usable_cores() // local.Get_size()))
    finally:
        local.Free()


def _block_deficit(inner: Backend, block: Block) -> Any:
    p = inner.problem
    d = deficit(p.stencil, p.border, block.shape, block.sides)
    return None if d is None else d.astype(p.dtype)


class _NumpyStepper:
    """``numpy`` and ``numpy-school``: their own loops, with the ghost fill replaced by the
    exchange (their steps call ``self.fill_ghosts()`` before each step and read the ring only)."""

    def __init__(self, inner: Any, block: Block, halo: HaloExchange) -> None:
        self.inner = inner
        inner.deficit = _block_deficit(inner, block)
        inner.fill_ghosts = lambda: halo.fill(inner.U, inner.V)

    def compile(self) -> None:
        self.inner.compile()

    def exchange(self) -> None:
        """One exchange alone (what ``bench`` times)."""
        self.inner.fill_ghosts()

    def advance(self, nsteps: int) -> None:
        self.inner.advance(nsteps)


def _numba_stepper(inner: Any, block: Block, halo: HaloExchange) -> Any:
    """``numba`` and ``numba-parallel``: the exchange hidden behind the interior, ``depth``
    steps per exchange (overlap)."""
    from .overlap import OverlapStepper

    return OverlapStepper(inner, halo, inner.problem.border, block.sides)
