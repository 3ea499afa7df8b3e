"""Every registered backend against the spec: hand-computed steps, the float64 reference,
invariants, and each other. New backends are picked up from the registry automatically."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ATOL, BACKEND_PARAMS, LIVELY, noisy_state, small_problem
from grayscott import backends
from grayscott.errors import GrayScottError
from grayscott.physics import BORDERS, STENCILS, Parameters, make_initial, make_problem
from grayscott.physics import reference as ref

CUSTOM = np.array([[0.0, 0.5, 0.25], [1.0, 0.0, 0.75], [0.125, 0.5, 0.0]])  # asymmetric
STENCIL_CASES = [*STENCILS, "custom"]


def _stencil(name):
    return CUSTOM if name == "custom" else name


def one_step(name, problem, u, v, n=1):
    b = backends.create(name, problem)
    b.set_state(u, v)
    b.advance(n)
    return b.get_state()


# -- hand-computed single steps ----------------------------------------------------------------

# A 4 x 5 state whose values make every neighbour count visible.
U0 = np.array([[0.9, 0.8, 0.7, 0.6, 0.5],
               [0.4, 0.3, 0.2, 0.1, 0.0],
               [1.0, 0.9, 0.8, 0.7, 0.6],
               [0.5, 0.4, 0.3, 0.2, 0.1]])
V0 = np.array([[0.0, 0.1, 0.2, 0.3, 0.4],
               [0.5, 0.6, 0.7, 0.8, 0.9],
               [0.1, 0.2, 0.3, 0.4, 0.5],
               [0.0, 0.2, 0.4, 0.6, 0.8]])
P = Parameters(Du=0.1, Dv=0.05, F=0.014, k=0.054, dt=1.0)


def expected(u, v, lap_u, lap_v):
    """docs/model.md §1 written out for one cell."""
    uvv = u * v * v
    return (u + P.dt * (P.Du * lap_u - uvv + P.F * (1 - u)),
            v + P.dt * (P.Dv * lap_v + uvv - (P.F + P.k) * v))


# Laplacians at three cells, by hand, for the school stencil (all weights 1).
# corner (0,0), school border: 3 neighbours inside, (0,1) (1,0) (1,1)
SCHOOL_CORNER = ((0.8 - 0.9) + (0.4 - 0.9) + (0.3 - 0.9), (0.1 - 0) + (0.5 - 0) + (0.6 - 0))
# edge (0,2), school border: 5 neighbours (0,1) (0,3) (1,1) (1,2) (1,3)
SCHOOL_EDGE = ((0.8 - 0.7) + (0.6 - 0.7) + (0.3 - 0.7) + (0.2 - 0.7) + (0.1 - 0.7),
               (0.1 - 0.2) + (0.3 - 0.2) + (0.6 - 0.2) + (0.7 - 0.2) + (0.8 - 0.2))
# interior (1,1): all 8 neighbours
INTERIOR = ((0.9 + 0.8 + 0.7 + 0.4 + 0.2 + 1.0 + 0.9 + 0.8) - 8 * 0.3,
            (0.0 + 0.1 + 0.2 + 0.5 + 0.7 + 0.1 + 0.2 + 0.3) - 8 * 0.6)
# corner (0,0), periodic: neighbours wrap to row 3 and column 4
PERIODIC_CORNER = ((0.1 + 0.5 + 0.4 + 0.5 + 0.8 + 0.0 + 0.4 + 0.3) - 8 * 0.9,
                   (0.8 + 0.0 + 0.2 + 0.4 + 0.1 + 0.9 + 0.5 + 0.6) - 8 * 0.0)
# corner (0,0), fixed: the 5 outside neighbours hold U = 1, V = 0
FIXED_CORNER = (5 * (1 - 0.9) + (0.8 - 0.9) + (0.4 - 0.9) + (0.3 - 0.9),
                5 * (0 - 0.0) + (0.1 - 0) + (0.5 - 0) + (0.6 - 0))
# edge (2,0), fixed: outside (1,-1) (2,-1) (3,-1); inside (1,0) (1,1) (2,1) (3,0) (3,1)
FIXED_EDGE = (3 * (1 - 1.0) + (0.4 - 1) + (0.3 - 1) + (0.9 - 1) + (0.5 - 1) + (0.4 - 1),
              3 * (0 - 0.1) + (0.5 - .1) + (0.6 - .1) + (0.2 - .1) + (0.0 - .1) + (0.2 - .1))

HAND_CASES = [
    ("school", (0, 0), SCHOOL_CORNER),
    ("school", (0, 2), SCHOOL_EDGE),
    ("school", (1, 1), INTERIOR),
    ("periodic", (0, 0), PERIODIC_CORNER),
    ("periodic", (1, 1), INTERIOR),
    ("fixed", (0, 0), FIXED_CORNER),
    ("fixed", (2, 0), FIXED_EDGE),
    ("fixed", (1, 1), INTERIOR),
]


@pytest.mark.parametrize("name", BACKEND_PARAMS)
@pytest.mark.parametrize("border, cell, laps", HAND_CASES,
                         ids=[f"{b}-{c[0]}{c[1]}" for b, c, _ in HAND_CASES])
def test_hand_computed_step(name, border, cell, laps):
    problem = make_problem((4, 5), params=P, border=border, dtype="float64")
    u1, v1 = one_step(name, problem, U0, V0)
    want = expected(U0[cell], V0[cell], *laps)
    assert u1[cell] == pytest.approx(want[0], abs=1e-12)
    assert v1[cell] == pytest.approx(want[1], abs=1e-12)


@pytest.mark.parametrize("name", BACKEND_PARAMS)
def test_school_box_one_step(name):
    """From the school's initial state: inside the box, at its corner, and just outside."""
    shape = (64, 64)  # box rows [24, 28), cols [28, 32)
    problem = make_problem(shape, params=P, dtype="float64")
    u, v = make_initial("school", shape)
    u1, v1 = one_step(name, problem, u, v)
    F, k = P.F, P.k
    # inside (no neighbour differs): u' = F, v' = 1 - (F + k)
    assert (u1[25, 29], v1[25, 29]) == pytest.approx((F, 1 - (F + k)), abs=1e-12)
    # box corner: 5 neighbours outside the box (u = 1, v = 0)
    assert (u1[24, 28], v1[24, 28]) == pytest.approx(
        (P.Du * 5 + F, 1 + P.Dv * -5 - (F + k)), abs=1e-12)
    # diagonal neighbour of the corner, outside: one neighbour in the box
    assert (u1[23, 27], v1[23, 27]) == pytest.approx((1 - P.Du, P.Dv), abs=1e-12)
    # far away nothing happens (U = 1, V = 0 is a fixed point)
    assert (u1[0, 0], v1[0, 0]) == (1.0, 0.0)


