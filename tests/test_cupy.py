"""The ``cupy`` backend and its CUDA kernel.

Without a GPU (CI, most machines) the kernel source is still checked:

* compiled with the host C compiler (no FMA contraction), the very code each GPU thread runs is
  driven over an emulated launch grid and must equal ``numba`` bit for bit on every stencil x
  border x dtype, for several launch shapes (partial blocks, one or several rows per thread);
* compiled by ``nvcc`` to PTX when nvcc is installed (no GPU needed): it must build for both
  dtypes, and ``--fmad=false`` must leave no fused multiply-add in it;
* the registry lists ``cupy`` as unavailable with the reason and the ``pip install`` to type.

On a machine with CuPy and a CUDA device the ``gpu`` tests run the backend itself against
``numba`` (bit for bit), its CUDA graphs, and its asynchronous frames.
"""

from __future__ import annotations

import ctypes
import importlib.util
import re
import shutil
import subprocess

import numpy as np
import pytest

from conftest import (
    ALL_STENCILS,
    STENCIL_IDS,
    assert_bits_equal,
    noisy_state,
    run_backend,
    small_problem,
)
from grayscott import backends
from grayscott.backends import cupy_backend as cb
from grayscott.errors import BackendUnavailable
from grayscott.physics import BORDERS, DTYPES

CC = shutil.which("cc") or shutil.which("gcc")
NVCC = shutil.which("nvcc")
#: Odd sizes, and sizes that leave partial blocks in the launch shapes below.
SHAPES = [(7, 9), (5, 13), (3, 3)]
#: (threads per block, rows per thread) of the emulated launches.
LAUNCHES = [(4, 3), (32, 1), (128, 8), (1, 64)]


# -- the kernel source on the host -----------------------------------------------------------


class HostKernel:
    """The kernel source compiled for the CPU: ``gs_advance_grid`` runs every (block, thread)
    of a launch of the GPU kernel in turn, through the same ``gs_thread`` and ``gs_cell``."""

    def __init__(self, path: str) -> None:
        self.lib = ctypes.CDLL(path)
        p, i = ctypes.c_void_p, ctypes.c_int
        self.lib.gs_advance_grid.argtypes = [p, p, p, p, p, i, i, i, i, i, i, i]
        self.lib.gs_advance_grid.restype = i

    def run(self, problem, u, v, nsteps, block=4, rows=3):
        P, border, has_deficit = cb.kernel_parameters(problem)
        fields = [np.ascontiguousarray(x, problem.dtype) for x in (u, v)]
        fields += [np.zeros(problem.shape, problem.dtype) for _ in range(2)]
        swapped = self.lib.gs_advance_grid(*(f.ctypes.data for f in fields), P.ctypes.data,
                                           *problem.shape, border, has_deficit, block, rows,
                                           nsteps)
        return tuple(fields[2:]) if swapped else tuple(fields[:2])


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    """dtype name -> HostKernel, built with ``cc -O2 -ffp-contract=off``."""
    if CC is None:
        pytest.skip("no C compiler (cc) to build the kernel source for the host")
    tmp = tmp_path_factory.mktemp("cuda-host")
    src = tmp / "gray_scott.c"
    src.write_text(cb.kernel_source(), encoding="utf-8")
    kernels = {}
    for dtype, ctype in cb.C_TYPES.items():
        lib = tmp / f"gray_scott_{ctype}.so"
        subprocess.run([CC, "-O2", "-std=c99", "-Wall", "-Werror", "-ffp-contract=off",
                        "-shared", "-fPIC", f"-DGS_REAL={ctype}", "-o", str(lib), str(src)],
                       check=True, capture_output=True)
        kernels[dtype] = HostKernel(str(lib))
    return kernels


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("stencil", ALL_STENCILS, ids=STENCIL_IDS)
def test_kernel_source_equals_numba_bitwise(host, numba, stencil, border, dtype):
    for k, shape in enumerate(SHAPES):
        problem = small_problem(shape, stencil=stencil, border=border, dtype=dtype)
        u, v = noisy_state(shape, seed=k)
        want = run_backend("numba", problem, u, v, [7])
        got = host[dtype].run(problem, u, v, 7)
        assert not np.array_equal(got[1], v.astype(dtype))  # it did step
        for g, w in zip(got, want, strict=True):
            assert_bits_equal(g, w)


