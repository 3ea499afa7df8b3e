"""Sweeps that keep frames, and the descriptors of members whose fate is known."""

import h5py
import numpy as np
import pytest

import grayscott as gs
from grayscott.cli import main
from grayscott.sweep import core, descriptors

pytest.importorskip("numba")

SHAPE = (48, 48)
STEPS = 2000
# (F, k) -> class: V dies out right of the saddle-node line; at low k the other uniform state
# takes the whole grid; (0.035, 0.060) makes spots and stripes.
KNOWN = {(0.01, 0.06): descriptors.DIED_OUT, (0.01, 0.03): descriptors.UNIFORM,
         (0.035, 0.06): descriptors.PATTERNED}


@pytest.fixture(scope="module")
def swept():
    return core.sweep([0.01, 0.035], [0.03, 0.06], STEPS, SHAPE, backend="numba", frames=4)


def test_frames_are_the_single_run_at_their_steps(swept):
    assert list(swept.frame_steps) == [500, 1000, 1500, 2000]
    assert swept.frames.shape == (2, 2, 4, *SHAPE)
    assert np.array_equal(swept.frames[:, :, -1], swept.v)
    sim = gs.Simulation(gs.make_problem(SHAPE, params=gs.Parameters(F=0.035, k=0.06)),
                        backend="numba")
    for t, step in enumerate(swept.frame_steps):
        sim.advance(int(step) - sim.steps_done)
        assert np.array_equal(sim.backend.get_v(), swept.frames[1, 1, t]), step


def test_descriptors_of_known_members(swept):
    d = swept.descriptors
    for (f, k), expected in KNOWN.items():
        i, j = list(swept.feed).index(f), list(swept.kill).index(k)
        assert d["class"][i, j] == expected, (f, k)
        v = swept.v[i, j]
        assert d["coverage"][i, j] == pytest.approx(np.mean(v > descriptors.V_ON))
    died, uniform, patterned = ((list(swept.feed).index(f), list(swept.kill).index(k))
                                for f, k in KNOWN)
    assert d["coverage"][died] == 0 and d["spots"][died] == 0
    assert d["coverage"][uniform] == 1 and d["spots"][uniform] == 1
    assert 0 < d["coverage"][patterned] < 1 and d["spots"][patterned] >= 1
    # the patterned member still moves between the last frames; the dead one does not
    assert d["change"][patterned] > 1e-3 > d["change"][died]


def test_classify_and_spot_count_on_drawn_fields():
    v = np.zeros((20, 20))
    assert descriptors.classify(v) == descriptors.DIED_OUT
    assert descriptors.classify(v + 0.25) == descriptors.UNIFORM
    v[2:5, 2:5] = v[10:14, 10:13] = 0.3
    assert descriptors.classify(v) == descriptors.PATTERNED
    assert descriptors.spot_count(v) == 2
    v[0, 0] = np.nan
    assert descriptors.classify(v) == descriptors.BLEW_UP


def test_spots_cut_by_a_periodic_edge_count_once():
    v = np.zeros((20, 24))
    v[8:11, :2] = v[8:11, -3:] = 0.3  # one spot across the left/right edge
    v[:2, 5:8] = v[-2:, 5:8] = 0.3  # one across the top/bottom edge
    v[:2, :2] = v[:2, -2:] = v[-2:, :2] = v[-2:, -2:] = 0.3  # one in the four corners
    v[12:14, 12:14] = 0.3  # one inside
    assert descriptors.spot_count(v) == 9  # without wrap-around: every piece on its own
    assert descriptors.spot_count(v, periodic=True) == 4
    stripe = np.zeros((10, 10))
    stripe[4:6] = 0.3  # a stripe around the torus: one region either way
    assert descriptors.spot_count(stripe) == descriptors.spot_count(stripe, True) == 1


def test_periodic_sweep_counts_spots_with_wrap_around():
    """The sweep passes its border to the count: a member's count is spot_count's with wrap."""
    pytest.importorskip("scipy")
    r = core.sweep([0.035], [0.06], 1500, (40, 40), backend="numba", border="periodic",
                   initial="noise", seed=2)
    v = r.v[0, 0]
    assert r.descriptors["spots"][0, 0] == descriptors.spot_count(v, periodic=True)
    assert descriptors.spot_count(v, periodic=True) < descriptors.spot_count(v)


def test_cli_frames_descriptors_and_image(tmp_path):
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "s.h5", tmp_path / "s.png"
    code = main(["sweep", "--feed", "0.01:0.035:2", "--kill", "0.03:0.06:2", "-r", "48", "-c",
                 "48", "-s", str(STEPS), "--frames", "4", "-o", str(out), "--image", str(png),
                 "--colour-by", "class", "--lines", "-q"])
    assert code in (0, None)
    with h5py.File(out, "r") as f:  # plain h5py: the documented layout
        assert f["frames"].shape == (2, 2, 4, 48, 48)
        assert list(f["step"][...]) == [500, 1000, 1500, 2000]
        assert np.array_equal(f["frames"][:, :, -1], f["v"][...])
        assert f["class"].attrs["labels"].split(",")[:3] == ["died out", "uniform",
                                                               "patterned"]
        assert f["class"][0, 1] == descriptors.DIED_OUT
        assert f["class"][1, 1] == descriptors.PATTERNED
        assert (f["spots"][...] >= 0).all() and np.isfinite(f["change"][...]).all()
    assert png.stat().st_size > 0


def test_frames_must_divide_steps(tmp_path, capsys):
    code = main(["sweep", "--feed", "0.03", "--kill", "0.06", "-s", "100", "--frames", "3",
                 "-o", str(tmp_path / "s.h5"), "-q"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "--frames 3 must divide --steps 100" in err and "\n" not in err
    assert not (tmp_path / "s.h5").exists()


@pytest.mark.parametrize(("border", "stencil"), [("school", "school"), ("periodic", "school"),
                                                 ("fixed", "laplace9")])
def test_blocked_strategy_is_each_single_run(border, stencil):
    """k steps per pass (k = 6 on 40 rows), steps not a multiple of k, a second call carrying
    on: every member still equals its single run bit for bit."""
    from grayscott.sweep import numba_batch

    assert numba_batch.blocking((42, 35), 4) == 6
    u, v = gs.make_initial("noise", (40, 33), 5)
    pairs = [(0.03, 0.06), (0.04, 0.062), (0.025, 0.055)]
    problem = gs.make_problem((40, 33), border=border, stencil=stencil)
    piece = core._make_piece("numba", u, v, pairs, problem, "blocked")
    piece.advance(61)
    piece.advance(8)
    for (f, k), got in zip(pairs, piece.v(), strict=True):
        sim = gs.Simulation(gs.make_problem((40, 33), params=gs.Parameters(F=f, k=k),
                                            border=border, stencil=stencil),
                            backend="numba", state=(u, v))
        sim.advance(69)
        assert np.array_equal(sim.state[1], got)
