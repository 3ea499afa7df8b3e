"""Beyond one run: the (F, k) plane in one batched run, and (F, k) fitted to a pattern.

* :func:`sweep` runs N x M simulations of a grid of rates as one batched program (a batched
  Numba kernel, or ``jax.vmap``) and writes ``sweep.h5``; :func:`save_map` draws the map.
* :func:`fit_rates` recovers (F, k) from a target V: a batched search of the plane, then
  gradient descent through the simulation (JAX, imported only when called); its result says
  whether it converged.

Named regimes of the plane are in :mod:`grayscott.physics.presets`.

* :mod:`.planning` - rates parsed, the batched backend chosen, members cut into pieces;
* :mod:`.core` - the sweep, its pieces and its loop; :mod:`.hdf5` - ``sweep.h5``;
* :mod:`.numba_batch` (and :mod:`.numba_wide`, small members side by side), :mod:`.jax_batch`
  - the batched kernels; :mod:`.image` - the map (and a ``run --map`` frame:
  :func:`draw_rate_map`); :mod:`.descriptors` - what each member became; :mod:`.commands` -
  ``grayscott presets``, ``sweep`` and ``map``; :mod:`.info` -
  ``grayscott info`` of a sweep's file;
* the fit: :mod:`.fit` (the strategy and its result), :mod:`.fit_model` (the differentiable
  model and the losses), :mod:`.fit_search` (the batched search), :mod:`.fit_descent` (BFGS,
  the curvature), :mod:`.fit_command` (``grayscott fit``).

This package owns runs of many members at once. It shares the run's file machinery
(:mod:`grayscott.io.layout`), its stop signal and status words, and may not import
:mod:`grayscott.runs` or the views' writers: a sweep is not a run.
"""

from __future__ import annotations

from typing import Any

from .core import SweepResult, run_rates, sweep
from .hdf5 import read_descriptors, read_sweep
from .image import draw_map, draw_rate_map, read_rate_map, save_map
from .planning import parse_range


def fit_rates(*args: Any, **kwargs: Any) -> Any:
    """See :func:`grayscott.sweep.fit.fit_rates` (imports JAX on first use)."""
    from .fit import fit_rates as _fit

    return _fit(*args, **kwargs)


__all__ = ["SweepResult", "draw_map", "draw_rate_map", "fit_rates", "parse_range",
           "read_descriptors", "read_rate_map", "read_sweep", "run_rates", "save_map", "sweep"]
