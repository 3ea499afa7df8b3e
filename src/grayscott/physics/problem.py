"""What a backend is built for: parameters, stencil, border, grid shape and dtype."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import numpy as np

from ..errors import GrayScottError
from .borders import check_border
from .parameters import Parameters
from .ratemap import RateMap
from .stencils import Stencil, check_stability, get_stencil

DTYPES: tuple[str, ...] = ("float32", "float64")
MIN_SIZE = 3


def check_dtype(dtype: str | np.dtype | type) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in DTYPES:
        raise GrayScottError(f"unknown dtype {dtype!r}; choose one of: {', '.join(DTYPES)}")
    return dt


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """``value`` if it is an integer (not a bool) >= ``minimum``; else a GrayScottError."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise GrayScottError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_shape(shape: tuple[int, int]) -> tuple[int, int]:
    try:
        nr, nc = (operator.index(n) for n in shape)
    except (TypeError, ValueError):
        raise GrayScottError(f"grid size must be two integers, got {shape!r}") from None
    if nr < MIN_SIZE or nc < MIN_SIZE:
        raise GrayScottError(f"grid must be at least {MIN_SIZE}x{MIN_SIZE}, got {nr}x{nc}")
    return nr, nc


@dataclass(frozen=True)
class Problem:
    """A fully checked simulation setup. Build with :func:`make_problem` or directly."""

    shape: tuple[int, int] = (1080, 1920)
    params: Parameters = field(default_factory=Parameters)
    stencil: Stencil = field(default_factory=lambda: get_stencil("school"))
    border: str = "school"
    dtype: np.dtype = field(default_factory=lambda: np.dtype("float32"))
    #: F per row and k per column (:mod:`.ratemap`); then ``params.F`` and ``params.k`` are
    #: not used. Only backends that declare ``rate_map`` take it.
    rate_map: RateMap | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", check_shape(self.shape))
        if self.rate_map is not None and self.rate_map.shape != self.shape:
            raise GrayScottError(f"rate map of {self.rate_map.shape[0]} F x "
                                 f"{self.rate_map.shape[1]} k does not fit the grid {self.shape}")
        object.__setattr__(self, "stencil", get_stencil(self.stencil))
        object.__setattr__(self, "border", check_border(self.border))
        object.__setattr__(self, "dtype", check_dtype(self.dtype))

    @property
    def nbrow(self) -> int:
        return self.shape[0]

    @property
    def nbcol(self) -> int:
        return self.shape[1]

    @property
    def padded_shape(self) -> tuple[int, int]:
        return self.shape[0] + 2, self.shape[1] + 2

    def check_stable(self) -> None:
        p = self.params
        check_stability(self.stencil, p.dt, p.Du, p.Dv)


def make_problem(shape: tuple[int, int] = (1080, 1920), *, params: Parameters | None = None,
                 stencil: str | Stencil | np.ndarray = "school", border: str = "school",
                 dtype: str = "float32", allow_unstable: bool = False,
                 rate_map: RateMap | None = None) -> Problem:
    """Build a Problem and refuse an unstable time step unless ``allow_unstable``."""
    problem = Problem(shape=shape, params=params or Parameters(), stencil=get_stencil(stencil),
                      border=border, dtype=dtype, rate_map=rate_map)
    if not allow_unstable:
        problem.check_stable()
    return problem
