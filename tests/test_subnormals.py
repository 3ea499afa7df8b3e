"""``subnormals="flush"``: the numba backends with the CPU's flush-to-zero modes, opt-in.

Flushed, every numba backend still agrees bit for bit with the others (the same arithmetic in
the same mode); the mode really flushes, changes only values below the smallest normal number,
is restored in every thread afterwards, and "keep" (the default) stays IEEE, bit for bit the
school's NumPy reference. The CLI records it in the run file and resume carries it on.
"""

from __future__ import annotations

import importlib.util

import h5py
import numpy as np
import pytest

from conftest import assert_bits_equal, run_backend, small_problem
from grayscott import backends
from grayscott.backends import fpmode
from grayscott.cli import main
from grayscott.errors import GrayScottError

pytestmark = pytest.mark.skipif(not fpmode.flush_supported(),
                                reason="flushing subnormals needs an x86-64 CPU")

#: (name, options): one thread, prange over rows on 1 and 2 threads, the wavefront with several
#: k and band counts (k = 1: a plain step; k > steps: one short pass; bands > threads).
FLUSHERS = [("numba", {}), ("numba-parallel", {"threads": 1}),
            ("numba-parallel", {"threads": 2}), ("numba-blocked", {"blocking": 1}),
            ("numba-blocked", {"blocking": 3, "bands": 2}),
            ("numba-blocked", {"blocking": 4, "bands": 3, "threads": 2}),
            ("numba-blocked", {"blocking": 9, "bands": 1})]
IDS = [f"{n}-{'-'.join(f'{k}{v}' for k, v in o.items())}" for n, o in FLUSHERS]
STEPS = [2, 3]  # two calls: the mode is set and restored per call


def tiny_state(shape, dtype, seed=0):
    """A state as a spreading front makes: V ordinary in the first third of the columns, then
    ~1e-19 (float32; the square root of the smallest normal number), where ``u * v * v`` is
    subnormal, then around the smallest normal number, part of it subnormal, where every term
    of the step is. :data:`STEPS` steps reach 5 columns: the middle of each third stays so."""
    rng = np.random.default_rng(seed)
    nr, nc = shape
    a, b = nc // 3, 2 * nc // 3
    tiny = float(np.finfo(dtype).tiny)
    u = rng.uniform(0.2, 1.0, shape)
    v = rng.uniform(0.0, 0.6, shape)
    v[:, a:b] = np.sqrt(tiny) * 10 ** rng.uniform(-1.5, 1.5, (nr, b - a))
    v[:, b:] = tiny * 10 ** rng.uniform(-3, 1, (nr, nc - b))
    return u.astype(dtype), v.astype(dtype)


def subnormal(x: np.ndarray) -> np.ndarray:
    return (x != 0) & (np.abs(x) < np.finfo(x.dtype).tiny)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("border", ["school", "periodic", "fixed"])
def test_flushed_backends_agree_bit_for_bit(numba, border, dtype):
    problem = small_problem((22, 48), border=border, dtype=dtype)
    u, v = tiny_state(problem.shape, dtype)
    # IEEE first: numba's thread pool then starts in IEEE mode (a thread inherits the mode of
    # the one that creates it), so a worker computes flushed only if the kernel sets the mode
    keep = run_backend("numba-parallel", problem, u, v, STEPS, threads=2)
    results = [run_backend(name, problem, u, v, STEPS, subnormals="flush", **opts)
               for name, opts in FLUSHERS]
    for (name, opts), got in zip(FLUSHERS[1:], results[1:], strict=True):
        assert_bits_equal(got, results[0]), (name, opts)
    # ... and the state had something to flush: IEEE gives other bits
    assert not np.array_equal(keep[1], results[0][1])


