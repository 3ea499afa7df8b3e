"""The three outputs of :func:`~grayscott.views.render`: a PNG folder, a GIF, an MP4.

They share one small interface, :class:`FrameWriter`: built with the output path, the colour
table and the frame rate, given 256-level images (uint8 palette indices, see
:func:`~grayscott.views.frame_to_index`) one at a time with :meth:`~FrameWriter.write`, and ended
by :meth:`~FrameWriter.close` (the output is complete) or :meth:`~FrameWriter.abort` (nothing is
left under the output's name). As a context manager it closes on success and aborts on error.
:data:`WRITERS` maps each kind of output to its writer.

Pillow, imageio and imageio-ffmpeg are imported when a writer is built, never before.
"""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import ClassVar

import numpy as np

#: The files a PNG folder holds (only these are replaced by a new render).
FRAME_GLOB = "frame_*.png"


class FrameWriter(ABC):
    """Write palette-index images, one per frame, to one output."""

    #: Python modules the writer needs (checked before any work, see ``require_extra``).
    needs: ClassVar[tuple[str, ...]]
    #: What it writes, for messages ("a GIF").
    what: ClassVar[str]
    #: The highest frame rate the format can play, or None.
    max_fps: ClassVar[float | None] = None

    def __init__(self, path: Path, lut: np.ndarray, fps: float, count: int | None = None) -> None:
        """``count``: how many frames the source holds, if known (for file names)."""
        self.path = path
        self.lut = lut
        self.fps = fps

    @staticmethod
    def size(rows: int, cols: int) -> tuple[int, int]:
        """Pixels of the image written for a ``rows`` x ``cols`` index image."""
        return rows, cols

    @abstractmethod
    def write(self, index: int, image: np.ndarray) -> None:
        """Add frame number ``index`` (its place in the source), a uint8 index image."""

    @abstractmethod
    def close(self) -> None:
        """Finish the output."""

    @abstractmethod
    def abort(self) -> None:
        """Give up: leave no partial output under the output's name."""

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


class FolderWriter(FrameWriter):
    """One palette PNG per frame, named after the frame's index in the source."""

    needs = ("matplotlib", "PIL")
    what = "PNG frames"

    def __init__(self, path: Path, lut: np.ndarray, fps: float, count: int | None = None) -> None:
        super().__init__(path, lut, fps, count)
        path.mkdir(parents=True, exist_ok=True)
        for old in path.glob(FRAME_GLOB):  # only reached with --overwrite (or an empty folder)
            old.unlink()
        self.palette = lut.tobytes()
        self.digits = max(5, len(str((count or 1) - 1)))

    def write(self, index: int, image: np.ndarray) -> None:
        from PIL import Image

        im = Image.fromarray(image)
        im.putpalette(self.palette)
        im.save(self.path / f"frame_{index:0{self.digits}d}.png", compress_level=3)

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass  # the frames written so far are kept: each is a complete image


class _PartialFile(FrameWriter):
    """Write to a hidden sibling and rename at the end: no half-written video under the name."""

    def __init__(self, path: Path, lut: np.ndarray, fps: float, count: int | None = None) -> None:
        super().__init__(path, lut, fps, count)
        self.partial = path.with_name(f".{path.stem}.partial{path.suffix}")

    def commit(self) -> None:
        os.replace(self.partial, self.path)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.partial.unlink()


class GifWriter(_PartialFile):
    """An animated GIF written frame by frame (Pillow's own writer keeps every frame in memory).
    The colour map is the GIF's one global palette, so no frame is quantised."""

    needs = ("matplotlib", "PIL")
    what = "a GIF"
    max_fps = 50.0  # delays are whole hundredths of a second and players clamp shorter ones

    def __init__(self, path: Path, lut: np.ndarray, fps: float, count: int | None = None) -> None:
        super().__init__(path, lut, fps, count)
        self.palette = lut.tobytes()
        self.delay_ms = 10 * max(2, round(100.0 / fps))  # whole hundredths of a second
        self.fp = self.partial.open("wb")
        self.started = False

    def write(self, index: int, image: np.ndarray) -> None:
        from PIL import GifImagePlugin, Image

        im = Image.fromarray(image)
        im.putpalette(self.palette)
        if not self.started:
            header, _ = GifImagePlugin.getheader(im, info={"loop": 0})
            for chunk in header:
                self.fp.write(chunk)
            self.started = True
        for chunk in GifImagePlugin.getdata(im, duration=self.delay_ms):
            self.fp.write(chunk)

    def close(self) -> None:
        self.fp.write(b";")  # GIF trailer
        self.fp.close()
        self.commit()

    def abort(self) -> None:
        self.fp.close()
        super().abort()


class Mp4Writer(_PartialFile):
    """H.264 in MP4 through imageio's ffmpeg plugin. yuv420p needs even sizes: an odd last row
    or column is repeated once rather than letting ffmpeg rescale the picture."""

    needs = ("matplotlib", "imageio", "imageio_ffmpeg")
    what = "an MP4"

    def __init__(self, path: Path, lut: np.ndarray, fps: float, count: int | None = None) -> None:
        super().__init__(path, lut, fps, count)
        import imageio.v2 as iio

        self.writer = iio.get_writer(
            self.partial, format="FFMPEG", mode="I", fps=fps, codec="libx264",
            pixelformat="yuv420p", quality=7, macro_block_size=2, ffmpeg_log_level="error",
            output_params=["-preset", "veryfast", "-movflags", "+faststart"])

    @staticmethod
    def size(rows: int, cols: int) -> tuple[int, int]:
        return rows + rows % 2, cols + cols % 2

    def write(self, index: int, image: np.ndarray) -> None:
        h, w = image.shape
        if h % 2 or w % 2:
            image = np.pad(image, ((0, h % 2), (0, w % 2)), mode="edge")
        self.writer.append_data(self.lut[image])

    def close(self) -> None:
        self.writer.close()
        self.commit()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
        super().abort()


#: The writer of each kind of output (see ``output_kind``).
WRITERS: dict[str, type[FrameWriter]] = {"folder": FolderWriter, "gif": GifWriter,
                                         "mp4": Mp4Writer}
