"""Exposed halo-exchange time per step on 2 ranks, two source trees interleaved, split into
the wait for a late neighbour and the rest.

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
rank descheduled by other work on the machine does not accrue).

It also wraps the exchange's methods on the instance (``start`` and ``finish``; the older
tree's ``fill``) to note, every step, when each rank enters and leaves them. The ranks share
one clock (``time.perf_counter``, CLOCK_MONOTONIC, on one machine), so after the run every
step's exposed time splits in four (:func:`split`): the **start call** (the border rule and
starting the messages), and three parts of the wait:

* **neighbour late**: the part of the wait before the last neighbour entered the exchange
  (started its messages): no overlap can hide it, the neighbour had not sent;
* **neighbour not waiting**: the part after that, before the last neighbour entered its own
  wait (``finish``): a message that needs the neighbour inside an MPI call to move (a
  rendezvous, or one longer than the MPI's shared-memory cell, sent cell by cell) waits here;
* **transfer**: the rest, both sides inside MPI.

It also gives the **compute spread**: how much longer the slowest rank takes than the fastest
for the steps between two exchanges, per step. The ranks do the same work, so this is the
machine's doing (cores that run the same loop at different speeds); a faster rank waits that
long for its neighbour at some exchange, whatever the exchange does.

The older tree has one call (four blocking ``Sendrecv``): there a rank starts and waits at the
moment it enters ``fill``, so its wait is "neighbour late" or "transfer". The wrappers cost a
Python call, a clock read and an append per call, which the split's times include (the halo
clock's ``halo_s`` does not).

Prints one line per launch and, per tree and layout, the median and range of each (ms per
step: the mean over steps and ranks of the best repeat; the median over every rank's steps of
the exposed time and of its transfer part, µs; the 1-minute load average before the launch),
and the after/before ratios launch by launch. ``--env NAME=VALUE`` runs this tree's launches
with an MPI setting (``--env-before`` the older tree's). On a machine shared with other work,
short runs taken when it is quiet, each under the lock, add up with ``--json`` and
``--summarize``:

    for i in 1 2 3; do flock /tmp/grayscott-bench.lock python scripts/halo_overlap_bench.py \\
        --before /tmp/before/src --rounds 1 --layouts 2x1,1x2 --json r$i.json; done
    python scripts/halo_overlap_bench.py --summarize r1.json r2.json r3.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent / "src"
#: The four clocks of a step on one rank: entering and leaving the call that starts the
#: messages, entering and leaving the wait (the older tree's ``fill``: one moment for the first
#: three, it starts and waits in one call).
EVENTS = ("s0", "s1", "f0", "f1")


def split(me: np.ndarray, neighbours: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per step, one rank's exposed exchange and its parts (seconds), which add up to it.

    ``me`` and each of ``neighbours``: (steps, 4) arrays of the clocks ``EVENTS`` on the one
    shared clock. ``start`` is the call that starts the messages (``s0`` to ``s1``); the wait
    runs from ``f0`` to ``f1``: ``late`` is its part before the last neighbour's ``s0``,
    ``idle`` its part after that and before the last neighbour's ``f0``, ``transfer`` the
    rest (both sides inside MPI)."""
    s0, s1, f0, f1 = me.T
    wait = f1 - f0
    zero = np.zeros_like(wait)
    late = idle = zero
    if neighbours:  # a rank alone waits for nothing but its messages to itself
        sent = np.max([n[:, 0] for n in neighbours], axis=0)
        waiting = np.max([n[:, 2] for n in neighbours], axis=0)
        late = np.clip(sent - f0, 0.0, wait)
        idle = np.clip(np.minimum(waiting, f1) - np.maximum(f0, sent), 0.0, None)
    return {"exposed": (s1 - s0) + wait, "start": s1 - s0, "late": late, "idle": idle,
            "transfer": wait - late - idle}


def spread(clocks: list[np.ndarray]) -> float:
    """Seconds an exchange's worth of compute takes on the slowest rank beyond the fastest
    (means over the exchanges of the time outside the exchange's calls: from leaving one
    exchange to entering the next, plus from starting its messages to waiting for them, where
    a step one line deep computes its interior): the wait for a neighbour that no exchange
    can hide, as the ranks do the same work."""
    compute = [float(np.mean((c[1:, 0] - c[:-1, 3]) + (c[1:, 2] - c[1:, 1])))
               for c in clocks if len(c) > 1]
    return max(compute) - min(compute) if compute else 0.0


