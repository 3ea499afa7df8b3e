"""Simple measured descriptors of a member's V, stored beside it in the sweep's file.

* ``coverage``: the fraction of cells where V exceeds :data:`V_ON` (the "on" state of a
  pattern; the trivial state has V = 0).
* ``spots``: connected regions of those cells (4-neighbour connectivity by
  ``scipy.ndimage.label``, joined across the edges on a periodic grid, where a spot cut by an
  edge is one spot; -1 without scipy): spots, stripes and labyrinths count as their pieces.
* ``class``: :data:`DIED_OUT` where V is below :data:`V_DEAD` everywhere (the trivial uniform
  state (1, 0) took over), :data:`UNIFORM` where V is alive but flat (its range under
  :data:`FLAT`: one of the other uniform states of :mod:`grayscott.physics.homogeneous`), else
  :data:`PATTERNED`. A member that blew up (NaN/Inf) is :data:`BLEW_UP`.
* ``change``: the largest |V| difference between the last two frames kept (NaN with fewer than
  two frames): near 0 for a stationary pattern, large for a moving, pulsating or dying one.

The thresholds are on V's scale (0 to ~0.5 in the patterned region): ``V_ON`` sits between the
trivial state's 0 and a spot's ~0.2-0.4.
"""

from __future__ import annotations

import numpy as np

V_ON = 0.1
V_DEAD = 1e-3
FLAT = 1e-2
DIED_OUT, UNIFORM, PATTERNED, BLEW_UP = 0, 1, 2, 3
#: Class labels in the order of their codes (the file stores the codes and these labels).
CLASSES = ("died out", "uniform", "patterned", "blew up")
NAMES = ("spots", "coverage", "class", "change")


def classify(v: np.ndarray) -> int:
    """The class code of one member's final V (2-D)."""
    if not np.isfinite(v).all():
        return BLEW_UP
    if float(np.abs(v).max()) < V_DEAD:
        return DIED_OUT
    if float(v.max() - v.min()) < FLAT:
        return UNIFORM
    return PATTERNED


def spot_count(v: np.ndarray, periodic: bool = False) -> int:
    """Connected regions where V > :data:`V_ON`, joined across opposite edges when
    ``periodic``; -1 where scipy is not installed (``pip install 'grayscott[analysis]'``)."""
    try:
        from scipy import ndimage
    except ImportError:
        return -1

    on = np.nan_to_num(v) > V_ON
    labels, count = ndimage.label(on)
    if not periodic or not count:
        return int(count)
    # Regions touching across an edge are one: union-find over the labels facing each other.
    parent = np.arange(count + 1)

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a_side, b_side in ((labels[0], labels[-1]), (labels[:, 0], labels[:, -1])):
        for a, b in zip(a_side.tolist(), b_side.tolist(), strict=True):
            if a and b:
                parent[root(a)] = root(b)
    return len({root(a) for a in range(1, count + 1)})


def describe(frames: np.ndarray, periodic: bool = False) -> dict[str, np.ndarray]:
    """Descriptors of a piece: ``frames`` (B, T, R, C), the last frame the final V; spots
    joined across the edges when ``periodic``. Returns ``spots`` (B) int32, ``coverage`` (B)
    float64, ``class`` (B) int8, ``change`` (B) float64."""
    last = frames[:, -1]
    out = {
        "spots": np.array([spot_count(x, periodic) for x in last], np.int32),
        "coverage": np.array([float(np.mean(np.nan_to_num(x) > V_ON)) for x in last]),
        "class": np.array([classify(x) for x in last], np.int8),
        "change": np.full(len(frames), np.nan),
    }
    if frames.shape[1] >= 2:
        with np.errstate(invalid="ignore"):
            diff = np.abs(frames[:, -1].astype(np.float64) - frames[:, -2])
        out["change"] = diff.reshape(len(frames), -1).max(axis=1)
    return out
