"""Memory bandwidth, measured in the run that uses it: STREAM's Copy and Add kernels in NumPy.

* Copy ``b[:] = a`` moves 2 arrays' worth of bytes (read a, write b);
* Add ``c[:] = a + b`` moves 3 (read a and b, write c): the traffic of STREAM's Triad.

Bytes are counted as STREAM counts them (no write-allocate traffic), which is also how the
roofline's 16 bytes per cell-update are counted. The arrays are far larger than the last-level
cache (at least 4 times, and at least 256 MiB each by default), every page is touched before
timing, and each figure is the best of several repeats, as STREAM reports.

NumPy releases the GIL in both kernels, so the probe also runs on several threads at once, each
on its own contiguous slice: one thread shows what a serial backend can hope for, all cores what
the machine can do. The figure the roofline uses is the best of all of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .machine import available_memory_bytes, last_level_cache_bytes, usable_cores

MiB = 1 << 20
#: Default size of each probe array: at least this, and at least CACHE_FACTOR x the LLC.
MIN_ARRAY_BYTES = 256 * MiB
MAX_ARRAY_BYTES = 1024 * MiB
CACHE_FACTOR = 4

#: kernel -> arrays of traffic per element.
KERNELS: dict[str, int] = {"copy": 2, "add": 3}


@dataclass
class Bandwidth:
    """The probe's result. ``bytes_per_s`` is the best figure over kernels and thread counts."""

    bytes_per_s: float
    kernel: str
    threads: int
    array_bytes: int
    repeat: int
    #: kernel -> {threads: best bytes per second}
    by_kernel: dict[str, dict[int, float]] = field(default_factory=dict)
    cache_bytes: int | None = None

    def at_threads(self, threads: int) -> float:
        """Best figure measured with at most ``threads`` threads (the closest count below)."""
        counts = sorted({t for per in self.by_kernel.values() for t in per})
        usable = [t for t in counts if t <= max(threads, 1)] or counts[:1]
        t = usable[-1]
        return max(per[t] for per in self.by_kernel.values() if t in per)

    @property
    def far_larger_than_cache(self) -> bool | None:
        if self.cache_bytes is None:
            return None
        return self.array_bytes >= CACHE_FACTOR * self.cache_bytes

    def describe(self) -> str:
        return (f"{self.bytes_per_s / 1e9:.1f} GB/s (STREAM {self.kernel}, {self.threads} "
                f"thread(s), {self.array_bytes // MiB} MiB arrays, best of {self.repeat})")

    def to_dict(self) -> dict[str, object]:
        return {
            "bytes_per_s": self.bytes_per_s, "kernel": self.kernel, "threads": self.threads,
            "array_bytes": self.array_bytes, "repeat": self.repeat,
            "cache_bytes": self.cache_bytes,
            "method": "STREAM copy (2 arrays of traffic) and add (3 arrays) in NumPy, best of "
                      "repeats, pages touched first; no write-allocate traffic counted",
            "by_kernel": {k: {str(t): bw for t, bw in per.items()}
                          for k, per in self.by_kernel.items()},
        }


