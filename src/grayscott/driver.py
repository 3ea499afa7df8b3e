"""The time loop: frames, progress, blow-up checks, interruption. No physics, no kernels.

:class:`Simulation` yields frames (V every ``nbextrastep`` steps) and is what notebooks use;
:func:`run` drives one to an HDF5 file the way ``grayscott run`` does.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import platform
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from . import backends
from .backends.base import Backend
from .errors import BlowUpError, GrayScottError
from .io.hdf5 import FrameWriter, check_output_path, estimated_bytes
from .physics import Problem, make_initial
from .physics.problem import check_dtype, check_int
from .progress import progress_bar


class Interrupted(Exception):
    """The run was stopped by SIGINT (Ctrl-C) or SIGTERM; the file holds the frames so far."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Simulation:
    """A backend loaded with an initial state, advanced frame by frame.

    >>> sim = Simulation(make_problem((64, 64)), backend="numpy")
    >>> for v in sim.frames(nbimage=3, nbextrastep=32): ...
    """

    def __init__(self, problem: Problem, backend: str | Backend | None = None,
                 initial: str = "school", seed: int = 0,
                 state: tuple[np.ndarray, np.ndarray] | None = None,
                 threads: int | None = None) -> None:
        self.problem = problem
        if backend is None:
            backend = backends.default_backend()
        if not isinstance(backend, Backend):
            backend = backends.create(backend, problem, threads=threads)
        self.backend = backend
        u, v = state if state is not None else make_initial(initial, problem.shape, seed)
        self.backend.set_state(u, v)
        self.steps_done = 0
        self.consistent = True  # False while a block of steps is in progress

    def advance(self, nsteps: int) -> None:
        self.consistent = False
        # Overflow on the way to a blow-up is reported once, by frames(), not as warnings.
        with np.errstate(over="ignore", invalid="ignore"):
            self.backend.advance(nsteps)
        self.steps_done += nsteps
        self.consistent = True

    def frames(self, nbimage: int, nbextrastep: int) -> Iterator[np.ndarray]:
        """Advance ``nbextrastep`` steps and yield V, ``nbimage`` times; stop on a blow-up."""
        for i in range(nbimage):
            self.advance(nbextrastep)
            v = self.backend.get_v()
            if not np.isfinite(v).all():
                raise BlowUpError(
                    f"the run blew up: V is NaN or infinite in frame {i} (after "
                    f"{self.steps_done} steps); frames before it are kept. Try a smaller dt "
                    "or other rates")
            yield v

    @property
    def state(self) -> tuple[np.ndarray, np.ndarray]:
        return self.backend.get_state()


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


def _versions(backend_name: str) -> dict[str, str]:
    import h5py

    from . import __version__

    out = {"grayscott_version": __version__, "numpy_version": np.__version__,
           "h5py_version": h5py.__version__, "hdf5_version": h5py.version.hdf5_version,
           "python_version": platform.python_version(), "platform": platform.platform()}
    for mod in backends.info(backend_name).requires:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[f"{mod}_version"] = metadata.version(mod)
    return out


class _StopRequest:
    """Set by the first SIGINT/SIGTERM: the loop stops after the frame in progress, so the file
    and the final state stay consistent. A second signal aborts at once."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def handler(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt if signum == signal.SIGINT else Interrupted(signum)
        self.signum = signum
        print(f"\ngrayscott: {signal.Signals(signum).name} received, stopping after this frame "
              "(send it again to stop at once)", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _graceful_stop() -> Iterator[_StopRequest]:
    stop = _StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {s: signal.signal(s, stop.handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def run(problem: Problem, output: str | Path = "output.h5", nbimage: int = 1000,
        nbextrastep: int = 32, backend: str | None = None, initial: str = "school",
        seed: int = 0, overwrite: bool = False, output_dtype: str = "float32",
        threads: int | None = None,
        progress: bool = True, on_frame: Callable[[int, np.ndarray], None] | None = None,
        on_start: Callable[[Simulation], None] | None = None) -> RunResult:
    """Run a simulation and write the school's HDF5 file, one frame at a time.

    Everything that can be checked is checked before the file is created; ``on_start`` is then
    called with the ready simulation (the CLI prints its settings line there). On a blow-up,
    Ctrl-C, SIGTERM or a full disk, the frames so far stay in a valid file marked incomplete,
    and the exception is re-raised for the caller (the CLI turns it into a message).
    """
    check_int("nbimage", nbimage)
    check_int("nbextrastep", nbextrastep)
    out_dtype = check_dtype(output_dtype)
    backend_name = backend or backends.default_backend()
    backends.info(backend_name).load()  # unknown or unavailable backend: refuse now
    path = check_output_path(output, overwrite,
                             estimated_bytes(nbimage, problem.shape, out_dtype, problem.dtype))
    sim = Simulation(problem, backend_name, initial=initial, seed=seed, threads=threads)
    if on_start is not None:
        on_start(sim)
    # Compilation (Numba, XLA) happens here, timed apart from the run itself.
    t0 = time.perf_counter()
    sim.backend.compile()
    compile_seconds = time.perf_counter() - t0

    p = problem.params
    attrs: dict[str, Any] = {
        **p.as_dict(), "nbimage": nbimage, "nbextrastep": nbextrastep,
        "nbrow": problem.nbrow, "nbcol": problem.nbcol,
        "stencil": problem.stencil.name, "stencil_weights": problem.stencil.weights,
        "border": problem.border, "initial": initial, "seed": seed, "backend": backend_name,
        "threads": sim.backend.threads, "dtype": problem.dtype.name,
        "output_dtype": out_dtype.name, "started": _now(), "compile_seconds": compile_seconds,
        **_versions(backend_name),
    }
    writer = FrameWriter(path, nbimage, nbextrastep, p.dt, problem.shape, out_dtype, attrs)
    bar = progress_bar(nbimage, progress, desc="grayscott")
    status, completed = "interrupted", False
    t0 = time.perf_counter()
    try:
        with _graceful_stop() as stop:
            for i, v in enumerate(sim.frames(nbimage, nbextrastep)):
                writer.write(v.astype(out_dtype, copy=False))
                if on_frame is not None:
                    on_frame(i, v)
                if bar is not None:
                    bar.update(1)
                if stop.signum is not None:
                    raise Interrupted(stop.signum)
        status, completed = "completed", True
    except BlowUpError:
        status = "blew up"
        raise
    except OSError as exc:
        status = "failed: " + (exc.strerror or str(exc))
        if getattr(exc, "errno", None) == errno.ENOSPC or "space" in str(exc).lower():
            raise GrayScottError(f"the disk is full after {writer.frames_written} frames; "
                                 f"they are kept in {str(path)!r}") from exc
        raise
    finally:
        wall = time.perf_counter() - t0
        if bar is not None:
            bar.close()
        # After a hard abort in the middle of a block the state is half-stepped: keep no
        # final state rather than a wrong one.
        u, v = sim.state if sim.consistent else (None, None)
        writer.close(completed, status, u, v, {
            "finished": _now(), "wall_seconds": wall, "steps_done": sim.steps_done,
            "final_state_saved": u is not None})
    cells = problem.nbrow * problem.nbcol * sim.steps_done
    return RunResult(path, writer.frames_written, sim.steps_done, completed, status, wall,
                     cells / wall if wall > 0 else float("nan"), compile_seconds)
