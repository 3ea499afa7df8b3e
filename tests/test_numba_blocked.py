"""``numba-blocked``: temporal blocking must give ``numba``'s bits, whatever k, bands, threads.

The generic backend tests (test_backends.py) already run it against the float64 reference;
here: bit-for-bit agreement with ``numba`` on every stencil x border x dtype with step counts
that do not fall into whole passes, grids shorter than the halo, the specialised row loops
against the generic one, the k/band model, the options and what is reported.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import (
    ALL_STENCILS,
    CUSTOM,
    assert_bits_equal,
    noisy_state,
    run_backend,
    small_problem,
)
from grayscott import backends
from grayscott.errors import GrayScottError
from grayscott.physics import BORDERS, DTYPES, STENCILS

# (blocking, bands, threads): one band, bands > threads, k > rows, k = 1 (a plain step).
LAYOUTS = [(3, 1, 1), (4, 3, 2), (16, 2, 2), (1, 2, 2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("stencil", ALL_STENCILS, ids=[*STENCILS, "custom"])
def test_bitwise_equal_to_numba(numba, stencil, border, dtype):
    """11 steps as 4 + 0 + 7: passes of k and a shorter last one, across calls."""
    problem = small_problem((13, 11), stencil=stencil, border=border, dtype=dtype)
    u, v = noisy_state(problem.shape, seed=7)
    expected = run_backend("numba", problem, u, v, [11])
    most = numba.config.NUMBA_NUM_THREADS
    for k, bands, threads in LAYOUTS:
        got = run_backend("numba-blocked", problem, u, v, [4, 0, 7], blocking=k, bands=bands,
                          threads=min(threads, most))
        assert_bits_equal(got, expected)


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("shape", [(3, 5), (40, 6)], ids=["3-rows", "40-rows"])
def test_short_and_tall_grids(numba, border, shape):
    """3 rows (smaller than every halo: periodic rows wrap several times), and many bands of a
    few rows each on a taller grid, with a k that does not divide the steps."""
    problem = small_problem(shape, stencil="laplace9", border=border, dtype="float64")
    u, v = noisy_state(problem.shape, seed=11)
    expected = run_backend("numba", problem, u, v, [23])
    for k, bands in ((5, 1), (7, 6), (2, 40)):
        got = run_backend("numba-blocked", problem, u, v, [23], blocking=k, bands=bands)
        assert_bits_equal(got, expected)


def test_the_school_initial_state_at_a_realistic_width(numba):
    """The default setup (school stencil and border, float32) on rows as wide as a
    frame's, many steps: the fronts and zero regions of a real run, not just noise."""
    from grayscott.physics import make_initial, make_problem

    problem = make_problem((24, 300))
    u, v = make_initial("school", problem.shape)
    expected = run_backend("numba", problem, u, v, [150])
    got = run_backend("numba-blocked", problem, u, v, [150])
    assert_bits_equal(got, expected)
    assert np.any(got[1] != v)  # something happened


# -- the specialised row loops ---------------------------------------------------------------


def _rows(dtype, special):
    rng = np.random.default_rng(0)
    rows = [rng.uniform(-1, 1, 37).astype(dtype) for _ in range(6)]
    if special:  # values where x * 1 == x must still hold bit for bit, and 0 * x is not 0
        for r in rows:
            r[[3, 9, 20]] = [-0.0, np.inf, np.nan]
    return rows


