"""Measurement, apart from the physics and the kernels: ``grayscott bench`` and ``profile``.

* :mod:`.school` - the school's published table (docs/model.md §7), as data;
* :mod:`.arithmetic` - roofline, speedup, projection: pure functions of given numbers;
* :mod:`.bandwidth` - the STREAM probe that gives the roofline its bandwidth;
* :mod:`.machine` - metadata: CPU, cores, caches, OS, versions, commit, date;
* :mod:`.runner` - timing every backend, in turn or interleaved (:func:`run_bench`);
* :mod:`.results` - what a run found: results, report model, speedups and roofline fractions;
* :mod:`.report` - terminal table, JSON, Markdown; :mod:`.chart` - the bar chart;
* :mod:`.profiling` - cProfile and tracemalloc of one backend (:func:`profile_backend`);
* :mod:`.commands` - the two click commands.

Nothing here imports matplotlib, Numba or JAX until it is used.

This package owns measurement. It builds backends by name (:mod:`grayscott.backends`) and may
not import the time loop, the observers or io/'s run files: it times kernels, not runs
(``scripts/`` times whole runs).
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
from .results import BackendResult, BenchReport
from .runner import run_bench

__all__ = [
    "BackendResult", "Bandwidth", "BenchReport", "ProfileReport", "bytes_per_cell_update",
    "measure_bandwidth", "profile_backend", "projected_school_seconds",
    "roofline_cell_steps_per_s", "roofline_fraction", "run_bench", "speedup",
]
