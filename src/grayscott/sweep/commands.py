"""``grayscott presets``, ``sweep`` and ``map`` (attached in ``cli.py``)."""

from __future__ import annotations

import importlib.util
import os

import click

from ..errors import GrayScottError
from ..io.commands import FSYNC_HELP
from ..physics import BORDERS, DTYPES, INITIAL_STATES, STENCILS
from ..physics.presets import PRESETS
from .image import COLOUR_BY


def explicit(param: str) -> bool:
    """Whether the current command's ``param`` was given by the user (not its default)."""
    from click.core import ParameterSource

    source = click.get_current_context().get_parameter_source(param)
    return source not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)


def check_image(image: str, hint: str, overwrite: bool, data: str,
                data_hint: str = "the data file") -> None:
    """Refuse, before any work, an image path matplotlib cannot write or that names the data
    file ``data`` (given as ``data_hint``) itself."""
    from ..io.paths import check_writable_file

    if importlib.util.find_spec("matplotlib") is None:
        raise GrayScottError(f"{hint} needs matplotlib: pip install 'grayscott[plot]'")
    check_writable_file(image, hint, overwrite)
    if os.path.realpath(image) == os.path.realpath(data):  # ./s.h5 is s.h5
        raise click.BadParameter(f"{hint} must differ from {data_hint}", param_hint=hint)
    from matplotlib.figure import Figure

    kinds = Figure().canvas.get_supported_filetypes()  # what savefig can write
    if os.path.splitext(image)[1].lower().lstrip(".") not in kinds:
        raise click.BadParameter(f"{image!r}: not an image type matplotlib writes; end it "
                                 f"in .{', .'.join(sorted(kinds))}", param_hint=hint)


def check_cmap(name: str) -> None:
    """Refuse, before any work, a colour map matplotlib does not know."""
    import matplotlib

    if name not in matplotlib.colormaps:
        raise GrayScottError(f"unknown colour map {name!r}; try inferno, magma, viridis, "
                             "cividis, gray (any name matplotlib knows; add _r to reverse one)")


@click.command("map")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, help="The image (.png, .svg, .pdf, ...).")
@click.option("--frame", type=int, default=-1, show_default=True,
              help="Frame to draw, 0-based; negative counts back from the last one written.")
@click.option("--lines", is_flag=True,
              help="Draw Pearson's saddle-node and Hopf lines (computed) over the map.")
@click.option("--cmap", default="inferno", show_default=True, help="matplotlib colour map.")
@click.option("--overwrite", is_flag=True, help="Replace an existing image.")
def map_cmd(file: str, output: str, frame: int, lines: bool, cmap: str,
            overwrite: bool) -> None:
    """Draw a frame of a `grayscott run --map` FILE on k-F axes (F upwards), as xmorphia and
    Pearson's figure show the (F, k) plane."""
    from .image import read_rate_map_step, save_rate_map

    check_image(output, "--output", overwrite, file, "FILE")
    check_cmap(cmap)
    v, feed, kill, step = read_rate_map_step(file, frame)
    save_rate_map(v, feed, kill, output, overwrite=overwrite, cmap=cmap, lines=lines,
                  title=f"V after {step if step is not None else '?'} steps, "
                        f"{v.shape[0]}x{v.shape[1]}")
    click.echo(f"grayscott map: {output}")


def _choice(values: tuple[str, ...] | list[str]) -> click.Choice:
    return click.Choice(list(values), case_sensitive=False)


@click.command("presets")
def presets_cmd() -> None:
    """List the named regimes: F, k, suggested initial state, what they show, source."""
    width = max(len(n) for n in PRESETS)
    click.echo(f"{'name':<{width}}  {'F':>6}  {'k':>7}  {'initial':<7}  description [source]")
    for p in PRESETS.values():
        click.echo(f"{p.name:<{width}}  {p.F:>6.4g}  {p.k:>7.5g}  {p.initial:<7}  "
                   f"{p.description} [{p.source}]")
    click.echo("Use: grayscott run --preset NAME (an explicit -f/-k overrides it). Sources and "
               "the scale caveat: docs/patterns.md")


@click.command("sweep")
@click.option("--feed", required=True, metavar="A:B:N",
              help="N feed rates from A to B inclusive (as numpy.linspace), or one value; "
                   "A > B is accepted: F then decreases upwards on the map (each row labelled).")
@click.option("--kill", required=True, metavar="A:B:M",
              help="M kill rates from A to B inclusive, or one value; A > B is accepted: k "
                   "then decreases to the right on the map (each column labelled).")
@click.option("-r", "--nbrow", type=int, default=64, show_default=True, help="Grid rows.")
@click.option("-c", "--nbcol", type=int, default=64, show_default=True, help="Grid columns.")
@click.option("-s", "--steps", type=int, required=True, help="Steps of every member.")
@click.option("-t", "--deltat", type=float, default=1.0, show_default=True, help="Time step dt.")
@click.option("-u", "--du", "Du", type=float, default=0.1, show_default=True,
              help="Diffusion rate of U.")
@click.option("-v", "--dv", "Dv", type=float, default=0.05, show_default=True,
              help="Diffusion rate of V.")
@click.option("-b", "--backend", type=_choice(["numba", "jax"]), default=None,
              help="Batched backend: numba (a batched kernel, all cores) or jax (jax.vmap); "
                   "default: numba if installed.")
