"""Where the time and the memory of one backend go: cProfile and tracemalloc.

Three separate passes, so that no tool distorts another's figure:

1. **time**: compile (timed apart), one untimed warm-up call, then ``advance(steps)`` timed.
2. **cProfile** of ``advance(steps)`` on the warmed-up backend: the top functions by cumulative
   time (NumPy's ufuncs appear as built-in methods).
3. **tracemalloc** on a fresh backend: the bytes it holds once built (``state_bytes``), the peak
   traced bytes of the whole pass (``peak_bytes``), and for a warmed-up step

   * ``alloc_bytes_per_step``: every byte allocated during the step, freed or not. tracemalloc
     only keeps the current and peak totals, so the step is traced bytecode by bytecode: before
     each bytecode the peak since the previous one, minus the total then, is what that bytecode
     allocated (its temporaries), and the peak is reset. This is exact for blocks allocated by
     Python code and by the C functions it calls (NumPy arrays included), and deterministic;
   * ``temp_peak_bytes_per_step``: the high-water mark of the step above its starting total
     (the most temporary memory alive at once), measured without the bytecode tracing;
   * ``net_bytes_per_step``: what the step kept (a leak, or a cache being filled).

tracemalloc sees Python objects and NumPy's arrays; memory allocated inside Numba-compiled code
(its NRT allocator) or by XLA is invisible to it, so those backends show ~0 here whatever they do.
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import sys
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import backends
from ..backends.base import Backend
from ..errors import GrayScottError
from ..physics import make_initial, make_problem
from ..physics.problem import check_int
from . import arithmetic as ar
from .machine import collect_metadata
from .runner import sync_function, synchronize, time_backend

#: Steps measured one by one for the allocation figures (the mean is reported).
ALLOC_STEPS = 2
#: Warm-up steps before the allocation figures (lazily built buffers, caches).
ALLOC_WARMUP_STEPS = 2
#: Bytecodes traced per step before bytecode tracing gives up (the python rung on a large grid
#: runs hundreds per cell); the figure then falls back to the high-water mark.
MAX_TRACED_BYTECODES = 2_000_000


@dataclass
class ProfileReport:
    backend: str
    grid: tuple[int, int]
    dtype: str
    steps: int
    threads: int
    compile_seconds: float
    first_call_seconds: float
    seconds_per_step: float
    cell_steps_per_s: float
    field_bytes: int  # one field of the grid, unpadded
    state_bytes: int  # traced bytes held by the backend once built and loaded
    peak_bytes: int  # peak traced bytes over the memory pass
    alloc_bytes_per_step: float
    alloc_method: str  # "bytecode" (exact) or "high-water" (tracing gave up; a lower bound)
    temp_peak_bytes_per_step: float
    net_bytes_per_step: float
    top: list[dict[str, Any]] = field(default_factory=list)
    top_by: str = "cumulative"
    metadata: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def alloc_fields_per_step(self) -> float:
        return self.alloc_bytes_per_step / self.field_bytes

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["grid"] = list(self.grid)
        d["alloc_fields_per_step"] = self.alloc_fields_per_step
        d["temp_peak_fields_per_step"] = self.temp_peak_bytes_per_step / self.field_bytes
        d["state_fields"] = self.state_bytes / self.field_bytes
        return d


# -- allocation accounting ------------------------------------------------------------------


class _BytecodeAllocations:
    """sys.settrace tracer summing, bytecode by bytecode, the bytes each one allocated.

    Its own bookkeeping is arranged to allocate nothing that outlives a callback before the peak
    is reset (closures, no bound methods, counters kept in a preallocated list).
    """

    def __init__(self, budget: int = MAX_TRACED_BYTECODES) -> None:
        # [total at the last reset, bytes allocated so far, bytecodes seen, gave up (0/1)]
        state = [0, 0, 0, 0]
        self.state = state
        get = tracemalloc.get_traced_memory
        reset = tracemalloc.reset_peak

        def local(frame: Any, event: str, arg: Any) -> Any:
            current, peak = get()
            if peak > state[0]:
                state[1] += peak - state[0]
            state[0] = current
            state[2] += 1
            del current, peak
            reset()
            if state[2] > budget:
                state[3] = 1
                return None
            return local

        def call(frame: Any, event: str, arg: Any) -> Any:
            if event != "call" or state[3]:
                return None
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
            return local(frame, event, arg)

        self.call = call

    def run(self, fn: Callable[[], None]) -> tuple[int, bool]:
        """(bytes allocated while ``fn`` ran, whether every bytecode was traced)."""
        state = self.state
        tracemalloc.reset_peak()
        state[0] = tracemalloc.get_traced_memory()[0]
        previous = sys.gettrace()
        sys.settrace(self.call)
        try:
            fn()
        finally:
            sys.settrace(previous)
        current, peak = tracemalloc.get_traced_memory()
        if peak > state[0]:
            state[1] += peak - state[0]
        return state[1], not state[3]


def _measure_memory(name: str, problem: Any, u0: np.ndarray, v0: np.ndarray,
                    threads: int | None = None) -> tuple[int, int, float, str, float, float]:
    """(state_bytes, peak_bytes, alloc/step, method, temp peak/step, net/step)."""
    gc.collect()
    was_tracing = tracemalloc.is_tracing()
    if was_tracing:
        tracemalloc.stop()
    tracemalloc.start()
    gc_was_enabled = gc.isenabled()
    try:
        base = tracemalloc.get_traced_memory()[0]
        backend = backends.create(name, problem, threads=threads)
        backend.set_state(u0, v0)
        state_bytes = tracemalloc.get_traced_memory()[0] - base
        backend.compile()
        backend.advance(ALLOC_WARMUP_STEPS)
        synchronize(backend)
        peak = tracemalloc.get_traced_memory()[1] - base
        gc.disable()

        def one_step() -> None:
            backend.advance(1)

        # high-water mark and net growth, untraced steps
        temp_peaks, nets = [], []
        for _ in range(ALLOC_STEPS):
            tracemalloc.reset_peak()
            start = tracemalloc.get_traced_memory()[0]
            one_step()
            current, step_peak = tracemalloc.get_traced_memory()
            temp_peaks.append(step_peak - start)
            nets.append(current - start)
            peak = max(peak, step_peak - base)
        # every allocation, bytecode by bytecode
        allocs, exact = [], True
        for _ in range(ALLOC_STEPS):
            tracer = _BytecodeAllocations()
            n, complete = tracer.run(one_step)
            allocs.append(n)
            exact = exact and complete
        synchronize(backend)
        peak = max(peak, tracemalloc.get_traced_memory()[1] - base)
    finally:
        if gc_was_enabled:
            gc.enable()
        tracemalloc.stop()
        if was_tracing:
            tracemalloc.start()
    temp = float(np.mean(temp_peaks))
    if exact:
        alloc, method = float(np.mean(allocs)), "bytecode"
    else:
        alloc, method = temp, "high-water"
    return state_bytes, peak, alloc, method, temp, float(np.mean(nets))


# -- cProfile -------------------------------------------------------------------------------


def _short_path(filename: str) -> str:
    p = Path(filename)
    parts = p.parts
    for anchor in ("grayscott", "site-packages"):
        if anchor in parts:
            i = len(parts) - 1 - parts[::-1].index(anchor)
            return "/".join(parts[i if anchor == "grayscott" else i + 1:])
    return p.name


def _function_name(key: tuple[str, int, str]) -> str:
    filename, line, func = key
    if filename == "~" and line == 0:  # built-in
        return func
    return f"{_short_path(filename)}:{line}({func})"


def _top_functions(profiler: cProfile.Profile, n: int, sort: str) -> list[dict[str, Any]]:
    stats = pstats.Stats(profiler)
    rows = []
    for key, (cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        name = _function_name(key)
        if "_lsprof.Profiler" in name:
            continue
        rows.append({"function": name, "ncalls": nc, "primitive_calls": cc,
                     "tottime": tt, "cumtime": ct})
    rows.sort(key=lambda r: r["cumtime" if sort == "cumulative" else "tottime"], reverse=True)
    return rows[:n]


# -- the whole profile ----------------------------------------------------------------------


def profile_backend(name: str, shape: tuple[int, int] = (1080, 1920), dtype: str = "float32",
                    steps: int = 20, top: int = 15, sort: str = "cumulative",
                    threads: int | None = None) -> ProfileReport:
    """Time, cProfile and tracemalloc one backend on the school's initial state."""
    check_int("steps", steps)
    check_int("top", top)
    if sort not in ("cumulative", "tottime"):
        raise GrayScottError(f"sort must be 'cumulative' or 'tottime', got {sort!r}")
    problem = make_problem(shape, dtype=dtype)
    backends.info(name).load()  # unknown or unavailable: refuse now, with the reason
    u0, v0 = make_initial("school", problem.shape)

    # 1. time: the bench's protocol, one timed call after one warm-up
    timed = time_backend(name, problem.shape, problem.dtype.name, steps, repeat=1, warmup=1,
                         threads=threads)

    # 2. cProfile (compiled code comes from the caches the timing pass filled)
    backend: Backend = backends.create(name, problem, threads=threads)
    backend.set_state(u0, v0)
    backend.compile()
    synchronize(backend)
    sync = sync_function(backend)
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        backend.advance(steps)
        if sync is not None:
            sync()
    finally:
        profiler.disable()
    top_rows = _top_functions(profiler, top, sort)
    nthreads = backend.threads
    del backend

    # 3. tracemalloc
    state_bytes, peak, alloc, method, temp, net = _measure_memory(name, problem, u0, v0, threads)
    notes = []
    if method != "bytecode":
        notes.append(f"too many bytecodes per step to trace (over {MAX_TRACED_BYTECODES:,}): "
                     "alloc_bytes_per_step is the step's high-water mark, a lower bound")
    notes.append("cProfile times Python functions and built-in functions; NumPy's ufuncs "
                 "(np.add, np.multiply, array operators) are neither, so their time counts in "
                 "the tottime of the function that calls them")
    if backends.info(name).requires:
        notes.append("tracemalloc sees Python objects and NumPy arrays only; memory allocated "
                     "inside Numba-compiled code or by XLA is not counted")
    return ProfileReport(
        backend=name, grid=problem.shape, dtype=problem.dtype.name, steps=steps,
        threads=nthreads, compile_seconds=timed.compile_seconds,
        first_call_seconds=timed.first_call_seconds or 0.0,
        seconds_per_step=timed.seconds_per_step.median,
        cell_steps_per_s=timed.cell_steps_per_s,
        field_bytes=problem.nbrow * problem.nbcol * problem.dtype.itemsize,
        state_bytes=state_bytes, peak_bytes=peak,
        alloc_bytes_per_step=alloc, alloc_method=method, temp_peak_bytes_per_step=temp,
        net_bytes_per_step=net, top=top_rows, top_by=sort, metadata=collect_metadata(),
        notes=notes)


