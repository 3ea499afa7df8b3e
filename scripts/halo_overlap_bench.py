"""Exposed halo-exchange time per step on 2 ranks, two source trees interleaved.

The time a step waits for its halo (``halo_s`` of ``python -m grayscott.parallel.bench``: the
border rule, starting the messages and waiting for them), measured with an older tree of the
package and with this one, launch after launch, so that load from elsewhere on a shared machine
falls on both alike. Make the older tree with ``git archive``:

    mkdir -p /tmp/before && git archive COMMIT src | tar -x -C /tmp/before
    flock /tmp/grayscott-bench.lock python scripts/halo_overlap_bench.py \\
        --before /tmp/before/src --rounds 7 --layouts 2x1,1x2

Each launch runs this script under mpiexec (``--child``) with one tree on PYTHONPATH; it times
``DistributedBackend.advance`` and reads the exchange's own clocks (``halo.seconds``: wall
time a step waits in the exchange; ``halo.cpu_seconds``: CPU time of the rank in it, which a
rank descheduled by other work on the machine does not accrue). Prints one line per launch
and, per tree and layout, the median and range of each (ms per step), and the after/before
ratios launch by launch.
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
    cmd = [str(mpiexec), "-n", str(args.ranks), sys.executable, __file__, "--child",
           "--rows", str(args.rows), "--cols", str(args.cols), "--steps", str(args.steps),
           "--repeat", str(args.repeat), "--backend", args.backend, "--layouts", layout,
           "--before", args.before]
    env = {**os.environ, "PYTHONPATH": src, "GRAYSCOTT_MPI": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=True)
    return json.loads([ln for ln in out.stdout.splitlines() if ln.startswith("{")][-1])


def child(args: argparse.Namespace) -> None:
    """One measurement under mpiexec, with whichever tree PYTHONPATH names: the attributes it
    reads (``halo.seconds``, ``halo.cpu_seconds``) exist in both. Per repeat, the slowest
    rank's wall time per step, exposed exchange (wall and CPU time of this process in it) and
    compute CPU time; the repeat with the fastest step is kept, as ``grayscott bench`` does."""
    import time

    from mpi4py import MPI

    from grayscott.parallel.distributed import DistributedBackend
    from grayscott.physics import make_initial, make_problem

    comm = MPI.COMM_WORLD
    shape = (args.rows, args.cols)
    p, q = (int(x) for x in args.layouts.split("x"))
    be = DistributedBackend(make_problem(shape), args.backend, comm=comm, dims=(p, q))
    be.set_state(*make_initial("school", shape))
    be.compile()
    be.advance(args.steps // 4)
    best = None
    for _ in range(args.repeat):
        h0, c0 = be.halo.seconds, be.halo.cpu_seconds
        comm.Barrier()
        t0, p0 = time.perf_counter(), time.process_time()
        be.advance(args.steps)
        wall, cpu = time.perf_counter() - t0, time.process_time() - p0
        halo, hcpu = be.halo.seconds - h0, be.halo.cpu_seconds - c0
        row = [comm.allreduce(x, op=MPI.MAX) / args.steps
               for x in (wall, halo, hcpu, cpu - hcpu)]
        if best is None or row[0] < best[0]:
            best = row
    if comm.rank == 0:
        keys = ("step_s", "halo_s", "halo_cpu_s", "compute_cpu_s")
        print(json.dumps(dict(zip(keys, best, strict=True))), flush=True)


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
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return 0
    trees = {"before": args.before, "after": str(HERE)}
    rows: dict[tuple[str, str], list[dict]] = {}
    for r in range(args.rounds):
        for layout in args.layouts.split(","):
            for name, src in trees.items():
                row = launch(src, layout, args)
                rows.setdefault((name, layout), []).append(row)
                print(f"round {r} {name:<6} {layout}: exposed exchange "
                      f"{row['halo_s'] * 1e3:.3f} ms (CPU {row['halo_cpu_s'] * 1e3:.3f}), "
                      f"step {row['step_s'] * 1e3:.3f} ms, compute CPU "
                      f"{row['compute_cpu_s'] * 1e3:.3f} ms", flush=True)
    print(f"\n{args.ranks} ranks, {args.rows}x{args.cols}, {args.backend}, {args.steps} steps x "
          f"best of {args.repeat}, {args.rounds} launches each (median [min, max], ms/step)")
    for (name, layout), rs in rows.items():
        parts = []
        for key in ("halo_s", "halo_cpu_s", "step_s", "compute_cpu_s"):
            xs = [x[key] * 1e3 for x in rs]
            parts.append(f"{key[:-2]} {statistics.median(xs):.3f} [{min(xs):.3f}, {max(xs):.3f}]")
        print(f"{name:<6} {layout}: " + ", ".join(parts))
    for layout in args.layouts.split(","):
        for key in ("halo_s", "halo_cpu_s"):
            ratios = [a[key] / b[key] for a, b in
                      zip(rows["after", layout], rows["before", layout], strict=True)]
            print(f"{layout}: {key[:-2]} after/before, launch by launch: median "
                  f"{statistics.median(ratios):.3f} [{min(ratios):.3f}, {max(ratios):.3f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
