#!/usr/bin/env python
"""`grayscott run` end to end: the next block computed while the frame is written, or not.

    flock /tmp/gs-bench.lock python scripts/run_overlap_bench.py [--rounds 3] [--frames 60]

Runs the school's default problem (1080 x 1920 float32, frames of 32 steps, the default
checkpoint every 10 frames, files in a temporary folder) through `grayscott.run`: with the
default observers (the worker thread computes block i + 1 while frame i is written) and with
one extra observer that says it uses the backend in its ``frame`` hook (the driver then runs
the plain loop), for each backend and ``subnormals`` mode given, interleaved round by round.
Prints the run's own rate (cell-updates per second over its wall time, as its summary says).
"""

from __future__ import annotations

import argparse
import statistics as st
import tempfile
from pathlib import Path

import grayscott as gs
from grayscott.observers import Observer


class UsesBackend(Observer):
    """Does nothing, but declares it may use the backend: the plain loop."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--backends", default="numba-blocked,numba-parallel")
    ap.add_argument("--modes", default="keep,flush")
    args = ap.parse_args()
    problem = gs.make_problem((1080, 1920))
    cases = [(b, m, loop) for b in args.backends.split(",") for m in args.modes.split(",")
             for loop in ("plain", "threaded")]
    rates: dict[tuple[str, str, str], list[float]] = {c: [] for c in cases}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds + 1):  # round 0: compile and tune, untimed
            for b, m, loop in cases:
                result = gs.run(problem, Path(tmp) / "run.h5", nbimage=args.frames,
                                nbextrastep=32, backend=b, progress=False, overwrite=True,
                                backend_options={"subnormals": m},
                                observers=[UsesBackend()] if loop == "plain" else [])
                if r:
                    rates[(b, m, loop)].append(result.cell_steps_per_second)
    print(f"1080x1920 float32, {args.frames} frames x 32 steps, checkpoint every 10 frames, "
          f"median of {args.rounds} interleaved rounds, Mcell-updates/s (run's wall time)")
    for b in args.backends.split(","):
        for m in args.modes.split(","):
            plain = rates[(b, m, "plain")]
            threaded = rates[(b, m, "threaded")]
            ratio = st.median(t / p for t, p in zip(threaded, plain, strict=True))
            print(f"  {b:15s} subnormals={m:5s} plain {st.median(plain) / 1e6:6.0f}  "
                  f"threaded {st.median(threaded) / 1e6:6.0f}  x{ratio:.2f}")


if __name__ == "__main__":
    main()
