"""What is specific to the ``numba`` and ``numba-parallel`` backends.

Correctness against the float64 reference on every stencil x border x dtype is covered by the
generic backend tests; here: threads, the disk cache, the compiled block kernel, bitwise
agreement between the two backends and with ``numpy-school``, and agreement with ``numpy``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import ALL_STENCILS, ATOL, CUSTOM, noisy_state, run_backend, small_problem
from grayscott import backends
from grayscott.cli import main
from grayscott.errors import BackendUnavailable, GrayScottError
from grayscott.physics import BORDERS, DTYPES, STENCILS, fill_ghosts, reference
from grayscott.physics.borders import FIXED_GHOST

NUMBA_BACKENDS = ("numba", "numba-parallel")


# -- without numba ---------------------------------------------------------------------------


def test_numba_is_not_imported_with_the_package():
    code = ("import sys, grayscott, grayscott.backends, grayscott.runs, grayscott.cli; "
            "sys.exit('numba' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_missing_numba_is_reported_by_the_registry(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "numba" else real(name, *a))
    for name in NUMBA_BACKENDS:
        info = backends.info(name)
        assert not info.available
        assert "pip install 'grayscott[numba]'" in info.reason
        with pytest.raises(BackendUnavailable, match="grayscott\\[numba\\]"):
            backends.create(name, small_problem())
    assert backends.default_backend() not in NUMBA_BACKENDS


# -- threads ---------------------------------------------------------------------------------


def test_numba_runs_on_one_thread(numba):
    assert backends.create("numba", small_problem()).threads == 1
    for n in (1, 2):
        with pytest.raises(GrayScottError, match="takes no option 'threads'.*numba-parallel"):
            backends.create("numba", small_problem(), threads=n)


def test_parallel_threads_default_and_bounds(numba):
    most = numba.config.NUMBA_NUM_THREADS
    assert backends.create("numba-parallel", small_problem()).threads == most
    for n in {1, most}:
        assert backends.create("numba-parallel", small_problem(), threads=n).threads == n
    for bad in (0, -1, most + 1):
        with pytest.raises(GrayScottError, match=f"1 to {most} threads"):
            backends.create("numba-parallel", small_problem(), threads=bad)
    for bad in (True, 1.5, "2"):
        with pytest.raises(GrayScottError, match="integer"):
            backends.create("numba-parallel", small_problem(), threads=bad)


def test_parallel_threads_are_honoured_and_do_not_change_results(numba):
    problem = small_problem((23, 19), stencil="laplace9", border="periodic")
    u, v = noisy_state(problem.shape)
    results = []
    for n in sorted({1, numba.config.NUMBA_NUM_THREADS}):
        b = backends.create("numba-parallel", problem, threads=n)
        b.set_state(u, v)
        b.advance(7)
        assert numba.get_num_threads() == n  # set for the calling thread before the kernel ran
        results.append(b.get_state())
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            np.testing.assert_array_equal(a, b)


def test_cli_threads(numba, tmp_path, capsys):
    import h5py

    args = ["run", "-n", "2", "-e", "3", "-r", "12", "-c", "16", "-q", "--backend",
            "numba-parallel"]
    assert main([*args, "--threads", "1", "-o", str(tmp_path / "a.h5")]) == 0
    with h5py.File(tmp_path / "a.h5") as f:
        assert f.attrs["threads"] == 1
        assert f["matrix"].shape == (2, 12, 16)
    capsys.readouterr()
    too_many = numba.config.NUMBA_NUM_THREADS + 1
    assert main([*args, "--threads", str(too_many), "-o", str(tmp_path / "b.h5")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "threads" in err and "Traceback" not in err
    assert not (tmp_path / "b.h5").exists()


# -- disk cache ------------------------------------------------------------------------------

_CACHE_PROBE = textwrap.dedent("""
    import json
    from grayscott import backends
    from grayscott.backends import numba_kernels as K
    from grayscott.physics import make_problem
    for name in ("numba", "numba-parallel"):
        backends.create(name, make_problem((8, 8))).compile()
    print(json.dumps({f.__name__: [sum(f.stats.cache_hits.values()),
                                   sum(f.stats.cache_misses.values())]
                      for f in (K.advance, K.advance_parallel)}))