@pytest.mark.parametrize("block,rows", LAUNCHES)
def test_every_launch_shape_covers_the_grid_once(host, numba, block, rows):
    """Partial blocks, one row or many per thread: each cell written once, the same bits."""
    problem = small_problem((37, 41), border="school", dtype="float32")
    u, v = noisy_state(problem.shape, seed=3)
    want = run_backend("numba", problem, u, v, [4])
    for g, w in zip(host["float32"].run(problem, u, v, 4, block, rows), want, strict=True):
        assert_bits_equal(g, w)


def test_fixed_border_reads_its_ghost_values(host):
    """A uniform state equal to the fixed ghosts (U = 1, V = 0) is a rest state: any wrong
    ghost would show at the edges."""
    problem = small_problem((5, 6), border="fixed", dtype="float64")
    u, v = np.ones(problem.shape), np.zeros(problem.shape)
    U, V = host["float64"].run(problem, u, v, 3)
    assert np.array_equal(U, u) and np.array_equal(V, v)


def test_deficit_table_holds_the_strips():
    for stencil in ALL_STENCILS:
        problem = small_problem((6, 7), stencil=stencil, border="school")
        table = cb.deficit_table(problem)
        from grayscott.physics import deficit

        field = deficit(problem.stencil, "school", problem.shape).as_field(problem.shape)
        rc = np.array([0] + [1] * 4 + [2])[:, None]
        cc = np.array([0] + [1] * 5 + [2])[None, :]
        assert np.array_equal(table[rc, cc], field)
    assert cb.deficit_table(small_problem(border="periodic")) is None


def test_parameters_follow_the_numba_constants(numba):
    from grayscott.backends import numba_kernels as K

    for dtype in DTYPES:
        problem = small_problem(dtype=dtype)
        p = problem.params
        P, _, _ = cb.kernel_parameters(problem)
        assert P.dtype == np.dtype(dtype)
        assert_bits_equal(P[9:15], K.constants(p.Du, p.Dv, p.F, p.k, p.dt, np.dtype(dtype)))


# -- the kernel source through nvcc (no GPU needed) ------------------------------------------


@pytest.fixture(scope="module")
def ptx(tmp_path_factory):
    """(dtype, fmad) -> PTX text of the kernel, as nvcc builds it for Hopper (sm_90)."""
    if NVCC is None:
        pytest.skip("nvcc is not installed")
    tmp = tmp_path_factory.mktemp("cuda-ptx")
    src = tmp / "gray_scott.cu"
    src.write_text(cb.kernel_source(), encoding="utf-8")
    out = {}
    for dtype, ctype in cb.C_TYPES.items():
        for fmad in (False, True):
            path = tmp / f"{ctype}-{fmad}.ptx"
            subprocess.run([NVCC, "--ptx", "-arch=sm_90", f"--fmad={str(fmad).lower()}",
                            f"-DGS_REAL={ctype}", "-o", str(path), str(src)], check=True,
                           capture_output=True, timeout=120)
            out[dtype, fmad] = path.read_text()
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_nvcc_builds_the_kernel_without_fma(ptx, dtype):
    code = ptx[dtype, False]
    assert ".entry gs_step" in code
    assert "fma." not in code
    # The check can fail: left to itself, nvcc contracts the same source into FMAs.
    assert "fma." in ptx[dtype, True]
    assert bool(re.search(r"\.f64\b", code)) == (dtype == "float64")  # double arithmetic


# -- availability ----------------------------------------------------------------------------


def test_cupy_is_registered_with_its_extra():
    info = backends.info("cupy")
    assert info.requires == ("cupy",) and info.extra == "cupy"
    assert "cupy" in backends.names()


def test_missing_cupy_is_reported_with_the_pip_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "cupy" else real(name, *a))
    info = backends.info("cupy")
    assert not info.available
    assert "pip install 'grayscott[cupy]'" in info.reason
    with pytest.raises(BackendUnavailable, match="grayscott\\[cupy\\]"):
        backends.create("cupy", small_problem())
    assert "cupy" not in backends.available()


