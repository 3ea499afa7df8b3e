"""``grayscott resume`` and ``grayscott info`` (attached in cli.py), and the run summary line."""

from __future__ import annotations

import json
from typing import Any

import click

from ..parallel.launcher import halo_depth_option, layout_option
from .paths import format_duration

#: ``--fsync`` of run, resume and sweep.
FSYNC_HELP = ("Force every write to the disk in order (os.fsync) before the next: the file "
              "then survives a lost node or a power cut as it survives a killed process "
              "(slower; see docs/crash-safety.md).")


def _stop_within(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    from ..errors import GrayScottError
    from ..observers.pacing import check_stop_within

    try:
        return check_stop_within(value)
    except GrayScottError:
        raise click.BadParameter(f"{value!r} is not a positive number of seconds") from None


#: ``--stop-within`` of run and resume.
stop_within_option = click.option(
    "--stop-within", type=str, default=None, metavar="SECONDS", callback=_stop_within,
    help="On SIGTERM/SIGINT, save the state at a step boundary within about SECONDS, in the "
         "middle of a frame if need be (default: after the frame in progress). For schedulers: "
         "keep it under their grace time (SLURM: KillWait); see docs/clusters.md.")


def run_summary(result: Any) -> str:
    """The line printed after a run or a resume."""
    compiled = (f", compile {result.compile_seconds:.2f} s apart"
                if result.compile_seconds >= 0.01 else "")
    resumed = f" (resumed at frame {result.first_frame})" if result.first_frame else ""
    return (f"grayscott: {result.frames_written} frames{resumed}, {result.steps_done} steps in "
            f"{result.wall_seconds:.2f} s ({result.cell_steps_per_second / 1e6:.1f} "
            f"Mcell-updates/s{compiled}) -> {result.path}")


@click.command("resume")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-n", "--nbimage", type=int, default=None,
              help="Frames in all once resumed (default: the number the run planned); more "
                   "extends a run.")
@click.option("-b", "--backend", default=None,
              help="Backend (default: the one the run used; the same one gives the same bits).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads of numba-parallel.")
@click.option("--checkpoint-every", type=int, default=None, metavar="N",
              help="Save the state every N frames (default: as the run did).")
@click.option("--video", type=click.Path(), default=None,
              help="At the end, render the frames to this .mp4, .gif or PNG folder.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --video output.")
@click.option("--fsync", is_flag=True, help=FSYNC_HELP)
@stop_within_option
@click.option("-q", "--quiet", is_flag=True, help="No settings line, progress bar or summary.")
@layout_option
@halo_depth_option
def resume_cmd(file: str, nbimage: int | None, backend: str | None, threads: int | None,
               checkpoint_every: int | None, video: str | None, overwrite: bool, fsync: bool,
               stop_within: float | None, quiet: bool, layout: str | None = None,
               halo_depth: int | None = None) -> None:
    """Continue the run of FILE from its last saved state, with the settings in the file.

    Works on a run that was interrupted, killed, ran out of disk, or completed (with -n to
    extend it). Frames after the saved state are computed again; on the same backend the file
    ends bit for bit as the run that never stopped.
    """
    from ..parallel.run import runner
    from ..plans import plan_resume
    from .paths import clean_stale

    resume = runner("resume", layout, halo_depth)  # on any number of ranks when started by mpiexec

    plan = plan_resume(file, nbimage, backend, threads, checkpoint_every)
    if plan.first_frame >= plan.nbimage and plan.frames_written >= plan.nbimage \
            and plan.status == "completed":
        if not quiet:
            click.echo(f"grayscott: {file} is complete ({plan.frames_written} frames); give "
                       "-n with more frames to extend it")
        clean_stale(file)  # what a killed run left beside it (lock, temporary file)
        return
    if not quiet:
        p = plan.problem
        click.echo(f"grayscott: resuming {file} at frame {plan.first_frame} (step "
                   f"{plan.steps}{_into(plan.lead, plan.nbextrastep)}) to {plan.nbimage} "
                   f"frames, {p.nbrow}x{p.nbcol} "
                   f"{p.dtype.name}, backend {plan.backend}")
    result = resume(file, progress=not quiet, flush_every=1, video=video,
                    overwrite_video=overwrite, quiet_video=quiet, plan=plan, fsync=fsync,
                    stop_within=stop_within)
    if not quiet:
        click.echo(run_summary(result))


