"""Random configurations of the deep-halo MPI steppers against one process, byte for byte.

Run under ``mpiexec -n N``; every rank draws the same configurations from ``--seed``:
grid shapes down to blocks of 3 lines, every layout of N ranks that fits (2-D ones more
often: their corners come from diagonal neighbours), every depth from 1 to the thinnest
block, advance() calls of 1, depth-1, depth, depth+1 and prime step counts, every border,
stencil (and lopsided 3x3 ones), dtype and initial state, ``numba`` and ``numba-parallel`` (1 or 2
threads), with get_v, get_state, set_state of the gathered state, all_finite, a lone
exchange and compile() between the calls. Rank 0 compares U and V with the one-process
``numba`` run after the same calls and prints one line per mismatch, then ``ok <count>``;
exits 1 on a mismatch.

    mpiexec -n 3 python tests/mpi_sweep.py --cases 200 --seed 1
"""

from __future__ import annotations

import argparse
import random
import sys

from mpi4py import MPI

from grayscott import backends
from grayscott.parallel.decomposition import fits, split
from grayscott.parallel.distributed import DistributedBackend
from grayscott.physics import BORDERS, DTYPES, STENCILS, make_initial, make_problem

PRIMES = (2, 3, 5, 7, 11, 13)


def layouts(size: int, shape: tuple[int, int]) -> list[tuple[int, int]]:
    return [(p, size // p) for p in range(1, size + 1)
            if size % p == 0 and fits(shape, (p, size // p))]


def thinnest(shape: tuple[int, int], dims: tuple[int, int], periodic: bool) -> int:
    cut = [min(b - a for a, b in split(n, k)) for n, k in zip(shape, dims, strict=True)
           if k > 1 or periodic]
    return min(cut, default=shape[0])


def draw(rng: random.Random, size: int) -> dict:
    """One configuration; every rank draws the same one."""
    while True:
        shape = (rng.randint(3, 23), rng.randint(3, 23))
        dims = layouts(size, shape)
        if dims:
            break
    square = [d for d in dims if min(d) > 1]  # corners come from diagonal neighbours
    dims = rng.choice(square if square and rng.random() < 0.6 else dims)
    border = rng.choice(BORDERS)
    top = thinnest(shape, dims, border == "periodic")
    depth = rng.choice([1, 2, top, rng.randint(1, top), None])
    d = depth or 4
    calls = [rng.choice([1, max(1, d - 1), d, d + 1, *PRIMES]) for _ in range(rng.randint(1, 4))]
    stencil = rng.choice([*STENCILS, "custom"])
    if stencil == "custom":  # lopsided, some weights zero: each side's deficit differs
        w = [rng.choice([0.0, 0.05, 0.1, 0.2, 0.3]) for _ in range(9)]
        w[4] = -sum(w[:4] + w[5:])
        stencil = [w[:3], w[3:6], w[6:]]
    return dict(shape=shape, dims=dims, border=border, stencil=stencil,
                dtype=rng.choice(DTYPES), initial=rng.choice(["noise", "school"]),
                backend=rng.choice(["numba", "numba-parallel"]),
                threads=rng.choice([1, 2]), depth=depth, calls=calls,
                between=[rng.choice(["get_v", "get_state", "reload", "finite", "exchange",
                                     "compile", ""])
                         for _ in calls])


def check(cfg: dict, comm) -> list[str]:
    root = comm.rank == 0
    problem = make_problem(cfg["shape"], stencil=cfg["stencil"], border=cfg["border"],
                           dtype=cfg["dtype"], allow_unstable=True)
    u, v = make_initial(cfg["initial"], cfg["shape"], seed=len(cfg["calls"]))
    if root:
        one = backends.create("numba", problem)
        one.set_state(u, v)
        for n in cfg["calls"]:
            one.advance(n)
        want = one.get_state()
    threads = cfg["threads"] if cfg["backend"] == "numba-parallel" else None
    be = DistributedBackend(problem, cfg["backend"], comm=comm, dims=cfg["dims"],
                            threads=threads, depth=cfg["depth"])
    be.set_state(u if root else None, v if root else None)
    for n, what in zip(cfg["calls"], cfg["between"], strict=True):
        be.advance(n)
        if what == "get_v":
            be.get_v()
        elif what == "get_state":
            be.get_state()
        elif what == "reload":  # gather and scatter back: must change nothing
            be.set_state(*be.get_state())
        elif what == "exchange":  # what bench times between steps: must change no cell
            be.stepper.exchange()
        elif what == "compile":
            be.compile()
        elif what == "finite" and not be.all_finite():
            return ["all_finite is False"] if root else []
    got = be.get_state()
    be.halo.free()
    be.cart.Free()
    if not root:
        return []
    return [f"{f}: {int((w != g).sum())} cells differ" for f, w, g in zip("UV", want, got,
                                                                         strict=True)
            if w.dtype != g.dtype or w.tobytes() != g.tobytes()]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    comm = MPI.COMM_WORLD
    rng = random.Random(args.seed)
    bad = 0
    for k in range(args.cases):
        cfg = draw(rng, comm.size)
        wrong = check(cfg, comm)
        if wrong:
            bad += 1
            print(f"MISMATCH case {k} {cfg}: {'; '.join(wrong)}", flush=True)
    if comm.rank == 0:
        print(f"ok {args.cases - bad} of {args.cases} on {comm.size} ranks", flush=True)
    return 1 if comm.bcast(bad, root=0) else 0


if __name__ == "__main__":
    sys.exit(main())
