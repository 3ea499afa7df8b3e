"""``cupy``: the step as one CUDA kernel per time step, launched in CUDA graphs, through CuPy.

The kernel is ``cuda/gray_scott.cu`` beside this module, compiled by NVRTC (CuPy's
``RawModule``) once per dtype and rows-per-thread, with ``--fmad=false``: it handles every
stencil (the 3x3 weights are runtime data), every border (the ghost values and the school
border's deficit are applied in the kernel, nothing is padded) and both dtypes, in the order of
operations of the Numba kernel, so it agrees with ``numba`` bit for bit (the tests compile the
same source with the host C compiler and check it; on a GPU they compare with ``numba`` too).

Design:

* **State**: two pairs of unpadded (nr, nc) device fields; a step reads one pair and writes the
  other, so nothing is copied between steps.
* **Launches**: a block of :attr:`chunk` steps (even, so the state returns to the pair it left)
  is captured once into a CUDA graph per starting pair and replayed: one launch from Python per
  ``chunk`` steps instead of one per step (a launch from Python costs several microseconds, a
  step of the school's grid about ten on a current GPU). Steps left over run one launch each.
* **Frames** (:meth:`request_v`): V is copied on the compute stream into one of two device
  snapshot buffers (a device-to-device copy: the next block may overwrite V at once), then to
  one of two pinned host buffers on a second stream, while the next block computes. The frame's
  handle waits for that copy only when its result is asked for.

CuPy is imported only when the backend is built (:func:`cupy_module`);
:func:`unavailable_reason` is the registry's cheap check that it imports *and* sees a device.
"""

from __future__ import annotations

import functools
import importlib.resources
from typing import Any

import numpy as np

from ..errors import BackendUnavailable, GrayScottError
from ..physics import Problem, deficit
from ..physics.borders import FIXED_GHOST
from .base import Backend, Capabilities, Option, integer

#: The kernel source, relative to this package.
SOURCE = "cuda/gray_scott.cu"
#: Border codes of the kernel (GS_SCHOOL, GS_PERIODIC, GS_FIXED).
BORDER_CODES = {"school": 0, "periodic": 1, "fixed": 2}
#: Length of the kernel's parameter array P (see the source's header).
NPARAMS = 26
#: No fused multiply-add contraction: one rounding per add and per multiply, as in Numba.
NVRTC_OPTIONS = ("--fmad=false",)
C_TYPES = {"float32": "float", "float64": "double"}
#: CUDA's limit on the grid's second dimension (blocks of rows).
MAX_GRID_Y = 65535
INSTALL_HINT = "pip install 'grayscott[cupy]' (CUDA 12 wheel; cupy-cuda13x for CUDA 13)"


def kernel_source() -> str:
    return importlib.resources.files(__package__).joinpath(SOURCE).read_text(encoding="utf-8")


def deficit_table(problem: Problem) -> np.ndarray | None:
    """The school border's deficit strips as the kernel's 3x3 table by (row class, column
    class), classes being (first, inner, last); None when there is nothing to correct.

    The strips of :func:`grayscott.physics.deficit` are constant along the inner part of each
    side (checked here), so 9 numbers hold them exactly.
    """
    d = deficit(problem.stencil, problem.border, problem.shape)
    if d is None:
        return None
    table = np.array([[d.top[0], d.top[1], d.top[-1]],
                      [d.left[0], 0.0, d.right[0]],
                      [d.bottom[0], d.bottom[1], d.bottom[-1]]])
    inner = [(d.top[1:-1], table[0, 1]), (d.bottom[1:-1], table[2, 1]),
             (d.left, table[1, 0]), (d.right, table[1, 2])]
    if any(np.any(strip != value) for strip, value in inner):
        raise GrayScottError("internal: deficit strips vary along a side")
    return table


def rates(problem: Problem) -> np.ndarray:
    """Du, Dv, F, F + k, dt, 1 in the field's dtype; ``F + k`` summed in double precision and
    rounded once, as :func:`grayscott.backends.numba_kernels.constants` does."""
    p = problem.params
    return np.array([p.Du, p.Dv, p.F, p.F + p.k, p.dt, 1.0], dtype=problem.dtype)


