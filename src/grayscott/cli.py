"""``grayscott`` command line. Flags follow the school's programs (docs/model.md §6).

User mistakes end as one line on stderr and a non-zero exit code, never a traceback:
2 for bad input (and a full disk, too little memory, an output another run is writing),
3 for a run that blew up, 130/143 for Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

import click

from . import backends
from .bench.commands import bench_cmd, profile_cmd
from .errors import BlowUpError, GrayScottError
from .explore.commands import explore_cmd, replay_cmd
from .io.commands import FSYNC_HELP, info_cmd, resume_cmd, run_summary, stop_within_option
from .io.diff import diff_cmd
from .io.gather import gather_cmd
from .parallel.launcher import halo_depth_option, layout_option
from .physics import BORDERS, DTYPES, INITIAL_STATES, STENCILS, Parameters, make_problem
from .reference.commands import verify_cmd
from .runs import DEFAULT_CHECKPOINT_EVERY
from .sweep.commands import map_cmd, presets_cmd, sweep_cmd
from .sweep.fit_command import fit_cmd
from .views.commands import render_cmd

EXIT_USAGE = 2
EXIT_BLOWUP = 3


def _choice(values: Sequence[str]) -> click.Choice:
    return click.Choice(list(values), case_sensitive=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="grayscott")
def cli() -> None:
    """The Gray-Scott reaction-diffusion model of the Gray-Scott School."""


@cli.command("run")
@click.option("-n", "--nbimage", type=int, default=1000, show_default=True,
              help="Frames written.")
@click.option("-e", "--nbextrastep", type=int, default=32, show_default=True,
              help="Steps between two frames.")
@click.option("-r", "--nbrow", type=int, default=1080, show_default=True, help="Grid rows.")
@click.option("-c", "--nbcol", type=int, default=1920, show_default=True, help="Grid columns.")
@click.option("-k", "--killrate", type=float, default=0.054, show_default=True, help="Kill rate k.")
@click.option("-f", "--feedrate", type=float, default=0.014, show_default=True, help="Feed rate F.")
@click.option("-t", "--deltat", type=float, default=1.0, show_default=True, help="Time step dt.")
@click.option("-u", "--du", "Du", type=float, default=0.1, show_default=True,
              help="Diffusion rate of U.")
@click.option("-v", "--dv", "Dv", type=float, default=0.05, show_default=True,
              help="Diffusion rate of V.")
@click.option("-o", "--output", default="output.h5", show_default=True,
              type=click.Path(dir_okay=False), help="HDF5 file to write.")
@click.option("-b", "--backend", default=None,
              help="Backend (see `grayscott backends`); default: the fastest installed.")
@click.option("--dtype", type=_choice(DTYPES), default="float32", show_default=True,
              help="Storage and arithmetic of the fields.")
@click.option("--output-dtype", type=_choice(DTYPES), default="float32", show_default=True,
              help="dtype of the frames in the file (the school's is float32).")
@click.option("--stencil", type=_choice(STENCILS), default="school", show_default=True,
              help="The 3x3 Laplacian (any 3x3 array from Python).")
@click.option("--border", type=_choice(BORDERS), default="school", show_default=True,
              help="school: outside neighbours skipped; periodic; fixed: U = 1, V = 0 outside.")
@click.option("--initial", type=_choice(INITIAL_STATES), default="school", show_default=True,
              help="school: the school's box; noise: the box plus seeded noise.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --initial noise.")
@click.option("--preset", default=None, metavar="NAME",
              help="Named regime (see `grayscott presets`): sets F, k and the initial state "
                   "unless -f, -k or --initial are given.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads of numba-parallel and numba-blocked (default: NUMBA_NUM_THREADS or "
                   "all cores).")
@click.option("--blocking", type=click.IntRange(min=1), default=None, metavar="K",
              help="numba-blocked: time steps per pass over memory (default: measured on "
                   "first use and cached; GRAYSCOTT_AUTOTUNE=0: from the grid and the L2 size).")
@click.option("--flush-subnormals", is_flag=True,
              help="numba backends: flush subnormal values to zero (the CPU's FTZ/DAZ modes, "
                   "as JAX does on the CPU). Long runs are up to 4x faster on x86, where tiny V "
                   "values make IEEE arithmetic slow; results then differ from the school's "
                   "IEEE reference in values below ~1e-38 (float32).")
@click.option("--video", type=click.Path(), default=None,
              help="At the end, render the frames to this .mp4, .gif or PNG folder "
                   "(as `grayscott render` does by default).")
@click.option("--overwrite", is_flag=True,
              help="Replace an existing output file (once the new run has its first frame).")
@click.option("--checkpoint-every", type=int, default=DEFAULT_CHECKPOINT_EVERY,
              show_default=True, metavar="N",
              help="Save the state every N frames for `grayscott resume` (0: only at the end).")
@click.option("--flush-every", type=int, default=1, show_default=True, metavar="N",
              help="Flush the file every N frames (0: only at the end; a crash then loses "
                   "frames).")
@click.option("--allow-unstable", is_flag=True, help="Run even if dt is above the stable bound.")
@click.option("--fsync", is_flag=True, help=FSYNC_HELP)
@click.option("--map", "rate_map", default=None, metavar="F0:F1,k0:k1",
              help="The xmorphia map: F from F0 (row 0) to F1 (last row), k from k0 (column "
                   "0) to k1 (last column), in one run (replaces -f, -k). docs/sweeps.md")
@stop_within_option
@click.option("-q", "--quiet", is_flag=True, help="No settings line, progress bar or summary.")
@layout_option
@halo_depth_option
def run_cmd(nbimage: int, nbextrastep: int, nbrow: int, nbcol: int, killrate: float,
            feedrate: float, deltat: float, Du: float, Dv: float, output: str,
            backend: str | None, dtype: str, output_dtype: str, stencil: str, border: str,
            initial: str, seed: int, preset: str | None, threads: int | None,
            blocking: int | None, flush_subnormals: bool, video: str | None, overwrite: bool,
            checkpoint_every: int, flush_every: int, allow_unstable: bool, fsync: bool,
            rate_map: str | None, stop_within: float | None, quiet: bool,
            layout: str | None = None, halo_depth: int | None = None) -> None:
    """Run a simulation and write the school's HDF5 file.

    Every frame is flushed and the state saved as it goes, so a run that is killed keeps its
    frames and `grayscott resume` continues it; `grayscott info` reads the file meanwhile.
    """
    from .parallel import launched
    from .parallel.run import runner
    from .simulation import Simulation

    # decomposed over the ranks when started by mpiexec
    run = runner("run", layout, halo_depth)

    extra = {}
    if preset is not None:
        from .physics.presets import get_preset
        from .sweep.commands import explicit

        chosen = get_preset(preset)
        feedrate = feedrate if explicit("feedrate") else chosen.F
        killrate = killrate if explicit("killrate") else chosen.k
        initial = initial if explicit("initial") else chosen.initial
        extra = {"preset": chosen.name}
    rates = None
    if rate_map is not None:
        from .physics import parse_map

        rates = parse_map(rate_map, (nbrow, nbcol))
        feedrate, killrate = rates.feed[0], rates.kill[0]
    params = Parameters(Du=Du, Dv=Dv, F=feedrate, k=killrate, dt=deltat)
    problem = make_problem((nbrow, nbcol), params=params, stencil=stencil, border=border,
                           dtype=dtype, allow_unstable=allow_unstable, rate_map=rates)
    name = backend or backends.default_backend(decomposable=launched(),
                                               rate_map=rates is not None)
    options: dict[str, object] = {}  # only those given: others are refused by most backends
    if blocking is not None:
        options["blocking"] = blocking
    if flush_subnormals:
        options["subnormals"] = "flush"

    def announce(sim: Simulation) -> None:
        if quiet:
            return
        click.echo(f"grayscott: {nbrow}x{nbcol} {dtype}, {nbimage} frames x {nbextrastep} steps, "
                   f"backend {name} ({sim.backend.threads} thread(s)), stencil {stencil}, "
                   f"border {border}, initial {initial}")
        fk = f"map {rate_map}" if rates is not None else f"F={feedrate:g} k={killrate:g}"
        click.echo(f"           Du={Du:g} Dv={Dv:g} {fk} dt={deltat:g}"
                   f" -> {output}")
        if sim.backend.describe():  # what the backend chose (MPI: ranks and layout)
            click.echo(f"           {sim.backend.describe()}")
        warning = sim.backend.warning(nbimage * nbextrastep)
        if warning:
            click.echo(f"grayscott: warning: {warning}", err=True)

    result = run(problem, output, nbimage=nbimage, nbextrastep=nbextrastep, backend=name,
                 initial=initial, seed=seed, overwrite=overwrite, output_dtype=output_dtype,
                 threads=threads, progress=not quiet, on_start=announce,
                 checkpoint_every=checkpoint_every, flush_every=flush_every, video=video,
                 quiet_video=quiet, extra_attrs=extra, fsync=fsync, stop_within=stop_within,
                 **({"backend_options": options} if options else {}))
    if not quiet:
        click.echo(run_summary(result))


@cli.command("backends")
def backends_cmd() -> None:
    """List every backend, whether it runs here (and what to install if not), and what each
    declares: where it runs, whether it is synchronous, its options."""
    default = backends.default_backend()
    width = max(len(n) for n in backends.names())
    for b in backends.all_backends():
        mark = "*" if b.name == default else " "
        state = "available" if b.available else f"unavailable: {b.reason}"
        click.echo(f"{mark} {b.name:<{width}}  {state:<12}  {b.description}")
        if b.available:
            click.echo(f"  {'':<{width}}  {'':<12}  {backends.describe(b.name)}")
    click.echo("(* default)")


cli.add_command(resume_cmd)
cli.add_command(gather_cmd)
cli.add_command(info_cmd)
cli.add_command(render_cmd)
cli.add_command(bench_cmd)
cli.add_command(profile_cmd)
cli.add_command(presets_cmd)
cli.add_command(sweep_cmd)
cli.add_command(map_cmd)
cli.add_command(fit_cmd)
cli.add_command(explore_cmd)
cli.add_command(replay_cmd)
cli.add_command(diff_cmd)
cli.add_command(verify_cmd)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the CLI and turn user errors into one line and an exit code."""
    from .observers import Interrupted

    try:
        rv = cli.main(args=list(argv) if argv is not None else None, prog_name="grayscott",
                      standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `grayscott`
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        return 0
    except click.ClickException as exc:
        click.echo(f"grayscott: error: {exc.format_message()}", err=True)
        return EXIT_USAGE
    except BlowUpError as exc:
        click.echo(f"grayscott: error: {exc}", err=True)
        return EXIT_BLOWUP
    except GrayScottError as exc:
        click.echo(f"grayscott: error: {exc}", err=True)
        return EXIT_USAGE
    except Interrupted as exc:
        at = "" if exc.step is None else f" at step {exc.step}"
        click.echo(f"grayscott: stopped by {exc}{at}; the frames so far are kept", err=True)
        return 128 + exc.signum
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("grayscott: interrupted; the frames so far are kept", err=True)
        return 128 + signal.SIGINT
    except ValueError as exc:  # only a caller in-process can pass one (argv cannot hold NUL)
        if "null byte" not in str(exc):
            raise
        click.echo("grayscott: error: a file name contains a NUL byte", err=True)
        return EXIT_USAGE
    except MemoryError:
        click.echo("grayscott: error: out of memory; use a smaller grid (-r, -c)", err=True)
        return EXIT_USAGE
    except OSError as exc:  # the machine refused (I/O error, permissions...): not a bug of ours
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        click.echo(f"grayscott: error: {exc.strerror or exc}{where}", err=True)
        return EXIT_USAGE


def entry() -> None:
    from .parallel import launched
    from .parallel.launcher import check_launcher

    try:  # srun's copies without a PMI: each one refuses, rather than each running alone
        check_launcher()
    except GrayScottError as exc:
        click.echo(f"grayscott: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    if launched():  # under mpiexec or srun: every rank runs the command, rank 0 speaks
        from .parallel.collective import mpi_main
        from .parallel.watch import watch_rank

        watch_rank(cli)  # before MPI starts: a rank killed still gets one line of ours

        try:
            sys.exit(mpi_main(main))
        except GrayScottError as exc:  # no mpi4py: nothing to agree with, each rank says it
            click.echo(f"grayscott: error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
    sys.exit(main())


if __name__ == "__main__":
    entry()
