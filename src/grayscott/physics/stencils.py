"""3x3 stencils and their stability bound (docs/model.md §2 and §4).

A stencil is the 8 neighbour weights ``w[di + 1, dj + 1]`` applied to ``x[i + di, j + dj]`` as

    lap(x)[i, j] = sum_n w_n * (x[n] - x[i, j])

so the centre coefficient is always ``-sum(w)`` and the 3x3 array handed to users has it in the
middle. The orientation is that of a correlation (not a flipped convolution); it only matters for
asymmetric user stencils.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import GrayScottError, UnstableError

#: The 8 neighbour offsets, row-major, centre excluded.
OFFSETS: tuple[tuple[int, int], ...] = tuple(
    (di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)
)


@dataclass(frozen=True)
class Stencil:
    """A named 3x3 stencil; ``weights`` is 3x3 float64, centre set to ``-sum(neighbours)``."""

    name: str
    weights: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        w = np.array(self.weights, dtype=np.float64)
        if w.shape != (3, 3):
            raise GrayScottError(f"a stencil is a 3x3 array, got shape {w.shape}")
        if not np.all(np.isfinite(w)):
            raise GrayScottError("stencil weights must be finite")
        neighbours = w.sum() - w[1, 1]
        # Accept the centre written either as 0 or as -sum(neighbours): both conventions mean
        # the same Laplacian-like operator. Anything else would add a reaction term.
        if w[1, 1] != 0 and not np.isclose(w[1, 1], -neighbours, rtol=1e-12, atol=1e-12):
            raise GrayScottError(
                "the centre weight of a stencil must be 0 or minus the sum of the 8 neighbour "
                f"weights ({-neighbours:g}), got {w[1, 1]:g}"
            )
        w[1, 1] = -neighbours
        w.setflags(write=False)
        object.__setattr__(self, "weights", w)

    @property
    def centre(self) -> float:
        """Centre coefficient ``-sum(w_n)`` of an interior cell."""
        return float(self.weights[1, 1])

    def neighbour_weights(self) -> list[tuple[int, int, float]]:
        """(di, dj, w) for the non-zero neighbour weights."""
        return [(di, dj, float(self.weights[di + 1, dj + 1])) for di, dj in OFFSETS
                if self.weights[di + 1, dj + 1] != 0.0]

    def symbol(self, n: int = 257) -> np.ndarray:
        """Fourier symbol sum_n w_n (exp(i theta.n) - 1) sampled on an n x n grid of [0, 2 pi).

        Its values are the eigenvalues of the stencil on a periodic grid; an odd ``n`` plus the
        explicit points 0 and pi keeps the extreme points of every symmetric stencil.
        """
        theta = np.concatenate([np.linspace(0.0, 2 * np.pi, n, endpoint=False), [np.pi]])
        a, b = np.meshgrid(theta, theta, indexing="ij")
        lam = np.zeros_like(a, dtype=np.complex128)
        for di, dj, w in self.neighbour_weights():
            lam += w * (np.exp(1j * (di * a + dj * b)) - 1.0)
        return lam

    def min_eigenvalue(self) -> float:
        """Most negative real part of the symbol (-12 for the school stencil)."""
        return float(self.symbol().real.min())

    def stability_limit(self) -> float:
        """Largest ``dt * D`` for which explicit Euler damps every Fourier mode of diffusion.

        ``|1 + s * lam| <= 1`` for every eigenvalue ``lam`` gives ``s <= -2 Re(lam) / |lam|^2``,
        which is ``2 / |lam_min|`` for a symmetric stencil. 0 means no step is stable.
        Computed once per set of weights (80 ms: every command checks it).
        """
        key = self.weights.tobytes()
        if key not in _LIMITS:
            _LIMITS[key] = self._stability_limit()
        return _LIMITS[key]

    def _stability_limit(self) -> float:
        lam = self.symbol().ravel()
        lam = lam[np.abs(lam) > 1e-12]
        if lam.size == 0:
            return float("inf")
        if np.any(lam.real > 1e-12):
            return 0.0
        return float(np.min(-2.0 * lam.real / np.abs(lam) ** 2))

    def describe(self) -> str:
        if self.name != "custom":
            return self.name
        return "custom " + np.array2string(self.weights, separator=",").replace("\n", "")


#: stability_limit of each set of weights seen (their bytes).
_LIMITS: dict[bytes, float] = {}


def _named() -> dict[str, np.ndarray]:
    return {
        "school": np.array([[1, 1, 1], [1, -8, 1], [1, 1, 1]], dtype=np.float64),
        "laplace5": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64),
        "laplace9": np.array([[0.25, 0.5, 0.25], [0.5, -3, 0.5], [0.25, 0.5, 0.25]],
                             dtype=np.float64),
    }


STENCILS: tuple[str, ...] = tuple(_named())


def get_stencil(spec: str | Stencil | np.ndarray | list) -> Stencil:
    """A named stencil (``school``, ``laplace5``, ``laplace9``), a Stencil, or a 3x3 array."""
    if isinstance(spec, Stencil):
        return spec
    if isinstance(spec, str):
        named = _named()
        if spec not in named:
            raise GrayScottError(
                f"unknown stencil {spec!r}; choose one of: {', '.join(STENCILS)} "
                "(or pass a 3x3 weight array from Python)"
            )
        return Stencil(spec, named[spec])
    return Stencil("custom", np.asarray(spec, dtype=np.float64))


def check_stability(stencil: Stencil, dt: float, Du: float, Dv: float) -> None:
    """Refuse a time step above the explicit-Euler bound of docs/model.md §4."""
    limit = stencil.stability_limit()
    d = max(Du, Dv)
    if d == 0:
        return
    if limit == 0.0:
        raise UnstableError(
            f"stencil {stencil.describe()} amplifies some mode for every dt; "
            "use --allow-unstable to run anyway"
        )
    if dt * d > limit * (1 + 1e-12):
        raise UnstableError(
            f"dt={dt:g} is unstable for stencil {stencil.describe()}: explicit Euler needs "
            f"dt * max(Du, Dv) <= {limit:.6g}, i.e. dt <= {limit / d:.6g} "
            "(use --allow-unstable to run anyway)"
        )

