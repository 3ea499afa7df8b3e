"""The time loop's public names, for user scripts written when they lived in one module.

They live in :mod:`grayscott.simulation` (:class:`Simulation`), :mod:`grayscott.loop`
(:func:`drive`), :mod:`grayscott.runs` (:func:`run`, :func:`resume`, :class:`RunResult`) and
:mod:`grayscott.parallel.placement` (:class:`Placement`); import them from there, or from
:mod:`grayscott`. This module only re-exports them: replacing a name here changes nothing.
"""

from .loop import drive
from .observers import Interrupted
from .parallel.placement import Placement
from .runs import DEFAULT_CHECKPOINT_EVERY, RunResult, resume, run
from .simulation import Simulation

__all__ = ["DEFAULT_CHECKPOINT_EVERY", "Interrupted", "Placement", "RunResult", "Simulation",
           "drive", "resume", "run"]
