"""The one interface every backend implements.

A backend is built for a :class:`~grayscott.physics.Problem`, is given a state, advances it by
``n`` steps, and hands U and V back as NumPy arrays when a frame is due. Backends keep their state
in whatever form suits them (padded NumPy buffers, device arrays...) between calls to
:meth:`advance`, so the driver never forces a copy per step.

Kernels work on padded fields with a ghost ring (see :mod:`grayscott.physics.borders`), so a later
halo exchange or temporal-blocking driver can reuse them unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from ..errors import GrayScottError
from ..physics import Problem, deficit, fill_ghosts
from ..physics.borders import FIXED_GHOST


class Backend(ABC):
    """Advance a Gray-Scott state on one problem."""

    #: Registry name, e.g. ``"numpy"``.
    name: ClassVar[str]

    def __init__(self, problem: Problem, threads: int | None = None) -> None:
        self.problem = problem
        if threads not in (None, 1):
            raise GrayScottError(f"backend {self.name!r} runs on one thread; --threads is for "
                                 "numba-parallel")

    @abstractmethod
    def set_state(self, u: np.ndarray, v: np.ndarray) -> None:
        """Load U and V (shape ``problem.shape``, any float dtype; converted to problem.dtype)."""

    @abstractmethod
    def advance(self, nsteps: int) -> None:
        """Advance the loaded state by ``nsteps`` explicit-Euler steps."""

    @abstractmethod
    def get_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of U and V as NumPy arrays of ``problem.dtype``."""

    def get_v(self) -> np.ndarray:
        """V alone (what a frame stores); backends may override to skip copying U."""
        return self.get_state()[1]

    @property
    def threads(self) -> int:
        """How many CPU threads the kernel uses (for benchmark reports)."""
        return 1

    @property
    def platform(self) -> str:
        """Where the kernel runs: "cpu", or the accelerator's platform ("gpu", "tpu")."""
        return "cpu"

    def warning(self, nsteps: int) -> str | None:
        """A line to show before running ``nsteps`` steps (e.g. "this will take hours"), or None."""
        return None

    def compile(self) -> None:  # noqa: B027  (optional hook, default does nothing)
        """Compile or trace whatever the first :meth:`advance` would, so timing can leave it out."""

    def synchronize(self) -> None:  # noqa: B027  (optional hook, default does nothing)
        """Block until every :meth:`advance` so far has finished. Backends that return before
        the work is done (JAX dispatches asynchronously) must override it; timers call it
        before stopping the clock."""

    def _check_state(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = np.asarray(u)
        v = np.asarray(v)
        if u.shape != self.problem.shape or v.shape != self.problem.shape:
            raise ValueError(f"state must have shape {self.problem.shape}, got {u.shape} "
                             f"and {v.shape}")
        return u.astype(self.problem.dtype), v.astype(self.problem.dtype)


class PaddedNumpyBackend(Backend):
    """State held as padded NumPy fields ``U``, ``V`` of shape ``problem.padded_shape``; the
    interior is the grid and the ring is filled by :meth:`fill_ghosts` before each step."""

    def __init__(self, problem: Problem, threads: int | None = None) -> None:
        super().__init__(problem, threads)
        shape, dtype = problem.padded_shape, problem.dtype
        self.U = np.zeros(shape, dtype)
        self.V = np.zeros(shape, dtype)
        d = deficit(problem.stencil, problem.border, problem.shape)
        self.deficit = None if d is None else d.astype(dtype)

    def fill_ghosts(self) -> None:
        fill_ghosts(self.U, self.problem.border, FIXED_GHOST[0])
        fill_ghosts(self.V, self.problem.border, FIXED_GHOST[1])

    def set_state(self, u: np.ndarray, v: np.ndarray) -> None:
        u, v = self._check_state(u, v)
        self.U[1:-1, 1:-1] = u
        self.V[1:-1, 1:-1] = v

    def get_state(self) -> tuple[np.ndarray, np.ndarray]:
        return self.U[1:-1, 1:-1].copy(), self.V[1:-1, 1:-1].copy()

    def get_v(self) -> np.ndarray:
        return self.V[1:-1, 1:-1].copy()
