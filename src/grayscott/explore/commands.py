"""``grayscott explore`` (the live page) and ``grayscott replay`` (a recording again)."""

from __future__ import annotations

import click

from ..physics import BORDERS, DTYPES, INITIAL_STATES, STENCILS


def _choice(values: tuple[str, ...] | list[str]) -> click.Choice:
    return click.Choice(list(values), case_sensitive=False)


@click.command("explore")
@click.option("-b", "--backend", default=None,
              help="Backend (see `grayscott backends`); default: the fastest installed.")
@click.option("-r", "--nbrow", type=click.IntRange(3, 4096), default=512, show_default=True,
              help="Grid rows.")
@click.option("-c", "--nbcol", type=click.IntRange(3, 4096), default=512, show_default=True,
              help="Grid columns.")
@click.option("--preset", default=None, metavar="NAME",
              help="Named regime to start with (see `grayscott presets`).")
@click.option("-f", "--feedrate", type=float, default=None, help="Feed rate F (default 0.014).")
@click.option("-k", "--killrate", type=float, default=None, help="Kill rate k (default 0.054).")
@click.option("-u", "--du", "Du", type=float, default=0.1, show_default=True)
@click.option("-v", "--dv", "Dv", type=float, default=0.05, show_default=True)
@click.option("-t", "--deltat", type=float, default=1.0, show_default=True, help="Time step.")
@click.option("--stencil", type=_choice(STENCILS), default="school", show_default=True)
@click.option("--border", type=_choice(BORDERS), default="school", show_default=True)
@click.option("--initial", type=_choice(INITIAL_STATES), default=None,
              help="Initial state (default: the preset's, else school).")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True)
@click.option("--dtype", type=_choice(DTYPES), default="float32", show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads of the numba backends.")
@click.option("-e", "--steps", type=click.IntRange(1, 1000), default=16, show_default=True,
              help="Steps per frame (the page can change it).")
@click.option("--fps", type=click.FloatRange(1, 240), default=60, show_default=True,
              help="Most frames computed per second.")
@click.option("--record", "record", type=click.Path(dir_okay=False), default=None,
              help="File the page's record button writes (the next recordings: NAME-2.h5...).")
@click.option("--record-frames", type=click.IntRange(1, 10**6), default=600,
              show_default=True, help="Room of a recording, in frames (reserved on disk when "
                                      "recording starts; it stops when full).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --record file.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but 127.0.0.1 lets other machines in.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port (0: any free one).")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the browser.")
@click.option("--paused", is_flag=True, help="Start paused.")
def explore_cmd(backend: str | None, nbrow: int, nbcol: int, preset: str | None,
                feedrate: float | None, killrate: float | None, Du: float, Dv: float,
                deltat: float, stencil: str, border: str, initial: str | None, seed: int,
                dtype: str, threads: int | None, steps: int, fps: float, record: str | None,
                record_frames: int, overwrite: bool, host: str, port: int, open_browser: bool,
                paused: bool) -> None:
    """Watch and steer a simulation live in the browser; record it for `grayscott replay`.

    Prints the page's address (with its token) and serves it until Ctrl-C.
    """
    from .. import backends
    from .messages import Refused, check_stable

    F, k = 0.014, 0.054
    if preset is not None:
        from ..physics.presets import get_preset

        chosen = get_preset(preset)
        F, k, initial = chosen.F, chosen.k, initial or chosen.initial
    settings = {"Du": Du, "Dv": Dv, "F": F if feedrate is None else feedrate,
                "k": k if killrate is None else killrate, "dt": deltat,
                "stencil": stencil.lower(), "border": border.lower()}
    try:
        check_stable(settings)
    except Refused as exc:
        raise click.ClickException(str(exc)) from None
    name = backend or backends.default_backend()
    from .serve import serve

    serve(settings, (nbrow, nbcol), backend=name, dtype=dtype, threads=threads,
          initial=initial or "school", seed=seed, steps=steps, fps=fps, record=record,
          overwrite=overwrite, host=host, port=port, open_browser=open_browser,
          running=not paused, record_frames=record_frames)


@click.command("replay")
@click.argument("recording", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="HDF5 file to write (the same layout as the recording).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--threads", type=click.IntRange(min=1), default=None)
def replay_cmd(recording: str, output: str, overwrite: bool, threads: int | None) -> int:
    """Compute a recorded `grayscott explore` session again from its timeline, and say
    whether every frame has the recording's bits (exit 1 if one differs)."""
    from .replay import replay

    result = replay(recording, output, overwrite=overwrite, threads=threads)
    if result.differing:
        click.echo(f"grayscott replay: {result.differing} of {result.frames} frames differ "
                   f"from the recording (the first: frame {result.first_difference}; backend "
                   f"{result.backend}) -> {output}", err=True)
        return 1
    click.echo(f"grayscott replay: {result.frames} frames, bit for bit the recording "
               f"(backend {result.backend}) -> {output}")
    return 0
