#!/usr/bin/env python
"""A sweep's rate against one run of the same cells, interleaved.

    flock /tmp/grayscott-bench.lock python scripts/bench_sweep_rate.py [--repeat 5]

The sweep: N x N members of R x R for STEPS steps (`grayscott.sweep.sweep`, the result kept in
memory, compilation left out as the sweep reports it). The run: one grid with the same cells
(N R x N R), `Simulation(...).advance(STEPS)` on numba-blocked (`grayscott run`'s loop without
the file; compiled and tuned before the clock). Both start from the school's initial state, or
with `--developed S` from a developed pattern (every member from the same state, the run from
those members tiled), since long runs are slower on IEEE CPU backends (subnormal numbers).
The two alternate, `--repeat` times, so load from other processes hits both alike; the ratio of
each round is printed, then the median and the spread.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import grayscott as gs
from grayscott.sweep import sweep


def developed(side: int, steps: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The school's state of one member after ``steps`` steps at (0.035, 0.060) (spots and
    stripes), or None for 0 steps (the school's initial state)."""
    if not steps:
        return None
    sim = gs.Simulation(gs.make_problem((side, side), params=gs.Parameters(F=0.035, k=0.06)),
                        backend="numba")
    sim.advance(steps)
    return sim.state


def run_rate(side: int, steps: int, backend: str,
             state: tuple[np.ndarray, np.ndarray] | None) -> float:
    problem = gs.make_problem((side, side))
    sim = gs.Simulation(problem, backend=backend, state=state)
    sim.backend.compile()
    t0 = time.perf_counter()
    sim.advance(steps)
    sim.backend.get_v()
    return side * side * steps / (time.perf_counter() - t0)


def sweep_rate(n: int, side: int, steps: int, strategy: str | None, feed: tuple[float, float],
               kill: tuple[float, float], state: tuple[np.ndarray, np.ndarray] | None,
               ) -> tuple[float, str]:
    result = sweep(np.linspace(*feed, n), np.linspace(*kill, n), steps, (side, side),
                   backend="numba", strategy=strategy, state=state)
    return n * n * side * side * steps / result.wall_seconds, result.strategy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=8, help="N: N x N members")
    parser.add_argument("--side", type=int, default=128, help="R: members of R x R")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--run-backend", default="numba-blocked")
    parser.add_argument("--strategy", default=None, help="the sweep's (default: its choice)")
    # The notebook's patterned region by default; a wider one holds members that die out,
    # whose V decays through subnormal floats (slow on x86 with IEEE arithmetic).
    parser.add_argument("--feed", default="0.02:0.06", help="F0:F1 of the sweep")
    parser.add_argument("--kill", default="0.05:0.066", help="k0:k1 of the sweep")
    parser.add_argument("--developed", type=int, default=0, metavar="S",
                        help="start every member from the state of one member after S steps "
                             "at (0.035, 0.060), and the run from those members tiled (the "
                             "same values in every cell at the start); 0: the school's state")
    args = parser.parse_args()
    feed = tuple(float(x) for x in args.feed.split(":"))
    kill = tuple(float(x) for x in args.kill.split(":"))
    big = args.members * args.side
    member = developed(args.side, args.developed)
    tiled = None if member is None else tuple(np.tile(x, (args.members, args.members))
                                              for x in member)
    sweep_rate(args.members, args.side, 2, args.strategy, feed, kill, member)  # compile first
    ratios = []
    for i in range(args.repeat):
        run = run_rate(big, args.steps, args.run_backend, tiled)
        swept, how = sweep_rate(args.members, args.side, args.steps, args.strategy, feed, kill,
                                member)
        ratios.append(swept / run)
        print(f"round {i + 1}: sweep {args.members ** 2} x {args.side}^2 ({how}, F {args.feed}, "
              f"k {args.kill}) "
              f"{swept / 1e6:,.0f} Mcell/s, run {big}^2 {args.run_backend} "
              f"{run / 1e6:,.0f} Mcell/s, ratio {ratios[-1]:.3f}", flush=True)
    print(f"sweep/run: median {statistics.median(ratios):.3f}, min {min(ratios):.3f}, "
          f"max {max(ratios):.3f} over {len(ratios)} rounds")


if __name__ == "__main__":
    main()
