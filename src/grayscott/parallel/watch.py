"""One line of ours when a rank is killed: :func:`watch_rank`.

What happens without it, under MPICH's ``mpiexec`` (hydra): a rank killed by SIGKILL (``kill
-9``, the kernel's out-of-memory killer) prints nothing; the launcher's proxy sees it end,
sends SIGKILL to every other rank's process group at once (they print nothing either: SIGKILL
cannot be caught), and prints its banner (``BAD TERMINATION ... EXIT CODE: 9``). The run file
stays as the kill left it: status "running" (``info``: "stopped without closing (killed?)"),
every frame it counts whole, resumable from its last checkpoint (docs/crash-safety.md).

So under a launcher, each rank's process forks before MPI starts: the child is the rank (it
runs the command, MPI and all); the parent, the process the launcher started, only waits for
it. When the child ends by a signal, the parent prints one line: which rank, which signal, and
``grayscott resume FILE``; then it exits with 128 + the signal, and the launcher ends the other
ranks as before. Signals the launcher forwards reach both processes (hydra signals each rank's
process group, Slurm every process of the step): the parent ignores SIGINT and SIGTERM, the rank
handles them as ever. On Linux the child gets SIGKILL when the parent dies (``PR_SET_PDEATHSIG``),
so no rank outlives the process its launcher knows; elsewhere nothing is forked.

What it cannot do: a SIGKILL sent to the parent itself (or a lost node) leaves nobody to speak.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Where launchers put the rank of a process (hydra/Intel MPI, PMIx, Open MPI, MVAPICH, Slurm).
RANK_VARIABLES = ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK",
                  "SLURM_PROCID")
#: ``GRAYSCOTT_MPI_WATCH=0``: no watching parent (one process per rank, as launched).
WATCH_VARIABLE = "GRAYSCOTT_MPI_WATCH"
_PR_SET_PDEATHSIG = 1


def _rank() -> str:
    return next((os.environ[v] for v in RANK_VARIABLES if v in os.environ), "?")


def _die_with_parent(parent: int) -> bool:
    """Ask the kernel for SIGKILL when ``parent`` dies (Linux); False where it cannot."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:  # the parent died before the request: go with it
        os._exit(128 + signal.SIGKILL)
    return True


def run_file(argv: Sequence[str], group: Any) -> str | None:
    """The run file the command line ``argv`` of the click ``group`` (the CLI, handed down so
    that this layer imports nothing above it) writes (run's ``-o``, resume's FILE), if any."""
    import click

    from .collective import command_of

    name = command_of(argv)
    command = group.commands.get(name or "") if isinstance(group, click.Group) else None
    if command is None:
        return None
    args = list(argv)
    try:
        ctx = command.make_context(name, args[args.index(name) + 1:], resilient_parsing=True)
    except (click.ClickException, click.exceptions.Exit, ValueError):
        return None
    found = ctx.params.get("output") or ctx.params.get("file")
    return str(found) if found else None


def killed_line(rank: str, signum: int, file: str | None) -> str:
    """The line said for a rank ended by ``signum``."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    why = " (kill -9, or the out-of-memory killer: see dmesg)" if signum == signal.SIGKILL \
        else ""
    line = f"grayscott: rank {rank} was ended by {name}{why}; the launcher ends the other ranks"
    if file is not None and Path(file).is_file():
        line += f"; {file} keeps the frames it counts: grayscott resume {file}"
    return line


def watch_rank(group: Any, argv: Sequence[str] | None = None) -> None:
    """Fork: return in the child (the rank); in the parent, wait for it, say one line if a
    signal ended it (naming the file :func:`run_file` finds in ``argv`` of ``group``), and exit
    with its code. Only for the commands every rank runs (run, resume, bench); nothing off
    Linux, or with ``GRAYSCOTT_MPI_WATCH=0``."""
    from .collective import COLLECTIVE_COMMANDS, command_of

    argv = list(sys.argv[1:] if argv is None else argv)
    if os.environ.get(WATCH_VARIABLE) == "0" or not sys.platform.startswith("linux") \
            or command_of(argv) not in COLLECTIVE_COMMANDS:  # the others end at once
        return
    parent = os.getpid()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # nothing buffered is written twice
    child = os.fork()
    if child == 0:
        # Refused, the rank still goes with its process group, which launchers signal.
        _die_with_parent(parent)
        return
    for s in (signal.SIGINT, signal.SIGTERM):  # the rank gets them too, and handles them
        signal.signal(s, signal.SIG_IGN)
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        try:
            file = run_file(argv, group)
        except Exception:  # the line matters more than the file's name
            file = None
        print(killed_line(_rank(), signum, file), file=sys.stderr, flush=True)
        os._exit(128 + signum)
    os._exit(os.waitstatus_to_exitcode(status))
