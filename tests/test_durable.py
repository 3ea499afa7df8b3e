"""Runs that keep what they computed: kill -9 at several moments, resume bit for bit, live
readers, overwrite that cannot destroy, two writers, a full disk (tmpfs when root)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import grayscott as gs
from grayscott import backends
from grayscott.cli import main
from grayscott.io import layout, readers

RATES = ["-k", "0.06", "-f", "0.035", "-t", "0.9", "-u", "0.16", "-v", "0.08"]
#: Per backend: a run of about a second (numba-parallel pays a thread start-up per step).
CASES = {"numpy": ["-r", "48", "-c", "64", "-n", "120", "-e", "100"],
         "numba-parallel": ["-r", "48", "-c", "64", "-n", "80", "-e", "10", "--threads", "2"]}
DATASETS = ("matrix", "step", "time", "frame", "u_final", "v_final", "frames_written",
            "steps_done", "final_state_saved")


def _cmd() -> list[str]:
    return [sys.executable, "-m", "grayscott"]


def _backend_param(name):
    info = backends.info(name)
    return pytest.param(name, id=name, marks=pytest.mark.skipif(
        not info.available, reason=f"backend {name} {info.reason}"))


def frames_written(path: Path) -> int:
    """What a reader sees now (plain h5py, as the school opens files), or -1."""
    try:
        with h5py.File(path, "r") as f:
            return int(f["frames_written"][()])
    except (OSError, KeyError):
        return -1


def wait_for(proc: subprocess.Popen, path: Path, frames: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = frames_written(path)
        if n >= frames or proc.poll() is not None:
            return n
        time.sleep(0.005)
    raise AssertionError(f"no {frames} frames in {path} after {timeout} s")


def assert_same_run(a: Path, b: Path) -> None:
    """Bit for bit: frames, coordinates, final state, counters, status."""
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        for name in DATASETS:
            x, y = fa[name][()], fb[name][()]
            assert np.array_equal(x, y), name
            assert fa[name].shape == fb[name].shape, name
        assert fa["status"][()] == fb["status"][()] == b"completed"


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """One uninterrupted run per backend."""
    d = tmp_path_factory.mktemp("ref")
    out = {}
    for name, args in CASES.items():
        if backends.info(name).available:
            path = d / f"{name}.h5"
            assert main(["run", *args, *RATES, "-b", name, "-q", "-o", str(path)]) == 0
            out[name] = path
    return out


@pytest.mark.parametrize("backend", [_backend_param(n) for n in CASES])
def test_kill_at_several_moments_then_resume_bit_for_bit(backend, references, tmp_path):
    ref = references[backend]
    nbimage = int(CASES[backend][CASES[backend].index("-n") + 1])
    seen = []
    # kill -9 as soon as the file exists, about a third and two thirds in; the last one with
    # checkpoints every 7 frames, so resuming recomputes frames already in the file
    for k, (target, every) in enumerate([(0, "1"), (nbimage // 3, "1"), (2 * nbimage // 3, "7")]):
        path = tmp_path / f"killed{k}.h5"
        proc = subprocess.Popen([*_cmd(), "run", *CASES[backend], *RATES, "-b", backend, "-q",
                                 "--checkpoint-every", every, "-o", str(path)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for(proc, path, target)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            proc.kill()
        # plain h5py opens it, every counted frame is the uninterrupted run's, bit for bit
        with h5py.File(path, "r") as f, h5py.File(ref, "r") as fr:
            n = int(f["frames_written"][()])
            seen.append(n)
            assert f["matrix"].shape == fr["matrix"].shape  # room for the whole run
            assert np.array_equal(f["matrix"][:n], fr["matrix"][:n])
            assert np.array_equal(f["step"][...], fr["step"][...])
            slot, ck_frames, ck_steps = f["checkpoint/index"][...]
            assert 0 <= ck_frames <= n and slot in (0, 1)
            if n < nbimage:
                assert f["status"][()] == b"running"
        # the CLI says what it is, then finishes it
        assert main(["resume", str(path), "-q"]) == 0
        assert_same_run(ref, path)
    assert any(0 < n < nbimage for n in seen), f"no kill landed mid-run: {seen}"


def test_resume_extends_and_api_carries_steps(tmp_path):
    problem = gs.make_problem((24, 32), params=gs.Parameters(Du=0.16, Dv=0.08, F=0.035,
                                                             k=0.06, dt=0.9))
    full = gs.run(problem, tmp_path / "full.h5", nbimage=9, nbextrastep=5, backend="numpy",
                  progress=False)
    part = gs.run(problem, tmp_path / "part.h5", nbimage=4, nbextrastep=5, backend="numpy",
                  progress=False)
    assert part.completed and part.steps_done == 20
    again = gs.resume(tmp_path / "part.h5", nbimage=9, progress=False)
    assert again.first_frame == 4 and again.frames_written == 9 and again.steps_done == 45
    assert_same_run(full.path, again.path)
    # run(state=...) continues from a given state: the same bits as one run
    u, v = readers.read_final_state(tmp_path / "part.h5")  # (now the end of the extended run)
    tail = gs.run(problem, tmp_path / "tail.h5", nbimage=2, nbextrastep=5, backend="numpy",
                  progress=False, state=(u, v), steps_done=45)
    longer = gs.resume(tmp_path / "part.h5", nbimage=11, progress=False)
    assert tail.steps_done == longer.steps_done == 55
    with h5py.File(tail.path) as ft, h5py.File(longer.path) as fl:
        assert np.array_equal(ft["matrix"][...], fl["matrix"][9:])
        assert ft["step"][...].tolist() == fl["step"][9:].tolist() == [50, 55]


def test_resume_on_another_backend_agrees_to_rounding(tmp_path):
    pytest.importorskip("numba")
    args = ["-r", "20", "-c", "24", "-e", "6", *RATES, "-q"]
    assert main(["run", *args, "-n", "8", "-b", "numpy", "-o", str(tmp_path / "a.h5")]) == 0
    assert main(["run", *args, "-n", "3", "-b", "numpy", "-o", str(tmp_path / "b.h5")]) == 0
    assert main(["resume", str(tmp_path / "b.h5"), "-n", "8", "-b", "numba", "-q"]) == 0
    with h5py.File(tmp_path / "a.h5") as fa, h5py.File(tmp_path / "b.h5") as fb:
        np.testing.assert_allclose(fa["matrix"][...], fb["matrix"][...], atol=1e-5)
        assert any(b"on numba" in line for line in fb["resume_log"][...])


def test_nan_state_never_resumable(tmp_path, capsys):
    out = tmp_path / "x.h5"
    code = main(["run", "-r", "16", "-c", "16", "-n", "50", "-e", "2", "-t", "40",
                 "--allow-unstable", "-b", "numpy", "-o", str(out), "-q"])
    assert code == 3
    with h5py.File(out) as f:
        slot, frames, steps = f["checkpoint/index"][...]
        assert np.isfinite(f["checkpoint/u"][slot]).all()
        assert np.isfinite(f["checkpoint/v"][slot]).all()
        assert f["final_state_saved"][()] == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert "blew up" in capsys.readouterr().out


def test_live_reader_info_and_render(tmp_path, capsys):
    """While a run writes: plain h5py, swmr=True, `grayscott info` and `render` read it."""
    path = tmp_path / "live.h5"
    proc = subprocess.Popen([*_cmd(), "run", "-r", "32", "-c", "32", "-n", "5000", "-e", "200",
                             "-b", "numpy", "-q", "-o", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        first = wait_for(proc, path, 3)
        assert proc.poll() is None
        with h5py.File(path, "r", swmr=True) as f:
            n = int(f["frames_written"][()])
            assert n >= first and f["matrix"][n - 1].max() > 0
        capsys.readouterr()
        assert main(["info", str(path)]) == 0
        out = capsys.readouterr().out
        assert "running (pid" in out and "of 5000 written" in out
        assert main(["info", "--json", str(path)]) == 0
        assert '"writer_pid"' in capsys.readouterr().out
        later = wait_for(proc, path, n + 2)
        assert later > n  # the reader sees new frames
        pytest.importorskip("PIL")
        gif = tmp_path / "live.gif"
        assert main(["render", str(path), "-o", str(gif), "-q"]) == 0
        assert gif.exists()
        # a second writer is refused in one line; the first goes on
        code = main(["run", "-r", "8", "-c", "8", "-n", "2", "-b", "numpy", "-q", "--overwrite",
                     "-o", str(path)])
        err = capsys.readouterr().err
        assert code == 2 and "being written by another run" in err
        assert len(err.strip().splitlines()) == 1
        assert main(["resume", str(path), "-q"]) == 2
        capsys.readouterr()
        assert wait_for(proc, path, later + 2) > later and proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143
    finally:
        proc.kill()
    with h5py.File(path, "r") as f:
        assert f["status"][()] == b"interrupted" and f["matrix"].shape[0] >= later


# -- overwrite -----------------------------------------------------------------------------

SMALL = ["-r", "16", "-c", "16", "-n", "3", "-e", "4", "-b", "numpy", "-q"]


@pytest.fixture
def old_run(tmp_path):
    path = tmp_path / "old.h5"
    assert main(["run", *SMALL, "-o", str(path)]) == 0
    return path, path.read_bytes()


@pytest.mark.parametrize("args, code", [
    (["--seed", "18446744073709551616"], 2),
    (["--seed", "-1"], 2),
    (["-e", "9223372036854775808"], 2),
    (["-t", "40", "--allow-unstable", "-e", "200"], 3),  # blows up before its first frame
])
def test_failed_overwrite_keeps_the_old_file(old_run, args, code, capsys):
    path, before = old_run
    assert main(["run", *SMALL, *args, "--overwrite", "-o", str(path)]) == code
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no stray file either
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_overwrite_a_file_another_process_holds_open(old_run, tmp_path):
    path, before = old_run
    reader = subprocess.Popen(
        [sys.executable, "-c", "import h5py, sys, time\n"
         f"f = h5py.File({str(path)!r}, 'r'); print('open', flush=True)\n"
         "sys.stdin.readline()\n"
         "print(f['matrix'].shape[1], float(f['matrix'][-1].sum()), flush=True)"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "open"
        assert main(["run", *SMALL, "-r", "20", "--overwrite", "-o", str(path)]) == 0
        reader.stdin.write("\n")
        reader.stdin.flush()
        rows, _ = reader.stdout.readline().split()
        assert int(rows) == 16  # the reader kept reading the old file, undisturbed
    finally:
        reader.kill()
    with h5py.File(path) as f:
        assert f["matrix"].shape[1] == 20 and f["status"][()] == b"completed"


def test_plain_file_not_replaced_without_overwrite(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("precious")
    assert main(["run", *SMALL, "-o", str(path)]) == 2
    assert path.read_text() == "precious"


# -- a full disk -----------------------------------------------------------------------------


@contextlib.contextmanager
def small_tmpfs(tmp_path: Path, size: str = "20m"):
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "tmpfs"
    mnt.mkdir(parents=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                       capture_output=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {p.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(path: Path, leave: int = 0) -> None:
    """Fill the file system of ``path`` until ``leave`` bytes are free (or it is full)."""
    block = b"\1" * (1 << 16)
    with open(path, "wb", buffering=0) as f, contextlib.suppress(OSError):
        while os.statvfs(path.parent).f_bavail * os.statvfs(path.parent).f_frsize > leave:
            f.write(block)


def test_tmpfs_too_small_is_refused_before_writing(tmp_path, capsys):
    with small_tmpfs(tmp_path) as mnt:
        out = mnt / "x.h5"
        code = main(["run", "-q", "-b", "numpy", "-n", "78", "-r", "256", "-c", "256",
                     "-o", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and "GB are free" in err and len(err.strip().splitlines()) == 1
        assert list(mnt.iterdir()) == []


def test_tmpfs_filled_during_the_run(tmp_path, capsys):
    """Another process fills the disk mid-run: the space of the file was reserved, so the run
    completes; without the reservation (a file system that cannot reserve) it stops with exit 2
    and one line, and every frame before the full disk reads back."""
    with small_tmpfs(tmp_path) as mnt:
        out = mnt / "x.h5"
        proc = subprocess.Popen([*_cmd(), "run", "-q", "-b", "numpy", "-n", "30", "-r", "256",
                                 "-c", "256", "-e", "40", "-o", str(out)],
                                stderr=subprocess.PIPE, text=True)
        try:
            wait_for(proc, out, 2)
            fill(mnt / "filler")
            _, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
        assert proc.returncode == 0, err
        with h5py.File(out) as f:
            assert f["frames_written"][()] == 30 and f["status"][()] == b"completed"
        (mnt / "filler").unlink()
        out.unlink()

    ref = tmp_path / "ref.h5"
    args = ["run", "-q", "-b", "numpy", "-n", "60", "-r", "256", "-c", "256", "-e", "4"]
    assert main([*args, "-o", str(ref)]) == 0
    with small_tmpfs(tmp_path / "b") as mnt, pytest.MonkeyPatch.context() as mp:
        # as if another process filled the disk after the start: no reservation (a file
        # system that cannot), the start-up check passed, then room for ~15 frames only
        mp.setattr(layout, "RESERVE_SPACE", False)
        mp.setattr(layout.shutil, "disk_usage", lambda p: type("U", (), {"free": 1 << 40}))
        fill(mnt / "filler", leave=5 << 20)
        capsys.readouterr()
        code = main([*args, "-o", str(mnt / "x.h5")])
        err = capsys.readouterr().err
        assert code == 2 and "disk is full after" in err, err
        assert len(err.strip().splitlines()) == 1
        with h5py.File(mnt / "x.h5") as f, h5py.File(ref) as fr:
            n = int(f["frames_written"][()])
            assert 0 < n < 60 and f["status"][()] == b"disk full"
            assert np.array_equal(f["matrix"][:n], fr["matrix"][:n])
        (mnt / "filler").unlink()
        # with room again, the run resumes and ends as the one that never stopped
        assert main(["resume", "-q", str(mnt / "x.h5")]) == 0
        assert_same_run(ref, mnt / "x.h5")


def test_async_backend_runs_ahead_and_resumes_bit_for_bit(tmp_path):
    """JAX returns before the work is done: the loop computes the next block while a frame is
    written, except where a checkpoint needs that frame's own state."""
    if not backends.info("jax").available:
        pytest.skip("jax is not installed")
    args = ["-r", "24", "-c", "32", "-e", "7", "-b", "jax", "-q", "--checkpoint-every", "3",
            *RATES]
    assert main(["run", *args, "-n", "8", "-o", str(tmp_path / "a.h5")]) == 0
    assert main(["run", *args, "-n", "4", "-o", str(tmp_path / "b.h5")]) == 0
    with h5py.File(tmp_path / "b.h5") as f, h5py.File(tmp_path / "a.h5") as fa:
        slot, frames, steps = f["checkpoint/index"][...]
        assert (frames, steps) == (4, 28)  # the final one, at the end
        # the other slot: the checkpoint after 3 frames is frame 3's state, not the next's
        v3 = f["checkpoint/v"][1 - slot].astype(fa["matrix"].dtype)
        assert np.array_equal(v3, fa["matrix"][2]) and not np.array_equal(v3, fa["matrix"][3])
    assert main(["resume", str(tmp_path / "b.h5"), "-n", "8", "-q"]) == 0
    assert_same_run(tmp_path / "a.h5", tmp_path / "b.h5")


