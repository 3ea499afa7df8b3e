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
"""

from __future__ import annotations

import functools
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import backends
from ..backends.base import Backend
from ..errors import GrayScottError
from ..physics import make_initial, make_problem
from ..physics.problem import check_int
from ..progress import progress_bar
from . import arithmetic as ar
from .bandwidth import Bandwidth, measure_bandwidth, measure_device_bandwidth, probe_ticks
from .machine import collect_metadata, last_level_cache_bytes
from .school import BASELINE, SCHOOL_GRID, school_table

#: A slow rung is in the default set only if one step takes less than this (seconds).
SLOW_DEFAULT_MAX_STEP_SECONDS = 1.0
#: A slow rung is timed on as many steps as fit in this many seconds per repeat (at least 1).
SLOW_REPEAT_SECONDS = 2.0
SLOW_MAX_REPEAT = 3
#: The probe before each interleaved round: copy only, best of this many passes (a few hundred
#: ms on the default arrays), on the widest backend's thread count.
ROUND_PROBE_KERNELS = ("copy",)
ROUND_PROBE_REPEAT = 2
#: The reference of the per-round ratios when it is among the backends timed.
DEFAULT_AGAINST = "numba-parallel"


@dataclass
class BackendResult:
    backend: str
    threads: int
    steps: int  # steps per timed call
    repeat: int
    warmup: int  # untimed calls before the timed ones
    seconds: list[float]  # wall time of each timed call
    compile_seconds: float
    first_call_seconds: float | None  # the first (untimed) advance, if any
    cells: int
    note: str = ""
    platform: str = "cpu"  # where the kernel ran; the memory roofline is the host's
    #: How the backend tuned itself for this grid (its ``provenance``: numba-blocked's k, bands).
    settings: dict[str, Any] = field(default_factory=dict)
    # Filled in once the whole run is known.
    speedup_vs_baseline: float | None = None
    roofline_fraction: float | None = None
    roofline_fraction_at_threads: float | None = None
    # Interleaved runs only (index i: round i; a slow rung takes part in the first rounds only).
    round_fractions: list[float | None] | None = None  # rate / that round's probe roofline
    round_ratios: list[float | None] | None = None  # rate / the reference's rate, same round
    against: str | None = None

    @property
    def round_rates(self) -> list[float]:
        """Cell-updates per second of each timed call, in order."""
        return [ar.cell_steps_per_s(self.cells, self.steps, s) for s in self.seconds]

    @property
    def ratio(self) -> ar.Summary | None:
        """Median, min and max over rounds of the rate over the reference's (interleaved)."""
        ratios = [q for q in self.round_ratios or [] if q is not None]
        return ar.Summary.of(ratios) if ratios else None

    @property
    def seconds_per_step(self) -> ar.Summary:
        s = ar.Summary.of(self.seconds)
        return ar.Summary(s.median / self.steps, s.min / self.steps, s.max / self.steps)

    @property
    def rate(self) -> ar.Summary:
        """Cell-updates per second: median, and the slowest and fastest repeat."""
        s = ar.Summary.of(self.seconds)
        r = ar.cell_steps_per_s
        return ar.Summary(r(self.cells, self.steps, s.median), r(self.cells, self.steps, s.max),
                          r(self.cells, self.steps, s.min))

    @property
    def cell_steps_per_s(self) -> float:
        return self.rate.median

    @property
    def projected_school_seconds(self) -> float:
        return ar.projected_school_seconds(self.cell_steps_per_s)

    def to_dict(self) -> dict[str, Any]:
        data = self._to_dict()
        if self.round_fractions is not None:  # interleaved: the rounds too
            ratio, ratios = self.ratio, self.round_ratios or []
            data.update({
                "against": self.against,
                "ratio_vs_against": ratio.median if ratio else None,
                "ratio_vs_against_min": ratio.min if ratio else None,
                "ratio_vs_against_max": ratio.max if ratio else None,
                "rounds": [{"round": i, "seconds": s, "cell_steps_per_s": rate,
                            "roofline_fraction": self.round_fractions[i],
                            "ratio_vs_against": ratios[i] if i < len(ratios) else None}
                           for i, (s, rate) in enumerate(zip(self.seconds, self.round_rates,
                                                             strict=True))],
            })
        return data

    def _to_dict(self) -> dict[str, Any]:
        sps, rate = self.seconds_per_step, self.rate
        return {
            "backend": self.backend,
            "cell_steps_per_s": rate.median,
            "cell_steps_per_s_min": rate.min,
            "cell_steps_per_s_max": rate.max,
            "seconds_per_step": sps.median,
            "seconds_per_step_min": sps.min,
            "seconds_per_step_max": sps.max,
            "compile_seconds": self.compile_seconds,
            "first_call_seconds": self.first_call_seconds,
            "speedup_vs_baseline": self.speedup_vs_baseline,
            "roofline_fraction": self.roofline_fraction,
            "roofline_fraction_at_threads": self.roofline_fraction_at_threads,
            "projected_school_seconds": self.projected_school_seconds,
            "threads": self.threads,
            "platform": self.platform,
            "settings": dict(self.settings),
            "steps": self.steps,
            "repeat": self.repeat,
            "warmup_calls": self.warmup,
            "seconds": list(self.seconds),
            "note": self.note or None,
        }


