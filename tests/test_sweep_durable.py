"""Sweeps that keep what they computed, as runs do: kill -9 mid-sweep, an overwrite killed
before its first member, two writers, a disk too small or filled mid-sweep (tmpfs when root),
SIGTERM."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from grayscott.cli import main
from grayscott.io import layout
from grayscott.io.paths import holder, temporary_path
from grayscott.sweep import read_sweep
from grayscott.sweep.image import read_for_map
from test_durable import fill, small_tmpfs

pytest.importorskip("numba")

RATES = ["--feed", "0.02:0.06:4", "--kill", "0.055:0.065:2"]
MEMBERS = 8
GRID = ["-r", "16", "-c", "16", "-b", "numba", "-q"]
#: 4 pieces of 2 members, a few tenths of a second each (a fork-join per step on 16 x 16).
SLOW = [*RATES, *GRID, "-s", "8000", "--batch", "2"]
#: One piece of every member, far longer than any test waits for it.
ENDLESS = [*RATES, *GRID, "-s", "2000000", "--batch", str(MEMBERS)]


def _sweep(*args: str, **kw) -> subprocess.Popen:
    """``grayscott sweep`` in another process, one numba thread (the tests share 2 cores)."""
    return subprocess.Popen([sys.executable, "-m", "grayscott", "sweep", "--threads", "1",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kw)


def stderr_of(proc: subprocess.Popen) -> str:
    """What the process said, once it is ended (killed if need be): for failure messages."""
    proc.kill()
    return proc.communicate(timeout=30)[1]


def counted(path: Path) -> int:
    """Members the file counts, as a reader sees it now (plain h5py), or -1."""
    try:
        with h5py.File(path, "r") as f:
            return int(f["members_written"][()])
    except (OSError, KeyError):
        return -1


def wait_until(done: Callable[[], bool], proc: subprocess.Popen, timeout: float = 60) -> bool:
    """Poll ``done`` until it holds (True), the process ends or the time is up (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    return False


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The sweep that nobody stopped."""
    path = tmp_path_factory.mktemp("ref") / "ref.h5"
    assert main(["sweep", *SLOW, "-o", str(path)]) == 0
    return path


def assert_counted_members_are_the_reference(path: Path, reference: Path) -> np.ndarray:
    """Plain h5py opens ``path``; ``done`` marks the first ``members_written`` members (F-major)
    and they are the reference's bit for bit. Returns ``done``."""
    with h5py.File(path, "r") as f, h5py.File(reference, "r") as fr:
        n = int(f["members_written"][()])
        done = f["done"][...].astype(bool)
        assert done.sum() == n and done.ravel()[:n].all()
        assert np.array_equal(f["v"][...][done], fr["v"][...][done])
    return done


def test_kill_9_keeps_every_counted_member_bit_for_bit(reference, tmp_path):
    path = tmp_path / "killed.h5"
    proc = _sweep(*SLOW, "-o", str(path))
    try:
        assert wait_until(lambda: counted(path) >= 1, proc), stderr_of(proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    done = assert_counted_members_are_the_reference(path, reference)
    assert 0 < done.sum() < MEMBERS, f"the kill did not land mid-sweep: {done.sum()}"
    with h5py.File(path, "r") as f:
        assert f["status"][()] == b"running"  # what a killed writer leaves
        assert np.isnan(f["v"][...][~done]).all()  # plain h5py: never finished is NaN
    # read_sweep and the map: members never finished are NaN, blank tiles
    v, feed, kill, attrs = read_sweep(path)
    _, _, _, ref_attrs = read_sweep(reference)
    assert np.isnan(v[~done]).all() and np.isfinite(v[done]).all()
    assert attrs["status"] == "running" and ref_attrs["status"] == "completed"
    tiles, _, _ = read_for_map(path)
    assert np.isnan(tiles[~done]).all() and np.isfinite(tiles[done]).all()


def test_overwrite_killed_before_its_first_member_keeps_the_old_file(reference, tmp_path):
    path = tmp_path / "old.h5"
    shutil.copy(reference, path)
    before = path.read_bytes()
    new = temporary_path(path)
    proc = _sweep(*ENDLESS, "--overwrite", "-o", str(path))
    try:
        # killed once the new file is made (its counter readable) or the old one touched
        assert wait_until(lambda: counted(new) == 0 or path.read_bytes() != before, proc), \
            stderr_of(proc)
        assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert path.read_bytes() == before
    v, *_ = read_sweep(path)
    with h5py.File(reference, "r") as fr:
        assert np.array_equal(v, fr["v"][...])


def test_a_second_writer_is_refused_while_a_sweep_runs(tmp_path, capsys):
    path = tmp_path / "busy.h5"
    proc = _sweep(*ENDLESS, "-o", str(path))
    try:
        assert wait_until(lambda: holder(path) == proc.pid, proc), stderr_of(proc)
        for argv in (["sweep", *RATES, *GRID, "-s", "3", "--overwrite", "-o", str(path)],
                     ["run", "-r", "8", "-c", "8", "-n", "2", "-b", "numpy", "-q",
                      "--overwrite", "-o", str(path)]):
            capsys.readouterr()
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert "being written by another run" in err and f"pid {proc.pid}" in err, err
            assert len(err.strip().splitlines()) == 1
        # the first one goes on (its file may still be in the making on a loaded machine)
        assert wait_until(lambda: counted(path) == 0, proc) and proc.poll() is None
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_sigterm_stops_after_the_piece_with_the_members_kept(reference, tmp_path):
    """An --overwrite stopped after its first piece: the new file has replaced the old one."""
    path = tmp_path / "term.h5"
    path.write_bytes(b"an older output")
    proc = _sweep(*SLOW, "--overwrite", "-o", str(path))
    try:
        assert wait_until(lambda: counted(path) >= 2, proc), stderr_of(proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM" in err and "Traceback" not in err
    done = assert_counted_members_are_the_reference(path, reference)
    assert 2 <= done.sum() < MEMBERS and done.sum() % 2 == 0  # whole pieces
    with h5py.File(path, "r") as f:
        assert f["status"][()] == b"stopped"
        assert f["completed"][()] == 0  # the end's values are datasets: no attribute set
    assert not temporary_path(path).exists()


def test_a_numba_sweep_into_a_file_runs_in_pieces_by_default(tmp_path):
    """So that a kill loses one piece at most; in memory (nothing to keep) it stays one."""
    from grayscott.sweep import sweep

    args = ("0.02:0.06:16", "0.05:0.066:8", 3, (8, 8))
    assert sweep(*args, backend="numba").pieces == 1
    r = sweep(*args, backend="numba", output=tmp_path / "s.h5")
    assert (r.batch, r.pieces) == (8, 16)
    assert sweep(*args, backend="numba", output=tmp_path / "s.h5", overwrite=True,
                 batch=128).pieces == 1
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert f["done"][...].all() and f["members_written"][()] == 128


# -- a full disk (a small tmpfs, as root) -------------------------------------------------------


def test_a_sweep_the_disk_cannot_hold_is_refused_before_it_starts(tmp_path, capsys):
    with small_tmpfs(tmp_path) as mnt:
        # as many 256 x 256 float32 members as the free bytes hold: the file needs more
        n = shutil.disk_usage(mnt).free // (256 * 256 * 4)
        code = main(["sweep", "--feed", f"0.02:0.06:{n}", "--kill", "0.06", "-r", "256",
                     "-c", "256", "-s", "1", "-b", "numba", "-q", "-o", str(mnt / "s.h5")])
        err = capsys.readouterr().err
        assert code == 2 and "GB are free" in err and "fewer members" in err, err
        assert len(err.strip().splitlines()) == 1
        assert list(mnt.iterdir()) == []


FILL_ARGS = ["--feed", "0.02:0.06:8", "--kill", "0.055:0.065:2", "-r", "128", "-c", "128",
             "-s", "1000", "--batch", "2", "-b", "numba", "-q"]


@pytest.fixture(scope="module")
def reference_128(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ref") / "ref128.h5"
    assert main(["sweep", *FILL_ARGS, "-o", str(path)]) == 0
    return path


def test_a_disk_filled_during_the_sweep_cannot_take_its_space(reference_128, tmp_path,
                                                               capsys):
    """Another process fills the disk mid-sweep: the file's space was taken when it was made,
    so the sweep completes. Filled between the start-up check and the file: one line, exit 2,
    nothing left behind."""
    with small_tmpfs(tmp_path / "a") as mnt:
        out = mnt / "s.h5"
        proc = _sweep(*FILL_ARGS, "-o", str(out))
        try:
            assert wait_until(lambda: counted(out) >= 2, proc), stderr_of(proc)
            fill(mnt / "filler")
            _, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
        assert proc.returncode == 0, err
        with h5py.File(out, "r") as f, h5py.File(reference_128, "r") as fr:
            assert f["members_written"][()] == 16 and f["status"][()] == b"completed"
            assert np.array_equal(f["v"][...], fr["v"][...])

    with small_tmpfs(tmp_path / "b") as mnt, pytest.MonkeyPatch.context() as mp:
        mp.setattr(layout.shutil, "disk_usage", lambda p: type("U", (), {"free": 1 << 40}))
        fill(mnt / "filler", leave=400 << 10)  # the file needs 1 MB
        capsys.readouterr()
        code = main(["sweep", *FILL_ARGS, "-o", str(mnt / "s.h5")])
        err = capsys.readouterr().err
        assert code == 2 and "the disk" in err and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1
        assert [p.name for p in mnt.iterdir()] == ["filler"]


def test_a_write_refused_for_space_mid_sweep_keeps_the_members_before(reference_128,
                                                                      tmp_path, monkeypatch,
                                                                      capsys):
    """Where written space can still run out (a copy-on-write file system, a quota): the
    third piece's write fails as a full disk; one line, exit 2, the two pieces before kept."""
    import errno

    from grayscott.sweep import hdf5 as sweep_hdf5

    made = sweep_hdf5.SweepWriter.__init__

    class Refusing:
        def __init__(self, v):
            self.v, self.writes = v, 0

        def __setitem__(self, key, value):
            self.writes += 1
            if self.writes > 4:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.v[key] = value

    def init(self, *args, **kwargs):
        made(self, *args, **kwargs)
        self.v = Refusing(self.v)

    monkeypatch.setattr(sweep_hdf5.SweepWriter, "__init__", init)
    path = tmp_path / "s.h5"
    assert main(["sweep", *FILL_ARGS, "-o", str(path)]) == 2
    err = capsys.readouterr().err
    assert "disk is full after 4 members" in err and len(err.strip().splitlines()) == 1, err
    done = assert_counted_members_are_the_reference(path, reference_128)
    assert done.sum() == 4
    with h5py.File(path, "r") as f:
        assert f["status"][()] == b"disk full"
        assert np.isnan(f["v"][...][~done]).all()