def test_cupy_without_a_device_is_unavailable(monkeypatch):
    """CuPy importable but no CUDA device: the registry's probe says so, no crash."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "cupy" else real(name, *a))
    monkeypatch.setattr(cb, "unavailable_reason",
                        lambda: "needs a CUDA GPU: cupy sees none (CUDARuntimeError: no device)")
    info = backends.info("cupy")
    assert not info.available
    assert "needs a CUDA GPU" in info.reason
    with pytest.raises(BackendUnavailable, match="CUDA GPU"):
        backends.create("cupy", small_problem())


def test_probe_reports_an_import_failure(monkeypatch):
    def broken():
        raise ImportError("libcudart.so.12: cannot open shared object file")

    monkeypatch.setattr(cb, "cupy_module", broken)
    cb.unavailable_reason.cache_clear()
    try:
        reason = cb.unavailable_reason()
    finally:
        cb.unavailable_reason.cache_clear()
    assert "libcudart" in reason and "pip install 'grayscott[cupy]'" in reason


def test_backends_command_lists_cupy(capsys):
    from grayscott.cli import main

    assert main(["backends"]) == 0
    line = next(s for s in capsys.readouterr().out.splitlines() if " cupy " in f"{s} ")
    if not backends.info("cupy").available:
        assert "unavailable" in line and ("pip install" in line or "CUDA GPU" in line)


# -- on a GPU --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("stencil", ALL_STENCILS, ids=STENCIL_IDS)
@pytest.mark.gpu
def test_gpu_equals_numba_bitwise(numba, stencil, border, dtype):
    if not backends.info("cupy").available:
        pytest.skip(f"backend cupy {backends.info('cupy').reason}")
    for k, shape in enumerate([*SHAPES, (67, 300)]):
        problem = small_problem(shape, stencil=stencil, border=border, dtype=dtype)
        u, v = noisy_state(shape, seed=k)
        want = run_backend("numba", problem, u, v, [11])
        b = backends.create("cupy", problem, chunk=4)  # 2 graphs of 4, then 3 single steps
        b.set_state(u, v)
        b.compile()
        b.advance(5)  # 4 + 1: the state ends on the other pair, the next graph starts there
        b.advance(6)
        for g, w in zip(b.get_state(), want, strict=True):
            assert_bits_equal(g, w)


@pytest.mark.parametrize("rows,block,chunk", [(1, 32, 0), (8, 128, 32), (16, 256, 2)])
@pytest.mark.gpu
def test_gpu_options_give_the_same_bits(numba, rows, block, chunk):
    if not backends.info("cupy").available:
        pytest.skip(f"backend cupy {backends.info('cupy').reason}")
    problem = small_problem((129, 257), dtype="float32")
    u, v = noisy_state(problem.shape)
    want = run_backend("numba", problem, u, v, [37])
    b = backends.create("cupy", problem, rows=rows, block=block, chunk=chunk)
    b.set_state(u, v)
    b.advance(37)
    for g, w in zip(b.get_state(), want, strict=True):
        assert_bits_equal(g, w)


@pytest.mark.gpu
def test_gpu_frames_are_asynchronous_and_in_order(numba):
    if not backends.info("cupy").available:
        pytest.skip(f"backend cupy {backends.info('cupy').reason}")
    problem = small_problem((64, 96), dtype="float32")
    u, v = noisy_state(problem.shape)
    ref = backends.create("numba", problem)
    ref.set_state(u, v)
    b = backends.create("cupy", problem)
    b.set_state(u, v)
    handles, want = [], []
    for _ in range(5):
        b.advance(8)
        handles.append(b.request_v())  # not waited for: the next block is queued behind it
        ref.advance(8)
        want.append(ref.get_v())
    assert b.platform == "gpu"
    for h, w in zip(handles, want, strict=True):
        assert_bits_equal(h.result(), w)
    b.synchronize()
    assert_bits_equal(b.get_v(), ref.get_v())


# -- bench: the GPU backends against the device's roofline -----------------------------------


def _bandwidth(bytes_per_s: float):
    from grayscott.bench.bandwidth import Bandwidth

    return Bandwidth(bytes_per_s=bytes_per_s, kernel="device copy", threads=1,
                     array_bytes=1 << 30, repeat=1, by_kernel={"copy": {1: bytes_per_s}})


def _gpu_result(name="cupy", seconds=0.01):
    from grayscott.bench import results as res

    return res.BackendResult(name, 1, steps=10, repeat=1, warmup=1, seconds=[seconds],
                                compile_seconds=0.1, first_call_seconds=seconds,
                                cells=1080 * 1920, platform="gpu")


def test_gpu_backends_get_the_device_roofline():
    from grayscott.bench import results as res

    cells = 1080 * 1920
    gpu, cpu_side = _gpu_result(), _gpu_result("numpy")
    cpu_side.platform = "cpu"
    # Host: 100 steps/s of roofline; device: 4000 steps/s; each ran at 1000 steps/s.
    res.finish([gpu, cpu_side], _bandwidth(cells * 16 * 100.0), "float32",
                  _bandwidth(cells * 16 * 4000.0))
    assert gpu.roofline_fraction == pytest.approx(0.25)
    assert cpu_side.roofline_fraction == pytest.approx(10.0)
    again = _gpu_result()
    res.finish([again], _bandwidth(cells * 16 * 100.0), "float32")  # no device figure
    assert again.roofline_fraction is None


def test_report_states_the_device_roofline(tmp_path):
    from grayscott.bench import report as rep
    from grayscott.bench import results as res

    cells = 1080 * 1920
    gpu = _gpu_result()
    host, device = _bandwidth(cells * 16 * 100.0), _bandwidth(cells * 16 * 4000.0)
    res.finish([gpu], host, "float32", device)
    report = res.BenchReport(grid=(1080, 1920), dtype="float32", steps=10, repeat=1,
                                warmup=1, bandwidth=host, results=[gpu], skipped=[],
                                metadata={}, device_bandwidth=device)
    report.notes += res._report_notes(report)
    data = report.to_dict()
    assert data["device_roofline_cell_steps_per_s"] == pytest.approx(cells * 4000.0)
    assert data["results"][0]["roofline_fraction"] == pytest.approx(0.25)
    text = rep.format_table(report)
    assert "GPU backends' roofline" in text and "25%" in text
    assert "no fraction is given" not in text


def test_no_device_bandwidth_without_a_gpu():
    from grayscott.bench.bandwidth import measure_device_bandwidth

    if backends.info("cupy").available:
        pytest.skip("a GPU is here")
    jax = pytest.importorskip("jax")
    try:
        has_gpu = bool(jax.devices("gpu"))
    except RuntimeError:
        has_gpu = False
    if not has_gpu:
        assert measure_device_bandwidth(1 << 20, repeat=1) is None


@pytest.mark.gpu
def test_device_bandwidth_is_measured_on_a_gpu():
    from grayscott.bench.bandwidth import measure_device_bandwidth

    if not backends.info("cupy").available:
        pytest.skip(f"backend cupy {backends.info('cupy').reason}")
    bw = measure_device_bandwidth(256 << 20, repeat=3)
    assert bw is not None and 1e11 < bw.bytes_per_s < 1e14  # 100 GB/s .. 100 TB/s


# -- the backend's Python side on a fake CuPy (no GPU) ---------------------------------------


class FakeCuda:
    """Just enough of CuPy for :class:`CupyBackend`, on the CPU: "device" arrays are NumPy
    arrays, the kernel is the host build of the same source, graphs replay recorded launches.

    Streams are adversarial: the compute stream runs its work at once (an infinitely fast GPU)
    while the copy stream defers its copies until something waits for them (a slow bus). A
    frame copied from a buffer that the next block overwrites, or a missing wait between the
    streams, shows up as a wrong frame.
    """

    memcpyDeviceToHost = 2

    def __init__(self, host_kernels_dir) -> None:
        self.dir = host_kernels_dir
        self.streams: dict[int, FakeCuda.Stream] = {}
        self.current: list[FakeCuda.Stream] = []
        self.launches = 0
        fake = self

        class Array:
            def __init__(self, a: np.ndarray) -> None:
                self.a = a
                self.shape, self.dtype, self.nbytes = a.shape, a.dtype, a.nbytes
                self.data = MemPtr(a)

            def set(self, x) -> None:
                fake.stream().submit(lambda: np.copyto(self.a, x))

            def get(self, stream=None):
                (stream or fake.stream()).synchronize()
                return self.a.copy()

        class MemPtr:
            def __init__(self, a: np.ndarray) -> None:
                self.ptr = a.ctypes.data

            def copy_from_device_async(self, src, size, stream) -> None:
                dst = self.ptr
                stream.submit(lambda: ctypes.memmove(dst, src.ptr, size))

        class Stream:
            def __init__(self, non_blocking=False, eager=None) -> None:
                # The first stream made is the compute stream (eager), the next the copy one.
                self.eager = eager if eager is not None else not fake.streams
                self.queue: list = []
                self.capture: list | None = None
                self.ptr = id(self)
                fake.streams[self.ptr] = self

            def submit(self, op) -> None:
                if self.capture is not None:
                    self.capture.append(op)
                elif self.eager:
                    op()
                else:
                    self.queue.append(op)

            def synchronize(self) -> None:
                while self.queue:
                    self.queue.pop(0)()

            def run_until(self, event) -> None:
                while not event.done and self.queue:
                    self.queue.pop(0)()

            def wait_event(self, event) -> None:
                self.submit(lambda: event.stream.run_until(event) if event.stream else None)

            def begin_capture(self) -> None:
                self.capture = []

            def end_capture(self):
                ops, self.capture = self.capture, None
                return Graph(ops)

            def __enter__(self):
                fake.current.append(self)
                return self

            def __exit__(self, *exc) -> None:
                fake.current.pop()

        class Graph:
            def __init__(self, ops) -> None:
                self.ops = ops

            def launch(self, stream) -> None:
                for op in self.ops:
                    stream.submit(op)

        class Event:
            def __init__(self, disable_timing=False) -> None:
                self.done, self.stream = True, None

            def record(self, stream) -> None:
                self.done, self.stream = False, stream
                stream.submit(lambda: setattr(self, "done", True))

            def synchronize(self) -> None:
                if self.stream is not None:
                    self.stream.run_until(self)

        class Kernel:
            def __init__(self, lib, rows: int) -> None:
                self.lib, self.rows = lib, rows

            def __call__(self, grid, block, args) -> None:
                U, V, U2, V2, P, nr, nc, border, has_deficit = args
                assert grid[0] * block[0] >= nc and grid[1] * self.rows >= nr
                ptrs = [x.data.ptr for x in (U, V, U2, V2, P)]
                ints = [int(x) for x in (nr, nc, border, has_deficit)]

                def launch() -> None:
                    fake.launches += 1
                    self.lib.gs_step_grid(*ptrs, *ints, block[0], self.rows)

                fake.stream().submit(launch)

        class RawModule:
            def __init__(self, code, options) -> None:
                defs = [o for o in options if o.startswith("-D")]
                assert "--fmad=false" in options
                name = "_".join(d[2:].replace("=", "") for d in defs)
                src, lib = self_dir / "gs.c", self_dir / f"gs_{name}.so"
                src.write_text(code, encoding="utf-8")
                if not lib.exists():
                    subprocess.run([CC, "-O2", "-std=c99", "-ffp-contract=off", "-shared",
                                    "-fPIC", *defs, "-o", str(lib), str(src)], check=True)
                self.lib = ctypes.CDLL(str(lib))
                p, i = ctypes.c_void_p, ctypes.c_int
                self.lib.gs_step_grid.argtypes = [p, p, p, p, p, i, i, i, i, i, i]
                self.rows = int(next(d for d in defs if d.startswith("-DGS_ROWS="))[10:])

            def get_function(self, name):
                assert name == "gs_step"
                return Kernel(self.lib, self.rows)

        self_dir = host_kernels_dir
        self.Array, self.RawModule = Array, RawModule
        self.cuda = type("cuda", (), {})()
        self.cuda.Stream, self.cuda.Event = Stream, Event
        self.cuda.Device = lambda: type("Device", (), {"synchronize": lambda self: None})()
        self.cuda.alloc_pinned_memory = bytearray
        self.cuda.runtime = type("runtime", (), {})()
        self.cuda.runtime.getDeviceCount = lambda: 1
        self.cuda.runtime.memGetInfo = lambda: (self.free, 80 << 30)
        self.free = 80 << 30
        self.cuda.runtime.memcpyDeviceToHost = self.memcpyDeviceToHost
        self.cuda.runtime.memcpyAsync = self._memcpy_async
        self.default = Stream(eager=True)
        self.streams.clear()

    def stream(self):
        return self.current[-1] if self.current else self.default

    def _memcpy_async(self, dst, src, size, kind, stream_ptr) -> None:
        assert kind == self.memcpyDeviceToHost
        self.streams[stream_ptr].submit(lambda: ctypes.memmove(dst, src, size))

    def asarray(self, x):
        return self.Array(np.array(x))

    def zeros(self, shape, dtype):
        return self.Array(np.zeros(shape, dtype))

    def empty(self, shape, dtype):
        return self.Array(np.full(shape, np.nan, dtype))  # garbage that shows if read


@pytest.fixture(scope="module")
def fake_cupy_dir(tmp_path_factory):
    """Where the fake's kernels are built, once per module."""
    if CC is None:
        pytest.skip("no C compiler (cc) to build the kernel source for the host")
    return tmp_path_factory.mktemp("fake-cupy")


