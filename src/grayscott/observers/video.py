"""Render the run's file to a video once the run has completed (``run --video``)."""

from __future__ import annotations

from pathlib import Path

from .base import Observer, RunContext


class Video(Observer):
    """Put it first in the list: ``finish`` runs in reverse order, so this one runs after the
    writer has closed the file."""

    frame_uses_backend = False

    def __init__(self, source: Path, video: str, overwrite: bool, quiet: bool) -> None:
        self.source = source
        self.video = video
        self.overwrite = overwrite
        self.quiet = quiet

    def finish(self, ctx: RunContext) -> None:
        if ctx.is_root and ctx.outcome is not None and ctx.outcome.completed:
            from ..views.commands import render_video

            render_video(str(self.source), self.video, self.overwrite, self.quiet)
