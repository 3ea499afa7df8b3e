"""The command line: the school's flags, one-line errors, nothing created or damaged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from grayscott import backends
from grayscott.cli import main

SMALL = ["-r", "24", "-c", "32", "-n", "2", "-e", "3", "-b", "numpy"]


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_school_flags(tmp_path, capsys):
    out = tmp_path / "school.h5"
    code, stdout, err = cli(capsys, "run", "-n", "3", "-e", "5", "-r", "20", "-c", "30",
                            "-k", "0.06", "-f", "0.035", "-t", "0.9", "-u", "0.16", "-v", "0.08",
                            "-o", str(out), "-b", "numpy")
    assert code == 0, err
    assert "20x30" in stdout and "Du=0.16" in stdout and "k=0.06" in stdout
    with h5py.File(out) as f:
        assert f["matrix"].shape == (3, 20, 30)
        a = f.attrs
        assert (a["k"], a["F"], a["dt"], a["Du"], a["Dv"]) == (0.06, 0.035, 0.9, 0.16, 0.08)
        assert (a["nbimage"], a["nbextrastep"]) == (3, 5)


def test_long_flags_and_options(tmp_path, capsys):
    out = tmp_path / "long.h5"
    code, _, err = cli(capsys, "run", "--nbimage", "2", "--nbextrastep", "2", "--nbrow", "8",
                       "--nbcol", "9", "--killrate", "0.05", "--feedrate", "0.02",
                       "--deltat", "0.5", "--du", "0.1", "--dv", "0.05", "--output", str(out),
                       "--backend", "numpy-school", "--dtype", "float64", "--stencil",
                       "laplace9", "--border", "periodic", "--initial", "noise", "--seed", "4",
                       "--output-dtype", "float64", "--quiet")
    assert code == 0, err
    with h5py.File(out) as f:
        assert f["matrix"].dtype == np.float64
        assert f.attrs["border"] == "periodic" and f.attrs["stencil"] == "laplace9"
        assert f.attrs["initial"] == "noise" and f.attrs["seed"] == 4


def test_quiet_prints_nothing(tmp_path, capsys):
    code, out, err = cli(capsys, "run", *SMALL, "-o", str(tmp_path / "q.h5"), "-q")
    assert code == 0 and out == "" and err == ""


BAD = [
    (["-r", "2"], "at least 3x3"),
    (["-c", "1"], "at least 3x3"),
    (["-r", "abc"], "not a valid integer"),
    (["-r", "3.5"], "not a valid integer"),
    (["-n", "0"], "nbimage"),
    (["-e", "-1"], "nbextrastep"),
    (["-k", "-0.1"], "k must be >= 0"),
    (["-f", "nan"], "F must be finite"),
    (["-u", "inf"], "Du must be finite"),
    (["-t", "0"], "dt must be > 0"),
    (["-t", "-1"], "dt must be > 0"),
    (["-t", "2"], "dt <= 1.66667"),
    (["-b", "cobol"], "choose one of: python"),
    (["--stencil", "laplace7"], "school"),
    (["--border", "mirror"], "periodic"),
    (["--dtype", "float16"], "float32"),
    (["--threads", "0"], "threads"),
    (["--threads", "2"], "numba-parallel"),
    (["--seed", "-1"], "seed"),
    (["--seed", "18446744073709551616"], "2**63"),
    (["-e", "9223372036854775808"], "more than the file can count"),
    (["-n", "2", "-e", "4611686018427387904"], "more than the file can count"),
    (["-r", "10000000000", "-n", "1"], "GB of memory"),
    (["--checkpoint-every", "-1"], "checkpoint_every"),
    (["--flush-every", "x"], "not a valid integer"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_one_line(tmp_path, capsys, args, message):
    out = tmp_path / "never.h5"
    opts = dict(zip(SMALL[::2], SMALL[1::2], strict=True))
    for flag, value in zip(args[::2], args[1::2], strict=True):
        opts[flag] = value
    argv = ["run", *[x for kv in opts.items() for x in kv], "-o", str(out)]
    code, stdout, err = cli(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("grayscott: error:") and message in lines[0]
    assert "Traceback" not in err
    assert not out.exists()


def test_output_directory_missing(tmp_path, capsys):
    code, _, err = cli(capsys, "run", *SMALL, "-o", str(tmp_path / "nope" / "x.h5"))
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1


def test_output_parent_is_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    code, _, err = cli(capsys, "run", *SMALL, "-o", str(tmp_path / "file" / "x.h5"))
    assert code == 2 and "not a directory" in err


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root can write anywhere")
def test_output_directory_not_writable(tmp_path, capsys):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    try:
        code, _, err = cli(capsys, "run", *SMALL, "-o", str(d / "x.h5"))
    finally:
        d.chmod(0o700)
    assert code == 2 and "not writable" in err


def test_existing_output_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "x.h5"
    out.write_bytes(b"keep me")
    code, _, err = cli(capsys, "run", *SMALL, "-o", str(out))
    assert code == 2 and "--overwrite" in err and out.read_bytes() == b"keep me"
    code, _, err = cli(capsys, "run", *SMALL, "-o", str(out), "--overwrite", "-q")
    assert code == 0 and h5py.is_hdf5(out)


def test_missing_extra(tmp_path, capsys, monkeypatch):
    fake = backends.BackendInfo("fake", "numpy_buffers", "NumpyBackend", "test",
                                requires=("surely_not_a_module_xyz",), extra="fake")
    monkeypatch.setitem(backends._REGISTRY, "fake", fake)
    out = tmp_path / "x.h5"
    code, _, err = cli(capsys, "run", *SMALL[:-2], "-b", "fake", "-o", str(out))
    assert code == 2 and "pip install 'grayscott[fake]'" in err and not out.exists()


def test_blow_up_exit_code(tmp_path, capsys):
    out = tmp_path / "x.h5"
    code, _, err = cli(capsys, "run", "-r", "16", "-c", "16", "-n", "50", "-e", "2", "-t", "40",
                       "--allow-unstable", "-b", "numpy", "-o", str(out), "-q")
    assert code == 3 and "blew up" in err and len(err.strip().splitlines()) == 1
    with h5py.File(out) as f:
        assert f["status"][()] == b"blew up"


def test_backends_command(capsys):
    code, out, _ = cli(capsys, "backends")
    assert code == 0
    for name in backends.names():
        assert name in out
    assert f"* {backends.default_backend()}" in out


def test_help_and_version(capsys):
    assert cli(capsys, "--help")[0] == 0
    code, out, _ = cli(capsys, "--version")
    assert code == 0 and "version" in out
    assert cli(capsys)[0] == 0


# -- the installed command, in a real process ------------------------------------------------

def _grayscott() -> list[str]:
    exe = Path(sys.executable).with_name("grayscott")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "grayscott"]


def test_console_script_and_module(tmp_path):
    for cmd in (_grayscott(), [sys.executable, "-m", "grayscott"]):
        out = tmp_path / f"{len(cmd)}.h5"
        p = subprocess.run([*cmd, "run", *SMALL, "-o", str(out)], capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        assert h5py.is_hdf5(out)
    p = subprocess.run([*_grayscott(), "run", "-r", "x"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_interrupted_run_leaves_valid_file(tmp_path, sig, code):
    out = tmp_path / "stop.h5"
    # enough frames to outlast the test (the file's room is reserved: keep it small)
    proc = subprocess.Popen([*_grayscott(), "run", "-r", "64", "-c", "64", "-n", "3000",
                             "-e", "50", "-b", "numpy", "-o", str(out), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # some frames get written
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert "Traceback" not in err and "frames so far are kept" in err
    with h5py.File(out, "r") as f:
        n = f["frames_written"][()]
        # a stop changes no structure: matrix keeps its planned room, zeros past the counter
        assert n >= 1 and f["matrix"].shape[1:] == (64, 64) and f["matrix"].shape[0] > n
        assert not f["matrix"][n:].any()
        assert f["status"][()] == b"interrupted"
        assert f["steps_done"][()] == 50 * n  # stopped cleanly after the frame in progress
        assert f["final_state_saved"][()] == 1
        assert np.array_equal(f["v_final"][...], f["matrix"][n - 1])
        assert f["checkpoint/index"][1] == n  # resumable from where it stopped


@pytest.mark.parametrize("name, message", [
    ("a" * 300 + ".h5", "bytes long"),
    ("/dev/full", "not a regular file"),
])
def test_output_names_refused_in_one_line(tmp_path, capsys, name, message):
    code, _, err = cli(capsys, "run", *SMALL, "-o", name, "--overwrite")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_render_and_bench_options_checked_before_the_work(tmp_path, capsys, monkeypatch):
    out = tmp_path / "x.h5"
    assert cli(capsys, "run", *SMALL, "-o", str(out), "-q")[0] == 0
    code, _, err = cli(capsys, "render", str(out), "-o", str(tmp_path / "x.gif"),
                       "--upscale", "100000")
    assert code == 2 and "16384" in err and not (tmp_path / "x.gif").exists()
    pytest.importorskip("matplotlib")
    import grayscott.bench.runner as runner

    def ran(*args, **kwargs):  # refused before the school-grid benchmark runs
        raise AssertionError("the benchmark ran before --plot was refused")

    monkeypatch.setattr(runner, "prepare_backend", ran)
    code, _, err = cli(capsys, "bench", "--plot", str(tmp_path / "out.xyz"), "-b", "numpy")
    assert code == 2 and "matplotlib writes" in err and "png" in err


def test_info_and_resume_commands(tmp_path, capsys):
    out = tmp_path / "x.h5"
    assert cli(capsys, "run", *SMALL, "-o", str(out), "-q")[0] == 0
    code, stdout, _ = cli(capsys, "info", str(out))
    assert code == 0 and "2 of 2 written" in stdout and "completed" in stdout
    code, stdout, _ = cli(capsys, "info", "--json", str(out))
    import json

    info = json.loads(stdout)
    assert info["frames_written"] == 2 and info["checkpoint"] == {"frames": 2, "steps": 6}
    code, stdout, _ = cli(capsys, "resume", str(out))
    assert code == 0 and "is complete" in stdout
    code, stdout, _ = cli(capsys, "resume", str(out), "-n", "4")
    assert code == 0 and "4 frames (resumed at frame 2)" in stdout
    with h5py.File(out) as f:
        assert f["matrix"].shape == (4, 24, 32) and f["step"][...].tolist() == [3, 6, 9, 12]
    code, _, err = cli(capsys, "resume", str(out), "-n", "3")
    assert code == 2 and "already has 4 frames" in err
