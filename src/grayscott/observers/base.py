"""The observer interface and the context every observer sees (see the package docstring)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..simulation import Simulation


@dataclass
class Outcome:
    """How the loop ended. ``status`` is what the file records."""

    status: str  # "completed", "interrupted", "blew up", "disk full", "failed: ..."
    error: BaseException | None = None

    @property
    def completed(self) -> bool:
        return self.status == "completed"


@dataclass
class RunContext:
    """What the loop shares with its observers: one per run, updated at every frame.

    Everything here is the same on every rank of a distributed run except :attr:`u`/:attr:`v`,
    which a distributed backend may hand to the root rank only (None elsewhere).
    """

    sim: Simulation
    #: Frames the run ends with, counting those written before a resume.
    nbimage: int
    nbextrastep: int
    #: Index of the first frame this session computes (0, or where a resume starts).
    first_frame: int = 0
    #: Rank of this process and number of processes (1 without MPI). Only the root rank
    #: (``rank == 0``) writes files and prints.
    rank: int = 0
    size: int = 1
    #: Index of the frame just computed (-1 before the first).
    frame: int = -1
    #: V of this frame (``backend.get_v()``), fetched once per frame when an observer has
    #: ``needs_v``; U too when an observer's ``wants_state`` asked for the whole state.
    v: np.ndarray | None = None
    u: np.ndarray | None = None
    #: Set by an observer (e.g. on SIGTERM) to end the run after this frame.
    stop_reason: str | None = None
    #: Set before the observers' ``finish``.
    outcome: Outcome | None = None
    #: When this session's loop started (time.perf_counter()).
    t_start: float = field(default_factory=time.perf_counter)
    #: When the loop ended, before the observers' ``finish`` (a video rendered there is not
    #: the run's time); None while it runs.
    t_end: float | None = None
    #: Free room for observers to share things (e.g. the writer's open file as ``"runfile"``).
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    @property
    def frames_done(self) -> int:
        """Frames computed so far (the one in hand included), counting a resume's earlier ones."""
        return self.frame + 1

    #: Steps behind the state when the loop started.
    steps_start: int = 0
    #: Steps of frame :attr:`first_frame` already behind that state: a resume from a
    #: checkpoint saved in the middle of a frame (``--stop-within``); 0 otherwise.
    lead: int = 0
    #: ``--stop-within``: cuts each frame into sub-blocks (:class:`~.pacing.Pacer`), or None.
    pacer: Any = None

    @property
    def steps_done(self) -> int:
        """Steps behind frame :attr:`frame` (the backend may already be a block further,
        see :func:`grayscott.loop.drive`)."""
        return (self.steps_start - self.lead
                + (self.frame + 1 - self.first_frame) * self.nbextrastep)

    def block_steps(self, frame: int) -> int:
        """Steps that make frame ``frame`` from the one before (fewer for the first frame of
        a resume from the middle of a frame)."""
        return self.nbextrastep - (self.lead if frame == self.first_frame else 0)

    @property
    def wall_seconds(self) -> float:
        end = self.t_end if self.t_end is not None else time.perf_counter()
        return end - self.t_start

    @property
    def consistent(self) -> bool:
        """The backend's state is whole (no block of steps was cut in the middle)."""
        return self.sim.consistent


class Observer:
    """Base class: every hook is optional. Observers run in the order of the list given to
    :func:`grayscott.loop.drive`, at every frame and again (same order) at the end."""

    #: Fetch V at every frame (``ctx.v``) for this observer.
    needs_v: bool = False
    #: ``frame`` may use the backend itself (``ctx.sim``), not only ``ctx.v``/``ctx.u``. The
    #: driver then keeps the backend idle while observers run; when no observer does, a backend
    #: that releases the GIL computes the next block in a thread meanwhile. Finish hooks run
    #: once the backend is idle again, whatever this says.
    frame_uses_backend: bool = True

    def wants_state(self, ctx: RunContext) -> bool:
        """Whether this frame needs the whole state (``ctx.u`` and ``ctx.v``). Must give the
        same answer on every rank (decide from ``ctx.frame``, not from local data): fetching
        the state of a distributed backend is a collective call."""
        return False

    def start(self, ctx: RunContext) -> None:
        """Before the first step of the loop."""

    def frame(self, ctx: RunContext) -> None:
        """After each frame's steps. Raise to end the run (BlowUpError...), or set
        ``ctx.stop_reason`` to end it after this frame's observers."""

    def finish(self, ctx: RunContext) -> None:
        """Once at the end, whatever happened; ``ctx.outcome`` says what. Runs even when an
        earlier observer's ``finish`` failed."""
