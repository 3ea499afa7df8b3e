"""`grayscott run --map`: one simulation over the (F, k) plane, written and resumed."""

import h5py
import numpy as np
import pytest

import grayscott as gs
from grayscott import backends
from grayscott.cli import main
from grayscott.physics import RateMap, make_problem
from grayscott.plans import problem_from_attrs

pytest.importorskip("numba")

SPEC = "0.01:0.07,0.045:0.07"
ARGS = ["-r", "30", "-c", "40", "-e", "25", "-q"]


def _expected(frames, name="numba"):
    rmap = RateMap.linear(0.01, 0.07, 0.045, 0.07, (30, 40))
    be = backends.create(name, make_problem((30, 40), rate_map=rmap))
    be.set_state(*gs.make_initial("school", (30, 40)))
    out = []
    for _ in range(frames):
        be.advance(25)
        out.append(be.get_v())
    return np.stack(out)


def test_map_run_writes_frames_and_records_the_map(tmp_path):
    out = tmp_path / "map.h5"
    assert main(["run", "--map", SPEC, "-n", "4", "-b", "numba", "-o", str(out), *ARGS]) in (
        0, None)
    with h5py.File(out, "r") as f:
        assert f.attrs["map"] == "0.01:0.07,0.045:0.07"
        assert np.array_equal(f["matrix"][...], _expected(4))
        problem = problem_from_attrs(f.attrs)
    assert problem.rate_map == RateMap.linear(0.01, 0.07, 0.045, 0.07, (30, 40))


def test_map_run_is_the_same_bits_on_every_backend_that_takes_it(tmp_path):
    files = {}
    for name in ("numpy-school", "numba", "numba-parallel"):
        files[name] = tmp_path / f"{name}.h5"
        main(["run", "--map", SPEC, "-n", "2", "-b", name, "-o", str(files[name]), *ARGS])
    frames = {name: h5py.File(p, "r")["matrix"][...] for name, p in files.items()}
    assert all(np.array_equal(frames["numba"], x) for x in frames.values())
    assert np.array_equal(frames["numba"], _expected(2))


def test_map_run_resumes_bit_for_bit(tmp_path):
    whole, part = tmp_path / "whole.h5", tmp_path / "part.h5"
    main(["run", "--map", SPEC, "-n", "4", "-b", "numba", "-o", str(whole), *ARGS])
    main(["run", "--map", SPEC, "-n", "2", "-b", "numba", "-o", str(part),
          "--checkpoint-every", "1", *ARGS])
    assert main(["resume", "-n", "4", "-q", str(part)]) in (0, None)
    with h5py.File(whole, "r") as a, h5py.File(part, "r") as b:
        assert np.array_equal(a["matrix"][...], b["matrix"][...])
        assert b.attrs["map"] == a.attrs["map"]


def test_map_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "m.h5"
    if "jax" in backends.available():
        assert main(["run", "--map", SPEC, "-n", "1", "-b", "jax", "-o", str(out), *ARGS]) == 2
        err = capsys.readouterr().err.strip()
        assert "does not take a rate map" in err and "\n" not in err
    assert main(["run", "--map", "0.01:0.07", "-n", "1", "-o", str(out), *ARGS]) == 2
    assert "--map" in capsys.readouterr().err
    assert not out.exists()


def test_map_image_with_lines(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from grayscott.sweep import draw_rate_map, read_rate_map

    out = tmp_path / "map.h5"
    main(["run", "--map", SPEC, "-n", "1", "-o", str(out), *ARGS])
    v, feed, kill = read_rate_map(out)
    assert v.shape == (30, 40) and feed[0] == 0.01 and kill[-1] == 0.07
    ax = draw_rate_map(v, feed, kill, lines=True)
    assert [line.get_label() for line in ax.get_lines()] == ["saddle-node", "Hopf"]
    plt.close(ax.figure)


def test_map_command_draws_a_frame_with_the_lines(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "map.h5", tmp_path / "map.png"
    main(["run", "--map", SPEC, "-n", "2", "-o", str(out), *ARGS])
    assert main(["map", str(out), "-o", str(png), "--lines", "--frame", "0"]) in (0, None)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert main(["map", str(out), "-o", str(png)]) == 2  # exists: --overwrite
    assert main(["map", str(out), "-o", str(tmp_path / "m.xyz")]) == 2  # no such image type
    assert main(["map", str(out), "-o", str(tmp_path / "m2.png"), "--frame", "2"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and "holds 2 frame(s) written" in errors[-1]
    plain = tmp_path / "plain.h5"
    main(["run", "-n", "1", "-o", str(plain), *ARGS])
    assert main(["map", str(plain), "-o", str(tmp_path / "p.png")]) == 2
    assert "not a map run" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["matrix", "step", "frames_written", "status", "map", "nbrow",
                                  "nbextrastep"])
@pytest.mark.parametrize("value", [None, "x", -1, 2**62, np.nan, np.zeros((2, 2))])
def test_map_command_on_a_damaged_map_file_is_one_line(tmp_path, capsys, name, value):
    pytest.importorskip("matplotlib")
    import h5py

    out = tmp_path / "map.h5"
    main(["run", "--map", SPEC, "-n", "2", "-o", str(out), *ARGS])
    with h5py.File(out, "r+") as f:
        where = f.attrs if name in f.attrs else f
        if name in where:
            del where[name]
        if value is not None:
            where[name] = value
    capsys.readouterr()
    code = main(["map", str(out), "-o", str(tmp_path / "m.png")])
    err = capsys.readouterr().err
    assert code in (0, None, 2) and "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("grayscott: error:")]
    assert len(errors) == (1 if code == 2 else 0), err


def test_map_command_refuses_an_unknown_colour_map_before_drawing(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "map.h5", tmp_path / "map.png"
    main(["run", "--map", SPEC, "-n", "1", "-o", str(out), *ARGS])
    capsys.readouterr()
    for name in ("nosuch", ""):
        assert main(["map", str(out), "-o", str(png), "--cmap", name]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "unknown colour map" in err, err
    assert not png.exists()
    assert main(["map", str(out), "-o", str(png), "--cmap", "viridis_r"]) in (0, None)


@pytest.mark.parametrize("constant", ["feed", "kill", "both"])
def test_a_map_with_one_rate_on_an_axis_draws_its_cells(constant):
    """A map of "0.05:0.05" on one axis: the image gets a width, not a zero-width extent that
    draws nothing (matplotlib warns of a singular transformation)."""
    pytest.importorskip("matplotlib")
    import warnings

    import matplotlib.pyplot as plt

    from grayscott.sweep.image import draw_rate_map

    feed, kill = np.linspace(0.01, 0.04, 4), np.linspace(0.05, 0.06, 3)
    if constant in ("feed", "both"):
        feed = np.full(4, 0.03)
    if constant in ("kill", "both"):
        kill = np.full(3, 0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = draw_rate_map(np.arange(12.0).reshape(4, 3), feed, kill)
    x0, x1, y0, y1 = ax.get_images()[0].get_extent()
    assert x0 < kill[0] <= kill[-1] < x1 and y0 < feed[0] <= feed[-1] < y1
    plt.close(ax.figure)