def kernel_parameters(problem: Problem) -> tuple[np.ndarray, int, int]:
    """(P, border code, has_deficit): the kernel's runtime arguments for ``problem``."""
    P = np.zeros(NPARAMS, problem.dtype)
    P[0:9] = problem.stencil.weights.ravel()
    P[9:15] = rates(problem)
    if problem.border == "fixed":
        P[15:17] = FIXED_GHOST
    table = deficit_table(problem)
    if table is not None:
        P[17:26] = table.ravel()
    return P, BORDER_CODES[problem.border], int(table is not None)


def launch_shape(problem: Problem, rows: int, block: int) -> tuple[tuple[int, int, int],
                                                                   tuple[int, int, int]]:
    """(grid, block) of one step: ``block`` threads along a row, each doing ``rows`` rows."""
    nr, nc = problem.shape
    gy = -(-nr // rows)
    if gy > MAX_GRID_Y:
        raise GrayScottError(f"backend 'cupy': {nr} rows need {gy} blocks of {rows} rows, over "
                             f"CUDA's {MAX_GRID_Y}; use a larger rows option")
    return (-(-nc // block), gy, 1), (block, 1, 1)


#: Field-sized device arrays the backend may hold: two pairs of fields, and two slots of
#: snapshots of (U, V) for the copies to the host.
DEVICE_FIELDS = 8


def check_device_memory(problem: Problem, free_bytes: int) -> None:
    """Refuse, with the numbers, a grid whose fields do not fit in the GPU's free memory."""
    need = DEVICE_FIELDS * problem.nbrow * problem.nbcol * problem.dtype.itemsize
    if need > free_bytes:
        raise GrayScottError(
            f"backend 'cupy': {problem.nbrow}x{problem.nbcol} {problem.dtype.name} needs "
            f"{need / 2**30:.2f} GiB on the GPU ({DEVICE_FIELDS} fields), {free_bytes / 2**30:.2f}"
            " GiB are free; use a smaller grid or float32")


@functools.cache
def cupy_module() -> Any:
    import cupy

    return cupy


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@functools.cache
def unavailable_reason() -> str:
    """Why the backend cannot run here ('' when it can): CuPy does not import, or sees no
    CUDA device. Cached: it imports CuPy and asks the driver once per process."""
    try:
        cp = cupy_module()
    except Exception as exc:  # ImportError, or a CUDA library missing when loading it
        return f"cupy does not import ({_first_line(exc)}): {INSTALL_HINT}"
    try:
        count = cp.cuda.runtime.getDeviceCount()
    except Exception as exc:  # no driver, no device, driver too old for the wheel
        return f"needs a CUDA GPU: cupy sees none ({_first_line(exc)})"
    return "" if count > 0 else "needs a CUDA GPU: cupy sees none"


def _even(value: Any) -> int:
    n = integer(0)(value)
    if n % 2:
        raise ValueError(f"must be even (a graph must end on the buffers it started from), "
                         f"got {n}")
    return n


def _block(value: Any) -> int:
    n = integer(32, lambda: 1024)(value)
    if n % 32:
        raise ValueError(f"must be a multiple of 32 (a warp), got {n}")
    return n


@functools.cache
def _kernel(dtype: str, rows: int) -> Any:
    """The compiled ``gs_step`` for a dtype and rows per thread (NVRTC; CuPy caches it on disk
    too)."""
    cp = cupy_module()
    options = (*NVRTC_OPTIONS, f"-DGS_REAL={C_TYPES[dtype]}", f"-DGS_ROWS={rows}")
    return cp.RawModule(code=kernel_source(), options=options).get_function("gs_step")


class CupyFrame:
    """Fields on their way to the host: :meth:`result` waits for their copy and returns V (a
    frame), or (U, V) (the whole state)."""

    def __init__(self, event: Any, pinned: list[np.ndarray]) -> None:
        self._event = event
        self._pinned: list[np.ndarray] | None = pinned
        self._value: Any = None

    def done(self) -> bool:
        return self._value is not None or bool(self._event.done)

    def result(self) -> Any:
        if self._value is None:
            self._event.synchronize()
            # Copies the caller owns: the pinned buffers take the request after next.
            copies = [x.copy() for x in self._pinned]
            self._value = copies[0] if len(copies) == 1 else tuple(copies)
            self._pinned = None
        return self._value


class CupyBackend(Backend):
    name = "cupy"
    capabilities = Capabilities(synchronous=False, devices=("gpu",))
    options = {
        "rows": Option("rows computed by one thread, sliding down a column (1 to 64)",
                       integer(1, lambda: 64)),
        "block": Option("threads per block, along a row (a multiple of 32, at most 1024)",
                        _block),
        "chunk": Option("steps per CUDA graph (even; 0: one launch per step)", _even),
    }
    #: Defaults of the options (to be confirmed by the sweep in scripts/gpu-check.sh).
    rows: int = 8
    block: int = 128
    chunk: int = 32

    def __init__(self, problem: Problem, **options: Any) -> None:
        super().__init__(problem, **options)
        reason = unavailable_reason()
        if reason:
            raise BackendUnavailable(f"backend 'cupy' {reason}")
        cp = cupy_module()
        self.rows = self.config.get("rows", type(self).rows)
        self.block = self.config.get("block", type(self).block)
        self.chunk = self.config.get("chunk", type(self).chunk)
        self.grid, self.threads_per_block = launch_shape(problem, self.rows, self.block)
        P, border, has_deficit = kernel_parameters(problem)
        check_device_memory(problem, cp.cuda.runtime.memGetInfo()[0])
        self.device = cp.cuda.Device()
        self.stream = cp.cuda.Stream(non_blocking=True)
        self.copy_stream = cp.cuda.Stream(non_blocking=True)
        shape, dtype = problem.shape, problem.dtype
        self.P = cp.asarray(P)
        self.ints = tuple(np.int32(x) for x in (*shape, border, has_deficit))
        #: fields[pair] = [U, V]; the state is in fields[self.cur]. Left unset: a step writes
        #: every cell of its output pair and set_state the first.
        self.fields = [[cp.empty(shape, dtype) for _ in range(2)] for _ in range(2)]
        self.cur = 0
        self._graphs: dict[int, Any] = {}
        self._nbytes = self.fields[0][1].nbytes
        #: Per slot of the double buffer, per field (0: U, 1: V): a device snapshot and a
        #: pinned host buffer; U's are made on the first request_state().
        self._snaps: list[list[Any]] = [[None, cp.empty(shape, dtype)] for _ in range(2)]
        self._pinned: list[list[Any]] = [[None, self._pinned_field()] for _ in range(2)]
        self._snapped = [cp.cuda.Event(disable_timing=True) for _ in range(2)]
        self._copied = [cp.cuda.Event(disable_timing=True) for _ in range(2)]
        self._handles: list[CupyFrame | None] = [None, None]
        self._frames = 0
        # cp.asarray ran on the legacy default stream, which our non-blocking streams do not
        # wait for: let it finish before they use P.
        cp.cuda.Device().synchronize()

    @property
    def provenance(self) -> dict[str, Any]:
        """The launch shape and graph length in use (bench reports them beside the rate)."""
        return {"rows": self.rows, "block": self.block, "chunk": self.chunk}

    @property
    def kernel(self) -> Any:
        return _kernel(self.problem.dtype.name, self.rows)

    def _launch(self, src: int) -> None:
        """One step from fields[src] into fields[1 - src], on the current stream."""
        (U, V), (U2, V2) = self.fields[src], self.fields[1 - src]
        self.kernel(self.grid, self.threads_per_block, (U, V, U2, V2, self.P, *self.ints))

    def _graph(self, start: int) -> Any:
        """The CUDA graph of ``chunk`` steps starting from fields[start] (captured once)."""
        graph = self._graphs.get(start)
        if graph is None:
            self.kernel  # compile and load outside the capture  # noqa: B018
            with self.stream:
                self.stream.begin_capture()
                try:
                    for s in range(self.chunk):
                        self._launch((start + s) % 2)
                finally:
                    graph = self.stream.end_capture()
            self._graphs[start] = graph
        return graph

    def compile(self) -> None:
        """Compile the kernel (NVRTC, or CuPy's disk cache) and capture both graphs."""
        self.kernel  # noqa: B018
        if self.chunk:
            for start in (0, 1):
                self._graph(start)
        self.stream.synchronize()

    def _set_state(self, u: np.ndarray, v: np.ndarray) -> None:
        self.stream.synchronize()  # nothing queued may still read or write the fields
        self.cur = 0
        U, V = self.fields[0]
        with self.stream:
            U.set(np.ascontiguousarray(u))
            V.set(np.ascontiguousarray(v))
        self.stream.synchronize()

    def _advance(self, nsteps: int) -> None:
        blocks, rest = divmod(nsteps, self.chunk) if self.chunk else (0, nsteps)
        if blocks:
            graph = self._graph(self.cur)
            for _ in range(blocks):
                graph.launch(self.stream)
        with self.stream:
            for _ in range(rest):
                self._launch(self.cur)
                self.cur = 1 - self.cur

    def synchronize(self) -> None:
        self.stream.synchronize()

    def _pinned_field(self) -> np.ndarray:
        cp, (nr, nc) = cupy_module(), self.problem.shape
        memory = cp.cuda.alloc_pinned_memory(self._nbytes)
        return np.frombuffer(memory, self.problem.dtype, nr * nc).reshape(nr, nc)

    def _request(self, which: tuple[int, ...]) -> CupyFrame:
        """Start copying fields ``which`` (0: U, 1: V) of the current state to the host.

        They are snapshotted on the compute stream (the next block may overwrite them at once)
        into one of two slots of device buffers, then copied to the slot's pinned host buffers
        on the copy stream, so request ``k`` travels while block ``k + 1`` computes.
        """
        cp = cupy_module()
        slot = self._frames % 2
        self._frames += 1
        previous = self._handles[slot]
        if previous is not None:  # its buffers are about to be reused: keep what it holds
            previous.result()
        self.stream.wait_event(self._copied[slot])  # the slot's last copy to the host is done
        for f in which:
            if self._snaps[slot][f] is None:
                self._snaps[slot][f] = cp.empty(self.problem.shape, self.problem.dtype)
                self._pinned[slot][f] = self._pinned_field()
            self._snaps[slot][f].data.copy_from_device_async(
                self.fields[self.cur][f].data, self._nbytes, self.stream)
        self._snapped[slot].record(self.stream)
        self.copy_stream.wait_event(self._snapped[slot])
        for f in which:
            cp.cuda.runtime.memcpyAsync(
                self._pinned[slot][f].ctypes.data, self._snaps[slot][f].data.ptr, self._nbytes,
                cp.cuda.runtime.memcpyDeviceToHost, self.copy_stream.ptr)
        self._copied[slot].record(self.copy_stream)
        handle = CupyFrame(self._copied[slot], [self._pinned[slot][f] for f in which])
        self._handles[slot] = handle
        return handle

    def request_v(self) -> CupyFrame:
        """Start copying V to the host without waiting; ``result()`` returns it."""
        self.require_state("request_v")
        return self._request((1,))

    def request_state(self) -> CupyFrame:
        """Start copying U and V to the host without waiting; ``result()`` returns them."""
        self.require_state("request_state")
        return self._request((0, 1))

    def _get_v(self) -> np.ndarray:
        return self.request_v().result()

    def _get_state(self) -> tuple[np.ndarray, np.ndarray]:
        self.stream.synchronize()
        U, V = self.fields[self.cur]
        return U.get(stream=self.stream), V.get(stream=self.stream)
