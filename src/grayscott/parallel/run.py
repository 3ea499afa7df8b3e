"""``grayscott run`` and ``grayscott resume`` over MPI ranks: the same loop, the same file.

:func:`grayscott.runs.run` and :func:`grayscott.runs.resume` are the only implementation;
:class:`MPIPlacement` says what differs over ranks, and :func:`run`/:func:`resume` here call
them with it on every rank:

* every rank computes its block (a :class:`DistributedBackend`) and writes it into its own
  part file every frame (:class:`~.output.PartWriter`; the run file's ``matrix`` maps the
  parts: :mod:`grayscott.io.parts`); rank 0 checks the output, holds the lock, keeps the run
  file (counters, checkpoints gathered to it, the final state), prints and renders the video;
  a file of one process resumed over ranks keeps its frames in the run file (gathered to
  rank 0);
* whatever only rank 0 can check (the output, the lock, the file) is agreed: its error is
  raised on every rank (:func:`~.collective.on_root`);
* the blow-up check and the stop signal are reduced over the ranks every frame, so every rank
  stops after the same frame and the checkpoint is that frame's state;
* the file records the inner backend (``backend``) plus ``mpi_ranks``, ``mpi_dims``,
  ``mpi_layout`` (as asked: ``auto`` or ``RxC``) and ``mpi_halo_depth``: it can be resumed on
  any number of ranks, or on one process, bit for bit.

:func:`runner` picks these or the one-process functions, for the command line.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .. import backends, runs
from ..backends.base import Backend
from ..errors import BlowUpError
from ..observers import HDF5Writer, Interrupted, Observer, RunContext, StopSignal
from ..physics import Problem, make_initial
from ..physics.problem import check_int
from ..simulation import Simulation
from . import launched, world
from .collective import ROOT, agree, on_root
from .distributed import DistributedBackend, check_decomposable
from .launcher import requested_depth, requested_layout
from .placement import Placement

T = TypeVar("T")


def runner(what: str, layout: str | None = None,
           depth: int | None = None) -> Callable[..., runs.RunResult]:
    """``runs.run``/``runs.resume``, or their MPI versions when launched by mpiexec, on the
    rank layout ``layout`` (``--layout``: RxC or auto; default ``GRAYSCOTT_MPI_DIMS``) with
    halos ``depth`` deep (``--halo-depth``; default: :func:`.distributed.choose_depth`)."""
    mpi = launched()
    dims, _ = requested_layout(layout, mpi)
    depth = requested_depth(depth, mpi)
    if not mpi:
        return getattr(runs, what)
    return functools.partial({"run": run, "resume": resume}[what], dims=dims, depth=depth)


def run(*args: Any, comm: Any = None, dims: tuple[int, int] | None = None,
        depth: int | None = None, **kwargs: Any) -> runs.RunResult:
    """:func:`grayscott.runs.run` (same arguments) on every rank of ``comm`` (default: the
    world) as ``dims`` (default: the layout chosen for the grid), halos ``depth`` deep;
    ``state`` is needed on rank 0 only. ``on_frame`` and ``on_start`` are called on rank 0
    only."""
    return runs.run(*args, placement=MPIPlacement(comm, dims, depth), **kwargs)


def resume(*args: Any, comm: Any = None, dims: tuple[int, int] | None = None,
           depth: int | None = None, **kwargs: Any) -> runs.RunResult:
    """:func:`grayscott.runs.resume` (same arguments) on every rank, on any number of ranks:
    the checkpoint is the global state, scattered anew."""
    return runs.resume(*args, placement=MPIPlacement(comm, dims, depth), **kwargs)


class MPIPlacement(Placement):
    """:class:`grayscott.parallel.placement.Placement` over the ranks of ``comm``: rank 0 is
    the root, the backend a :class:`DistributedBackend` (decomposable inner backends only), the
    blow-up check and the stop signal agreed by every rank."""

    def __init__(self, comm: Any = None, dims: tuple[int, int] | None = None,
                 depth: int | None = None) -> None:
        self.comm = comm if comm is not None else world()
        self.dims = dims
        self.depth = depth
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.is_root = self.rank == ROOT
        #: (session, run file, grid shape) once :meth:`frame_parts` made them.
        self.parts: tuple[dict[str, Any], Path, tuple[int, int]] | None = None

    def on_root(self, fn: Callable[[], T]) -> T | None:
        return on_root(self.comm, fn)

    def bcast(self, x: T) -> T:
        return self.comm.bcast(x, root=ROOT)

    def allreduce_max(self, x: float) -> float:
        from mpi4py import MPI

        return self.comm.allreduce(x, op=MPI.MAX)

    def default_backend(self) -> str:
        return backends.default_backend(decomposable=True)

    def check_backend(self, name: str) -> str:
        return check_decomposable(name)

    def simulation(self, problem: Problem, backend: str, *, initial: str, seed: int,
                   state: tuple[np.ndarray, np.ndarray] | None, threads: int | None,
                   steps_done: int, options: dict[str, Any] | None) -> Simulation:
        be = DistributedBackend(problem, backend, comm=self.comm, dims=self.dims,
                                threads=threads, options=options, depth=self.depth)
        return _Simulation(problem, be, initial, seed, state, steps_done)

    def backend_attrs(self, backend: Backend) -> dict[str, Any]:
        # The ranks, then how the inner backend tuned itself on each block.
        assert isinstance(backend, DistributedBackend)
        return {"mpi_ranks": backend.size, "mpi_dims": "x".join(map(str, backend.block.dims)),
                "mpi_layout": "auto" if self.dims is None else "x".join(map(str, self.dims)),
                "mpi_halo_depth": backend.depth,
                **super().backend_attrs(backend.inner)}

    def root_only(self, observer: Observer) -> Observer:
        return _OnRoot(self.comm, observer)

    def release(self, backend: Backend) -> None:
        # its communicator: a process holds a few thousand at most, and a script may run many
        assert isinstance(backend, DistributedBackend)
        backend.free()

    def resume_note(self, backend: Backend) -> str:
        assert isinstance(backend, DistributedBackend)
        return f", {backend.describe()}"

    def blow_up_check(self) -> Observer:
        return AgreedBlowUpCheck()

    writes_parts = True

    def frame_parts(self, path: Path, nbimage: int, first: int,
                    backend: Backend) -> dict[str, Any] | None:
        from ..io.parts import new_session

        assert isinstance(backend, DistributedBackend)
        session = new_session(path, first, nbimage, backend.block.dims)
        self.parts = self.bcast(session if self.is_root else None), path, backend.problem.shape
        return self.parts[0]

    def writer(self, writer: HDF5Writer) -> Observer:
        if self.parts is None:  # a file of one process resumed over ranks: rank 0 writes it
            return _OnRoot(self.comm, writer if self.is_root else _FollowWriter())
        from .output import PartWriter

        session, path, shape = self.parts
        return PartWriter(self.comm, writer, session, path.parent, shape)

    def stop_signal(self, within: float | None = None) -> StopSignal:
        return AgreedStopSignal(self.comm, within)


# -- observers that agree across ranks --------------------------------------------------------


class AgreedBlowUpCheck(Observer):
    """:class:`~grayscott.observers.BlowUpCheck` over all ranks: every rank checks its own
    block and one allreduce tells all, so they all raise at the same frame (no gather)."""

    def frame(self, ctx: RunContext) -> None:
        if not ctx.sim.backend.all_finite():
            raise BlowUpError(
                f"the run blew up: V is NaN or infinite in frame {ctx.frame} (after "
                f"{ctx.steps_done} steps); frames before it are kept. Try a smaller dt "
                "or other rates")


class AgreedStopSignal(StopSignal):
    """:class:`~grayscott.observers.StopSignal` over all ranks: a SIGINT/SIGTERM seen by any
    rank (mpiexec forwards them to all) stops every rank after the same frame."""

    def __init__(self, comm: Any, within: float | None = None) -> None:
        super().__init__(within=within)
        self.comm = comm
        self.ctx: RunContext | None = None

    def start(self, ctx: RunContext) -> None:
        self.ctx = ctx
        super().start(ctx)

    def _handler(self, signum: int, frame: Any) -> None:
        if self._closing(signum):
            return
        if self.signum is not None:
            self._at_once(signum)
            return
        self.signum = signum
        if self.comm.Get_rank() == ROOT:
            when = "after this frame" if self.within is None else self._when()
            print(f"\ngrayscott: {signal.Signals(signum).name} received, every rank stops "
                  f"{when} (send it again to stop at once)", file=sys.stderr, flush=True)

    def agreed(self, seconds_per_step: float) -> tuple[int | None, float]:
        # One allreduce after each sub-block: every rank cuts at the same step, and the
        # slowest rank's pace sizes the next sub-block on all.
        from mpi4py import MPI

        mine = np.array([self.signum or 0, seconds_per_step], np.float64)
        both = np.empty_like(mine)
        self.comm.Allreduce(mine, both, op=MPI.MAX)  # element by element
        return int(both[0]) or None, float(both[1])

    def _at_once(self, signum: int) -> None:
        """The second signal. Raising here, wherever each rank is, would leave the ranks in
        different collectives, waiting for each other for ever (and the file "running"). Rank
        0 marks the file "interrupted" (a raw write: the frames it counts are whole on every
        rank) and ends every rank; the others go on until it does."""
        if self.comm.Get_rank() != ROOT:
            return
        runfile = self.ctx.shared.get("runfile") if self.ctx is not None else None
        with contextlib.suppress(Exception):
            if runfile is not None:
                runfile.set_status("interrupted")
        print(f"\ngrayscott: {signal.Signals(signum).name} again: every rank stops now; the "
              "frames counted so far are kept", file=sys.stderr, flush=True)
        self.comm.Abort(128 + signum)

    def wants_state(self, ctx: RunContext) -> bool:
        # A local decision cannot ask for a collective fetch; the checkpointer's finish
        # saves the state of the frame where all ranks stopped.
        return False

    def frame(self, ctx: RunContext) -> None:
        signum = agree(self.comm, self.signum)
        if signum is not None:
            raise Interrupted(signum)


class _OnRoot(Observer):
    """``observer`` (``on_frame``, the video, the checkpoints, a writer of the run file alone)
    on every rank, where its hooks do nothing but on rank 0 (or stand for rank 0's), and rank
    0's error raised on every rank at the same hook: the others would otherwise wait for rank 0
    in the next collective for ever."""

    def __init__(self, comm: Any, observer: Observer) -> None:
        self.comm = comm
        self.observer = observer
        self.needs_v = observer.needs_v
        self.frame_uses_backend = observer.frame_uses_backend

    def wants_state(self, ctx: RunContext) -> bool:
        return self.observer.wants_state(ctx)

    def _agreed(self, hook: Callable[[], None]) -> None:
        # elsewhere the hook does nothing, or its part of a collective (the checkpointer's
        # fetch of the final state), or stands for rank 0's work (the ranks' writer)
        if self.comm.Get_rank() != ROOT:
            hook()
        on_root(self.comm, hook)

    def start(self, ctx: RunContext) -> None:
        self._agreed(lambda: self.observer.start(ctx))

    def frame(self, ctx: RunContext) -> None:
        if type(self.observer).frame is not Observer.frame:  # no message for a hook it lacks
            self._agreed(lambda: self.observer.frame(ctx))

    def finish(self, ctx: RunContext) -> None:
        self._agreed(lambda: self.observer.finish(ctx))


class _FollowWriter(Observer):
    """On the ranks that do not write: count the frame as written once the loop goes past the
    writer (rank 0 failing to write fails every rank: :class:`_OnRoot`), so the checkpointer's
    end-of-run decision, which leads to a collective fetch of the state, is the same on every
    rank.
    It needs V as the writer does: fetching V is a gather every rank takes part in."""

    needs_v = True

    def start(self, ctx: RunContext) -> None:
        ctx.shared["frames_written"] = ctx.first_frame

    def frame(self, ctx: RunContext) -> None:
        ctx.shared["frames_written"] = ctx.frames_done


class _Simulation(Simulation):
    """A :class:`~grayscott.simulation.Simulation` whose global state exists on rank 0 only (the
    other ranks would hold two global arrays for nothing)."""

    def __init__(self, problem: Problem, backend: DistributedBackend, initial: str, seed: int,
                 state: tuple[np.ndarray, np.ndarray] | None, steps_done: int) -> None:
        self.problem = problem
        self.steps_done = check_int("steps_done", steps_done, 0)
        self.backend = backend
        self.consistent = True
        u = v = None
        if backend.is_root:
            u, v = state if state is not None else make_initial(initial, problem.shape, seed)
        backend.set_state(u, v)
