"""A process holds a few thousand MPI communicators at most (MPICH: 2046): a script that makes
a DistributedBackend, or runs a simulation over the ranks, many times in one process frees each
backend's communicator, or fails once they run out."""

from __future__ import annotations

import sys
from pathlib import Path

from test_mpi import mpiexec, needs_mpi

SCRIPT = '''
import sys
from pathlib import Path
from mpi4py import MPI
from grayscott.errors import GrayScottError
from grayscott.parallel.distributed import DistributedBackend
from grayscott.parallel.run import run
from grayscott.physics import make_initial, make_problem

shape = (12, 10)
# more backends than MPICH has communicators, each freed on leaving its block
for i in range(2100):
    with DistributedBackend(make_problem(shape), "numpy", comm=MPI.COMM_WORLD) as be:
        be.set_state(*make_initial("school", shape))
        be.advance(1)
be.free()  # a second time: nothing
assert be.cart == MPI.COMM_NULL
for call in (lambda: be.advance(1), be.get_state, be.get_v, be.local_v, be.all_finite,
             lambda: be.set_state(*make_initial("school", shape))):
    try:
        call()
    except GrayScottError as exc:
        assert "was freed" in str(exc), exc
    else:
        raise AssertionError("a freed backend was used")

# a run frees its backend once every rank has ended it
sims = []
out = Path(sys.argv[1])
for i in range(2):
    run(make_problem(shape), out / f"r{i}.h5", nbimage=2, nbextrastep=3, backend="numpy",
        progress=False, on_start=sims.append)
if MPI.COMM_WORLD.rank == 0:
    assert len(sims) == 2 and all(s.backend.cart == MPI.COMM_NULL for s in sims)
    print("freed")
'''


@needs_mpi
def test_backends_and_runs_free_their_communicators(tmp_path: Path) -> None:
    script = tmp_path / "many.py"
    script.write_text(SCRIPT)
    proc = mpiexec(2, sys.executable, str(script), str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "freed"


#: How many more communicators the process can make (from each script's ``comm``).
ROOM = '''
def room():
    """How many more communicators this process can make."""
    made = []
    try:
        while True:
            made.append(comm.Dup())
    except MPI.Exception:
        pass
    for c in made:
        c.Free()
    return len(made)
'''

STOPPED = '''
import os
import signal
import sys
from pathlib import Path
from mpi4py import MPI
from grayscott.errors import BlowUpError
from grayscott.observers import Interrupted
from grayscott.parallel.run import run
from grayscott.physics import Parameters, make_problem

comm = MPI.COMM_WORLD
out = Path(sys.argv[1])
#ROOM#

def stop(i, v):  # on rank 0 only: every rank stops after the same frame
    os.kill(os.getpid(), signal.SIGTERM)


shape = (20, 16)
run(make_problem(shape), out / "first.h5", nbimage=1, nbextrastep=2, backend="numpy",
    progress=False)
before = room()
sims = []
bad = make_problem(shape, params=Parameters(dt=50.0), allow_unstable=True)
for i in range(3):
    try:
        run(bad, out / f"blown{i}.h5", nbimage=3, nbextrastep=30, backend="numpy",
            initial="noise", progress=False, on_start=sims.append)
    except BlowUpError:
        pass
    else:
        raise AssertionError("the run did not blow up")
    try:
        run(make_problem(shape), out / f"stopped{i}.h5", nbimage=4, nbextrastep=3,
            backend="numba", progress=False, on_start=sims.append, on_frame=stop)
    except Interrupted:
        pass
    else:
        raise AssertionError("the run was not stopped")
after = room()
assert after == before, (before, after)
if comm.rank == 0:
    assert len(sims) == 6 and all(s.backend.cart == MPI.COMM_NULL for s in sims)
    print("freed")
'''


@needs_mpi
def test_runs_that_blow_up_or_are_stopped_free_their_communicators(tmp_path: Path) -> None:
    # every rank ends them at the same frame: a loop that tries rates which may blow up, or
    # stops its runs, must not run out of communicators either
    script = tmp_path / "stopped.py"
    script.write_text(STOPPED.replace("#ROOM#", ROOM))
    proc = mpiexec(2, sys.executable, str(script), str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "freed"


REFUSED = '''
from mpi4py import MPI
from grayscott.errors import GrayScottError
from grayscott.parallel.distributed import DistributedBackend
from grayscott.physics import make_problem

comm = MPI.COMM_WORLD
#ROOM#
before = []
for i in range(2):  # the second pass finds what the first one left
    before.append(room())
    for depth in (99, 2):  # deeper than the blocks; deep halos on a numpy backend
        try:
            DistributedBackend(make_problem((12, 10)), "numpy", comm=comm, depth=depth)
        except GrayScottError:
            pass
        else:
            raise AssertionError("refused depth accepted")
assert before[0] == before[1], before
if comm.rank == 0:
    print("freed")
'''


@needs_mpi
def test_a_backend_refused_while_it_is_made_keeps_no_communicator(tmp_path: Path) -> None:
    script = tmp_path / "refused.py"
    script.write_text(REFUSED.replace("#ROOM#", ROOM))
    proc = mpiexec(2, sys.executable, str(script), timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "freed"