@dataclass
class Skipped:
    backend: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"backend": self.backend, "reason": self.reason}


@dataclass
class Interleaving:
    """How an interleaved run went: the probe before each round, the ratios' reference."""

    against: str
    probes: list[Bandwidth]  # one per round, in order
    threads: int  # of each round's probe
    kernels: tuple[str, ...] = ROUND_PROBE_KERNELS
    repeat: int = ROUND_PROBE_REPEAT

    @property
    def rounds(self) -> int:
        return len(self.probes)

    @property
    def probe_bytes_per_s(self) -> list[float]:
        return [p.bytes_per_s for p in self.probes]

    @property
    def spread(self) -> ar.Summary:
        return ar.Summary.of(self.probe_bytes_per_s)

    def describe(self) -> str:
        """"5 rounds, each a probe (STREAM copy, 2 thread(s), best of 2: 20.1–24.3 GB/s,
        median 22.0)"."""
        s = self.spread
        return (f"{self.rounds} round(s), each a bandwidth probe (STREAM "
                f"{'+'.join(self.kernels)}, {self.threads} thread(s), best of {self.repeat}: "
                f"{s.min / 1e9:.1f}–{s.max / 1e9:.1f} GB/s, median {s.median / 1e9:.1f})")

    def to_dict(self, dtype: str) -> dict[str, Any]:
        bws, s = self.probe_bytes_per_s, self.spread
        return {
            "rounds": self.rounds, "against": self.against,
            "method": "every backend compiled and warmed up first; then each round: a bandwidth "
                      "probe, then one timed call of every backend; roofline fraction = median "
                      "over rounds of rate / that round's roofline; ratio = per round",
            "probe": {"kernels": list(self.kernels), "threads": self.threads,
                      "repeat": self.repeat,
                      "array_bytes": self.probes[0].array_bytes if self.probes else None},
            "probe_bytes_per_s": bws,
            "probe_bytes_per_s_min": s.min, "probe_bytes_per_s_max": s.max,
            "probe_bytes_per_s_median": s.median,
            "roofline_cell_steps_per_s": [ar.roofline_cell_steps_per_s(b, dtype) for b in bws],
        }