@pytest.mark.parametrize("name,opts", FLUSHERS, ids=IDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_flush_flushes_and_changes_only_tiny_values(numba, name, opts, dtype):
    problem = small_problem((22, 48), dtype=dtype)
    u, v = tiny_state(problem.shape, dtype, seed=1)
    keep = run_backend(name, problem, u, v, STEPS, **opts)
    flush = run_backend(name, problem, u, v, STEPS, subnormals="flush", **opts)
    # IEEE keeps subnormal values; flushed, none is left (every cell was computed) and some
    # of those are exactly 0
    assert subnormal(keep[1]).sum() > 10
    assert not subnormal(flush[1]).any() and not subnormal(flush[0]).any()
    assert (flush[1][subnormal(keep[1])] == 0).any()
    # the difference is of the order of the smallest normal number, never more
    tiny = float(np.finfo(dtype).tiny)
    for k, f in zip(keep, flush, strict=True):
        assert np.abs(k.astype(float) - f.astype(float)).max() < 100 * tiny


def _numpy_subnormal_survives() -> bool:
    return np.float32(1e-39) * np.float32(1.5) != 0 and np.float64(1e-310) * 1.5 != 0


@pytest.mark.parametrize("name,opts", FLUSHERS, ids=IDS)
def test_the_mode_is_restored_in_every_thread(numba, name, opts):
    """After a flushed call NumPy (this thread) and the numba threads compute IEEE again: a
    later "keep" call on the same backend class gives the reference bits, subnormals and all."""
    problem = small_problem((22, 48))
    u, v = tiny_state(problem.shape, "float32", seed=2)
    before = run_backend("numpy-school", problem, u, v, STEPS)
    assert _numpy_subnormal_survives()
    run_backend(name, problem, u, v, STEPS, subnormals="flush", **opts)
    assert _numpy_subnormal_survives()
    after = run_backend(name, problem, u, v, STEPS, **opts)
    assert subnormal(after[1]).any()
    assert_bits_equal(after, before)


@pytest.mark.parametrize("border", ["school", "periodic", "fixed"])
@pytest.mark.parametrize("name,opts", FLUSHERS, ids=IDS)
def test_keep_is_the_school_reference_bit_for_bit(numba, name, opts, border):
    problem = small_problem((22, 48), border=border)
    u, v = tiny_state(problem.shape, "float32", seed=3)
    ref = run_backend("numpy-school", problem, u, v, STEPS)
    assert_bits_equal(run_backend(name, problem, u, v, STEPS, subnormals="keep", **opts), ref)
    assert_bits_equal(run_backend(name, problem, u, v, STEPS, **opts), ref)


def test_option_checked_recorded_and_described(numba):
    problem = small_problem()
    for name in ("numba", "numba-parallel", "numba-blocked"):
        flushed = backends.create(name, problem, subnormals="flush")
        assert flushed.provenance["subnormals"] == "flush"
        assert "flush" in flushed.describe()
        default = backends.create(name, problem)
        assert "subnormals" not in default.provenance and "flush" not in default.describe()
        with pytest.raises(GrayScottError, match=f"backend '{name}': subnormals must be one of"):
            backends.create(name, problem, subnormals="zero")
    for name in ("numpy", "numpy-school"):
        with pytest.raises(GrayScottError, match="takes no option 'subnormals'"):
            backends.create(name, problem, subnormals="flush")


def test_refused_where_the_cpu_cannot_flush(numba, monkeypatch):
    monkeypatch.setattr(fpmode, "_X86", False)
    with pytest.raises(GrayScottError, match="x86-64"):
        backends.create("numba", small_problem(), subnormals="flush")
    backends.create("numba", small_problem(), subnormals="keep")


# -- the command line ------------------------------------------------------------------------

#: A run whose spreading front has subnormal values from about step 30 (the school's initial
#: state on a grid the front takes ~50 steps to cross): flushing changes frames 5 on.
RUN = ["-r", "96", "-c", "96", "-e", "5", "-q"]


def _frames(path):
    with h5py.File(path, "r") as f:
        return f["matrix"][...], dict(f.attrs)


@pytest.mark.parametrize("name", ["numba", "numba-blocked"])
def test_cli_flush_recorded_and_resumed_flushed(numba, name, tmp_path):
    full, part, keep = (tmp_path / f"{x}.h5" for x in ("full", "part", "keep"))
    assert main(["run", *RUN, "-n", "20", "-b", name, "--flush-subnormals", "-o",
                 str(full)]) == 0
    assert main(["run", *RUN, "-n", "20", "-b", name, "-o", str(keep)]) == 0
    frames, attrs = _frames(full)
    assert attrs["backend_subnormals"] == "flush"
    kept, kattrs = _frames(keep)
    assert "backend_subnormals" not in kattrs
    assert not np.array_equal(frames[8:], kept[8:])  # the frames resume recomputes differ
    # stopped at 8 frames, then resumed to 20: the uninterrupted flushed run, bit for bit
    assert main(["run", *RUN, "-n", "8", "-b", name, "--flush-subnormals", "-o",
                 str(part)]) == 0
    assert main(["resume", str(part), "-n", "20", "-q"]) == 0
    again, pattrs = _frames(part)
    assert pattrs["backend_subnormals"] == "flush"
    assert_bits_equal(again, frames)


def test_cli_flush_combines_with_blocking(numba, tmp_path):
    path = tmp_path / "b.h5"
    assert main(["run", *RUN, "-n", "2", "-b", "numba-blocked", "--blocking", "3",
                 "--flush-subnormals", "-o", str(path)]) == 0
    _, attrs = _frames(path)
    assert attrs["backend_subnormals"] == "flush" and attrs["backend_blocking"] == 3


@pytest.mark.parametrize("name", ["numpy", "numpy-school",
                                  pytest.param("jax-3x3", marks=pytest.mark.skipif(
                                      not backends.info("jax-3x3").available,
                                      reason="jax is not installed"))])
def test_cli_flush_refused_in_one_line(name, tmp_path, capsys):
    path = tmp_path / "x.h5"
    assert main(["run", *RUN, "-n", "2", "-b", name, "--flush-subnormals", "-o",
                 str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "subnormals" in err and "Traceback" not in err
    assert not path.exists()


def test_flush_refused_under_mpi(numba):
    """The decomposed step calls the IEEE kernels: refused before anything is built (no MPI
    needed to see it: the check comes first)."""
    from grayscott.parallel.distributed import DistributedBackend

    with pytest.raises(GrayScottError, match="not supported under MPI"):
        DistributedBackend(small_problem(), "numba", options={"subnormals": "flush"})


def test_flush_refused_under_mpiexec_in_one_line(numba, tmp_path):
    """The same through the command line on 2 ranks: run, and resume of a flushed file."""
    from test_mpi import GRAYSCOTT, _mpiexec, mpiexec

    if _mpiexec() is None or importlib.util.find_spec("mpi4py") is None:
        pytest.skip("needs mpi4py and mpiexec: pip install 'grayscott[mpi]'")
    flushed = tmp_path / "f.h5"
    assert main(["run", *RUN, "-n", "2", "-b", "numba", "--flush-subnormals", "-o",
                 str(flushed)]) == 0
    for args in (["run", *RUN, "-n", "2", "-b", "numba", "--flush-subnormals", "-o",
                  str(tmp_path / "x.h5")], ["resume", "-q", "-n", "3", str(flushed)]):
        proc = mpiexec(2, *GRAYSCOTT, *args, timeout=60)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert "not supported under MPI" in lines[0]
    assert not (tmp_path / "x.h5").exists()
