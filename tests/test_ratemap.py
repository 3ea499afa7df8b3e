"""Rates that vary in space (the xmorphia map): exact in every backend that takes them."""

import numpy as np
import pytest

import grayscott as gs
from grayscott import backends
from grayscott.errors import GrayScottError
from grayscott.physics import Parameters, RateMap, make_problem, parse_map, reference

pytest.importorskip("numba")

MAP_BACKENDS = ("numpy-school", "numba", "numba-parallel")
SHAPE = (24, 20)


def _run(name, problem, u, v, blocks):
    be = backends.create(name, problem)
    be.set_state(u, v)
    for n in blocks:
        be.advance(n)
    return be.get_state()


@pytest.mark.parametrize("border", ["school", "periodic", "fixed"])
@pytest.mark.parametrize("stencil", ["school", "laplace9"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_map_bit_for_bit_across_backends_and_close_to_the_reference(border, stencil, dtype):
    rmap = RateMap.linear(0.01, 0.07, 0.045, 0.07, SHAPE)
    problem = make_problem(SHAPE, border=border, stencil=stencil, dtype=dtype, rate_map=rmap)
    u, v = gs.make_initial("noise", SHAPE, 1)
    states = {name: _run(name, problem, u, v, [5, 8]) for name in MAP_BACKENDS}
    for name in MAP_BACKENDS[1:]:
        for a, b in zip(states[MAP_BACKENDS[0]], states[name], strict=True):
            assert np.array_equal(a, b), name
    ref_u, ref_v = reference.run(u, v, problem, 13)
    tol = 1e-6 if dtype == "float32" else 1e-13
    assert np.abs(states["numba"][1] - ref_v).max() < tol
    assert np.abs(states["numba"][0] - ref_u).max() < tol


def test_map_differs_from_a_uniform_run():
    """The map is really used: it is not the run of its first (F, k)."""
    rmap = RateMap.linear(0.01, 0.07, 0.045, 0.07, SHAPE)
    u, v = gs.make_initial("noise", SHAPE, 1)
    mapped = _run("numba", make_problem(SHAPE, rate_map=rmap), u, v, [20])[1]
    uniform = _run("numba", make_problem(SHAPE, params=Parameters(F=0.01, k=0.045)), u, v,
                   [20])[1]
    assert not np.array_equal(mapped[-1], uniform[-1])


@pytest.mark.parametrize("name", MAP_BACKENDS)
def test_without_diffusion_each_cell_is_its_own_uniform_run(name):
    """Du = Dv = 0: every cell follows the ODE of its (F, k), bit for bit the run of those
    rates from the same state (diffusion would couple neighbours of other rates)."""
    params = Parameters(Du=0.0, Dv=0.0)
    rmap = RateMap.linear(0.01, 0.07, 0.045, 0.07, SHAPE)
    u, v = gs.make_initial("noise", SHAPE, 2)
    mapped = _run(name, make_problem(SHAPE, params=params, rate_map=rmap), u, v, [50])[1]
    for i in (0, 7, SHAPE[0] - 1):
        for j in (0, 5, SHAPE[1] - 1):
            p = Parameters(Du=0.0, Dv=0.0, F=rmap.feed[i], k=rmap.kill[j])
            single = _run(name, make_problem(SHAPE, params=p), u, v, [50])[1]
            assert single[i, j] == mapped[i, j], (i, j)


def test_other_backends_refuse_a_map_in_one_line():
    problem = make_problem(SHAPE, rate_map=RateMap.linear(0.01, 0.07, 0.045, 0.07, SHAPE))
    for name in backends.available():
        if name in MAP_BACKENDS:
            continue
        with pytest.raises(GrayScottError, match="does not take a rate map") as info:
            backends.create(name, problem)
        assert "\n" not in str(info.value)


def test_parse_map():
    rmap = parse_map("0.01:0.07,0.045:0.07", (4, 3))
    assert rmap.feed == pytest.approx((0.01, 0.03, 0.05, 0.07))
    assert rmap.kill == pytest.approx((0.045, 0.0575, 0.07))
    assert parse_map(rmap.spec, (4, 3)) == rmap
    assert parse_map("0.07:0.01,0.045:0.07", (4, 3)).feed[0] == 0.07  # reversed: row 0 has F0
    for bad in ("0.01:0.07", "a:b,c:d", "0.01:0.07,0.045", "0.01:nan,0:1", "-1:0,0:1"):
        with pytest.raises(GrayScottError, match="--map"):
            parse_map(bad, (4, 3))
    with pytest.raises(GrayScottError, match="does not fit"):
        make_problem((5, 3), rate_map=rmap)
