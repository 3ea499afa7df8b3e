"""The one interface every backend implements, and what a backend declares about itself.

A backend is built for a :class:`~grayscott.physics.Problem`, is given a state, advances it by
``n`` steps, and hands U and V back as NumPy arrays when a frame is due. Backends keep their state
in whatever form suits them (padded NumPy buffers, device arrays...) between calls to
:meth:`Backend.advance`, so the driver never forces a copy per step.

Kernels work on padded fields with a ghost ring (see :mod:`grayscott.physics.borders`), so a later
halo exchange or temporal-blocking driver can reuse them unchanged.

Adding a backend
----------------
Write one module with one :class:`Backend` subclass, add one line to the registry
(:mod:`grayscott.backends`), and declare on the class:

``name``
    the registry name (``"numpy"``).
``capabilities``
    a :class:`Capabilities`: whether :meth:`~Backend.advance` returns only once the work is done
    (``synchronous``; if not, override :meth:`~Backend.synchronize`), the platforms it can run
    on (``devices``), a rough rate if it is a slow rung (``cell_steps_per_second``), and whether
    it can advance one block of a decomposed grid (``decomposable``). The benchmark, the profiler,
    ``grayscott backends`` and the tests read these instead of guessing from the class.
``options``
    the keywords it accepts beyond the problem, each an :class:`Option` whose ``check`` turns a
    value into the one to use or raises :class:`~grayscott.errors.GrayScottError`.
    ``backends.create(name, problem, **options)`` passes them on; a value of ``None`` means "the
    backend's default" and is dropped, any other undeclared keyword is refused. The checked values
    are in ``self.config`` once ``Backend.__init__`` has run. A backend "takes threads" when it
    declares a ``threads`` option (the CLI's ``--threads``).

and implement the four hooks (the public methods are template methods that check their
arguments, so every backend refuses the same mistakes with the same message):

``_set_state(u, v)``
    load U and V, already checked for shape and converted to ``problem.dtype``;
``_advance(nsteps)``
    advance by ``nsteps >= 1`` steps (never called with 0, nor before a state was loaded);
``_get_state()``
    copies of U and V as NumPy arrays of ``problem.dtype``;
``_get_v()``
    optional: V alone, when that is cheaper than both fields.

Optional hooks: :meth:`~Backend.compile` (do the JIT work before timing), :meth:`~Backend.threads`
and :meth:`~Backend.platform` (what the instance actually uses), :attr:`~Backend.provenance`
(what it chose for this problem: tuned or autotuned settings, shown by ``bench``),
:meth:`~Backend.warning`, and for a device backend :meth:`~Backend.request_v` and
:meth:`~Backend.request_state` (start copying a frame or the state to the host without waiting,
so the next block computes meanwhile; the default fetches at once).
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import GrayScottError
from ..io.paths import format_duration
from ..physics import Problem, deficit, fill_ghosts
from ..physics.borders import FIXED_GHOST
from ..physics.problem import check_int
from .frames import FrameHandle, ReadyFrame

#: Above this estimated run time a slow rung warns before starting (seconds).
SLOW_WARN_SECONDS = 600.0


@dataclass(frozen=True)
class Capabilities:
    """What a backend class says about itself (declared, not measured)."""

    #: ``advance`` returns once the work is done. False (JAX, CuPy: work is queued on a device):
    #: the backend overrides :meth:`Backend.synchronize`, which timers call before the clock.
    synchronous: bool = True
    #: Platforms it can run on: ``("cpu",)``, ``("gpu",)``, or several when it runs on whatever
    #: device its library picks (JAX); an instance's :attr:`Backend.platform` says which.
    devices: tuple[str, ...] = ("cpu",)
    #: Rough cell-updates per second of a *slow rung* (the python loops), None for the others:
    #: ``bench`` leaves a slow rung out of its default set and times it on fewer steps, and
    #: :meth:`Backend.warning` warns before a run that would take long.
    cell_steps_per_second: float | None = None
    #: It can advance one block of a decomposed grid: its state is padded NumPy fields ``U``,
    #: ``V`` whose ghost ring is read, never computed, by the step, so a halo exchange can fill it.
    decomposable: bool = False
    #: Its ``advance`` runs compiled code that releases the GIL (Numba's ``nogil``): the driver
    #: may run the next block in a worker thread while this thread writes the frame.
    releases_gil: bool = False
    #: It takes a problem whose F and k vary in space (:class:`~grayscott.physics.RateMap`),
    #: bit for bit with the other backends that do; the others refuse such a problem.
    rate_map: bool = False


@dataclass(frozen=True)
class Option:
    """A keyword a backend accepts (``backends.create(name, problem, key=value)``)."""

    help: str
    #: Returns the value to use, or raises GrayScottError (never called with None).
    check: Callable[[Any], Any] = lambda value: value


def one_of(*choices: Any) -> Callable[[Any], Any]:
    """An :attr:`Option.check` accepting exactly ``choices`` (compared by value and type)."""

    def check(value: Any) -> Any:
        for c in choices:
            if type(value) is type(c) and value == c:
                return value
        raise ValueError(f"must be one of {', '.join(map(repr, choices))}, got {value!r}")

    return check


def integer(low: int, high: Callable[[], int] | None = None) -> Callable[[Any], int]:
    """An :attr:`Option.check` accepting an integer (not a bool) from ``low`` to ``high()``."""

    def check(value: Any) -> int:
        try:
            if isinstance(value, bool):
                raise TypeError
            n = operator.index(value)
        except TypeError:
            raise ValueError(f"must be an integer, got {value!r}") from None
        top = None if high is None else high()
        if n < low or (top is not None and n > top):
            raise ValueError(f"must be from {low} to {top}, got {n}" if top is not None else
                             f"must be an integer >= {low}, got {n}")
        return n

    return check


class Backend(ABC):
    """Advance a Gray-Scott state on one problem (see the module docstring to write one)."""

    #: Registry name, e.g. ``"numpy"``.
    name: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()
    options: ClassVar[Mapping[str, Option]] = {}

    def __init__(self, problem: Problem, **options: Any) -> None:
        self.problem = problem
        #: The checked options, those left at None (the backend's default) dropped.
        self.config: dict[str, Any] = self.check_options(options)
        self._loaded = False

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """The options to use, checked against :attr:`options`; GrayScottError if one is
        undeclared or refused by its check."""
        config = {}
        for key, value in options.items():
            if value is None:
                continue
            if key not in cls.options:
                takes = f"its options: {', '.join(cls.options)}" if cls.options else (
                    "it takes none")
                raise GrayScottError(f"backend {cls.name!r} takes no option {key!r} ({takes})")
            try:
                config[key] = cls.options[key].check(value)
            except (TypeError, ValueError) as exc:
                raise GrayScottError(f"backend {cls.name!r}: {key} {exc}") from None
        return config

    # -- the public interface: template methods, the same checks on every backend ------------

    def set_state(self, u: np.ndarray, v: np.ndarray) -> None:
        """Load U and V (shape ``problem.shape``, any float dtype; converted to problem.dtype)."""
        u = np.asarray(u)
        v = np.asarray(v)
        if u.shape != self.problem.shape or v.shape != self.problem.shape:
            raise ValueError(f"state must have shape {self.problem.shape}, got {u.shape} "
                             f"and {v.shape}")
        self._set_state(u.astype(self.problem.dtype), v.astype(self.problem.dtype))
        self._loaded = True

    def advance(self, nsteps: int) -> None:
        """Advance the loaded state by ``nsteps >= 0`` explicit-Euler steps."""
        nsteps = check_int("nsteps", nsteps, 0)
        self.require_state("advance")
        if nsteps:
            self._advance(nsteps)

    def get_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of U and V as NumPy arrays of ``problem.dtype``."""
        self.require_state("get_state")
        return self._get_state()

    def get_v(self) -> np.ndarray:
        """V alone (what a frame stores), as a NumPy copy."""
        self.require_state("get_v")
        return self._get_v()

    def request_v(self) -> FrameHandle:
        """Start fetching V without waiting; ``result()`` of the handle returns it (a NumPy
        array the caller owns), as it was when requested even if the backend advanced since.
        Default: fetched now. A device backend overrides it to copy in the background while
        the next block computes (see :mod:`.frames`)."""
        self.require_state("request_v")
        return ReadyFrame(self._get_v())

    def request_state(self) -> FrameHandle:
        """:meth:`request_v` for the whole state: ``result()`` returns (U, V) (a checkpoint
        of this very step, while the next block may already compute)."""
        self.require_state("request_state")
        return ReadyFrame(self._get_state())

    def require_state(self, what: str) -> None:
        """The one error for using a backend before :meth:`set_state`."""
        if not self._loaded:
            raise GrayScottError(f"backend {self.name!r}: call set_state(u, v) before {what}()")

    # -- what a backend implements -----------------------------------------------------------

    @abstractmethod
    def _set_state(self, u: np.ndarray, v: np.ndarray) -> None:
        """Load U and V, checked: shape ``problem.shape``, dtype ``problem.dtype``."""

    @abstractmethod
    def _advance(self, nsteps: int) -> None:
        """Advance the loaded state by ``nsteps >= 1`` steps."""

    @abstractmethod
    def _get_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of U and V as NumPy arrays of ``problem.dtype``."""

    def _get_v(self) -> np.ndarray:
        """V alone; override to skip copying U."""
        return self._get_state()[1]

    # -- optional hooks ----------------------------------------------------------------------

    @property
    def threads(self) -> int:
        """How many CPU threads the kernel uses (for benchmark reports)."""
        return 1

    @property
    def platform(self) -> str:
        """Where this instance runs: "cpu", or the accelerator's platform ("gpu", "tpu")."""
        return self.capabilities.devices[0]

    @property
    def provenance(self) -> dict[str, Any]:
        """What this instance chose for its problem (options after defaults, tuning tables or
        autotuning), for reports and run files; ``{}`` when it chooses nothing."""
        return {}

    def describe(self) -> str:
        """:attr:`provenance` in one short line for reports (``''`` when there is none)."""
        return ", ".join(f"{k}={v}" for k, v in self.provenance.items())

    def warning(self, nsteps: int) -> str | None:
        """A line to show before running ``nsteps`` steps, or None: a slow rung (one that
        declares ``cell_steps_per_second``) warns when the run would take over
        :data:`SLOW_WARN_SECONDS`."""
        rate = self.capabilities.cell_steps_per_second
        if rate is None:
            return None
        nr, nc = self.problem.shape
        seconds = nr * nc * nsteps / rate
        if seconds < SLOW_WARN_SECONDS:
            return None
        return (f"the {self.name} backend is a slow rung: {nsteps} steps on {nr}x{nc} will take "
                f"about {format_duration(seconds)}; --backend numpy or numba-parallel is far "
                "faster")

    def compile(self) -> None:  # noqa: B027  (optional hook, default does nothing)
        """Compile or trace whatever the first :meth:`advance` would, so timing can leave it out."""

    def synchronize(self) -> None:  # noqa: B027  (optional hook, default does nothing)
        """Block until every :meth:`advance` so far has finished. A backend that declares
        ``synchronous=False`` must override it; timers call it before stopping the clock."""


