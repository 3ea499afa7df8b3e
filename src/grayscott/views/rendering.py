"""Images and video of a run: frames, from an HDF5 file or given in memory, as a PNG folder, a
GIF or an MP4.

* Frames come from a run's HDF5 file, read one at a time (a 1000-frame full-HD run is 8.3 GB), or
  are given directly: an array of frames, a list, or any iterable of 2-D arrays (a simulation's
  frames as they are computed). Memory stays at a few frames whatever the length of the run,
  except for a one-shot iterable that needs two passes (see :func:`render`).
* A frame is mapped to 256 levels between ``vmin`` and ``vmax`` (one scale for the whole run by
  default, found in a first pass over the frames; or one per frame; or given), then through the
  256-entry table of a matplotlib colour map. A frame is therefore a palette image: PNG and GIF
  store it as such, with no quantisation; MP4 gets it as RGB.
* The writers (:mod:`.writers`) share one interface; MP4 goes through imageio and the ffmpeg
  that the imageio-ffmpeg wheel carries (H.264, yuv420p, which every player reads); GIF through
  Pillow, written frame by frame.

matplotlib, Pillow, imageio and imageio-ffmpeg are the ``video`` extra; they are imported here
only when a frame is drawn, so ``import grayscott`` and ``grayscott run`` never need them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GrayScottError
from ..io.layout import DATASET
from ..io.paths import check_writable_file
from ..io.readers import frames_available
from ..progress import progress_bar
from .writers import WRITERS

DEFAULT_CMAP = "inferno"
DEFAULT_FPS = 25.0
SCALES: tuple[str, ...] = ("global", "frame")
KINDS: tuple[str, ...] = tuple(WRITERS)
VIDEO_EXTRA = "pip install 'grayscott[video]'"
#: Largest image side ``upscale`` may make (video encoders and viewers stop near there, and one
#: such image is already a quarter of a gigapixel).
MAX_IMAGE_SIDE = 16384

#: The names pip knows the needed modules by.
_PIP_NAME = {"PIL": "pillow", "imageio_ffmpeg": "imageio-ffmpeg"}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}


@dataclass
class RenderResult:
    output: Path
    kind: str  # "folder", "gif" or "mp4"
    frames: int  # images written
    first: int  # index in the source of the first frame rendered
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
    writer = WRITERS[kind]
    missing = [m for m in writer.needs if importlib.util.find_spec(m) is None]
    if missing:
        names = ", ".join(_PIP_NAME.get(m, m) for m in missing)
        what = writer.what
        raise GrayScottError(f"rendering {what} needs {names}: {VIDEO_EXTRA}")


def check_render_output(output: str | os.PathLike, overwrite: bool = False,
                        source: str | os.PathLike | None = None) -> tuple[Path, str]:
    """Check that ``output`` can be written (and its extra is installed); return it and its kind.

    Called before a run with ``--video`` too, so a run never ends on a video it cannot write.
    """
    path = Path(output)
    # realpath, not resolve(): a symlink loop is then an input that does not open (one line)
    if source is not None and os.path.realpath(path) == os.path.realpath(source):
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



# ---------------------------------------------------------------- frames given in memory

#: What ``render`` takes as its source, besides a path.
FramesLike = np.ndarray | Iterable[np.ndarray]


def _is_path(source: Any) -> bool:
    return isinstance(source, str | os.PathLike)


def _random_access(frames: Any) -> Any:
    """``frames`` as something with ``len()`` and ``[i]`` (an array, an h5py dataset, a list):
    a 3-D array-like is its own frames, a 2-D one is one frame; None for a one-shot iterable."""
    ndim = getattr(frames, "ndim", None)
    if ndim is not None and hasattr(frames, "shape"):
        if ndim == 3:
            return frames
        if ndim == 2:
            return [frames]
        raise GrayScottError(f"frames must be one 2-D frame or an array of shape (frames, rows, "
                             f"cols), got shape {tuple(frames.shape)}")
    if isinstance(frames, list | tuple):
        return frames
    if isinstance(frames, Iterable):
        return None
    raise GrayScottError(f"render takes an HDF5 file, an array of frames or an iterable of 2-D "
                         f"frames, got {type(frames).__name__}")


def _frame(x: Any, index: int, shape: tuple[int, ...] | None) -> np.ndarray:
    """Frame ``index`` as a NumPy array, refused unless it is 2-D numbers of ``shape``."""
    a = np.asarray(x)
    if a.ndim != 2 or a.dtype.kind not in "fiub" or (shape is not None and a.shape != shape):
        want = f"numbers of shape {shape}" if shape is not None else "a 2-D array of numbers"
        raise GrayScottError(f"frame {index} is {a.dtype} of shape {a.shape}; each frame must "
                             f"be {want}")
    return a


@contextlib.contextmanager
def _source(source: str | os.PathLike | FramesLike, sl: slice, two_passes: bool,
            ) -> Iterator[tuple[Any, Iterable[int] | None, Iterator[tuple[int, Any]], str]]:
    """Open the source: (frames with ``[i]`` or None, indices selected (None: not known in
    advance), an iterator of (index, frame), a name for messages).

    A one-shot iterable is streamed when it can be; it is gathered into a list when it needs
    two passes (``two_passes``: the global scale) or the range counts from its end.
    """
    if _is_path(source):
        with open_frames(source) as ds:
            n = frames_available(ds.file)
            if n == 0:
                raise GrayScottError(f"{str(source)!r} holds no frame")
            yield ds, *_select(ds, n, sl, repr(str(source))), repr(str(source))
        return
    frames = _random_access(source)
    label = "the frames given"
    if frames is None:
        from_end = any(x is not None and x < 0 for x in (sl.start, sl.stop))
        if two_passes or from_end:
            frames = list(source)  # type: ignore[arg-type]
        else:
            stream = itertools.islice(enumerate(source), sl.start, sl.stop, sl.step)  # type: ignore[arg-type]
            yield None, None, stream, label
            return
    if len(frames) == 0:
        raise GrayScottError("no frame given")
    yield frames, *_select(frames, len(frames), sl, label), label


def _select(frames: Any, n: int, sl: slice, label: str,
            ) -> tuple[range, Iterator[tuple[int, Any]]]:
    indices = range(n)[sl]
    if len(indices) == 0:
        raise GrayScottError(f"frame range {_describe(sl)!r} selects no frame of the {n} "
                             f"frames (0..{n - 1}) of {label}")
    return indices, ((i, frames[i]) for i in indices)


# ---------------------------------------------------------------- render


def _check_number(name: str, value: Any, minimum: float, integer: bool = False) -> None:
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    # an int is always finite, and np.isfinite refuses one past 64 bits
    finite = isinstance(value, int | np.integer) or np.isfinite(value)
    if isinstance(value, bool) or not isinstance(value, kinds) or not finite or value < minimum:
        need = "an integer" if integer else "a number"
        raise GrayScottError(f"{name} must be {need} >= {minimum:g}, got {value!r}")


def render(source: str | os.PathLike | FramesLike, output: str | os.PathLike, *,
           cmap: str = DEFAULT_CMAP, scale: str = "global", vmin: float | None = None,
           vmax: float | None = None, fps: float = DEFAULT_FPS,
           frames: str | slice | None = None, upscale: int = 1, overwrite: bool = False,
           progress: bool = True) -> RenderResult:
    """Render frames to ``output``: those of ``source``, a run's HDF5 file (the school's layout),
    or frames given directly: an array of shape (frames, rows, cols) (or one 2-D frame), a list,
    or any iterable of 2-D arrays, such as ``Simulation.frames(...)``.

    ``output`` is a folder (created if needed; one ``frame_NNNNN.png`` per frame, numbered as in
    the source), a ``.gif`` or a ``.mp4``. ``scale="global"`` maps one range, the min and max of
    V over the frames rendered, to the colour map for the whole run, so the growth of the
    pattern shows; ``"frame"`` rescales each frame to its own range. ``vmin``/``vmax`` fix the
    range (either may be given alone). ``frames`` is a range such as ``"0:100"``, ``"::2"`` or
    ``"-1"``. ``upscale`` repeats each cell as an N x N block (for small grids).

    A one-shot iterable is streamed, frame by frame, when ``scale="frame"`` or both ``vmin`` and
    ``vmax`` are given (and the range does not count from the end); otherwise its frames are
    gathered in memory first, since the global scale needs a pass over them before drawing.
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
    path, kind = check_render_output(output, overwrite, source if _is_path(source) else None)
    writer_cls = WRITERS[kind]
    if writer_cls.max_fps is not None and fps > writer_cls.max_fps:
        raise GrayScottError(f"{writer_cls.what} plays at most {writer_cls.max_fps:g} frames per "
                             f"second; got --fps {fps:g}")
    lut = colormap_lut(cmap)
    two_passes = scale == "global" and (vmin is None or vmax is None)

    with _source(source, sl, two_passes) as (every, indices, selected, label):
        first = next(selected, None)
        if first is None:  # only a stream gets here: the others refused an empty selection
            raise GrayScottError(f"frame range {_describe(sl)!r} selects no frame of {label}")
        shape = _frame(first[1], first[0], None).shape
        if max(shape) * upscale > MAX_IMAGE_SIDE:
            raise GrayScottError(
                f"--upscale {upscale} makes {shape[1] * upscale}x{shape[0] * upscale} images; at "
                f"most {MAX_IMAGE_SIDE} pixels a side (--upscale "
                f"{max(MAX_IMAGE_SIDE // max(shape), 1)} or less here)")
        lo, hi = vmin, vmax
        if two_passes:
            lo_seen, hi_seen = np.inf, -np.inf
            bar = progress_bar(len(indices), progress, desc="scale", leave=False)
            for i in indices:
                a, b = frame_range(_frame(every[i], i, shape))
                lo_seen, hi_seen = min(lo_seen, a), max(hi_seen, b)
                if bar is not None:
                    bar.update(1)
            if bar is not None:
                bar.close()
            lo = lo_seen if lo is None else lo
            hi = hi_seen if hi is None else hi

        count = None if every is None else len(every)
        bar = progress_bar(None if indices is None else len(indices), progress, desc="render",
                           leave=False)
        written = 0
        try:
            with writer_cls(path, lut, fps, count) as writer:
                for i, x in itertools.chain([first], selected):
                    x = _frame(x, i, shape)
                    a, b = frame_range(x) if scale == "frame" else (lo, hi)
                    writer.write(i, frame_to_index(x, a, b, upscale))
                    written, last = written + 1, i
                    if bar is not None:
                        bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    height, width = writer_cls.size(shape[0] * upscale, shape[1] * upscale)
    return RenderResult(path, kind, written, first[0], last, width, height,
                        None if scale == "frame" else lo, None if scale == "frame" else hi,
                        time.perf_counter() - t0)
