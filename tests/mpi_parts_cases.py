"""Run under ``mpiexec -n N``: runs over N ranks in every rank layout, each rank writing its own
part file, against one process, bit for bit, read with plain h5py.

    mpiexec -n 6 python tests/mpi_parts_cases.py FOLDER

For each layout of N ranks (every R x C = N whose blocks fit the grid), the run goes through
:func:`grayscott.parallel.run.run` with ``DistributedBackend.get_v`` and ``get_state`` made to
fail during the frames, so a rank that gathered a frame would end the run. Rank 0 then runs the
same problem alone and compares ``matrix``, ``u_final``, ``v_final`` byte for byte. Prints one
line per mismatch and ``ok <count>``; exits 1 on a mismatch.
"""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
from mpi4py import MPI

from grayscott import runs
from grayscott.parallel import run as prun
from grayscott.parallel.collective import mpi_main
from grayscott.parallel.decomposition import fits
from grayscott.parallel.distributed import DistributedBackend
from grayscott.physics import make_problem

NAMES = ("matrix", "u_final", "v_final", "step")


def main() -> int:
    # mpi_main: a rank that fails ends every rank (a broken writer must not hang the test)
    return mpi_main(lambda _argv: cases(Path(sys.argv[1])), collective=True)


def cases(folder: Path) -> int:
    comm = MPI.COMM_WORLD
    size, root = comm.size, comm.rank == 0
    shape = (13, 19)
    problem = make_problem(shape, border="fixed", stencil="laplace9")
    kwargs = dict(nbimage=3, nbextrastep=5, backend="numba", progress=False,
                  checkpoint_every=0, initial="noise", seed=4)
    layouts = [(p, size // p) for p in range(1, size + 1)
               if size % p == 0 and fits(shape, (p, size // p))]
    gathers = []
    frames = DistributedBackend.get_v

    def no_gather(self):  # the frames must not be gathered
        gathers.append(1)
        return frames(self)

    DistributedBackend.get_v = no_gather
    for p, q in layouts:
        prun.run(problem, folder / f"{p}x{q}.h5", dims=(p, q), **kwargs)
    DistributedBackend.get_v = frames
    bad = comm.allreduce(len(gathers))
    if root and bad:
        print(f"MISMATCH frames gathered {bad} times")
    if root:
        runs.run(problem, folder / "one.h5", **kwargs)
        with h5py.File(folder / "one.h5") as one:
            for p, q in layouts:
                with h5py.File(folder / f"{p}x{q}.h5") as f:
                    assert f["matrix"].is_virtual
                    for name in NAMES:
                        if f[name][...].tobytes() != one[name][...].tobytes():
                            bad += 1
                            print(f"MISMATCH {p}x{q} {name}", flush=True)
        print(f"ok {len(layouts) - bad} of {len(layouts)} layouts on {size} ranks", flush=True)
    return 1 if comm.bcast(bad, root=0) else 0


if __name__ == "__main__":
    sys.exit(main())
