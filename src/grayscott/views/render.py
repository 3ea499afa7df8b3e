"""Images and video of a run: the frames of an HDF5 file as a PNG folder, a GIF or an MP4.

* Frames are read from the file one at a time (a 1000-frame full-HD run is 8.3 GB), so memory
  stays at a few frames whatever the length of the run.
* A frame is mapped to 256 levels between ``vmin`` and ``vmax`` (one scale for the whole run by
  default, found in a first pass over the frames; or one per frame; or given), then through the
  256-entry table of a matplotlib colour map. A frame is therefore a palette image: PNG and GIF
  store it as such, with no quantisation; MP4 gets it as RGB.
* MP4 goes through imageio and the ffmpeg that the imageio-ffmpeg wheel carries (H.264, yuv420p,
  which every player reads); GIF through Pillow, written frame by frame.

matplotlib, Pillow, imageio and imageio-ffmpeg are the ``video`` extra; they are imported here
only when a frame is drawn, so ``import grayscott`` and ``grayscott run`` never need them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GrayScottError
from ..io.paths import check_writable_file
from ..progress import progress_bar

DEFAULT_CMAP = "inferno"
DEFAULT_FPS = 25.0
SCALES: tuple[str, ...] = ("global", "frame")
KINDS: tuple[str, ...] = ("folder", "gif", "mp4")
DATASET = "matrix"
FRAME_GLOB = "frame_*.png"
VIDEO_EXTRA = "pip install 'grayscott[video]'"

#: Python modules each kind of output needs, and the names pip knows them by.
_NEEDS: dict[str, tuple[str, ...]] = {
    "folder": ("matplotlib", "PIL"),
    "gif": ("matplotlib", "PIL"),
    "mp4": ("matplotlib", "imageio", "imageio_ffmpeg"),
}
_PIP_NAME = {"PIL": "pillow", "imageio_ffmpeg": "imageio-ffmpeg"}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}
#: GIF delays are whole hundredths of a second and players clamp very short ones.
_GIF_MAX_FPS = 50.0


@dataclass
class RenderResult:
    output: Path
    kind: str  # "folder", "gif" or "mp4"
    frames: int  # images written
    first: int  # index in the file of the first frame rendered
    last: int  # ... and of the last one
    width: int  # pixels of one image (after upscaling and, for MP4, padding to even)
    height: int
    vmin: float | None  # the colour scale (None with scale="frame")
    vmax: float | None
    seconds: float


# ---------------------------------------------------------------- checks made before any work


def output_kind(output: str | os.PathLike) -> str:
    """``"gif"`` or ``"mp4"`` from the suffix; ``"folder"`` for an existing folder or no suffix."""
    path = Path(output)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return "gif"
    if suffix == ".mp4":
        return "mp4"
    if path.is_dir() or suffix == "":
        return "folder"
    if suffix in _IMAGE_SUFFIXES:
        raise GrayScottError(
            f"output {str(path)!r} is a single image; give a folder for one PNG per frame "
            f"(e.g. {str(path.with_suffix(''))!r}), a .gif or a .mp4")
    raise GrayScottError(f"cannot tell what to write from {path.name!r}: give a folder (one PNG "
                         "per frame), a .gif or a .mp4")


def require_extra(kind: str) -> None:
    """Refuse with one line when the part of the ``video`` extra that ``kind`` needs is absent."""
    missing = [m for m in _NEEDS[kind] if importlib.util.find_spec(m) is None]
    if missing:
        names = ", ".join(_PIP_NAME.get(m, m) for m in missing)
        what = {"folder": "PNG frames", "gif": "a GIF", "mp4": "an MP4"}[kind]
        raise GrayScottError(f"rendering {what} needs {names}: {VIDEO_EXTRA}")


def check_render_output(output: str | os.PathLike, overwrite: bool = False,
                        source: str | os.PathLike | None = None) -> tuple[Path, str]:
    """Check that ``output`` can be written (and its extra is installed); return it and its kind.

    Called before a run with ``--video`` too, so a run never ends on a video it cannot write.
    """
    path = Path(output)
    if source is not None and path.resolve() == Path(source).resolve():
        raise GrayScottError(f"the output {str(path)!r} is the input file")
    kind = output_kind(path)
    require_extra(kind)
    if kind == "folder":
        if path.exists() and not path.is_dir():
            raise GrayScottError(f"output {str(path)!r} exists and is not a folder")
        if path.is_dir() and any(path.iterdir()) and not overwrite:
            raise GrayScottError(f"output folder {str(path)!r} exists and is not empty; use "
                                 "--overwrite to replace its frames")
        return path, kind
    return check_writable_file(path, "output", overwrite), kind


def parse_frames(spec: str | slice | None) -> slice:
    """A frame range: ``None`` (all), a slice, or text ``START:STOP[:STEP]`` or ``INDEX``, with
    Python's meaning (0-based, STOP excluded, negative counts from the end)."""
    if spec is None:
        return slice(None)
    if isinstance(spec, slice):
        sl = spec
    else:
        text = str(spec).strip()
        parts = text.split(":")
        try:
            values = [int(p) if p.strip() else None for p in parts]
        except ValueError:
            values = []
        if not values or len(values) > 3 or (len(values) == 1 and values[0] is None):
            raise GrayScottError(f"frame range {text!r} is not START:STOP[:STEP] or one index "
                                 "(e.g. 0:100, 50:, ::2, -1)")
        if len(values) == 1:
            i = values[0]
            sl = slice(i, i + 1 if i != -1 else None)
        else:
            sl = slice(*values)
    if sl.step is not None and sl.step <= 0:
        raise GrayScottError(f"the step of a frame range must be >= 1, got {sl.step}")
    return sl


