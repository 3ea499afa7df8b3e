"""What is specific to the JAX backends (``jax`` and ``jax-3x3``): scoped x64, one trace per
configuration, float64 accuracy, refusals, and a run on a GPU where one is present.

Their numerics on every stencil x border x dtype are also checked by test_backends.py, which
covers every registered backend.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import noisy_state, small_problem
from grayscott import backends
from grayscott.errors import GrayScottError
from grayscott.physics import BORDERS, STENCILS, make_problem
from grayscott.physics import reference as ref
from grayscott.simulation import Simulation

jax = pytest.importorskip("jax", reason="the JAX backends need jax: pip install 'grayscott[jax]'")
jnp = pytest.importorskip("jax.numpy")

from grayscott.backends import _jax_common, jax_3x3  # noqa: E402  (needs jax)

JAX_BACKENDS = ["jax", "jax-3x3"]
CUSTOM = np.array([[0.0, 0.5, 0.25], [1.0, 0.0, 0.75], [0.125, 0.5, 0.0]])  # asymmetric


def run(name, problem, u, v, blocks=(3, 4)):
    b = backends.create(name, problem)
    b.set_state(u, v)
    b.compile()
    for n in blocks:
        b.advance(n)
    return b


def reference(problem, u, v, nsteps):
    return ref.run(u, v, problem, nsteps, round_to_dtype=problem.dtype == np.float32)


@pytest.mark.parametrize("name", JAX_BACKENDS)
def test_float64_does_not_leak_x64(name):
    before = jax.config.jax_enable_x64
    problem = small_problem(dtype="float64")
    u, v = noisy_state(problem.shape)
    b = run(name, problem, u, v)
    ub, vb = b.get_state()
    assert ub.dtype == vb.dtype == np.float64
    ur, vr = reference(problem, u, v, 7)
    # float64 really computed in float64 (a float32 fallback would be off by ~1e-7)
    np.testing.assert_allclose(vb, vr, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ub, ur, rtol=0, atol=1e-12)
    assert jax.config.jax_enable_x64 == before
    assert jnp.zeros(1).dtype == jnp.float32
    assert jnp.asarray(1.5).dtype == jnp.float32


@pytest.mark.parametrize("name", JAX_BACKENDS)
def test_float32_under_callers_x64(name):
    """A caller with x64 on keeps it on, and a float32 problem still computes in float32."""
    problem = small_problem(dtype="float32")
    u, v = noisy_state(problem.shape)
    with jax.enable_x64(True):
        b = run(name, problem, u, v)
        assert jax.config.jax_enable_x64
        assert jnp.zeros(1).dtype == jnp.float64
    ub, vb = b.get_state()
    assert ub.dtype == vb.dtype == np.float32
    ur, vr = reference(problem, u, v, 7)
    np.testing.assert_allclose(vb, vr, rtol=0, atol=1e-5)


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("stencil", [*STENCILS, "custom"])
@pytest.mark.parametrize("name", JAX_BACKENDS)
def test_float64_matches_reference(name, stencil, border):
    problem = small_problem(stencil=CUSTOM if stencil == "custom" else stencil, border=border,
                            dtype="float64")
    u, v = noisy_state(problem.shape, seed=3)
    ub, vb = run(name, problem, u, v).get_state()
    ur, vr = reference(problem, u, v, 7)
    np.testing.assert_allclose(ub, ur, rtol=0, atol=1e-12)
    np.testing.assert_allclose(vb, vr, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 3), (3, 5), (5, 3), (4, 4)])
@pytest.mark.parametrize("name", JAX_BACKENDS)
def test_tiny_grids_school_border(name, shape):
    """The school border's edge strips (first/last rows, first/last columns) on the smallest
    grids, where they overlap the corners or are one cell long."""
    problem = small_problem(shape=shape, stencil="laplace9", dtype="float64")
    u, v = noisy_state(shape, seed=1)
    ub, vb = run(name, problem, u, v).get_state()
    ur, vr = reference(problem, u, v, 7)
    np.testing.assert_allclose(ub, ur, rtol=0, atol=1e-12)
    np.testing.assert_allclose(vb, vr, rtol=0, atol=1e-12)


LOOP_OPTIONS = [
    *[("school", g, e, c) for g in ("pad", "concat") for e in (True, False) for c in (0, 4)],
    *[(b, g, False, 4) for b in ("periodic", "fixed") for g in ("pad", "concat")],
]


@pytest.mark.parametrize(("border", "ghosts", "school_edges", "chunk"), LOOP_OPTIONS)
@pytest.mark.parametrize("name", JAX_BACKENDS)
def test_every_loop_option_matches_reference(name, border, ghosts, school_edges, chunk):
    """The per-platform tuning picks one of these; each must compute the same thing (a chunk of
    4 with blocks of 3 and 9 steps runs the remainder loop alone, then chunks and remainder)."""
    problem = small_problem(stencil=CUSTOM, border=border, dtype="float64")
    u, v = noisy_state(problem.shape, seed=2)
    b = backends.create(name, problem, ghosts=ghosts, school_edges=school_edges, chunk=chunk)
    assert (b.ghosts, b.school_edges, b.chunk) == (ghosts, school_edges, chunk)
    b.set_state(u, v)
    b.advance(3)
    b.advance(9)
    ub, vb = b.get_state()
    ur, vr = reference(problem, u, v, 12)
    np.testing.assert_allclose(ub, ur, rtol=0, atol=1e-12)
    np.testing.assert_allclose(vb, vr, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", JAX_BACKENDS)
def test_traced_once_per_configuration(name):
    """Many frames of several block lengths, and a second backend of the same configuration,
    trace the time loop once: the trip count is traced, the compiled loop is cached."""
    problem = small_problem(shape=(13, 17))  # a shape no other test uses
    sim = Simulation(problem, backend=name, initial="noise")
    key = sim.backend.key
    before = _jax_common.TRACES[key]
    sim.backend.compile()
    assert _jax_common.TRACES[key] == before + 1
    for _ in sim.frames(nbimage=5, nbextrastep=4):
        pass
    sim.advance(1)
    sim.advance(32)
    other = backends.create(name, problem)
    other.set_state(*noisy_state(problem.shape))
    other.compile()
    other.advance(7)
    other.get_v()
    assert _jax_common.TRACES[key] == before + 1


def test_generic_backend_shares_one_trace_across_stencils_and_rates():
    """``jax`` takes the weights and rates as data: one compiled loop for all of them."""
    keys = []
    for stencil in (*STENCILS, CUSTOM):
        problem = small_problem(shape=(11, 19), stencil=stencil, border="periodic")
        b = backends.create("jax", problem)
        keys.append(b.key)
        b.set_state(*noisy_state(problem.shape))
        b.compile()
    assert len(set(keys)) == 1
    assert _jax_common.TRACES[keys[0]] >= 1
    before = _jax_common.TRACES[keys[0]]
    b.advance(3)
    assert _jax_common.TRACES[keys[0]] == before


def test_specialised_user_stencil_matches_hand_written():
    """A user array becomes the same constant terms as the hand-written named stencils."""
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(6, 7)))
    for name, hand in jax_3x3.HAND_WRITTEN.items():
        generated = jax_3x3.from_weights(small_problem(stencil=name).stencil)
        np.testing.assert_allclose(np.asarray(generated(x)), np.asarray(hand(x)), rtol=1e-6)


@pytest.mark.parametrize("name", JAX_BACKENDS)
def test_state_is_numpy_copies(name):
    problem = small_problem()
    u, v = noisy_state(problem.shape)
    b = backends.create(name, problem)
    b.set_state(u, v)
    ub, vb = b.get_state()
    assert isinstance(ub, np.ndarray) and isinstance(vb, np.ndarray)
    np.testing.assert_array_equal(vb, v.astype(np.float32))
    vb[:] = 7.0
    np.testing.assert_array_equal(b.get_v(), v.astype(np.float32))
    assert b.get_v().flags.writeable


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", JAX_BACKENDS)
def test_threads_refused(name, threads):
    with pytest.raises(GrayScottError, match="takes no option 'threads'"):
        backends.create(name, small_problem(), threads=threads)


@pytest.mark.parametrize("name", JAX_BACKENDS)
def test_loop_options_are_checked(name):
    """Options left out come from the platform's tuning; bad values are refused by name."""
    b = backends.create(name, small_problem())
    tuned = {**_jax_common._DEFAULT_TUNING, **b.tuning.get(b.platform, {})}
    assert b.provenance == {k: tuned[k] for k in ("ghosts", "school_edges", "chunk")}
    for bad, message in [({"ghosts": "wrap"}, "ghosts must be one of"),
                         ({"school_edges": 1}, "school_edges must be one of"),
                         ({"chunk": -1}, "chunk must be an integer >= 0")]:
        with pytest.raises(GrayScottError, match=message):
            backends.create(name, small_problem(), **bad)


