"""Timing: every backend on the same grid, the same steps, warmed up, repeated.

For each backend: build it, load the school's initial state, time :meth:`compile` on its own,
run one untimed warm-up call of exactly the timed length (so a JIT specialising on the call
cannot compile inside the clock), then time ``repeat`` calls of ``advance(steps)``, each from
the same initial state, stopping the clock only after the backend has finished
(:meth:`~grayscott.backends.base.Backend.synchronize`). The garbage collector is off while the
clock runs, as in :mod:`timeit`. The rate is the median; min and max come with it.

A slow rung (a backend declaring ``Capabilities.cell_steps_per_second``: the ``python`` loops)
takes seconds per step on the school's grid: it is left out of the default set when one step
would take over a second, and when it runs it is timed on fewer steps and repeats (the report
says so).

Interleaved (``interleave=True``, ``grayscott bench --interleave``): on a shared machine the load
changes between a probe and a backend timed minutes later, so their ratios mislead. Every backend
is first built, compiled and warmed up; then each of ``repeat`` rounds runs a short bandwidth
probe (STREAM copy on as many threads as the widest backend) and one timed call of every backend.
A backend's roofline fraction is the median of its per-round fractions (each against that round's
probe), and its ratio to a reference backend (``against``) is taken round by round. The full probe
still runs first: it gives the machine's headline bandwidth and the per-thread figures.

The results, the report model and what is derived from them are in :mod:`.results`. This
module may not format a report (:mod:`.report`) nor import the loop or io/.
"""

from __future__ import annotations

import functools
import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .. import backends
from ..backends.base import Backend
from ..errors import GrayScottError
from ..physics import make_initial, make_problem
from ..physics.problem import check_int
from ..progress import progress_bar
from .bandwidth import Bandwidth, measure_bandwidth, measure_device_bandwidth, probe_ticks
from .machine import collect_metadata, last_level_cache_bytes
from .results import (
    ROUND_PROBE_KERNELS,
    ROUND_PROBE_REPEAT,
    BackendResult,
    BenchReport,
    Interleaving,
    Skipped,
    _report_notes,
    default_against,
    finish,
    finish_interleaved,
)
from .school import BASELINE, SCHOOL_GRID

#: A slow rung is in the default set only if one step takes less than this (seconds).
SLOW_DEFAULT_MAX_STEP_SECONDS = 1.0
#: A slow rung is timed on as many steps as fit in this many seconds per repeat (at least 1).
SLOW_REPEAT_SECONDS = 2.0
SLOW_MAX_REPEAT = 3


def sync_function(backend: Backend) -> Callable[[], object] | None:
    """What to call to wait for the backend's work: nothing for a backend that declares itself
    synchronous, its :meth:`~grayscott.backends.base.Backend.synchronize` otherwise."""
    return None if backend.capabilities.synchronous else backend.synchronize


def synchronize(backend: Backend) -> None:
    """Wait until every :meth:`advance` so far has finished (see :func:`sync_function`)."""
    fn = sync_function(backend)
    if fn is not None:
        fn()


def parse_backends(spec: str | Sequence[str] | None) -> list[str] | None:
    """``"a,b,c"`` -> ["a", "b", "c"] (checked against the registry); None -> None (default)."""
    if spec is None:
        return None
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    names = [n for n in names if n]
    if not names:
        raise GrayScottError("--backends is empty; name at least one backend")
    for n in names:
        backends.info(n)  # unknown name -> GrayScottError listing the choices
    seen: dict[str, None] = dict.fromkeys(names)
    return list(seen)


def slow_step_seconds(name: str, cells: int) -> float | None:
    """Rough seconds per step of a slow rung (from its declared rate); None for the others."""
    rate = backends.capabilities(name).cell_steps_per_second
    return None if rate is None else cells / rate


