"""The spot count against a flood fill written out here: on a plane, and on a torus (periodic
border: a region cut by an edge is one), for drawn masks of every shape from 1 x 1."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grayscott.sweep import descriptors

pytest.importorskip("scipy")


def flood_count(on: np.ndarray, torus: bool) -> int:
    """Regions of 4-connected True cells, by breadth-first search; wrapping when ``torus``."""
    nr, nc = on.shape
    seen = np.zeros_like(on, dtype=bool)
    count = 0
    for i0, j0 in zip(*np.nonzero(on), strict=True):
        if seen[i0, j0]:
            continue
        count += 1
        seen[i0, j0] = True
        todo = deque([(i0, j0)])
        while todo:
            i, j = todo.popleft()
            for a, b in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)):
                if torus:
                    a, b = a % nr, b % nc
                elif not (0 <= a < nr and 0 <= b < nc):
                    continue
                if on[a, b] and not seen[a, b]:
                    seen[a, b] = True
                    todo.append((a, b))
    return count


CELLS = st.sampled_from([0.0, 0.3, 0.05, descriptors.V_ON, np.nan, np.inf, -np.inf, -0.0])


@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1,
                                                max_side=14), elements=CELLS))
def test_spot_count_is_the_flood_fill_on_a_plane_and_on_a_torus(v):
    on = np.nan_to_num(v) > descriptors.V_ON
    assert descriptors.spot_count(v) == flood_count(on, torus=False)
    assert descriptors.spot_count(v, periodic=True) == flood_count(on, torus=True)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.integers(3, 30), st.integers(3, 30), st.integers(0, 2**16))
def test_spot_count_on_a_torus_does_not_change_when_the_field_is_rolled(nr, nc, seed):
    """A periodic field has no edge: rolling it moves the cut, not the regions."""
    rng = np.random.default_rng(seed)
    v = np.where(rng.random((nr, nc)) < 0.45, 0.3, 0.0)
    count = descriptors.spot_count(v, periodic=True)
    for shift in ((1, 0), (0, 1), (nr // 2, nc // 3)):
        assert descriptors.spot_count(np.roll(v, shift, axis=(0, 1)), periodic=True) == count
