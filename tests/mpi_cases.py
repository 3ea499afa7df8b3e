"""Run under ``mpiexec -n N``: every configuration on N ranks against one process, bit for bit.

One launch loops over many configurations in-process (starting MPI and importing numba cost
more than a small run): for each, rank 0 runs the plain backend on the whole grid, every rank
runs :class:`DistributedBackend` with the given rank layouts, and rank 0 compares the gathered
U and V byte for byte. Prints one line per mismatch and ``ok <count>``; exits 1 on a mismatch.

    mpiexec -n 4 python tests/mpi_cases.py --full-dims 2x2 --dims 4x1,1x4

``--fail RANK`` instead checks that a failure on one rank (or ``all``) ends every rank with the
one-line message and exit code 2 while the others are busy stepping.
"""

from __future__ import annotations

import argparse
import itertools
import sys

import numpy as np
from mpi4py import MPI

from grayscott import backends
from grayscott.errors import GrayScottError
from grayscott.parallel import model
from grayscott.parallel.collective import mpi_main
from grayscott.parallel.decomposition import parse_dims
from grayscott.parallel.distributed import DECOMPOSABLE, DistributedBackend
from grayscott.physics import BORDERS, DTYPES, STENCILS, make_initial, make_problem

MACHINE = model.Machine(rate=1e9, overhead=1e-5, bandwidth=1e9, root_bandwidth=1e9)


def configurations(full: bool) -> list[tuple[str, str, str, str]]:
    names = [b for b in DECOMPOSABLE if backends.info(b).available]
    if full:
        return list(itertools.product(names, STENCILS, BORDERS, DTYPES))
    # Every backend, border, stencil and dtype at least once, cycling the others.
    n = max(len(STENCILS), len(BORDERS), len(DTYPES))
    return [(b, STENCILS[i % len(STENCILS)], BORDERS[(i + k) % len(BORDERS)],
             DTYPES[(i + k) % len(DTYPES)]) for k, b in enumerate(names) for i in range(n)]


def serial(problem, name: str, u, v, steps: int, blocks: int):
    be = backends.create(name, problem, threads=1 if name == "numba-parallel" else None)
    be.set_state(u, v)
    for _ in range(blocks):
        be.advance(steps)
    return be.get_state()


def fail(which: str) -> int:
    """Rank ``which`` (or all) raises a user error after a few steps; the others go on."""
    comm = MPI.COMM_WORLD
    problem = make_problem((64, 64), dtype="float64")
    be = DistributedBackend(problem, "numpy", comm=comm)
    be.set_state(*make_initial("school", problem.shape))
    try:
        for step in range(100000):  # long enough to be still stepping when the fault comes
            if step == 20 and which in ("all", str(comm.rank)):
                raise GrayScottError(f"injected fault on rank {comm.rank}")
            be.advance(1)
    except GrayScottError as exc:
        print(f"grayscott: error: {exc}", file=sys.stderr)
        return 2
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dims", default="", help="comma-separated rank layouts: a cycle of configs")
    ap.add_argument("--full-dims", default="", help="layouts for every combination")
    ap.add_argument("--fail", default=None, help="rank that fails (or all)")
    ap.add_argument("--shape", default="13x17")
    ap.add_argument("--steps", type=int, default=9)
    ap.add_argument("--blocks", type=int, default=2, help="advance() calls (get_v between)")
    ap.add_argument("--depths", default="auto",
                    help="comma-separated halo depths for the numba backends (auto: the default)")
    args = ap.parse_args()
    if args.fail is not None:
        return mpi_main(lambda _argv: fail(args.fail), collective=True)
    comm = MPI.COMM_WORLD
    root = comm.rank == 0
    shape = tuple(int(x) for x in args.shape.split("x"))
    bad = count = 0
    runs = [(c, args.full_dims) for c in configurations(True) if args.full_dims]
    runs += [(c, args.dims) for c in configurations(False) if args.dims]
    for (name, stencil, border, dtype), layouts in runs:
        problem = make_problem(shape, stencil=stencil, border=border, dtype=dtype,
                               allow_unstable=True)  # stable; skips a slow check
        u, v = make_initial("noise", shape, seed=3)
        want = serial(problem, name, u, v, args.steps, args.blocks) if root else None
        depths = args.depths.split(",") if name.startswith("numba") else ["auto"]
        for dims, depth in itertools.product(layouts.split(","), depths):
            be = DistributedBackend(problem, name, comm=comm, dims=parse_dims(dims),
                                    threads=1 if name == "numba-parallel" else None,
                                    depth=None if depth == "auto" else int(depth))
            be.set_state(u if root else None, v if root else None)
            for _ in range(args.blocks):
                be.advance(args.steps)
                be.get_v()
            got = be.get_state()
            count += 1
            # the model of docs/scaling.md counts the bytes the exchange really sends
            sent = comm.allreduce(be.halo.bytes_per_call, op=MPI.MAX)
            modelled = model.step(shape, comm.size, MACHINE, problem.dtype.itemsize,
                                  be.block.dims, depth=be.depth).halo_bytes
            if border != "periodic" and sent != modelled:
                bad += 1
                if root:
                    print(f"MISMATCH halo bytes {dims}: sent {sent}, model {modelled}")
            if root:
                wrong = [(f, w, g) for f, w, g in zip("UV", want, got, strict=True)
                         if w.dtype != g.dtype or w.tobytes() != g.tobytes()]
                bad += bool(wrong)
                for field, w, g in wrong:
                    diff = np.abs(w.astype(float) - g.astype(float))
                    print(f"MISMATCH {name} {stencil} {border} {dtype} dims={dims} depth={depth} "
                          f"({be.block.dims}) {field}: max |diff| {diff.max():.3g} at "
                          f"{np.unravel_index(diff.argmax(), diff.shape)}", flush=True)
            be.cart.Free()
    if root:
        print(f"ok {count - bad} of {count} on {comm.size} ranks", flush=True)
    return 1 if comm.bcast(bad, root=0) else 0


if __name__ == "__main__":
    sys.exit(main())
