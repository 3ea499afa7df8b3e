"""How this process was started (mpiexec, srun, by hand) and the rank layout asked for.

* :func:`check_launcher`: ``srun`` starts one copy per task; without a PMI (``--mpi=pmi2``,
  ``pmix``) the copies cannot find each other and each would run the whole grid alone, into one
  output file. Every copy refuses in one line instead.
* :func:`halo_depth_option`: ``--halo-depth N``, refused in one process
  (:func:`requested_depth`);
* :func:`layout_option`: ``--layout RxC`` of ``run``, ``resume`` and ``bench`` (default
  ``GRAYSCOTT_MPI_DIMS``, else ``auto``); :func:`requested_layout` reads it and refuses a
  layout of several ranks in a process that no MPI launcher started, where it would be
  silently meaningless.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import GrayScottError
from .decomposition import parse_dims

F = TypeVar("F", bound=Callable[..., Any])

#: The environment variable that gives ``--layout`` its default.
LAYOUT_VARIABLE = "GRAYSCOTT_MPI_DIMS"
#: Variables a process manager interface (PMI-1/2, PMIx) or an MPI launcher sets in each task.
PMI_VARIABLES = ("PMI_RANK", "PMI_SIZE", "PMI_FD", "PMI_ID", "PMIX_RANK", "PMIX_NAMESPACE",
                 "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def srun_tasks(env: dict[str, str] | None = None) -> int:
    """Tasks of the ``srun`` step this process belongs to (0 outside an srun step)."""
    env = os.environ if env is None else env
    if "SLURM_STEP_ID" not in env and "SLURM_STEPID" not in env:
        return 0
    text = env.get("SLURM_STEP_NUM_TASKS") or env.get("SLURM_NTASKS") or "0"
    try:
        return int(text)
    except ValueError:
        return 0


def check_launcher(env: dict[str, str] | None = None) -> None:
    """Refuse, in one line, copies that srun started without a PMI to connect them."""
    env = os.environ if env is None else env
    if env.get("GRAYSCOTT_MPI") == "0":
        return
    tasks = srun_tasks(env)
    if tasks > 1 and not any(v in env for v in PMI_VARIABLES):
        raise GrayScottError(
            f"srun started {tasks} copies without a PMI, so they cannot form one MPI run (each "
            "would compute the whole grid alone): use srun --mpi=pmi2 or --mpi=pmix (srun "
            "--mpi=list shows them), or mpiexec inside the allocation")


def layout_option(f: F) -> F:
    """``--layout RxC`` (rank rows x rank columns, or auto)."""
    import click

    return click.option(
        "--layout", default=None, metavar="RxC",
        help="MPI: ranks as R rows x C columns of blocks (0 lets the grid choose one factor); "
             f"default ${LAYOUT_VARIABLE}, else auto: the layout whose busiest rank sends the "
             "fewest halo bytes among those that fit the grid.")(f)


def halo_depth_option(f: F) -> F:
    """``--halo-depth N`` (steps per halo exchange, numba backends)."""
    import click

    return click.option(
        "--halo-depth", "halo_depth", type=click.IntRange(min=1), default=None, metavar="N",
        help="MPI, numba backends: exchange N lines of halo at once and take N steps per "
             "exchange (each step also computes a few of the neighbours' lines); default 4, "
             "or the thinnest block. Results are the same bit for bit.")(f)


def requested_depth(depth: int | None, mpi: bool) -> int | None:
    """``--halo-depth`` as given; refused in one process, where there is no halo."""
    if depth is not None and not mpi:
        raise GrayScottError(f"--halo-depth {depth} is for MPI runs: start it with mpiexec -n N "
                             "(or srun)")
    return depth


def requested_layout(text: str | None, mpi: bool) -> tuple[tuple[int, int] | None, str]:
    """(dims or None for auto, the text as given) from ``--layout`` or the environment.
    Without MPI, a layout of more than one rank is refused."""
    what = "--layout"
    if text is None:
        text = os.environ.get(LAYOUT_VARIABLE) or None
        what = LAYOUT_VARIABLE
    dims = parse_dims(text, what)
    if not mpi and dims is not None and max(dims) > 1:
        raise GrayScottError(
            f"{what} {text} asks for {dims[0] * dims[1] or 'several'} MPI ranks, but this is one "
            f"process: start it with mpiexec -n {dims[0] * dims[1] or 'N'} (or srun)"
            + (f", or unset {LAYOUT_VARIABLE}" if what == LAYOUT_VARIABLE else ""))
    return dims, "auto" if dims is None else f"{dims[0]}x{dims[1]}"
