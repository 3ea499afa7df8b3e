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
