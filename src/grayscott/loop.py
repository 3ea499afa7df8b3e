"""The time loop: :func:`drive` advances a :class:`~grayscott.simulation.Simulation` one frame
at a time and hands each frame to the observers (writer, checkpointer, progress, blow-up
check, stop signal, video, user callback: see :mod:`grayscott.observers` for the interface),
then lets each finish.

It owns how a frame reaches the observers: the plain loop, a device backend one block ahead
(:func:`grayscott.backends.frames.frames_ahead`), and a worker thread for backends whose
compiled blocks release the GIL (:func:`_frames_in_thread`). No physics, no kernels, no file
format here: it may not import io/, views/ or a backend module; the file is the writer
observer's business.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .errors import BlowUpError, DiskFullError
from .observers import Interrupted, Observer, Outcome, RunContext
from .simulation import Simulation

__all__ = ["drive"]


def _status(exc: BaseException) -> str:
    from .io.layout import is_disk_full

    if isinstance(exc, Interrupted | KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, BlowUpError):
        return "blew up"
    if isinstance(exc, DiskFullError) or (isinstance(exc, OSError) and is_disk_full(exc)):
        return "disk full"
    return f"failed: {type(exc).__name__}: {exc}"[:150]


def _frames(sim: Simulation, observers: Sequence[Observer], ctx: RunContext,
            needs_v: bool) -> Iterator[tuple[int, Any]]:
    """Yield ``(i, what was fetched for frame i)``: V, (U, V), or None (nothing fetched yet:
    the backend's state is frame ``i``'s).

    A backend whose ``advance`` returns before the work is done (a GPU) runs one block ahead
    (:func:`grayscott.backends.frames.frames_ahead`): the next block computes while frame
    ``i`` travels to the host and the observers handle it. Where an observer wants the state
    of frame ``i`` (a checkpoint), it is requested as a whole (``request_state``) at once, so
    the device does not wait for the checkpoint either.
    """
    from .backends.frames import frames_ahead

    backend = sim.backend
    blocks = iter(range(ctx.first_frame, ctx.nbimage))  # the frame each block makes
    if needs_v and not backend.capabilities.synchronous:
        frame = iter(range(ctx.first_frame, ctx.nbimage))

        def request() -> Any:
            ctx.frame = next(frame)  # the frame just computed; the loop sets it again
            if any(o.wants_state(ctx) for o in observers):
                return backend.request_state()
            return backend.request_v()

        def advance() -> None:
            _advance(sim, ctx, ctx.block_steps(next(blocks)), backend.synchronize)

        # Paced (--stop-within), a block is waited for and may be cut: never one ahead, or a
        # cut would come before the frame in hand is written.
        for k, fetched in frames_ahead(advance, request, ctx.nbimage - ctx.first_frame,
                                       lambda i: ctx.pacer is None):
            yield ctx.first_frame + k, fetched
        return
    if needs_v and backend.capabilities.releases_gil and not any(
            o.frame_uses_backend for o in observers):
        yield from _frames_in_thread(sim, observers, ctx)
        return
    for i in blocks:
        _advance(sim, ctx, ctx.block_steps(i))
        yield i, None


def _advance(sim: Simulation, ctx: RunContext, nsteps: int,
             sync: Callable[[], None] = lambda: None) -> None:
    """``sim.advance(nsteps)``, in sub-blocks when paced (``--stop-within``): a stop cuts the
    frame at a step boundary and ends the loop there (the checkpointer saves that step)."""
    if ctx.pacer is None:
        sim.advance(nsteps)
    elif ctx.pacer.advance(sim.advance, nsteps, sync) < nsteps:
        raise Interrupted(ctx.pacer.signum)


def _frames_in_thread(sim: Simulation, observers: Sequence[Observer],
                      ctx: RunContext) -> Iterator[tuple[int, Any]]:
    """:func:`_frames` for a backend whose compiled blocks release the GIL: a worker thread
    runs the blocks and copies the frames, in order, while this thread writes the previous
    frame (measured on the school's grid: BENCHMARKS.md, "The run end to end").

    Only the worker touches the backend while the loop runs; :func:`frames_ahead` queues block
    ``i + 1`` and the copy of its V behind the copy of frame ``i``, so frame ``i`` is V after
    ``i + 1`` blocks, as in the plain loop. Where an observer wants frame ``i``'s whole state
    (a checkpoint, a stop signal), no block is queued ahead, so the backend still holds it when
    the loop ends there. ``sim.steps_done`` counts a block when it is queued (a device
    backend's dispatch); the loop's end waits for the worker, and ``sim.consistent`` is true
    only if every block ran to the end. Paced (``--stop-within``), the worker runs each block
    in sub-blocks and a stop cuts it at a step: the block counts the steps it did, and its frame
    ends the loop instead of being fetched.
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    from .backends.frames import frames_ahead

    backend, pacer = sim.backend, ctx.pacer
    first = ctx.first_frame
    frames = iter(range(first, ctx.nbimage))
    sizes = iter(range(first, ctx.nbimage))
    blocks: list[tuple[Future[int], int]] = []  # a block and the steps it was asked for
    pool = ThreadPoolExecutor(1, thread_name_prefix="grayscott-blocks")

    def block(m: int) -> int:
        with np.errstate(over="ignore", invalid="ignore"):  # as Simulation.advance
            if pacer is None:
                backend.advance(m)
                return m
            return pacer.advance(backend.advance, m)  # fewer steps: cut by a stop

    def advance() -> None:
        m = ctx.block_steps(next(sizes))
        sim.consistent = False
        sim.steps_done += m
        blocks.append((pool.submit(block, m), m))

    def fetch(block: tuple[Future[int], int], whole: bool) -> Any:
        # done (queued before this copy); a block that failed fails its frame, and a block
        # cut by a stop has no frame: the loop ends there
        if block[0].result() < block[1]:
            raise Interrupted(pacer.signum)
        return backend.get_state() if whole else backend.get_v()

    def request() -> Any:
        ctx.frame = next(frames)  # the frame whose copy is queued
        # The block is bound now: by the time the copy runs, the next block may be queued.
        copy = pool.submit(fetch, blocks[-1], any(o.wants_state(ctx) for o in observers))
        return copy if pacer is None else _Polled(copy)

    def ahead(i: int) -> bool:
        ctx.frame = first + i
        return not any(o.wants_state(ctx) for o in observers)

    try:
        for k, fetched in frames_ahead(advance, request, ctx.nbimage - first, ahead):
            yield first + k, fetched
    finally:
        pool.shutdown(wait=True)  # the state is whole again before any finish reads it
        sim.consistent = all(b.exception() is None for b, _ in blocks)
        if sim.consistent:  # a block cut by a stop counts the steps it did
            sim.steps_done -= sum(m - b.result() for b, m in blocks)


class _Polled:
    """A worker's future waited for in short slices. A signal the kernel hands to another
    thread only marks Python's handler as due; the main thread runs it when it next runs
    bytecode, and a wait without a timeout would hold it until the whole block is done, so a
    paced block would never see the stop."""

    def __init__(self, future: Any) -> None:
        self.future = future

    def result(self) -> Any:
        while True:
            try:
                return self.future.result(timeout=0.05)
            except TimeoutError:
                continue


def _fetch(sim: Simulation, observers: Sequence[Observer], ctx: RunContext, fetched: Any,
           needs_v: bool) -> None:
    """Set ``ctx.u``, ``ctx.v`` for frame ``ctx.frame`` from what :func:`_frames` fetched."""
    ctx.u = ctx.v = None
    if isinstance(fetched, tuple):  # frame i's state, requested for a checkpoint
        ctx.u, ctx.v = fetched
    # The backend holds frame i's state unless it already runs the next block; then a late
    # wish for the state (a stop signal since) gets V alone, never the next's.
    elif sim.steps_done == ctx.steps_done and any(o.wants_state(ctx) for o in observers):
        ctx.u, ctx.v = sim.backend.get_state()
    elif fetched is not None:
        ctx.v = fetched
    elif needs_v:
        ctx.v = sim.backend.get_v()


def drive(sim: Simulation, observers: Sequence[Observer], ctx: RunContext) -> Outcome:
    """Advance ``sim`` from frame ``ctx.first_frame`` to ``ctx.nbimage``, calling the
    observers at each frame, then finish them (reverse order) whatever happened.

    Returns the outcome; an exception raised by the loop or an observer is re-raised after
    every observer has finished (the first error of a ``finish`` is raised if the loop itself
    ended well).
    """
    needs_v = any(o.needs_v for o in observers)
    started: list[Observer] = []
    error: BaseException | None = None
    ctx.frame = ctx.first_frame - 1
    ctx.steps_start = sim.steps_done
    try:
        for o in observers:
            o.start(ctx)
            started.append(o)
        ctx.t_start = time.perf_counter()
        frames = _frames(sim, observers, ctx, needs_v)
        try:
            for i, fetched in frames:
                ctx.frame = i
                _fetch(sim, observers, ctx, fetched, needs_v)
                for o in observers:
                    o.frame(ctx)
                if ctx.stop_reason is not None:
                    break
        finally:  # now, not when the generator is collected: a block under way must end
            frames.close()
        ctx.outcome = Outcome("completed" if ctx.stop_reason is None
                              else f"stopped: {ctx.stop_reason}")
    except BaseException as exc:  # re-raised below, after the observers finish
        ctx.outcome = Outcome(_status(exc), exc)
        error = exc
        if isinstance(exc, Interrupted):  # the step the saved state is at (a cut: mid-frame)
            exc.step = sim.steps_done
    ctx.t_end = time.perf_counter()
    finish_error: BaseException | None = None
    for o in reversed(started):
        try:
            o.finish(ctx)
        except BaseException as exc:
            finish_error = finish_error or exc
            if ctx.outcome.error is None:  # the observers after it (the writer) record the
                ctx.outcome = Outcome(_status(exc), exc)  # failure, not "completed"
    if error is not None:
        raise error
    if finish_error is not None:
        raise finish_error
    return ctx.outcome
