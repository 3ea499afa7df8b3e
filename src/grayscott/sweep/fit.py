"""Fitting F and k to a pattern by gradient descent through the simulation (JAX).

:func:`fit_rates` runs the model in JAX from a known initial state, compares its V after
``steps`` steps with the target through a smooth loss, and follows ``jax.grad`` of that loss
with respect to (F, k) back through every time step. ``jax.checkpoint`` on blocks of steps keeps
the memory of the backward pass at O(blocks + block length) fields instead of O(steps).

What it can recover
    (F, k) of a pattern grown by *this* model (same Du, Dv, dt, stencil, border) from a *known*
    initial state over a *known* number of steps, when the start lies in the same regime as the
    target (the same kind of pattern), typically within a few 1e-3 of it. Measured on a 48 x 48
    grid, 400 steps from the noise state, truth (0.035, 0.060), start (0.031, 0.057): both rates
    to about 1e-5 in 13 iterations, ~2-4 s after ~5 s of compilation on 2 busy cores
    (``tests/test_fit.py`` asserts 1e-3).

What it cannot
    * Rates across a bifurcation: if the start's pattern is qualitatively different (spots vs
      stripes vs nothing) the loss is flat or misleading there and descent stalls.
    * Long chaotic runs (alpha, beta, chaos presets): the gradient of a chaotic trajectory grows
      exponentially with the number of steps and stops being informative; fit over few steps.
    * A pattern of unknown age or unknown initial state with the pixel-based losses: a pattern
      is a function of (F, k) *and* of the initial state and time. ``loss="spectrum"`` compares
      radially averaged power spectra (wavelength and contrast), which do not depend on where
      the spots are, and helps when only the seed's noise differs; it is blind to anything but
      scale and amplitude.
    * A unique answer where two rates give the same picture: along some directions of the
      plane patterns change slowly and the fit only pins down a combination of F and k.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
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
from ..physics.problem import check_int, check_shape
from .core import _start

LOSSES = ("multiscale", "spectrum", "pixels")


@dataclass
class FitResult:
    """The rates found, and how the descent went (one entry per iteration)."""

    F: float
    k: float
    loss: float
    history: dict[str, list[float]] = field(default_factory=dict)  # "loss", "F", "k"
    seconds: float = 0.0
    compile_seconds: float = 0.0
    iterations: int = 0


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


def fit_rates(target: np.ndarray, steps: int, F0: float = 0.03, k0: float = 0.06, *,
              initial: str = "school", seed: int = 0,
              state: tuple[np.ndarray, np.ndarray] | None = None,
              params: Parameters | None = None, stencil: Any = "school",
              border: str = "school", loss: str = "multiscale", iterations: int = 30,
              first_step: float = 2e-3, block: int = 50, tol: float = 1e-7,
              callback: Any = None) -> FitResult:
    """Recover (F, k) from ``target`` (V after ``steps`` steps) by gradient descent.

    The simulation starts from ``state`` (or ``initial`` with ``seed``, as ``grayscott run``),
    with Du, Dv, dt from ``params``, and runs ``steps`` steps in JAX. ``jax.grad`` of
    :func:`pattern_loss` (``loss``) with respect to (F, k), through every step, drives a
    quasi-Newton descent (BFGS: the curvature is learnt from successive gradients, which
    matters because the loss is a narrow curved valley, far steeper across k than along F)
    with a backtracking line search; the first move is ``first_step`` long in rate units.
    It stops after ``iterations`` accepted steps, when the loss falls below ``tol`` or when no
    step decreases it. F and k stay >= 0. ``callback(i, F, k, loss)`` is called at every
    accepted point. See the module docstring for what this can and cannot recover.
    """
    target = np.asarray(target, np.float32)
    shape = check_shape(target.shape)
    steps = check_int("steps", steps)
    block = check_int("block", block)
    iterations = check_int("iterations", iterations)
    if loss not in LOSSES:
        raise GrayScottError(f"unknown loss {loss!r}; choose one of: {', '.join(LOSSES)}")
    params = params or Parameters()
    Parameters(F=F0, k=k0)  # the start must be valid rates
    u0, v0 = _start(state, initial, shape, seed)  # a state must have the target's shape
    target_j = jnp.asarray(target)

    def objective(theta: jax.Array) -> jax.Array:
        v = simulate(theta[0], theta[1], u0, v0, steps, params, stencil, border, block)
        return pattern_loss(v, target_j, loss)

    jitted = jax.jit(jax.value_and_grad(objective))

    def value_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, g = jitted(jnp.asarray(x, jnp.float32))
        return float(value), np.asarray(g, np.float64)

    x = np.array([F0, k0], np.float64)
    t0 = time.perf_counter()
    f, g = value_and_grad(x)
    compile_seconds = time.perf_counter() - t0
    history: dict[str, list[float]] = {"loss": [], "F": [], "k": []}

    def record(i: int, x: np.ndarray, f: float) -> None:
        history["loss"].append(f)
        history["F"].append(float(x[0]))
        history["k"].append(float(x[1]))
        if callback is not None:
            callback(i, float(x[0]), float(x[1]), f)

    record(0, x, f)
    gnorm = np.linalg.norm(g)
    H = np.eye(2) * (first_step / gnorm if gnorm > 0 else 1.0)  # inverse Hessian estimate
    t0 = time.perf_counter()
    it = 0
    while it < iterations and f > tol and np.isfinite(f) and gnorm > 0:
        p = -H @ g
        if g @ p >= 0:  # not a descent direction: restart from the gradient
            H = np.eye(2) * (first_step / np.linalg.norm(g))
            p = -H @ g
        t, accepted = 1.0, False
        for _ in range(12):  # Armijo backtracking
            x_new = np.maximum(x + t * p, 0.0)
            f_new, g_new = value_and_grad(x_new)
            if np.isfinite(f_new) and f_new <= f + 1e-4 * (g @ (x_new - x)):
                accepted = True
                break
            t /= 2
        if not accepted:
            break
        s_, y = x_new - x, g_new - g
        if s_ @ y > 1e-12 * np.linalg.norm(s_) * np.linalg.norm(y):
            rho = 1.0 / (s_ @ y)
            eye = np.eye(2)
            H = (eye - rho * np.outer(s_, y)) @ H @ (eye - rho * np.outer(y, s_)) + \
                rho * np.outer(s_, s_)
        x, f, g = x_new, f_new, g_new
        gnorm = np.linalg.norm(g)
        it += 1
        record(it, x, f)
    return FitResult(F=float(x[0]), k=float(x[1]), loss=f, history=history,
                     seconds=time.perf_counter() - t0, compile_seconds=compile_seconds,
                     iterations=it)
