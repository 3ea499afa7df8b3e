"""``--stop-within SECONDS``: a frame's steps advanced in sub-blocks short enough that a stop
signal is answered at a step boundary within SECONDS, not at the end of a long frame.

Without it a SIGTERM waits for the frame in progress: on a large grid with many steps per frame
that is minutes, past a scheduler's grace time (SLURM's ``KillWait``: 30 s by default), and the
SIGKILL that follows loses that frame's work. With it, :class:`Pacer` cuts each frame into
sub-blocks of about ``SECONDS / 2`` (the measured seconds per step say how many steps that is;
the other half is left for writing the state), checks the stop signal after each, and on a stop
ends the loop where it is: the checkpointer then saves the state at that step (a mid-frame
checkpoint, :mod:`grayscott.io.runfile`) and ``resume`` continues from that very step.

Splitting a frame's steps changes no bit: ``advance(a)`` then ``advance(b)`` is ``advance(a +
b)`` on every backend (the same steps, in the same order). Frames shorter than a sub-block are
advanced in one call, as without pacing. Over MPI the seconds per step and the stop signal are
agreed by every rank after each sub-block (:meth:`StopSignal.agreed`), so every rank cuts at the
same step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import GrayScottError

if TYPE_CHECKING:
    from .checks import StopSignal

#: The share of SECONDS a sub-block may take; the rest is for the checkpoint and the file's end.
SHARE = 0.5


def check_stop_within(seconds: object) -> float | None:
    """``seconds`` as a positive, finite number of seconds (None: stop after the frame)."""
    if seconds is None:
        return None
    try:
        value = float(seconds)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(seconds, bool) or not 0 < value < math.inf:
        raise GrayScottError(f"--stop-within must be a positive number of seconds, got "
                             f"{seconds!r}")
    return value


class Pacer:
    """Advances a frame's steps in sub-blocks of about ``seconds * SHARE``, checking ``stop``
    after each. ``sync`` waits for a backend that dispatches asynchronously (a GPU), so that
    a sub-block's duration is measured and a cut lands on a step that is done."""

    def __init__(self, seconds: float, stop: StopSignal) -> None:
        self.seconds = seconds
        self.target = seconds * SHARE
        self.stop = stop
        self.per_step: float | None = None  # seconds per step, agreed by every rank
        self.size = 1  # steps of the next sub-block while frames are longer than the target
        #: The agreed signal of the stop that cut a frame (None: no cut).
        self.signum: int | None = None

    def advance(self, advance: Callable[[int], None], nsteps: int,
                sync: Callable[[], None] = lambda: None) -> int:
        """``advance`` ``nsteps`` steps in sub-blocks; the steps done (fewer when a stop cut
        the frame: :attr:`signum` then says which signal)."""
        done = 0
        while done < nsteps:
            left = nsteps - done
            whole = self.per_step is not None and self.per_step * left <= self.target
            m = left if whole else min(left, self.size)
            t0 = time.perf_counter()
            advance(m)
            sync()
            signum, self.per_step = self.stop.agreed((time.perf_counter() - t0) / m)
            done += m
            # Double at most: one short measurement must not make one long sub-block.
            self.size = max(1, min(2 * m, int(self.target / max(self.per_step, 1e-12))))
            if signum is not None and done < nsteps:
                self.signum = signum
                return done
        return done