@pytest.mark.parametrize("name", JAX_BACKENDS)
def test_compile_before_set_state(name):
    b = backends.create(name, small_problem())
    with pytest.raises(GrayScottError, match="set_state"):
        b.compile()


def test_jax_not_imported_by_the_package():
    """JAX is an optional extra: the package, its CLI and registry never import it."""
    code = ("import sys, grayscott, grayscott.cli, grayscott.runs, grayscott.backends as b; "
            "b.available(); b.info('jax'); assert 'jax' not in sys.modules, 'jax imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def _gpus():
    try:
        return jax.devices("gpu")
    except RuntimeError:
        return []


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", JAX_BACKENDS)
def test_runs_on_gpu(name, dtype):
    if not _gpus():
        pytest.skip("no GPU visible to JAX (pip install 'jax[cuda13]' on a CUDA machine)")
    problem = small_problem(shape=(37, 53), dtype=dtype)
    u, v = noisy_state(problem.shape)
    b = run(name, problem, u, v, blocks=(32, 8))
    assert b.device.platform == "gpu"
    assert b.V.devices() == {b.device}
    ub, vb = b.get_state()
    ur, vr = reference(problem, u, v, 40)
    atol = 1e-11 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(ub, ur, rtol=0, atol=atol)
    np.testing.assert_allclose(vb, vr, rtol=0, atol=atol)


def test_synchronize_waits_without_fetching():
    """The bench waits on JAX with block_until_ready, not by copying V to the host."""
    from grayscott.bench import runner

    b = backends.create("jax-3x3", make_problem((8, 8)))
    b.set_state(np.ones((8, 8)), np.zeros((8, 8)))
    assert runner.sync_function(b) == b.synchronize
    b.advance(3)
    b.synchronize()
    assert np.all(b.get_v() == 0)