def plan(names: Sequence[str] | None, shape: tuple[int, int]
         ) -> tuple[list[str], list[Skipped], list[str]]:
    """Which backends to run (registry order: the ladder), which are skipped and why, and notes.

    Default: every available backend, except a slow rung whose single step would take over
    :data:`SLOW_DEFAULT_MAX_STEP_SECONDS`. Named backends that cannot run here are skipped with
    the registry's reason.
    """
    cells = shape[0] * shape[1]
    notes: list[str] = []
    skipped: list[Skipped] = []
    run: list[str] = []
    order = backends.names()
    wanted = list(order) if names is None else sorted(names, key=order.index)
    for name in wanted:
        info = backends.info(name)
        if not info.available:
            skipped.append(Skipped(name, info.reason))
            continue
        est = slow_step_seconds(name, cells)
        if names is None and est is not None and est > SLOW_DEFAULT_MAX_STEP_SECONDS:
            skipped.append(Skipped(name, f"left out by default: about {est:.0f} s per step on "
                                         f"this grid (name it in --backends to include it)"))
            continue
        run.append(name)
    if BASELINE not in run:
        notes.append(f"no speedup: it is measured against {BASELINE}, which is not in this run "
                     f"(add it to --backends)")
    return run, skipped, notes


def check_against(against: str | None, run: Sequence[str], interleave: bool) -> None:
    """Refuse, before measuring, a reference that is not timed, or one without --interleave."""
    if against is None:
        return
    if not interleave:
        raise GrayScottError(f"--against {against}: the per-round ratios need --interleave")
    if against not in run:
        raise GrayScottError(f"--against {against}: not among the backends timed "
                             f"({', '.join(run)})")


def _counts(name: str, cells: int, steps: int, repeat: int, warmup: int
            ) -> tuple[int, int, int, str]:
    """(steps, repeat, warmup, note) for one backend: the slow rungs get fewer."""
    est = slow_step_seconds(name, cells)
    if est is None:
        return steps, repeat, warmup, ""
    s = max(1, min(steps, int(SLOW_REPEAT_SECONDS / est) if est > 0 else steps))
    r = min(repeat, SLOW_MAX_REPEAT)
    if (s, r) == (steps, repeat):
        return steps, repeat, warmup, ""
    return s, r, 0, (f"slow rung: timed on {s} step(s) x {r} repeat(s) without warm-up, "
                     f"instead of {steps} x {repeat}")


@dataclass
class Prepared:
    """A backend built, compiled and warmed up on the school's initial state, ready for timed
    calls (:func:`timed_call`); ``steps``, ``repeat`` and ``warmup`` are its own (a slow rung
    gets fewer)."""

    name: str
    backend: Backend
    u0: np.ndarray
    v0: np.ndarray
    steps: int
    repeat: int
    warmup: int
    note: str
    compile_seconds: float
    first_call_seconds: float | None
    cells: int

    def result(self, seconds: list[float]) -> BackendResult:
        """The result of these timed calls (settings read now: what the backend chose)."""
        b = self.backend
        first = self.first_call_seconds
        if first is None and seconds:  # no warm-up: the first timed call was the first call
            first = seconds[0]
        note = "; ".join(filter(None, [b.describe(), self.note]))
        return BackendResult(backend=self.name, threads=b.threads, steps=self.steps,
                             repeat=len(seconds), warmup=self.warmup, seconds=list(seconds),
                             compile_seconds=self.compile_seconds, first_call_seconds=first,
                             cells=self.cells, note=note, platform=b.platform,
                             settings=b.provenance)


@functools.lru_cache(maxsize=2)
def start_state(shape: tuple[int, int], dtype: str, from_step: int = 0,
                ) -> tuple[np.ndarray, np.ndarray]:
    """The state every timed call starts from: the school's initial state, or that state after
    ``from_step`` steps of the default backend in IEEE arithmetic, computed once (a long run's
    state: its front of tiny V values makes subnormal arithmetic that the first steps lack,
    BENCHMARKS.md "Long runs")."""
    u0, v0 = make_initial("school", shape)
    if from_step == 0:
        return u0, v0
    backend = backends.create(backends.default_backend(), make_problem(shape, dtype=dtype))
    backend.set_state(u0, v0)
    with np.errstate(over="ignore", invalid="ignore"):
        backend.advance(from_step)
    return backend.get_state()


