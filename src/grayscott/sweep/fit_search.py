"""The global part of the fit: the loss of many (F, k) at once, by the package's batched sweep,
on a coarse grid over a region and then on finer grids around the best points.

Why a grid first: over long runs the loss is a plateau with a narrow well at the answer (the
pattern's spots move chaotically with the rates, docs/fitting.md), so a gradient only helps once
inside the well. A batched sweep evaluates hundreds of members for the price of a few gradients,
and zooming in around the best few finds the well without knowing where it is.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from .fit_model import pattern_loss

#: Pearson's patterned region of the (F, k) plane (his figure spans F 0..0.08, k 0.03..0.07;
#: patterns live between the saddle-node line and k ~ 0.07): (F0, F1), (k0, k1).
PATTERNED = ((0.01, 0.07), (0.045, 0.07))


@dataclass
class Search:
    """The best points found, best first, their losses, and the cost."""

    points: np.ndarray  # (n, 2) of (F, k)
    losses: np.ndarray
    members: int  # simulations run
    spacing: tuple[float, float]  # of the finest grid


def batched_losses(pairs: Sequence[tuple[float, float]], steps: int, problem: object,
                   state: tuple[np.ndarray, np.ndarray], target: np.ndarray, loss: str,
                   backend: str) -> np.ndarray:
    """The loss of every (F, k) in ``pairs`` (inf where the member blew up): one batched sweep
    (:func:`grayscott.sweep.core.run_pieces`), then the loss of all members in one jitted call."""
    from .core import run_pieces
    from .planning import available_memory, member_bytes, plan_pieces

    pairs = [(float(f), float(k)) for f, k in pairs]
    size = plan_pieces(len(pairs), member_bytes(problem.shape, problem.dtype.itemsize, backend),
                       available_memory() // 2, None)
    out = np.empty(len(pairs))
    tj = jnp.asarray(target, jnp.float32)
    for start, v in run_pieces(pairs, steps, problem, state, backend, size):
        values = np.asarray(_many_losses(jnp.asarray(v, jnp.float32), tj, loss), np.float64)
        out[start:start + len(v)] = np.where(np.isfinite(values), values, np.inf)
    return out


@functools.partial(jax.jit, static_argnames="loss")
def _many_losses(v: jax.Array, target: jax.Array, loss: str) -> jax.Array:
    """The loss of every member of ``v`` (B, R, C): compiled once per shape and loss."""
    return jax.vmap(lambda x: pattern_loss(x, target, loss))(v)


def grid(center_or_region: tuple, n: tuple[int, int], half: tuple[float, float] | None = None,
         ) -> list[tuple[float, float]]:
    """``n[0] x n[1]`` (F, k) points: over a region ((F0, F1), (k0, k1)), or, with ``half``,
    centred on a point and reaching ``half`` away; rates < 0 are dropped."""
    if half is None:
        (f0, f1), (k0, k1) = center_or_region
    else:
        (f, k), (hf, hk) = center_or_region, half
        f0, f1, k0, k1 = f - hf, f + hf, k - hk, k + hk
    return [(f, k) for f in np.linspace(f0, f1, n[0]) for k in np.linspace(k0, k1, n[1])
            if f >= 0 and k >= 0]


def _best(points: np.ndarray, losses: np.ndarray, keep: int, apart: np.ndarray) -> list[int]:
    """Indices of the ``keep`` lowest finite losses, no two closer than ``apart`` (per axis), so
    the candidates are distinct wells rather than one well's neighbours."""
    chosen: list[int] = []
    for i in np.argsort(losses):
        if not np.isfinite(losses[i]) or len(chosen) == keep:
            break
        if all(np.any(np.abs(points[i] - points[j]) >= apart) for j in chosen):
            chosen.append(int(i))
    return chosen


def search(steps: int, problem: object, state: tuple[np.ndarray, np.ndarray],
           target: np.ndarray, loss: str, backend: str, *,
           region: tuple = PATTERNED, n: tuple[int, int] = (13, 13), zooms: int = 4,
           zoom_n: int = 5, keep: int = 3,
           extra: Sequence[tuple[float, float]] = ()) -> Search:
    """Coarse grid over ``region`` (plus the ``extra`` points, e.g. a start), then ``zooms``
    times: a ``zoom_n x zoom_n`` grid reaching one former grid spacing around each of the
    ``keep`` best distinct points (spacing / (zoom_n // 2) each time). Returns every point
    evaluated, best first."""
    (f0, f1), (k0, k1) = region
    spacing = np.array([(f1 - f0) / max(n[0] - 1, 1), (k1 - k0) / max(n[1] - 1, 1)])
    pairs = grid(region, n) + [tuple(map(float, p)) for p in extra]
    points = np.array(pairs, np.float64)
    losses = batched_losses(pairs, steps, problem, state, target, loss, backend)
    for _ in range(zooms):
        best = _best(points, losses, keep, spacing)
        new: list[tuple[float, float]] = []
        for i in best:
            new += grid(tuple(points[i]), (zoom_n, zoom_n), tuple(spacing))
        spacing = spacing / max(zoom_n // 2, 1)
        if not new:
            break
        points = np.concatenate([points, np.array(new)])
        losses = np.concatenate([losses, batched_losses(new, steps, problem, state, target,
                                                        loss, backend)])
    order = np.argsort(losses, kind="stable")
    return Search(points[order], losses[order], len(points),
                  (float(spacing[0]), float(spacing[1])))
