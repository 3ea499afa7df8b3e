"""Physics: parameters, stencils, borders, initial states. No kernels here.

This package owns the model and its plain reference formulas (:mod:`.reference`, the tests'
oracle). It may import nothing of grayscott but :mod:`grayscott.errors`: every other room builds
on it.
"""

from .borders import BORDERS, Deficit, deficit, fill_ghosts
from .initial import INITIAL_STATES, make_initial, school_box_bounds
from .parameters import Parameters
from .problem import DTYPES, Problem, make_problem
from .ratemap import RateMap, parse_map
from .stencils import STENCILS, Stencil, get_stencil

__all__ = [
    "BORDERS", "DTYPES", "INITIAL_STATES", "STENCILS", "Deficit", "Parameters", "Problem",
    "RateMap", "Stencil", "deficit", "fill_ghosts", "get_stencil", "make_initial",
    "make_problem", "parse_map", "school_box_bounds",
]
