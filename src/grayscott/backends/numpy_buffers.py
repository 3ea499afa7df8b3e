"""``numpy``: the best plain NumPy can do. Same arithmetic as ``numpy-school``, but every
operation writes into a preallocated buffer (``out=``), so a warmed-up step allocates nothing,
and the Laplacian takes as few passes over memory as the stencil allows:

* a stencil whose weights factor as an outer product ``a b^T`` (school, laplace9) is applied as
  two 3-term passes, columns then rows, then the centre is corrected: 6 passes instead of 9;
* otherwise neighbours with equal weights are summed first and multiplied once;
* every operand is a contiguous 1-D "band" of the padded field, from its cell (1, 1) to
  (nbrow, nbcol): a neighbour at (di, dj) is the same band shifted by ``di * (nbcol + 2) + dj``.
  The band also covers the ghost columns between rows, which get meaningless values that the
  next ghost fill overwrites. Strided 2-D views would make NumPy allocate an iteration buffer
  per operand per call; contiguous bands need none and stream faster.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..physics import Problem, Stencil
from .base import PaddedNumpyBackend


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

    def __init__(self, problem: Problem, **options: Any) -> None:
        super().__init__(problem, **options)
        dt_ = problem.dtype
        nr, nc = problem.shape
        self.W = W = nc + 2  # padded row length: a shift of one row in the flat field
        self.N = N = nr * W - 2  # band length: padded cells (1, 1) .. (nr, nc)
        self.U2 = np.zeros_like(self.U)
        self.V2 = np.zeros_like(self.V)
        # Band buffers have nr * W cells so that .reshape(nr, W)[:, :nc] is the interior.
        self.L = np.empty(nr * W, dt_)  # Laplacian, then the increment
        self.T = np.empty(nr * W, dt_)  # scratch
        self.UVV = np.empty(nr * W, dt_)
        self.sep = separable(problem.stencil)
        if self.sep is not None:
            a, b, c = self.sep
            self.sep = (a.astype(dt_), b.astype(dt_), dt_.type(c))
            self.A = np.empty(N + 2, dt_)  # column pass, one extra cell each side
            # scratch for weighted column terms; all-ones (school) needs none
            self.B = self.A if np.all(a[a != 0] == 1) else np.empty_like(self.A)
        groups: dict[float, list[tuple[int, int]]] = {}
        for di, dj, w in problem.stencil.neighbour_weights():
            groups.setdefault(w, []).append((di, dj))
        self.groups = [(dt_.type(w), offs) for w, offs in groups.items()]
        p = problem.params
        self.c = {name: dt_.type(x) for name, x in
                  dict(Du=p.Du, Dv=p.Dv, F=p.F, Fk=p.F + p.k, dt=p.dt, one=1.0,
                       centre=-problem.stencil.centre).items()}
        if self.deficit is not None:
            d = self.deficit
            self.strip_tmp = [np.empty_like(s) for s in (d.top, d.bottom, d.left, d.right)]

    def band(self, X: np.ndarray, di: int = 0, dj: int = 0) -> np.ndarray:
        """The band of padded X shifted by (di, dj): contiguous, length N."""
        start = (1 + di) * self.W + 1 + dj
        return X.reshape(-1)[start:start + self.N]

    def interior(self, buf: np.ndarray) -> np.ndarray:
        """The (nbrow, nbcol) interior cells of a band buffer, as a 2-D view."""
        nr, nc = self.problem.shape
        return buf.reshape(nr, self.W)[:, :nc]

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
        """Laplacian of padded X on the band, into self.L (T, A, B are scratch)."""
        N = self.N
        L, T = self.L[:N], self.T[:N]
        centre = self.band(X)
        if self.sep is not None:
            a, b, c = self.sep
            A, W, xf = self.A, self.W, X.reshape(-1)
            # column pass on the band widened by one cell each side
            self._sum3([xf[0:N + 2], xf[W:W + N + 2], xf[2 * W:2 * W + N + 2]], a, A, self.B)
            self._sum3([A[0:N], A[1:N + 1], A[2:N + 2]], b, L, T)
            np.multiply(centre, c, out=T)
            np.subtract(L, T, out=L)
        else:
            for n, (w, offs) in enumerate(self.groups):
                dst = L if n == 0 else T
                np.copyto(dst, self.band(X, *offs[0]))
                for di, dj in offs[1:]:
                    np.add(dst, self.band(X, di, dj), out=dst)
                if w != 1:
                    np.multiply(dst, w, out=dst)
                if n:
                    np.add(L, T, out=L)
            np.multiply(centre, self.c["centre"], out=T)
            np.subtract(L, T, out=L)
        if self.deficit is not None:
            d, lap, x = self.deficit, self.interior(self.L), X[1:-1, 1:-1]
            for strip, buf, lap_s, x_s in zip(
                    (d.top, d.bottom, d.left, d.right), self.strip_tmp,
                    (lap[0, :], lap[-1, :], lap[1:-1, 0], lap[1:-1, -1]),
                    (x[0, :], x[-1, :], x[1:-1, 0], x[1:-1, -1]), strict=True):
                np.multiply(strip, x_s, out=buf)  # O(perimeter): strided is fine here
                np.add(lap_s, buf, out=lap_s)

    # -- time step ---------------------------------------------------------------------------

    def step(self) -> None:
        N, c = self.N, self.c
        L, T, UVV = self.L[:N], self.T[:N], self.UVV[:N]
        u, v = self.band(self.U), self.band(self.V)
        u2, v2 = self.band(self.U2), self.band(self.V2)
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

    def _advance(self, nsteps: int) -> None:
        for _ in range(nsteps):
            self.fill_ghosts()
            self.step()
