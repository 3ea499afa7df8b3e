"""``python``: the naive rung. Explicit loops over Python lists, one cell at a time.

Correct on every grid, stencil and border, and roughly a thousand times slower than compiled
code: it is here to be measured, and to be read next to the Numba kernel it becomes once
``@njit`` is put on it. Rows are ``array.array`` of the problem's dtype, so float32 runs round each
stored value to float32 as the other backends do (the arithmetic itself is in double precision).
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np

from ..physics import Problem, deficit
from ..physics.borders import FIXED_GHOST
from .base import Backend, Capabilities


class PythonBackend(Backend):
    name = "python"
    # The rate: measured order of magnitude on a 2-core laptop; bench and warning() use it.
    capabilities = Capabilities(cell_steps_per_second=1e6)

    def __init__(self, problem: Problem, **options: Any) -> None:
        super().__init__(problem, **options)
        self.typecode = "f" if problem.dtype == np.float32 else "d"
        nr, nc = problem.shape
        # Centre coefficient of each cell: -(weights of the neighbours that count).
        d = deficit(problem.stencil, problem.border, problem.shape)
        diag = np.full(problem.shape, problem.stencil.centre)
        if d is not None:
            diag += d.as_field(problem.shape)
        self.diag = diag.tolist()
        self.neighbours = problem.stencil.neighbour_weights()
        self.U: list[array] = []
        self.V: list[array] = []

    def _set_state(self, u: np.ndarray, v: np.ndarray) -> None:
        self.U = self._pad(u, FIXED_GHOST[0])
        self.V = self._pad(v, FIXED_GHOST[1])

    def _pad(self, x: np.ndarray, fixed: float) -> list[array]:
        nc = x.shape[1]
        ghost = fixed if self.problem.border == "fixed" else 0.0
        rows = [array(self.typecode, [ghost] * (nc + 2))]
        rows += [array(self.typecode, [ghost, *row, ghost]) for row in x.tolist()]
        rows.append(array(self.typecode, [ghost] * (nc + 2)))
        return rows

    def _wrap(self, X: list[array]) -> None:
        """Periodic ghosts: copy the opposite rows and columns (corners follow)."""
        X[0][1:-1] = X[-2][1:-1]
        X[-1][1:-1] = X[1][1:-1]
        for row in X:
            row[0] = row[-2]
            row[-1] = row[1]

    def _get_state(self) -> tuple[np.ndarray, np.ndarray]:
        def unpad(X: list[array]) -> np.ndarray:
            return np.array([row[1:-1] for row in X[1:-1]], dtype=self.problem.dtype)

        return unpad(self.U), unpad(self.V)

    def _advance(self, nsteps: int) -> None:
        p = self.problem.params
        Du, Dv, F, Fk, dt = p.Du, p.Dv, p.F, p.F + p.k, p.dt
        nr, nc = self.problem.shape
        tc, nb, diag = self.typecode, self.neighbours, self.diag
        for _ in range(nsteps):
            U, V = self.U, self.V
            if self.problem.border == "periodic":
                self._wrap(U)
                self._wrap(V)
            newU, newV = [U[0]], [V[0]]
            for i in range(1, nr + 1):
                du_row = array(tc, U[i])
                dv_row = array(tc, V[i])
                drow = diag[i - 1]
                for j in range(1, nc + 1):
                    uc = U[i][j]
                    vc = V[i][j]
                    lu = drow[j - 1] * uc
                    lv = drow[j - 1] * vc
                    for di, dj, w in nb:
                        lu += w * U[i + di][j + dj]
                        lv += w * V[i + di][j + dj]
                    uvv = uc * vc * vc
                    du_row[j] = uc + dt * (Du * lu - uvv + F * (1.0 - uc))
                    dv_row[j] = vc + dt * (Dv * lv + uvv - Fk * vc)
                newU.append(du_row)
                newV.append(dv_row)
            newU.append(U[-1])
            newV.append(V[-1])
            self.U, self.V = newU, newV
