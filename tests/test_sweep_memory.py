"""What a Numba sweep piece really allocates (tracemalloc follows NumPy's buffers) against what
planning.member_bytes lets it: every strategy, frames or not, small and narrow grids."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import grayscott as gs
from grayscott.sweep import core, planning

pytest.importorskip("numba")

from grayscott.backends import numba_kernels as K
from grayscott.sweep import numba_batch as NB

#: Beside the planned fields: each member's rates (a row of constants, its (F, k) pair) and a
#: few arrays per piece.
PER_MEMBER, PER_PIECE = 256, 32 << 10


def _state(shape):
    u, v = gs.make_initial("school", shape)
    return np.asarray(u, float), np.asarray(v, float)


@pytest.mark.parametrize("how", ["wide", "blocked", "members", "rows"])
@pytest.mark.parametrize(("shape", "members", "frames", "dtype"),
                         [((64, 64), 64, 1, "float32"), ((64, 64), 32, 8, "float32"),
                          ((9, 8), 64, 3, "float64"), ((64, 3), 64, 1, "float32")])
def test_a_piece_holds_no_more_than_planned(how, shape, members, frames, dtype):
    problem = gs.make_problem(shape, dtype=dtype)
    pairs = [(0.02 + 1e-4 * m, 0.06) for m in range(members)]
    marks = list(range(2, 2 * frames + 1, 2))
    list(core.run_pieces(pairs[:2], 2, problem, _state(shape), "numba", 2, how))  # compiled
    state = _state(shape)
    tracemalloc.start()
    try:
        for _ in core.run_pieces(pairs, 2 * frames, problem, state, "numba", members, how,
                                 frame_steps=marks if frames > 1 else None):
            pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    field = shape[0] * shape[1] * problem.dtype.itemsize
    planned = members * (planning.member_bytes(shape, problem.dtype.itemsize, "numba")
                         + (frames if frames > 1 else 0) * field)
    assert peak <= planned + members * PER_MEMBER + PER_PIECE, (
        f"{peak} bytes held, {planned} planned ({peak / planned:.3f} x)")


@pytest.mark.parametrize("how", ["wide", "blocked"])
@pytest.mark.parametrize("shape", [(64, 3), (9, 8), (200, 5), (40, 40), (3, 3)])
def test_the_scratch_of_a_call_is_within_scratch_rows(how, shape):
    """The rings and the rows kept beside a call: at most scratch_rows per member."""
    members = 8
    problem = gs.make_problem(shape, dtype="float64")
    C = np.stack([K.constants(0.1, 0.05, 0.02 + 1e-3 * m, 0.06, 1.0, problem.dtype)
                  for m in range(members)])
    u, v = _state(shape)
    piece = NB.NumbaPiece(np.broadcast_to(u, (members, *shape)),
                          np.broadcast_to(v, (members, *shape)), C, problem, how)
    piece.advance(3)  # compiled, and the second state made
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        piece.advance(20)
        scratch = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    allowed = members * planning.scratch_rows(shape[0]) * (shape[1] + 2) * 8
    assert scratch <= allowed + PER_PIECE // 8, f"{scratch} bytes of scratch, {allowed} planned"


def test_the_planned_scratch_follows_the_blocking_model():
    """planning may not import numba: its copy of the k model's bounds must match it."""
    from grayscott.backends import numba_blocked as NBk

    assert planning.NUMBA_K_MAX == NBk.K_MAX
    assert planning.NUMBA_ROWS_PER_LEVEL == 2 * NBk.BAND_HALO_RATIO
