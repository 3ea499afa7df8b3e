"""How far the backends that are not bit for bit drift from the IEEE reference, frame by frame.

    python scripts/reference_drift.py                 # the small reference's grid, 100 frames
    python scripts/reference_drift.py -r 256 -c 256 -n 200 --every 20

Runs the school's configuration in memory on ``numba`` (IEEE, the reference's bits) and, beside
it, on ``jax-3x3``, ``jax``, ``numba`` with subnormals flushed and ``numpy``, and prints the
largest |difference| of V from the reference every few frames (docs/reference-runs.md).
"""

from __future__ import annotations

import argparse

import numpy as np

from grayscott.physics import make_problem
from grayscott.simulation import Simulation

OTHERS = {"jax-3x3": ("jax-3x3", {}), "jax": ("jax", {}),
          "numba --flush-subnormals": ("numba", {"subnormals": "flush"}),
          "numpy": ("numpy", {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--nbrow", type=int, default=128)
    parser.add_argument("-c", "--nbcol", type=int, default=128)
    parser.add_argument("-n", "--nbimage", type=int, default=100)
    parser.add_argument("-e", "--nbextrastep", type=int, default=32)
    parser.add_argument("--every", type=int, default=10, help="print every N frames")
    args = parser.parse_args()
    problem = make_problem((args.nbrow, args.nbcol))
    reference = Simulation(problem, backend="numba")
    others = {label: Simulation(problem, backend=name, options=options)
              for label, (name, options) in OTHERS.items()}
    print("| frame | " + " | ".join(f"`{label}`" for label in others) + " |")
    print("| ---: |" + " ---: |" * len(others))
    for i in range(args.nbimage):
        reference.advance(args.nbextrastep)
        ref = reference.backend.get_v().astype(np.float64)
        row = []
        for sim in others.values():
            sim.advance(args.nbextrastep)
            row.append(float(np.abs(sim.backend.get_v().astype(np.float64) - ref).max()))
        if i % args.every == 0 or i == args.nbimage - 1:
            print(f"| {i} | " + " | ".join(f"{d:.1e}" if d else "0" for d in row) + " |",
                  flush=True)


if __name__ == "__main__":
    main()
