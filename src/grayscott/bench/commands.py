"""``grayscott bench`` and ``grayscott profile``: the click commands (attached in cli.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..errors import GrayScottError
from ..parallel.launcher import layout_option
from ..physics import DTYPES
from .school import SCHOOL_GRID

F = TypeVar("F", bound=Callable[..., Any])
_DTYPE = click.Choice(list(DTYPES), case_sensitive=False)
#: Steps of one timed call: kernels count them in int32 or int64; more is never a benchmark.
MAX_STEPS = 2**31 - 1


def _grid_options(steps: int, steps_help: str) -> Callable[[F], F]:
    """The problem options bench and profile share: rows, cols, steps, dtype."""

    def decorate(f: F) -> F:
        for option in reversed([
            click.option("-r", "--rows", "--nbrow", "rows", type=click.IntRange(min=3),
                         default=SCHOOL_GRID[0], show_default=True, help="Grid rows."),
            click.option("-c", "--cols", "--nbcol", "cols", type=click.IntRange(min=3),
                         default=SCHOOL_GRID[1], show_default=True, help="Grid columns."),
            click.option("-s", "--steps", type=click.IntRange(min=1, max=MAX_STEPS), default=steps,
                         show_default=True, help=steps_help),
            click.option("--dtype", type=_DTYPE, default="float32", show_default=True),
        ]):
            f = option(f)
        return f

    return decorate


@click.command("bench")
@click.option("-b", "--backends", "backend_list", default=None, metavar="A,B,C",
              help="Backends to time, comma-separated (default: every available one; python "
                   "only where a step takes under a second).")
@_grid_options(steps=100, steps_help="Steps per timed call.")
@click.option("--repeat", type=click.IntRange(min=1), default=5, show_default=True,
              help="Timed calls per backend (median, min and max are reported).")
@click.option("--warmup", type=click.IntRange(min=0), default=1, show_default=True,
              help="Untimed calls of the same length before timing.")
@click.option("--bandwidth-mib", type=click.IntRange(min=1), default=None,
              help="Size of each array of the bandwidth probe, MiB (default: 256 or 4x the "
                   "last-level cache, whichever is larger, at most 1024).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Write the results as JSON.")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False), default=None,
              help="Write a Markdown report with the school's table beside ours.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Draw the ladder as a bar chart (PNG, SVG...; needs matplotlib).")
@click.option("--interleave", is_flag=True,
              help="Compile and warm up every backend, then each round: a short bandwidth "
                   "probe and one timed call of every backend (fair ratios on a busy machine).")
@click.option("--against", default=None, metavar="NAME",
              help="With --interleave: the backend the per-round ratios are taken against "
                   "(default: numba-parallel if timed, else the first).")
@click.option("--from-step", "from_step", type=click.IntRange(min=0), default=0,
              show_default=True, metavar="N",
              help="Time every call from the school's state after N steps (computed once) "
                   "instead of the initial state: a long run's speed (subnormal numbers).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("--ranks", type=click.IntRange(min=1), default=None, metavar="N",
              help="MPI scaling instead: the first of --backends on 1 to N ranks (mpiexec), "
                   "strong then weak, with halo-exchange and gather times.")
@layout_option
def bench_cmd(backend_list: str | None, rows: int, cols: int, steps: int, dtype: str,
              repeat: int, warmup: int, bandwidth_mib: int | None, json_path: str | None,
              markdown_path: str | None, plot_path: str | None, quiet: bool,
              ranks: int | None = None, interleave: bool = False,
              against: str | None = None, from_step: int = 0,
              layout: str | None = None) -> None:
    """Time every backend on the school's problem, beside the school's published table.

    Reports cell-updates per second, seconds per step, compile time (apart), the speedup over
    numpy-school, the projected time of the school's 32x1000 run, and the fraction of the
    memory roofline measured in the same run.
    """
    from ..parallel import launched

    if ranks is not None or launched():  # MPI scaling (grayscott.parallel.bench)
        from ..parallel.bench import command

        return command(ranks, backend_list, (rows, cols), steps, repeat, dtype, json_path,
                       ladder_only=[o for o, p in (("--plot", plot_path),
                                                   ("--markdown", markdown_path),
                                                   ("--interleave", interleave),
                                                   ("--against", against),
                                                   ("--from-step", from_step)) if p],
                       layout=layout)
    if layout is not None:
        raise GrayScottError("--layout is for MPI runs: give --ranks N, or start the bench "
                             "with mpiexec")
    from . import report as rep
    from .runner import parse_backends, run_bench

    names = parse_backends(backend_list)
    for path, what in ((json_path, "--json"), (markdown_path, "--markdown"),
                       (plot_path, "--plot")):
        if path:
            rep.check_output(path, what)
    if plot_path:
        from .chart import check_plot_available

        check_plot_available()
        check_plot_format(plot_path)
    from ..resources import check_memory
    from .runner import check_against, plan

    # Each backend in turn holds its fields: none of those that will run may be too big
    # (the default set, None, is resolved the way run_bench resolves it).
    run = plan(names, (rows, cols))[0]
    check_against(against, run, interleave)
    for name in run:
        check_memory(name, (rows, cols), dtype)
    if not quiet:
        then = ("then rounds of a short probe and every backend" if interleave
                else "then each backend")
        click.echo(f"grayscott bench: {rows}x{cols} {dtype}, {steps} steps x {repeat} repeats; "
                   f"measuring memory bandwidth, {then}...", err=True)
    result = run_bench(names, (rows, cols), dtype, steps=steps, repeat=repeat, warmup=warmup,
                       bandwidth_bytes=bandwidth_mib * (1 << 20) if bandwidth_mib else None,
                       progress=not quiet, interleave=interleave, against=against,
                       from_step=from_step)
    click.echo(rep.format_table(result))
    if json_path:
        rep.write_json(result, json_path)
    if plot_path:
        from .chart import plot_ladder

        plot_ladder(result, plot_path)
    if markdown_path:
        command = rep.reproduce_command(result, markdown_path, plot_path, json_path)
        rep.write_markdown(result, markdown_path, plot_path, command, json_path)
    written = [p for p in (json_path, markdown_path, plot_path) if p]
    if written and not quiet:
        click.echo(f"grayscott bench: wrote {', '.join(written)}", err=True)


def check_plot_format(path: str) -> None:
    """Refuse, before the benchmark runs, a --plot file matplotlib cannot write."""
    from matplotlib.backend_bases import FigureCanvasBase

    from ..errors import GrayScottError

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    if suffix not in formats:
        raise GrayScottError(f"--plot {path!r}: matplotlib writes {', '.join(sorted(formats))}; "
                             "end the name with one of them")


@click.command("profile")
@click.option("-b", "--backend", default="numpy", show_default=True,
              help="Backend to profile (see `grayscott backends`).")
@_grid_options(steps=20, steps_help="Steps timed and profiled.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads of numba-parallel.")
@click.option("--top", type=click.IntRange(min=1), default=15, show_default=True,
              help="How many functions to list.")
@click.option("--sort", type=click.Choice(["cumulative", "tottime"]), default="cumulative",
              show_default=True, help="Order of the function list.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Write the profile as JSON.")
def profile_cmd(backend: str, rows: int, cols: int, steps: int, dtype: str,
                threads: int | None, top: int, sort: str, json_path: str | None) -> None:
    """Time per step, where the time goes (cProfile) and memory (tracemalloc) of one backend.

    Memory: bytes the backend holds, peak traced bytes, and bytes allocated per warmed-up step
    (numpy-school allocates field-sized temporaries every step; numpy allocates none).
    """
    from .profiling import format_profile, profile_backend
    from .report import check_output, write_data

    if json_path:
        check_output(json_path, "--json")
    from ..resources import check_memory

    check_memory(backend, (rows, cols), dtype)
    warning = _slow_warning(backend, rows * cols, steps)
    if warning:
        click.echo(f"grayscott profile: warning: {warning}", err=True)
    result = profile_backend(backend, (rows, cols), dtype, steps=steps, top=top, sort=sort,
                             threads=threads)
    click.echo(format_profile(result))
    if json_path:
        write_data(result.to_dict(), json_path)
        click.echo(f"grayscott profile: wrote {json_path}", err=True)


def _slow_warning(backend: str, cells: int, steps: int) -> str | None:
    from .runner import slow_step_seconds

    est = slow_step_seconds(backend, cells)
    if est is None or 3 * est * steps < 60:
        return None
    return (f"{backend} takes about {est:.0f} s per step on this grid; profiling runs "
            f"{3 * steps}+ steps (use --rows/--cols/--steps to make it shorter)")


__all__ = ["bench_cmd", "profile_cmd"]
