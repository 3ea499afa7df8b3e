"""Many processes, one grid: domain decomposition with MPI (mpi4py), identical to one process.

* :mod:`.decomposition`: the Cartesian grid of ranks, the layout that fits the grid, and the
  block each one owns (uneven splits);
* :mod:`.halo`: the ghost ring of a block, from the border rule and the neighbours, in one
  round of nonblocking messages; :mod:`.overlap`: a step with that round hidden behind the
  interior;
* :mod:`.launcher`: ``--layout``, and ``srun`` without a PMI refused;
* :mod:`.output`: every rank writes its block of each frame into its own part file;
* :mod:`.distributed`: :class:`DistributedBackend`, the ordinary backend interface over N ranks,
  running ``numpy``, ``numpy-school``, ``numba`` or ``numba-parallel`` on each block;
* :mod:`.collective`: errors and stop requests that every rank agrees on, so nothing hangs;
* :mod:`.bench`: strong and weak scaling with the time in halo exchange, gathering and writing;
* :mod:`.model`: the model of a step and a frame that docs/scaling.md projects with;
* :mod:`.placement`: :class:`~.placement.Placement`, where a run computes (one process), which
  :mod:`.run`'s ``MPIPlacement`` specialises for ranks.

This package owns everything that differs over MPI ranks; the loop, the file and the checks
are the one-process ones. It may not import mpi4py at import time (nor may
:mod:`.placement`, which every run imports), nor io/'s run file: the root writes it through the
observers.

mpi4py is imported only when a run is started under an MPI launcher (``mpiexec``, ``srun``) or
asked for; ``pip install 'grayscott[mpi]'`` brings it with MPICH's ``mpiexec``.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import GrayScottError

#: Variables that MPI launchers set in every process they start (MPICH/hydra and Intel MPI,
#: Open MPI, PMIx launchers such as recent Slurm, MVAPICH).
LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK",
                      "MV2_COMM_WORLD_SIZE")


def launched() -> bool:
    """True when this process was started by an MPI launcher (``GRAYSCOTT_MPI=0`` says no,
    ``=1`` yes, whatever the environment)."""
    forced = os.environ.get("GRAYSCOTT_MPI")
    if forced in ("0", "1"):
        return forced == "1"
    return any(v in os.environ for v in LAUNCHER_VARIABLES)


def world() -> Any:
    """``MPI.COMM_WORLD``, or a one-line error saying what to install."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise GrayScottError("running under MPI needs mpi4py: pip install 'grayscott[mpi]' "
                             f"(or build it against your MPI: see the README) ({exc})") from None
    return MPI.COMM_WORLD


def __getattr__(name: str) -> Any:  # lazy: importing the package must not import mpi4py
    if name == "DistributedBackend":
        from .distributed import DistributedBackend

        return DistributedBackend
    raise AttributeError(name)


__all__ = ["LAUNCHER_VARIABLES", "DistributedBackend", "launched", "world"]
