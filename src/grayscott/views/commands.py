"""``grayscott render`` and the video step of ``grayscott run --video`` (attached in ``cli.py``)."""

from __future__ import annotations

import click

from .rendering import DEFAULT_CMAP, DEFAULT_FPS, SCALES, RenderResult


def _summary(source: str, result: RenderResult, fps: float, cmap: str) -> str:
    what = {"folder": "PNG frames in", "gif": "GIF", "mp4": "MP4"}[result.kind]
    frames = (f"frame {result.first}" if result.frames == 1
              else f"{result.frames} frames ({result.first}..{result.last})")
    scale = ("per-frame scale" if result.vmin is None
             else f"V in [{result.vmin:.3g}, {result.vmax:.3g}]")
    rate = f", {fps:g} fps" if result.kind != "folder" else ""
    return (f"grayscott: {frames} of {source} -> {what} {result.output} "
            f"({result.width}x{result.height}{rate}, {cmap}, {scale}) in {result.seconds:.1f} s")


@click.command("render")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(),
              help="A folder (one PNG per frame, created if needed), a .gif or a .mp4.")
@click.option("--cmap", default=DEFAULT_CMAP, show_default=True,
              help="matplotlib colour map (e.g. inferno, viridis, magma, gray; _r reverses).")
@click.option("--scale", type=click.Choice(list(SCALES)), default="global", show_default=True,
              help="global: one colour scale for the whole run (growth shows); frame: each "
                   "frame stretched to its own range.")
@click.option("--vmin", type=float, default=None, help="Fix the low end of the colour scale.")
@click.option("--vmax", type=float, default=None, help="Fix the high end of the colour scale.")
@click.option("--fps", type=float, default=DEFAULT_FPS, show_default=True,
              help="Frames per second of a GIF or MP4.")
@click.option("--frames", default=None, metavar="START:STOP[:STEP]",
              help="Frames to render, 0-based, STOP excluded (e.g. 0:100, 50:, ::2, -1).")
@click.option("--upscale", type=click.IntRange(min=1), default=1, show_default=True,
              help="Draw each cell as an N x N block of pixels (for small grids).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def render_cmd(file: str, output: str, cmap: str, scale: str, vmin: float | None,
               vmax: float | None, fps: float, frames: str | None, upscale: int,
               overwrite: bool, quiet: bool) -> None:
    """Render the frames of a run's HDF5 FILE as PNG images, a GIF or an MP4.

    Frames are read one at a time, so any length of run fits in memory.
    Needs the video extra: pip install 'grayscott[video]'.
    """
    from .rendering import render

    result = render(file, output, cmap=cmap, scale=scale, vmin=vmin, vmax=vmax, fps=fps,
                    frames=frames, upscale=upscale, overwrite=overwrite, progress=not quiet)
    if not quiet:
        click.echo(_summary(file, result, fps, cmap))


def check_video(video: str, overwrite: bool, output: str) -> None:
    """Before a run with ``--video``: refuse now what would fail after the run."""
    from .rendering import check_render_output

    check_render_output(video, overwrite, output)


def render_video(output: str, video: str, overwrite: bool, quiet: bool) -> RenderResult:
    """After a run with ``--video``: render its file with the default settings."""
    from .rendering import render

    result = render(output, video, overwrite=overwrite, progress=not quiet)
    if not quiet:
        click.echo(_summary(output, result, DEFAULT_FPS, DEFAULT_CMAP))
    return result