def test_wall_time_and_rate_leave_out_what_observers_do_at_the_end(tmp_path):
    """A video rendered once the run has finished (an observer's ``finish``) is not run time."""
    from grayscott.observers import Observer

    pause = 1.0

    class SlowFinish(Observer):
        def finish(self, ctx):
            time.sleep(pause)

    problem = gs.make_problem((16, 16))
    result = gs.run(problem, tmp_path / "w.h5", nbimage=2, nbextrastep=2, backend="numpy",
                    progress=False, observers=[SlowFinish()])
    assert result.completed and result.wall_seconds < pause
    with h5py.File(result.path) as f:
        assert f["wall_seconds"][()] < pause


def test_observer_stop_keeps_the_final_state_and_a_checkpoint(tmp_path):
    """An observer that ends the run (``ctx.stop_reason``) stops it cleanly, between frames:
    the state is whole, so it is saved as the final state and checkpointed for resume."""
    from grayscott.observers import Observer

    class StopAtTwo(Observer):
        def frame(self, ctx):
            if ctx.frame == 1:
                ctx.stop_reason = "enough"

    problem = gs.make_problem((16, 16))
    result = gs.run(problem, tmp_path / "s.h5", nbimage=5, nbextrastep=3, backend="numpy",
                    progress=False, checkpoint_every=0, observers=[StopAtTwo()])
    assert result.status == "stopped: enough" and result.frames_written == 2
    with h5py.File(result.path) as f:
        assert f["final_state_saved"][()] == 1
        assert np.array_equal(f["v_final"][...], f["matrix"][1])
        assert f["checkpoint/index"][1:].tolist() == [2, 6]


def test_lock_is_the_file_s_not_the_link_s(tmp_path):
    """`run` follows a symlinked output to its file: the lock and `info`'s writer pid must
    too, or a run on the file and a resume through the link write one file at once."""
    from grayscott.errors import OutputBusyError
    from grayscott.io.paths import OutputLock, holder

    real = tmp_path / "real.h5"
    real.write_bytes(b"")
    (tmp_path / "link.h5").symlink_to(real)
    with OutputLock(real):
        assert holder(tmp_path / "link.h5") == os.getpid()
        with pytest.raises(OutputBusyError, match="another run"), OutputLock(tmp_path / "link.h5"):
            pass
