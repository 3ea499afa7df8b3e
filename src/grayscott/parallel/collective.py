"""Errors and stop requests every rank agrees on, so that no rank is left waiting.

Three tools:

* :func:`mpi_main` runs the command line on every rank. Rank 0 talks; the others keep quiet
  (stdout dropped, stderr held back). When a rank fails, it waits a moment in a non-blocking
  barrier: if every rank fails too (the same bad option, a blow-up found by an allreduce...),
  they all exit with the same code and only rank 0's line is shown. If the others do not come
  (they are computing, or waiting for it in a halo exchange), the failing rank shows its line
  and calls ``MPI_Abort`` with its exit code, which ends every rank at once.
* :func:`on_root` runs something only rank 0 can do (create the output file) and raises its
  error, if any, on every rank.
* :func:`agree` is the per-frame allreduce of the stop signal: any rank's stops all ranks after
  the same frame (the NaN check has its own, ``DistributedBackend.all_finite``).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..errors import GrayScottError

T = TypeVar("T")

#: How long a failing rank waits for the others to fail too before it aborts them (seconds);
#: ``GRAYSCOTT_MPI_AGREE_SECONDS`` overrides it.
AGREE_SECONDS = 2.0


def agree_seconds() -> float:
    """:data:`AGREE_SECONDS`, or the environment's value: a bad one is one line, not a trace."""
    text = os.environ.get("GRAYSCOTT_MPI_AGREE_SECONDS")
    if text is None:
        return AGREE_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise GrayScottError(f"GRAYSCOTT_MPI_AGREE_SECONDS must be a number of seconds > 0, "
                             f"got {text!r}")
    return value
ROOT = 0


#: Commands that run on every rank; any other (info, render, sweep...) runs on rank 0 alone
#: (two ranks rendering one video would write one file twice).
COLLECTIVE_COMMANDS = ("run", "resume", "bench")


def command_of(argv: Sequence[str] | None) -> str | None:
    """The subcommand named in ``argv`` (default: the command line), if any."""
    args = list(sys.argv[1:] if argv is None else argv)
    return next((a for a in args if not a.startswith("-")), None)


def mpi_main(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None,
             comm: Any = None, collective: bool | None = None) -> int:
    """``main(argv)`` on every rank of ``comm`` (default: the world), never hanging.
    ``collective`` (default: the command is one of :data:`COLLECTIVE_COMMANDS`) False: rank 0
    runs it alone and the others exit with its code."""
    from . import world

    comm = comm if comm is not None else world()
    rank = comm.Get_rank()
    if collective is None:
        collective = command_of(argv) in COLLECTIVE_COMMANDS
    if not collective:
        return _root_alone(main, argv, comm)
    try:  # read before anything runs: the failure path below needs it, and must not fail
        wait = agree_seconds()
    except GrayScottError as exc:  # every rank sees the same environment: all stop here
        if rank == ROOT:
            print(f"grayscott: error: {exc}", file=sys.stderr)
        return 2
    # Duplicated now, while every rank is here: Dup is collective, and the failure path must
    # not wait for ranks that may never come.
    errors = comm.Dup()
    held = io.StringIO()
    with contextlib.ExitStack() as quiet:
        if rank != ROOT:
            devnull = quiet.enter_context(open(os.devnull, "w"))
            quiet.enter_context(contextlib.redirect_stdout(devnull))
            quiet.enter_context(contextlib.redirect_stderr(held))
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # a bug: keep its traceback, and do not leave the others waiting
            traceback.print_exc()
            code = 1
    if code == 0:
        return 0
    if _all_fail(errors, wait):
        return code
    if rank != ROOT:
        lines = held.getvalue().rstrip().splitlines()
        sys.stderr.write("\n".join(f"[rank {rank}] {line}" for line in lines[-20:]) + "\n")
    sys.stderr.flush()
    comm.Abort(code)
    return code  # pragma: no cover  (Abort does not return)


def _root_alone(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None,
                comm: Any) -> int:
    """Rank 0 runs ``main``; the others wait, sleeping, for its exit code (a non-blocking
    broadcast: a blocking one would spin a core for as long as rank 0 works)."""
    import numpy as np

    code = np.zeros(1, np.int64)
    if comm.Get_rank() == ROOT:
        try:
            code[0] = main(argv)
        except SystemExit as exc:
            code[0] = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code[0] = 1
    request = comm.Ibcast(code, root=ROOT)
    while not request.Test():
        time.sleep(0.01)
    return int(code[0])


def _all_fail(errors: Any, wait: float) -> bool:
    """Whether every rank reaches this point within ``wait`` seconds (a non-blocking
    barrier on ``errors``, a communicator of its own, so it cannot match any other message)."""
    request = errors.Ibarrier()
    deadline = time.monotonic() + wait
    while not request.Test():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def on_root(comm: Any, fn: Callable[[], T]) -> T | None:
    """``fn()`` on rank 0 only; its error, if any, is raised on every rank (so the others do
    not go on to wait for rank 0 in a collective). Returns its result on rank 0, None
    elsewhere."""
    result, error = None, None
    if comm.Get_rank() == ROOT:
        try:
            result = fn()
        except Exception as exc:  # re-raised below, on every rank
            error = exc
    error = comm.bcast(_picklable(error), root=ROOT)
    if error is not None:
        raise error
    return result


def _picklable(exc: Exception | None) -> Exception | None:
    import pickle

    if exc is None:
        return None
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return GrayScottError(str(exc))
    return exc


def agree(comm: Any, stop_signum: int | None) -> int | None:
    """One allreduce per frame: the stop signal any rank received (the largest), else None.
    Every rank gets the same answer, so all stop after the same frame."""
    from mpi4py import MPI

    return comm.allreduce(stop_signum or 0, op=MPI.MAX) or None
