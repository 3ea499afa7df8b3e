"""The HDF5 frame writer: a frame per call, flushed and counted; the file's end state."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from ..errors import DiskFullError
from ..io.layout import fsync_folder, write_refused
from ..io.runfile import RunFile
from .base import Observer, RunContext


class HDF5Writer(Observer):
    """Writes each frame's V to ``runfile`` and counts it once it is in the file.

    ``publish_to``: the file is being written beside its final name (a temporary file); it
    replaces ``publish_to`` atomically once it holds its first frame, so an existing output is
    never lost to a run that fails or is refused before that. ``keep_old``: an existing output
    is there (then a run that ends without a frame leaves it untouched and drops its own file).
    ``flush_every``: frames between two flushes (1: every frame is safe from a crash as soon as
    it is written; 0: only at the end, the speed of a run without crash safety).
    ``wall_before``: seconds of earlier sessions (resume), added to the recorded wall time.
    """

    frame_uses_backend = False

    needs_v = True

    def __init__(self, runfile: RunFile, output_dtype: np.dtype, publish_to: Path | None = None,
                 keep_old: bool = False, flush_every: int = 1, wall_before: float = 0.0) -> None:
        self.runfile = runfile
        self.output_dtype = np.dtype(output_dtype)
        self.publish_to = publish_to
        self.keep_old = keep_old
        self.flush_every = flush_every
        self.wall_before = wall_before
        self.frames_written = 0
        self.disk_full = False

    @property
    def path(self) -> Path:
        """Where the file is (or will be once published)."""
        return self.publish_to or self.runfile.path

    def start(self, ctx: RunContext) -> None:
        self.frames_written = ctx.first_frame
        ctx.shared["frames_written"] = self.frames_written
        ctx.shared["runfile"] = self.runfile
        if ctx.is_root:
            try:
                self.runfile.set_status("running")
                self.runfile.commit(self.frames_written, ctx.steps_done, self.wall_before)
            except (OSError, RuntimeError, ValueError) as exc:
                error = self._refused(exc)
                with contextlib.suppress(OSError, RuntimeError, ValueError):
                    self.runfile.close()  # finish is not called for a start that failed
                raise error from None

    def frame(self, ctx: RunContext) -> None:
        if not ctx.is_root or ctx.v is None:
            return
        done = ctx.frames_done - ctx.first_frame
        flush = self.flush_every > 0 and done % self.flush_every == 0
        try:
            self.runfile.write_frame(ctx.frame, ctx.v.astype(self.output_dtype, copy=False))
            self.runfile.commit(ctx.frames_done, ctx.steps_done,
                                self.wall_before + ctx.wall_seconds, flush)
        except (OSError, RuntimeError, ValueError) as exc:  # h5py raises these for a refusal
            raise self._refused(exc) from None
        self.frames_written = ctx.frames_done
        ctx.shared["frames_written"] = self.frames_written
        self._publish()

    def _refused(self, exc: BaseException) -> Exception:
        """The one-line error for a refused write (the file is abandoned by now), saying the
        frames the file counts: they are the ones kept."""
        counted = self.runfile.counted()
        if counted is not None:
            self.frames_written = counted
        error = write_refused(exc, self.path, f"{self.frames_written} frames")
        self.disk_full = self.disk_full or isinstance(error, DiskFullError)
        return error

    def _publish(self) -> None:
        if self.publish_to is not None:
            os.replace(self.runfile.path, self.publish_to)
            if self.runfile.fsync:  # the new name too, not only the data
                fsync_folder(self.publish_to)
            self.runfile.path = self.publish_to
            self.publish_to = None

    def finish(self, ctx: RunContext) -> None:
        """Count the frames, then say how the run ended (after the final state: the
        checkpointer finished before), close; publish the file if it holds a frame. The
        structure is left as made (no cut: a stop changes no structure)."""
        if not ctx.is_root:
            return
        outcome = ctx.outcome
        status = outcome.status if outcome is not None else "failed"
        error: Exception | None = None
        try:
            self.runfile.commit(self.frames_written, ctx.steps_done,
                                self.wall_before + ctx.wall_seconds)
            self.runfile.set_status(status)
        except (OSError, RuntimeError, ValueError) as exc:
            error = self._refused(exc)
        try:
            self.runfile.close()
        except (OSError, RuntimeError, ValueError) as exc:
            error = error or self._refused(exc)
        if self.publish_to is not None:
            if self.frames_written or not self.keep_old:
                self._publish()
            else:  # nothing to show for it: the existing output stays as it was
                with contextlib.suppress(OSError):
                    self.runfile.path.unlink()
        if error is not None:  # the loop's own error, if any, is the one raised (drive)
            raise error
