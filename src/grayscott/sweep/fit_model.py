"""The differentiable model of the fit: V after some steps as a function of (F, k) (JAX), and
the distances between two V fields that the fit minimises.

``jax.checkpoint`` on blocks of steps keeps the memory of the backward pass at
O(blocks + block length) fields instead of O(steps).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..backends._jax_common import deficit_table, full_step, with_ghosts
from ..backends.jax_generic import kernel
from ..errors import GrayScottError
from ..physics import Parameters, deficit, get_stencil
from ..physics.borders import FIXED_GHOST

LOSSES = ("multiscale", "spectrum", "pixels")


def simulate(F: Any, k: Any, u0: Any, v0: Any, steps: int, params: Parameters | None = None,
             stencil: Any = "school", border: str = "school", block: int = 50) -> jax.Array:
    """V after ``steps`` steps, as a differentiable function of F and k (JAX, float32).

    The step is the ``jax`` backend's (:mod:`grayscott.backends.jax_generic`), with (F, k)
    traced. The loop is ``steps // block`` checkpointed blocks of ``block`` steps (a scan of
    scans: reverse-mode differentiable, memory O(steps / block + block)), then the rest.
    """
    params = params or Parameters()
    st = get_stencil(stencil)
    shape = tuple(np.shape(u0))
    d = deficit(st, border, shape)
    table = None if d is None else jnp.asarray(deficit_table(d, shape), jnp.float32)
    step = full_step(kernel, border, False, "concat")
    w = jnp.asarray(st.weights, jnp.float32)
    rates = jnp.stack([jnp.float32(params.Du), jnp.float32(params.Dv), F, F + k,
                       jnp.float32(params.dt)]).astype(jnp.float32)
    U = with_ghosts(jnp.asarray(u0, jnp.float32), border, FIXED_GHOST[0])
    V = with_ghosts(jnp.asarray(v0, jnp.float32), border, FIXED_GHOST[1])

    def one(c: tuple[jax.Array, jax.Array], _: Any) -> tuple[tuple[jax.Array, jax.Array], None]:
        return step(c[0], c[1], (w, rates), table), None

    @jax.checkpoint
    def run_block(c: tuple[jax.Array, jax.Array], _: Any,
                  ) -> tuple[tuple[jax.Array, jax.Array], None]:
        return lax.scan(one, c, None, length=block)[0], None

    c = (U, V)
    if steps // block:
        c = lax.scan(run_block, c, None, length=steps // block)[0]
    if steps % block:
        c = lax.scan(one, c, None, length=steps % block)[0]
    return c[1][1:-1, 1:-1]


def _pyramid(x: jax.Array, levels: int) -> list[jax.Array]:
    """x and its 2 x 2 average-pooled versions: the fine and the coarse structure."""
    out = [x]
    for _ in range(levels):
        r, c = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
        if r < 2 or c < 2:
            break
        x = x[:r, :c].reshape(r // 2, 2, c // 2, 2).mean(axis=(1, 3))
        out.append(x)
    return out


def radial_spectrum(x: jax.Array, bins: int = 16) -> jax.Array:
    """Power of ``x - mean`` averaged over rings of |wavenumber|: what wavelengths the pattern
    has and how strongly, whatever the position of its spots."""
    p = jnp.abs(jnp.fft.rfft2(x - x.mean())) ** 2 / x.size
    fy = np.fft.fftfreq(x.shape[0])[:, None]
    fx = np.fft.rfftfreq(x.shape[1])[None, :]
    ring = np.minimum((np.hypot(fy, fx) / 0.5 * bins).astype(int), bins - 1)
    onehot = jnp.asarray(np.eye(bins)[ring.ravel()], jnp.float32)  # (cells, bins)
    counts = onehot.sum(axis=0)
    return (p.ravel() @ onehot) / jnp.maximum(counts, 1.0)


def pattern_loss(v: jax.Array, target: jax.Array, kind: str = "multiscale",
                 levels: int = 4) -> jax.Array:
    """A distance between two V fields, normalised by the target's energy.

    ``multiscale``: mean squared differences of the fields and of their 2x, 4x, 8x, 16x
    averaged versions, summed: coarse levels see a spot that is a little off instead of two
    unrelated pixels, so the loss is smoother in (F, k) than ``pixels`` (the plain MSE).
    ``spectrum``: squared differences of log radial power spectra (position-blind).
    """
    scale = jnp.mean(target ** 2) + 1e-12
    if kind == "pixels":
        return jnp.mean((v - target) ** 2) / scale
    if kind == "multiscale":
        return sum(jnp.mean((a - b) ** 2) for a, b in
                   zip(_pyramid(v, levels), _pyramid(target, levels), strict=True)) / scale
    if kind == "spectrum":
        a, b = radial_spectrum(v), radial_spectrum(target)
        return jnp.mean((jnp.log1p(a / scale) - jnp.log1p(b / scale)) ** 2) + \
            (v.mean() - target.mean()) ** 2 / scale
    raise GrayScottError(f"unknown loss {kind!r}; choose one of: {', '.join(LOSSES)}")
