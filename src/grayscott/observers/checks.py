"""Observers that watch the run rather than write it: blow-up check, stop signal, progress bar,
user callback."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import BlowUpError
from ..progress import progress_bar
from .base import Observer, RunContext


class Interrupted(Exception):
    """The run was stopped by SIGINT (Ctrl-C) or SIGTERM; the file holds the frames so far."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        #: The step the run stopped at, once the loop has ended (None before).
        self.step: int | None = None


class BlowUpCheck(Observer):
    """Ends the run when V holds NaN or infinities, before any other observer sees the frame
    (so no NaN frame is written and no NaN state is checkpointed). Put it first."""

    frame_uses_backend = False

    needs_v = True

    def frame(self, ctx: RunContext) -> None:
        if ctx.v is not None and not np.isfinite(ctx.v).all():
            raise BlowUpError(
                f"the run blew up: V is NaN or infinite in frame {ctx.frame} (after "
                f"{ctx.steps_done} steps); frames before it are kept. Try a smaller dt "
                "or other rates")


class StopSignal(Observer):
    """The first SIGINT/SIGTERM stops the run after the frame in progress, so the file and the
    state stay whole; a second one aborts at once. Put it last, so every other observer has
    handled the frame before the run stops. Outside a run (the sweep), :meth:`install` and
    :meth:`restore` do the same around any loop that checks :attr:`signum`; ``unit`` names what
    the loop finishes before it stops ("frame", "piece").

    From :meth:`finish` on (the run's end: final checkpoint, status, close) a signal no longer
    stops anything: it is noted and the writes that end the file go on, so no signal can cut
    the end of a file short. Whoever drove the loop calls :meth:`restore` once the file is
    closed."""

    frame_uses_backend = False

    def __init__(self, unit: str = "frame", within: float | None = None) -> None:
        self.signum: int | None = None
        self.unit = unit
        #: ``--stop-within``: the loop cuts frames at a step boundary (:mod:`.pacing`).
        self.within = within
        self.closing = False
        self._previous: dict[int, Any] = {}

    def _closing(self, signum: int) -> bool:
        """While the file is closed: note the signal, say so, and go on (True)."""
        if not self.closing:
            return False
        self.signum = self.signum or signum
        print(f"\ngrayscott: {signal.Signals(signum).name} received while the file is being "
              "closed; it ends in a moment", file=sys.stderr, flush=True)
        return True

    def _handler(self, signum: int, frame: Any) -> None:
        if self._closing(signum):
            return
        if self.signum is not None:
            raise KeyboardInterrupt if signum == signal.SIGINT else Interrupted(signum)
        self.signum = signum
        print(f"\ngrayscott: {signal.Signals(signum).name} received, stopping {self._when()} "
              "(send it again to stop at once)", file=sys.stderr, flush=True)

    def _when(self) -> str:
        if self.within is None:
            return f"after this {self.unit}"
        return f"within {self.within:g} s, at a step boundary"

    def agreed(self, seconds_per_step: float) -> tuple[int | None, float]:
        """The stop signal and the seconds per step, as every process sees them (one
        process: its own); called by :class:`~.pacing.Pacer` after each sub-block."""
        return self.signum, seconds_per_step

    def install(self) -> None:
        """Take SIGINT and SIGTERM (signals can be handled in the main thread only). Taken
        once: a run installs it before its file is made, where a KeyboardInterrupt could land
        inside h5py's cleanup callbacks (Python prints it there and drops it), and the loop's
        :meth:`start` then finds it in place."""
        if self._previous:
            return
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handler)
                              for s in (signal.SIGINT, signal.SIGTERM)}

    def restore(self) -> None:
        """Give SIGINT and SIGTERM back to the handlers :meth:`install` found."""
        for s, h in self._previous.items():
            signal.signal(s, h)
        self._previous = {}

    def start(self, ctx: RunContext) -> None:
        self.install()

    def wants_state(self, ctx: RunContext) -> bool:
        # The run stops at this frame: keep the state of this very frame (no block ahead).
        return self.signum is not None

    def frame(self, ctx: RunContext) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)

    def finish(self, ctx: RunContext) -> None:
        self.closing = True  # restored by the caller, after every observer has finished


class Progress(Observer):
    """The tqdm bar (stderr, terminals only), starting at the resumed frame."""

    frame_uses_backend = False

    def __init__(self, enabled: bool = True, desc: str = "grayscott") -> None:
        self.enabled = enabled
        self.desc = desc
        self.bar: Any = None

    def start(self, ctx: RunContext) -> None:
        if ctx.is_root:
            self.bar = progress_bar(ctx.nbimage, self.enabled, desc=self.desc)
            if self.bar is not None and ctx.first_frame:
                self.bar.n = self.bar.last_print_n = ctx.first_frame
                self.bar.refresh()

    def frame(self, ctx: RunContext) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def finish(self, ctx: RunContext) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Callback(Observer):
    """Calls ``fn(frame_index, v)`` at every frame (``run(on_frame=...)``)."""

    frame_uses_backend = False

    needs_v = True

    def __init__(self, fn: Callable[[int, np.ndarray], None]) -> None:
        self.fn = fn

    def frame(self, ctx: RunContext) -> None:
        if ctx.is_root and ctx.v is not None:
            self.fn(ctx.frame, ctx.v)