def _clock(halo: object) -> list[tuple[float, ...]]:
    """Wrap the exchange's calls on this instance (the stepper looks them up there) to append
    each step's ``EVENTS`` to the list returned."""
    log: list[tuple[float, ...]] = []
    now = time.perf_counter
    if hasattr(halo, "finish"):  # this tree: start, compute the interior, finish
        start, finish = halo.start, halo.finish
        began: list[float] = []

        def timed_start(U: object, V: object) -> None:
            t = now()
            start(U, V)
            began[:] = (t, now())

        def timed_finish() -> None:
            t = now()
            finish()
            log.append((*began, t, now()))

        halo.start, halo.finish = timed_start, timed_finish
    else:  # the older tree: one blocking call
        fill = halo.fill

        def timed_fill(U: object, V: object) -> None:
            t = now()
            fill(U, V)
            log.append((t, t, t, now()))

        halo.fill = timed_fill
    return log


def _neighbours(be: object) -> list[int]:
    """The ranks this rank receives from (not itself)."""
    h, rank = be.halo, be.cart.Get_rank()
    if hasattr(h, "routes"):
        ranks = {source for _, _, source in h.routes}
    else:
        b = be.block
        ranks = {b.north, b.south, b.west, b.east}
    return sorted(r for r in ranks if r != h.null and r != rank)


def launch(src: str, layout: str, args: argparse.Namespace, env: dict[str, str],
           depth: int | None = None) -> dict:
    """One mpiexec; its JSON row, with ``others``: the share of the machine's cores that work
    other than this launch kept busy meanwhile (0: it had the machine to itself)."""
    # Here, not at the top: the children import this file with the older tree, which has
    # no such function.
    from grayscott.bench.machine import busy_cpu_seconds

    mpiexec = Path(sys.executable).parent / "mpiexec"
    bind = ["-bind-to", args.bind_to] if args.bind_to else []
    cmd = [str(mpiexec), *bind, "-n", str(args.ranks), sys.executable, __file__, "--child",
           "--rows", str(args.rows), "--cols", str(args.cols), "--steps", str(args.steps),
           "--repeat", str(args.repeat), "--backend", args.backend, "--layouts", layout,
           "--before", args.before] + (["--depth", str(depth)] if depth else [])
    env = {**os.environ, **env, "PYTHONPATH": src, "GRAYSCOTT_MPI": "1"}
    (busy0, mine0), t0 = busy_cpu_seconds(), time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"halo_overlap_bench: the launch failed (exit {out.returncode}): "
                         f"{_cause(out.stderr)}")
    (busy1, mine1), wall = busy_cpu_seconds(), time.perf_counter() - t0
    others = max(0.0, (busy1 - busy0) - (mine1 - mine0)) / (wall * (os.cpu_count() or 1))
    row = json.loads([ln for ln in out.stdout.splitlines() if ln.startswith("{")][-1])
    return {**row, "others": others}


def _cause(stderr: str) -> str:
    """The telling line of a failed launch: the children's last (a Python error's message),
    else mpiexec's first (its own errors come as a trace, the cause first)."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    own = [ln for ln in lines if not ln.startswith(("[mpiexec@", "[proxy:"))]
    return own[-1] if own else lines[0] if lines else "no message"


def _problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments of a measurement, in one line (None: nothing): found
    here rather than by a launch's traceback."""
    least = {"rounds": 1, "ranks": 1, "rows": 3, "cols": 3, "steps": 1, "repeat": 1,
             "depth": 1, "depth_before": 1}
    for name, low in least.items():
        value = getattr(args, name)
        if value is not None and value < low:
            return f"--{name.replace('_', '-')} must be at least {low}, got {value}"
    for layout in args.layouts.split(","):
        p, x, q = layout.partition("x")
        if not (x and p.isdigit() and q.isdigit() and int(p) * int(q) == args.ranks):
            return f"--layouts: {layout!r} is not RxC with R*C = --ranks ({args.ranks})"
    return None


