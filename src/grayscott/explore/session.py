"""A live simulation that takes operations between frames: the physics side of ``explore``.

A :class:`Session` holds a :class:`~grayscott.simulation.Simulation` and the settings in force.
Between two frames it applies timeline operations (:mod:`.messages`): new settings (a new
problem for the same backend, loaded with the state as it is), a reset to an initial state, a
brush dab that paints V (and U = 1 - V) on a disc, or another number of steps per frame. Then
:meth:`Session.advance` computes the next frame. The live server and ``grayscott replay`` drive
the same class with the same operations at the same steps, so a replay is the session again,
bit for bit on the same backend: the steps are computed by the backend only, in the same blocks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import BlowUpError
from ..physics import Parameters, make_initial, make_problem
from .messages import PARAM_NAMES, check_op


class Session:
    """The state, the settings and the step count of one live simulation.

    ``settings``: Du, Dv, F, k, dt, stencil and border. ``state`` (u, v) replaces the initial
    state; ``steps`` is how many steps it has behind it.
    """

    def __init__(self, shape: tuple[int, int], settings: dict[str, Any], *, backend: str,
                 dtype: str = "float32", threads: int | None = None,
                 options: dict[str, Any] | None = None, initial: str = "school", seed: int = 0,
                 steps_per_frame: int = 16,
                 state: tuple[np.ndarray, np.ndarray] | None = None, steps: int = 0,
                 time: float = 0.0) -> None:
        self.shape = tuple(shape)
        self.backend_name = backend
        self.dtype = np.dtype(dtype)
        self.threads = threads
        self.options = dict(options or {})
        self.initial, self.seed = initial, seed
        self.steps_per_frame = check_op({"op": "steps", "n": steps_per_frame}, self.shape)["n"]
        self.settings = {k: v for k, v in check_op({"op": "params", **settings},
                                                   self.shape).items() if k != "op"}
        self.steps = steps
        self.time = time  # simulated time: the sum of dt over the steps (dt may change)
        self.sim = self._simulation(state if state is not None
                                    else make_initial(initial, self.shape, seed))

    def _simulation(self, state: tuple[np.ndarray, np.ndarray]) -> Any:
        from ..simulation import Simulation

        s = self.settings
        problem = make_problem(self.shape, params=Parameters(**{k: s[k] for k in PARAM_NAMES}),
                               stencil=s["stencil"], border=s["border"], dtype=self.dtype.name)
        return Simulation(problem, backend=self.backend_name, state=state, threads=self.threads,
                          steps_done=self.steps, options=self.options)

    @property
    def backend(self) -> Any:
        return self.sim.backend

    @property
    def state(self) -> tuple[np.ndarray, np.ndarray]:
        return self.sim.state

    def apply(self, ops: list[dict[str, Any]]) -> None:
        """Apply checked operations in order. The state is fetched once for all the brush dabs
        and resets, and the backend built once for the last settings: a burst of slider moves
        between two frames costs one new backend (the settings and the state commute, and a
        backend loaded with a state holds it exactly, so the bits are those of one at a time)."""
        state: tuple[np.ndarray, np.ndarray] | None = None
        settings = None
        for op in ops:
            kind = op["op"]
            if kind == "brush":
                state = state or self.sim.state
                paint(*state, op)
            elif kind == "reset":
                state = make_initial(op["initial"], self.shape, op["seed"])
            elif kind == "params":
                settings = {k: op[k] for k in (*PARAM_NAMES, "stencil", "border")}
            elif kind == "steps":
                self.steps_per_frame = op["n"]
        if settings is not None:
            self.settings = settings
            self.sim = self._simulation(state or self.sim.state)
        elif state is not None:
            self.sim.backend.set_state(*state)

    def advance(self) -> np.ndarray:
        """Compute the next frame (``steps_per_frame`` steps) and return V; a frame that is no
        longer finite raises :class:`BlowUpError`."""
        n = self.steps_per_frame
        self.sim.advance(n)
        self.steps += n
        self.time += n * self.settings["dt"]
        v = self.sim.backend.get_v()
        if not np.isfinite(v).all():
            raise BlowUpError(f"the simulation blew up after {self.steps} steps (V is NaN or "
                              "infinite); reset it or choose a smaller dt")
        return v

    def describe(self) -> dict[str, Any]:
        """What a recording stores to start the session again (besides the state)."""
        return {"shape": list(self.shape), "settings": dict(self.settings),
                "backend": self.backend_name, "dtype": self.dtype.name,
                "options": dict(self.options), "steps_per_frame": self.steps_per_frame,
                "initial": self.initial, "seed": self.seed}


def paint(u: np.ndarray, v: np.ndarray, op: dict[str, Any]) -> None:
    """One brush dab, in place: V = value and U = 1 - value on the disc of ``radius`` cells
    around (row, col), cut at the grid's edges."""
    r, c, radius = op["row"], op["col"], op["radius"]
    nr, nc = v.shape
    r0, r1 = max(r - radius, 0), min(r + radius + 1, nr)
    c0, c1 = max(c - radius, 0), min(c + radius + 1, nc)
    rows = np.arange(r0, r1)[:, None] - r
    cols = np.arange(c0, c1)[None, :] - c
    disc = rows * rows + cols * cols <= radius * radius
    value = op["value"]
    v[r0:r1, c0:c1][disc] = value
    u[r0:r1, c0:c1][disc] = 1.0 - value
