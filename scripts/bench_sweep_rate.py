#!/usr/bin/env python
"""A sweep's rate against one run of the same cells, interleaved.

    flock /tmp/grayscott-bench.lock python scripts/bench_sweep_rate.py [--repeat 5]

The sweep: N x N members of R x R for STEPS steps (`grayscott.sweep.sweep`, the result kept in
memory, compilation left out as the sweep reports it). The run: one grid with the same cells
(N R x N R), `Simulation(...).advance(STEPS)` on numba-blocked (`grayscott run`'s loop without
the file; compiled and tuned before the clock). The two alternate, `--repeat` times, so load
from other processes hits both alike; the ratio of each round is printed, then the median and
the spread.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import grayscott as gs
from grayscott.sweep import sweep


def run_rate(side: int, steps: int, backend: str) -> float:
    problem = gs.make_problem((side, side))
    sim = gs.Simulation(problem, backend=backend)
    sim.backend.compile()
    t0 = time.perf_counter()
    sim.advance(steps)
    sim.backend.get_v()
    return side * side * steps / (time.perf_counter() - t0)


def sweep_rate(n: int, side: int, steps: int, strategy: str | None) -> tuple[float, str]:
    result = sweep(np.linspace(0.01, 0.07, n), np.linspace(0.045, 0.07, n), steps,
                   (side, side), backend="numba", strategy=strategy)
    return n * n * side * side * steps / result.wall_seconds, result.strategy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=8, help="N: N x N members")
    parser.add_argument("--side", type=int, default=128, help="R: members of R x R")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--run-backend", default="numba-blocked")
    parser.add_argument("--strategy", default=None, help="the sweep's (default: its choice)")
    args = parser.parse_args()
    big = args.members * args.side
    sweep_rate(args.members, args.side, 2, args.strategy)  # compile outside the rounds
    ratios = []
    for i in range(args.repeat):
        run = run_rate(big, args.steps, args.run_backend)
        swept, how = sweep_rate(args.members, args.side, args.steps, args.strategy)
        ratios.append(swept / run)
        print(f"round {i + 1}: sweep {args.members ** 2} x {args.side}^2 ({how}) "
              f"{swept / 1e6:,.0f} Mcell/s, run {big}^2 {args.run_backend} "
              f"{run / 1e6:,.0f} Mcell/s, ratio {ratios[-1]:.3f}", flush=True)
    print(f"sweep/run: median {statistics.median(ratios):.3f}, min {min(ratios):.3f}, "
          f"max {max(ratios):.3f} over {len(ratios)} rounds")


if __name__ == "__main__":
    main()
