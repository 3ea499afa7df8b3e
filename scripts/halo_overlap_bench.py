"""Exposed halo-exchange time per step on 2 ranks, two source trees interleaved.

The time a step waits for its halo (``halo_s`` of ``python -m grayscott.parallel.bench``: the
border rule, starting the messages and waiting for them), measured with an older tree of the
package and with this one, launch after launch, so that load from elsewhere on a shared machine
falls on both alike. Make the older tree with ``git archive``:

    mkdir -p /tmp/before && git archive COMMIT src | tar -x -C /tmp/before
    flock /tmp/grayscott-bench.lock python scripts/halo_overlap_bench.py \\
        --before /tmp/before/src --rounds 7 --layouts 2x1,1x2

Prints one line per launch and, per tree and layout, the median and range of the exposed
exchange time, the step time and the compute CPU time (ms per step).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "src"


def launch(src: str, layout: str, args: argparse.Namespace) -> dict:
    mpiexec = Path(sys.executable).parent / "mpiexec"
    cmd = [str(mpiexec), "-n", str(args.ranks), sys.executable, "-m", "grayscott.parallel.bench",
           "--rows", str(args.rows), "--cols", str(args.cols), "--steps", str(args.steps),
           "--repeat", str(args.repeat), "--backend", args.backend, "--dims", layout]
    env = {**os.environ, "PYTHONPATH": src, "GRAYSCOTT_MPI": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=True)
    return json.loads([ln for ln in out.stdout.splitlines() if ln.startswith("{")][-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", required=True, help="src folder of the older tree")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--rows", type=int, default=1080)
    ap.add_argument("--cols", type=int, default=1920)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--backend", default="numba")
    ap.add_argument("--layouts", default="2x1")
    args = ap.parse_args()
    trees = {"before": args.before, "after": str(HERE)}
    rows: dict[tuple[str, str], list[dict]] = {}
    for r in range(args.rounds):
        for layout in args.layouts.split(","):
            for name, src in trees.items():
                row = launch(src, layout, args)
                rows.setdefault((name, layout), []).append(row)
                print(f"round {r} {name:<6} {layout}: halo {row['halo_s'] * 1e3:.3f} ms, step "
                      f"{row['step_s'] * 1e3:.3f} ms, compute CPU "
                      f"{row['compute_cpu_s'] * 1e3:.3f} ms", flush=True)
    print(f"\n{args.ranks} ranks, {args.rows}x{args.cols}, {args.backend}, {args.steps} steps x "
          f"best of {args.repeat}, {args.rounds} launches each (median [min, max], ms/step)")
    for (name, layout), rs in rows.items():
        parts = []
        for key in ("halo_s", "step_s", "compute_cpu_s"):
            xs = [x[key] * 1e3 for x in rs]
            parts.append(f"{key[:-2]} {statistics.median(xs):.3f} [{min(xs):.3f}, {max(xs):.3f}]")
        print(f"{name:<6} {layout}: " + ", ".join(parts))
    for layout in args.layouts.split(","):
        ratios = [a["halo_s"] / b["halo_s"] for a, b in
                  zip(rows["after", layout], rows["before", layout], strict=True)]
        print(f"{layout}: exposed exchange after/before, launch by launch: median "
              f"{statistics.median(ratios):.3f} [{min(ratios):.3f}, {max(ratios):.3f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
