"""The fit's loss landscape along lines through the answer, for several horizons, and how fast
two runs with nearly equal rates drift apart: why fitting long runs is hard (docs/fitting.md).

    python scripts/fit_landscape.py docs/fit_landscape.png

Target: V after S steps, 64 x 64, noise initial state (seed 0), truth (F, k) = (0.035, 0.060).
Left/middle: the default loss (multiscale) of (F + dF, k) and (F, k + dk) for S = 500 ... 4000
(every point one member of a batched sweep). Right: RMS of V(F + dF) - V(F), divided by dF,
against the steps, for dF from 1e-7 to 1e-3 (float64): where the curves agree, V is a smooth
(linear) function of F; where they part, an event (a spot that divides or not, dies or not)
happened for one rate and not the other.
Prints, per horizon, the half-width of the well (the nearest point with a loss above 0.05) and
the height of the plateau around it (median loss beyond half the line).
"""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

import grayscott as gs
from grayscott.physics import make_problem
from grayscott.sweep.core import _start, run_pieces
from grayscott.sweep.fit import pattern_loss
from grayscott.sweep.planning import check_backend

TRUTH = (0.035, 0.060)
SHAPE = (64, 64)
HORIZONS = (500, 1000, 2000, 4000)
DF = np.linspace(-0.004, 0.004, 161)
DK = np.linspace(-0.002, 0.002, 161)
LEVEL = 0.05  # "inside the well": below this loss


def losses(steps: int, pairs: list[tuple[float, float]], state: tuple) -> np.ndarray:
    problem = make_problem(SHAPE)
    v = np.concatenate([x for _, x in run_pieces([TRUTH, *pairs], steps, problem, state,
                                                 check_backend(None), 400)])
    target = jnp.asarray(v[0])
    return np.array([float(pattern_loss(jnp.asarray(x), target)) for x in v[1:]])


def half_width(d: np.ndarray, loss: np.ndarray) -> float:
    """Distance from the answer to the nearest point with a loss above LEVEL."""
    above = np.abs(d)[loss > LEVEL]
    return float(above.min()) if above.size else float("inf")


DRIFT = (1e-7, 1e-5, 1e-4, 3e-4, 1e-3)


def drift(steps: int, state: tuple) -> tuple[np.ndarray, np.ndarray]:
    """RMS of V(F + dF) - V(F) / dF every 50 steps for each dF of DRIFT (Numba, float64: the
    effect of the rates, not of the rounding). Returns the steps and (len(DRIFT), steps)."""
    sims = []
    for f in (TRUTH[0], *(TRUTH[0] + d for d in DRIFT)):
        p = make_problem(SHAPE, params=gs.Parameters(F=f, k=TRUTH[1]), dtype="float64")
        sims.append(gs.Simulation(p, backend="numba", state=state))
    t, out = [], []
    for s in range(50, steps + 1, 50):
        for sim in sims:
            sim.advance(50)
        t.append(s)
        out.append([float(np.sqrt(np.mean((x.state[1] - sims[0].state[1]) ** 2))) / d
                    for x, d in zip(sims[1:], DRIFT, strict=True)])
    return np.array(t), np.array(out).T


def main(out: str) -> None:
    state = _start(None, "noise", SHAPE, 0)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), layout="constrained")
    print(f"{'steps':>6} {'F well':>9} {'k well':>9} {'plateau F':>10} {'plateau k':>10}")
    for steps in HORIZONS:
        lf = losses(steps, [(TRUTH[0] + d, TRUTH[1]) for d in DF], state)
        lk = losses(steps, [(TRUTH[0], TRUTH[1] + d) for d in DK], state)
        axes[0].semilogy(DF, np.maximum(lf, 1e-12), label=f"{steps} steps")
        axes[1].semilogy(DK, np.maximum(lk, 1e-12), label=f"{steps} steps")
        print(f"{steps:>6} {half_width(DF, lf):>9.5f} {half_width(DK, lk):>9.5f} "
              f"{np.median(lf[np.abs(DF) > 0.002]):>10.3f} "
              f"{np.median(lk[np.abs(DK) > 0.001]):>10.3f}")
    t, sens = drift(max(HORIZONS), state)
    for d, row in zip(DRIFT, sens, strict=True):
        axes[2].semilogy(t, row, label=f"dF = {d:g}")
    axes[2].legend(fontsize=8)
    for ax, label in ((axes[0], "F - 0.035"), (axes[1], "k - 0.060")):
        ax.axhline(LEVEL, color="grey", lw=0.8, ls=":")
        ax.set_xlabel(label)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.set_ylabel("loss (multiscale)")
        ax.legend(fontsize=8)
    axes[0].set_title("loss along F (k = 0.060)")
    axes[1].set_title("loss along k (F = 0.035)")
    axes[2].set_title("sensitivity: RMS of V(F + dF) - V(F), / dF")
    axes[2].set_xlabel("steps")
    fig.suptitle("Fit of (0.035, 0.060), 64 x 64, noise initial state: the well narrows and "
                 "the plateau rises with the horizon")
    fig.savefig(out, dpi=90)
    for d, row in zip(DRIFT, sens, strict=True):
        marks = ", ".join(f"{row[i]:.3g} at {t[i]}" for i in (0, 9, 19, 39, 59, 79) if i < len(t))
        print(f"sensitivity, dF = {d:g}: {marks}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/fit_landscape.png")
