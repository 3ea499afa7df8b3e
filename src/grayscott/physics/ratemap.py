"""Rates that vary in space: F along the rows, k along the columns (the xmorphia map).

One simulation whose row ``i`` has ``F = feed[i]`` and column ``j`` has ``k = kill[j]``, as in
Munafo's xmorphia and Pearson's figure: the whole (F, k) plane in one picture, where fronts
between regimes meet. The other rates (Du, Dv, dt) stay uniform.

The arrays are part of the problem; kernels take them as arrays of the field's dtype, rounded
exactly as a uniform run rounds its scalars: F once to the dtype, and ``F + k`` summed in double
precision, then rounded once (:meth:`RateMap.coefficients`). So a cell of a map with no diffusion
follows, bit for bit, the run of its own (F, k).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import GrayScottError


@dataclass(frozen=True)
class RateMap:
    """``feed`` (one F per row, row 0 first) and ``kill`` (one k per column)."""

    feed: tuple[float, ...]
    kill: tuple[float, ...]

    def __post_init__(self) -> None:
        for name in ("feed", "kill"):
            values = tuple(float(x) for x in getattr(self, name))
            if not values or not all(math.isfinite(x) and x >= 0 for x in values):
                raise GrayScottError(f"rate map {name} must be finite rates >= 0")
            object.__setattr__(self, name, values)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.feed), len(self.kill)

    @property
    def spec(self) -> str:
        """``F0:F1,k0:k1``, as the command line takes it."""
        return (f"{self.feed[0]!r}:{self.feed[-1]!r},{self.kill[0]!r}:{self.kill[-1]!r}")

    @classmethod
    def linear(cls, f0: float, f1: float, k0: float, k1: float,
               shape: tuple[int, int]) -> RateMap:
        """F from f0 (row 0) to f1 (last row), k from k0 (column 0) to k1 (last column),
        both inclusive (``numpy.linspace``)."""
        nr, nc = shape
        return cls(tuple(np.linspace(f0, f1, nr)), tuple(np.linspace(k0, k1, nc)))

    def coefficients(self, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        """``f`` (nbrow,) and ``fk`` (nbrow, nbcol) in ``dtype``: F rounded once, ``F + k``
        summed in double and rounded once (as a uniform run rounds its scalars)."""
        feed = np.asarray(self.feed)
        fk = feed[:, None] + np.asarray(self.kill)[None, :]
        return feed.astype(dtype), fk.astype(dtype)


def parse_map(spec: str, shape: tuple[int, int]) -> RateMap:
    """``"F0:F1,k0:k1"`` -> the :class:`RateMap` of a grid of ``shape``; one-line errors.
    A range may run either way (F0 > F1 is accepted: row 0 has F0)."""
    parts = str(spec).replace(" ", "").split(",")
    if len(parts) != 2 or any(len(p.split(":")) != 2 for p in parts):
        raise GrayScottError(f"--map {spec!r} must be F0:F1,k0:k1 (e.g. 0.01:0.07,0.045:0.07)")
    try:
        (f0, f1), (k0, k1) = ((float(a), float(b)) for a, b in (p.split(":") for p in parts))
    except ValueError:
        raise GrayScottError(f"--map {spec!r}: F0, F1, k0, k1 must be numbers") from None
    if not all(math.isfinite(x) and x >= 0 for x in (f0, f1, k0, k1)):
        raise GrayScottError(f"--map {spec!r}: rates must be finite and >= 0")
    return RateMap.linear(f0, f1, k0, k1, shape)
