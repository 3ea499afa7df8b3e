"""Where a run computes: :class:`Placement` (here, in this one process) and its default
:data:`ONE_PROCESS`.

:func:`grayscott.runs.run` and :func:`grayscott.runs.resume` ask a placement whatever differs
over processes; :class:`grayscott.parallel.run.MPIPlacement` specialises it for MPI ranks. This
module owns the one-process answers. It may not import mpi4py (nor any module that does at
import time): a run on one process never loads MPI.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .. import backends
from ..backends.base import Backend
from ..observers import BlowUpCheck, HDF5Writer, Observer, StopSignal
from ..physics import Problem
from ..simulation import Simulation

T = TypeVar("T")

__all__ = ["ONE_PROCESS", "Placement"]


class Placement:
    """Where :func:`~grayscott.runs.run` and :func:`~grayscott.runs.resume` compute: here, in
    this one process.

    The checks, the file, the loop and the result are the same however many processes
    compute; what differs is said here: which process is the root (it checks the output,
    holds the lock, writes the file, prints), how the root's values reach the others, which
    backend, and which observers must agree across processes.
    :class:`grayscott.parallel.run.MPIPlacement` gives the MPI answers; every answer here is
    the one-process one and costs nothing (no MPI import, no copies).
    """

    is_root = True
    #: This process's rank and the number of processes (:class:`RunContext` ``rank``, ``size``).
    rank = 0
    size = 1

    def on_root(self, fn: Callable[[], T]) -> T | None:
        """``fn()`` on the root only, its error raised on every process; None elsewhere."""
        return fn()

    def bcast(self, x: T) -> T:
        """The root's ``x``, on every process."""
        return x

    def allreduce_max(self, x: float) -> float:
        """The largest ``x`` of all processes."""
        return x

    def default_backend(self) -> str:
        return backends.default_backend()

    def check_backend(self, name: str) -> str:
        """``name``, or a one-line error if it cannot run here (before it is imported)."""
        return name

    def simulation(self, problem: Problem, backend: str, *, initial: str, seed: int,
                   state: tuple[np.ndarray, np.ndarray] | None, threads: int | None,
                   steps_done: int, options: dict[str, Any] | None) -> Simulation:
        return Simulation(problem, backend, initial=initial, seed=seed, state=state,
                          threads=threads, steps_done=steps_done, options=options)

    def backend_attrs(self, backend: Backend) -> dict[str, Any]:
        """File attributes on how the backend runs (numba-blocked: k, bands, who chose them)."""
        return {f"backend_{k}": v for k, v in backend.provenance.items()}

    def resume_note(self, backend: Backend) -> str:
        """Added to the resume log's line after the backend's name."""
        return ""

    def blow_up_check(self) -> Observer:
        return BlowUpCheck()

    #: Whether the frames go to part files, each process writing its block
    #: (:mod:`grayscott.io.parts`); one process writes them into the run file itself.
    writes_parts = False

    def frame_parts(self, path: Path, nbimage: int, first: int,
                    backend: Backend) -> dict[str, Any] | None:
        """The session of part files that frames ``first`` .. ``nbimage`` go to (collective),
        or None: the run file holds them."""
        return None

    def writer(self, writer: HDF5Writer) -> Observer:
        """The observer that stands for ``writer`` in the loop of this process."""
        return writer

    def stop_signal(self, within: float | None = None) -> StopSignal:
        """The stop signal (``within``: ``--stop-within``, :mod:`grayscott.observers.pacing`)."""
        return StopSignal(within=within)

    def root_only(self, observer: Observer) -> Observer:
        """The observer that stands in the loop of every process for ``observer``, which acts
        on the root alone (``on_frame``, the video, the checkpoints: the final one's fetch of
        the state is the only thing it does elsewhere)."""
        return observer

    def release(self, backend: Backend) -> None:
        """Called by every process once a run has ended on all of them at the same frame
        (completed, blown up or stopped by a signal): nothing to release in one process (the
        backend's arrays go with it)."""


#: The default: one process.
ONE_PROCESS = Placement()
