"""The batched (F, k) sweep: every member is its single run, the file, the map, the errors."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import grayscott as gs
from grayscott.cli import main
from grayscott.errors import GrayScottError
from grayscott.sweep import core, parse_range, planning, run_rates, sweep

numba = pytest.importorskip("numba")

FEED, KILL = [0.02, 0.035, 0.06], [0.055, 0.065]
SHAPE, STEPS = (12, 14), 60


def single(F, k, backend="numba", steps=STEPS, shape=SHAPE, **kw):
    """V after ``steps`` of the single run with these rates (what `grayscott run` computes)."""
    border = kw.pop("border", "school")
    dtype = kw.pop("dtype", "float32")
    problem = gs.make_problem(shape, params=gs.Parameters(F=F, k=k), border=border, dtype=dtype)
    sim = gs.Simulation(problem, backend=backend, **kw)
    sim.advance(steps)
    return sim.state[1]


@pytest.mark.parametrize(("spec", "expected"), [
    ("0.02:0.06:3", [0.02, 0.04, 0.06]),
    ("0.06:0.02:3", [0.06, 0.04, 0.02]),
    (" 0.05 ", [0.05]),
    ("0.05:0.05:1", [0.05]),
])
def test_parse_range(spec, expected):
    assert np.allclose(parse_range(spec), expected)


@pytest.mark.parametrize(("spec", "message"), [
    ("0.02:0.06", "must be A:B:N"),
    ("0.02:0.06:3:4", "must be A:B:N"),
    ("a:0.06:3", "must be numbers"),
    ("0.02:0.06:x", "integer >= 1"),
    ("0.02:0.06:0", "integer >= 1"),
    ("0.02:0.06:2.5", "integer >= 1"),
    ("-0.01:0.06:3", "finite and >= 0"),
    ("0.02:nan:3", "finite and >= 0"),
    ("0.02:0.06:1", "needs A = B"),
])
def test_parse_range_errors(spec, message):
    with pytest.raises(GrayScottError, match=message):
        parse_range(spec, "--feed")


@pytest.mark.parametrize("strategy", ["rows", "members", "blocked", "wide"])
@pytest.mark.parametrize("batch", [None, 4])  # 4: two pieces of 4 and 2 members
def test_numba_members_equal_their_single_runs_bit_for_bit(strategy, batch):
    r = sweep(FEED, KILL, STEPS, SHAPE, backend="numba", strategy=strategy, batch=batch)
    assert r.v.shape == (3, 2, *SHAPE) and r.pieces == (1 if batch is None else 2)
    assert r.strategy == strategy
    for i, f in enumerate(FEED):
        for j, k in enumerate(KILL):
            np.testing.assert_array_equal(r.v[i, j], single(f, k))
    assert len({float(np.abs(x).sum()) for x in r.v.reshape(6, -1)}) == 6, "members differ"


@pytest.mark.parametrize(("border", "dtype", "initial"), [("periodic", "float64", "noise"),
                                                          ("fixed", "float32", "school")])
def test_numba_sweep_other_borders_dtypes_initial_states(border, dtype, initial):
    r = sweep(FEED[:2], KILL, 25, SHAPE, backend="numba", border=border, dtype=dtype,
              initial=initial, seed=3)
    assert r.v.dtype == np.dtype(dtype)
    for i, f in enumerate(FEED[:2]):
        for j, k in enumerate(KILL):
            expected = single(f, k, steps=25, border=border, dtype=dtype, initial=initial,
                              seed=3)
            np.testing.assert_array_equal(r.v[i, j], expected)


@pytest.mark.parametrize("strategy", [None, "map"])
def test_jax_batch_members_match_the_single_runs(strategy):
    pytest.importorskip("jax")
    r = sweep(FEED, KILL, STEPS, SHAPE, backend="jax", strategy=strategy)
    assert r.strategy == (strategy or "vmap")
    for i, f in enumerate(FEED):
        for j, k in enumerate(KILL):
            # float32 rounding across backends (same terms, maybe other fusion/order).
            np.testing.assert_allclose(r.v[i, j], single(f, k), atol=1e-5, rtol=0)
            np.testing.assert_allclose(r.v[i, j], single(f, k, backend="jax"), atol=1e-6,
                                       rtol=0)


def test_progress_blocks_give_the_same_bits():
    assert sum(core._progress_blocks(STEPS, True)) == STEPS
    assert len(list(core._progress_blocks(STEPS, True))) > 1

    class Bar:
        n = 0

        def update(self, n):
            self.n += n

    problem = gs.make_problem(SHAPE)
    state = gs.make_initial("school", SHAPE)
    pairs = [(f, k) for f in FEED for k in KILL]
    bar = Bar()
    [(_, blocked)] = list(core.run_pieces(pairs, STEPS, problem, state, "numba", 6, bar=bar))
    [(_, whole)] = list(core.run_pieces(pairs, STEPS, problem, state, "numba", 6))
    assert bar.n == STEPS
    np.testing.assert_array_equal(blocked, whole)


def test_run_rates_any_pairs():
    pairs = [(0.035, 0.06), (0.02, 0.055)]
    v = run_rates(pairs, STEPS, SHAPE, backend="numba")
    for x, (f, k) in zip(v, pairs, strict=True):
        np.testing.assert_array_equal(x, single(f, k))


def test_memory_budget_cuts_pieces_or_refuses():
    per = planning.member_bytes(SHAPE, 4, "numba")
    result = 6 * SHAPE[0] * SHAPE[1] * 4  # the (3, 2, R, C) array handed back
    r = sweep(FEED, KILL, 5, SHAPE, backend="numba", memory_budget=2 * per + result)
    assert (r.batch, r.pieces) == (2, 3)
    with pytest.raises(GrayScottError, match="one member needs"):
        sweep(FEED, KILL, 5, SHAPE, backend="numba", memory_budget=per - 1 + result)
    with pytest.raises(GrayScottError, match="write it to a file"):
        sweep(FEED, KILL, 5, SHAPE, backend="numba", memory_budget=result)


def test_a_huge_plane_is_refused_before_its_members_are_built(monkeypatch):
    """2000 x 2000 members: the rates are checked per axis and the memory refuses the result
    at once (every (F, k) pair built and checked first took ~1 min and a GB for 3000 x 3000)."""
    made = []

    def counted(*args, **kwargs):
        made.append(1)
        if len(made) > 10_000:
            raise AssertionError("a Parameters per member")
        return gs.Parameters(*args, **kwargs)

    monkeypatch.setattr(core, "Parameters", counted)
    with pytest.raises(GrayScottError, match="write it to a file"):
        sweep("0:0.1:2000", "0:0.1:2000", 5, SHAPE, backend="numba", memory_budget=10**9)
    for feed, kill, message in (([0.03], [0.06, -0.1], "k must be >= 0"),
                                ([0.03, np.inf], [0.06], "F must be finite")):
        with pytest.raises(GrayScottError, match=message):  # every rate is still checked
            sweep(feed, kill, 5, SHAPE, backend="numba")


def test_a_sweep_too_big_for_the_disk_says_what_to_reduce(tmp_path, capsys):
    argv = ["sweep", "--feed", "0:0.1:3000", "--kill", "0:0.1:3000", "-s", "1", "-r", "3000",
            "-c", "3000", "-o", str(tmp_path / "s.h5"), "-q"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fewer members" in err and "frames (-n)" not in err, err


def test_default_budget_is_the_memory_the_runs_see(monkeypatch):
    """Half of what grayscott.resources says is available (a cgroup limit included)."""
    from grayscott import resources

    monkeypatch.setattr(resources, "available_memory", lambda: 10**4)
    with pytest.raises(GrayScottError, match="only 0.00 GB may be used"):
        sweep(FEED, KILL, 5, SHAPE, backend="numba")


def test_a_given_state_of_the_wrong_shape_is_one_error():
    u, v = gs.make_initial("school", SHAPE)
    for call in (lambda st: sweep(FEED, KILL, 5, SHAPE, backend="numba", state=st),
                 lambda st: run_rates([(0.03, 0.06)], 5, SHAPE, backend="numba", state=st)):
        with pytest.raises(GrayScottError, match=r"got \(12, 14\) and \(12, 13\)"):
            call((u, v[:, :-1]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_given_state_that_is_not_finite_is_refused_as_a_single_run_refuses_it(bad):
    u, v = gs.make_initial("school", SHAPE)
    u[3, 4] = bad
    with pytest.raises(GrayScottError, match="NaN or infinite") as single:
        gs.Simulation(gs.make_problem(SHAPE), backend="numba", state=(u, v))
    for call in (lambda st: sweep(FEED, KILL, 5, SHAPE, backend="numba", state=st),
                 lambda st: run_rates([(0.03, 0.06)], 5, SHAPE, backend="numba", state=st)):
        with pytest.raises(GrayScottError, match="NaN or infinite") as batched:
            call((v, u))
        assert str(batched.value) == str(single.value)


def test_pieces_written_to_the_file_are_the_same(tmp_path):
    whole = sweep(FEED, KILL, STEPS, SHAPE, backend="numba").v
    r = sweep(FEED, KILL, STEPS, SHAPE, backend="numba", batch=4, output=tmp_path / "p.h5")
    assert r.v is None and r.pieces == 2
    with h5py.File(tmp_path / "p.h5") as f:
        np.testing.assert_array_equal(f["v"][...], whole)
        assert f.attrs["pieces"] == 2 and f.attrs["batch"] == 4


def test_issue_command_file_layout_members_and_map(tmp_path, capsys):
    out, png = tmp_path / "sweep.h5", tmp_path / "sweep.png"
    code = main(["sweep", "--feed", "0.02:0.06:3", "--kill", "0.055:0.065:2", "-r", "48", "-c",
                 "48", "--steps", "256", "-o", str(out), "--image", str(png), "-b", "numba"])
    assert code == 0, capsys.readouterr().err
    with h5py.File(out) as f:
        v = f["v"][...]
        assert v.shape == (3, 2, 48, 48) and v.dtype == np.float32
        assert np.allclose(f["feed"][...], [0.02, 0.04, 0.06])
        assert np.allclose(f["kill"][...], [0.055, 0.065])
        assert [d[0].name for d in f["v"].dims] == ["/feed", "/kill", "/row", "/col"]
        a = f.attrs
        assert a["steps"] == 256 and a["backend"] == "numba" and f["completed"][()] == 1
        assert a["Du"] == 0.1 and a["initial"] == "school" and "numba_version" in a
        assert "F" not in a and "k" not in a
    # Each member is `grayscott run -n 1 -e 256 -f F -k K` on the same Numba family.
    for i, f in enumerate([0.02, 0.04, 0.06]):
        for j, k in enumerate([0.055, 0.065]):
            one = tmp_path / f"run{i}{j}.h5"
            assert main(["run", "-n", "1", "-e", "256", "-r", "48", "-c", "48", "-f", str(f),
                         "-k", str(k), "-b", "numba", "-q", "-o", str(one)]) == 0
            with h5py.File(one) as g:
                np.testing.assert_array_equal(v[i, j], g["matrix"][0])
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_map_read_decimated_is_not_decimated_again(tmp_path):
    """7 tiles of 857 rows: one decimation by 2 gives 7 x 429 = 3003 rows, over the limit by
    the rounding, and the mosaic halved them once more (215 rows a tile)."""
    from grayscott.sweep.image import MAX_PIXELS, mosaic, read_for_map

    path = tmp_path / "s.h5"
    with h5py.File(path, "w") as f:
        f["v"] = np.zeros((7, 1, 857, 4), np.float32)
        f["feed"], f["kill"] = np.linspace(0.01, 0.07, 7), [0.06]
    v, _, _ = read_for_map(path)
    assert 7 * v.shape[2] <= MAX_PIXELS and v.shape[2] >= 857 // 3
    assert mosaic(v).shape == (7 * (v.shape[2] + 1) - 1, v.shape[3])
    # More members than pixels: one pixel a tile, and no endless search for a smaller factor.
    assert mosaic(np.zeros((5, 1, 4, 4)), max_pixels=3).shape == (9, 1)


def test_map_is_labelled_with_the_rates():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from grayscott.sweep import draw_map
    from grayscott.sweep.image import mosaic

    v = np.zeros((3, 2, 4, 5), np.float32)
    v[2, 0] = 1.0  # highest F, lowest k: top-left tile
    m = mosaic(v)
    assert m.shape == (3 * 5 - 1, 2 * 6 - 1)
    assert (m[:4, :5] == 1).all() and np.isnan(m[4, 0])
    ax = draw_map(v, np.array([0.02, 0.04, 0.06]), np.array([0.055, 0.065]))
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0.02", "0.04", "0.06"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.055", "0.065"]
    assert "F" in ax.get_ylabel() and "k" in ax.get_xlabel()


@pytest.mark.parametrize(("args", "message"), [
    (["--feed", "0.02:0.06"], "--feed '0.02:0.06' must be A:B:N"),
    (["--kill", "x:1:2"], "--kill 'x:1:2': A and B must be numbers"),
    (["--steps", "-1"], "steps must be an integer >= 0"),
    (["-r", "2"], "at least 3x3"),
    (["-b", "numpy"], "numpy"),
    (["--batch", "0"], "batch"),
    (["-t", "3"], "unstable"),
    (["--threads", "100000"], "threads can be 1 to"),
])
def test_sweep_errors_are_one_line_exit_2(tmp_path, capsys, args, message):
    out = tmp_path / "s.h5"
    base = {"--feed": "0.02:0.06:2", "--kill": "0.06", "--steps": "5", "-r": "8", "-c": "8"}
    for key, value in zip(args[::2], args[1::2], strict=True):
        base[key] = value
    argv = ["sweep", *[x for kv in base.items() for x in kv], "-o", str(out), "-q"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_image_naming_the_output_another_way_is_refused(tmp_path, monkeypatch, capsys):
    """--image ./s.h5 -o s.h5 --overwrite would draw the PNG over the sweep's file."""
    monkeypatch.chdir(tmp_path)
    argv = ["sweep", "--feed", "0.03", "--kill", "0.06", "--steps", "3", "-r", "8", "-c", "8",
            "-o", "s.h5", "--image", "./s.h5", "--overwrite", "-q"]
    assert main(argv) == 2
    assert "--image must differ from --output" in capsys.readouterr().err
    assert not (tmp_path / "s.h5").exists()


def test_existing_output_is_refused_then_overwritten(tmp_path, capsys):
    out = tmp_path / "s.h5"
    out.write_bytes(b"keep")
    argv = ["sweep", "--feed", "0.03", "--kill", "0.06", "--steps", "3", "-r", "8", "-c", "8",
            "-o", str(out), "-q"]
    assert main(argv) == 2 and out.read_bytes() == b"keep"
    assert main([*argv, "--overwrite"]) == 0
    with h5py.File(out) as f:
        assert f["v"].shape == (1, 1, 8, 8)