@pytest.fixture
def fake_cupy(monkeypatch, fake_cupy_dir):
    fake = FakeCuda(fake_cupy_dir)
    monkeypatch.setattr(cb, "cupy_module", lambda: fake)
    monkeypatch.setattr(cb, "unavailable_reason", lambda: "")
    cb._kernel.cache_clear()
    yield fake
    cb._kernel.cache_clear()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("border", BORDERS)
def test_backend_on_fake_cupy_equals_numba(fake_cupy, numba, border, dtype):
    """Graphs from either pair of buffers, leftover single steps, the state across calls."""
    problem = small_problem((13, 21), stencil="laplace9", border=border, dtype=dtype)
    u, v = noisy_state(problem.shape)
    b = cb.CupyBackend(problem, chunk=4, rows=3, block=32)
    b.set_state(u, v)
    b.compile()
    launches = fake_cupy.launches
    for n in (5, 6, 1, 8):  # 4+1 | 4+2 from the other pair | 1 | 2 graphs
        b.advance(n)
    assert fake_cupy.launches - launches == 20
    for g, w in zip(b.get_state(), run_backend("numba", problem, u, v, [20]), strict=True):
        assert_bits_equal(g, w)
    b.set_state(u, v)  # a new state starts from the first pair again
    b.advance(3)
    for g, w in zip(b.get_state(), run_backend("numba", problem, u, v, [3]), strict=True):
        assert_bits_equal(g, w)


