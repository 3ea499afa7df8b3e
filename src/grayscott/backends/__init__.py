"""The backend registry: every backend by name, whether it can run here, and why not.

Heavy dependencies are never imported to build this list: availability is checked with
``importlib.util.find_spec``, and a backend's module is imported only when it is asked for.
To add a backend, write one module with one :class:`Backend` subclass (declaring its
capabilities and options: see :mod:`.base`) and add one line below.

This package owns the kernels and how they are called (:class:`~.base.Backend`). It may not
import the time loop, the observers, io/'s files or the views: a backend advances a state and
hands it back, and knows nothing of frames on disk (it borrows only small helpers: a duration's
format, the machine's cache size for ``numba-blocked``'s tuning).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from ..errors import BackendUnavailable, GrayScottError
from ..physics import Problem
from .base import Backend, Capabilities, Option


@dataclass(frozen=True)
class BackendInfo:
    name: str
    module: str  # relative to this package
    cls: str
    description: str
    requires: tuple[str, ...] = ()  # importable modules the backend needs
    extra: str | None = None  # the pip extra that brings them
    #: A function of the backend's module telling why it cannot run although its modules are
    #: installed ('' when it can), e.g. no GPU; called only once they are.
    probe: str | None = None

    def missing(self) -> list[str]:
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def _probe(self) -> str:
        if self.probe is None:
            return ""
        return getattr(importlib.import_module(f"{__name__}.{self.module}"), self.probe)()

    @property
    def available(self) -> bool:
        return not self.missing() and not self._probe()

    @property
    def reason(self) -> str:
        """Why the backend cannot run here ('' when it can)."""
        missing = self.missing()
        if not missing:
            return self._probe()
        return (f"needs {', '.join(missing)}: pip install 'grayscott[{self.extra}]'"
                if self.extra else f"needs {', '.join(missing)}")

    def load(self) -> type[Backend]:
        if not self.available:
            raise BackendUnavailable(f"backend {self.name!r} {self.reason}")
        module = importlib.import_module(f"{__name__}.{self.module}")
        return getattr(module, self.cls)


_REGISTRY: dict[str, BackendInfo] = {
    info.name: info
    for info in [
        BackendInfo("python", "python_loops", "PythonBackend",
                    "plain Python loops: the naive rung, for small grids"),
        BackendInfo("numpy-school", "numpy_school", "NumpySchoolBackend",
                    "the school's NumPy slice expressions, temporaries and all (the baseline)"),
        BackendInfo("numpy", "numpy_buffers", "NumpyBackend",
                    "NumPy with preallocated buffers and out= arguments: no allocation per step"),
        BackendInfo("numba", "numba_loops", "NumbaBackend",
                    "the explicit loop compiled with Numba @njit, one thread",
                    requires=("numba",), extra="numba"),
        BackendInfo("numba-parallel", "numba_parallel", "NumbaParallelBackend",
                    "the Numba loop with prange over rows, all cores (--threads)",
                    requires=("numba",), extra="numba"),
        BackendInfo("numba-blocked", "numba_blocked", "NumbaBlockedBackend",
                    "temporal blocking: k steps per pass over memory, bands of rows swept by "
                    "a wavefront, all cores (--threads, --blocking)",
                    requires=("numba",), extra="numba"),
        BackendInfo("jax", "jax_generic", "JaxGenericBackend",
                    "JAX, the generic stencil: any 3x3 weight array as runtime data, one "
                    "compiled loop per block; CPU or GPU", requires=("jax",), extra="jax"),
        BackendInfo("jax-3x3", "jax_3x3", "Jax3x3Backend",
                    "JAX, the specialised 3x3 stencil: terms written by hand, weights as "
                    "constants, fused by XLA; CPU or GPU", requires=("jax",), extra="jax"),
        BackendInfo("cupy", "cupy_backend", "CupyBackend",
                    "CuPy: one CUDA kernel per step for every stencil, border and dtype, "
                    "CUDA graphs between frames, bitwise equal to numba; NVIDIA GPU",
                    requires=("cupy",), extra="cupy", probe="unavailable_reason"),
    ]
}

#: Preferred default backends, fastest first; the first available one is the default.
#: numba-blocked gives numba-parallel's bits with fewer passes over memory (BENCHMARKS.md).
DEFAULT_ORDER: tuple[str, ...] = ("numba-blocked", "numba-parallel", "numpy")


def names() -> list[str]:
    return list(_REGISTRY)


def info(name: str) -> BackendInfo:
    if name not in _REGISTRY:
        raise GrayScottError(f"unknown backend {name!r}; choose one of: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def all_backends() -> list[BackendInfo]:
    return list(_REGISTRY.values())


def available() -> list[str]:
    return [b.name for b in _REGISTRY.values() if b.available]


def default_backend(decomposable: bool = False, rate_map: bool = False) -> str:
    """The first available backend of :data:`DEFAULT_ORDER`; with ``decomposable``, the first
    that can advance one block of a split grid (MPI), which imports the candidates; with
    ``rate_map``, the first that takes rates varying in space (numpy-school where no other)."""
    for name in DEFAULT_ORDER:
        if name in _REGISTRY and _REGISTRY[name].available:
            if decomposable and not capabilities(name).decomposable:
                continue
            if rate_map and not capabilities(name).rate_map:
                continue
            return name
    return "numpy-school" if rate_map else "numpy"


def create(name: str, problem: Problem, **options: object) -> Backend:
    """Build backend ``name`` for ``problem`` (imports its dependencies now).

    ``options`` are checked against the backend's declared :attr:`Backend.options` and go to its
    constructor; ``None`` means the backend's default. An option the backend does not declare
    is refused, naming the backends that take it (e.g. ``threads``).
    """
    cls = info(name).load()
    if problem.rate_map is not None and not cls.capabilities.rate_map:
        takers = [n for n in available() if info(n).load().capabilities.rate_map]
        raise GrayScottError(f"backend {name!r} does not take a rate map (--map); these do: "
                             f"{', '.join(takers)}")
    for key, value in options.items():
        if value is not None and key not in cls.options:
            takers = [n for n in available() if key in info(n).load().options]
            raise GrayScottError(
                f"backend {name!r} takes no option {key!r}" +
                (f"; {key} is for {', '.join(takers)}" if takers else ""))
    return cls(problem, **options)


def capabilities(name: str) -> Capabilities:
    """What backend ``name`` declares (imports its module, so it must be available)."""
    return info(name).load().capabilities


def describe(name: str) -> str:
    """One line of what backend ``name`` declares, for ``grayscott backends``."""
    cls = info(name).load()
    caps = cls.capabilities
    parts = ["/".join(caps.devices), "synchronous" if caps.synchronous else "asynchronous"]
    if caps.cell_steps_per_second is not None:
        parts.append(f"slow rung (~{caps.cell_steps_per_second / 1e6:g} Mcell-updates/s)")
    if caps.decomposable:
        parts.append("decomposable")
    if cls.options:
        parts.append("options: " + ", ".join(cls.options))
    return "; ".join(parts)


__all__ = ["Backend", "BackendInfo", "Capabilities", "Option", "all_backends", "available",
           "capabilities", "create", "default_backend", "describe", "info", "names"]