# -- the float64 reference, every stencil x border x dtype ------------------------------------

COMBOS = list(itertools.product(STENCIL_CASES, BORDERS, ["float32", "float64"]))


@pytest.mark.parametrize("name", BACKEND_PARAMS)
@pytest.mark.parametrize("stencil, border, dtype", COMBOS,
                         ids=["-".join(c) for c in COMBOS])
def test_matches_reference(name, stencil, border, dtype):
    problem = small_problem(stencil=_stencil(stencil), border=border, dtype=dtype)
    u, v = noisy_state(problem.shape, seed=7)
    nsteps = 6
    want_u, want_v = ref.run(u, v, problem, nsteps)
    b = backends.create(name, problem)
    b.set_state(u, v)
    b.advance(nsteps - 2)
    b.advance(2)  # two calls: state carries over between blocks
    got_u, got_v = b.get_state()
    assert got_u.dtype == got_v.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got_u, want_u, rtol=0, atol=ATOL[dtype])
    np.testing.assert_allclose(got_v, want_v, rtol=0, atol=ATOL[dtype])
    assert np.array_equal(b.get_v(), got_v)


@pytest.mark.parametrize("name", BACKEND_PARAMS)
def test_matches_numpy_longer(name):
    """A longer float32 run from the school box: backends agree with `numpy` to float32
    rounding (differences stay at the level of a few ulps, they do not grow)."""
    problem = small_problem(shape=(40, 48), dtype="float32")
    u, v = make_initial("school", problem.shape)
    a_u, a_v = one_step("numpy", problem, u, v, n=200)
    b_u, b_v = one_step(name, problem, u, v, n=200)
    assert np.abs(a_v).max() > 0.05  # something happened
    np.testing.assert_allclose(b_u, a_u, rtol=0, atol=2e-5)
    np.testing.assert_allclose(b_v, a_v, rtol=0, atol=2e-5)


