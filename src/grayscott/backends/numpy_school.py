"""``numpy-school``: the Gray-Scott School's NumPy formulation, kept as the school writes it.

Whole-array slice expressions over a padded field: readable, and every operator allocates a
field-sized temporary. It is the baseline of the benchmark ladder, so it is deliberately *not*
optimised; see ``numpy_buffers`` for what NumPy can do without temporaries.
"""

from __future__ import annotations

import numpy as np

from ..physics import Stencil
from .base import Capabilities, PaddedNumpyBackend


def laplacian(X: np.ndarray, stencil: Stencil) -> np.ndarray:
    """Interior Laplacian of a padded field, as the school's slice expression."""
    w = stencil.weights.astype(X.dtype)  # NumPy scalars are not "weak": keep the field's dtype
    if np.all(w[np.arange(9).reshape(3, 3) != 4] == 1.0):
        # The school's stencil, written the school's way.
        return (X[:-2, :-2] + X[:-2, 1:-1] + X[:-2, 2:]
                + X[1:-1, :-2] - 8 * X[1:-1, 1:-1] + X[1:-1, 2:]
                + X[2:, :-2] + X[2:, 1:-1] + X[2:, 2:])
    # The same expression with the weights written in (the school's "generic stencil").
    return (w[0, 0] * X[:-2, :-2] + w[0, 1] * X[:-2, 1:-1] + w[0, 2] * X[:-2, 2:]
            + w[1, 0] * X[1:-1, :-2] + w[1, 1] * X[1:-1, 1:-1] + w[1, 2] * X[1:-1, 2:]
            + w[2, 0] * X[2:, :-2] + w[2, 1] * X[2:, 1:-1] + w[2, 2] * X[2:, 2:])


class NumpySchoolBackend(PaddedNumpyBackend):
    name = "numpy-school"
    capabilities = Capabilities(decomposable=True, rate_map=True)

    def _laplacian(self, X: np.ndarray) -> np.ndarray:
        L = laplacian(X, self.problem.stencil)
        d = self.deficit
        if d is not None:  # school border: outside neighbours must not count in the centre term
            x = X[1:-1, 1:-1]
            L[0, :] += d.top * x[0, :]
            L[-1, :] += d.bottom * x[-1, :]
            L[1:-1, 0] += d.left * x[1:-1, 0]
            L[1:-1, -1] += d.right * x[1:-1, -1]
        return L

    def _advance(self, nsteps: int) -> None:
        p = self.problem.params
        Du, Dv, F, k, dt = p.Du, p.Dv, p.F, p.k, p.dt
        u = self.U[1:-1, 1:-1]
        v = self.V[1:-1, 1:-1]
        if self.problem.rate_map is not None:
            self._advance_map(nsteps)
            return
        for _ in range(nsteps):
            self.fill_ghosts()
            Lu = self._laplacian(self.U)
            Lv = self._laplacian(self.V)
            uvv = u * v * v
            u += dt * (Du * Lu - uvv + F * (1 - u))
            v += dt * (Dv * Lv + uvv - (F + k) * v)

    def _advance_map(self, nsteps: int) -> None:
        """The same expression with F a column (one value per row) and ``F + k`` a field,
        rounded once to the dtype as the scalars are (NumPy's own rounding of a Python float
        into a float32 operation): the same bits, cell by cell."""
        p = self.problem.params
        Du, Dv, dt = p.Du, p.Dv, p.dt
        f, fk = self.problem.rate_map.coefficients(self.problem.dtype)
        F = f[:, None]
        u = self.U[1:-1, 1:-1]
        v = self.V[1:-1, 1:-1]
        for _ in range(nsteps):
            self.fill_ghosts()
            Lu = self._laplacian(self.U)
            Lv = self._laplacian(self.V)
            uvv = u * v * v
            u += dt * (Du * Lu - uvv + F * (1 - u))
            v += dt * (Dv * Lv + uvv - fk * v)
