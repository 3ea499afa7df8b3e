#!/usr/bin/env python
"""Make docs/presets.png: every preset after 10,000 steps on 256 x 256, from its suggested
initial state (two batched runs, one per initial state). About a minute on 2 cores.

    python scripts/presets_gallery.py [docs/presets.png]
"""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from PIL import Image

from grayscott.physics.presets import PRESETS
from grayscott.sweep import run_rates

STEPS, SIZE, COLS = 10000, 256, 6


def main(path: str = "docs/presets.png") -> None:
    names = list(PRESETS)
    pictures = {}
    for initial in ("school", "noise"):
        chosen = [n for n in names if PRESETS[n].initial == initial]
        v = run_rates([(PRESETS[n].F, PRESETS[n].k) for n in chosen], STEPS, (SIZE, SIZE),
                      initial=initial, seed=1)
        pictures.update(zip(chosen, v, strict=True))
    rows = -(-len(names) // COLS)
    fig, axes = plt.subplots(rows, COLS, figsize=(2.2 * COLS, 2.6 * rows))
    for ax in axes.flat:
        ax.axis("off")
    for ax, name in zip(axes.flat, names, strict=False):  # more axes than names
        p, x = PRESETS[name], pictures[name]
        ax.imshow(x, cmap="inferno", vmin=0, vmax=max(float(x.max()), 1e-3))
        ax.set_title(f"{name}\nF={p.F:g} k={p.k:g} ({p.initial})", fontsize=8)
    fig.suptitle(f"grayscott presets: V after {STEPS} steps on {SIZE} x {SIZE}, school stencil "
                 "and border", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=64)
    # A palette image: a quarter of the size, no visible difference.
    Image.open(path).convert("RGB").quantize(colors=128).save(path, optimize=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
