"""Initial states (docs/model.md §3). Each returns (u, v) float64 arrays of the grid's shape."""

from __future__ import annotations

import numpy as np

from ..errors import GrayScottError

INITIAL_STATES: tuple[str, ...] = ("school", "noise")


def school_box_bounds(shape: tuple[int, int]) -> tuple[slice, slice]:
    """Rows [nbrow*7//16 - 4, nbrow*8//16 - 4) and cols [nbcol*7//16, nbcol*8//16), clamped at 0."""
    nr, nc = shape
    rows = slice(max(nr * 7 // 16 - 4, 0), max(nr * 8 // 16 - 4, 0))
    cols = slice(nc * 7 // 16, nc * 8 // 16)
    return rows, cols


def school(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """U = 1, V = 0 everywhere, then U = 0, V = 1 in the school's box. No noise."""
    u = np.ones(shape)
    v = np.zeros(shape)
    rows, cols = school_box_bounds(shape)
    u[rows, cols] = 0.0
    v[rows, cols] = 1.0
    return u, v


def noise(shape: tuple[int, int], seed: int = 0, amplitude: float = 0.1,
          ) -> tuple[np.ndarray, np.ndarray]:
    """The school's box plus reproducible uniform noise of the given amplitude (ours)."""
    u, v = school(shape)
    rng = np.random.default_rng(seed)
    u += amplitude * rng.uniform(-1, 1, shape)
    v += amplitude * rng.uniform(-1, 1, shape)
    return np.clip(u, 0, 1), np.clip(v, 0, 1)


def make_initial(name: str, shape: tuple[int, int], seed: int = 0,
                 ) -> tuple[np.ndarray, np.ndarray]:
    if name == "school":
        return school(shape)
    if name == "noise":
        return noise(shape, seed)
    raise GrayScottError(f"unknown initial state {name!r}; choose one of: "
                         f"{', '.join(INITIAL_STATES)}")