def _into(lead: int, nbextrastep: int) -> str:
    """How far into its frame a checkpoint is (one saved by --stop-within), or ""."""
    return f", {lead} of the frame's {nbextrastep} steps done" if lead else ""


def _duration(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else format_duration(seconds)


def _rate(info: dict[str, Any]) -> str:
    a = info["attrs"]
    wall = info.get("wall_seconds") or 0.0
    steps = (info.get("steps_done") or 0) - int(a.get("steps_before", 0))
    if wall <= 0 or steps <= 0:
        return "-"
    return f"{int(a['nbrow']) * int(a['nbcol']) * steps / wall / 1e6:.1f} Mcell-updates/s"


def format_info(info: dict[str, Any]) -> str:
    """``grayscott info`` for a person: one screen."""
    a = info["attrs"]
    nbext = int(a["nbextrastep"])
    steps = info.get("steps_done") or 0
    ck = info["checkpoint"]
    if info["writer_pid"]:
        resumable = f"not while it runs (pid {info['writer_pid']})"
    elif ck is None:
        resumable = "no (no saved state)"
    elif info["state"] == "completed" and ck["frames"] >= int(a["nbimage"]):
        resumable = f"complete; `grayscott resume -n N {info['path']}` extends it"
    else:
        lead = ck["steps"] - int(a.get("steps_before", 0)) - ck["frames"] * nbext
        resumable = (f"yes, from frame {ck['frames']} (step {ck['steps']}{_into(lead, nbext)}): "
                     f"grayscott resume {info['path']}")
    running = f" (pid {info['writer_pid']})" if info["writer_pid"] else ""
    lines = [
        f"{info['path']}: grayscott run, layout {a.get('layout_version', 1)}",
        f"  grid       {a['nbrow']}x{a['nbcol']} {a.get('dtype', '?')}, frames "
        f"{info['frame_dtype']}",
        f"  rates      Du={a['Du']:g} Dv={a['Dv']:g} "
        + (f"map {a['map']} (F down the rows, k across the columns)" if "map" in a
           else f"F={a['F']:g} k={a['k']:g}") + f" dt={a['dt']:g}"
        + (f" (preset {a['preset']})" if a.get("preset") else ""),
        f"  stencil    {a.get('stencil', '?')}, border {a.get('border', '?')}, initial "
        f"{a.get('initial', '?')} (seed {a.get('seed', 0)})",
        f"  backend    {a.get('backend', '?')} ({a.get('threads', 1)} thread(s))",
        f"  frames     {info['frames_available']} of {a['nbimage']} written, one every "
        f"{nbext} steps",
        f"  steps      {steps} (simulated time {steps * float(a['dt']):g})",
        f"  status     {info['state']}{running}",
        f"  wall time  {_duration(info.get('wall_seconds') or 0.0)}, {_rate(info)}",
        f"  resumable  {resumable}",
        f"  started    {a.get('started', '?')}",
    ]
    lines += [f"  resumed    {line}" for line in info.get("resume_log", [])]
    return "\n".join(lines)


@click.command("info")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Everything as JSON, for programs.")
def info_cmd(file: str, as_json: bool) -> None:
    """What a run's or a sweep's HDF5 FILE holds: settings, frames (members) written, status,
    whether it can resume.

    Works while the run writes it.
    """
    from ..sweep.info import format_sweep_info, is_sweep_file, read_sweep_info
    from .readers import read_info

    if is_sweep_file(file):
        info = read_sweep_info(file)
        click.echo(json.dumps(info, indent=2, default=str) if as_json
                   else format_sweep_info(info))
        return
    info = read_info(file)
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
    else:
        click.echo(format_info(info))
