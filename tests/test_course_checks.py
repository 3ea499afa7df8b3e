"""The tools of the notebooks' checks (grayscott.course.checks), without a kernel: each one tells
the right approach from a wrong one that gives the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

import grayscott as gs
from grayscott.course import checks
from grayscott.physics import reference


def disk_broadcast(n, m):
    r = np.arange(n)[:, None] - n / 2
    c = np.arange(m)[None, :] - m / 2
    return r**2 + c**2 < 9


def disk_vectorize(n, m):
    return np.vectorize(lambda i, j: (i - n / 2) ** 2 + (j - m / 2) ** 2 < 9)(*np.indices((n, m)))


def disk_rows(n, m):
    return np.array([(i - n / 2) ** 2 + (np.arange(m) - m / 2) ** 2 < 9 for i in range(n)])


def test_a_python_loop_is_seen_however_it_is_hidden():
    assert np.array_equal(disk_broadcast(40, 50), disk_vectorize(40, 50))
    assert np.array_equal(disk_broadcast(40, 50), disk_rows(40, 50))
    checks.expect_no_python_loop("disk", disk_broadcast, (9, 12), (240, 320))
    for wrong in (disk_vectorize, disk_rows):
        with pytest.raises(AssertionError, match="a Python loop does the work"):
            checks.expect_no_python_loop("disk", wrong, (9, 12), (240, 320))


def my_step(u, v):
    return reference.step(u, v, gs.make_problem(u.shape))


def my_laplacian(x):
    return uses_gs_inside(x)


def uses_gs_inside(x):
    return gs.physics.reference.laplacian(x, gs.get_stencil("school"), "school")


def test_the_package_is_seen_in_the_code_and_while_it_runs():
    assert checks.package_references(my_step) == ["gs", "reference"]
    assert checks.package_references(my_laplacian) == ["gs"], "through a notebook function"
    assert checks.package_references(disk_broadcast) == []
    with pytest.raises(AssertionError, match="uses the package"):
        checks.expect_own_work("step", my_step)
    u = np.ones((4, 5))
    _, watch = checks.run_watched(my_step, u, u)
    assert watch.package_calls, "the calls into the package's files are seen"
    _, watch = checks.run_watched(disk_broadcast, 4, 5)
    assert not watch.package_calls


def test_attempt_turns_an_exception_into_a_failed_check_that_names_the_call():
    with pytest.raises(AssertionError, match=r"f\(1\) raised ZeroDivisionError"):
        checks.attempt("f(1)", lambda x: x / 0, 1)


def test_swapped_records_the_calls_and_puts_the_original_back():
    space = {"g": lambda x: x + 1}
    original = space["g"]
    with checks.swapped(space, "g") as calls:
        assert space["g"](2) == 3
    assert calls == [((2,), {})] and space["g"] is original


def test_reverse_mode_is_told_from_forward_mode_and_differences():
    jax = pytest.importorskip("jax")
    from jax import lax

    def total(F):
        return lax.fori_loop(0, 5, lambda i, s: s * (1 - F) + F, jax.numpy.ones(3)).sum()

    def reverse(fn):
        return any(p.get("reverse") for _, p in checks.loops(jax.make_jaxpr(fn)(0.1)))

    assert reverse(jax.grad(total))
    assert not reverse(jax.jacfwd(total))
    assert not reverse(lambda F: (total(F + 1e-3) - total(F - 1e-3)) / 2e-3)


def test_a_parallel_loop_over_the_rows_is_told_from_prange_1_and_columns():
    numba = pytest.importorskip("numba")
    njit, prange = numba.njit, numba.prange

    @njit
    def serial(U, U2):
        for i in range(1, U.shape[0] - 1):
            for j in range(1, U.shape[1] - 1):
                U2[i, j] = 2 * U[i, j]

    @njit(parallel=True)
    def rows(U, U2):
        nr, nc = U.shape[0] - 2, U.shape[1] - 2
        for i in prange(1, nr + 1):
            for j in range(1, nc + 1):
                U2[i, j] = 2 * U[i, j]

    @njit(parallel=True)
    def one(U, U2):
        for _ in prange(1):
            serial(U, U2)

    @njit(parallel=True)
    def columns(U, U2):
        for i in range(1, U.shape[0] - 1):
            for j in prange(1, U.shape[1] - 1):
                U2[i, j] = 2 * U[i, j]

    U = np.ones((6, 7))
    for fn in (rows, one, columns):
        fn(U, np.zeros_like(U))
    assert checks.parallel_loops_over_rows(rows) == (1, 1)
    assert checks.parallel_loops_over_rows(one) == (1, 0)
    assert checks.parallel_loops_over_rows(columns)[1] == 0
    with pytest.raises(AssertionError, match="parallel option"):
        checks.parallel_loops_over_rows(serial)


def test_the_ladder_times_every_rung_in_every_round_and_notes_a_wide_spread():
    from grayscott.course import ladder

    calls = []

    def rung(name):
        return ladder.Rung(name, lambda u, v: calls.append(("start", name, u.shape)),
                           lambda n: calls.append(("run", name, n)))

    shape = (8, 9)
    lad = ladder.measure([rung("numpy-school"), rung("b")], steps=2, rounds=3, shape=shape)
    assert {k: len(v) for k, v in lad.rates.items()} == {"numpy-school": 3, "b": 3}
    runs = [c[1] for c in calls if c[0] == "run"]
    assert runs[:2] == ["numpy-school", "b"], "warm-up of every rung first"
    assert runs[2:4] == ["numpy-school", "b"] and runs[4:6] == ["b", "numpy-school"], \
        "the order turns from round to round"
    assert all(c[2] == shape for c in calls if c[0] == "start")
    fake = ladder.Ladder("initial state", 2, 72, {"numpy-school": [1.0, 2.0, 4.0],
                                                  "b": [2.0, 4.0, 8.0]})
    assert fake.ratio("b") == 2.0, "ratios within each round"
    assert "differ by x4.0" in ladder.load_note([fake])
    calm = ladder.Ladder("initial state", 2, 72, {"numpy-school": [1.0, 1.1, 1.2]})
    assert ladder.load_note([calm]) is None