def prepare_backend(name: str, shape: tuple[int, int], dtype: str, steps: int, repeat: int,
                    warmup: int = 1, on_tick: Callable[[], None] | None = None,
                    threads: int | None = None, from_step: int = 0) -> Prepared:
    """Build the backend, time its :meth:`compile` and run its untimed warm-up calls."""
    problem = make_problem(shape, dtype=dtype)
    cells = shape[0] * shape[1]
    steps, repeat, warmup, note = _counts(name, cells, steps, repeat, warmup)
    backend = backends.create(name, problem, threads=threads)
    u0, v0 = start_state(tuple(shape), np.dtype(dtype).name, from_step)
    backend.set_state(u0, v0)
    t0 = time.perf_counter()
    backend.compile()
    synchronize(backend)
    compile_seconds = time.perf_counter() - t0
    first_call: float | None = None
    for _ in range(warmup):
        backend.set_state(u0, v0)
        t0 = time.perf_counter()
        backend.advance(steps)
        synchronize(backend)
        if first_call is None:
            first_call = time.perf_counter() - t0
        if on_tick is not None:
            on_tick()
    return Prepared(name, backend, u0, v0, steps, repeat, warmup, note, compile_seconds,
                    first_call, cells)


def timed_call(p: Prepared) -> float:
    """Seconds of one ``advance(p.steps)`` from the initial state, the garbage collector off,
    the clock stopped only once the backend has finished."""
    backend = p.backend
    backend.set_state(p.u0, p.v0)
    synchronize(backend)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        backend.advance(p.steps)
        synchronize(backend)
        return time.perf_counter() - t0
    finally:
        if gc_was_enabled:
            gc.enable()


def time_backend(name: str, shape: tuple[int, int], dtype: str, steps: int, repeat: int,
                 warmup: int = 1, on_tick: Callable[[], None] | None = None,
                 threads: int | None = None, from_step: int = 0) -> BackendResult:
    """Time one backend (see the module docstring for the protocol)."""
    p = prepare_backend(name, shape, dtype, steps, repeat, warmup, on_tick, threads, from_step)
    seconds = []
    for _ in range(p.repeat):
        seconds.append(timed_call(p))
        if on_tick is not None:
            on_tick()
    return p.result(seconds)


def _probe_threads(prepared: Sequence[Prepared]) -> int:
    """The widest thread count among the backends on the host (all of them if none is)."""
    on_host = [p.backend.threads for p in prepared if p.backend.platform == "cpu"]
    return max(on_host or [p.backend.threads for p in prepared])


def _time_interleaved(run: Sequence[str], shape: tuple[int, int], dtype: str, steps: int,
                      repeat: int, warmup: int, array_bytes: int, skipped: list[Skipped],
                      tick: Callable[[], None] | None,
                      describe: Callable[[str], None], from_step: int = 0,
                      ) -> tuple[list[BackendResult], list[Bandwidth], int]:
    """Prepare every backend, then ``repeat`` rounds of (probe, one call of each backend)."""
    prepared = []
    for name in run:
        describe(name)
        try:
            prepared.append(prepare_backend(name, shape, dtype, steps, repeat, warmup, tick,
                                            from_step=from_step))
        except GrayScottError as exc:  # e.g. the backend refuses this dtype here
            skipped.append(Skipped(name, str(exc)))
    if not prepared:
        return [], [], 0
    threads = _probe_threads(prepared)
    probes: list[Bandwidth] = []
    seconds: dict[str, list[float]] = {p.name: [] for p in prepared}
    for i in range(repeat):
        describe(f"round {i + 1}/{repeat}")
        probes.append(measure_bandwidth(array_bytes, threads=[threads],
                                        repeat=ROUND_PROBE_REPEAT, kernels=ROUND_PROBE_KERNELS,
                                        on_tick=tick))
        for p in prepared:
            if i < p.repeat:  # a slow rung: its first rounds only
                seconds[p.name].append(timed_call(p))
                if tick is not None:
                    tick()
    return [p.result(seconds[p.name]) for p in prepared], probes, threads