""")


def test_compiled_kernels_are_cached_on_disk(numba, tmp_path):
    """A second process loads both kernels from the cache instead of compiling them."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}

    def probe():
        out = subprocess.run([sys.executable, "-c", _CACHE_PROBE], env=env, check=True,
                             capture_output=True, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    first = probe()
    assert all(misses >= 1 and hits == 0 for hits, misses in first.values()), first
    assert any(tmp_path.rglob("*.nbi"))
    second = probe()
    assert all(hits >= 1 and misses == 0 for hits, misses in second.values()), second


def test_compile_then_advance_compiles_nothing_more(numba):
    from grayscott.backends import numba_kernels as K

    problem = small_problem(dtype="float64")
    b = backends.create("numba", problem)
    b.compile()
    before = len(K.advance.signatures)
    b.set_state(*noisy_state(problem.shape))
    b.advance(3)
    assert len(K.advance.signatures) == before


# -- agreement -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("stencil", ALL_STENCILS, ids=[*STENCILS, "custom"])
def test_serial_and_parallel_agree_bitwise(numba, stencil, border, dtype):
    """Same kernel, no reassociation, no fastmath: the thread count cannot change a bit."""
    problem = small_problem((17, 13), stencil=stencil, border=border, dtype=dtype)
    u, v = noisy_state(problem.shape, seed=3)
    serial = run_backend("numba", problem, u, v, [5])
    parallel = run_backend("numba-parallel", problem, u, v, [2, 0, 3])
    for a, b in zip(serial, parallel, strict=True):
        assert a.dtype == problem.dtype
        np.testing.assert_array_equal(a, b)
    ref = reference.run(u, v, problem, 5)
    for a, r in zip(serial, ref, strict=True):
        np.testing.assert_allclose(a, r, rtol=0, atol=ATOL[dtype])


@pytest.mark.parametrize("name", NUMBA_BACKENDS)
@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_equal_to_numpy_school(numba, name, border, dtype):
    """The kernel does the school's NumPy arithmetic in the school's order, so wherever
    ``numpy-school`` computes in the field's dtype the results are identical bit for bit."""
    problem = small_problem((14, 18), border=border, dtype=dtype)
    u, v = noisy_state(problem.shape, seed=1)
    ours = run_backend(name, problem, u, v, [4, 3])
    school = run_backend("numpy-school", problem, u, v, [7])
    for a, b in zip(ours, school, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("stencil", ["laplace5", "laplace9", CUSTOM], ids=["l5", "l9", "custom"])
def test_bitwise_equal_to_numpy_school_float64_any_stencil(numba, stencil):
    """In float64 numpy-school's weighted expression is ours too (in float32 it promotes the
    Laplacian to float64 through its float64 weights, so there it differs by rounding)."""
    problem = small_problem((10, 12), stencil=stencil, border="school", dtype="float64")
    u, v = noisy_state(problem.shape, seed=2)
    for a, b in zip(run_backend("numba", problem, u, v, [5]),
                    run_backend("numpy-school", problem, u, v, [5]), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", NUMBA_BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stencil", ALL_STENCILS, ids=[*STENCILS, "custom"])
def test_one_step_agrees_with_numpy(numba, name, stencil, dtype):
    """``numpy`` sums the stencil in another order (separable passes, grouped weights) and
    computes v*v*u rather than u*v*v: one step differs by rounding only, at most 2 eps on these
    O(1) fields (each rounded operation is off by at most half an ulp of its operand)."""
    problem = small_problem((12, 15), stencil=stencil, border="school", dtype=dtype)
    u, v = noisy_state(problem.shape, seed=4)
    eps = np.finfo(dtype).eps
    for a, b in zip(run_backend(name, problem, u, v, [1]),
                    run_backend("numpy", problem, u, v, [1]), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=2 * eps)


# -- the block kernel ------------------------------------------------------------------------


@pytest.mark.parametrize("border", BORDERS)
def test_step_rows_advances_blocks_whose_ghosts_someone_else_filled(numba, border):
    """Two row blocks computed separately (ghosts filled outside the kernel) give the step."""
    from grayscott.backends import numba_kernels as K

    problem = small_problem((11, 9), stencil="laplace9", border=border, dtype="float64")
    u, v = noisy_state(problem.shape, seed=5)
    b = backends.create("numba", problem)
    U = np.zeros(problem.padded_shape)
    V = np.zeros(problem.padded_shape)
    U[1:-1, 1:-1], V[1:-1, 1:-1] = u, v
    fill_ghosts(U, border, FIXED_GHOST[0])
    fill_ghosts(V, border, FIXED_GHOST[1])
    U2, V2 = np.zeros_like(U), np.zeros_like(V)
    for r0, r1 in ((1, 5), (5, problem.nbrow + 1)):
        K.step_rows(U, V, U2, V2, b.w, b.c, *b.strips, r0, r1)
    b.set_state(u, v)
    b.advance(1)
    for ours, block in zip(b.get_state(), (U2[1:-1, 1:-1], V2[1:-1, 1:-1]), strict=True):
        np.testing.assert_array_equal(ours, block)


@pytest.mark.parametrize("name", NUMBA_BACKENDS)
def test_state_round_trip_and_copies(numba, name):
    problem = small_problem((6, 7), dtype="float32")
    u, v = noisy_state(problem.shape)
    b = backends.create(name, problem)
    b.set_state(u, v)
    b.advance(0)
    got_u, got_v = b.get_state()
    np.testing.assert_array_equal(got_u, u.astype(np.float32))
    np.testing.assert_array_equal(b.get_v(), v.astype(np.float32))
    got_v[:] = -1  # a copy: the backend's state is untouched
    b.advance(1)  # odd: the state now lives in the other buffer pair
    assert np.all(b.get_v() >= 0)
    b.set_state(u, v)  # loading again after a swap overwrites what advance() reads
    b.advance(1)
    np.testing.assert_array_equal(b.get_state()[1], run_backend(name, problem, u, v, [1])[1])
