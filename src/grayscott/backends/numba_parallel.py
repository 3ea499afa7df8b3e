"""``numba-parallel``: the ``numba`` kernel with its rows shared among threads (``prange``).

Same compiled loop, same arithmetic, so the result is bit for bit that of ``numba`` whatever the
number of threads. ``threads`` (the CLI's ``--threads``) defaults to ``NUMBA_NUM_THREADS``, which
numba sets to the number of cores unless the environment says otherwise, and cannot exceed it.
"""

from __future__ import annotations

import operator
import os

import numba

from ..errors import GrayScottError
from ..physics import Problem
from . import numba_kernels as K
from .numba_loops import NumbaBackend


def max_threads() -> int:
    """The most threads numba can run here (``NUMBA_NUM_THREADS``, by default the cores)."""
    return int(numba.config.NUMBA_NUM_THREADS)


class NumbaParallelBackend(NumbaBackend):
    name = "numba-parallel"
    _kernel = staticmethod(K.advance_parallel)

    def __init__(self, problem: Problem, threads: int | None = None) -> None:
        most = max_threads()
        if threads is None:
            threads = most
        try:
            if isinstance(threads, bool):
                raise TypeError
            threads = operator.index(threads)
        except TypeError:
            raise GrayScottError(f"threads must be an integer, got {threads!r}") from None
        if not 1 <= threads <= most:
            raise GrayScottError(
                f"backend {self.name!r} can use 1 to {most} threads here (NUMBA_NUM_THREADS="
                f"{most}, {os.cpu_count()} cores), got {threads}")
        self._threads = threads
        super().__init__(problem, None)

    @property
    def threads(self) -> int:
        return self._threads

    def _run(self, nsteps: int) -> None:
        numba.set_num_threads(self._threads)  # per calling thread; cheap
        super()._run(nsteps)
