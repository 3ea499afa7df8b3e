"""The model written straight from docs/model.md, for tests: slow, obvious, float64 inside.

``lap(x)[c] = sum over neighbours n inside the grid of w_n (x[n] - x[c])``, where "inside" and
the neighbour values follow the border rule. No ghost ring, no deficit strips: an independent
oracle for the kernels, which use both.
"""

from __future__ import annotations

import numpy as np

from .borders import FIXED_GHOST
from .problem import Problem
from .stencils import OFFSETS, Stencil


def laplacian(x: np.ndarray, stencil: Stencil, border: str, outside_value: float = 0.0,
              ) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    nr, nc = x.shape
    lap = np.zeros_like(x)
    for di, dj in OFFSETS:
        w = stencil.weights[di + 1, dj + 1]
        if w == 0:
            continue
        if border == "periodic":
            neighbour = np.roll(x, (-di, -dj), axis=(0, 1))
            lap += w * (neighbour - x)
            continue
        padded = np.pad(x, 1, constant_values=np.nan)
        neighbour = padded[1 + di:1 + di + nr, 1 + dj:1 + dj + nc]
        inside = ~np.isnan(neighbour)
        if border == "school":
            lap += np.where(inside, w * (neighbour - x), 0.0)
        else:  # fixed
            lap += w * (np.where(inside, neighbour, outside_value) - x)
    return lap


def step(u: np.ndarray, v: np.ndarray, problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """One explicit-Euler step in float64 (docs/model.md §1)."""
    p = problem.params
    F, k = p.F, p.k
    if problem.rate_map is not None:  # F down the rows, k across the columns
        F = np.asarray(problem.rate_map.feed)[:, None]
        k = np.asarray(problem.rate_map.kill)[None, :]
    lu = laplacian(u, problem.stencil, problem.border, FIXED_GHOST[0])
    lv = laplacian(v, problem.stencil, problem.border, FIXED_GHOST[1])
    uvv = u * v * v
    du = p.Du * lu - uvv + F * (1.0 - u)
    dv = p.Dv * lv + uvv - (F + k) * v
    return u + p.dt * du, v + p.dt * dv


def run(u: np.ndarray, v: np.ndarray, problem: Problem, nsteps: int,
        round_to_dtype: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``nsteps`` reference steps; with ``round_to_dtype`` each step is rounded to the problem's
    dtype, which is what a float32 backend stores between steps."""
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    for _ in range(nsteps):
        u, v = step(u, v, problem)
        if round_to_dtype:
            u = u.astype(problem.dtype).astype(np.float64)
            v = v.astype(problem.dtype).astype(np.float64)
    return u, v
