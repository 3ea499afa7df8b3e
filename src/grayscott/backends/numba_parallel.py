"""``numba-parallel``: the ``numba`` kernel with its rows shared among threads (``prange``).

Same compiled loop, same arithmetic, so the result is bit for bit that of ``numba`` whatever the
number of threads. ``threads`` (the CLI's ``--threads``) defaults to ``NUMBA_NUM_THREADS``, which
numba sets to the number of cores unless the environment says otherwise, and cannot exceed it.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numba

from ..physics import Problem
from . import numba_kernels as K
from . import numba_map as M
from .base import Option, integer
from .numba_loops import SUBNORMALS, NumbaBackend


def max_threads() -> int:
    """The most threads numba can run here (``NUMBA_NUM_THREADS``, by default the cores)."""
    return int(numba.config.NUMBA_NUM_THREADS)


def check_threads(value: Any) -> int:
    """A thread count numba can honour here: 1 to :func:`max_threads`."""
    n = integer(-sys.maxsize)(value)  # an integer, not a bool; the range is checked below
    most = max_threads()
    if not 1 <= n <= most:
        raise ValueError(f"can be 1 to {most} threads here (NUMBA_NUM_THREADS={most}, "
                         f"{os.cpu_count()} cores), got {n}")
    return int(n)


class NumbaParallelBackend(NumbaBackend):
    name = "numba-parallel"
    options = {"threads": Option("CPU threads sharing the rows (default: NUMBA_NUM_THREADS)",
                                 check_threads),
               "subnormals": SUBNORMALS}
    _kernel = staticmethod(K.advance_parallel)
    _map_kernel = staticmethod(M.advance_map_parallel)

    def __init__(self, problem: Problem, **options: Any) -> None:
        super().__init__(problem, **options)
        self._threads = self.config.get("threads", max_threads())

    @property
    def threads(self) -> int:
        return self._threads

    def _run(self, nsteps: int) -> None:
        numba.set_num_threads(self._threads)  # per calling thread; cheap
        super()._run(nsteps)
