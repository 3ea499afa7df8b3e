"""``grayscott run`` and ``grayscott resume`` over MPI ranks: the same loop, the same file.

:func:`run` and :func:`resume` take the arguments of :func:`grayscott.driver.run` and
:func:`grayscott.driver.resume` and are called on every rank. They build the same observer loop
(:func:`grayscott.driver.drive`) around a :class:`DistributedBackend`:

* rank 0 checks the output, holds the lock, writes the file with the one-process writer and
  checkpointer (frames gathered to it every frame), prints and renders the video; the other
  ranks compute their blocks and take part in the gathers;
* whatever only rank 0 can check (the output, the lock, the file) is agreed: its error is
  raised on every rank (:func:`~.collective.on_root`);
* the blow-up check and the stop signal are reduced over the ranks every frame, so every rank
  stops after the same frame and the checkpoint is that frame's state;
* the file records the inner backend (``backend``) plus ``mpi_ranks`` and ``mpi_dims``: it can
  be resumed on any number of ranks, or on one process, bit for bit.

:func:`runner` picks these or the one-process functions, for the command line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import backends
from .. import driver as D
from ..errors import BlowUpError, GrayScottError
from ..io.hdf5 import RunFile, check_output_path, estimated_bytes
from ..io.paths import OutputLock, temporary_path
from ..observers import (
    Callback,
    Checkpointer,
    HDF5Writer,
    Interrupted,
    Observer,
    Progress,
    RunContext,
    StopSignal,
    Video,
)
from ..physics import INITIAL_STATES, Problem, make_initial
from ..physics.problem import check_dtype, check_int
from ..resources import check_memory
from . import launched, world
from .collective import ROOT, agree, on_root
from .distributed import DistributedBackend, check_decomposable

DIMS_VARIABLE = "GRAYSCOTT_MPI_DIMS"


def runner(what: str) -> Callable[..., D.RunResult]:
    """``driver.run``/``driver.resume``, or their MPI versions when launched by mpiexec."""
    if not launched():
        return getattr(D, what)
    return {"run": run, "resume": resume}[what]


def env_dims() -> tuple[int, int] | None:
    """The rank layout asked for in ``GRAYSCOTT_MPI_DIMS`` (e.g. ``2x2``), else None."""
    from .decomposition import parse_dims

    return parse_dims(os.environ.get(DIMS_VARIABLE))


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

    def __init__(self, comm: Any) -> None:
        super().__init__()
        self.comm = comm

    def _handler(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt if signum == signal.SIGINT else Interrupted(signum)
        self.signum = signum
        if self.comm.Get_rank() == ROOT:
            print(f"\ngrayscott: {signal.Signals(signum).name} received, every rank stops "
                  "after this frame (send it again to stop at once)", file=sys.stderr,
                  flush=True)

    def wants_state(self, ctx: RunContext) -> bool:
        # A local decision cannot ask for a collective fetch; the checkpointer's finish
        # saves the state of the frame where all ranks stopped.
        return False

    def frame(self, ctx: RunContext) -> None:
        signum, _ = agree(self.comm, self.signum)
        if signum is not None:
            raise Interrupted(signum)


class _FollowWriter(Observer):
    """On the ranks that do not write: count the frame as written once the loop goes past the
    writer (rank 0 failing to write ends every rank), so the checkpointer's end-of-run
    decision, which leads to a collective fetch of the state, is the same on every rank.
    It needs V as the writer does: fetching V is a gather every rank takes part in."""

    needs_v = True

    def start(self, ctx: RunContext) -> None:
        ctx.shared["frames_written"] = ctx.first_frame

    def frame(self, ctx: RunContext) -> None:
        ctx.shared["frames_written"] = ctx.frames_done


class _Simulation(D.Simulation):
    """A :class:`~grayscott.driver.Simulation` whose global state exists on rank 0 only (the
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


def _lock(comm: Any, path: Path) -> contextlib.AbstractContextManager:
    """The output lock, taken by rank 0; a refusal is raised on every rank."""
    stack = contextlib.ExitStack()
    on_root(comm, lambda: stack.enter_context(OutputLock(path)))
    return stack


def _loop(sim: _Simulation, ctx: RunContext, writer: HDF5Writer, checkpointer: Checkpointer,
          progress: bool, on_frame: Callable[[int, np.ndarray], None] | None,
          observers: Sequence[Observer], video: Video | None, compile_seconds: float,
          path: Path) -> D.RunResult:
    comm = sim.backend.cart
    chain: list[Observer] = [o for o in (video,) if o is not None and ctx.is_root]
    chain += [AgreedBlowUpCheck(), writer if ctx.is_root else _FollowWriter(), checkpointer,
              Progress(progress and ctx.is_root), *observers]
    if on_frame is not None:
        chain.append(Callback(on_frame))
    chain.append(AgreedStopSignal(comm))
    steps0 = sim.steps_done
    outcome = D.drive(sim, chain, ctx)
    wall = comm.allreduce(ctx.wall_seconds, op=_max())
    frames = comm.bcast(writer.frames_written, root=ROOT)
    cells = sim.problem.nbrow * sim.problem.nbcol * (sim.steps_done - steps0)
    return D.RunResult(path, frames, sim.steps_done, outcome.completed, outcome.status, wall,
                       cells / wall if wall > 0 else float("nan"), compile_seconds,
                       ctx.first_frame)


def _max() -> Any:
    from mpi4py import MPI

    return MPI.MAX


def run(problem: Problem, output: str | Path = "output.h5", nbimage: int = 1000,
        nbextrastep: int = 32, backend: str | None = None, initial: str = "school",
        seed: int = 0, overwrite: bool = False, output_dtype: str = "float32",
        threads: int | None = None, progress: bool = True,
        on_frame: Callable[[int, np.ndarray], None] | None = None,
        on_start: Callable[[D.Simulation], None] | None = None, *,
        state: tuple[np.ndarray, np.ndarray] | None = None, steps_done: int = 0,
        checkpoint_every: int = D.DEFAULT_CHECKPOINT_EVERY, flush_every: int = 1,
        observers: Sequence[Observer] = (), video: str | None = None, quiet_video: bool = True,
        extra_attrs: dict[str, Any] | None = None,
        backend_options: dict[str, Any] | None = None, comm: Any = None,
        dims: tuple[int, int] | None = None) -> D.RunResult:
    """:func:`grayscott.driver.run` on every rank of ``comm`` (default: the world); ``state``
    is needed on rank 0 only. ``on_frame`` and ``on_start`` are called on rank 0 only."""
    comm = comm if comm is not None else world()
    dims = dims if dims is not None else env_dims()
    root = comm.Get_rank() == ROOT
    # The checks of driver.run, on every rank (they give the same answer everywhere).
    nbimage = check_int("nbimage", nbimage)
    nbextrastep = check_int("nbextrastep", nbextrastep)
    steps_done = check_int("steps_done", steps_done, 0)
    checkpoint_every = check_int("checkpoint_every", checkpoint_every, 0)
    flush_every = check_int("flush_every", flush_every, 0)
    seed = D.check_seed(seed)
    D.check_steps(steps_done, nbimage, nbextrastep)
    out_dtype = check_dtype(output_dtype)
    if state is None and initial not in INITIAL_STATES:
        raise GrayScottError(f"unknown initial state {initial!r}; choose one of: "
                             f"{', '.join(INITIAL_STATES)}")
    # Refuse a backend that cannot run decomposed before importing it (JAX takes seconds).
    name = D._check_backend(check_decomposable(
        backend or backends.default_backend(decomposable=True)))
    if state is not None and root:
        state = D._check_state(state, problem.shape)

    def check_output() -> Path:
        path = check_output_path(output, overwrite, estimated_bytes(
            nbimage, problem.shape, out_dtype, problem.dtype))
        check_memory(name, problem.shape, problem.dtype, out_dtype)  # rank 0 holds the whole
        if video:
            from ..views.commands import check_video

            check_video(video, overwrite, str(output))
        return path

    path = comm.bcast(on_root(comm, check_output), root=ROOT)
    video_obs = Video(path, video, overwrite, quiet_video) if video else None
    with _lock(comm, path):
        be = DistributedBackend(problem, name, comm=comm, dims=dims, threads=threads,
                                options=backend_options)
        sim = _Simulation(problem, be, initial, seed, state, steps_done)
        if on_start is not None and root:
            on_start(sim)
        compile_seconds = comm.allreduce(D._compile(sim), op=_max())
        u0, v0 = sim.state  # collective: the starting state is the first checkpoint
        p = problem.params
        attrs: dict[str, Any] = {
            **p.as_dict(), "nbrow": problem.nbrow, "nbcol": problem.nbcol,
            "stencil": problem.stencil.name, "stencil_weights": problem.stencil.weights,
            "border": problem.border, "initial": "state" if state is not None else initial,
            "seed": seed, "backend": name, "threads": be.threads,
            "mpi_ranks": be.size, "mpi_dims": "x".join(map(str, be.block.dims)),
            "dtype": problem.dtype.name, "output_dtype": out_dtype.name, "started": D._now(),
            "compile_seconds": compile_seconds, "checkpoint_every": checkpoint_every,
            **D._versions(name), **(extra_attrs or {}),
            **{f"backend_{k}": v for k, v in getattr(be.inner, "provenance", {}).items()},
        }
        existed = comm.bcast(path.exists() if root else None, root=ROOT)

        def create() -> RunFile:
            runfile = RunFile.create(temporary_path(path), nbimage=nbimage,
                                     nbextrastep=nbextrastep, dt=p.dt, shape=problem.shape,
                                     output_dtype=out_dtype, state_dtype=problem.dtype,
                                     attrs=attrs, steps_before=steps_done, name=path)
            try:
                runfile.write_checkpoint(u0, v0, 0, steps_done)
            except BaseException:
                runfile.close()
                runfile.path.unlink()
                raise
            if not existed:
                os.replace(runfile.path, path)
                runfile.path = path
            return runfile

        runfile = on_root(comm, create)
        writer = HDF5Writer(runfile, out_dtype, publish_to=path if existed else None,
                            keep_old=existed, flush_every=flush_every)
        checkpointer = Checkpointer(runfile, checkpoint_every, steps_done, nbextrastep)
        ctx = RunContext(sim, nbimage, nbextrastep, rank=be.rank, size=be.size)
        return _loop(sim, ctx, writer, checkpointer, progress, on_frame, observers, video_obs,
                     compile_seconds, path)


def resume(path: str | Path, nbimage: int | None = None, backend: str | None = None,
           threads: int | None = None, progress: bool = True,
           on_frame: Callable[[int, np.ndarray], None] | None = None,
           on_start: Callable[[D.Simulation], None] | None = None, *,
           checkpoint_every: int | None = None, flush_every: int = 1,
           observers: Sequence[Observer] = (), video: str | None = None,
           overwrite_video: bool = False, quiet_video: bool = True,
           plan: D.ResumePlan | None = None, comm: Any = None,
           dims: tuple[int, int] | None = None) -> D.RunResult:
    """:func:`grayscott.driver.resume` on every rank, on any number of ranks: the checkpoint
    is the global state, scattered anew."""
    comm = comm if comm is not None else world()
    dims = dims if dims is not None else env_dims()
    root = comm.Get_rank() == ROOT
    flush_every = check_int("flush_every", flush_every, 0)
    if plan is None:
        plan = comm.bcast(on_root(comm, lambda: D.plan_resume(
            path, nbimage, backend, threads, checkpoint_every)), root=ROOT)
    problem = plan.problem
    check_decomposable(plan.backend)

    def check_output() -> None:
        room = estimated_bytes(plan.nbimage, problem.shape, plan.output_dtype, problem.dtype)
        check_output_path(plan.path, True, max(room - plan.path.stat().st_size, 0))
        check_memory(plan.backend, problem.shape, problem.dtype, plan.output_dtype)
        if video:
            from ..views.commands import check_video

            check_video(video, overwrite_video, str(plan.path))

    on_root(comm, check_output)
    video_obs = Video(plan.path, video, overwrite_video, quiet_video) if video else None
    with _lock(comm, plan.path):
        def open_file() -> tuple[RunFile, tuple[np.ndarray, np.ndarray, int, int]]:
            runfile = RunFile.open(plan.path)
            try:
                ck = runfile.read_checkpoint()
                if ck is None:
                    raise GrayScottError(f"{str(plan.path)!r} holds no checkpoint")
                if not (np.isfinite(ck[0]).all() and np.isfinite(ck[1]).all()):
                    raise GrayScottError(f"the checkpoint of {str(plan.path)!r} is not finite")
            except BaseException:
                runfile.close()
                raise
            return runfile, ck

        opened = on_root(comm, open_file)
        runfile, (u, v, frames, steps) = opened if root else (None, (None, None, 0, 0))
        frames, steps = comm.bcast((frames, steps), root=ROOT)
        try:
            be = DistributedBackend(problem, plan.backend, comm=comm, dims=dims,
                                    threads=plan.threads)
            sim = _Simulation(problem, be, "school", 0, (u, v) if root else None, steps)
            del u, v
            if on_start is not None and root:
                on_start(sim)
            compile_seconds = comm.allreduce(D._compile(sim), op=_max())

            def extend() -> None:
                if plan.nbimage != runfile.matrix.shape[0]:
                    runfile.extend(plan.nbimage)
                log = str(runfile.file.attrs.get("resume_log", ""))
                entry = (f"{D._now()}: from frame {frames} (step {steps}) to {plan.nbimage} "
                         f"frames on {plan.backend}, {be.describe()}")
                runfile.file.attrs["resume_log"] = (log + "\n" + entry).strip()
                runfile.flush()

            on_root(comm, extend)
        except BaseException:
            if runfile is not None:
                runfile.close()
            raise
        writer = HDF5Writer(runfile, plan.output_dtype, flush_every=flush_every,
                            wall_before=plan.wall_before)
        checkpointer = Checkpointer(runfile, plan.checkpoint_every,
                                    steps - frames * plan.nbextrastep, plan.nbextrastep)
        ctx = RunContext(sim, plan.nbimage, plan.nbextrastep, first_frame=frames,
                         rank=be.rank, size=be.size)
        return _loop(sim, ctx, writer, checkpointer, progress, on_frame, observers, video_obs,
                     compile_seconds, plan.path)
