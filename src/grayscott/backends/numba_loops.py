"""``numba``: the explicit loop of the ``python`` rung, compiled with ``@njit``, one thread.

This is the school's "Numba" column. The kernels live in :mod:`.numba_kernels` and are shared
with ``numba-parallel``; this module only holds the state (padded U, V and a second pair of
buffers, swapped in compiled code) and the runtime arrays the kernels read: the 9 stencil weights,
the rates and the school-border deficit strips, all cast to the problem's dtype. Compilation
happens once per dtype and is cached on disk; :meth:`compile` does it before the timed loop.

``subnormals="flush"`` (the CLI's ``--flush-subnormals``) runs the loops with the CPU's
flush-to-zero and denormals-are-zero modes (:mod:`.fpmode`): values IEEE arithmetic would make
subnormal (below ~1e-38 in float32) become 0. Long runs of the school's problem are then up to 4x
faster on x86; the default ``"keep"`` is IEEE arithmetic, bit for bit the school's reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..physics import Problem
from ..physics.borders import FIXED_GHOST
from . import numba_kernels as K
from . import numba_map as M
from .base import Capabilities, Option, PaddedNumpyBackend, one_of
from .fpmode import MASKS, flush_supported


def check_subnormals(value: Any) -> str:
    """``"keep"`` or ``"flush"``, the latter only where the CPU can (:func:`flush_supported`)."""
    value = one_of("keep", "flush")(value)
    if value == "flush" and not flush_supported():
        raise ValueError("'flush' needs an x86-64 CPU (its MXCSR flush-to-zero mode)")
    return value


#: The option every numba backend declares.
SUBNORMALS = Option("'keep' (IEEE, the default: bit for bit the school's reference) or 'flush' "
                    "(subnormal values become 0: faster long runs on x86, results differ below "
                    "~1e-38)", check_subnormals)


class NumbaBackend(PaddedNumpyBackend):
    name = "numba"
    # Its kernels are nogil: a run computes the next block while the last frame is written.
    capabilities = Capabilities(decomposable=True, releases_gil=True, rate_map=True)
    options = {"subnormals": SUBNORMALS}
    _kernel = staticmethod(K.advance)
    _map_kernel = staticmethod(M.advance_map)

    def __init__(self, problem: Problem, **options: Any) -> None:
        super().__init__(problem, **options)
        self.subnormals = self.config.get("subnormals", "keep")
        #: The MXCSR bits the kernels set while they run (0: none, IEEE).
        self.mask = MASKS[self.subnormals]  # the option's check refused 'flush' where unsupported
        dt_ = problem.dtype
        p = problem.params
        self.U2 = np.zeros_like(self.U)
        self.V2 = np.zeros_like(self.V)
        self.w = np.array(problem.stencil.weights.ravel(), dtype=dt_)  # a writable copy: one type
        self.c = K.constants(p.Du, p.Dv, p.F, p.k, p.dt, dt_)
        self.border = K.BORDER_CODES[problem.border]
        fixed = problem.border == "fixed"
        self.ghost_u = dt_.type(FIXED_GHOST[0] if fixed else 0.0)
        self.ghost_v = dt_.type(FIXED_GHOST[1] if fixed else 0.0)
        d = self.deficit
        empty = np.zeros(0, dt_)
        self.strips = ((empty,) * 4 if d is None else (d.top, d.bottom, d.left, d.right))
        #: F per row and F + k per cell (:mod:`.numba_map`), or None for uniform rates.
        self.rates = None if problem.rate_map is None else problem.rate_map.coefficients(dt_)

    def _run(self, nsteps: int) -> None:
        if self.rates is not None:
            swapped = self._map_kernel(self.U, self.V, self.U2, self.V2, self.w, self.c,
                                       *self.rates, self.border, self.ghost_u, self.ghost_v,
                                       *self.strips, nsteps, self.mask)
        else:
            swapped = self._kernel(self.U, self.V, self.U2, self.V2, self.w, self.c,
                                   self.border, self.ghost_u, self.ghost_v, *self.strips,
                                   nsteps, self.mask)
        if swapped:
            self.U, self.U2 = self.U2, self.U
            self.V, self.V2 = self.V2, self.V

    @property
    def provenance(self) -> dict[str, Any]:
        """``subnormals="flush"`` when the run flushes (IEEE, the default, says nothing)."""
        return {"subnormals": "flush"} if self.mask else {}

    def compile(self) -> None:
        """Compile (or load from the disk cache) the kernel for this dtype: a 0-step call."""
        self._run(0)

    def _advance(self, nsteps: int) -> None:
        self._run(nsteps)
