"""The spatially uniform states of the model and where they change (Pearson 1993, figure 1).

Without diffusion the model is the ODE ``u' = -u v^2 + F (1 - u)``, ``v' = u v^2 - (F + k) v``.
Besides the trivial state (1, 0) it has, where ``(F + k)^2 / F <= 1/4``, two more: from
``u v = F + k`` and ``v (F + k) = F (1 - u)``, ``u (1 - u) = (F + k)^2 / F``, so

    u = (1 -/+ sqrt(1 - 4 (F + k)^2 / F)) / 2,   v = (F + k) / u.

* **Saddle-node line**: the two states meet where the root vanishes, ``F = 4 (F + k)^2``, i.e.
  ``k = sqrt(F) / 2 - F`` (F from 0 to 1/4). Below and right of it only (1, 0) exists.
* **Hopf line**: the state with the larger v (smaller u) has the Jacobian
  ``[[-v^2 - F, -2 u v], [v^2, 2 u v - (F + k)]]``, whose trace with ``u v = F + k`` is
  ``k - v^2``: it vanishes where ``v = sqrt(k)``, i.e. ``u = (F + k) / sqrt(k)``, which with
  ``u (1 - u) = (F + k)^2 / F`` gives ``(F + k)^2 = F sqrt(k)``. It is a Hopf point where the
  determinant is positive and the state is the larger-v one (``u < 1/2``).

Everything here is computed from these formulas; :func:`jacobian` lets tests check them against
the eigenvalues of the ODE's Jacobian. Diffusion plays no part (these are uniform states).
"""

from __future__ import annotations

import numpy as np


def uniform_states(F: float, k: float) -> list[tuple[float, float]]:
    """The uniform steady states (u, v) of rates (F, k): (1, 0), and the two others where
    they exist, larger v first."""
    states = [(1.0, 0.0)]
    if F <= 0:
        return states
    disc = 1.0 - 4.0 * (F + k) ** 2 / F
    if disc < 0:
        return states
    for u in ((1.0 - np.sqrt(disc)) / 2.0, (1.0 + np.sqrt(disc)) / 2.0):
        states.append((float(u), float((F + k) / u)))
    return states


def jacobian(u: float, v: float, F: float, k: float) -> np.ndarray:
    """The Jacobian of the reaction terms at (u, v)."""
    return np.array([[-v * v - F, -2.0 * u * v], [v * v, 2.0 * u * v - (F + k)]])


def saddle_node_line(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(k, F) along the saddle-node line ``F = 4 (F + k)^2``, F from 0 to 1/4."""
    F = np.linspace(0.0, 0.25, n)
    return np.sqrt(F) / 2.0 - F, F


def hopf_line(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(k, F) along the Hopf line ``(F + k)^2 = F sqrt(k)`` of the larger-v state.

    For each k the quadratic ``F^2 + (2k - sqrt k) F + k^2 = 0`` has up to two roots; a root
    is kept where that state exists with ``u < 1/2`` (the larger-v one) and a positive
    determinant. The line runs from (0, 0) to where it meets the saddle-node line."""
    ks, fs = [], []
    for k in np.linspace(0.0, 1.0 / 16.0, n)[1:]:
        b = 2.0 * k - np.sqrt(k)
        disc = b * b - 4.0 * k * k
        if disc < 0:
            continue
        for F in ((-b + np.sqrt(disc)) / 2.0, (-b - np.sqrt(disc)) / 2.0):
            u = (F + k) / np.sqrt(k)
            if F <= 0 or u >= 0.5:
                continue
            if np.linalg.det(jacobian(u, np.sqrt(k), F, k)) > 0:
                ks.append(k)
                fs.append(F)
    order = np.argsort(ks)
    return np.asarray(ks)[order], np.asarray(fs)[order]


def draw_lines(ax, to_x=None, to_y=None, kinds: tuple[str, ...] = ("saddle-node", "hopf"),
               ) -> None:
    """Overlay the lines on a matplotlib ``ax`` whose axes are k (x) and F (y), or mapped to
    them by ``to_x(k)``, ``to_y(F)`` (e.g. tile coordinates of a sweep's map). The view is not
    widened to show them: only the part inside the current limits is seen."""
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    lines = {"saddle-node": (saddle_node_line(), "--", "saddle-node"),
             "hopf": (hopf_line(), ":", "Hopf")}
    for kind in kinds:
        (k, F), style, label = lines[kind]
        x = k if to_x is None else to_x(k)
        y = F if to_y is None else to_y(F)
        ax.plot(x, y, style, color="cyan", linewidth=1.5, label=label)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.legend(loc="upper right", fontsize="small")
