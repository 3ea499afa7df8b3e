"""The batched JAX path: the ``jax`` backend's step, ``jax.vmap``-ed over the members.

``jax.vmap(step, in_axes=(0, 0, (None, 0), None))`` turns the one-simulation step of the
``jax`` backend (:mod:`grayscott.backends.jax_generic`: weights and rates as runtime arrays)
into a step of B simulations: U and V gain a leading batch axis, the rates are one row per
member, the stencil weights and the school border's deficit table are shared. XLA compiles one
program whose loops run over the batch axis too: no Python loop over members, one dispatch per
block of steps for the whole batch. The arithmetic is the single run's, so each member matches
``grayscott run -b jax`` (and every other backend to float32 rounding).
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


def tuning(platform: str) -> dict[str, Any]:
    """The ``jax`` backend's loop options on this platform (same fusion choices)."""
    return {**_DEFAULT_TUNING, **JaxGenericBackend.tuning.get(platform, {})}


def batched_loop(border: str, school_edges: bool, ghosts: str, chunk: int,
                 ) -> Callable[..., tuple[jax.Array, jax.Array]]:
    """Jitted ``(U, V, w, rates, table, n) -> (U, V)`` for batched padded fields ``(B, R+2,
    C+2)`` and ``rates`` of shape ``(B, 5)``; ``n`` traced, as in the backend's time loop."""
    key = (border, school_edges, ghosts, chunk)
    if key in _LOOPS:
        return _LOOPS[key]
    step = jax.vmap(full_step(kernel, border, school_edges, ghosts),
                    in_axes=(0, 0, (None, 0), None))

    def advance(U: jax.Array, V: jax.Array, w: jax.Array, rates: jax.Array, table: Any,
                n: jax.Array) -> tuple[jax.Array, jax.Array]:
        def one(_: Any, c: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
            return step(c[0], c[1], (w, rates), table)

        def block(_: Any, c: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
            return lax.fori_loop(0, chunk, one, c)

        return lax.fori_loop(0, n % chunk, one, lax.fori_loop(0, n // chunk, block, (U, V)))

    _LOOPS[key] = jax.jit(advance, donate_argnums=(0, 1))
    return _LOOPS[key]


class JaxBatch:
    """A batch of padded states on JAX's default device and the compiled batched loop."""

    def __init__(self, U: np.ndarray, V: np.ndarray, weights: np.ndarray, rates: np.ndarray,
                 table: np.ndarray | None, border: str) -> None:
        self.dtype = U.dtype
        self.device = jax.devices()[0]
        opts = tuning(self.device.platform)
        self.loop = batched_loop(border, opts["school_edges"], opts["ghosts"], opts["chunk"])
        with x64_scope(self.dtype):
            put = lambda x: jax.device_put(np.asarray(x, self.dtype), self.device)  # noqa: E731
            self.U, self.V = put(U), put(V)
            self.w, self.rates = put(weights), put(rates)
            self.table = None if table is None else put(table)

    how = "vmap"

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
