"""The video of the school's default run, docs/reference.mp4, checked against its manifest.

    flock /tmp/grayscott-bench.lock python scripts/make_reference_video.py

Runs the default configuration in memory (1000 frames x 32 steps of 1080x1920, float32) on the
default IEEE backend, stops if any frame's SHA-256 is not the shipped manifest's, and renders
every STRIDE-th frame at a third of the resolution (3x3 cells averaged: 640x360, a few MB) on one
colour scale, 0 to the largest V of the whole run (from the manifest), so the growth shows.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from grayscott.physics import make_problem
from grayscott.reference.manifest import Manifest, data_dir, digest
from grayscott.simulation import Simulation
from grayscott.views import render

OUT = Path(__file__).resolve().parents[1] / "docs" / "reference.mp4"


def frames(manifest: Manifest, stride: int, shrink: int,
           backend: str | None) -> Iterator[np.ndarray]:
    c = manifest.config
    sim = Simulation(make_problem((c["nbrow"], c["nbcol"])), backend=backend)
    start, reached = time.perf_counter(), False
    for i in range(manifest.frames):
        sim.advance(c["nbextrastep"])
        v = sim.backend.get_v().astype(np.float32)
        if digest(v) != manifest.sha256[i]:
            sys.exit(f"frame {i} is not the manifest's; no video written")
        if not reached:  # while U = 1 and V = 0 on the two outer rings, no border rule
            u = sim.backend.get_state()[0]  # changes a bit (the periodic run is this one)
            ring = np.ones(v.shape, bool)
            ring[2:-2, 2:-2] = False
            if v[ring].any() or (u[ring] != 1).any():
                reached = True
                print(f"  frame {i}: U != 1 or V != 0 within 2 cells of the border", flush=True)
        if i % stride == 0:
            r, k = v.shape
            yield v.reshape(r // shrink, shrink, k // shrink, shrink).mean(axis=(1, 3))
        if i % 100 == 99:
            print(f"  frame {i + 1}, {time.perf_counter() - start:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stride", type=int, default=4, help="every STRIDE-th frame")
    parser.add_argument("--shrink", type=int, default=3, help="average SHRINK x SHRINK cells")
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("-b", "--backend", default=None)
    args = parser.parse_args()
    manifest = Manifest.from_json((data_dir() / "school.json").read_text())
    t0 = time.perf_counter()
    result = render(frames(manifest, args.stride, args.shrink, args.backend), OUT, vmin=0.0,
                    vmax=max(manifest.stats["max"]), fps=args.fps, overwrite=True,
                    progress=False)
    print(f"{OUT}: {result.frames} frames, {OUT.stat().st_size / 1e6:.1f} MB, every frame of "
          f"the run matched its manifest, {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
