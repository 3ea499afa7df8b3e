"""The (F, k) sweep: N x M simulations run as batches, written to one HDF5 file.

Every member starts from the same initial state and runs the same number of steps with its own
(F, k); the other settings (Du, Dv, dt, stencil, border, dtype) are shared. Members are ordered
F-major (member ``i * M + j`` has ``feed[i]``, ``kill[j]``) and cut into pieces that fit in
memory; each piece is one call of a batched kernel (:mod:`.numba_batch` or :mod:`.jax_batch`).

Range parsing, the backend's choice and memory planning are in :mod:`.planning`; the file in
:mod:`.hdf5`. A sweep is its own loop over pieces: of a single run's loop it shares only the
status words (``grayscott.loop._status``), and it may not import :mod:`grayscott.runs`.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GrayScottError
from ..physics import Parameters, deficit, make_initial, make_problem
from ..physics.borders import FIXED_GHOST
from ..physics.problem import check_int
from ..progress import progress_bar
from . import descriptors
from .planning import (
    STRATEGIES,
    _keep_in_memory,
    available_memory,
    check_backend,
    check_pairs,
    file_piece,
    frame_schedule,
    member_bytes,
    parse_range,
    plan_pieces,
)


@dataclass
class SweepResult:
    """What :func:`sweep` did. ``v`` (N, M, R, C) is kept in memory unless written to a file."""

    feed: np.ndarray
    kill: np.ndarray
    steps: int
    backend: str
    batch: int  # members per piece
    pieces: int
    wall_seconds: float
    compile_seconds: float
    strategy: str = ""
    path: Path | None = None
    v: np.ndarray | None = field(default=None, repr=False)
    nonfinite: list[tuple[float, float]] = field(default_factory=list)
    #: In memory: V at ``frame_steps`` (N, M, T, R, C) if asked, the descriptors (N, M) each.
    frames: np.ndarray | None = field(default=None, repr=False)
    frame_steps: np.ndarray | None = None
    descriptors: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def members(self) -> int:
        return len(self.feed) * len(self.kill)


def _make_piece(backend: str, u: np.ndarray, v: np.ndarray, fk: Sequence[tuple[float, float]],
                problem: Any, how: str | None) -> Any:
    """A runnable piece of ``len(fk)`` members starting from (u, v), member m with rates
    ``fk[m]``, the rates folded into coefficients exactly as the single-run backend does."""
    p = problem.params
    dt_ = problem.dtype
    b = len(fk)
    ub = np.broadcast_to(u, (b, *u.shape))
    vb = np.broadcast_to(v, (b, *v.shape))
    if backend == "numba":
        from ..backends import numba_kernels as K

        C = np.stack([K.constants(p.Du, p.Dv, f, k, p.dt, dt_) for f, k in fk])
        from .numba_batch import NumbaPiece

        return NumbaPiece(ub, vb, C, problem, how)
    from ..backends._jax_common import deficit_table
    from ..physics import fill_ghosts
    from .jax_batch import JaxBatch

    # As JaxGenericBackend: (Du, Dv, F, F + k, dt) in double, rounded once to the dtype.
    rates = np.array([[p.Du, p.Dv, f, f + k, p.dt] for f, k in fk])
    U = np.pad(ub.astype(dt_), ((0, 0), (1, 1), (1, 1)))
    V = np.pad(vb.astype(dt_), ((0, 0), (1, 1), (1, 1)))
    for X, ghost in zip((U, V), FIXED_GHOST, strict=True):
        for member in X:
            fill_ghosts(member, problem.border, ghost)
    d = deficit(problem.stencil, problem.border, problem.shape)
    table = None if d is None else deficit_table(d, problem.shape)
    return JaxBatch(U, V, problem.stencil.weights, rates, table, problem.border,
                    how if how in ("vmap", "map") else None)


def _start(state: tuple[np.ndarray, np.ndarray] | None, initial: str, shape: tuple[int, int],
           seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Every member's initial (u, v) as float arrays: ``state``, checked, or ``initial``."""
    u0, v0 = state if state is not None else make_initial(initial, shape, seed)
    u0, v0 = np.asarray(u0, float), np.asarray(v0, float)
    if u0.shape != shape or v0.shape != shape:
        raise GrayScottError(f"state must have shape {shape}, got {u0.shape} and {v0.shape}")
    if not (np.isfinite(u0).all() and np.isfinite(v0).all()):  # as a single run refuses it
        raise GrayScottError("the state given holds NaN or infinite values; give a finite one")
    return u0, v0


