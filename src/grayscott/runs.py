"""The two ways into the time loop: :func:`run` (a new run) and :func:`resume` (a run continued
from its file's last checkpoint), with what they check and plan first.

It owns the checks of the output, the disk space and the memory before a start, the run
file's attributes (settings and provenance), the chain of observers and the
:class:`RunResult`; the step count, seed and backend checks and the resume plan live in
:mod:`grayscott.plans`. The loop itself is :func:`grayscott.loop.drive`; what differs over MPI
ranks is asked of a :class:`~grayscott.parallel.placement.Placement`. It may not import
mpi4py, a backend module (backends are made by name through :mod:`grayscott.backends`) or
the views at import time (the video's checks are imported when a video is asked for).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import backends
from .errors import BlowUpError, GrayScottError
from .io.layout import check_output_path, estimated_bytes, file_error, fsync_folder
from .io.paths import OutputLock, temporary_path
from .io.remake import needs_room, remade
from .io.runfile import RunFile
from .loop import drive
from .observers import (
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
from .observers.pacing import Pacer, check_stop_within
from .parallel.placement import ONE_PROCESS, Placement
from .physics import INITIAL_STATES, Problem
from .physics.problem import check_dtype, check_int
from .plans import (
    DEFAULT_CHECKPOINT_EVERY,
    ResumePlan,
    _check_backend,
    check_seed,
    check_steps,
    plan_resume,
)
from .provenance import file_versions, now_utc
from .resources import check_memory
from .simulation import Simulation, _check_state

__all__ = ["DEFAULT_CHECKPOINT_EVERY", "RunResult", "resume", "run"]


@contextlib.contextmanager
def _lock(pl: Placement, path: Path) -> Iterator[OutputLock | None]:
    """The output lock, taken by the root (None elsewhere); a refusal is raised on every
    process."""
    with contextlib.ExitStack() as stack:
        yield pl.on_root(lambda: stack.enter_context(OutputLock(path)))


@dataclass
class RunResult:
    path: Path
    frames_written: int
    steps_done: int
    completed: bool
    status: str
    wall_seconds: float
    cell_steps_per_second: float
    compile_seconds: float = 0.0
    first_frame: int = 0  # where this session started (resume)


def _loop(pl: Placement, sim: Simulation, ctx: RunContext, path: Path, writer: HDF5Writer,
          checkpointer: Checkpointer, progress: bool,
          on_frame: Callable[[int, np.ndarray], None] | None, observers: Sequence[Observer],
          video: Video | None, compile_seconds: float, stop: StopSignal,
          lead: int = 0) -> RunResult:
    chain: list[Observer] = [pl.root_only(video)] if video is not None else []
    chain += [pl.blow_up_check(), pl.writer(writer), pl.root_only(checkpointer),
              Progress(progress and pl.is_root), *observers]
    if on_frame is not None:
        chain.append(pl.root_only(Callback(on_frame)))
    chain.append(stop)
    steps0 = sim.steps_done
    ctx.lead = lead
    ctx.pacer = Pacer(stop.within, stop) if stop.within is not None else None
    try:
        outcome = drive(sim, chain, ctx)
    except (BlowUpError, Interrupted):  # every process stops at the same frame on these
        pl.release(sim.backend)
        raise
    finally:  # only now: a signal during the file's last writes must not cut them short
        stop.restore()
    wall = pl.allreduce_max(ctx.wall_seconds)
    frames = pl.bcast(writer.frames_written)
    pl.release(sim.backend)  # every process got here: the run is over on all of them
    cells = sim.problem.nbrow * sim.problem.nbcol * (sim.steps_done - steps0)
    return RunResult(path, frames, sim.steps_done, outcome.completed, outcome.status, wall,
                     cells / wall if wall > 0 else float("nan"), compile_seconds,
                     ctx.first_frame)


def _stop_taken(pl: Placement, within: float | None) -> StopSignal:
    """The run's stop signal, taken now: before the file is made or changed, so that no
    KeyboardInterrupt is raised inside the writes (or inside h5py's cleanup, where Python
    would print it and drop it); the loop stops at its first frame (its first step boundary,
    ``within`` seconds given) if one came meanwhile."""
    stop = pl.stop_signal(within)
    stop.install()
    return stop


def _compile(sim: Simulation) -> float:
    # Compilation (Numba, XLA) happens here, timed apart from the run itself.
    t0 = time.perf_counter()
    sim.backend.compile()
    return time.perf_counter() - t0


def run(problem: Problem, output: str | Path = "output.h5", nbimage: int = 1000,
        nbextrastep: int = 32, backend: str | None = None, initial: str = "school",
        seed: int = 0, overwrite: bool = False, output_dtype: str = "float32",
        threads: int | None = None,
        progress: bool = True, on_frame: Callable[[int, np.ndarray], None] | None = None,
        on_start: Callable[[Simulation], None] | None = None, *,
        state: tuple[np.ndarray, np.ndarray] | None = None, steps_done: int = 0,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY, flush_every: int = 1,
        observers: Sequence[Observer] = (), video: str | None = None,
        quiet_video: bool = True, extra_attrs: dict[str, Any] | None = None,
        backend_options: dict[str, Any] | None = None,
        placement: Placement | None = None, fsync: bool = False,
        stop_within: float | None = None) -> RunResult:
    """Run a simulation and write the school's HDF5 file, one frame at a time.

    Everything that can be checked is checked before the file is made (numbers, seed, step
    count, backend, output, disk space, memory); ``on_start`` is then called with the ready
    simulation (the CLI prints its settings line there). ``state`` (u, v) starts from a given
    state with ``steps_done`` steps behind it. Each frame is flushed (``flush_every``) and the
    state checkpointed every ``checkpoint_every`` frames (0: only at the end), so a run killed
    at any moment keeps its frames and :func:`resume` continues it. ``observers`` are added to
    the loop (see :mod:`grayscott.observers`); ``video`` renders the file once the run
    completed. On a blow-up, Ctrl-C, SIGTERM or a full disk the frames so far stay in a valid
    file, and the exception is re-raised for the caller (the CLI turns it into a message).
    ``placement`` (default: this one process) runs it over MPI ranks
    (:mod:`grayscott.parallel.run`); ``state``, ``on_start`` and ``on_frame`` then matter on
    the root only. ``fsync``: force every step of the order of writes to the disk, so it holds
    after a lost node too (:mod:`grayscott.io.runfile`). ``stop_within`` (seconds): a stop
    signal saves the state at a step boundary within about that time, in the middle of a frame
    if need be (:mod:`grayscott.observers.pacing`); None: after the frame in progress.
    """
    pl = placement or ONE_PROCESS
    stop_within = check_stop_within(stop_within)
    if problem.rate_map is not None and pl.size > 1:
        raise GrayScottError("a rate map (--map) runs in one process, not over MPI ranks")
    nbimage = check_int("nbimage", nbimage)
    nbextrastep = check_int("nbextrastep", nbextrastep)
    steps_done = check_int("steps_done", steps_done, 0)
    checkpoint_every = check_int("checkpoint_every", checkpoint_every, 0)
    flush_every = check_int("flush_every", flush_every, 0)
    seed = check_seed(seed)
    check_steps(steps_done, nbimage, nbextrastep)
    out_dtype = check_dtype(output_dtype)
    # The state is given on the root only: its refusal, and whether there is one, hold on all.
    given = state
    state = pl.on_root(lambda: None if given is None else _check_state(given, problem.shape))
    if not pl.bcast(state is not None) and initial not in INITIAL_STATES:
        raise GrayScottError(f"unknown initial state {initial!r}; choose one of: "
                             f"{', '.join(INITIAL_STATES)}")
    # A backend the placement cannot run is refused before it is imported (JAX takes seconds).
    name = _check_backend(pl.check_backend(backend or (
        backends.default_backend(rate_map=True) if problem.rate_map is not None
        else pl.default_backend())))

    def check_output() -> Path:  # the root holds the whole grid and writes the file
        check_memory(name, problem.shape, problem.dtype, out_dtype)
        path = check_output_path(output, overwrite, estimated_bytes(
            nbimage, problem.shape, out_dtype, problem.dtype))
        if path.is_symlink():  # replace the file it points to, not the link
            path = Path(os.path.realpath(path))
        if video:
            from .views.commands import check_video

            check_video(video, overwrite, str(output))
        return path

    path = pl.bcast(pl.on_root(check_output))
    video_obs = Video(path, video, overwrite, quiet_video) if video else None
    with _lock(pl, path) as lock:
        sim = pl.simulation(problem, name, initial=initial, seed=seed, state=state,
                            threads=threads, steps_done=steps_done, options=backend_options)
        if on_start is not None:  # its error raised on every process
            pl.on_root(lambda: on_start(sim))
        compile_seconds = pl.allreduce_max(_compile(sim))
        u0, v0 = sim.state  # the starting state is the first checkpoint (collective over MPI)
        p = problem.params
        attrs: dict[str, Any] = {
            **p.as_dict(), "nbrow": problem.nbrow, "nbcol": problem.nbcol,
            "stencil": problem.stencil.name, "stencil_weights": problem.stencil.weights,
            "border": problem.border, "initial": "state" if state is not None else initial,
            "seed": seed, "backend": name, "threads": sim.backend.threads,
            "dtype": problem.dtype.name, "output_dtype": out_dtype.name, "started": now_utc(),
            "compile_seconds": compile_seconds, "checkpoint_every": checkpoint_every,
            # F and k are then row 0's and column 0's; the map gives every row's and column's
            **({"map": problem.rate_map.spec, "F": problem.rate_map.feed[0],
                "k": problem.rate_map.kill[0]} if problem.rate_map is not None else {}),
            **file_versions(name), **(extra_attrs or {}),  # e.g. the preset of `run --preset`
            **pl.backend_attrs(sim.backend),
        }
        existed = pl.bcast(path.exists() if pl.is_root else None)
        parts = pl.frame_parts(path, nbimage, 0, sim.backend)  # MPI: each rank writes a part

        def create() -> RunFile:
            runfile = RunFile.create(temporary_path(path), nbimage=nbimage,
                                     nbextrastep=nbextrastep, dt=p.dt, shape=problem.shape,
                                     output_dtype=out_dtype, state_dtype=problem.dtype,
                                     attrs=attrs, steps_before=steps_done, name=path,
                                     fsync=fsync, parts=[parts] if parts else None)
            # A run killed before its first frame can be resumed too.
            try:
                lock.hold(runfile.path)  # one writer per file, whatever its name becomes
                runfile.write_checkpoint(u0, v0, 0, steps_done)
            except BaseException as exc:
                runfile.abandon()
                with contextlib.suppress(Exception):
                    runfile.close()
                runfile.path.unlink()
                if isinstance(exc, OSError | RuntimeError | ValueError):
                    raise file_error(exc, path) from None
                raise
            if not existed:  # nothing to protect: the file takes its name now, readers see it
                os.replace(runfile.path, path)
                runfile.path = path
                if fsync:
                    fsync_folder(path)
            return runfile

        stop = _stop_taken(pl, stop_within)  # a signal from here on stops the run at once
        try:
            runfile = pl.on_root(create)
        except BaseException:
            stop.restore()
            raise
        writer = HDF5Writer(runfile, out_dtype, publish_to=path if existed else None,
                            keep_old=existed, flush_every=flush_every)
        checkpointer = Checkpointer(runfile, checkpoint_every, steps_done, nbextrastep)
        ctx = RunContext(sim, nbimage, nbextrastep, rank=pl.rank, size=pl.size)
        return _loop(pl, sim, ctx, path, writer, checkpointer, progress, on_frame, observers,
                     video_obs, compile_seconds, stop)


def resume(path: str | Path, nbimage: int | None = None, backend: str | None = None,
           threads: int | None = None, progress: bool = True,
           on_frame: Callable[[int, np.ndarray], None] | None = None,
           on_start: Callable[[Simulation], None] | None = None, *,
           checkpoint_every: int | None = None, flush_every: int = 1,
           observers: Sequence[Observer] = (), video: str | None = None,
           overwrite_video: bool = False, quiet_video: bool = True,
           plan: ResumePlan | None = None, placement: Placement | None = None,
           fsync: bool = False, stop_within: float | None = None) -> RunResult:
    """Continue the run of ``path`` from its last checkpoint with the settings in the file.

    Frames after the checkpoint are computed again and the run goes on to ``nbimage`` frames
    in all (default: the number planned). On the same backend the file ends bit for bit as if
    the run had never stopped; ``backend`` may change it (then the frames agree to rounding).
    ``placement`` (default: this one process) resumes it over MPI ranks, any number of them:
    the checkpoint is the global state. A checkpoint saved in the middle of a frame
    (``stop_within``) is continued from its step: that frame is made whole first.
    """
    pl = placement or ONE_PROCESS
    stop_within = check_stop_within(stop_within)
    flush_every = check_int("flush_every", flush_every, 0)
    if plan is None:
        plan = pl.bcast(pl.on_root(lambda: plan_resume(path, nbimage, backend, threads,
                                                       checkpoint_every)))
    problem = plan.problem
    pl.check_backend(plan.backend)

    def check_output() -> None:
        room = estimated_bytes(plan.nbimage, problem.shape, plan.output_dtype, problem.dtype)
        check_output_path(plan.path, True, max(room - plan.path.stat().st_size, 0))
        check_memory(plan.backend, problem.shape, problem.dtype, plan.output_dtype)
        if video:
            from .views.commands import check_video

            check_video(video, overwrite_video, str(plan.path))

    pl.on_root(check_output)
    video_obs = Video(plan.path, video, overwrite_video, quiet_video) if video else None
    with _lock(pl, plan.path) as lock:
        def open_file() -> tuple[RunFile, tuple[np.ndarray, np.ndarray, int, int]]:
            runfile = RunFile.open(plan.path, fsync)
            if runfile.virtual and not pl.writes_parts:  # one process writes one file
                from .io.gather import gather

                runfile.close()
                gather(plan.path, lock=False)
                runfile = RunFile.open(plan.path, fsync)
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

        opened = pl.on_root(open_file)
        runfile, (u, v, frames, steps) = opened if pl.is_root else (None, (None, None, 0, 0))
        frames, steps = pl.bcast((frames, steps))
        virtual = pl.bcast(runfile.virtual if pl.is_root else None)
        try:
            sim = pl.simulation(problem, plan.backend, initial="school", seed=0,
                                state=(u, v) if pl.is_root else None, threads=plan.threads,
                                steps_done=steps, options=plan.options or None)
            del u, v
            if on_start is not None:
                pl.on_root(lambda: on_start(sim))
            compile_seconds = pl.allreduce_max(_compile(sim))

            # Over MPI, a file of part files goes on in new ones, from the checkpoint on.
            parts = pl.frame_parts(plan.path, plan.nbimage, frames, sim.backend) \
                if virtual else None

            def make_room() -> RunFile:
                """The room the resume needs, made before any write (io/remake.py); then
                its line in the resume log."""
                rf = runfile
                if needs_room(rf.file, plan.nbimage) or parts is not None:
                    rf.close()
                    # frames after a new session's first are its own: not counted till then
                    kept = plan.frames_written if parts is None else min(plan.frames_written,
                                                                         frames)
                    rf = remade(plan.path, plan.nbimage, kept, lock.hold, fsync, parts)
                entry = (f"{now_utc()}: from frame {frames} (step {steps}) to {plan.nbimage} "
                         f"frames on {plan.backend}{pl.resume_note(sim.backend)}")
                try:
                    rf.log_resume(entry)
                except (OSError, RuntimeError, ValueError) as exc:
                    rf.close()
                    raise file_error(exc, plan.path) from None
                return rf

            stop = _stop_taken(pl, stop_within)  # a signal from here on stops after the first frame
            try:
                made = pl.on_root(make_room)  # on every rank: a refusal is raised on all
            except BaseException:
                stop.restore()
                raise
            runfile = made if pl.is_root else None
        except BaseException:
            if runfile is not None:
                with contextlib.suppress(Exception):
                    runfile.close()
            raise
        writer = HDF5Writer(runfile, plan.output_dtype, flush_every=flush_every,
                            wall_before=plan.wall_before)
        before = plan.steps - plan.lead - plan.first_frame * plan.nbextrastep  # the run's
        lead = steps - before - frames * plan.nbextrastep  # 0 unless the checkpoint cut a frame
        checkpointer = Checkpointer(runfile, plan.checkpoint_every, before, plan.nbextrastep)
        ctx = RunContext(sim, plan.nbimage, plan.nbextrastep, first_frame=frames,
                         rank=pl.rank, size=pl.size)
        return _loop(pl, sim, ctx, plan.path, writer, checkpointer, progress, on_frame,
                     observers, video_obs, compile_seconds, stop, lead)