def _describe(sl: slice) -> str:
    def s(x: int | None) -> str:
        return "" if x is None else str(x)

    return f"{s(sl.start)}:{s(sl.stop)}" + (f":{sl.step}" if sl.step not in (None, 1) else "")


def colormap_lut(name: str = DEFAULT_CMAP) -> np.ndarray:
    """The 256 RGB colours (uint8, shape (256, 3)) of matplotlib colour map ``name``."""
    require_extra("folder")
    import matplotlib

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError:
        raise GrayScottError(
            f"unknown colour map {name!r}; try inferno, magma, viridis, cividis, plasma, gray or "
            "twilight (any name matplotlib knows; add _r to reverse one)") from None
    rgba = cmap(np.linspace(0.0, 1.0, 256))
    return np.ascontiguousarray(np.rint(rgba[:, :3] * 255), dtype=np.uint8)


# ---------------------------------------------------------------- colour mapping


def frame_to_index(x: np.ndarray, vmin: float, vmax: float, upscale: int = 1) -> np.ndarray:
    """Map a frame to 256 levels (uint8): vmin -> 0, vmax -> 255, clipped; NaN -> 0."""
    x = np.asarray(x, dtype=np.float32)
    span = float(vmax) - float(vmin)
    scale = np.float32(255.0 / span) if span > 0 else np.float32(0.0)
    idx = (x - np.float32(vmin)) * scale
    np.nan_to_num(idx, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
    np.clip(idx, 0.0, 255.0, out=idx)
    np.rint(idx, out=idx)
    out = idx.astype(np.uint8)
    if upscale > 1:
        out = np.repeat(np.repeat(out, upscale, axis=0), upscale, axis=1)
    return out


def frame_range(x: np.ndarray) -> tuple[float, float]:
    """(min, max) of a frame, NaNs left out; (0, 1) for a frame with no finite value."""
    finite = np.isfinite(x)
    if finite.all():
        return float(x.min()), float(x.max())
    if not finite.any():
        return 0.0, 1.0
    return float(x[finite].min()), float(x[finite].max())


def frame_to_rgb(x: np.ndarray, cmap: str | np.ndarray = DEFAULT_CMAP,
                 vmin: float | None = None, vmax: float | None = None,
                 upscale: int = 1) -> np.ndarray:
    """One frame as an RGB image (uint8, shape (rows, cols, 3)); the scale defaults to the
    frame's own range. ``cmap`` is a colour map name or a table from :func:`colormap_lut`."""
    lut = colormap_lut(cmap) if isinstance(cmap, str) else cmap
    if vmin is None or vmax is None:
        lo, hi = frame_range(np.asarray(x))
        vmin = lo if vmin is None else vmin
        vmax = hi if vmax is None else vmax
    return lut[frame_to_index(x, vmin, vmax, upscale)]


# ---------------------------------------------------------------- the source file


@contextlib.contextmanager
def open_frames(source: str | os.PathLike) -> Iterator[Any]:
    """Open ``source`` and yield its ``matrix`` dataset, refusing what is not a run's file."""
    import h5py

    path = Path(source)
    if not path.exists():
        raise GrayScottError(f"no such file: {str(path)!r}")
    if path.is_dir():
        raise GrayScottError(f"{str(path)!r} is a folder, not an HDF5 file")
    if not h5py.is_hdf5(path):
        raise GrayScottError(f"{str(path)!r} is not an HDF5 file (grayscott writes the school's "
                             "HDF5 layout: a 'matrix' dataset of frames)")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise GrayScottError(f"cannot open {str(path)!r}: {exc} (is a run still writing it?)"
                             ) from None
    with f:
        ds = f.get(DATASET)
        if not isinstance(ds, h5py.Dataset):
            names = ", ".join(sorted(f.keys())) or "none"
            raise GrayScottError(f"{str(path)!r} has no {DATASET!r} dataset, so it is not a "
                                 f"grayscott or Gray-Scott School output (it holds: {names})")
        if ds.ndim != 3 or ds.dtype.kind not in "fiu":
            raise GrayScottError(f"the {DATASET!r} dataset of {str(path)!r} is {ds.dtype} of "
                                 f"shape {ds.shape}; frames are numbers of shape "
                                 "(frames, rows, cols)")
        yield ds


def usable_frames(ds: Any) -> int:
    """Frames actually written: a run killed hard leaves ``matrix`` at full length with
    ``frames_written`` telling how many frames hold data."""
    n = int(ds.shape[0])
    attrs = ds.file.attrs
    if "frames_written" in attrs and not int(attrs.get("completed", 1)):
        n = min(n, int(attrs["frames_written"]))
    return n


# ---------------------------------------------------------------- writers


class _FolderWriter:
    """One palette PNG per frame, named after the frame's index in the file."""

    def __init__(self, path: Path, lut: np.ndarray, nframes_in_file: int) -> None:
        path.mkdir(parents=True, exist_ok=True)
        for old in path.glob(FRAME_GLOB):  # only reached with --overwrite (or an empty folder)
            old.unlink()
        self.path = path
        self.palette = lut.tobytes()
        self.width = max(5, len(str(nframes_in_file - 1)))

    def write(self, index: int, idx: np.ndarray) -> None:
        from PIL import Image

        im = Image.fromarray(idx)
        im.putpalette(self.palette)
        im.save(self.path / f"frame_{index:0{self.width}d}.png", compress_level=3)

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class _PartialFile:
    """Write to a hidden sibling and rename at the end: no half-written video under the name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(f".{path.stem}.partial{path.suffix}")

    def commit(self) -> None:
        os.replace(self.partial, self.path)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.partial.unlink()


class _GifWriter(_PartialFile):
    """An animated GIF written frame by frame (Pillow's own writer keeps every frame in memory).
    The colour map is the GIF's one global palette, so no frame is quantised."""

    def __init__(self, path: Path, lut: np.ndarray, fps: float) -> None:
        super().__init__(path)
        self.palette = lut.tobytes()
        self.delay_ms = 10 * max(2, round(100.0 / fps))  # whole hundredths of a second
        self.fp = open(self.partial, "wb")  # noqa: SIM115  (closed in close/abort)
        self.started = False

    def write(self, index: int, idx: np.ndarray) -> None:
        from PIL import GifImagePlugin, Image

        im = Image.fromarray(idx)
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


class _Mp4Writer(_PartialFile):
    """H.264 in MP4 through imageio's ffmpeg plugin. yuv420p needs even sizes: an odd last row
    or column is repeated once rather than letting ffmpeg rescale the picture."""

    def __init__(self, path: Path, lut: np.ndarray, fps: float) -> None:
        super().__init__(path)
        import imageio.v2 as iio

        self.lut = lut
        self.writer = iio.get_writer(
            self.partial, format="FFMPEG", mode="I", fps=fps, codec="libx264",
            pixelformat="yuv420p", quality=7, macro_block_size=2, ffmpeg_log_level="error",
            output_params=["-preset", "veryfast", "-movflags", "+faststart"])

    def write(self, index: int, idx: np.ndarray) -> None:
        h, w = idx.shape
        if h % 2 or w % 2:
            idx = np.pad(idx, ((0, h % 2), (0, w % 2)), mode="edge")
        self.writer.append_data(self.lut[idx])

    def close(self) -> None:
        self.writer.close()
        self.commit()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
        super().abort()


# ---------------------------------------------------------------- render


def _check_number(name: str, value: Any, minimum: float, integer: bool = False) -> None:
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, kinds) or not np.isfinite(value) \
            or value < minimum:
        need = "an integer" if integer else "a number"
        raise GrayScottError(f"{name} must be {need} >= {minimum:g}, got {value!r}")


def render(source: str | os.PathLike, output: str | os.PathLike, *, cmap: str = DEFAULT_CMAP,
           scale: str = "global", vmin: float | None = None, vmax: float | None = None,
           fps: float = DEFAULT_FPS, frames: str | slice | None = None, upscale: int = 1,
           overwrite: bool = False, progress: bool = True) -> RenderResult:
    """Render the frames of ``source`` (the school's HDF5 layout) to ``output``.

    ``output`` is a folder (created if needed; one ``frame_NNNNN.png`` per frame, numbered as in
    the file), a ``.gif`` or a ``.mp4``. ``scale="global"`` maps one range, the min and max of
    V over the frames rendered, to the colour map for the whole run, so the growth of the
    pattern shows; ``"frame"`` rescales each frame to its own range. ``vmin``/``vmax`` fix the
    range (either may be given alone). ``frames`` is a range such as ``"0:100"``, ``"::2"`` or
    ``"-1"``. ``upscale`` repeats each cell as an N x N block (for small grids).
    """
    t0 = time.perf_counter()
    if scale not in SCALES:
        raise GrayScottError(f"unknown scale {scale!r}; choose one of: {', '.join(SCALES)}")
    if scale == "frame" and (vmin is not None or vmax is not None):
        raise GrayScottError("--vmin/--vmax fix one scale for the whole run; they do not go with "
                             "--scale frame")
    for name, value in (("vmin", vmin), ("vmax", vmax)):
        if value is not None:
            _check_number(name, value, -np.inf)
    if vmin is not None and vmax is not None and not vmax > vmin:
        raise GrayScottError(f"vmax must be above vmin, got vmin={vmin:g} vmax={vmax:g}")
    _check_number("fps", fps, -np.inf)
    if not fps > 0:
        raise GrayScottError(f"fps must be > 0, got {fps!r}")
    _check_number("upscale", upscale, 1, integer=True)
    sl = parse_frames(frames)
    path, kind = check_render_output(output, overwrite, source)
    if kind == "gif" and fps > _GIF_MAX_FPS:
        raise GrayScottError(f"a GIF plays at most {_GIF_MAX_FPS:g} frames per second (its "
                             f"delays are hundredths of a second); got --fps {fps:g}")
    lut = colormap_lut(cmap)

    with open_frames(source) as ds:
        n = usable_frames(ds)
        if n == 0:
            raise GrayScottError(f"{str(source)!r} holds no frame")
        indices = range(n)[sl]
        if len(indices) == 0:
            raise GrayScottError(f"frame range {_describe(sl)!r} selects no frame; "
                                 f"{str(source)!r} has {n} frames (0..{n - 1})")
        lo, hi = vmin, vmax
        if scale == "global" and (lo is None or hi is None):
            lo_seen, hi_seen = np.inf, -np.inf
            bar = progress_bar(len(indices), progress, desc="scale", leave=False)
            for i in indices:
                a, b = frame_range(ds[i])
                lo_seen, hi_seen = min(lo_seen, a), max(hi_seen, b)
                if bar is not None:
                    bar.update(1)
            if bar is not None:
                bar.close()
            lo = lo_seen if lo is None else lo
            hi = hi_seen if hi is None else hi

        nr, nc = (int(s) * upscale for s in ds.shape[1:])
        if kind == "mp4":
            nr, nc = nr + nr % 2, nc + nc % 2
        if kind == "folder":
            writer: Any = _FolderWriter(path, lut, int(ds.shape[0]))
        elif kind == "gif":
            writer = _GifWriter(path, lut, fps)
        else:
            writer = _Mp4Writer(path, lut, fps)
        bar = progress_bar(len(indices), progress, desc="render", leave=False)
        try:
            for i in indices:
                x = ds[i]
                a, b = frame_range(x) if scale == "frame" else (lo, hi)
                writer.write(i, frame_to_index(x, a, b, upscale))
                if bar is not None:
                    bar.update(1)
            writer.close()
        except BaseException:
            writer.abort()
            raise
        finally:
            if bar is not None:
                bar.close()
    return RenderResult(path, kind, len(indices), indices[0], indices[-1], nc, nr,
                        None if scale == "frame" else lo, None if scale == "frame" else hi,
                        time.perf_counter() - t0)
