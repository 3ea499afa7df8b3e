"""Two copies of one block's computation, started together with nothing between them: how far
apart do two cores of this machine run the same loop?

Each copy is a process that steps one rank's block of a 2-rank MPI run (``--rows`` x
``--cols``, numba, float32; default: half of 1080 x 1920 plus the rows a 4-line halo adds)
for ``--chunks`` chunks of ``--steps`` steps, and prints its µs a step per chunk. Without
MPI there is no exchange and no wait: a difference between the copies is the machine's (other
work on a core, the memory they share), and in an MPI run the faster rank would wait for it.

    python scripts/twin_blocks.py
    python scripts/twin_blocks.py --bind      # copy i kept on core i (os.sched_setaffinity)

Prints each copy's chunks and median, the slower copy's median over the faster's, and the same
ratio chunk by chunk (the copies run their chunks side by side).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def child(args: argparse.Namespace) -> None:
    from grayscott import backends
    from grayscott.physics import make_initial, make_problem

    if args.core is not None:
        os.sched_setaffinity(0, {args.core})
    shape = (args.rows, args.cols)
    be = backends.create("numba", make_problem(shape))
    be.set_state(*make_initial("school", shape))
    be.compile()
    be.advance(args.steps // 5)
    print("ready", flush=True)
    sys.stdin.readline()  # both copies start at the parent's word
    ms = []
    for _ in range(args.chunks):
        t = time.perf_counter()
        be.advance(args.steps)
        ms.append((time.perf_counter() - t) / args.steps * 1e3)
    print(json.dumps(ms), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=543)
    ap.add_argument("--cols", type=int, default=1920)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--chunks", type=int, default=10)
    ap.add_argument("--bind", action="store_true", help="keep copy i on core i")
    ap.add_argument("--core", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return 0
    for name, low in (("rows", 3), ("cols", 3), ("steps", 1), ("chunks", 1)):
        if getattr(args, name) < low:
            print(f"twin_blocks: error: --{name} must be at least {low}, got "
                  f"{getattr(args, name)}", file=sys.stderr)
            return 2
    copies, cores = [], sorted(os.sched_getaffinity(0))
    for i in range(2):
        cmd = [sys.executable, __file__, "--child", "--rows", str(args.rows), "--cols",
               str(args.cols), "--steps", str(args.steps), "--chunks", str(args.chunks)]
        if args.bind:
            cmd += ["--core", str(cores[i % len(cores)])]
        copies.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       text=True))
    for p in copies:  # both compiled and warm before either starts timing
        if p.stdout.readline().strip() != "ready":
            for q in copies:  # the other one would time its chunks for nobody
                q.kill()
            raise SystemExit("twin_blocks: a copy failed to start")
    for p in copies:
        p.stdin.write("go\n")
        p.stdin.flush()
    chunks = []
    for i, p in enumerate(copies):
        chunks.append(json.loads(p.stdout.readline()))
        p.wait()
        print(f"copy {i}: " + " ".join(f"{x * 1e3:.2f}" for x in chunks[-1])
              + f"  median {statistics.median(chunks[-1]) * 1e3:.2f} µs a step")
    medians = [statistics.median(ms) for ms in chunks]
    # the copies run their chunks side by side (same steps, started together)
    gaps = [max(a, b) / min(a, b) for a, b in zip(*chunks, strict=True)]
    print(f"slower over faster: medians {max(medians) / min(medians):.3f}; chunk by chunk "
          f"median {statistics.median(gaps):.3f}, largest {max(gaps):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