# -- invariants --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", BACKEND_PARAMS)
@pytest.mark.parametrize("border", ["school", "periodic"])
@pytest.mark.parametrize("stencil", STENCILS)
def test_conserved_sum_without_reaction(name, border, stencil):
    """model.md §4: with F = k = 0 and V = 0, neighbours exchange equal and opposite amounts."""
    problem = make_problem((10, 13), params=Parameters(Du=0.1, Dv=0.05, F=0, k=0, dt=1.0),
                           stencil=stencil, border=border, dtype="float64")
    u, _ = noisy_state(problem.shape, seed=3)
    u1, v1 = one_step(name, problem, u, np.zeros_like(u), n=20)
    assert not np.allclose(u1, u)  # diffusion did act
    assert u1.sum() == pytest.approx(u.sum(), rel=1e-13)
    assert np.all(v1 == 0)


@pytest.mark.parametrize("name", BACKEND_PARAMS)
@pytest.mark.parametrize("border", BORDERS)
def test_rest_state_is_fixed(name, border):
    """U = 1, V = 0 is a fixed point of every border (fixed ghosts hold exactly that)."""
    problem = small_problem(border=border, dtype="float32")
    u1, v1 = one_step(name, problem, np.ones(problem.shape), np.zeros(problem.shape), n=3)
    assert np.all(u1 == 1) and np.all(v1 == 0)


@pytest.mark.parametrize("name", BACKEND_PARAMS)
def test_periodic_translation(name):
    """On a periodic grid, shifting the state shifts the result."""
    problem = small_problem(border="periodic", dtype="float64")
    u, v = noisy_state(problem.shape, seed=5)
    a_u, _ = one_step(name, problem, u, v, n=3)
    s_u, _ = one_step(name, problem, np.roll(u, (2, 3), (0, 1)), np.roll(v, (2, 3), (0, 1)), n=3)
    np.testing.assert_allclose(s_u, np.roll(a_u, (2, 3), (0, 1)), atol=1e-13)


@pytest.mark.parametrize("name", BACKEND_PARAMS)
def test_rejects_wrong_shape(name):
    b = backends.create(name, small_problem())
    with pytest.raises(ValueError, match="shape"):
        b.set_state(np.ones((3, 3)), np.ones((3, 3)))


# -- property tests --------------------------------------------------------------------------

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nr=st.integers(3, 12), nc=st.integers(3, 12),
       Du=st.floats(0.0, 0.16), Dv=st.floats(0.0, 0.16), F=st.floats(0.0, 0.1),
       k=st.floats(0.0, 0.1), stencil=st.sampled_from(STENCILS),
       border=st.sampled_from(BORDERS), seed=st.integers(0, 2**16))
