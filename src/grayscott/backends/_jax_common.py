"""What the two JAX backends share: x64 scoping, ghost filling, the reaction, the time loop.

This module imports JAX; only the JAX backend modules import it, and only when one of them is
asked for (the registry never imports it), so JAX stays an optional extra.

Design, common to ``jax`` and ``jax-3x3``:

* **State** lives on JAX's default device (CPU here, a GPU when one is visible) as the padded
  fields ``U``, ``V`` of shape ``problem.padded_shape``: the grid plus a ghost ring.
* **Kernel**: a pure function ``kernel(U, V, args, d) -> (u, v)`` of padded block fields, the
  backend's runtime arguments and the school border's deficit ``d`` of each cell (or None),
  returning the new interior. It never asks where the ghosts came from, so a later halo
  exchange can feed it blocks of a decomposed grid.
* **Ghosts**: :func:`with_ghosts` builds the next padded field from the new interior by the
  border rule (zeros, the fixed values, or the wrapped-around rows and columns). XLA fuses it
  into the kernel's output, which then writes the padded field, ghost ring included.
* **School border**: either the deficit of every cell, rebuilt from a 3x3 table and the cells'
  indices (no array read), or the bulk without correction plus the four edge strips recomputed
  with it (:func:`full_step`), whichever was measured faster for the backend and the device.
* **Loop**: every step between two frames runs inside one jitted function, whose trip count
  ``n`` is a *traced* argument: one compilation serves every block length. ``compile()``
  compiles it (running ``n = 0``) and ``advance(n)`` reuses it for any ``n``. The steps run in
  an outer ``lax.fori_loop`` over blocks of :attr:`JaxBackend.chunk` steps, each an inner loop
  of static trip count, then the remaining ``n % chunk`` steps: on a GPU each iteration of a
  loop with a dynamic bound waits for the host to read the loop condition, which the inner
  static loop avoids (measured on an H200 at 1080x1920 float32: 45 instead of 33 Gcell/s; on
  CPU no difference). Jitted loops are cached at module level by configuration, so a second
  backend of the same configuration reuses the compiled executable too.
* **float64**: JAX disables 64-bit types by default. Each call into JAX runs under
  ``jax.enable_x64(dtype == float64)``, a thread-local context manager (``jax.enable_x64``,
  JAX >= 0.8): the caller's setting (``jax.config.jax_enable_x64``, default dtypes) is the same
  before and after. The x64 flag is part of JAX's jit cache key, so the compiled loop is always
  called under the setting it was traced under (called outside it, JAX would retrace and
  compute in float32).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..errors import GrayScottError
from ..physics import Deficit, Problem, deficit, fill_ghosts
from ..physics.borders import FIXED_GHOST
from .base import Backend, Capabilities, Option, integer, one_of

#: How many times each configuration's time loop has been traced (tests read it).
TRACES: Counter[Hashable] = Counter()

#: Compiled time loops by configuration key.
_LOOPS: dict[Hashable, Callable[..., tuple[jax.Array, jax.Array]]] = {}


def x64_scope(dtype: np.dtype) -> AbstractContextManager[Any]:
    """64-bit types on for a float64 problem, off for float32, for the ``with`` block only."""
    return jax.enable_x64(bool(np.dtype(dtype) == np.float64))


def with_ghosts(x: jax.Array, border: str, fixed_value: float, how: str = "pad") -> jax.Array:
    """The padded field of interior ``x`` with its ghost ring filled by the border rule.

    Same rule as :func:`grayscott.physics.fill_ghosts` (which works in place on NumPy arrays):
    periodic wraps around, fixed holds ``fixed_value``, school holds 0 (the deficit does the rest).
    ``how`` is ``"pad"`` (``jnp.pad``) or ``"concat"`` (``jnp.concatenate``): the same values,
    but XLA fuses them differently into the kernel that computes ``x``; each backend uses the
    one measured fastest for it (on CPU a fusion rooted at ``pad`` does not vectorise when it
    reads runtime scalars such as the weights of the ``jax`` backend).
    """
    if how == "pad":
        if border == "periodic":
            return jnp.pad(x, 1, mode="wrap")
        return jnp.pad(x, 1, constant_values=fixed_value if border == "fixed" else 0.0)
    if border == "periodic":
        x = jnp.concatenate([x[:, -1:], x, x[:, :1]], axis=1)
        return jnp.concatenate([x[-1:], x, x[:1]], axis=0)
    value = fixed_value if border == "fixed" else 0.0
    col = jnp.full((x.shape[0], 1), value, x.dtype)
    row = jnp.full((1, x.shape[1] + 2), value, x.dtype)
    return jnp.concatenate([row, jnp.concatenate([col, x, col], axis=1), row], axis=0)


def deficit_table(d: Deficit, shape: tuple[int, int]) -> np.ndarray:
    """The school-border deficit strips as a 3x3 table ``T[row class, column class]``.

    Classes are (first, inner, last) row or column. The strips of
    :func:`grayscott.physics.deficit` are constant along the inner part of each side, so the
    table holds them exactly, and :func:`deficit_block` rebuilds them for any block of the grid
    from the cells' indices.
    """
    nr, nc = shape
    field = d.as_field(shape)
    rows = (0, slice(1, nr - 1), nr - 1)
    cols = (0, slice(1, nc - 1), nc - 1)
    table = np.zeros((3, 3))
    for a, r in enumerate(rows):
        for b, c in enumerate(cols):
            block = np.atleast_1d(field[r, c])
            if not np.all(block == block.flat[0]):  # not of the one-value-per-class form
                raise GrayScottError("internal: deficit strips vary along a side")
            table[a, b] = block.flat[0]
    return table


def deficit_block(table: Any, shape: tuple[int, int], origin: tuple[int, int],
                  grid: tuple[int, int]) -> jax.Array:
    """The deficit of the cells of the block ``shape`` at ``origin`` of a ``grid``, from the
    3x3 table (constants or a traced array) and index compares: nothing is read from memory."""
    nr, nc = grid
    i = lax.broadcasted_iota(jnp.int32, shape, 0) + origin[0]
    j = lax.broadcasted_iota(jnp.int32, shape, 1) + origin[1]

    def row(a: int) -> jax.Array:
        return jnp.where(j == 0, table[a][0], jnp.where(j == nc - 1, table[a][2], table[a][1]))

    return jnp.where(i == 0, row(0), jnp.where(i == nr - 1, row(2), row(1)))


def edge_blocks(grid: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """(row0, row1, col0, col1) of the four outer strips of the interior: first and last rows
    whole, first and last columns without the corners."""
    nr, nc = grid
    return [(0, 1, 0, nc), (nr - 1, nr, 0, nc), (1, nr - 1, 0, 1), (1, nr - 1, nc - 1, nc)]


def reaction(u: jax.Array, v: jax.Array, lu: jax.Array, lv: jax.Array,
             Du: Any, Dv: Any, F: Any, Fk: Any, dt: Any) -> tuple[jax.Array, jax.Array]:
    """Explicit Euler of docs/model.md §1, written as the reference writes it."""
    uvv = u * v * v
    return (u + dt * (Du * lu - uvv + F * (1.0 - u)),
            v + dt * (Dv * lv + uvv - Fk * v))


#: A kernel: ``(U, V, args, d) -> (u, v)``: padded block fields in, new interior out. ``d`` is
#: the school border's deficit of each cell of the block, or None where it is zero.
Kernel = Callable[[jax.Array, jax.Array, Any, "jax.Array | None"], tuple[jax.Array, jax.Array]]


def full_step(kernel: Kernel, border: str, school_edges: bool, ghosts: str,
              ) -> Callable[[jax.Array, jax.Array, Any, Any], tuple[jax.Array, jax.Array]]:
    """One step of the whole grid, ``(U, V, args, table) -> (U', V')`` on padded fields.

    For the school border (``table`` not None), without ``school_edges`` the kernel applies the
    deficit of every cell, rebuilt from the table by :func:`deficit_block` (XLA hoists that
    loop-invariant array out of the loop: one more array read per step). With
    ``school_edges`` the kernel runs on the whole grid *without* correction, then again on the
    four one-cell-wide edge strips with their deficit, which overwrite the outer rows and
    columns in place: the bulk pays nothing for the border. ``ghosts`` says how the ghost ring
    is built (:func:`with_ghosts`).
    """
    gu, gv = FIXED_GHOST

    def pad(u: jax.Array, v: jax.Array) -> tuple[jax.Array, jax.Array]:
        return with_ghosts(u, border, gu, ghosts), with_ghosts(v, border, gv, ghosts)

    def step(U: jax.Array, V: jax.Array, args: Any, table: Any) -> tuple[jax.Array, jax.Array]:
        grid = (U.shape[0] - 2, U.shape[1] - 2)
        if table is not None and not school_edges:
            return pad(*kernel(U, V, args, deficit_block(table, grid, (0, 0), grid)))
        U2, V2 = pad(*kernel(U, V, args, None))
        if table is None:
            return U2, V2
        for r0, r1, c0, c1 in edge_blocks(grid):
            d = deficit_block(table, (r1 - r0, c1 - c0), (r0, c0), grid)
            us, vs = kernel(U[r0:r1 + 2, c0:c1 + 2], V[r0:r1 + 2, c0:c1 + 2], args, d)
            U2 = U2.at[r0 + 1:r1 + 1, c0 + 1:c1 + 1].set(us)
            V2 = V2.at[r0 + 1:r1 + 1, c0 + 1:c1 + 1].set(vs)
        return U2, V2

    return step


def time_loop(key: Hashable, kernel: Kernel, border: str, school_edges: bool, ghosts: str,
              chunk: int) -> Callable[..., tuple[jax.Array, jax.Array]]:
    """The jitted ``(U, V, args, table, n) -> (U, V)`` advancing padded fields by ``n`` steps
    (``n`` traced: one compilation for every block length), as ``n // chunk`` blocks of
    ``chunk`` steps (an inner loop of static trip count), then ``n % chunk`` single steps;
    ``chunk = 0``: one loop of ``n`` steps. Cached by ``key``, which must name everything
    ``kernel`` closes over and the other arguments. Donates U and V (their buffers are reused).
    """
    if key in _LOOPS:
        return _LOOPS[key]
    step = full_step(kernel, border, school_edges, ghosts)

    def advance(U: jax.Array, V: jax.Array, args: Any, table: Any, n: jax.Array,
                ) -> tuple[jax.Array, jax.Array]:
        TRACES[key] += 1  # a Python side effect: runs once per trace, never per call

        def one(_: Any, c: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
            return step(*c, args, table)

        if not chunk:
            return lax.fori_loop(0, n, one, (U, V))

        def block(_: Any, c: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
            return lax.fori_loop(0, chunk, one, c)  # static trip count

        return lax.fori_loop(0, n % chunk, one, lax.fori_loop(0, n // chunk, block, (U, V)))

    _LOOPS[key] = jax.jit(advance, donate_argnums=(0, 1))
    return _LOOPS[key]


class JaxFrame:
    """Fields on their way to the host (:meth:`JaxBackend.request_v`, ``request_state``):
    ``result()`` returns V, or (U, V)."""

    def __init__(self, fields: list[jax.Array], dtype: np.dtype) -> None:
        self._fields: list[jax.Array] | None = fields
        self._dtype = dtype
        self._value: Any = None

    def result(self) -> Any:
        if self._value is None:
            # Writable copies the caller owns (NumPy's view of a JAX array is read-only).
            copies = [np.array(x, dtype=self._dtype) for x in self._fields]
            self._value = copies[0] if len(copies) == 1 else tuple(copies)
            self._fields = None
        return self._value


#: Defaults of the loop options (see :attr:`JaxBackend.tuning`).
_DEFAULT_TUNING: dict[str, Any] = {"ghosts": "concat", "school_edges": False, "chunk": 32}


class JaxBackend(Backend):
    """State on JAX's default device as padded fields; subclasses supply the kernel.

    A subclass's constructor calls :meth:`_setup` with its kernel, the configuration key naming
    every constant the kernel closes over, and the kernel's runtime arguments.
    """

    # Work is queued on the device (asynchronous dispatch); XLA runs it on its own thread pool,
    # so there is no threads option.
    capabilities = Capabilities(synchronous=False, devices=("cpu", "gpu", "tpu"))
    #: The loop options; left out, they come from :attr:`tuning` for the device's platform.
    options = {
        "ghosts": Option("how the next ghost ring is built: 'pad' or 'concat' (with_ghosts)",
                         one_of("pad", "concat")),
        "school_edges": Option("school border: edge strips recomputed (True) or the deficit of "
                               "every cell (False) (full_step)", one_of(True, False)),
        "chunk": Option("steps per inner loop of static trip count, 0 for one loop (time_loop)",
                        integer(0)),
    }
    #: Loop options by device platform ("cpu", "gpu", ...), over :data:`_DEFAULT_TUNING`: each
    #: value is the one measured fastest for the backend on that platform (see the backends'
    #: modules); options given to the constructor override them.
    tuning: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, problem: Problem, **options: Any) -> None:
        super().__init__(problem, **options)
        if not hasattr(jax, "enable_x64"):
            raise GrayScottError(f"backend {self.name!r} needs jax >= 0.8 (scoped x64), found "
                                 f"{jax.__version__}: pip install -U 'grayscott[jax]'")
        self.device = jax.devices()[0]
        if problem.dtype == np.float64 and self.device.platform == "tpu":
            raise GrayScottError(f"backend {self.name!r}: float64 is not supported on TPU; "
                                 "use --dtype float32")
        d = deficit(problem.stencil, problem.border, problem.shape)
        self.deficit_table = None if d is None else deficit_table(d, problem.shape)
        self.U: jax.Array | None = None
        self.V: jax.Array | None = None
        tuned = {**_DEFAULT_TUNING, **self.tuning.get(self.device.platform, {}), **self.config}
        self.ghosts: str = tuned["ghosts"]
        self.school_edges: bool = tuned["school_edges"]
        self.chunk: int = tuned["chunk"]

    def _setup(self, key: tuple[Any, ...], kernel: Kernel, args: tuple[Any, ...]) -> None:
        self.kernel = kernel  # kept for reuse (e.g. on blocks of a decomposed grid)
        self.key = (*key, self.problem.border, self.school_edges, self.ghosts, self.chunk)
        self.loop = time_loop(self.key, kernel, self.problem.border, self.school_edges,
                              self.ghosts, self.chunk)
        dtype = self.problem.dtype
        with self.scope():
            self.args = jax.device_put(tuple(np.asarray(a, dtype) for a in args), self.device)
            self.table = (None if self.deficit_table is None else
                          jax.device_put(self.deficit_table.astype(dtype), self.device))

    def scope(self) -> AbstractContextManager[Any]:
        """The x64 setting of this problem's dtype, for the ``with`` block only."""
        return x64_scope(self.problem.dtype)

    @property
    def platform(self) -> str:
        return str(self.device.platform)

    @property
    def provenance(self) -> dict[str, Any]:
        """The loop options in use (from the platform's tuning unless given)."""
        return {"ghosts": self.ghosts, "school_edges": self.school_edges, "chunk": self.chunk}

    @property
    def threads(self) -> int:
        if self.device.platform == "cpu":
            return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
                os.cpu_count() or 1)
        return 1

    def _set_state(self, u: np.ndarray, v: np.ndarray) -> None:
        fields = []
        for x, ghost in zip((u, v), FIXED_GHOST, strict=True):
            X = np.zeros(self.problem.padded_shape, self.problem.dtype)
            X[1:-1, 1:-1] = x
            fill_ghosts(X, self.problem.border, ghost)
            fields.append(X)
        with self.scope():
            self.U, self.V = (jax.device_put(X, self.device) for X in fields)

    def _run(self, nsteps: int) -> None:
        with self.scope():
            self.U, self.V = self.loop(self.U, self.V, self.args, self.table, np.int32(nsteps))

    def _advance(self, nsteps: int) -> None:
        self._run(nsteps)

    def compile(self) -> None:
        """Trace and compile the time loop now. It runs with ``n = 0``: the trip count is a
        traced argument, so this is the executable every ``advance(n)`` uses, whatever ``n``."""
        self.require_state("compile")
        self._run(0)
        jax.block_until_ready((self.U, self.V))

    def synchronize(self) -> None:
        """JAX dispatches asynchronously: wait for the loop to finish (timers call this)."""
        if self.U is not None:
            jax.block_until_ready((self.U, self.V))

    def _interior(self, X: jax.Array) -> np.ndarray:
        return np.array(np.asarray(X)[1:-1, 1:-1], dtype=self.problem.dtype)

    def _get_state(self) -> tuple[np.ndarray, np.ndarray]:
        return self._interior(self.U), self._interior(self.V)

    def request_v(self) -> JaxFrame:
        """V's interior, sliced on the device into a buffer of its own (the next block reuses
        V's, which the loop donates) and sent with ``copy_to_host_async``: both are queued
        behind the block in flight and return at once, so the copy overlaps the next block if
        it is dispatched before the frame is waited for."""
        self.require_state("request_v")
        return self._request(self.V)

    def request_state(self) -> JaxFrame:
        """:meth:`request_v` for U and V: ``result()`` returns (U, V)."""
        self.require_state("request_state")
        return self._request(self.U, self.V)

    def _request(self, *fields: jax.Array) -> JaxFrame:
        with self.scope():
            interiors = [X[1:-1, 1:-1] for X in fields]
        for x in interiors:
            x.copy_to_host_async()
        return JaxFrame(interiors, self.problem.dtype)

    def _get_v(self) -> np.ndarray:
        return self._interior(self.V)