#: Most cell-updates (members x cells x steps) in one kernel call of a split piece: about a
#: tenth of a second on a laptop core, so a signal is seen within that, whatever the piece.
CALL_CELL_STEPS = 2 * 10**8
#: On SIGINT/SIGTERM a piece with more than this many seconds to go is dropped at once.
STOP_GRACE = 10.0


def _progress_blocks(steps: int, enabled: bool, cells: int = 1) -> list[int]:
    """Step counts of the kernel calls of one piece of ``cells`` cell-updates per step: one
    call, or ~50 for a live bar and at most :data:`CALL_CELL_STEPS` cell-updates each (the
    state carries over between calls, so the result is the same bits)."""
    if not enabled or steps < 2:
        return [steps]
    size = min(max(1, math.ceil(steps / 50)), max(1, CALL_CELL_STEPS // max(cells, 1)))
    return [size] * (steps // size) + ([steps % size] if steps % size else [])


def sweep(feed: Sequence[float] | np.ndarray | str, kill: Sequence[float] | np.ndarray | str,
          steps: int, shape: tuple[int, int] = (64, 64), *, params: Parameters | None = None,
          stencil: Any = "school", border: str = "school", dtype: str = "float32",
          backend: str | None = None, initial: str = "school", seed: int = 0,
          state: tuple[np.ndarray, np.ndarray] | None = None,
          output: str | os.PathLike | None = None, overwrite: bool = False,
          batch: int | None = None, memory_budget: int | None = None,
          strategy: str | None = None, threads: int | None = None, progress: bool = False,
          attrs: dict[str, Any] | None = None, allow_unstable: bool = False,
          frames: int = 0, fsync: bool = False) -> SweepResult:
    """Run the ``len(feed) x len(kill)`` simulations of a grid of rates, batched.

    ``feed``, ``kill``: values, or ``"A:B:N"`` strings (:func:`parse_range`). Each member starts
    from ``state`` (or the ``initial`` state with ``seed``) and runs ``steps`` steps with the
    other rates of ``params`` (Du, Dv, dt; its F and k are ignored). Member (i, j) equals the
    single run with ``F = feed[i]``, ``k = kill[j]`` on the same backend family: bit for bit
    with ``numba``/``numba-parallel``, to float32 rounding against any other backend.

    ``output``: write ``v`` (N, M, R, C), ``feed``, ``kill`` and the provenance there (then
    ``result.v`` is None); without it ``result.v`` holds the final V of every member. The file
    is kept as ``grayscott run`` keeps its own (:mod:`.hdf5`): a sweep killed at any moment
    leaves the members of its finished pieces readable, an existing output is replaced only
    once a piece is in the new file, a second writer is refused, a file the disk cannot hold is
    refused before the start; SIGINT/SIGTERM stop it after the piece in progress and
    :class:`~grayscott.observers.Interrupted` is raised once the file is closed ("stopped").
    ``batch`` caps the members per piece (default, for Numba into a file: 1/16 of them, at
    least 8: :func:`file_piece`); pieces are also cut so that they use at most
    ``memory_budget`` bytes (default: half the memory available now). ``strategy`` forces how
    the batch shares the work (numba: "rows", "members", "blocked" or "wide"; jax: "vmap" or "map";
    default: chosen by size, the results are the same).

    ``frames`` T: also keep V every ``steps / T`` steps (T divides ``steps``; the last is the
    final V), in the file or ``result.frames``; the descriptors (:mod:`.descriptors`) too.
    """
    from ..io.layout import check_output_path
    from ..provenance import file_versions, now_utc

    feed = parse_range(feed, "--feed") if isinstance(feed, str) else np.asarray(feed, float)
    kill = parse_range(kill, "--kill") if isinstance(kill, str) else np.asarray(kill, float)
    if feed.ndim != 1 or kill.ndim != 1 or not feed.size or not kill.size:
        raise GrayScottError("feed and kill must be non-empty 1-D sequences of rates")
    steps = check_int("steps", steps, minimum=0)
    frame_steps = frame_schedule(steps, frames)  # refuses what the file could not count
    name = check_backend(backend)
    if strategy not in (None, *STRATEGIES[name]):
        raise GrayScottError(f"strategy of {name} must be one of "
                             f"{', '.join(STRATEGIES[name])}, got {strategy!r}")
    base = params or Parameters()
    # Every rate is checked (>= 0, finite) by building Parameters, per axis: the N x M pairs
    # are built only once the result is known to fit.
    for f in feed:
        Parameters(Du=base.Du, Dv=base.Dv, F=float(f), k=base.k, dt=base.dt)
    for k in kill:
        Parameters(Du=base.Du, Dv=base.Dv, F=base.F, k=float(k), dt=base.dt)
    members = feed.size * kill.size
    problem = make_problem(shape, params=base, stencil=stencil, border=border, dtype=dtype,
                           allow_unstable=allow_unstable)
    field_bytes = problem.shape[0] * problem.shape[1] * problem.dtype.itemsize
    per = member_bytes(problem.shape, problem.dtype.itemsize, name) + frames * field_bytes
    budget = memory_budget if memory_budget is not None else available_memory() // 2
    nbytes = members * (1 + frames) * field_bytes
    path = None
    if output is not None:
        from .hdf5 import estimated_bytes

        path = check_output_path(output, overwrite, estimated_bytes(
            feed.size, kill.size, problem.shape, problem.dtype, frames),
            "members (the N of --feed, --kill)" + (" or --frames" if frames else ""))
        if path.is_symlink():  # replace the file it points to, not the link (as run does)
            path = Path(os.path.realpath(path))
    else:  # the result stays in memory beside the pieces
        budget = _keep_in_memory(nbytes, budget, members, per)
    size = plan_pieces(members, per, budget, batch)
    u0, v0 = _start(state, initial, problem.shape, seed)  # once it is known to fit
    if path is not None and batch is None and name == "numba":
        size = min(size, file_piece(members))
    pieces = math.ceil(members / size)
    pairs = [(float(f), float(k)) for f in feed for k in kill]
    if threads is not None and name == "numba":
        import numba

        from ..backends.numba_parallel import check_threads

        try:
            numba.set_num_threads(check_threads(threads))
        except ValueError as exc:  # a one-line error, not numba's traceback
            raise GrayScottError(f"threads {exc}") from None
    elif threads is not None:
        raise GrayScottError("--threads is for the numba backend (XLA uses every core)")

    nf, nk = len(feed), len(kill)
    result = SweepResult(feed, kill, steps, name, size, pieces, 0.0, 0.0, path=path,
                         frame_steps=frame_steps if frames else None)
    if path is not None:
        prov = {**base.as_dict(), "steps": steps, "nbrow": problem.nbrow,
                "nbcol": problem.nbcol, "stencil": problem.stencil.name,
                "stencil_weights": problem.stencil.weights, "border": problem.border,
                "initial": "state" if state is not None else initial, "seed": seed,
                "backend": name, "dtype": problem.dtype.name, "batch": size,
                "pieces": pieces, "frames": frames, "started": now_utc(),
                **file_versions(name), **(attrs or {})}
        del prov["F"], prov["k"]  # one per member: the feed and kill datasets
        _sweep_to_file(path, prov, pairs, problem, (u0, v0), strategy, progress, result,
                       fsync)
        return result
    out = np.empty((nf * nk, len(frame_steps), *problem.shape), problem.dtype)
    described: dict[str, list[np.ndarray]] = {}
    bar = progress_bar(pieces * steps, progress, unit="step", desc="sweep")
    t_start = time.perf_counter()
    try:
        for start, stack in run_pieces(pairs, steps, problem, (u0, v0), name, size, strategy,
                                       bar, result, frame_steps=frame_steps):
            out[start:start + len(stack)] = stack
            wrap = problem.border == "periodic"
            for key, values in descriptors.describe(stack, wrap).items():
                described.setdefault(key, []).append(values)
    finally:
        result.wall_seconds = time.perf_counter() - t_start - result.compile_seconds
        if bar is not None:
            bar.close()
    out = out.reshape(nf, nk, len(frame_steps), *problem.shape)
    result.v = out[:, :, -1]
    result.frames = out if frames else None
    result.descriptors = {key: np.concatenate(parts).reshape(nf, nk)
                          for key, parts in described.items()}
    return result



@contextlib.contextmanager
def _stop_signal() -> Iterator[Any]:
    """The run's :class:`~grayscott.observers.StopSignal` around a sweep: the first SIGINT or
    SIGTERM is noted (the sweep stops after the piece in progress), a second one stops at once."""
    from ..observers import StopSignal

    stop = StopSignal(unit=f"piece (at once if it has over {STOP_GRACE:g} s to go: it is then "
                           "not kept)")
    stop.install()
    try:
        yield stop
    finally:
        stop.restore()


def _sweep_to_file(path: Path, prov: dict[str, Any], pairs: list[tuple[float, float]],
                   problem: Any, state: tuple[np.ndarray, np.ndarray], strategy: str | None,
                   progress: bool, result: SweepResult, fsync: bool = False) -> None:
    """Run the sweep into ``path`` as ``grayscott run`` writes its file: under the output's
    lock (and the file's own), in a temporary file that replaces an existing output only once
    it holds a piece, each piece flushed then counted, stopped by SIGINT/SIGTERM after the
    piece in progress, or at once when that piece has more than ``STOP_GRACE`` seconds to go
    (it is then not kept); :class:`~grayscott.observers.Interrupted` is raised once the file
    is closed."""
    from ..io.paths import OutputLock, temporary_path
    from ..loop import _status
    from ..observers import Interrupted
    from ..provenance import now_utc
    from .hdf5 import SweepWriter

    steps, size = result.steps, result.batch
    with OutputLock(path) as lock, _stop_signal() as stop:
        existed = path.exists()
        writer = SweepWriter(temporary_path(path), result.feed, result.kill, problem.shape,
                             problem.dtype, prov, publish_to=path, fsync=fsync,
                             frame_steps=result.frame_steps)
        lock.hold(writer.path)  # one writer per file, whatever its name becomes
        frame_steps = result.frame_steps if result.frame_steps is not None else [steps]
        if not existed:  # nothing to protect: the file takes its name now, readers see it
            writer.publish()
        bar = progress_bar(result.pieces * steps, progress, unit="step", desc="sweep")
        status = "failed"
        t_start = time.perf_counter()
        try:
            # split: the piece's kernel returns now and then, so a signal acts in bounded time
            for start, stack in run_pieces(pairs, steps, problem, state, result.backend, size,
                                           strategy, bar, result, split=True,
                                           stop=lambda: stop.signum is not None,
                                           frame_steps=frame_steps):
                writer.write_piece(start, stack[:, -1], time.perf_counter() - t_start
                                   - result.compile_seconds,
                                   frames=stack if result.frame_steps is not None else None,
                                   described=descriptors.describe(
                                       stack, problem.border == "periodic"))
                if stop.signum is not None:
                    break
            status = "completed" if writer.members_written == len(pairs) else "stopped"
        except BaseException as exc:
            status = _status(exc)
            raise
        finally:
            result.wall_seconds = time.perf_counter() - t_start - result.compile_seconds
            if bar is not None:
                bar.close()
            stop.closing = True  # a signal now is noted: the file's last writes go on
            writer.close(status, {
                "finished": now_utc(), "wall_seconds": result.wall_seconds,
                "compile_seconds": result.compile_seconds, "strategy": result.strategy,
                "nonfinite_members": len(result.nonfinite)})
    if status == "stopped":
        raise Interrupted(stop.signum or signal.SIGTERM)


def run_pieces(pairs: Sequence[tuple[float, float]], steps: int, problem: Any,
               state: tuple[np.ndarray, np.ndarray], backend: str, size: int,
               strategy: str | None = None, bar: Any = None,
               result: SweepResult | None = None, split: bool = False,
               stop: Callable[[], bool] | None = None,
               frame_steps: Sequence[int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Run ``pairs`` of (F, k) in pieces of ``size`` members; yield (index of the piece's
    first member, its final V (b, R, C)) piece by piece. Compile time, the Numba strategy and
    the members that blew up are recorded in ``result`` when given. ``split`` (or a ``bar``):
    each piece runs as ~50 kernel calls of bounded work (the same bits), so Python gets
    control between them. Once ``stop()`` is true, a piece with more than ``STOP_GRACE``
    seconds to go (by the pace of its calls so far) ends the run without being yielded.
    ``frame_steps`` (increasing, the last = ``steps``): yield V after each of them instead,
    (b, T, R, C)."""
    u0, v0, marks = *state, [steps] if frame_steps is None else [int(s) for s in frame_steps]
    for start in range(0, len(pairs), size):
        chunk = pairs[start:start + size]
        piece = _make_piece(backend, u0, v0, chunk, problem, strategy)
        t0 = time.perf_counter()
        piece.advance(0)  # compile (or load from numba's disk cache) apart from the run
        piece.sync()
        if result is not None:
            result.compile_seconds += time.perf_counter() - t0
            result.strategy = piece.how
        t0, done = time.perf_counter(), 0
        cells = len(chunk) * problem.shape[0] * problem.shape[1]
        kept = None
        for i, mark in enumerate(marks):
            for n in _progress_blocks(mark - done, bar is not None or split, cells):
                if stop is not None and stop():
                    pace = (time.perf_counter() - t0) / done if done else float("inf")
                    if pace * (steps - done) > STOP_GRACE:
                        return
                piece.advance(n)
                done += n
                if bar is not None:
                    piece.sync()  # the bar follows the device, not the dispatch
                    bar.update(n)
            v = piece.v()
            if len(marks) == 1:
                kept = v[:, None]
            else:  # each frame in its place at once (frames stacked at the end would be held
                # twice; the plan counts them once and the V handed back), made once the
                # call's scratch is freed
                if kept is None:
                    kept = np.empty((len(chunk), len(marks), *v.shape[1:]), v.dtype)
                kept[:, i] = v
            del v
        del piece
        v = kept[:, -1]
        if result is not None:
            result.nonfinite.extend(fk for fk, x in zip(chunk, v, strict=True)
                                    if not np.isfinite(x).all())
        yield start, (v if frame_steps is None else kept)


def run_rates(pairs: Sequence[tuple[float, float]], steps: int,
              shape: tuple[int, int] = (64, 64), *, params: Parameters | None = None,
              initial: str = "school", seed: int = 0,
              state: tuple[np.ndarray, np.ndarray] | None = None, backend: str | None = None,
              dtype: str = "float32", batch: int | None = None) -> np.ndarray:
    """Final V (B, R, C) of B simulations with the given (F, k) pairs, batched (any pairs, not
    only a grid: e.g. the presets' rates); same initial state and steps for all."""
    pairs = check_pairs(pairs)
    name = check_backend(backend)
    base = params or Parameters()
    for f, k in pairs:
        Parameters(Du=base.Du, Dv=base.Dv, F=f, k=k, dt=base.dt)
    problem = make_problem(shape, params=base, dtype=dtype)
    nbytes = len(pairs) * problem.shape[0] * problem.shape[1] * problem.dtype.itemsize
    per = member_bytes(problem.shape, problem.dtype.itemsize, name)
    size = plan_pieces(len(pairs), per,
                       _keep_in_memory(nbytes, available_memory() // 2, len(pairs), per), batch)
    u0, v0 = _start(state, initial, problem.shape, seed)  # once it is known to fit
    out = np.empty((len(pairs), *problem.shape), problem.dtype)
    for start, v in run_pieces(pairs, check_int("steps", steps, 0), problem,
                               (u0, v0), name, size):
        out[start:start + len(v)] = v
    return out
