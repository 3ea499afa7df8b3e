"""What a benchmark found, as data: each backend's result (:class:`BackendResult`), the
backends skipped, an interleaved run's rounds (:class:`Interleaving`) and the whole report
(:class:`BenchReport`), with what is derived once the run is known: speedups and roofline
fractions (:func:`finish`, :func:`finish_interleaved`) and the report's notes.

Timing is in :mod:`.runner`, presenting in :mod:`.report`. This module runs nothing: it may not
build or call a backend, nor import the physics, the loop or io/.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import arithmetic as ar
from .bandwidth import Bandwidth
from .school import BASELINE, SCHOOL_GRID, school_table

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
