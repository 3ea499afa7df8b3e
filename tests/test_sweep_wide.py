"""The sweep's "wide" strategy (members side by side in long rows): every member is its single
`numba` run bit for bit, however the members are grouped and the steps are cut into calls."""

from __future__ import annotations

import numpy as np
import pytest

import grayscott as gs
from grayscott.sweep import sweep

numba = pytest.importorskip("numba")

from grayscott.backends import numba_kernels as K  # noqa: E402
from grayscott.sweep import numba_batch as NB  # noqa: E402
from grayscott.sweep import numba_wide as NW  # noqa: E402

SHAPE = (11, 13)
RATES = [(0.02, 0.055), (0.035, 0.065), (0.06, 0.06), (0.03, 0.057), (0.045, 0.061),
         (0.025, 0.05)]


def bits(x: np.ndarray) -> np.ndarray:
    """The raw bits, so that -0.0 and 0.0 (equal as numbers) count as different."""
    return x.view(np.uint32 if x.dtype == np.float32 else np.uint64)


def state(dtype: str, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    u = (1 - 0.5 * rng.random(SHAPE)).astype(dtype)
    v = (0.3 * rng.random(SHAPE)).astype(dtype)
    v[0, :4] = -0.0  # signed zeros must come through as the single run leaves them
    return u, v


def single(params: gs.Parameters, u, v, steps: int, **kw) -> np.ndarray:
    sim = gs.Simulation(gs.make_problem(SHAPE, params=params, **kw), backend="numba",
                        state=(u, v))
    sim.advance(steps)
    return sim.state[1]


def wide_batch(params: list[gs.Parameters], u, v, group: int, border: str, stencil: str,
               dtype: str) -> NW.WideBatch:
    problem = gs.make_problem(SHAPE, border=border, stencil=stencil, dtype=dtype)
    C = np.stack([K.constants(p.Du, p.Dv, p.F, p.k, p.dt, problem.dtype) for p in params])
    piece = NB.NumbaPiece(u, v, C, problem, "blocked")  # its padded fields and strips
    return NW.WideBatch(piece.U, piece.V, piece.w, piece.C, piece.border, piece.gu, piece.gv,
                        piece.strips, group)


@pytest.mark.parametrize("border", ["school", "periodic", "fixed"])
@pytest.mark.parametrize("stencil", ["school", "laplace5", "laplace9"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_wide_members_are_their_single_runs_bit_for_bit(border, stencil, dtype):
    u, v = state(dtype)
    params = [gs.Parameters(F=f, k=k) for f, k in RATES]
    calls = [7, 1, 12]  # not whole passes of k, and a one-step call
    for group in (2, 3, 6):
        batch = wide_batch(params, u, v, group, border, stencil, dtype)
        assert batch.g == group
        for n in calls:
            batch.advance(n)
        got = batch.v()
        for m, p in enumerate(params):
            want = single(p, u, v, sum(calls), border=border, stencil=stencil, dtype=dtype)
            np.testing.assert_array_equal(bits(got[m]), bits(want),
                                          err_msg=f"member {m}, {group} side by side")


def test_members_with_their_own_diffusion_are_not_put_side_by_side():
    """The wide loop shares Du, Dv and dt along a row: members that differ run one a group."""
    u, v = state("float32")
    params = [gs.Parameters(F=0.03, k=0.06, Du=du) for du in (0.16, 0.12, 0.16, 0.1)]
    batch = wide_batch(params, u, v, 2, "school", "school", "float32")
    assert batch.g == 1
    batch.advance(9)
    for m, p in enumerate(params):
        np.testing.assert_array_equal(bits(batch.v()[m]), bits(single(p, u, v, 9)))


def test_small_members_are_run_wide_by_default_and_equal_the_blocked_strategy():
    assert NB.strategy(64, (130, 130), 4, nthreads=2) == "wide"
    assert NW.group_size(64, 128, 2) == 16  # 16 x 130 cells: the widest row within 4096
    assert NW.group_size(64, 128, 2, 128, 4) == 16  # 4.3 MB of fields: within 5 MiB
    assert NW.group_size(64, 128, 2, 128, 8) == 8  # float64: half as many
    assert NW.group_size(16, 256, 2, 256, 4) == 4  # 8 would fit the row, not the bytes
    assert NB.strategy(4, (1026, 1026), 4, nthreads=2) == "blocked"  # already long rows
    feed, kill = [0.02, 0.03, 0.04, 0.05], [0.055, 0.06, 0.065, 0.07]
    a = sweep(feed, kill, 40, (24, 20), backend="numba", threads=2)
    b = sweep(feed, kill, 40, (24, 20), backend="numba", threads=2, strategy="blocked")
    assert a.strategy == "wide" and b.strategy == "blocked"
    np.testing.assert_array_equal(bits(a.v), bits(b.v))
    assert len({float(np.abs(x).sum()) for x in a.v.reshape(16, -1)}) == 16, "members differ"