def default_array_bytes() -> int:
    """At least 256 MiB and 4 x the LLC, at most 1 GiB and an eighth of the free memory."""
    llc = last_level_cache_bytes() or 0
    size = max(MIN_ARRAY_BYTES, CACHE_FACTOR * llc)
    size = min(size, MAX_ARRAY_BYTES)
    free = available_memory_bytes()
    if free:
        size = min(size, max(free // 8, 16 * MiB))
    return size


def _split(n: int, parts: int) -> list[slice]:
    return [slice(i * n // parts, (i + 1) * n // parts) for i in range(parts)]


def measure_bandwidth(array_bytes: int | None = None, threads: Iterable[int] | None = None,
                      repeat: int = 5, kernels: Iterable[str] = ("copy", "add"),
                      on_tick: Callable[[], None] | None = None) -> Bandwidth:
    """Run the STREAM kernels on arrays of ``array_bytes`` each, with each thread count in
    ``threads`` (default: 1 and every usable core), and return the best figures."""
    if array_bytes is None:
        array_bytes = default_array_bytes()
    counts = sorted(set(threads)) if threads is not None else sorted({1, usable_cores()})
    if not counts or min(counts) < 1:
        raise ValueError(f"thread counts must be >= 1, got {counts}")
    kernels = list(kernels)
    for k in kernels:
        if k not in KERNELS:
            raise ValueError(f"unknown kernel {k!r}; choose from {list(KERNELS)}")
    if repeat < 1:
        raise ValueError("repeat must be >= 1")
    n = max(array_bytes // 8, 1024)
    # np.full writes every page, so no page fault lands in a timed pass.
    a = np.full(n, 1.0)
    b = np.full(n, 2.0)
    c = np.full(n, 0.0) if "add" in kernels else None
    nbytes = a.nbytes

    def copy(s: slice) -> None:
        np.copyto(b[s], a[s])

    def add(s: slice) -> None:
        np.add(a[s], b[s], out=c[s])

    work = {"copy": copy, "add": add}
    by_kernel: dict[str, dict[int, float]] = {k: {} for k in kernels}
    with ThreadPoolExecutor(max_workers=max(counts)) as pool:
        for t in counts:
            chunks = _split(n, t)
            for k in kernels:
                fn = work[k]
                best = 0.0
                for i in range(repeat + 1):  # the first pass is untimed
                    t0 = time.perf_counter()
                    if t == 1:
                        fn(chunks[0])
                    else:
                        list(pool.map(fn, chunks))
                    elapsed = time.perf_counter() - t0
                    if i and elapsed > 0:
                        best = max(best, KERNELS[k] * nbytes / elapsed)
                    if on_tick is not None:
                        on_tick()
                by_kernel[k][t] = best
    kernel, t_best, bw = max(((k, t, bw) for k, per in by_kernel.items()
                              for t, bw in per.items()), key=lambda x: x[2])
    return Bandwidth(bytes_per_s=bw, kernel=kernel, threads=t_best, array_bytes=nbytes,
                     repeat=repeat, by_kernel=by_kernel, cache_bytes=last_level_cache_bytes())


#: Size of each array of the device probe: far beyond any GPU's L2 (tens of MB), small enough
#: for any card.
DEVICE_ARRAY_BYTES = 1024 * MiB


def measure_device_bandwidth(array_bytes: int = DEVICE_ARRAY_BYTES, repeat: int = 10,
                             ) -> Bandwidth | None:
    """The GPU's memory bandwidth: a device-to-device copy (2 arrays of traffic, counted as
    STREAM counts it), best of ``repeat``, timed with CUDA events through CuPy when the ``cupy``
    backend can run, else with the wall clock around a JAX copy on its first GPU; None when
    neither sees a GPU. The figure the GPU backends' roofline uses."""
    from .. import backends

    n = max(array_bytes // 4, 1024)
    if backends.info("cupy").available:
        import cupy as cp

        a = cp.full(n, 1.0, cp.float32)
        b = cp.empty_like(a)
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        best = float("inf")
        for i in range(repeat + 1):  # the first pass is untimed
            start.record()
            b[...] = a
            stop.record()
            stop.synchronize()
            if i:
                best = min(best, cp.cuda.get_elapsed_time(start, stop) / 1e3)
        via = "CuPy copy, CUDA events"
    else:
        try:
            import jax
            import jax.numpy as jnp

            gpus = jax.devices("gpu")
        except Exception:  # no JAX, or no GPU platform in it
            return None
        x = jax.device_put(jnp.ones(n, jnp.float32), gpus[0])
        copy = jax.jit(lambda a: a * 1.5)  # one read, one write: a multiply is never elided
        copy(x).block_until_ready()
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            copy(x).block_until_ready()
            best = min(best, time.perf_counter() - t0)
        via = "JAX copy, wall clock"
    nbytes = 4 * n
    bw = KERNELS["copy"] * nbytes / best
    return Bandwidth(bytes_per_s=bw, kernel=f"device copy ({via})", threads=1,
                     array_bytes=nbytes, repeat=repeat, by_kernel={"copy": {1: bw}})


def probe_ticks(threads: Iterable[int] | None = None, repeat: int = 5,
                kernels: Iterable[str] = ("copy", "add")) -> int:
    """How many times :func:`measure_bandwidth` calls ``on_tick`` (for a progress bar)."""
    counts = set(threads) if threads is not None else {1, usable_cores()}
    return len(counts) * len(list(kernels)) * (repeat + 1)


__all__ = ["Bandwidth", "default_array_bytes", "measure_bandwidth", "measure_device_bandwidth",
           "probe_ticks"]
