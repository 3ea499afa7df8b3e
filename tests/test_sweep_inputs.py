"""Bad sweep input is refused in one line before any member runs; `grayscott info` reads
sweep files and names a run's preset."""

from __future__ import annotations

import json

import pytest

from grayscott.cli import main

pytest.importorskip("matplotlib")


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_image_type_matplotlib_cannot_write_is_refused_before_the_sweep(tmp_path, capsys):
    out = tmp_path / "s.h5"
    code, _, err = cli(capsys, "sweep", "--feed", "0.02:0.06:2", "--kill", "0.06", "--steps", 5,
                       "-r", 16, "-c", 16, "-o", out, "--image", tmp_path / "x.xyz", "-q")
    assert code == 2 and err.count("\n") == 1, err
    assert "not an image type" in err and ".png" in err
    assert not out.exists()  # refused before the sweep ran
    code, _, err = cli(capsys, "sweep", "--feed", "0.02:0.06:2", "--kill", "0.06", "--steps", 5,
                       "-r", 16, "-c", 16, "-o", out, "--image", tmp_path / "map.png", "-q")
    assert code == 0, err
    assert (tmp_path / "map.png").exists()


def test_info_reads_a_sweep_file(tmp_path, capsys):
    out = tmp_path / "s.h5"
    code, _, err = cli(capsys, "sweep", "--feed", "0.02:0.06:3", "--kill", "0.06:0.062:2",
                       "--steps", 7, "-r", 16, "-c", 16, "-o", out, "-q")
    assert code == 0, err
    code, text, err = cli(capsys, "info", out)
    assert code == 0, err
    assert "grayscott sweep, v 3 x 2 x 16 x 16" in text
    assert "feed F     0.02 .. 0.06 (3 values)" in text and "0.06 .. 0.062 (2 values)" in text
    assert "16x16 float32, 7 steps" in text and "6 of 6 done" in text
    assert "status     completed" in text
    code, text, err = cli(capsys, "info", out, "--json")
    info = json.loads(text)
    assert info["kind"] == "sweep" and info["members_done"] == 6 and info["v_shape"] == [
        3, 2, 16, 16]


def test_info_shows_the_preset_of_a_run(tmp_path, capsys):
    out = tmp_path / "r.h5"
    code, _, err = cli(capsys, "run", "--preset", "coral", "-r", 16, "-c", 16, "-n", 1, "-e", 2,
                       "-b", "numpy", "-o", out, "-q")
    assert code == 0, err
    code, text, err = cli(capsys, "info", out)
    assert code == 0 and "F=0.0545 k=0.062 dt=1 (preset coral)" in text, (text, err)
    plain = tmp_path / "p.h5"
    cli(capsys, "run", "-r", 16, "-c", 16, "-n", 1, "-e", 2, "-b", "numpy", "-o", plain, "-q")
    code, text, err = cli(capsys, "info", plain)
    assert code == 0 and "(preset" not in text, text


@pytest.mark.parametrize(("pairs", "message"), [
    ([], "pairs is empty"),
    ((), "pairs is empty"),
    ([(0.03,)], r"pair 0 of pairs, \(0.03,\), must be two numbers"),
    ([(0.03, 0.06), (0.03, 0.06, 1.0)], "pair 1 of pairs"),
    ([0.03, 0.06], "pair 0 of pairs, 0.03, must be two numbers"),
    ([("a", "b")], "must be two numbers"),
    (["ab"], "must be two numbers"),
    ("0.03,0.06", "must be a sequence of"),
    (None, "must be a sequence of"),
    ([(0.03, -0.06)], "k must be >= 0"),
])
def test_run_rates_refuses_malformed_rate_lists_in_one_line(pairs, message):
    from grayscott.errors import GrayScottError
    from grayscott.sweep import run_rates

    with pytest.raises(GrayScottError, match=message) as info:
        run_rates(pairs, 5, (16, 16), backend="numba")
    assert "\n" not in str(info.value)


def test_what_does_not_fit_in_memory_says_what_to_reduce_with_the_numbers():
    from grayscott.errors import GrayScottError
    from grayscott.sweep import sweep

    pytest.importorskip("numba")
    # 4,000,000 members of 64 x 64 kept in memory: fewer members (9759 fit in 1 GB) or a grid
    with pytest.raises(GrayScottError, match=r"at most 9759 members of this grid fit, so sweep "
                       r"fewer members \(now 4000000\) or a smaller grid"):
        sweep("0:0.1:2000", "0:0.1:2000", 5, (64, 64), backend="numba", memory_budget=10**9)
    # one member alone is too big: only the grid can shrink
    with pytest.raises(GrayScottError, match="not one member of this grid fits .* use a smaller"):
        sweep("0:0.1:2", "0:0.1:2", 5, (8000, 8000), backend="numba", memory_budget=10**8)
    with pytest.raises(GrayScottError, match=r"one member needs 1.02 GB and only 0.10 GB may "
                       r"be used; use a smaller grid \(at most about 10% of its cells\)"):
        from grayscott.sweep.planning import plan_pieces

        plan_pieces(4, 1_024_000_000, 10**8, None)


def test_a_grid_too_big_for_one_member_is_refused_before_anything_is_allocated(tmp_path,
                                                                              capsys,
                                                                              monkeypatch):
    import shutil
    from collections import namedtuple

    # A disk with room for the file, whatever this machine has free: the memory is refused.
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(1 << 50, 0, 1 << 50))
    out = tmp_path / "big.h5"
    code, _, err = cli(capsys, "sweep", "--feed", "0.02:0.06:2", "--kill", "0.06", "-s", 1,
                       "-r", 100000, "-c", 100000, "-o", out, "-q")
    assert code == 2 and err.count("\n") == 1, err
    assert "one member needs 200.01 GB" in err and "use a smaller grid" in err, err
    assert not out.exists()


def test_a_reversed_range_is_kept_in_order_and_the_map_labels_it():
    """The choice: accepted, in the order given; every row of the map is labelled with its own
    rate, so with a reversed --feed F decreases upwards."""
    import numpy as np

    from grayscott.sweep import draw_map, parse_range, sweep

    pytest.importorskip("numba")
    feed = parse_range("0.06:0.02:3", "--feed")
    np.testing.assert_allclose(feed, [0.06, 0.04, 0.02])
    r = sweep(feed, [0.062, 0.060], 20, (16, 16), backend="numba")
    same = sweep([0.02], [0.060], 20, (16, 16), backend="numba")
    np.testing.assert_array_equal(r.v[2, 1], same.v[0, 0])  # the member of F = 0.02 is last
    ax = draw_map(r.v, r.feed, r.kill)
    rows = [t.get_text() for t in ax.get_yticklabels()]
    cols = [t.get_text() for t in ax.get_xticklabels()]
    assert rows == ["0.06", "0.04", "0.02"] and cols == ["0.062", "0.06"], (rows, cols)
    # member 0 is drawn at the bottom (row index n - 1 of the image), where the 0.06 tick is
    assert ax.get_yticks()[0] < ax.get_yticks()[-1]
    import matplotlib.pyplot as plt

    plt.close(ax.figure)
