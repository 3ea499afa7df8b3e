"""The checkpointer: the state (u, v) written in place, so ``grayscott resume`` continues."""

from __future__ import annotations

import numpy as np

from ..io.layout import write_refused
from ..io.runfile import RunFile
from .base import Observer, RunContext


def _finite(*arrays: np.ndarray) -> bool:
    return all(bool(np.isfinite(a).all()) for a in arrays)


class Checkpointer(Observer):
    """Writes the state every ``every`` frames (0: only at the end), and at the end the final
    state (``u_final``, ``v_final``), when it is whole, finite, and matches the frames written.

    Put it after the writer: a checkpoint says "the state after N frames", so frame N must be
    in the file first. A NaN state is never written: resuming it could only blow up again.
    """

    frame_uses_backend = False

    def __init__(self, runfile: RunFile, every: int, steps_before: int,
                 nbextrastep: int) -> None:
        self.runfile = runfile
        self.every = every
        self.steps_before = steps_before
        self.nbextrastep = nbextrastep
        self.last: tuple[int, int] | None = None  # (frames, steps) last written here

    def wants_state(self, ctx: RunContext) -> bool:
        return self.every > 0 and ctx.frames_done % self.every == 0

    def _within(self, ctx: RunContext, frames: int) -> bool:
        """The backend's state is the state after ``frames`` frames, or, with
        ``--stop-within`` (``ctx.pacer``), one on the way to the next frame: a frame cut at a
        step, or the block ahead done in a worker thread (a mid-frame checkpoint: the state and
        its steps, from which ``resume`` makes frame ``frames`` whole). Without it a stop saves
        frame states only, as it always did."""
        at = self.steps_before + frames * self.nbextrastep
        ahead = self.nbextrastep if ctx.pacer is not None else 0
        return at <= ctx.sim.steps_done <= at + ahead

    def frame(self, ctx: RunContext) -> None:
        if ctx.u is None or not ctx.is_root or not self.wants_state(ctx):
            return
        # ctx.u, ctx.v are frame i's state (the loop never hands over another), even when
        # the backend already computes the next block.
        frames = ctx.shared.get("frames_written", ctx.frames_done)
        if frames == ctx.frames_done and _finite(ctx.u, ctx.v):
            self._save(ctx.u, ctx.v, frames, ctx.steps_done, final=False)

    def finish(self, ctx: RunContext) -> None:
        outcome = ctx.outcome
        # A stop between frames (a signal, an observer's stop_reason) leaves a whole state.
        if outcome is None or not ctx.consistent or not (
                outcome.status in ("completed", "interrupted")
                or outcome.status.startswith("stopped: ")):
            return
        frames = ctx.shared.get("frames_written", ctx.frames_done)
        if not self._within(ctx, frames):
            return
        u, v = ctx.sim.state  # a collective call on a distributed backend: every rank
        if not ctx.is_root or u is None or not _finite(u, v):
            return
        steps = ctx.sim.steps_done
        # The final state is the state of the last frame counted: not one cut in a frame.
        self._save(u, v, frames, steps,
                   final=steps == self.steps_before + frames * self.nbextrastep)

    def _save(self, u: np.ndarray, v: np.ndarray, frames: int, steps: int,
              final: bool) -> None:
        """The checkpoint of ``frames`` (unless written already), and the final state; a
        refused write is one line (the file is abandoned by then)."""
        try:
            if self.last != (frames, steps):
                self.runfile.write_checkpoint(u, v, frames, steps)
                self.last = (frames, steps)
            if final:
                self.runfile.write_final(u, v)
        except (OSError, RuntimeError, ValueError) as exc:  # h5py raises these for a refusal
            counted = self.runfile.counted()
            raise write_refused(exc, self.runfile.path,
                                f"{frames if counted is None else counted} frames") from None
