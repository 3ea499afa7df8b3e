#!/usr/bin/env python
"""What subnormal arithmetic costs long runs, and what ``subnormals="flush"`` buys back.

    flock /tmp/gs-bench.lock python scripts/subnormal_bench.py [--repeat 5] [--steps 64]

The school's problem and initial state at 1080x1920 float32. The reference state is advanced
once, IEEE (``numba-blocked``), to each point (0, 1,000, 10,000 steps) and reused: from it each
round times ``--steps`` steps of ``numba-parallel`` and ``numba-blocked`` (default k), keep then
flush, and of ``jax-3x3`` (XLA flushes subnormals on the CPU already; no option), one call
each, interleaved so that load from other processes hits them alike; the median of the rounds
is printed. Also printed: how many V cells are subnormal at each point, and how many are small
enough that ``v * v`` is (the front that makes the arithmetic slow).
"""

from __future__ import annotations

import argparse
import statistics as st
import time

import numpy as np

from grayscott import backends
from grayscott.physics import make_initial, make_problem

SHAPE = (1080, 1920)
POINTS = (0, 1000, 10000)
#: (label, backend, options)
CASES = [("numba-parallel keep", "numba-parallel", {}),
         ("numba-parallel flush", "numba-parallel", {"subnormals": "flush"}),
         ("numba-blocked keep", "numba-blocked", {}),
         ("numba-blocked flush", "numba-blocked", {"subnormals": "flush"}),
         ("jax-3x3 (flushes)", "jax-3x3", {})]


def timed(b, u, v, steps: int) -> float:
    """Cell-updates per second of ``steps`` steps from (u, v)."""
    b.set_state(u, v)
    b.synchronize()
    t0 = time.perf_counter()
    b.advance(steps)
    b.synchronize()
    return SHAPE[0] * SHAPE[1] * steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--steps", type=int, default=64)
    args = ap.parse_args()
    problem = make_problem(SHAPE, dtype="float32")
    cases = [(label, backends.create(name, problem, **opts)) for label, name, opts in CASES
             if backends.info(name).available]
    u0, v0 = make_initial("school", SHAPE)
    for _, b in cases:  # compile (or load) and warm up, off the clock
        b.set_state(u0, v0)
        b.compile()
        timed(b, u0, v0, 2)
    ref = backends.create("numba-blocked", problem)
    ref.set_state(u0, v0)
    tiny = float(np.finfo(np.float32).tiny)
    print(f"{SHAPE[0]}x{SHAPE[1]} float32, {args.steps} steps per call, median of "
          f"{args.repeat} interleaved rounds, Mcell-updates/s; threads: "
          f"{cases[0][1].threads}; backends: "
          + ", ".join(f"{label.split()[0]} [{b.describe()}]" for label, b in cases[::2]))
    done = 0
    for point in POINTS:
        ref.advance(point - done)
        done = point
        u, v = ref.get_state()
        n_sub = int(((v != 0) & (np.abs(v) < tiny)).sum())
        n_sq = int(((v != 0) & (np.abs(v) < np.sqrt(tiny))).sum())
        rates: dict[str, list[float]] = {label: [] for label, _ in cases}
        for _ in range(args.repeat):
            for label, b in cases:
                rates[label].append(timed(b, u, v, args.steps))
        med = {label: st.median(r) / 1e6 for label, r in rates.items()}
        print(f"after {point:>6,} steps: V subnormal in {n_sub:>9,} cells, v*v subnormal "
              f"in {n_sq:>9,} of {v.size:,}")
        for label, _ in cases:
            lo, hi = min(rates[label]) / 1e6, max(rates[label]) / 1e6
            gain = ""
            if label.endswith("flush"):
                gain = f"  flush/keep x{med[label] / med[label.replace('flush', 'keep')]:.2f}"
            print(f"    {label:<22} {med[label]:>7.0f}  (range {lo:.0f}-{hi:.0f}){gain}")


if __name__ == "__main__":
    main()
