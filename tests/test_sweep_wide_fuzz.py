"""The "wide" sweep strategy against each member's single `numba` run, on drawn cases: raw bits
of U and V (so -0.0 against 0.0 counts), whatever the shape, the members, how they are grouped,
k, the calls, the stencil, the border, the dtype and the rates; a member that blows up (NaN,
inf, huge rates) leaves its neighbours in the same long row bit for bit.

NaN cells must be NaN in both, not of the same sign bit: which of two NaN operands an addition
passes on depends on the operand order the compiler picks, which differs between the kernels
(``numba-blocked`` and ``numba`` differ so too); every other value, inf included, is exact."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import grayscott as gs
from grayscott import backends

pytest.importorskip("numba")

from grayscott.backends import numba_kernels as K
from grayscott.sweep import numba_batch as NB
from grayscott.sweep import numba_wide as NW

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
#: Rates drawn per member: the school's range, the ends, and past any stable run.
RATES = st.sampled_from([0.0, 0.01, 0.029, 0.055, 0.062, 0.1, 1.0, 37.5, 1e30])
#: Cell values: the usual range, signed zeros, and values that overflow within a few steps.
VALUES = st.sampled_from([0.0, -0.0, 0.25, 1.0, 0.5, 1e-39, -0.3, 1e18, 3e38])
POISON = st.sampled_from([np.nan, -np.nan, np.inf, -np.inf])


def bits(x: np.ndarray) -> np.ndarray:
    return x.view(np.uint32 if x.dtype == np.float32 else np.uint64)


@st.composite
def stencils(draw):
    name = draw(st.sampled_from(["school", "laplace5", "laplace9", "custom"]))
    if name != "custom":
        return name
    # Dyadic weights (exact in float32), -0.0 and 1 among them: the kinds' boundaries.
    w = draw(st.lists(st.sampled_from([0.0, -0.0, 1.0, 0.5, 0.25, 2.0, 0.125]), min_size=9,
                      max_size=9))
    w = np.array(w).reshape(3, 3)
    w[1, 1] = 0.0  # the centre: -sum(neighbours), set by the Stencil
    return w


@st.composite
def cases(draw):
    dtype = draw(st.sampled_from(["float32", "float64"]))
    border = draw(st.sampled_from(["school", "periodic", "fixed"]))
    stencil = draw(stencils())
    nr = draw(st.integers(3, 12))
    nc = draw(st.one_of(st.integers(3, 14), st.sampled_from([1020, 1021, 1022, 1023])))
    members = draw(st.sampled_from([1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 31, 64]) if nc < 100
                   else st.sampled_from([1, 2, 3]))
    group = draw(st.sampled_from([g for g in range(1, members + 1) if members % g == 0]))
    k = draw(st.sampled_from([0, 1, 2, 3, 5, 8]))  # 0: the model's k
    calls = draw(st.lists(st.integers(0, 9), min_size=1, max_size=3))
    dt = draw(st.sampled_from([1.0, 0.5, 0.3]))
    du, dv = draw(st.sampled_from([(0.16, 0.08), (0.1, 0.05), (0.0, 0.0), (1.0, 2.0)]))
    rates = [(draw(RATES), draw(RATES)) for _ in range(members)]
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    u = rng.random((members, nr, nc)).astype(dtype)
    v = (0.3 * rng.random((members, nr, nc))).astype(dtype)
    for x in (u, v):  # a few cells of special values, members apart
        for _ in range(draw(st.integers(0, 4))):
            x[rng.integers(members), rng.integers(nr), rng.integers(nc)] = draw(VALUES)
    if draw(st.booleans()):  # one member poisoned: its neighbours must not see it
        x = draw(st.sampled_from([u, v]))
        x[rng.integers(members), rng.integers(nr), rng.integers(nc)] = draw(POISON)
    return dict(dtype=dtype, border=border, stencil=stencil, shape=(nr, nc), group=group, k=k,
                calls=calls, dt=dt, du=du, dv=dv, rates=rates, u=u, v=v)


def single(case, m):
    """Member m's own `numba` run: (U, V) after all the calls."""
    f, k = case["rates"][m]
    params = gs.Parameters(Du=case["du"], Dv=case["dv"], F=f, k=k, dt=case["dt"])
    problem = gs.make_problem(case["shape"], params=params, stencil=case["stencil"],
                              border=case["border"], dtype=case["dtype"], allow_unstable=True)
    be = backends.create("numba", problem)
    be.set_state(case["u"][m], case["v"][m])
    with np.errstate(all="ignore"):
        for n in case["calls"]:
            be.advance(n)
    return be.get_state()


