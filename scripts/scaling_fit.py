"""Fit the constants of the MPI scaling model (grayscott.parallel.model) on this machine.

Launches ``python -m grayscott.parallel.bench`` (what ``grayscott bench --ranks`` runs) on 1 and
2 ranks, ``--rounds`` times, and fits per round:

* ``rate``: a rank's cell-updates per second of compute CPU time, against its block's size
  (the blocks of 1 and 2 ranks on three grids);
* ``overhead`` and ``bandwidth``: a straight line through the exchange alone (no compute
  between) against the bytes a rank sends, 2 ranks as 2x1 on 64 rows and a sweep of columns;
* ``write``: bytes per second a rank writes its block of a frame into its own part file
  (flushed), 2 ranks on the school's grid; and rank 0 writing the whole frame alone.

Prints each constant's median and range over the rounds, as Markdown, and the JSON of all rows
with ``--json``; each round also notes the 1-minute load average when it began and the share of
the machine's cores that other work kept busy while it ran (``others``: 0, it had the machine
to itself). Run it under the benchmark lock:

    flock /tmp/grayscott-bench.lock python scripts/scaling_fit.py --rounds 3

On a machine shared with other work, rounds taken one at a time when it is quiet add up:

    for i in 1 2 3; do flock /tmp/grayscott-bench.lock python scripts/scaling_fit.py \\
        --rounds 1 --json fit$i.json; done
    python scripts/scaling_fit.py --combine fit1.json fit2.json fit3.json --max-others 0.05
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from grayscott.bench.machine import busy_cpu_seconds
from grayscott.parallel.bench import launch

GRIDS = ((540, 960), (1080, 1920), (2160, 3840))
SWEEP = (256, 2048, 16384, 131072)


def one(ranks: int, rows: int, cols: int, steps: int, dims: str | None = None) -> dict[str, Any]:
    args = ["--backend", "numba", "--rows", str(rows), "--cols", str(cols), "--steps",
            str(steps), "--repeat", "3"]
    return launch(ranks, args + (["--dims", dims] if dims else []))


def round_(steps: int) -> tuple[dict[str, float], list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    out: dict[str, float] = {"load": os.getloadavg()[0]}
    (busy0, mine0), t0 = busy_cpu_seconds(), time.perf_counter()
    for r, c in GRIDS:
        for k in (1, 2):
            row = one(k, r, c, steps if r * c <= 2e6 else steps // 4)
            rows.append(row)
            cells = r * c / k
            out[f"rate {int(cells)}"] = cells / row["compute_cpu_s"]
            if k == 2 and (r, c) == (1080, 1920):
                out["write per rank"] = row["block_bytes"] / row["write_s"]
                out["write rank 0 alone"] = r * c * 4 / row["root_write_s"]
                out["gather"] = r * c * 4 / row["gather_s"]
    xs, ys = [], []
    for c in SWEEP:
        row = one(2, 64, c, 400 if c <= 16384 else 100, "2x1")
        rows.append(row)
        xs.append(row["halo_bytes"])
        ys.append(row["exchange_s"])
    b, a = np.polyfit(xs, ys, 1)  # least squares: exchange = a + b * bytes
    out["overhead"], out["bandwidth"] = a, 1 / b
    (busy1, mine1), wall = busy_cpu_seconds(), time.perf_counter() - t0
    out["others"] = max(0.0, (busy1 - busy0) - (mine1 - mine0)) / (wall * (os.cpu_count() or 1))
    return out, rows


def table(fits: list[dict[str, float]]) -> str:
    """Each constant's median and range over the rounds, as Markdown."""
    out = ["| constant | median | range | rounds |", "|---|---|---|---|"]
    for key in fits[0]:
        xs = [f[key] for f in fits]
        out.append(f"| {key} | {statistics.median(xs):.4g} | {min(xs):.4g} – {max(xs):.4g} | "
                   f"{len(xs)} |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--json", default=None)
    ap.add_argument("--combine", nargs="+", metavar="JSON", default=None,
                    help="measure nothing: the table of the rounds that --json wrote")
    ap.add_argument("--max-others", type=float, default=1.0,
                    help="with --combine, only the rounds during which other work kept at "
                         "most this share of the cores busy")
    args = ap.parse_args()
    if args.combine:
        fits = [f for path in args.combine for f in json.loads(Path(path).read_text())["fits"]]
        kept = [f for f in fits if f["others"] <= args.max_others]
        print(f"{len(kept)} of {len(fits)} rounds (others' CPU share <= {args.max_others})")
        if kept:
            print(table(kept))
        return 0
    fits, everything = [], []
    for i in range(args.rounds):
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        out, rows = round_(args.steps)
        fits.append(out)
        everything += rows
        print(f"round {i} at {at}: " + ", ".join(f"{k} {v:.4g}" for k, v in out.items()),
              flush=True)
    print("\n" + table(fits))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"fits": fits, "rows": everything}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