def test_frames_on_fake_cupy_are_those_of_their_step(fake_cupy, numba):
    """Frames requested one after the other and waited for late (the copy stream is slow,
    the compute stream races ahead): each is V of its own step, in order."""
    problem = small_problem((11, 17), dtype="float32")
    u, v = noisy_state(problem.shape)
    b = cb.CupyBackend(problem, chunk=2)
    b.set_state(u, v)
    ref = backends.create("numba", problem)
    ref.set_state(u, v)
    handles, want = [], []
    for n in (2, 3, 2, 4, 2):
        b.advance(n)
        handles.append(b.request_v())
        ref.advance(n)
        want.append(ref.get_v())
    assert not handles[-1].done()  # still on its way: nothing waited for it
    # The first three reused the two slots: taken aside before their buffers were reused.
    for h, w in zip(handles, want, strict=True):
        assert_bits_equal(h.result(), w)
    assert_bits_equal(b.get_v(), ref.get_v())


def test_state_requests_on_fake_cupy_mix_with_frames(fake_cupy, numba):
    """request_state() (a checkpoint) and request_v() (a frame) share the two slots; each
    returns the fields of its own step although the next blocks have already run."""
    problem = small_problem((11, 17), dtype="float64", border="periodic")
    u, v = noisy_state(problem.shape)
    b = cb.CupyBackend(problem, chunk=2)
    b.set_state(u, v)
    ref = backends.create("numba", problem)
    ref.set_state(u, v)
    handles, want = [], []
    for k in range(6):
        b.advance(3)
        ref.advance(3)
        state = k % 3 == 1
        handles.append(b.request_state() if state else b.request_v())
        want.append(ref.get_state() if state else ref.get_v())
    for h, w in zip(handles, want, strict=True):
        got = h.result()
        for g, x in zip(got if isinstance(w, tuple) else (got,),
                        w if isinstance(w, tuple) else (w,), strict=True):
            assert_bits_equal(g, x)