def _time_in_turn(run: Sequence[str], shape: tuple[int, int], dtype: str, steps: int,
                  repeat: int, warmup: int, skipped: list[Skipped],
                  tick: Callable[[], None] | None, describe: Callable[[str], None],
                  on_result: Callable[[BackendResult], None] | None,
                  from_step: int = 0) -> list[BackendResult]:
    """Each backend in turn: prepared, then all its timed calls (:func:`time_backend`)."""
    results = []
    for name in run:
        describe(name)
        try:
            result = time_backend(name, shape, dtype, steps, repeat, warmup, on_tick=tick,
                                  from_step=from_step)
        except GrayScottError as exc:  # e.g. the backend refuses this dtype here
            skipped.append(Skipped(name, str(exc)))
            continue
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def _reference(against: str | None, timed: Sequence[str], notes: list[str]) -> str:
    """The ratios' reference: ``against`` if it ran, else the default (and a note why)."""
    if against in timed:
        return against
    ref = default_against(timed)
    if against is not None:
        notes.append(f"--against {against} could not run (see skipped): the ratios are "
                     f"against {ref}")
    return ref


def run_bench(names: Sequence[str] | None = None, shape: tuple[int, int] = SCHOOL_GRID,
              dtype: str = "float32", steps: int = 100, repeat: int = 5, warmup: int = 1,
              bandwidth_bytes: int | None = None, bandwidth_repeat: int = 5,
              progress: bool = False,
              on_result: Callable[[BackendResult], None] | None = None,
              interleave: bool = False, against: str | None = None,
              from_step: int = 0) -> BenchReport:
    """Measure the bandwidth, then time each backend (one after the other, or interleaved
    with a probe per round: see the module docstring); return the whole report. Every timed
    call starts from the school's initial state, or from it after ``from_step`` steps."""
    for label, value, low in (("steps", steps, 1), ("repeat", repeat, 1), ("warmup", warmup, 0),
                              ("from_step", from_step, 0)):
        check_int(label, value, low)
    make_problem(shape, dtype=dtype)  # bad grid or dtype: refuse before measuring anything
    dtype = np.dtype(dtype).name
    run, skipped, notes = plan(names, shape)
    if not run:
        raise GrayScottError("no backend to run: " + "; ".join(
            f"{s.backend} ({s.reason})" for s in skipped))
    check_against(against, run, interleave)
    cells = shape[0] * shape[1]
    counts = [_counts(n, cells, steps, repeat, warmup) for n in run]
    ticks = probe_ticks(repeat=bandwidth_repeat) + sum(c[1] + c[2] for c in counts)
    if interleave:
        ticks += repeat * probe_ticks([1], ROUND_PROBE_REPEAT, ROUND_PROBE_KERNELS)
    bar = progress_bar(ticks, progress, unit="run", leave=False)
    tick = (lambda: bar.update(1)) if bar is not None else None

    def describe(what: str) -> None:
        if bar is not None:
            bar.set_description(what)

    interleaving = None
    try:
        if from_step:
            describe(f"state after {from_step} steps")
            start_state(tuple(shape), dtype, from_step)  # once, before any timing
        describe("bandwidth")
        bw = measure_bandwidth(bandwidth_bytes, repeat=bandwidth_repeat, on_tick=tick)
        if interleave:
            results, probes, threads = _time_interleaved(run, shape, dtype, steps, repeat,
                                                         warmup, bw.array_bytes, skipped, tick,
                                                         describe, from_step)
            if results:
                ref = _reference(against, [r.backend for r in results], notes)
                interleaving = Interleaving(ref, probes, threads)
            for result in results:
                if on_result is not None:
                    on_result(result)
        else:
            results = _time_in_turn(run, shape, dtype, steps, repeat, warmup, skipped, tick,
                                    describe, on_result, from_step)
    finally:
        if bar is not None:
            bar.close()
    # Measured after the backends, in the same run, only when one of them ran on a GPU.
    device_bw = (measure_device_bandwidth() if any(r.platform == "gpu" for r in results)
                 else None)
    finish(results, bw, dtype, device_bw)
    if interleaving is not None:
        finish_interleaved(results, interleaving.probes, dtype, interleaving.against)
    report = BenchReport(grid=tuple(shape), dtype=dtype, steps=steps, repeat=repeat,
                         warmup=warmup, bandwidth=bw, results=results, skipped=skipped,
                         metadata=collect_metadata(), notes=notes, device_bandwidth=device_bw,
                         interleaving=interleaving, from_step=from_step)
    report.notes += _report_notes(report)
    if last_level_cache_bytes() is None:
        report.notes.append("cache size unknown: cannot tell whether the grid fits in cache")
    return report
