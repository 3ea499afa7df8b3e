"""Views of a run: images and video of the frames of an HDF5 file. No physics here.

The heavy dependencies (matplotlib for colour maps, Pillow, imageio with imageio-ffmpeg) are the
``video`` extra and are imported only when something is rendered.

``render`` here is the function; the module is ``grayscott.views.render`` in ``sys.modules``.
"""

from .render import (
    DEFAULT_CMAP,
    DEFAULT_FPS,
    RenderResult,
    check_render_output,
    colormap_lut,
    frame_range,
    frame_to_index,
    frame_to_rgb,
    open_frames,
    output_kind,
    parse_frames,
    render,
)

__all__ = [
    "DEFAULT_CMAP", "DEFAULT_FPS", "RenderResult", "check_render_output", "colormap_lut",
    "frame_range", "frame_to_index", "frame_to_rgb", "open_frames", "output_kind", "parse_frames",
    "render",
]