def test_fake_cupy_catches_a_frame_copied_without_its_snapshot(fake_cupy, monkeypatch):
    """The fake is strict enough: copying the frame straight from V (no device snapshot)
    gives a wrong frame once the next block has run before the slow copy."""
    problem = small_problem((11, 17), dtype="float32")
    u, v = noisy_state(problem.shape)
    b = cb.CupyBackend(problem, chunk=2)
    b.set_state(u, v)
    b.advance(2)
    want = b.get_v()
    b._snaps = [[None, b.fields[0][1]] for _ in range(2)]  # "snapshot" = V itself
    handle = b.request_v()
    b.advance(2)  # overwrites fields[0] before the deferred copy runs
    assert not np.array_equal(handle.result(), want)


def test_cupy_reports_its_launch_settings(fake_cupy):
    b = cb.CupyBackend(small_problem(), rows=4, chunk=0)
    assert b.provenance == {"rows": 4, "block": cb.CupyBackend.block, "chunk": 0}
    assert b.platform == "gpu" and not b.capabilities.synchronous


def test_cupy_refuses_a_grid_beyond_the_gpu_memory(fake_cupy):
    from grayscott.errors import GrayScottError

    fake_cupy.free = 8 * 11 * 13 * 8 - 1  # one byte short of 8 float64 fields of 11x13
    with pytest.raises(GrayScottError, match=r"needs .* GiB on the GPU"):
        cb.CupyBackend(small_problem((11, 13), dtype="float64"))
    fake_cupy.free += 1
    cb.CupyBackend(small_problem((11, 13), dtype="float64"))