def test_numpy_backends_property(nr, nc, Du, Dv, F, k, stencil, border, seed):
    """numpy, numpy-school and python equal the reference over random shapes and rates."""
    problem = make_problem((nr, nc), params=Parameters(Du=Du, Dv=Dv, F=F, k=k, dt=1.0),
                           stencil=stencil, border=border, dtype="float64")
    u, v = noisy_state(problem.shape, seed=seed)
    want_u, want_v = ref.run(u, v, problem, 3)
    for name in ("numpy", "numpy-school", "python"):
        got_u, got_v = one_step(name, problem, u, v, n=3)
        np.testing.assert_allclose(got_u, want_u, rtol=0, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(got_v, want_v, rtol=0, atol=1e-12, err_msg=name)


# -- registry --------------------------------------------------------------------------------

def test_registry_lists_every_backend():
    names = backends.names()
    for name in ("python", "numpy-school", "numpy"):
        assert name in names and backends.info(name).available
    assert backends.default_backend() in backends.available()


def test_unknown_backend():
    with pytest.raises(GrayScottError, match="numpy-school"):
        backends.create("fortran", small_problem())


def test_missing_extra_is_explained(monkeypatch):
    fake = backends.BackendInfo("fake", "numpy_buffers", "NumpyBackend", "test",
                                requires=("surely_not_a_module_xyz",), extra="fake")
    monkeypatch.setitem(backends._REGISTRY, "fake", fake)
    assert "fake" not in backends.available()
    with pytest.raises(GrayScottError, match=r"pip install 'grayscott\[fake\]'"):
        backends.create("fake", small_problem())


# -- the interface every backend shares: template methods, declarations ------------------------

@pytest.mark.parametrize("name", BACKEND_PARAMS)
def test_use_before_set_state_is_one_clear_error(name):
    b = backends.create(name, small_problem())
    for call in (lambda: b.advance(1), b.get_state, b.get_v):
        with pytest.raises(GrayScottError, match=r"call set_state\(u, v\) before"):
            call()


@pytest.mark.parametrize("name", BACKEND_PARAMS)
def test_step_counts_are_checked(name):
    problem = small_problem()
    u, v = noisy_state(problem.shape)
    b = backends.create(name, problem)
    b.set_state(u, v)
    for bad in (-1, 2.0, True, "3"):
        with pytest.raises(GrayScottError, match="nsteps must be an integer >= 0"):
            b.advance(bad)
    b.advance(0)  # nothing to do, not an error
    b.advance(np.int64(1))
    assert not np.array_equal(b.get_state()[0], u.astype(problem.dtype))


@pytest.mark.parametrize("name", BACKEND_PARAMS)
def test_declarations_are_consistent(name):
    """What the bench and the CLI rely on, checked for every registered backend."""
    from grayscott.backends.base import Backend, Capabilities, PaddedNumpyBackend

    cls = backends.info(name).load()
    assert cls.name == name
    assert isinstance(cls.capabilities, Capabilities)
    # the public methods are the base's template methods: nobody skips their checks
    for method in ("set_state", "advance", "get_state", "get_v"):
        assert getattr(cls, method) is getattr(Backend, method), method
    if not cls.capabilities.synchronous:  # timers call synchronize() and must really wait
        assert cls.synchronize is not Backend.synchronize
    if cls.capabilities.decomposable:  # padded NumPy fields whose ghosts fill_ghosts() sets
        assert issubclass(cls, PaddedNumpyBackend)
    b = backends.create(name, small_problem())
    assert b.platform in cls.capabilities.devices
    assert b.threads >= 1
    assert backends.describe(name)
    assert isinstance(b.provenance, dict) and isinstance(b.describe(), str)
    assert all(f"{k}={v}" in b.describe() for k, v in b.provenance.items()) or (
        type(b).describe is not Backend.describe)  # a backend may say it in its own words


def test_undeclared_options_are_refused_naming_who_takes_them():
    problem = small_problem()
    with pytest.raises(GrayScottError, match="backend 'numpy' takes no option 'blocking'"):
        backends.create("numpy", problem, blocking=4)
    takers = [n for n in backends.available() if "threads" in backends.info(n).load().options]
    for threads in (1, 4):
        with pytest.raises(GrayScottError, match="takes no option 'threads'") as exc:
            backends.create("numpy", problem, threads=threads)
        assert all(t in str(exc.value) for t in takers)
    assert backends.create("numpy", problem, threads=None).threads == 1  # None: the default


def test_options_are_checked_by_their_declaration():
    from grayscott.backends.base import Backend, Option, integer, one_of

    class Tunable(Backend):
        name = "tunable"
        options = {"k": Option("steps per pass", integer(1)),
                   "mode": Option("how", one_of("a", "b"))}

        def _set_state(self, u, v):
            pass

        def _advance(self, n):
            pass

        def _get_state(self):
            return np.zeros(self.problem.shape), np.zeros(self.problem.shape)

    problem = small_problem()
    assert Tunable(problem, k=np.int64(3), mode="b", other=None).config == {"k": 3, "mode": "b"}
    for bad, message in [({"k": 0}, "k must be an integer >= 1"), ({"k": 1.5}, "k must be an "
                         "integer"), ({"k": True}, "integer"), ({"mode": "c"}, "mode must be one "
                         "of 'a', 'b'"), ({"speed": 2}, "takes no option 'speed' \\(its options: "
                         "k, mode\\)")]:
        with pytest.raises(GrayScottError, match=message):
            Tunable(problem, **bad)


def test_python_backend_warns_on_big_runs():
    b = backends.create("python", make_problem((1080, 1920)))
    msg = b.warning(32_000)
    assert msg is not None and (" h;" in msg or " days;" in msg)
    assert backends.create("python", small_problem()).warning(10) is None


def test_lively_parameters_are_stable():
    make_problem(params=LIVELY)


def test_cli_lists_what_each_backend_declares(capsys):
    from grayscott.cli import main

    assert main(["backends"]) == 0
    out = capsys.readouterr().out
    for name in backends.available():
        line = backends.describe(name)
        assert line in out
        caps = backends.capabilities(name)
        assert ("asynchronous" in line) == (not caps.synchronous)
        assert ("slow rung" in line) == (caps.cell_steps_per_second is not None)
    assert "cpu; synchronous; slow rung" in backends.describe("python")
    assert "decomposable" in backends.describe("numpy") and "options" not in backends.describe(
        "numpy")
