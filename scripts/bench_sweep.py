#!/usr/bin/env python
"""Batched (F, k) sweep vs the same runs one after the other.

    flock /tmp/gs-bench.lock python scripts/bench_sweep.py [--repeat 3]

For each grid: the sweep of N x M members in one batched program, and the same members as
single runs one after the other (`Simulation(...).advance(steps)`, i.e. `grayscott run`'s
loop without the file), on the same backend family. Compilation is left out of both; the two
are timed alternately, best of --repeat, so load from other processes hits both alike.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import grayscott as gs
from grayscott import backends
from grayscott.sweep import core, planning

CASES = [  # (shape, feeds, kills, steps)
    ((64, 64), 4, 4, 2000),
    ((1080, 1920), 2, 2, 40),
]


def sequential(pairs, shape, steps, backend):
    state = gs.make_initial("school", shape)
    sims = []
    for f, k in pairs:  # built and compiled outside the clock
        sim = gs.Simulation(gs.make_problem(shape, params=gs.Parameters(F=f, k=k)),
                            backend=backend, state=state)
        sim.backend.compile()
        sims.append(sim)
    t0 = time.perf_counter()
    out = []
    for sim in sims:
        sim.advance(steps)
        out.append(sim.backend.get_v())  # waits for an asynchronous backend
    return time.perf_counter() - t0, np.stack(out)


def batched(pairs, shape, steps, backend, strategy=None):
    problem = gs.make_problem(shape)
    state = gs.make_initial("school", shape)
    piece = core._make_piece(backend, *state, pairs, problem, strategy)
    piece.advance(0)
    piece.sync()
    t0 = time.perf_counter()
    piece.advance(steps)
    v = piece.v()
    return time.perf_counter() - t0, v, piece.how


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # numba-parallel is what `grayscott run` uses by default; numba (one thread, no barrier
    # per step) is the fairest single run for a batch that gives each thread whole members.
    families = [("numba-parallel", "numba"), ("numba", "numba"), ("jax", "jax")]
    for shape, nf, nk, steps in CASES:
        pairs = [(f, k) for f in np.linspace(0.02, 0.06, nf) for k in np.linspace(0.055, 0.065,
                                                                                  nk)]
        cells = len(pairs) * shape[0] * shape[1] * steps
        for single, batch in families:
            if single not in backends.available():
                continue
            strategies = [None, *planning.STRATEGIES[batch]]
            best_seq = float("inf")
            best_batch = {s: float("inf") for s in strategies}
            how = {}
            for _ in range(args.repeat):
                t, vs = sequential(pairs, shape, steps, single)
                best_seq = min(best_seq, t)
                for s in strategies:
                    t, vb, how[s] = batched(pairs, shape, steps, batch, s)
                    best_batch[s] = min(best_batch[s], t)
                    same = "bit-equal" if np.array_equal(vs, vb) else \
                        f"max diff {np.abs(vs - vb).max():.1e}"
            print(f"{shape[0]}x{shape[1]}, {len(pairs)} members x {steps} steps: "
                  f"sequential {single} {best_seq:.3f} s "
                  f"({cells / best_seq / 1e6:.0f} Mcell/s)")
            for s in strategies:
                print(f"    batched {batch} ({how[s]}{', auto' if s is None else ''}): "
                      f"{best_batch[s]:.3f} s ({cells / best_batch[s] / 1e6:.0f} Mcell/s), "
                      f"x{best_seq / best_batch[s]:.2f} vs sequential; {same}")


if __name__ == "__main__":
    main()
