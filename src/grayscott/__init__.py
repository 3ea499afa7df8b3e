"""grayscott: the Gray-Scott School's reaction-diffusion model, on every rung of the ladder.

Quick use::

    import grayscott as gs
    problem = gs.make_problem((256, 256))                 # the school's defaults, float32
    gs.run(problem, "out.h5", nbimage=10, backend="numpy")  # the school's HDF5 file
    gs.resume("out.h5", nbimage=20)                       # continue it (bit for bit)
    sim = gs.Simulation(problem, backend="numpy")
    for v in sim.frames(nbimage=3, nbextrastep=32): ...   # frames in memory

The rooms: :mod:`.physics` (the model), :mod:`.backends` (kernels), :mod:`.simulation`,
:mod:`.loop` and :mod:`.runs` (the time loop and the ways into it), :mod:`.observers` (the
loop's parts), :mod:`.io` (the files), :mod:`.views` (images, video), :mod:`.bench`,
:mod:`.sweep` and :mod:`.parallel`. Importing the package imports none of the optional extras
(Numba, JAX, CuPy, mpi4py, matplotlib): each is imported when it is used.
"""

from importlib.metadata import PackageNotFoundError, version

from . import backends
from .errors import BackendUnavailable, BlowUpError, GrayScottError, UnstableError
from .physics import Parameters, Problem, Stencil, get_stencil, make_initial, make_problem
from .runs import RunResult, resume, run
from .simulation import Simulation

try:
    __version__ = version("grayscott")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

__all__ = [
    "BackendUnavailable", "BlowUpError", "GrayScottError", "Parameters", "Problem", "RunResult",
    "Simulation", "Stencil", "UnstableError", "__version__", "backends", "get_stencil",
    "make_initial", "make_problem", "resume", "run",
]