class PaddedNumpyBackend(Backend):
    """State held as padded NumPy fields ``U``, ``V`` of shape ``problem.padded_shape``; the
    interior is the grid and the ring is filled by :meth:`fill_ghosts` before each step."""

    capabilities = Capabilities(decomposable=True)

    def __init__(self, problem: Problem, **options: Any) -> None:
        super().__init__(problem, **options)
        shape, dtype = problem.padded_shape, problem.dtype
        self.U = np.zeros(shape, dtype)
        self.V = np.zeros(shape, dtype)
        d = deficit(problem.stencil, problem.border, problem.shape)
        self.deficit = None if d is None else d.astype(dtype)

    def fill_ghosts(self) -> None:
        fill_ghosts(self.U, self.problem.border, FIXED_GHOST[0])
        fill_ghosts(self.V, self.problem.border, FIXED_GHOST[1])

    def _set_state(self, u: np.ndarray, v: np.ndarray) -> None:
        self.U[1:-1, 1:-1] = u
        self.V[1:-1, 1:-1] = v

    def _get_state(self) -> tuple[np.ndarray, np.ndarray]:
        return self.U[1:-1, 1:-1].copy(), self.V[1:-1, 1:-1].copy()

    def _get_v(self) -> np.ndarray:
        return self.V[1:-1, 1:-1].copy()
