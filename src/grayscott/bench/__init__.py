"""Measurement, apart from the physics and the kernels: ``grayscott bench`` and ``profile``.

* :mod:`.school` - the school's published table (docs/model.md §7), as data;
* :mod:`.arithmetic` - roofline, speedup, projection: pure functions of given numbers;
* :mod:`.bandwidth` - the STREAM probe that gives the roofline its bandwidth;
* :mod:`.machine` - metadata: CPU, cores, caches, OS, versions, commit, date;
* :mod:`.runner` - timing every backend (:func:`run_bench`);
* :mod:`.report` - terminal table, JSON, Markdown, bar chart;
* :mod:`.profiling` - cProfile and tracemalloc of one backend (:func:`profile_backend`);
* :mod:`.commands` - the two click commands.

Nothing here imports matplotlib, Numba or JAX until it is used.
"""

from .arithmetic import (
    bytes_per_cell_update,
    projected_school_seconds,
    roofline_cell_steps_per_s,
    roofline_fraction,
    speedup,
)
from .bandwidth import Bandwidth, measure_bandwidth
from .profiling import ProfileReport, profile_backend
from .runner import BackendResult, BenchReport, run_bench

__all__ = [
    "BackendResult", "Bandwidth", "BenchReport", "ProfileReport", "bytes_per_cell_update",
    "measure_bandwidth", "profile_backend", "projected_school_seconds",
    "roofline_cell_steps_per_s", "roofline_fraction", "run_bench", "speedup",
]