def child(args: argparse.Namespace) -> None:
    """One measurement under mpiexec, with whichever tree PYTHONPATH names: the attributes it
    reads (``halo.seconds``, ``halo.cpu_seconds``) exist in both. Per repeat, the slowest
    rank's wall time per step, exposed exchange (wall and CPU time of this process in it) and
    compute CPU time, and every rank's clocks; the repeat with the fastest step is kept, as
    ``grayscott bench`` does, and its clocks split (:func:`split`) on rank 0."""
    from mpi4py import MPI

    from grayscott.parallel.distributed import DistributedBackend
    from grayscott.physics import make_initial, make_problem

    comm = MPI.COMM_WORLD
    shape = (args.rows, args.cols)
    p, q = (int(x) for x in args.layouts.split("x"))
    # the older tree has no halo depth: asked for this tree only
    depth = {"depth": args.depth} if args.depth else {}
    be = DistributedBackend(make_problem(shape), args.backend, comm=comm, dims=(p, q), **depth)
    be.set_state(*make_initial("school", shape))
    be.compile()
    be.advance(args.steps // 4)
    log = _clock(be.halo)
    best = None
    for _ in range(args.repeat):
        h0, c0 = be.halo.seconds, be.halo.cpu_seconds
        comm.Barrier()
        log.clear()
        t0, p0 = time.perf_counter(), time.process_time()
        be.advance(args.steps)
        wall, cpu = time.perf_counter() - t0, time.process_time() - p0
        halo, hcpu = be.halo.seconds - h0, be.halo.cpu_seconds - c0
        row = [comm.allreduce(x, op=MPI.MAX) / args.steps
               for x in (wall, halo, hcpu, cpu - hcpu)]
        if best is None or row[0] < best[0]:
            best, clocks = row, np.array(log)
    clocks = be.cart.gather(clocks)
    neighbours = be.cart.gather(_neighbours(be))
    if comm.rank == 0:
        keys = ("step_s", "halo_s", "halo_cpu_s", "compute_cpu_s")
        out = dict(zip(keys, best, strict=True))
        parts = [split(clocks[r], [clocks[n] for n in neighbours[r]])
                 for r in range(len(clocks))]
        # an exchange per `per` steps (a halo `depth` deep): its times, shared by its steps
        per = args.steps / len(clocks[0])
        for key in parts[0]:  # per step: the mean over the ranks of the sum over exchanges
            out[f"{key}_s"] = float(np.mean([x[key].sum() for x in parts])) / args.steps
        for key in ("exposed", "transfer"):  # the typical exchange, robust to a rare long one
            out[f"{key}_median_s"] = float(np.median([x[key] for x in parts])) / per
        out["spread_s"] = spread(clocks) / per
        out["depth"] = getattr(be, "depth", 1)
        print(json.dumps(out), flush=True)


#: What each launch line and the summary print: key, label, unit (1e3: ms, 1e6: µs).
SHOWN = (("halo_s", "exposed, slowest rank (halo clock)", 1e3),
         ("exposed_s", "exposed", 1e3),
         ("exposed_median_s", "exposed per step, median µs", 1e6), ("start_s", "start call", 1e3),
         ("late_s", "neighbour late", 1e3), ("idle_s", "neighbour not waiting", 1e3),
         ("transfer_s", "transfer", 1e3), ("transfer_median_s", "transfer per step, median µs",
                                           1e6),
         ("spread_s", "compute, slowest rank beyond the fastest", 1e3),
         ("halo_cpu_s", "its CPU", 1e3), ("step_s", "step", 1e3),
         ("compute_cpu_s", "compute CPU", 1e3), ("load", "load average", 1),
         ("others", "others' CPU share", 1))


def _environment(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.startswith(("MPIR_CVAR_", "MPICH_", "UCX_")):
            raise SystemExit(f"halo_overlap_bench: --env takes NAME=VALUE of an MPI setting, "
                             f"got {pair!r}")
        env[name] = value
    return env


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def measure(args: argparse.Namespace) -> list[dict]:
    """``--rounds`` rounds; in each, every layout with the older tree then this one."""
    trees = {"before": (args.before, _environment(args.env_before), args.depth_before),
             "after": (str(HERE), _environment(args.env), args.depth)}
    rows = []
    for r in range(args.rounds):
        for layout in args.layouts.split(","):
            for name, (src, env, depth) in trees.items():
                load = os.getloadavg()[0]
                row = {"tree": name, "layout": layout, "ranks": args.ranks,
                       "shape": [args.rows, args.cols], "env": env, "cpu": _cpu(),
                       "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       **launch(src, layout, args, env, depth), "load": load}
                rows.append(row)
                print(f"round {r} {name:<6} {layout}: " + ", ".join(
                    f"{label} {row[key] * unit:.3f}" for key, label, unit in SHOWN), flush=True)
    return rows


def summary(rows: list[dict], max_others: float = 1.0) -> None:
    """Per tree and layout, the median [min, max] over the launches; then the after/before
    ratios launch by launch. A launch pairs with the one of the other tree just before or
    after it; ``max_others`` keeps the pairs whose two launches had the machine to themselves
    but for that share of its cores."""
    pairs = [(b, a) for b, a in zip(rows[::2], rows[1::2], strict=False)
             if (b["tree"], a["tree"]) == ("before", "after") and b["layout"] == a["layout"]]
    kept = [p for p in pairs if max(p[0]["others"], p[1]["others"]) <= max_others]
    if not kept:
        print(f"no pair of launches with others' CPU share <= {max_others}")
        return
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in (r for p in kept for r in p):
        groups.setdefault((row["tree"], row["layout"]), []).append(row)
    first = kept[0][0]
    print(f"\n{first['ranks']} ranks, {first['shape'][0]}x{first['shape'][1]}, {first['cpu']}, "
          f"{first['at']} to {kept[-1][1]['at']}, {len(kept)} of {len(pairs)} pairs of launches "
          f"(others' CPU share <= {max_others}); median [min, max]; ms a step, mean over steps "
          f"and ranks, unless µs")
    for (name, layout), rs in groups.items():
        envs = {json.dumps(r["env"], sort_keys=True) for r in rs}
        parts = []
        for key, label, unit in SHOWN:
            xs = [x[key] * unit for x in rs if key in x]  # rows of older runs may lack one
            if not xs:
                continue
            parts.append(f"{label} {statistics.median(xs):.3f} [{min(xs):.3f}, {max(xs):.3f}]")
        print(f"{name:<6} {layout}, {len(rs)} launches, settings {', '.join(sorted(envs))}: "
              + ", ".join(parts))
    for layout in dict.fromkeys(b["layout"] for b, _ in kept):
        for key in ("exposed_s", "exposed_median_s", "late_s", "transfer_s", "halo_cpu_s"):
            ratios = [a[key] / b[key] for b, a in kept if b["layout"] == layout and b[key]]
            if ratios:
                print(f"{layout}: {key[:-2]} after/before, launch by launch: median "
                      f"{statistics.median(ratios):.3f} [{min(ratios):.3f}, {max(ratios):.3f}]")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", help="src folder of the older tree")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--rows", type=int, default=1080)
    ap.add_argument("--cols", type=int, default=1920)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--backend", default="numba")
    ap.add_argument("--layouts", default="2x1")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="an MPI setting for this tree's launches (repeatable)")
    ap.add_argument("--env-before", action="append", default=[], metavar="NAME=VALUE",
                    help="an MPI setting for the older tree's launches (repeatable)")
    ap.add_argument("--depth", type=int, default=None,
                    help="this tree's halo depth (default: its own choice)")
    ap.add_argument("--depth-before", type=int, default=None,
                    help="the older tree's halo depth, when it has one (with --before src)")
    ap.add_argument("--bind-to", default=None, metavar="UNIT",
                    help="mpiexec's -bind-to (core: each rank kept on one core)")
    ap.add_argument("--json", default=None, help="write every launch's row here")
    ap.add_argument("--summarize", nargs="+", metavar="JSON", default=None,
                    help="measure nothing: the summary of rows that --json wrote (several "
                         "short runs, each under the lock, summed up as one)")
    ap.add_argument("--max-others", type=float, default=1.0,
                    help="summarize only the pairs of launches during which other work kept "
                         "at most this share of the cores busy (0.05: nearly quiet)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return 0
    if args.summarize:
        rows = []
        for f in args.summarize:
            try:
                rows += json.loads(Path(f).read_text())
            except (OSError, ValueError) as exc:  # a file missing, or not what --json wrote
                print(f"halo_overlap_bench: error: --summarize {f}: {exc}", file=sys.stderr)
                return 2
    elif not args.before:
        ap.error("--before is required to measure")
    elif (problem := _problem(args)) is not None:
        print(f"halo_overlap_bench: error: {problem}", file=sys.stderr)
        return 2
    else:
        rows = measure(args)
    if args.json and not args.summarize:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    summary(rows, args.max_others)
    return 0


if __name__ == "__main__":
    sys.exit(main())