@dataclass
class BenchReport:
    grid: tuple[int, int]
    dtype: str
    steps: int
    repeat: int
    warmup: int
    bandwidth: Bandwidth
    results: list[BackendResult]
    skipped: list[Skipped]
    metadata: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    baseline: str = BASELINE
    #: The GPU's bandwidth (a device-to-device copy), measured when a backend ran on one.
    device_bandwidth: Bandwidth | None = None
    #: Set when the backends were timed interleaved with per-round probes.
    interleaving: Interleaving | None = None
    #: Steps behind the state every timed call starts from (0: the school's initial state).
    from_step: int = 0

    @property
    def cells(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def bytes_per_cell_update(self) -> int:
        return ar.bytes_per_cell_update(self.dtype)

    @property
    def roofline(self) -> float:
        return ar.roofline_cell_steps_per_s(self.bandwidth.bytes_per_s, self.dtype)

    @property
    def device_roofline(self) -> float | None:
        """The GPU backends' roofline: device bandwidth / bytes per cell-update."""
        if self.device_bandwidth is None:
            return None
        return ar.roofline_cell_steps_per_s(self.device_bandwidth.bytes_per_s, self.dtype)

    @property
    def working_set_bytes(self) -> int:
        """u and v read, u' and v' written: the least a step touches."""
        return ar.VALUES_PER_CELL_UPDATE * self.cells * np.dtype(self.dtype).itemsize

    @property
    def cache_bytes(self) -> int | None:
        return self.bandwidth.cache_bytes

    @property
    def fits_in_cache(self) -> bool | None:
        if self.cache_bytes is None:
            return None
        return self.working_set_bytes <= self.cache_bytes

    @property
    def cache_relation(self) -> str | None:
        """"fits" (at most half the LLC), "comparable" (up to twice it), "larger", or None."""
        if self.cache_bytes is None:
            return None
        ratio = self.working_set_bytes / self.cache_bytes
        return "fits" if ratio <= 0.5 else "comparable" if ratio <= 2 else "larger"

    def result(self, backend: str) -> BackendResult | None:
        for r in self.results:
            if r.backend == backend:
                return r
        return None

    def to_dict(self) -> dict[str, Any]:
        data = self._to_dict()
        if self.interleaving is not None:
            data["interleaved"] = self.interleaving.to_dict(self.dtype)
        return data

    def _to_dict(self) -> dict[str, Any]:
        return {
            "grid": list(self.grid),
            "dtype": self.dtype,
            "steps": self.steps,
            "repeat": self.repeat,
            "warmup_calls": self.warmup,
            "from_step": self.from_step,
            "bandwidth_bytes_per_s": self.bandwidth.bytes_per_s,
            "roofline_cell_steps_per_s": self.roofline,
            "bytes_per_cell_update": self.bytes_per_cell_update,
            "bandwidth": self.bandwidth.to_dict(),
            "device_bandwidth": (None if self.device_bandwidth is None
                                 else self.device_bandwidth.to_dict()),
            "device_roofline_cell_steps_per_s": self.device_roofline,
            "working_set_bytes": self.working_set_bytes,
            "last_level_cache_bytes": self.cache_bytes,
            "fits_in_cache": self.fits_in_cache,
            "cache_relation": self.cache_relation,
            "baseline": self.baseline,
            "results": [r.to_dict() for r in self.results],
            "skipped": [s.to_dict() for s in self.skipped],
            "notes": list(self.notes),
            "school": school_table(),
            "metadata": self.metadata,
        }


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


def finish(results: list[BackendResult], bandwidth: Bandwidth, dtype: str,
           device_bandwidth: Bandwidth | None = None) -> None:
    """Fill in speedup and roofline fractions now that the whole run is known. A backend that
    ran on a GPU is measured against the device's bandwidth (none given: no fraction)."""
    base = next((r for r in results if r.backend == BASELINE), None)
    base_rate = base.cell_steps_per_s if base is not None else None
    roof = ar.roofline_cell_steps_per_s(bandwidth.bytes_per_s, dtype)
    for r in results:
        r.speedup_vs_baseline = ar.speedup(r.cell_steps_per_s, base_rate)
        if r.platform != "cpu":  # the host's bandwidth is no bound for an accelerator
            if r.platform == "gpu" and device_bandwidth is not None:
                r.roofline_fraction = ar.roofline_fraction(
                    r.cell_steps_per_s,
                    ar.roofline_cell_steps_per_s(device_bandwidth.bytes_per_s, dtype))
            continue
        r.roofline_fraction = ar.roofline_fraction(r.cell_steps_per_s, roof)
        r.roofline_fraction_at_threads = ar.roofline_fraction(
            r.cell_steps_per_s, ar.roofline_cell_steps_per_s(bandwidth.at_threads(r.threads),
                                                             dtype))


def default_against(names: Sequence[str]) -> str:
    """The reference of the per-round ratios: numba-parallel if timed, else the first."""
    return DEFAULT_AGAINST if DEFAULT_AGAINST in names else names[0]


def finish_interleaved(results: list[BackendResult], probes: Sequence[Bandwidth], dtype: str,
                       against: str) -> None:
    """After :func:`finish`: each round's fraction against that round's probe, the roofline
    fraction as their median, and the rate over ``against``'s in the same round."""
    ref = next(r for r in results if r.backend == against)
    ref_rates = ref.round_rates
    roofs = [ar.roofline_cell_steps_per_s(p.bytes_per_s, dtype) for p in probes]
    for r in results:
        rates = r.round_rates  # round i is call i: a slow rung is in the first rounds only
        r.against = against
        r.round_ratios = [ar.speedup(x, ref_rates[i]) if i < len(ref_rates) else None
                          for i, x in enumerate(rates)]
        if r.platform != "cpu":  # no host roofline for an accelerator (finish's fraction stays)
            r.round_fractions = [None] * len(rates)
            continue
        r.round_fractions = [ar.roofline_fraction(x, roofs[i]) for i, x in enumerate(rates)]
        known = [f for f in r.round_fractions if f is not None]
        r.roofline_fraction = statistics.median(known) if known else None


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


#: From this many steps on, the school's state has the front of tiny V values whose
#: subnormal arithmetic slows the IEEE backends (BENCHMARKS.md "Long runs").
DEVELOPED_STEPS = 1000


def _report_notes(report: BenchReport) -> list[str]:
    notes = []
    if report.from_step < DEVELOPED_STEPS and any(r.platform == "cpu" for r in report.results):
        start = "an early state" if report.from_step else "the initial state"
        notes.append(f"timed from {start}: a long run (the 32x1000 one) is slower on the "
                     "CPU backends that keep IEEE subnormals, by x2-4 after 10,000 steps; "
                     "--from-step 10000 times that state, --flush-subnormals (run) avoids the "
                     "cost")
    if report.grid != SCHOOL_GRID:
        notes.append(f"grid {report.grid[0]}x{report.grid[1]} is not the school's "
                     f"{SCHOOL_GRID[0]}x{SCHOOL_GRID[1]}: the 32x1000 projection assumes the "
                     "same rate per cell on the school's grid")
    relation = report.cache_relation
    if relation is not None and relation != "larger":
        fields = (f"the fields ({ar.format_bytes(report.working_set_bytes)} read and written per "
                  "step)")
        cache = f"the last-level cache ({ar.format_bytes(report.cache_bytes)})"
        notes.append(f"{fields} fit in {cache}: a backend may beat the memory roofline, which "
                     "is then no bound" if relation == "fits" else
                     f"{fields} are about the size of {cache}: part of each step may come from "
                     "cache, so a backend may come close to or beat the roofline")
    above = [r.backend for r in report.results
             if r.roofline_fraction is not None and r.roofline_fraction > 1]
    if above:
        notes.append(f"above the memory roofline: {', '.join(above)} (the data came from cache, "
                     "or several steps were fused per pass over memory)")
    if report.device_bandwidth is not None:
        notes.append(f"GPU backends' roofline: device memory bandwidth "
                     f"{report.device_bandwidth.describe()} / {report.bytes_per_cell_update} B "
                     f"= {ar.format_mcells(report.device_roofline)} Mcell-updates/s, measured "
                     "in this run; their roofline column is a fraction of it")
    elsewhere = [f"{r.backend} ({r.platform})" for r in report.results
                 if r.platform != "cpu" and r.roofline_fraction is None]
    if elsewhere:
        notes.append(f"ran on an accelerator: {', '.join(elsewhere)}; the roofline here is the "
                     "host's memory, so no fraction is given (scripts/gpu-check.sh measures the "
                     "device's bandwidth)")
    it = report.interleaving
    if it is not None:
        copy = report.bandwidth.by_kernel.get("copy", {})
        below = [t for t in sorted(copy) if t <= it.threads]
        if below:
            notes.append(f"interleaved roofline: each round's probe is STREAM copy only; the "
                         f"full probe above measured copy at {below[-1]} thread(s) "
                         f"{copy[below[-1]] / 1e9:.1f} GB/s and its best figure "
                         f"({report.bandwidth.kernel}) {report.bandwidth.bytes_per_s / 1e9:.1f}"
                         " GB/s (a run without --interleave divides by the latter)")
    if report.bandwidth.far_larger_than_cache is False:
        notes.append("the bandwidth probe's arrays are not 4x larger than the last-level cache: "
                     "the bandwidth may be overstated (raise --bandwidth-mib)")
    return notes


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
