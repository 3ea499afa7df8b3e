"""Spot count of presets over time: do "spots that do not divide" stay few?

    python scripts/preset_spots.py solitons pulsating-solitons --size 256 --steps 10000
    python scripts/preset_spots.py --rates 0.030,0.064 0.025,0.063 --size 256

Runs each preset (its F, k and initial state; or the given F,k from the school's box) on a
size x size grid and prints the number of spots (connected regions of V > 0.2, 8-connected,
scipy.ndimage.label) every --every steps. A spot that divides shows as a count that grows.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import ndimage

import grayscott as gs
from grayscott.physics.presets import get_preset

THRESHOLD = 0.2


def spots(v: np.ndarray) -> int:
    return int(ndimage.label(v > THRESHOLD, structure=np.ones((3, 3)))[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("presets", nargs="*")
    ap.add_argument("--rates", nargs="*", default=[], metavar="F,k")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--every", type=int, default=1000)
    ap.add_argument("-b", "--backend", default="numba")
    args = ap.parse_args()
    runs = [(p, get_preset(p).F, get_preset(p).k, get_preset(p).initial) for p in args.presets]
    runs += [(r, *map(float, r.split(",")), "school") for r in args.rates]
    marks = list(range(args.every, args.steps + 1, args.every))
    print(f"{'run':<24} {'F':>6} {'k':>6}  spots after " + " ".join(f"{s:>6}" for s in marks))
    for name, F, k, initial in runs:
        problem = gs.make_problem((args.size, args.size), params=gs.Parameters(F=F, k=k))
        sim = gs.Simulation(problem, backend=args.backend, initial=initial)
        counts = []
        for _ in marks:
            sim.advance(args.every)
            counts.append(spots(sim.state[1]))
        print(f"{name:<24} {F:>6.4g} {k:>6.4g}  {'':12}" + " ".join(f"{c:>6}" for c in counts),
              flush=True)


if __name__ == "__main__":
    main()
