"""The physics against docs/model.md: the initial box, stencils, stability, border deficits."""

from __future__ import annotations

import numpy as np
import pytest

from grayscott.errors import GrayScottError, UnstableError
from grayscott.physics import (
    Parameters,
    deficit,
    get_stencil,
    make_initial,
    make_problem,
    school_box_bounds,
)
from grayscott.physics import reference as ref


class TestInitialBox:
    def test_school_size(self):
        """docs/model.md §3: rows 468..535 and columns 840..959 inclusive for 1080 x 1920."""
        u, v = make_initial("school", (1080, 1920))
        rows, cols = np.nonzero(v)
        assert (rows.min(), rows.max(), cols.min(), cols.max()) == (468, 535, 840, 959)
        assert v.sum() == 68 * 120
        assert np.all(u[v == 1] == 0) and np.all(u[v == 0] == 1)
        assert set(np.unique(v)) == {0.0, 1.0}

    @pytest.mark.parametrize("shape, rows, cols", [
        ((100, 50), (39, 46), (21, 25)),  # 100*7//16-4 = 39, 100*8//16-4 = 46, 50*7//16 = 21
        ((17, 33), (3, 4), (14, 16)),  # odd sizes: 17*7//16-4 = 3, 17*8//16-4 = 4
        ((3, 3), (0, 0), (1, 1)),  # tiny: the row range clamps at 0 and is empty
        ((10, 20), (0, 1), (8, 10)),  # 10*7//16-4 = 0, 10*8//16-4 = 1
    ])
    def test_bounds(self, shape, rows, cols):
        r, c = school_box_bounds(shape)
        assert (r.start, r.stop) == rows and (c.start, c.stop) == cols
        u, v = make_initial("school", shape)
        assert v.sum() == (rows[1] - rows[0]) * (cols[1] - cols[0])

    def test_clamped_at_zero(self):
        # 8 rows: 8*7//16 - 4 = -1 -> 0, 8*8//16 - 4 = 0: empty box, nothing negative wraps.
        r, _ = school_box_bounds((8, 16))
        assert (r.start, r.stop) == (0, 0)
        assert make_initial("school", (8, 16))[1].sum() == 0

    def test_noise_is_seeded(self):
        a = make_initial("noise", (20, 30), seed=3)
        b = make_initial("noise", (20, 30), seed=3)
        c = make_initial("noise", (20, 30), seed=4)
        assert np.array_equal(a[0], b[0]) and not np.array_equal(a[0], c[0])

    def test_unknown(self):
        with pytest.raises(GrayScottError, match="school, noise"):
            make_initial("box", (10, 10))