@click.option("--dtype", type=_choice(DTYPES), default="float32", show_default=True)
@click.option("--stencil", type=_choice(STENCILS), default="school", show_default=True)
@click.option("--border", type=_choice(BORDERS), default="school", show_default=True)
@click.option("--initial", type=_choice(INITIAL_STATES), default="school", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --initial noise.")
@click.option("--batch", type=click.IntRange(min=1), default=None,
              help="At most this many members per piece, one compiled call each, flushed and "
                   "counted in the file as it ends (default: all that fit in half the "
                   "available memory; with numba 1/16 of the members, at least 8).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Threads of the numba backend (default: all cores).")
@click.option("-o", "--output", default="sweep.h5", show_default=True,
              type=click.Path(dir_okay=False), help="HDF5 file to write.")
@click.option("--frames", type=click.IntRange(min=0), default=0, show_default=True,
              help="Also keep V every STEPS/FRAMES steps of each member (dataset frames).")
@click.option("--image", type=click.Path(dir_okay=False), default=None,
              help="Also draw the (F, k) map to this PNG (needs matplotlib).")
@click.option("--colour-by", "colour_by", type=_choice(COLOUR_BY), default="v",
              show_default=True,
              help="Paint the --image tiles by V or by a descriptor of each member.")
@click.option("--lines", is_flag=True,
              help="Draw Pearson's saddle-node and Hopf lines over the --image.")
@click.option("--overwrite", is_flag=True, help="Replace existing output and image files.")
@click.option("--allow-unstable", is_flag=True, help="Run even if dt is above the stable bound.")
@click.option("--fsync", is_flag=True, help=FSYNC_HELP)
@click.option("-q", "--quiet", is_flag=True, help="No settings line, progress bar or summary.")
def sweep_cmd(feed: str, kill: str, nbrow: int, nbcol: int, steps: int, deltat: float,
              Du: float, Dv: float, backend: str | None, dtype: str, stencil: str, border: str,
              initial: str, seed: int, batch: int | None, threads: int | None, output: str,
              frames: int, image: str | None, colour_by: str, lines: bool, overwrite: bool,
              allow_unstable: bool, fsync: bool, quiet: bool) -> int | None:
    """Run the N x M simulations of a grid of (F, k) in one batched program.

    Writes OUTPUT with dataset v (N, M, nbrow, nbcol): V after STEPS steps of each member,
    feed (N) and kill (M) as its dimension scales, and the provenance. Member (i, j) equals
    `grayscott run -n 1 -e STEPS -f feed[i] -k kill[j]` with the same other options.
    Each piece (--batch members) is in the file, flushed and counted in its dataset done, as
    soon as it ends: a sweep killed keeps them, SIGINT/SIGTERM stop it after the piece in
    progress (at once if that piece has more than 10 s to go), and --overwrite replaces the
    old file only once the new one holds a piece. Each member's descriptors (spots, coverage,
    class, change) are stored beside it.
    """
    from ..observers import Interrupted
    from ..physics import Parameters
    from .core import sweep
    from .planning import check_backend, frame_schedule, parse_range

    feeds, kills = parse_range(feed, "--feed"), parse_range(kill, "--kill")
    frame_schedule(steps, frames)  # refused before anything runs
    name = check_backend(backend)
    if image is not None:
        check_image(image, "--image", overwrite, output, "--output")
    params = Parameters(Du=Du, Dv=Dv, dt=deltat)
    if not quiet:
        click.echo(f"grayscott sweep: {len(feeds)} x {len(kills)} members of {nbrow}x{nbcol} "
                   f"{dtype}, {steps} steps, backend {name}, stencil {stencil}, border "
                   f"{border}, initial {initial} -> {output}")
    try:
        result = sweep(feeds, kills, steps, (nbrow, nbcol), params=params, stencil=stencil,
                       border=border, dtype=dtype, backend=name, initial=initial, seed=seed,
                       output=output, overwrite=overwrite, batch=batch, threads=threads,
                       progress=not quiet, allow_unstable=allow_unstable, fsync=fsync,
                       frames=frames)
    except Interrupted as exc:  # the file is closed, its finished members counted in `done`
        click.echo(f"grayscott sweep: stopped by {exc}; the members finished so far are kept "
                   f"in {output} (its dataset done says which)", err=True)
        return 128 + exc.signum
    if result.nonfinite:
        click.echo(f"grayscott sweep: warning: {len(result.nonfinite)} member(s) blew up "
                   f"(NaN/Inf), e.g. F={result.nonfinite[0][0]:g} k={result.nonfinite[0][1]:g}",
                   err=True)
    if image is not None:
        from .hdf5 import read_descriptors
        from .image import read_for_map, save_map

        v, f, k = read_for_map(output)
        save_map(v, f, k, image, overwrite=overwrite, colour_by=colour_by, lines=lines,
                 descriptors=read_descriptors(output),
                 title=f"V after {steps} steps, {nbrow}x{nbcol}, initial {initial}")
    if not quiet:
        cells = result.members * nbrow * nbcol * steps
        rate = cells / result.wall_seconds / 1e6 if result.wall_seconds > 0 else float("nan")
        click.echo(f"grayscott sweep: {result.members} members in {result.pieces} piece(s) of "
                   f"<= {result.batch} ({result.strategy}), {result.wall_seconds:.2f} s "
                   f"({rate:.1f} Mcell-updates/s, compile {result.compile_seconds:.2f} s apart)"
                   f" -> {output}" + (f", {image}" if image else ""))
