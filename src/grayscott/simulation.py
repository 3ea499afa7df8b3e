"""The :class:`Simulation`: a backend loaded with a state, advanced frame by frame.

It is the object every notebook and user script starts from; the time loop
(:mod:`grayscott.loop`) and the two ways into it (:mod:`grayscott.runs`) drive it. It owns the
state's checks and the step count. It may not import the loop, the observers, the file (io/)
or the views: a simulation knows nothing of who watches it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from . import backends
from .backends.base import Backend
from .errors import BlowUpError, GrayScottError
from .physics import Problem, make_initial
from .physics.problem import check_int

__all__ = ["Simulation"]


def _check_state(state: Any, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    try:
        u, v = (np.asarray(x, dtype=float) for x in state)
    except (TypeError, ValueError):
        raise GrayScottError("state must be a pair of arrays (u, v)") from None
    if u.shape != shape or v.shape != shape:
        raise GrayScottError(f"state must have shape {shape}, got {u.shape} and {v.shape}")
    if not (np.isfinite(u).all() and np.isfinite(v).all()):
        raise GrayScottError("the state given holds NaN or infinite values; give a finite one")
    return u, v


class Simulation:
    """A backend loaded with an initial state, advanced frame by frame.

    >>> sim = Simulation(make_problem((64, 64)), backend="numpy")
    >>> for v in sim.frames(nbimage=3, nbextrastep=32): ...

    ``state`` (u, v) replaces the ``initial`` state; ``steps_done`` says how many steps it has
    behind it (a resumed run carries them on).
    """

    def __init__(self, problem: Problem, backend: str | Backend | None = None,
                 initial: str = "school", seed: int = 0,
                 state: tuple[np.ndarray, np.ndarray] | None = None,
                 threads: int | None = None, steps_done: int = 0,
                 options: dict[str, Any] | None = None) -> None:
        self.problem = problem
        self.steps_done = check_int("steps_done", steps_done, 0)
        if state is not None:
            state = _check_state(state, problem.shape)
        if backend is None:
            backend = backends.default_backend()
        if not isinstance(backend, Backend):
            backend = backends.create(backend, problem, threads=threads, **(options or {}))
        self.backend = backend
        u, v = state if state is not None else make_initial(initial, problem.shape, seed)
        self.backend.set_state(u, v)
        self.consistent = True  # False while a block of steps is in progress

    def advance(self, nsteps: int) -> None:
        nsteps = check_int("nsteps", nsteps, 0)
        self.consistent = False
        # Overflow on the way to a blow-up is reported once, by the blow-up check.
        with np.errstate(over="ignore", invalid="ignore"):
            self.backend.advance(nsteps)
        self.steps_done += nsteps
        self.consistent = True

    def frames(self, nbimage: int, nbextrastep: int) -> Iterator[np.ndarray]:
        """Advance ``nbextrastep`` steps and yield V, ``nbimage`` times; stop on a blow-up."""
        check_int("nbimage", nbimage)
        check_int("nbextrastep", nbextrastep)
        for i in range(nbimage):
            self.advance(nbextrastep)
            v = self.backend.get_v()
            if not np.isfinite(v).all():
                raise BlowUpError(
                    f"the run blew up: V is NaN or infinite in frame {i} (after "
                    f"{self.steps_done} steps). Try a smaller dt or other rates")
            yield v

    @property
    def state(self) -> tuple[np.ndarray, np.ndarray]:
        return self.backend.get_state()
