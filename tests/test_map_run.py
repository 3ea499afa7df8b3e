"""`grayscott run --map`: one simulation over the (F, k) plane, written and resumed."""

import h5py
import numpy as np
import pytest

import grayscott as gs
from grayscott import backends
from grayscott.cli import main
from grayscott.physics import RateMap, make_problem
from grayscott.runs import problem_from_attrs

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
