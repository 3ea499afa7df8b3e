"""``grayscott fit``: exit 0 when the fit converged, 3 when it did not, 2 (one line) for bad
input; the target from a .npy array or a frame of a run's file."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import grayscott as gs
from grayscott.cli import main

pytest.importorskip("jax")

STEPS = 300
NEAR = ["--strategy", "local", "-f", "0.0345", "-k", "0.0598"]


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    problem = gs.make_problem((48, 48), params=gs.Parameters(F=0.035, k=0.06))
    sim = gs.Simulation(problem, backend="numpy", initial="noise", seed=0)
    sim.advance(STEPS)
    path = tmp_path_factory.mktemp("fit") / "target.npy"
    np.save(path, sim.state[1])
    return path


def test_a_converged_fit_exits_0_and_prints_the_rates(target, capsys):
    code, out, err = cli(capsys, "fit", target, "--steps", STEPS, "--initial", "noise", *NEAR)
    assert code == 0, err
    assert "converged: yes" in out and "F = 0.0350" in out and "k = 0.0600" in out, out
    assert "±" in out


def test_a_fit_that_did_not_converge_exits_3(target, capsys):
    code, out, err = cli(capsys, "fit", target, "--steps", STEPS, "--initial", "noise",
                         "--strategy", "local", "-f", "0.025", "-k", "0.055", "--iterations", 2)
    assert code == 3, (out, err)
    assert "converged: no (iterations exhausted)" in out
    assert err.count("\n") == 1 and "did not converge" in err


def test_the_target_is_a_frame_of_a_run_file_with_its_settings(tmp_path, capsys):
    run = tmp_path / "run.h5"
    code, _, err = cli(capsys, "run", "-r", 48, "-c", 48, "-n", 2, "-e", STEPS // 2, "-f",
                       0.035, "-k", 0.06, "--initial", "noise", "-b", "numpy", "-o", run, "-q")
    assert code == 0, err
    code, out, err = cli(capsys, "fit", run, *NEAR)  # the last frame: 2 x 150 steps
    assert code == 0, err
    assert f"frame 1 of {run}" in out and f"{STEPS} steps from initial noise" in out, out
    assert "converged: yes" in out and "F = 0.0350" in out, out
    code, out, err = cli(capsys, "fit", run, "--frame", 0, "--iterations", 1, *NEAR)
    assert f"frame 0 of {run}" in out and f"{STEPS // 2} steps" in out, out
    code, out, err = cli(capsys, "fit", run, "--frame", 2)
    assert code == 2 and "--frame 2 is out of range" in err and "holds 2 frame(s)" in err


def test_bad_input_is_one_line_and_exit_2(target, tmp_path, capsys):
    bad = {}
    for name, array in [("nan", np.full((48, 48), np.nan)), ("zero", np.zeros((48, 48))),
                        ("flat", np.ones(48))]:
        bad[name] = tmp_path / f"{name}.npy"
        np.save(bad[name], array)
    (tmp_path / "v.txt").write_text("1 2 3")
    (tmp_path / "junk.npy").write_text("not numpy")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.zeros(3)
    cases = [
        ([bad["nan"], "--steps", 5], "NaN or infinite"),
        ([bad["zero"], "--steps", 5], "constant"),
        ([bad["flat"], "--steps", 5], "2-D array"),
        ([tmp_path / "v.txt", "--steps", 5], "must be a run's .h5 file or a .npy array"),
        ([tmp_path / "junk.npy", "--steps", 5], "cannot read"),
        ([tmp_path / "missing.npy", "--steps", 5], "no such file"),
        ([other], "not a grayscott run file"),
        ([target], "--steps is required"),
        ([target, "--steps", 5, "--frame", 0], "--frame is for a run's .h5 file"),
        ([target, "--steps", 5, "--region", "0.01:0.07"], "F0:F1,k0:k1"),
        ([target, "--steps", 5, "--region", "0.07:0.01,0.045:0.07"], "increasing"),
        ([target, "--steps", 5, "-f", 0.03], "give both -f and -k"),
        ([target, "--steps", 5, "--border", "bogus"], "bogus"),
        ([target, "--steps", 5, "--stencil", "bogus"], "bogus"),
        ([target, "--steps", 0], "--steps"),
        ([target, "--steps", 5, "-t", 5.0], "dt"),
    ]
    for args, message in cases:
        code, out, err = cli(capsys, "fit", *args)
        assert code == 2, (args, out, err)
        assert err.startswith("grayscott: error:") and err.count("\n") == 1, (args, err)
        assert message in err, (args, err)
