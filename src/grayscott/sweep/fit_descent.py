"""The local part of the fit: a quasi-Newton descent in (F, k) that says why it stopped, and the
curvature of the loss at the point it reached (the uncertainty of the rates).

Both only need ``value_and_grad(x) -> (loss, gradient)`` for ``x = [F, k]``: they know nothing of
the simulation, so they are tested on plain functions as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

ValueAndGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]

#: Why a descent stopped. The first three mean it reached a stationary point (a minimum, or the
#: float32 precision of the loss); whether that point is *the* answer is decided by its loss.
STATIONARY = ("loss below tol", "step below xtol", "no decrease (precision floor)")
NOT_STATIONARY = ("iterations exhausted", "loss not finite", "zero gradient at start")


@dataclass
class Descent:
    """Where one descent ended and how it went (one history entry per accepted point)."""

    x: np.ndarray
    loss: float
    grad: np.ndarray
    reason: str
    iterations: int
    history: dict[str, list[float]] = field(default_factory=dict)  # "loss", "F", "k"

    @property
    def stationary(self) -> bool:
        return self.reason in STATIONARY


def descend(value_and_grad: ValueAndGrad, x0: np.ndarray, *, iterations: int = 30,
            first_step: float = 2e-3, tol: float = 0.0, xtol: float = 1e-7,
            callback: Callable[[int, float, float, float], None] | None = None) -> Descent:
    """BFGS from ``x0`` with an Armijo backtracking line search; x stays >= 0.

    The curvature is learnt from successive gradients, which matters because the loss is a
    narrow curved valley, far steeper across k than along F. The first move is ``first_step``
    long (rate units). Stops when the loss is <= ``tol``, when an accepted step is shorter than
    ``xtol`` (rate units), when no step along the search direction lowers the loss (at a
    minimum, the loss's float32 noise wins: the precision floor), or after ``iterations``
    accepted steps (then not stationary).
    """
    x = np.array(x0, np.float64)
    f, g = value_and_grad(x)
    history: dict[str, list[float]] = {"loss": [], "F": [], "k": []}

    def record(i: int) -> None:
        history["loss"].append(f)
        history["F"].append(float(x[0]))
        history["k"].append(float(x[1]))
        if callback is not None:
            callback(i, float(x[0]), float(x[1]), f)

    record(0)
    if not np.isfinite(f) or not np.isfinite(g).all():
        return Descent(x, f, g, "loss not finite", 0, history)
    gnorm = float(np.linalg.norm(g))
    if gnorm == 0:
        reason = "loss below tol" if f <= tol else "zero gradient at start"
        return Descent(x, f, g, reason, 0, history)
    H = np.eye(2) * (first_step / gnorm)  # inverse Hessian estimate
    it, reason = 0, "iterations exhausted"
    while it < iterations:
        if f <= tol:
            reason = "loss below tol"
            break
        p = -H @ g
        if g @ p >= 0:  # not a descent direction: restart from the gradient
            H = np.eye(2) * (first_step / np.linalg.norm(g))
            p = -H @ g
        t, accepted = 1.0, False
        for _ in range(20):  # Armijo backtracking
            x_new = np.maximum(x + t * p, 0.0)
            f_new, g_new = value_and_grad(x_new)
            if np.isfinite(f_new) and f_new <= f + 1e-4 * (g @ (x_new - x)):
                accepted = True
                break
            t /= 2
        if not accepted:
            reason = "no decrease (precision floor)"
            break
        s, y = x_new - x, g_new - g
        if s @ y > 1e-12 * np.linalg.norm(s) * np.linalg.norm(y):
            rho = 1.0 / (s @ y)
            eye = np.eye(2)
            H = (eye - rho * np.outer(s, y)) @ H @ (eye - rho * np.outer(y, s)) + \
                rho * np.outer(s, s)
        x, f, g = x_new, f_new, g_new
        it += 1
        record(it)
        if np.linalg.norm(s) < xtol:
            reason = "step below xtol"
            break
    return Descent(x, f, g, reason, it, history)


def curvature(value_and_grad: ValueAndGrad, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """The Hessian of the loss at ``x`` by central differences of the exact gradient (steps
    ``h`` per coordinate), symmetrised. Four gradient evaluations; x - h is kept >= 0."""
    cols = []
    for i in range(2):
        e = np.zeros(2)
        e[i] = h[i]
        lo = np.maximum(x - e, 0.0)
        cols.append((value_and_grad(x + e)[1] - value_and_grad(lo)[1]) / (x[i] + h[i] - lo[i]))
    H = np.array(cols).T
    return (H + H.T) / 2


def uncertainty(hessian: np.ndarray, loss: float, n: int) -> np.ndarray:
    """Standard errors of (F, k): the usual least-squares estimate ``cov = 2 L / (n - 2) H^-1``.

    Assumes that near the optimum the loss is quadratic and that the residual left at the
    optimum is independent noise over the ``n`` cells of the target (then the loss's scale
    cancels out). NaN where the Hessian is not positive definite (not at a minimum).
    """
    try:
        cov = 2.0 * loss / max(n - 2, 1) * np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        return np.full(2, np.nan)
    if not (np.all(np.isfinite(cov)) and np.all(np.linalg.eigvalsh(hessian) > 0)):
        return np.full(2, np.nan)
    return np.sqrt(np.diag(cov))