def format_profile(p: ProfileReport) -> str:
    fb = ar.format_bytes
    r, c = p.grid
    lines = [
        f"profile of {p.backend}: {r}x{c} {p.dtype}, {p.steps} steps, {p.threads} thread(s)",
        f"time:    {p.seconds_per_step * 1e3:.3g} ms/step, {ar.format_mcells(p.cell_steps_per_s)} "
        f"Mcell-updates/s (compile {p.compile_seconds:.2f} s, first call "
        f"{p.first_call_seconds:.2f} s, both apart)",
        f"memory:  one field is {fb(p.field_bytes)}; the backend holds {fb(p.state_bytes)} "
        f"({p.state_bytes / p.field_bytes:.1f} fields) once loaded; peak traced "
        f"{fb(p.peak_bytes)}",
        f"per step (warmed up): allocated {fb(p.alloc_bytes_per_step)} "
        f"({p.alloc_fields_per_step:.2f} fields, {p.alloc_method}); at most "
        f"{fb(p.temp_peak_bytes_per_step)} alive at once; kept {fb(p.net_bytes_per_step)}",
        "",
        f"where the time goes ({len(p.top)} functions by {p.top_by} time, {p.steps} steps):",
        f"{'ncalls':>9} {'tottime':>9} {'cumtime':>9}  function",
    ]
    for row in p.top:
        calls = str(row["ncalls"]) if row["ncalls"] == row["primitive_calls"] else (
            f"{row['ncalls']}/{row['primitive_calls']}")
        lines.append(f"{calls:>9} {row['tottime']:9.3f} {row['cumtime']:9.3f}  {row['function']}")
    lines += [f"note: {n}" for n in p.notes]
    return "\n".join(lines)