def wide(case):
    """(U, V) of every member after the calls, run side by side in groups of case["group"]."""
    problem = gs.make_problem(case["shape"], params=gs.Parameters(Du=case["du"], Dv=case["dv"],
                                                                   dt=case["dt"]),
                              stencil=case["stencil"], border=case["border"],
                              dtype=case["dtype"], allow_unstable=True)
    C = np.stack([K.constants(case["du"], case["dv"], f, k, case["dt"], problem.dtype)
                  for f, k in case["rates"]])
    piece = NB.NumbaPiece(case["u"], case["v"], C, problem, "blocked")  # padded, strips
    batch = NW.WideBatch(piece.U, piece.V, piece.w, piece.C, piece.border, piece.gu, piece.gv,
                         piece.strips, case["group"], case["k"])
    assert batch.g == case["group"]
    for n in case["calls"]:
        batch.advance(n)
    U = NW.interiors(batch.U, batch.g)
    return U, batch.v()


@settings(max_examples=300, **SETTINGS)
@given(cases())
def test_wide_is_each_members_single_run_bit_for_bit(case):
    U, V = wide(case)
    for m in range(len(case["rates"])):
        u, v = single(case, m)
        for name, got, want in (("U", U[m], u), ("V", V[m], v)):
            same = (bits(got) == bits(want)) | (np.isnan(got) & np.isnan(want))
            assert same.all(), (
                f"{name} of member {m}: {np.count_nonzero(~same)} cells differ, first at "
                f"{np.argwhere(~same)[0]}: {got[~same][0]!r} against {want[~same][0]!r}")


@settings(max_examples=200, **SETTINGS)
@given(st.integers(1, 200), st.integers(3, 1100), st.integers(1, 4))
def test_group_size_divides_the_batch_and_keeps_rows_short(batch, ncol, nthreads):
    g = NW.group_size(batch, ncol, nthreads)
    if ncol + 2 >= NW.SHORT_ROW:
        assert g == 1
        return
    if g == 0:  # no grouping shares out: then neither does one member a group
        assert batch % nthreads and batch < 4 * nthreads
        return
    assert batch % g == 0
    assert g == 1 or g * (ncol + 2) <= NW.WIDE_CELLS
    groups = batch // g
    assert groups % nthreads == 0 or groups >= 4 * nthreads
    bigger = [h for h in range(g + 1, batch + 1) if batch % h == 0
              and h * (ncol + 2) <= NW.WIDE_CELLS
              and ((batch // h) % nthreads == 0 or batch // h >= 4 * nthreads)]
    assert not bigger, f"{bigger[0]} members a row also fit"


@settings(max_examples=40, **SETTINGS)
@given(st.integers(1, 4), st.sampled_from([(5, 7), (9, 4), (3, 3), (6, 30), (3, 1021), (3, 1022)]),
       st.sampled_from([1, 2, 5, 7, 12, 64]), st.sampled_from(["school", "periodic", "fixed"]),
       st.sampled_from([None, 1, 3, 5]))
def test_sweep_chooses_its_groups_and_equals_the_single_runs(nthreads, shape, members, border,
                                                             batch):
    """Through sweep(): the strategy and group size chosen for 1..4 threads (the layout is
    decided as for that many; the machine may have fewer), pieces of ``batch`` (the last one
    shorter), rows just under and at the 1024 cells that are run side by side; each member
    its single run."""
    from grayscott.sweep import sweep

    assume(members >= nthreads and (shape[1] < 100 or members <= 12))
    feed = np.linspace(0.01, 0.08, members)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(NB, "threads", lambda: nthreads)
        r = sweep(feed, [0.06], 23, shape, backend="numba", border=border, initial="noise",
                  seed=3, batch=batch)
    size = min(batch or members, members)
    if members % size == 0:  # every piece the same: the strategy recorded is theirs
        assert r.strategy == NB.strategy(size, (shape[0] + 2, shape[1] + 2), 4, nthreads)
    u0, v0 = gs.make_initial("noise", shape, 3)
    for m, f in enumerate(feed):
        sim = gs.Simulation(gs.make_problem(shape, params=gs.Parameters(F=float(f), k=0.06),
                                            border=border), backend="numba", state=(u0, v0))
        sim.advance(23)
        assert (bits(r.v[m, 0]) == bits(sim.state[1])).all(), f"member {m} ({r.strategy})"


def test_rows_of_1024_cells_and_more_are_not_put_side_by_side():
    assert NB.strategy(4, (5, 1023), 4, 2) == "wide" and NW.group_size(4, 1021, 2) == 2
    assert NB.strategy(4, (5, 1024), 4, 2) == "blocked" and NW.group_size(4, 1022, 2) == 1