class TestStencils:
    def test_named_weights(self):
        assert get_stencil("school").weights.tolist() == [[1, 1, 1], [1, -8, 1], [1, 1, 1]]
        assert get_stencil("laplace5").weights.tolist() == [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
        assert get_stencil("laplace9").weights.tolist() == [
            [0.25, 0.5, 0.25], [0.5, -3, 0.5], [0.25, 0.5, 0.25]]

    @pytest.mark.parametrize("name, lam", [("school", -12.0), ("laplace5", -8.0),
                                           ("laplace9", -4.0)])
    def test_min_eigenvalue(self, name, lam):
        assert get_stencil(name).min_eigenvalue() == pytest.approx(lam)

    def test_eigenvalue_matches_periodic_matrix(self):
        """The symbol's minimum is the most negative eigenvalue of the periodic operator."""
        st = get_stencil("school")
        n = 8
        mat = np.zeros((n * n, n * n))
        for idx in range(n * n):
            e = np.zeros(n * n)
            e[idx] = 1
            mat[:, idx] = ref.laplacian(e.reshape(n, n), st, "periodic").ravel()
        assert np.linalg.eigvalsh(mat).min() == pytest.approx(st.min_eigenvalue())

    def test_custom_centre_conventions(self):
        w = [[0, 1, 0], [2, 0, 2], [0, 1, 0]]
        assert get_stencil(w).centre == -6
        assert get_stencil([[0, 1, 0], [2, -6, 2], [0, 1, 0]]).centre == -6
        with pytest.raises(GrayScottError, match="centre weight"):
            get_stencil([[0, 1, 0], [2, -5, 2], [0, 1, 0]])
        with pytest.raises(GrayScottError, match="3x3"):
            get_stencil(np.ones((2, 2)))
        with pytest.raises(GrayScottError, match="laplace5"):
            get_stencil("laplace7")

    def test_anti_diffusion_is_never_stable(self):
        st = get_stencil([[0, -1, 0], [-1, 0, -1], [0, -1, 0]])
        assert st.stability_limit() == 0.0
        with pytest.raises(UnstableError, match="every dt"):
            make_problem((5, 5), stencil=st)


class TestStability:
    def test_defaults_are_stable(self):
        make_problem()  # dt * Du * 12 = 1.2 <= 2

    def test_bound_in_message(self):
        with pytest.raises(UnstableError, match=r"dt <= 1\.66667"):
            make_problem(params=Parameters(dt=1.7))
        # laplace5: 2 / 8 / 0.1 = 2.5
        make_problem(params=Parameters(dt=2.5), stencil="laplace5")
        with pytest.raises(UnstableError, match=r"dt <= 2\.5\b"):
            make_problem(params=Parameters(dt=2.6), stencil="laplace5")

    def test_override(self):
        make_problem(params=Parameters(dt=5.0), allow_unstable=True)

    @pytest.mark.parametrize("field, value", [("Du", -0.1), ("F", float("nan")),
                                              ("k", float("inf")), ("dt", 0.0), ("dt", -1.0)])
    def test_bad_parameters(self, field, value):
        with pytest.raises(GrayScottError, match=field):
            Parameters(**{field: value})

    @pytest.mark.parametrize("shape", [(2, 10), (10, 2), (0, 0), (3.5, 4), ("a", 4)])
    def test_bad_shapes(self, shape):
        with pytest.raises(GrayScottError):
            make_problem(shape)

    def test_bad_dtype_and_border(self):
        with pytest.raises(GrayScottError, match="float32, float64"):
            make_problem((5, 5), dtype="float16")
        with pytest.raises(GrayScottError, match="school, periodic, fixed"):
            make_problem((5, 5), border="mirror")


class TestDeficit:
    def test_school_counts_outside_neighbours(self):
        d = deficit(get_stencil("school"), "school", (4, 5)).as_field((4, 5))
        # corner: 5 of 8 neighbours outside; edge: 3; interior: 0
        assert d[0, 0] == d[0, -1] == d[-1, 0] == d[-1, -1] == 5
        assert d[0, 2] == d[2, 0] == d[-1, 2] == d[1, -1] == 3
        assert d[1:-1, 1:-1].sum() == 0

    def test_laplace9(self):
        d = deficit(get_stencil("laplace9"), "school", (4, 5)).as_field((4, 5))
        assert d[0, 0] == pytest.approx(0.25 * 3 + 0.5 * 2)
        assert d[0, 2] == pytest.approx(0.25 * 2 + 0.5)

    def test_only_school_border(self):
        assert deficit(get_stencil("school"), "periodic", (4, 5)) is None
        assert deficit(get_stencil("school"), "fixed", (4, 5)) is None

    @pytest.mark.parametrize("shape", [(1, 1), (1, 6), (2, 2), (3, 3), (6, 1), (5, 8)])
    @pytest.mark.parametrize("stencil", ["school", "laplace9", "custom"])
    def test_every_cell_and_side_choice_against_a_cell_by_cell_count(self, stencil, shape):
        """The strips equal, bit for bit, a plain loop over each edge cell's neighbours, in the
        same order, for every choice of sides (the strips are computed on the edges only)."""
        import itertools

        from conftest import CUSTOM

        st = get_stencil(CUSTOM if stencil == "custom" else stencil)
        nr, nc = shape
        for sides in itertools.product([False, True], repeat=4):
            d = deficit(st, "school", shape, sides=sides)
            want = np.zeros(shape)
            for i, j in itertools.product(range(nr), range(nc)):
                for di, dj in itertools.product((-1, 0, 1), repeat=2):
                    r, c = i + di, j + dj
                    out = ((sides[0] and r < 0) or (sides[1] and r >= nr)
                           or (sides[2] and c < 0) or (sides[3] and c >= nc))
                    if (di, dj) != (0, 0) and st.weights[di + 1, dj + 1] and out:
                        want[i, j] += st.weights[di + 1, dj + 1]
            if d is None:
                assert not want.any()
                continue
            assert np.array_equal(d.top, want[0]) and np.array_equal(d.bottom, want[-1])
            assert np.array_equal(d.left, want[1:-1, 0])
            assert np.array_equal(d.right, want[1:-1, -1])

    def test_decomposed_block_sides(self):
        """A block with only its top side on the global border corrects only that side."""
        d = deficit(get_stencil("school"), "school", (4, 5), sides=(True, False, False, False))
        f = d.as_field((4, 5))
        assert f[0].tolist() == [3, 3, 3, 3, 3] and f[1:].sum() == 0
