"""MPI runs write one part file per rank; the run file's ``matrix`` maps them (plain h5py reads
it), ``grayscott gather`` makes one file of it, and a resume goes on over any number of ranks
or on one process, bit for bit."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import h5py
import pytest

from test_mpi import GRAYSCOTT, HERE, _same, _serial, mpiexec, needs_mpi

ARGS = ["-q", "-r", "40", "-c", "52", "-e", "16", "--backend", "numpy", "--border", "fixed"]


@needs_mpi
@pytest.mark.parametrize("ranks", [1, 4, 5, 6])
def test_every_layout_writes_the_one_process_file_without_gathering_frames(
        tmp_path: Path, ranks: int) -> None:
    proc = mpiexec(ranks, sys.executable, str(HERE / "mpi_parts_cases.py"), str(tmp_path),
                   timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MISMATCH" not in proc.stdout and f"on {ranks} ranks" in proc.stdout, proc.stdout


@needs_mpi
def test_gather_makes_one_self_contained_file(tmp_path: Path) -> None:
    run = tmp_path / "run.h5"
    proc = mpiexec(2, *GRAYSCOTT, "run", *ARGS, "-n", "3", "-o", str(run))
    assert proc.returncode == 0, proc.stderr
    _serial("run", *ARGS, "-n", "3", "-o", str(tmp_path / "one.h5"))
    elsewhere = tmp_path / "away"
    elsewhere.mkdir()
    _serial("gather", str(run), "-o", str(elsewhere / "copy.h5"))
    assert (tmp_path / "run.h5.parts").is_dir()  # -o leaves the run as it was
    _same(elsewhere / "copy.h5", tmp_path / "one.h5")
    _serial("gather", str(run))  # in place: the parts go
    assert not (tmp_path / "run.h5.parts").exists()
    with h5py.File(run) as f:
        assert not f["matrix"].is_virtual
    _same(run, tmp_path / "one.h5")
    proc = mpiexec(1, *GRAYSCOTT, "gather", str(run))
    assert proc.returncode == 2 and "nothing to gather" in proc.stderr


@needs_mpi
def test_a_parts_file_moved_without_its_parts_reads_nan_not_garbage(tmp_path: Path) -> None:
    import numpy as np

    run = tmp_path / "run.h5"
    assert mpiexec(2, *GRAYSCOTT, "run", *ARGS, "-n", "2", "-o", str(run)).returncode == 0
    (tmp_path / "away").mkdir()
    shutil.copy(run, tmp_path / "away" / "run.h5")
    with h5py.File(tmp_path / "away" / "run.h5") as f:
        assert np.isnan(f["matrix"][...]).all()


@needs_mpi
def test_a_parts_file_resumes_on_one_process_and_a_plain_one_over_ranks(tmp_path: Path) -> None:
    parts, plain = tmp_path / "parts.h5", tmp_path / "plain.h5"
    assert mpiexec(3, *GRAYSCOTT, "run", *ARGS, "-n", "2", "-o", str(parts)).returncode == 0
    _serial("resume", "-q", "-n", "4", str(parts))  # one process: gathered first, then on
    _serial("run", *ARGS, "-n", "2", "-o", str(plain))
    proc = mpiexec(2, *GRAYSCOTT, "resume", "-q", "-n", "4", str(plain))
    assert proc.returncode == 0, proc.stderr
    _serial("run", *ARGS, "-n", "4", "-o", str(tmp_path / "whole.h5"))
    _same(parts, tmp_path / "whole.h5")
    _same(plain, tmp_path / "whole.h5")


@needs_mpi
def test_a_second_sigterm_ends_every_rank_at_once_and_the_file_says_interrupted(
        tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import time

    from test_mpi import _mpiexec

    out = tmp_path / "s.h5"
    # Frames long enough (about 1-5 s) that the second signal, 50 ms after the first, comes
    # while the first one's frame is still in progress wherever in the frame the first lands
    # (frames of 0.1-0.5 s still ended in between about one time in ten on a loaded machine).
    args = ["-q", "-r", "48", "-c", "48", "-e", "40000", "--backend", "numpy"]
    env = {**os.environ, "GRAYSCOTT_MPI": "1"}
    proc = subprocess.Popen([_mpiexec(), "-n", "2", *GRAYSCOTT, "run", *args, "-n", "500",
                             "-o", str(out)], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "every rank stops now" in err
    with h5py.File(out) as f:
        assert f["status"][()].rstrip(b"\0") == b"interrupted"
        written = int(f["frames_written"][()])
    _serial("resume", "-q", "-n", str(written + 2), str(out))
    _serial("run", *args, "-n", str(written + 2), "-o", str(tmp_path / "ref.h5"))
    _same(out, tmp_path / "ref.h5")
