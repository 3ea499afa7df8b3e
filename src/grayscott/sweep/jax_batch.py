"""The batched JAX path: the ``jax`` backend's step, ``jax.vmap``-ed over the members.

``jax.vmap(step, in_axes=(0, 0, (None, 0), None))`` turns the one-simulation step of the
``jax`` backend (:mod:`grayscott.backends.jax_generic`: weights and rates as runtime arrays)
into a step of B simulations: U and V gain a leading batch axis, the rates are one row per
member, the stencil weights and the school border's deficit table are shared. XLA compiles one
program whose loops run over the batch axis too: no Python loop over members, one dispatch per
block of steps for the whole batch. The arithmetic is the single run's, so each member matches
``grayscott run -b jax`` (and every other backend to float32 rounding).

For members too large for the caches of a CPU, the vmapped step fuses less well than the single
one, so there the batch runs ``lax.map`` of the single run's whole loop over the members: still
one compiled program and one dispatch, each member at the single run's speed (:func:`strategy`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import jax
import numpy as np
from jax import lax

from ..backends._jax_common import _DEFAULT_TUNING, full_step, x64_scope
from ..backends.jax_generic import JaxGenericBackend, kernel

_LOOPS: dict[Hashable, Callable[..., tuple[jax.Array, jax.Array]]] = {}

#: On CPU, members whose four padded fields exceed this many bytes run one after the other
#: inside the compiled program (``lax.map``): measured at 1080x1920 on 2 cores, the vmapped
#: batch ran at 170 Mcell/s against 270 for single runs, while at 64x64 vmap is x1.4 faster.
VMAP_BYTES = 4 << 20


def tuning(platform: str) -> dict[str, Any]:
    """The ``jax`` backend's loop options on this platform (same fusion choices)."""
    return {**_DEFAULT_TUNING, **JaxGenericBackend.tuning.get(platform, {})}


def strategy(platform: str, padded_shape: tuple[int, int], itemsize: int) -> str:
    """``"vmap"`` (one step of every member at a time) on accelerators and for small members
    on CPU; ``"map"`` (``lax.map``: each member's whole loop in turn, one program) for members
    too large for the CPU's caches, where the vmapped step fuses less well."""
    if platform != "cpu":
        return "vmap"
    return "vmap" if 4 * padded_shape[0] * padded_shape[1] * itemsize <= VMAP_BYTES else "map"


def _steps(one: Callable[[Any, Any], Any], chunk: int, c: Any, n: jax.Array) -> Any:
    """``n`` applications of ``one`` as in the backend's time loop: ``n // chunk`` blocks of a
    static inner loop, then the rest."""
    def block(_: Any, c: Any) -> Any:
        return lax.fori_loop(0, chunk, one, c)

    return lax.fori_loop(0, n % chunk, one, lax.fori_loop(0, n // chunk, block, c))


def batched_loop(border: str, school_edges: bool, ghosts: str, chunk: int, how: str = "vmap",
                 ) -> Callable[..., tuple[jax.Array, jax.Array]]:
    """Jitted ``(U, V, w, rates, table, n) -> (U, V)`` for batched padded fields ``(B, R+2,
    C+2)`` and ``rates`` of shape ``(B, 5)``; ``n`` traced, as in the backend's time loop.
    ``how``: ``"vmap"`` (the step, vmapped) or ``"map"`` (the single loop, ``lax.map``-ped)."""
    key = (border, school_edges, ghosts, chunk, how)
    if key in _LOOPS:
        return _LOOPS[key]
    step = full_step(kernel, border, school_edges, ghosts)

    if how == "vmap":
        bstep = jax.vmap(step, in_axes=(0, 0, (None, 0), None))

        def advance(U: jax.Array, V: jax.Array, w: jax.Array, rates: jax.Array, table: Any,
                    n: jax.Array) -> tuple[jax.Array, jax.Array]:
            return _steps(lambda _, c: bstep(c[0], c[1], (w, rates), table), chunk, (U, V), n)
    else:
        def advance(U: jax.Array, V: jax.Array, w: jax.Array, rates: jax.Array, table: Any,
                    n: jax.Array) -> tuple[jax.Array, jax.Array]:
            def member(x: tuple[jax.Array, jax.Array, jax.Array]) -> Any:
                return _steps(lambda _, c: step(c[0], c[1], (w, x[2]), table), chunk,
                              (x[0], x[1]), n)

            return lax.map(member, (U, V, rates))

    _LOOPS[key] = jax.jit(advance, donate_argnums=(0, 1))
    return _LOOPS[key]


class JaxBatch:
    """A batch of padded states on JAX's default device and the compiled batched loop."""

    def __init__(self, U: np.ndarray, V: np.ndarray, weights: np.ndarray, rates: np.ndarray,
                 table: np.ndarray | None, border: str, how: str | None = None) -> None:
        self.dtype = U.dtype
        self.device = jax.devices()[0]
        opts = tuning(self.device.platform)
        self.how = how or strategy(self.device.platform, U.shape[1:], self.dtype.itemsize)
        self.loop = batched_loop(border, opts["school_edges"], opts["ghosts"], opts["chunk"],
                                 self.how)
        with x64_scope(self.dtype):
            put = lambda x: jax.device_put(np.asarray(x, self.dtype), self.device)  # noqa: E731
            self.U, self.V = put(U), put(V)
            self.w, self.rates = put(weights), put(rates)
            self.table = None if table is None else put(table)

    def advance(self, nsteps: int) -> None:
        with x64_scope(self.dtype):
            self.U, self.V = self.loop(self.U, self.V, self.w, self.rates, self.table,
                                       np.int32(nsteps))

    def sync(self) -> None:
        """Wait for the device (JAX returns before the work is done)."""
        jax.block_until_ready((self.U, self.V))

    def v(self) -> np.ndarray:
        """V of every member, interior only, as NumPy (waits for the device)."""
        return np.array(np.asarray(self.V)[:, 1:-1, 1:-1], dtype=self.dtype)