def test_cupy_options_are_checked(fake_cupy):
    from grayscott.errors import GrayScottError

    problem = small_problem()
    for bad in ({"chunk": 3}, {"block": 48}, {"rows": 0}, {"rows": 65}):
        with pytest.raises(GrayScottError):
            cb.CupyBackend(problem, **bad)
    with pytest.raises(GrayScottError, match="rows"):
        cb.launch_shape(small_problem((70000 * 8 + 1, 3)), 1, 128)


def test_markdown_report_keeps_the_hand_written_gpu_section(tmp_path):
    """BENCHMARKS.md's GPU section is measured elsewhere (scripts/gpu-check.sh): rewriting the
    CPU report with `bench --markdown` must not drop it."""
    from grayscott.bench import report as rep
    from grayscott.bench import results as res

    cells = 1080 * 1920
    result = _gpu_result("numpy")
    result.platform = "cpu"
    host = _bandwidth(cells * 16 * 100.0)
    res.finish([result], host, "float32")
    report = res.BenchReport(grid=(1080, 1920), dtype="float32", steps=10, repeat=1,
                                warmup=1, bandwidth=host, results=[result], skipped=[],
                                metadata={})
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# old report\n\nold figures\n\n" + rep.KEPT_MARKER + "\n\n## GPU\n\nH200\n")
    rep.write_markdown(report, path)
    rep.write_markdown(report, path)  # twice: still one copy
    text = path.read_text()
    assert "old figures" not in text and text.startswith("# Benchmarks")
    assert text.count(rep.KEPT_MARKER) == 1 and text.endswith("## GPU\n\nH200\n")
    fresh = tmp_path / "new.md"
    rep.write_markdown(report, fresh)
    assert rep.KEPT_MARKER not in fresh.read_text()


def test_gpu_check_script_parses():
    """scripts/gpu-check.sh is run once, on a lent GPU machine: at least it must parse."""
    from pathlib import Path

    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    script = Path(__file__).resolve().parent.parent / "scripts" / "gpu-check.sh"
    assert subprocess.run([bash, "-n", str(script)], capture_output=True).returncode == 0
