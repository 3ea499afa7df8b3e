"""The benchmark's arithmetic, from given numbers: no clocks, no hardware, easy to test.

One time step that makes a single pass over memory reads u and v and writes u' and v': four values
per cell, i.e. 16 bytes per cell-update in float32 and 32 in float64 (docs/model.md §4). A kernel
streaming from main memory can therefore do at most ``bandwidth / bytes_per_cell_update``
cell-updates per second: that is the roofline.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .school import SCHOOL_CELL_STEPS

#: Values moved per cell and step by a one-pass kernel: read u, v; write u', v'.
VALUES_PER_CELL_UPDATE = 4


def bytes_per_cell_update(dtype: str | np.dtype | type) -> int:
    """16 for float32, 32 for float64."""
    return VALUES_PER_CELL_UPDATE * np.dtype(dtype).itemsize


def roofline_cell_steps_per_s(bandwidth_bytes_per_s: float, dtype: str | np.dtype) -> float:
    """The most cell-updates per second a one-pass step can do at this memory bandwidth."""
    return bandwidth_bytes_per_s / bytes_per_cell_update(dtype)


def roofline_fraction(cell_steps_per_s: float, roofline: float | None) -> float | None:
    """Measured rate over the roofline (above 1 only when the data came from cache)."""
    if roofline is None or not roofline > 0:
        return None
    return cell_steps_per_s / roofline


def speedup(cell_steps_per_s: float, baseline_cell_steps_per_s: float | None) -> float | None:
    """How many times faster than the baseline; None when the baseline was not measured."""
    if baseline_cell_steps_per_s is None or not baseline_cell_steps_per_s > 0:
        return None
    return cell_steps_per_s / baseline_cell_steps_per_s


def projected_school_seconds(cell_steps_per_s: float) -> float:
    """Seconds the school's "32 x 1000" run (32,000 steps of 1080 x 1920) would take at this
    rate. Measured on another grid, this assumes the same rate per cell on the school's."""
    if not cell_steps_per_s > 0:
        return math.inf
    return SCHOOL_CELL_STEPS / cell_steps_per_s


def cell_steps_per_s(cells: int, steps: int, seconds: float) -> float:
    """Rate of ``steps`` steps on ``cells`` cells that took ``seconds``."""
    if not seconds > 0:
        return math.inf
    return cells * steps / seconds


@dataclass(frozen=True)
class Summary:
    """Median, minimum and maximum of repeated measurements."""

    median: float
    min: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            raise ValueError("no values to summarise")
        return cls(statistics.median(values), min(values), max(values))


def format_ratio(x: float | None) -> str:
    """x1, x2.1, x6.6, x18: one decimal below ten, none above (the school's ladder style)."""
    if x is None or not math.isfinite(x):
        return "-"
    if abs(x - 1) < 0.005:
        return "×1"
    if x < 0.95:
        return f"×{x:.2g}"
    return f"×{x:.0f}" if x >= 10 else f"×{x:.1f}"


def format_mcells(rate: float | None) -> str:
    """Cell-updates per second in millions: 1.23, 86, 2,700."""
    if rate is None or not math.isfinite(rate):
        return "-"
    x = rate / 1e6
    return f"{x:.3g}" if x < 10 else f"{x:,.0f}"


def format_bytes(n: float | None) -> str:
    """Bytes in B, KB, MB, GB (powers of 1000, like docs/model.md's "8.3 MB")."""
    if n is None:
        return "-"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"
