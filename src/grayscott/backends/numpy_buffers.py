"""``numpy``: the best plain NumPy can do. Same arithmetic as ``numpy-school``, but every
operation writes into a preallocated buffer (``out=``), so a warmed-up step allocates nothing,
and the Laplacian takes as few passes over memory as the stencil allows:

* a stencil whose weights factor as an outer product ``a b^T`` (school, laplace9) is applied as
  two 3-term passes, columns then rows, then the centre is corrected: 6 passes instead of 9;
* otherwise neighbours with equal weights are summed first and multiplied once.
"""

from __future__ import annotations

import numpy as np

from ..physics import Problem, Stencil
from .base import PaddedNumpyBackend

_SHIFTS = {-1: slice(None, -2), 0: slice(1, -1), 1: slice(2, None)}


def separable(stencil: Stencil) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(a, b, c) such that lap(X) = sum_ij a[i] b[j] X[i, j] - c X[centre], or None when the
    neighbour weights are no outer product a b^T whatever the centre (e.g. laplace5)."""
    w = stencil.weights
    corners = [(i, j) for i in (0, 2) for j in (0, 2) if w[i, j] != 0]
    if not corners:
        return None
    i0, j0 = corners[0]
    a = w[:, j0].copy()
    b = w[i0, :] / w[i0, j0]
    full = np.outer(a, b)
    off = np.ones((3, 3), dtype=bool)
    off[1, 1] = False
    if not np.array_equal(full[off], w[off]):
        return None
    return a, b, float(full[1, 1] - w[1, 1])


class NumpyBackend(PaddedNumpyBackend):
    name = "numpy"

    def __init__(self, problem: Problem, threads: int | None = None) -> None:
        super().__init__(problem, threads)
        dt_ = problem.dtype
        nr, nc = problem.shape
        self.U2 = np.zeros_like(self.U)
        self.V2 = np.zeros_like(self.V)
        self.L = np.empty((nr, nc), dt_)  # Laplacian, then the increment
        self.T = np.empty((nr, nc), dt_)  # scratch
        self.UVV = np.empty((nr, nc), dt_)
        self.sep = separable(problem.stencil)
        if self.sep is not None:
            self.A = np.empty((nr, nc + 2), dt_)  # column pass of the separable stencil
            # scratch for weighted column terms; not needed (and not allocated) for all-ones
            self.B = self.A if np.all(self.sep[0][self.sep[0] != 0] == 1) else np.empty_like(self.A)
        groups: dict[float, list[tuple[int, int]]] = {}
        for di, dj, w in problem.stencil.neighbour_weights():
            groups.setdefault(w, []).append((di, dj))
        self.groups = [(dt_.type(w), offs) for w, offs in groups.items()]
        p = problem.params
        self.c = {name: dt_.type(x) for name, x in
                  dict(Du=p.Du, Dv=p.Dv, F=p.F, Fk=p.F + p.k, dt=p.dt, one=1.0,
                       centre=-problem.stencil.center).items()}
        if self.sep is not None:
            a, b, c = self.sep
            self.sep = (a.astype(dt_), b.astype(dt_), dt_.type(c))
        if self.deficit is not None:
            d = self.deficit
            self.strip_tmp = [np.empty_like(s) for s in (d.top, d.bottom, d.left, d.right)]

    # -- Laplacian ---------------------------------------------------------------------------

    def _sum3(self, terms: list[np.ndarray], coef: np.ndarray, out: np.ndarray,
              scratch: np.ndarray) -> None:
        """out = sum coef[i] * terms[i], skipping zero weights and multiplications by one."""
        first = True
        for t, c in zip(terms, coef, strict=True):
            if c == 0:
                continue
            if first:
                np.multiply(t, c, out=out) if c != 1 else np.copyto(out, t)
                first = False
            elif c == 1:
                np.add(out, t, out=out)
            else:
                np.multiply(t, c, out=scratch)
                np.add(out, scratch, out=out)

    def laplacian(self, X: np.ndarray) -> None:
        """Interior Laplacian of padded X into self.L (uses T and A as scratch)."""
        L, T = self.L, self.T
        centre = X[1:-1, 1:-1]
        if self.sep is not None:
            a, b, c = self.sep
            A = self.A
            self._sum3([X[:-2, :], X[1:-1, :], X[2:, :]], a, A, self.B)
            self._sum3([A[:, :-2], A[:, 1:-1], A[:, 2:]], b, L, T)
            np.multiply(centre, c, out=T)
            np.subtract(L, T, out=L)
        else:
            for n, (w, offs) in enumerate(self.groups):
                dst = L if n == 0 else T
                di, dj = offs[0]
                np.copyto(dst, X[_SHIFTS[di], _SHIFTS[dj]])
                for di, dj in offs[1:]:
                    np.add(dst, X[_SHIFTS[di], _SHIFTS[dj]], out=dst)
                if w != 1:
                    np.multiply(dst, w, out=dst)
                if n:
                    np.add(L, T, out=L)
            np.multiply(centre, self.c["centre"], out=T)
            np.subtract(L, T, out=L)
        if self.deficit is not None:
            d = self.deficit
            for strip, buf, lap, x in zip(
                    (d.top, d.bottom, d.left, d.right), self.strip_tmp,
                    (L[0, :], L[-1, :], L[1:-1, 0], L[1:-1, -1]),
                    (centre[0, :], centre[-1, :], centre[1:-1, 0], centre[1:-1, -1]),
                    strict=True):
                np.multiply(strip, x, out=buf)
                np.add(lap, buf, out=lap)

    # -- time step ---------------------------------------------------------------------------

    def step(self) -> None:
        c, L, T, UVV = self.c, self.L, self.T, self.UVV
        u, v = self.U[1:-1, 1:-1], self.V[1:-1, 1:-1]
        u2, v2 = self.U2[1:-1, 1:-1], self.V2[1:-1, 1:-1]
        np.multiply(v, v, out=UVV)
        np.multiply(UVV, u, out=UVV)
        # u' = u + dt * (Du * lap(u) - u v^2 + F (1 - u))
        self.laplacian(self.U)
        np.multiply(L, c["Du"], out=L)
        np.subtract(L, UVV, out=L)
        np.subtract(c["one"], u, out=T)
        np.multiply(T, c["F"], out=T)
        np.add(L, T, out=L)
        if c["dt"] != 1:
            np.multiply(L, c["dt"], out=L)
        np.add(u, L, out=u2)
        # v' = v + dt * (Dv * lap(v) + u v^2 - (F + k) v)
        self.laplacian(self.V)
        np.multiply(L, c["Dv"], out=L)
        np.add(L, UVV, out=L)
        np.multiply(v, c["Fk"], out=T)
        np.subtract(L, T, out=L)
        if c["dt"] != 1:
            np.multiply(L, c["dt"], out=L)
        np.add(v, L, out=v2)
        self.U, self.U2 = self.U2, self.U
        self.V, self.V2 = self.V2, self.V

    def advance(self, nsteps: int) -> None:
        for _ in range(nsteps):
            self.fill_ghosts()
            self.step()
