"""Every rank writes its own block of every frame (:mod:`grayscott.io.parts`): nothing is
gathered for the frames.

:class:`PartWriter` stands for the run's :class:`~grayscott.observers.HDF5Writer` on every rank.
Each frame, every rank writes its block into its part file and flushes it; one small collective
(every rank's error, if any) follows, and only then does rank 0 count the frame in the run file
(``frames_written``), so a counted frame is whole on every rank's disk. A rank that cannot write
(full disk, I/O error) makes every rank raise its one-line error at the same frame.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from ..errors import DiskFullError, GrayScottError
from ..io.layout import DATASET, write_refused
from ..io.parts import create_part, remove_unreferenced
from ..observers import HDF5Writer, Observer, RunContext
from .collective import on_root


class PartWriter(Observer):
    """Writes this rank's block of each frame into its part of ``session`` (the run file's
    folder is ``folder``); on rank 0, ``writer`` keeps the run file's counters and end."""

    needs_v = False  # the block is read from this rank's backend: no gather

    def __init__(self, comm: Any, writer: HDF5Writer, session: dict[str, Any], folder: Path,
                 shape: tuple[int, int]) -> None:
        self.comm = comm
        self.rank = comm.Get_rank()
        self.writer = writer
        self.session = session
        self.folder = folder
        self.path = folder / session["files"][self.rank]
        self.shape = shape
        self.part: Any = None
        self.written = 0  # frames of this session counted on every rank

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def _agree(self, error: GrayScottError | None) -> None:
        """Raise on every rank the first rank's error, if any rank has one."""
        errors = self.comm.allgather(None if error is None else
                                     (isinstance(error, DiskFullError), str(error)))
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            self.writer.disk_full = first[0]
            raise (DiskFullError if first[0] else GrayScottError)(first[1])

    def start(self, ctx: RunContext) -> None:
        error = None
        try:
            self.path.parent.mkdir(exist_ok=True)
            self.part = create_part(self.path, self.session, self.rank, self.shape,
                                    self.writer.output_dtype)
        except GrayScottError as exc:
            error = exc
        except OSError as exc:
            error = GrayScottError(f"cannot write {str(self.path)!r}: {exc.strerror or exc}")
        self._agree(error)
        self.frames = self.part[DATASET]
        if self.is_root:
            self.writer.start(ctx)
        ctx.shared["frames_written"] = ctx.first_frame

    def frame(self, ctx: RunContext) -> None:
        w = self.writer
        done = ctx.frames_done - ctx.first_frame
        flush = w.flush_every > 0 and done % w.flush_every == 0
        error = None
        try:
            v = ctx.sim.backend.local_v()
            self.frames[ctx.frame - self.session["first"]] = v.astype(w.output_dtype, copy=False)
            if flush:
                self.part.flush()
        except (OSError, RuntimeError) as exc:  # h5py raises either for a refused write
            error = write_refused(exc, self.path, f"{ctx.frame - ctx.first_frame} frames")
        self._agree(error)  # every block of this frame is in its part now

        def commit() -> None:  # on rank 0, its refusal raised on every rank
            first = w.publish_to is not None
            try:
                w.runfile.commit(ctx.frames_done, ctx.steps_done,
                                 w.wall_before + ctx.wall_seconds, flush)
            except (OSError, RuntimeError) as exc:
                raise write_refused(exc, w.path, f"{w.frames_written} frames") from None
            w.frames_written = ctx.frames_done
            w._publish()
            if first:  # an overwritten run's parts go once the new run has its first frame
                with contextlib.suppress(OSError):
                    remove_unreferenced(w.path, w.runfile.file)

        on_root(self.comm, commit)
        self.written = ctx.frames_done
        ctx.shared["frames_written"] = ctx.frames_done

    def finish(self, ctx: RunContext) -> None:
        if self.part is not None:
            with contextlib.suppress(Exception):
                self.part.close()
        if not self.is_root:
            return
        w = self.writer
        dropped = w.publish_to is not None and not w.frames_written and w.keep_old
        w.finish(ctx)
        if dropped:  # the old output stays as it was: this session's parts go (no collective
            # here: a rank stopped at once by a second signal must not leave the others waiting)
            for name in self.session["files"]:
                with contextlib.suppress(OSError):
                    (self.folder / name).unlink()
