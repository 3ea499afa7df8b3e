"""Fitting F and k to a pattern: a batched search, then gradient descent through the simulation
(JAX), with a result that says whether it worked.

:func:`fit_rates` compares V after ``steps`` steps of the model, from a known initial state, with
the target through a smooth loss (:mod:`.fit_model`). The default strategy (``"robust"``):

1. the loss of a coarse grid over Pearson's patterned region (and of the start, if given), by
   the package's batched sweep, then of finer grids around the best few points
   (:mod:`.fit_search`);
2. BFGS on ``jax.grad`` of the loss through every time step from the best few distinct points
   (multi-start, :mod:`.fit_descent`), best first, until one converges; the lowest loss wins.

``"local"`` is step 2 alone, from the start. The result is *converged* when the descent reached a
stationary point (:data:`.fit_descent.STATIONARY`) whose loss is <= ``loss_tol``: a model that
reproduces the target. Otherwise :func:`fit_rates` warns (:class:`FitNotConvergedWarning`) and
returns the result, or raises :class:`FitNotConverged` with ``strict=True``. The ± are the
least-squares standard errors from the loss's curvature at the optimum
(:func:`.fit_descent.uncertainty`, its assumptions there).

What it can recover: (F, k) of a pattern grown by *this* model (same Du, Dv, dt, stencil, border)
from a *known* initial state over a *known* number of steps. What it cannot: a pattern of unknown
age or initial state with the pixel-based losses (``loss="spectrum"`` compares radially averaged
power spectra, blind to where the spots are), and a unique answer where two rates give the same
picture. Measured recovery, costs and why long runs are hard: docs/fitting.md.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import GrayScottError
from ..physics import Parameters, make_problem
from ..physics.problem import check_int, check_shape
from .fit_descent import Descent, curvature, descend, uncertainty
from .fit_model import LOSSES, pattern_loss, radial_spectrum, simulate
from .fit_search import PATTERNED, _best, search

STRATEGIES = ("robust", "local")

__all__ = ["LOSSES", "PATTERNED", "STRATEGIES", "FitNotConverged", "FitNotConvergedWarning",
           "FitResult", "fit_rates", "pattern_loss", "radial_spectrum", "simulate"]


class FitNotConvergedWarning(UserWarning):
    """A fit returned rates that do not reproduce the target (see ``FitResult.reason``)."""


class FitNotConverged(GrayScottError):
    """Raised by ``fit_rates(..., strict=True)`` when the fit did not converge; ``.result``
    holds the :class:`FitResult`."""

    def __init__(self, message: str, result: FitResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class FitResult:
    """The rates found, whether they reproduce the target, and how the fit went.

    ``history`` is the winning descent's, one entry per accepted point ("loss", "F", "k").
    ``F_err``/``k_err``: standard errors from the curvature (NaN when not at a minimum).
    """

    F: float
    k: float
    loss: float
    converged: bool = False
    reason: str = ""
    grad_norm: float = float("nan")
    F_err: float = float("nan")
    k_err: float = float("nan")
    hessian: np.ndarray | None = None
    history: dict[str, list[float]] = field(default_factory=dict)
    iterations: int = 0
    starts: list[tuple[float, float]] = field(default_factory=list)  # where descents began
    members: int = 0  # simulations of the batched search
    seconds: float = 0.0
    compile_seconds: float = 0.0

    def summary(self) -> str:
        state = "converged" if self.converged else "NOT converged"
        return (f"F = {self.F:.6f} ± {self.F_err:.1e}, k = {self.k:.6f} ± {self.k_err:.1e}: "
                f"{state} ({self.reason}; loss {self.loss:.3g}, |grad| {self.grad_norm:.3g}, "
                f"{self.iterations} iterations)")


def check_target(target: Any) -> np.ndarray:
    """The target as a float32 2-D array, or a one-line error (NaN/inf, constant, shape)."""
    try:
        t = np.asarray(target, np.float64)
    except (TypeError, ValueError):
        raise GrayScottError("target must be a 2-D array of numbers (V)") from None
    if t.ndim != 2:
        raise GrayScottError(f"target must be a 2-D array (V), got shape {t.shape}")
    check_shape(t.shape)
    bad = int(np.size(t) - np.isfinite(t).sum())
    if bad:
        raise GrayScottError(f"target has {bad} NaN or infinite value(s): nothing to fit")
    if np.ptp(t) == 0:
        raise GrayScottError(f"target is constant (V = {t.flat[0]:g} everywhere): no pattern "
                             "to fit (every rate where patterns die gives it)")
    return t.astype(np.float32)


def check_region(region: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    try:
        (f0, f1), (k0, k1) = ((float(a), float(b)) for a, b in region)
    except (TypeError, ValueError):
        raise GrayScottError(f"region must be ((F0, F1), (k0, k1)), got {region!r}") from None
    for name, a, b in (("F", f0, f1), ("k", k0, k1)):
        if not (np.isfinite(a) and np.isfinite(b) and 0 <= a < b):
            raise GrayScottError(f"region: {name} range ({a:g}, {b:g}) must be finite, >= 0 "
                                 "and increasing")
    return (f0, f1), (k0, k1)


_JITTED: dict[tuple, Any] = {}


def _objective(target: np.ndarray, steps: int, u0: np.ndarray, v0: np.ndarray,
               params: Parameters, stencil: Any, border: str, block: int, loss: str) -> Any:
    """``x -> (loss, gradient)`` in float64 NumPy. The target and initial state are arguments
    of the compiled function, so fits of the same setup share one compilation."""
    key = (steps, target.shape, params.Du, params.Dv, params.dt, stencil.weights.tobytes(),
           border, block, loss)
    if key not in _JITTED:
        def objective(theta: jax.Array, tgt: jax.Array, u: jax.Array, v: jax.Array,
                      ) -> jax.Array:
            return pattern_loss(simulate(theta[0], theta[1], u, v, steps, params, stencil,
                                         border, block), tgt, loss)

        _JITTED[key] = jax.jit(jax.value_and_grad(objective))
    jitted = _JITTED[key]
    args = [jnp.asarray(a, jnp.float32) for a in (target, u0, v0)]

    def value_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, g = jitted(jnp.asarray(x, jnp.float32), *args)
        return float(value), np.asarray(g, np.float64)

    return value_and_grad


def fit_rates(target: Any, steps: int, F0: float | None = None, k0: float | None = None, *,
              strategy: str = "robust", region: Any = PATTERNED, grid: tuple[int, int] = (13, 13),
              zooms: int = 4, starts: int = 3, search_backend: str | None = None,
              initial: str = "school", seed: int = 0,
              state: tuple[np.ndarray, np.ndarray] | None = None,
              params: Parameters | None = None, stencil: Any = "school",
              border: str = "school", loss: str = "multiscale", iterations: int = 30,
              first_step: float = 2e-3, block: int = 50, tol: float = 0.0, xtol: float = 1e-7,
              loss_tol: float = 1e-3, strict: bool = False, callback: Any = None) -> FitResult:
    """Recover (F, k) from ``target`` (V after ``steps`` steps); see the module docstring.

    The simulation starts from ``state`` (or ``initial`` with ``seed``, as ``grayscott run``),
    with Du, Dv, dt from ``params``, the ``stencil`` and ``border`` of the target's run.
    ``strategy="robust"``: a ``grid`` over ``region`` ((F0, F1), (k0, k1)) and ``zooms`` finer
    grids (``search_backend``: ``numba`` or ``jax``, default as ``grayscott sweep``), then
    descents from the ``starts`` best points; the start (F0, k0), if given, is one more point
    of the grid. ``strategy="local"``: one descent from (F0, k0). Each descent: BFGS for at most
    ``iterations`` steps (``first_step``, ``tol``, ``xtol``: :func:`.fit_descent.descend`).
    Converged: stationary with a loss <= ``loss_tol``; else a warning, or with ``strict`` a
    :class:`FitNotConverged`. ``callback(i, F, k, loss)`` is called at every accepted point.
    """
    t_start = time.perf_counter()
    target = check_target(target)
    steps = check_int("steps", steps)
    block = check_int("block", block)
    iterations = check_int("iterations", iterations, 0)
    starts = check_int("starts", starts)
    zooms = check_int("zooms", zooms, 0)
    if loss not in LOSSES:
        raise GrayScottError(f"unknown loss {loss!r}; choose one of: {', '.join(LOSSES)}")
    if strategy not in STRATEGIES:
        raise GrayScottError(f"unknown strategy {strategy!r}; choose one of: "
                             f"{', '.join(STRATEGIES)}")
    if (F0 is None) != (k0 is None):
        raise GrayScottError("give both F0 and k0 (the start), or neither")
    if F0 is None and strategy == "local":
        raise GrayScottError("strategy 'local' needs a start: F0 and k0")
    region = check_region(region)
    params = params or Parameters()
    if F0 is not None:
        Parameters(Du=params.Du, Dv=params.Dv, F=F0, k=k0, dt=params.dt)  # a valid start
    # Refuses a bogus stencil or border and an unstable dt, in one line, before any work.
    problem = make_problem(target.shape, params=params, stencil=stencil, border=border)
    from .core import _start
    from .planning import check_backend

    u0, v0 = _start(state, initial, target.shape, seed)  # a state must have the target's shape
    value_and_grad = _objective(target, steps, u0, v0, params, problem.stencil, border, block,
                                loss)
    t0 = time.perf_counter()
    value_and_grad(np.array([region[0][0], region[1][0]]))  # compile once, timed apart
    compile_seconds = time.perf_counter() - t0

    members, spacing = 0, np.array([1e-4, 4e-5])
    if strategy == "local":
        candidates = [np.array([F0, k0], np.float64)]
    else:
        found = search(steps, problem, (u0, v0), target, loss, check_backend(search_backend),
                       region=region, n=grid, zooms=zooms, keep=starts,
                       extra=[] if F0 is None else [(F0, k0)])
        members, spacing = found.members, np.array(found.spacing)
        candidates = [found.points[i] for i in _best(found.points, found.losses, starts,
                                                     spacing)]
    best: Descent | None = None
    tried = []
    for x0 in candidates:
        tried.append((float(x0[0]), float(x0[1])))
        d = descend(value_and_grad, x0, iterations=iterations, first_step=first_step, tol=tol,
                    xtol=xtol, callback=callback)
        if best is None or d.loss < best.loss or not np.isfinite(best.loss):  # NaN loses
            best = d
        if best.stationary and best.loss <= loss_tol:
            break  # a model that reproduces the target: the other starts cannot do better
    assert best is not None
    result = _result(best, value_and_grad, spacing, target.size, loss_tol)
    result.starts, result.members = tried, members
    result.compile_seconds = compile_seconds
    result.seconds = time.perf_counter() - t_start
    if not result.converged:
        message = f"fit did not converge: {result.summary()}"
        if strict:
            raise FitNotConverged(message, result)
        warnings.warn(message, FitNotConvergedWarning, stacklevel=2)
    return result


def _result(d: Descent, value_and_grad: Any, spacing: np.ndarray, n: int,
            loss_tol: float) -> FitResult:
    """The FitResult of the winning descent, with the curvature there when it is finite."""
    converged = d.stationary and d.loss <= loss_tol
    reason = d.reason
    if d.stationary and not converged:
        reason = f"{d.reason}, but loss {d.loss:.3g} > loss_tol {loss_tol:g} (a local minimum)"
    result = FitResult(F=float(d.x[0]), k=float(d.x[1]), loss=d.loss, converged=converged,
                       reason=reason, grad_norm=float(np.linalg.norm(d.grad)),
                       history=d.history, iterations=d.iterations)
    if np.isfinite(d.loss):
        # Differences well inside the narrowest well measured (docs/fitting.md), well above
        # the float32 resolution of the rates.
        h = np.minimum(spacing / 20, [1e-5, 5e-6])
        result.hessian = curvature(value_and_grad, d.x, h)
        result.F_err, result.k_err = (float(e) for e in uncertainty(result.hessian, d.loss, n))
    return result
