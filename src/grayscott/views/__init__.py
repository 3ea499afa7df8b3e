"""Views of a run: images and video of its frames, from an HDF5 file or given in memory.
No physics here.

The heavy dependencies (matplotlib for colour maps, Pillow, imageio with imageio-ffmpeg) are the
``video`` extra and are imported only when something is rendered. The function is
:func:`render`; its module is :mod:`grayscott.views.rendering`, the writers of the three kinds
of output are in :mod:`grayscott.views.writers`.

This package owns the pictures. It reads runs through :mod:`grayscott.io` and may not import
the physics, the backends, the loop or the observers: a view takes frames, never a simulation.
"""

from .rendering import (
    DEFAULT_CMAP,
    DEFAULT_FPS,
    RenderResult,
    check_render_output,
    colormap_lut,
    frame_range,
    frame_to_index,
    open_frames,
    output_kind,
    parse_frames,
    render,
)
from .writers import WRITERS, FrameWriter

__all__ = [
    "DEFAULT_CMAP", "DEFAULT_FPS", "WRITERS", "FrameWriter", "RenderResult", "check_render_output",
    "colormap_lut", "frame_range", "frame_to_index", "open_frames", "output_kind", "parse_frames",
    "render",
]