@pytest.mark.parametrize("dt", [0.9, 1.0])
@pytest.mark.parametrize("special", [False, True], ids=["finite", "inf-nan-negzero"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stencil", ["school", "laplace5", "laplace9"])
def test_specialised_loops_equal_the_generic_loop(numba, stencil, dtype, special, dt):
    """Every loop row_kind picks (unit weights, unit dt) gives the generic loop's bits."""
    from grayscott.backends import numba_kernels as K
    from grayscott.physics import get_stencil

    w = np.array(get_stencil(stencil).weights.ravel(), dtype=dtype)
    c = K.constants(0.16, 0.08, 0.035, 0.06, dt, dtype)
    kind = K.row_kind(w, c)
    base = {"school": K.ONES, "laplace5": K.CROSS, "laplace9": K.GENERIC}[stencil]
    assert kind == base + (K.UNIT_DT if dt == 1 else 0)
    rows = _rows(dtype, special)
    out = []
    for k in (kind, K.GENERIC):
        uo, vo = np.zeros(37, dtype), np.zeros(37, dtype)
        K.row_lines(*rows, uo, vo, w, c, k)
        out.append((uo, vo))
    assert_bits_equal(*out)


def test_stencil_kind(numba):
    from grayscott.backends import numba_kernels as K
    from grayscott.physics import get_stencil

    kinds = {name: K.stencil_kind(np.array(get_stencil(name).weights.ravel(), np.float32))
             for name in STENCILS}
    assert kinds == {"school": K.ONES, "laplace5": K.CROSS, "laplace9": K.GENERIC}
    assert K.stencil_kind(CUSTOM.ravel().astype(np.float64)) == K.GENERIC
    almost = np.ones(9)
    almost[4], almost[8] = -8, 1 + 2 ** -40
    assert K.stencil_kind(almost) == K.GENERIC


# -- choosing k and the bands ----------------------------------------------------------------


def test_model_fits_rings_in_l2_and_halos_in_bands(numba):
    from grayscott.backends import numba_blocked as B

    wide = B.choose_blocking((1080, 1920), 4, 2, l2=2 << 20)
    assert wide["bands"] == 2
    assert 2 <= wide["blocking"] <= B.K_MAX
    assert wide["ring_bytes_per_thread"] <= B.RING_L2_SHARE * (2 << 20)
    # A smaller L2 or wider rows: fewer levels fit.
    small = B.choose_blocking((1080, 1920), 4, 2, l2=256 << 10)
    assert small["blocking"] < wide["blocking"]
    assert small["ring_bytes_per_thread"] <= B.RING_L2_SHARE * (256 << 10)
    assert B.choose_blocking((1080, 1920), 8, 2, l2=256 << 10)["blocking"] <= small["blocking"]
    # No room for even two levels: k = 1 (a plain step per pass).
    assert B.choose_blocking((100, 100_000), 8, 2, l2=256 << 10)["blocking"] == 1
    # A short grid: the halo must stay small beside each band.
    short = B.choose_blocking((20, 64), 4, 2, l2=2 << 20)
    assert B.BAND_HALO_RATIO * 2 * (short["blocking"] - 1) <= 20 // short["bands"]
    assert B.choose_blocking((2000, 64), 4, 16, l2=2 << 20)["bands"] == 16
    assert B.choose_blocking((5, 64), 4, 16, l2=2 << 20)["bands"] == 5


def test_band_starts_cover_the_rows_once(numba):
    from grayscott.backends import numba_blocked as B

    for nrow, bands in ((10, 3), (7, 7), (1080, 2), (5, 1)):
        s = B.band_starts(nrow, bands)
        assert s[0] == 1 and s[-1] == nrow + 1 and len(s) == bands + 1
        assert np.all(np.diff(s) >= 1) and np.diff(s).max() - np.diff(s).min() <= 1


def test_options_and_provenance(numba):
    problem = small_problem((30, 20))
    auto = backends.create("numba-blocked", problem)
    prov = auto.provenance
    assert prov["blocking_chosen_by"] == "model" and prov["bands_chosen_by"] == "model"
    assert prov["blocking"] == auto.k >= 1 and prov["bands"] == auto.bands >= 1
    assert auto.threads == numba.config.NUMBA_NUM_THREADS
    mine = backends.create("numba-blocked", problem, blocking=5, bands=3, threads=1)
    assert (mine.k, mine.bands, mine.threads) == (5, 3, 1)
    assert mine.provenance["blocking_chosen_by"] == "user"
    assert mine.describe() == "k=5, 3 bands (given)"
    assert "MiB L2" in auto.describe()
    assert backends.create("numba-blocked", problem, bands=99).bands == 30  # one row each
    for key, bad in (("blocking", 0), ("blocking", 1.5), ("blocking", 10**6), ("bands", 0),
                     ("bands", True)):
        with pytest.raises(GrayScottError, match=key):
            backends.create("numba-blocked", problem, **{key: bad})
    assert not backends.capabilities("numba-blocked").decomposable
    with pytest.raises(GrayScottError, match="GiB of ring buffers"):
        backends.create("numba-blocked", small_problem((200, 5000)), blocking=256, bands=200)


# -- the command line and the run file -------------------------------------------------------


def test_cli_blocking_is_recorded_and_frames_equal_numba(numba, tmp_path, capsys):
    """5 steps between frames with k = 3: every frame is a pass of 3 and one of 2."""
    import h5py

    from grayscott.cli import main

    args = ["run", "-n", "3", "-e", "5", "-r", "12", "-c", "16", "-q"]
    assert main([*args, "--backend", "numba", "-o", str(tmp_path / "ref.h5")]) == 0
    assert main([*args, "--backend", "numba-blocked", "--blocking", "3",
                 "-o", str(tmp_path / "blk.h5")]) == 0
    with h5py.File(tmp_path / "ref.h5") as ref, h5py.File(tmp_path / "blk.h5") as blk:
        assert blk.attrs["backend_blocking"] == 3
        assert blk.attrs["backend_blocking_chosen_by"] == "user"
        assert blk.attrs["backend_bands_chosen_by"] == "model"
        assert blk["matrix"].shape == (3, 12, 16)
        np.testing.assert_array_equal(blk["matrix"][...], ref["matrix"][...])
    capsys.readouterr()
    assert main([*args, "--backend", "numba-parallel", "--blocking", "3",
                 "-o", str(tmp_path / "bad.h5")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "blocking" in err and "numba-blocked" in err
    assert not (tmp_path / "bad.h5").exists()


def test_default_backend_and_the_decomposable_one(numba):
    """numba-blocked is the default; MPI, which splits the grid, falls back to the first
    default that can advance one block (numba-blocked needs a k-row halo, not a ghost ring)."""
    assert backends.default_backend() == "numba-blocked"
    split = backends.default_backend(decomposable=True)
    assert split != "numba-blocked" and backends.capabilities(split).decomposable


# -- tuning k on this machine ----------------------------------------------------------------


class Measured:
    """A stand-in for the timing: given rates, and a count of the calls."""

    def __init__(self, rates, band_rows):
        self.rates, self.band_rows, self.calls = rates, band_rows, 0

    def __call__(self, candidates):
        self.calls += 1
        return {k: self.rates[k] for k in candidates}, self.band_rows


def test_tuning_keeps_the_fastest_and_measures_once(numba, tmp_path, monkeypatch):
    from grayscott.backends import numba_blocked as B
    from grayscott.backends import tuning

    monkeypatch.setenv("GRAYSCOTT_CACHE_DIR", str(tmp_path))
    measure = Measured({1: 1.0, 2: 3.0, 4: 2.0}, 100)
    first = B.tune_blocking("key", [1, 2, 4], 100, measure)
    assert (first["blocking"], first["cached"], measure.calls) == (2, False, 1)
    again = B.tune_blocking("key", [1, 2, 4], 100, measure)
    assert (again["blocking"], again["cached"], measure.calls) == (2, True, 1)
    assert tuning.load("key")["rates"] == {"1": 1.0, "2": 3.0, "4": 2.0}
    # Another key is another measurement; a candidate the cache lacks is measured too.
    assert B.tune_blocking("other", [1, 2], 100, measure)["cached"] is False
    measure.rates[8] = 9.0
    more = B.tune_blocking("key", [1, 2, 4, 8], 100, measure)
    assert (more["blocking"], more["cached"], measure.calls) == (8, False, 3)


def test_tuning_scales_strip_rates_to_the_grid_band_height(numba, tmp_path, monkeypatch):
    """Timed on bands of 100 rows, k = 8 computes 7 % more rows than it keeps; on bands of
    1000 rows, 0.7 %: its rate there is higher, enough to beat k = 2 here."""
    from grayscott.backends import numba_blocked as B

    monkeypatch.setenv("GRAYSCOTT_CACHE_DIR", str(tmp_path))
    measure = Measured({2: 1.0, 8: 0.97}, 100)
    assert B.tune_blocking("a", [2, 8], 100, measure)["blocking"] == 2
    tall = B.tune_blocking("a", [2, 8], 1000, measure)
    assert tall["blocking"] == 8
    assert tall["predicted_rates"][8] == pytest.approx(0.97 * 1.07 / 1.007)


def test_a_damaged_or_unwritable_cache_costs_a_measurement_not_the_run(numba, tmp_path,
                                                                        monkeypatch):
    from grayscott.backends import numba_blocked as B
    from grayscott.backends import tuning

    monkeypatch.setenv("GRAYSCOTT_CACHE_DIR", str(tmp_path))
    measure = Measured({1: 1.0, 2: 3.0}, 50)
    B.tune_blocking("key", [1, 2], 50, measure)
    for damage in ("{not json", '{"version": 1, "entries": {"key": {"rates": 3}}}',
                   '{"version": 1, "entries": []}', '{"version": 999, "entries": {}}'):
        tuning.cache_path().write_text(damage)
        calls = measure.calls
        assert B.tune_blocking("key", [1, 2], 50, measure)["blocking"] == 2
        assert measure.calls == calls + 1
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("GRAYSCOTT_CACHE_DIR", str(blocker / "sub"))  # cannot be a directory
    assert B.tune_blocking("key", [1, 2], 50, measure)["blocking"] == 2
    assert tuning.store("key", {}) is False


def test_tune_rows_stay_out_of_cache_when_the_grid_is(numba):
    from grayscott.backends import numba_blocked as B

    llc = 1 << 20
    assert B.tune_rows((500, 100), 4, llc) == 500  # fits: the whole grid
    assert B.tune_rows((500, 100), 4, None) == 500
    rows = B.tune_rows((10_000, 1000), 4, llc)
    per_row = 4 * 1002 * 4
    assert rows * per_row >= B.TUNE_CACHE_FACTOR * llc > (rows - 1) * per_row


def test_backend_tunes_on_its_own_buffers_then_runs_bit_for_bit(numba, tmp_path,
                                                                 monkeypatch):
    """tune=True on a small grid: the real timing path. The buffers it scribbled on do not
    leak into the run, and the second backend takes k from the cache."""
    monkeypatch.setenv("GRAYSCOTT_CACHE_DIR", str(tmp_path))
    problem = small_problem((48, 40), border="school")
    u, v = noisy_state(problem.shape)
    tuned = backends.create("numba-blocked", problem, tune=True)
    prov = tuned.provenance
    assert prov["blocking_chosen_by"] == "autotune"
    assert f"k={tuned.k}:" in prov["tune_mcells_per_k"] and prov["tune_cache"]
    assert "autotuned;" in tuned.describe()
    tuned.set_state(u, v)
    tuned.advance(7)
    assert_bits_equal(tuned.get_state(), run_backend("numba", problem, u, v, [7]))
    again = backends.create("numba-blocked", problem, tune=True)
    assert again.provenance["blocking_chosen_by"] == "autotune (cached)" and again.k == tuned.k
    assert "autotuned, cached" in again.describe()


def test_who_chooses_k(numba, tmp_path, monkeypatch):
    from grayscott.backends import numba_blocked as B

    monkeypatch.setenv("GRAYSCOTT_CACHE_DIR", str(tmp_path))
    small = small_problem((30, 20))
    big = small_problem((1024, B.TUNE_MIN_CELLS // 1024))
    assert backends.create("numba-blocked", small).provenance["blocking_chosen_by"] == "model"
    assert backends.create("numba-blocked", big, tune=False).provenance[
        "blocking_chosen_by"] == "model"
    monkeypatch.setenv("GRAYSCOTT_AUTOTUNE", "0")
    assert backends.create("numba-blocked", big).provenance["blocking_chosen_by"] == "model"
    monkeypatch.delenv("GRAYSCOTT_AUTOTUNE")
    assert backends.create("numba-blocked", big).provenance["blocking_chosen_by"] == "autotune"
    assert backends.create("numba-blocked", big, blocking=3).provenance[
        "blocking_chosen_by"] == "user"
    with pytest.raises(GrayScottError, match="tune"):
        backends.create("numba-blocked", small, tune="yes")
