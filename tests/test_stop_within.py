"""``--stop-within SECONDS``: a stop signal cuts the frame in progress at a step boundary, the
state of that step is saved (a mid-frame checkpoint) and ``resume`` ends bit for bit as the run
that never stopped, with every frame counted before the stop unchanged."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from grayscott import backends
from grayscott.cli import main
from grayscott.observers import Interrupted, Observer, RunContext
from grayscott.physics import make_problem
from grayscott.runs import resume, run
from grayscott.simulation import Simulation

GRAYSCOTT = [sys.executable, "-m", "grayscott"]


class SignalAt(Observer):
    """Sends SIGTERM once the backend has done ``step`` steps: a signal that lands in the
    middle of a frame, at a known place, whatever the machine's speed."""

    frame_uses_backend = False  # the worker thread's overlap stays as in a real run

    def __init__(self, step: int) -> None:
        self.step = step

    def start(self, ctx: RunContext) -> None:
        backend, done = ctx.sim.backend, [ctx.sim.steps_done]
        inner = backend.advance
        stop = ctx.pacer.stop

        def advance(n: int) -> None:
            inner(n)
            done[0] += n
            if done[0] >= self.step > done[0] - n:
                # To the thread that steps: in a worker thread, as the kernel may hand a
                # signal to any thread; Python's handler then waits for the main thread.
                signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
                # Wait for that handler: a signal from outside lands while a sub-block runs,
                # not in the microseconds after it.
                deadline = time.monotonic() + 10
                while stop.signum is None and time.monotonic() < deadline:
                    time.sleep(0.001)

        backend.advance = advance  # type: ignore[method-assign]


def _paths(backend: str) -> pytest.param:
    available = backend in backends.available()
    return pytest.param(backend, id=backend,
                        marks=pytest.mark.skipif(not available, reason=f"needs {backend}"))


def _same(a: Path, b: Path, names=("matrix", "u_final", "v_final", "steps_done",
                                   "frames_written", "status")) -> None:
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        for name in names:
            assert fa[name][()].tobytes() == fb[name][()].tobytes(), name


# numpy: the plain loop; numba: blocks in a worker thread, overlapped with the writes; jax:
# dispatched asynchronously (the device loop).
@pytest.mark.parametrize("backend", [_paths("numpy"), _paths("numba"), _paths("jax")])
def test_a_cut_frame_resumes_bit_for_bit(tmp_path: Path, backend: str) -> None:
    problem = make_problem((40, 48), dtype="float64")
    e = 400
    ref = tmp_path / "ref.h5"
    run(problem, ref, nbimage=3, nbextrastep=e, backend=backend, progress=False)
    out = tmp_path / "cut.h5"
    with pytest.raises(Interrupted):
        run(problem, out, nbimage=3, nbextrastep=e, backend=backend, progress=False,
            stop_within=1e-4, observers=[SignalAt(e + 350)])  # late in frame 1: the
    # main thread has handled frame 0 and waits for frame 1 (the threaded loop)
    with h5py.File(out, "r") as f, h5py.File(ref, "r") as r:  # plain h5py
        assert f["status"][()] == b"interrupted"
        assert int(f["frames_written"][()]) == 1
        assert f["matrix"][0].tobytes() == r["matrix"][0].tobytes()  # the frame counted
        assert not f["matrix"][1].any()  # the cut frame is not written
        slot, frames, steps = (int(x) for x in f["checkpoint/index"][...])
        u, v = f["checkpoint/u"][slot], f["checkpoint/v"][slot]
        assert frames == 1 and e + 350 <= steps < 2 * e, steps  # a step inside frame 1
    # the checkpoint is the state after exactly that many steps
    sim = Simulation(problem, "numpy")
    sim.advance(steps)
    su, sv = sim.state
    if backend == "numpy":
        assert su.tobytes() == u.tobytes() and sv.tobytes() == v.tobytes()
    else:
        np.testing.assert_allclose(sv, v, rtol=0, atol=1e-12)
    result = resume(out, progress=False)
    assert result.completed and result.frames_written == 3
    _same(out, ref)


def test_a_stop_at_a_frame_s_end_is_an_ordinary_checkpoint(tmp_path: Path) -> None:
    problem = make_problem((32, 32))
    out = tmp_path / "end.h5"
    with pytest.raises(Interrupted):
        run(problem, out, nbimage=3, nbextrastep=50, backend="numpy", progress=False,
            stop_within=1e-4, observers=[SignalAt(100)])  # the last step of frame 1
    with h5py.File(out, "r") as f:
        assert list(f["checkpoint/index"][1:]) == [2, 100]
        assert f["final_state_saved"][()] == 1


def test_resume_itself_cut_again_then_finished(tmp_path: Path) -> None:
    problem = make_problem((32, 40))
    e = 300
    ref, out = tmp_path / "ref.h5", tmp_path / "twice.h5"
    run(problem, ref, nbimage=3, nbextrastep=e, backend="numpy", progress=False)
    with pytest.raises(Interrupted):
        run(problem, out, nbimage=3, nbextrastep=e, backend="numpy", progress=False,
            stop_within=1e-4, observers=[SignalAt(100)])  # in frame 0
    with pytest.raises(Interrupted):  # resumed at step ~100, cut again in frame 1
        resume(out, progress=False, stop_within=1e-4, observers=[SignalAt(e + 20)])
    with h5py.File(out, "r") as f:
        assert int(f["frames_written"][()]) == 1
        assert e + 20 <= int(f["checkpoint/index"][2]) < 2 * e
    resume(out, progress=False)
    _same(out, ref)


def test_info_says_how_far_into_its_frame_the_state_is(tmp_path: Path, capsys) -> None:
    problem = make_problem((32, 32))
    out = tmp_path / "i.h5"
    with pytest.raises(Interrupted):
        run(problem, out, nbimage=2, nbextrastep=100, backend="numpy", progress=False,
            stop_within=1e-4, observers=[SignalAt(140)])
    assert main(["info", str(out)]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if "resumable" in ln][0]
    assert "from frame 1 (step 14" in line and "of the frame's 100 steps done" in line, line


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf", ""])
def test_a_bad_value_is_one_line_and_exit_2(tmp_path: Path, capsys, value: str) -> None:
    for args in (["run", "-q", "-r", "16", "-c", "16", "-n", "1", "-o", str(tmp_path / "x.h5")],
                 ["resume", str(tmp_path / "x.h5")]):
        assert main([*args, "--stop-within", value]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--stop-within" in err[0], err
    assert not (tmp_path / "x.h5").exists()


def _wait_running(out: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until the file exists and says "running" (the loop has started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with h5py.File(out, "r") as f:
                if f["status"][()] == b"running":
                    return
        except (OSError, KeyError):
            pass
        time.sleep(0.1)
    raise AssertionError("the run did not start")


def _terminate_in_frame(proc: subprocess.Popen, out: Path) -> tuple[str, float]:
    """SIGTERM to ``proc`` 2 s into its first frame; its stderr and the seconds it took to end
    after the signal."""
    try:
        _wait_running(out, proc)
        time.sleep(2)
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        _, err = proc.communicate(timeout=120)
        return err, time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow
def test_sigterm_in_a_long_frame_ends_within_the_bound(tmp_path: Path) -> None:
    """Frames of many seconds (about 20 s here, longer on a loaded machine): SIGTERM in the
    first one ends the process within a few seconds, with the state of the step it reached."""
    out = tmp_path / "long.h5"
    args = ["-r", "256", "-c", "256", "-e", "100000", "--backend", "numpy"]
    proc = subprocess.Popen([*GRAYSCOTT, "run", "-q", *args, "-n", "2", "-o", str(out),
                             "--stop-within", "2"], stderr=subprocess.PIPE, text=True)
    err, took = _terminate_in_frame(proc, out)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert took < 10, (took, err)  # without --stop-within: the rest of the frame
    with h5py.File(out, "r") as f:
        assert f["status"][()] == b"interrupted"
        assert int(f["frames_written"][()]) == 0
        slot, frames, steps = (int(x) for x in f["checkpoint/index"][...])
        assert frames == 0 and 0 < steps < 100000
        u, v = f["checkpoint/u"][slot], f["checkpoint/v"][slot]
    assert f"stopped by SIGTERM at step {steps};" in err, err  # the step the state is at
    sim = Simulation(make_problem((256, 256)), "numpy")
    sim.advance(steps)
    su, sv = sim.state
    assert su.tobytes() == u.tobytes() and sv.tobytes() == v.tobytes()


needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None
    or not (Path(sys.executable).parent / "mpiexec").exists(),
    reason="needs mpi4py and mpiexec: pip install 'grayscott[mpi]'")


def _mpi(*args: str) -> subprocess.Popen:
    env = {**os.environ, "GRAYSCOTT_MPI": "1"}
    return subprocess.Popen([str(Path(sys.executable).parent / "mpiexec"), "-n", "2",
                             *GRAYSCOTT, *args], env=env, stderr=subprocess.PIPE, text=True)


def _counted(out: Path) -> int:
    try:
        with h5py.File(out, "r") as f:
            return int(f["frames_written"][()])
    except (OSError, KeyError):
        return 0


@needs_mpi
@pytest.mark.slow
def test_mpi_sigterm_in_a_long_frame_ends_within_the_bound(tmp_path: Path) -> None:
    """Two ranks, frames of many seconds: SIGTERM to mpiexec (it forwards it to the ranks)
    ends every rank within the bound, at the same step, with the whole state of that step."""
    out = tmp_path / "long.h5"
    proc = _mpi("run", "-q", "-r", "256", "-c", "256", "-e", "100000", "--backend", "numpy",
                "-n", "2", "-o", str(out), "--stop-within", "2")
    err, took = _terminate_in_frame(proc, out)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert took < 10, (took, err)
    assert err.count("stopped by SIGTERM") == 1, err  # rank 0 speaks for all
    with h5py.File(out, "r") as f:
        assert f["status"][()] == b"interrupted"
        slot, frames, steps = (int(x) for x in f["checkpoint/index"][...])
        assert frames == 0 and 0 < steps < 100000
        u, v = f["checkpoint/u"][slot], f["checkpoint/v"][slot]
    assert f"stopped by SIGTERM at step {steps};" in err, err  # the step the state is at
    sim = Simulation(make_problem((256, 256)), "numpy")  # one process: the same bits
    sim.advance(steps)
    su, sv = sim.state
    assert su.tobytes() == u.tobytes() and sv.tobytes() == v.tobytes()


@needs_mpi
def test_mpi_cut_frame_resumes_bit_for_bit(tmp_path: Path) -> None:
    """Two ranks: SIGTERM early in frame 1 cuts it; the frame counted is the one-process
    run's, and a resume on two ranks ends bit for bit as the one-process run that never
    stopped."""
    out, ref = tmp_path / "cut.h5", tmp_path / "ref.h5"
    args = ["-q", "-r", "48", "-c", "48", "-e", "10000", "--backend", "numpy", "-n", "2"]
    proc = _mpi("run", *args, "-o", str(out), "--stop-within", "0.05")
    try:
        deadline = time.monotonic() + 120
        while _counted(out) < 1 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)  # early in frame 1 (a frame takes seconds)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    with h5py.File(out, "r") as f:
        assert int(f["frames_written"][()]) == 1
        _, frames, steps = (int(x) for x in f["checkpoint/index"][...])
        assert frames == 1 and 10000 < steps < 20000, steps
    subprocess.run([*GRAYSCOTT, "run", *args, "-o", str(ref)], check=True, timeout=120)
    with h5py.File(out, "r") as f, h5py.File(ref, "r") as r:
        assert f["matrix"][0].tobytes() == r["matrix"][0].tobytes()
    proc = _mpi("resume", "-q", str(out))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    _same(out, ref)


class _Clock:
    """A clock that only advance() moves: ``per_step`` seconds a step."""

    def __init__(self, per_step: float) -> None:
        self.now, self.per_step, self.calls = 0.0, per_step, []

    def advance(self, m: int) -> None:
        self.calls.append(m)
        self.now += m * self.per_step


def test_the_pacer_sizes_sub_blocks_from_the_measured_step_time(monkeypatch) -> None:
    from grayscott.observers import StopSignal, pacing

    clock = _Clock(2**-7)  # 7.8 ms a step, SECONDS = 1: sub-blocks of 64 steps
    monkeypatch.setattr(pacing.time, "perf_counter", lambda: clock.now)
    stop = StopSignal(within=1.0)
    pacer = pacing.Pacer(1.0, stop)
    assert pacer.advance(clock.advance, 1000) == 1000
    assert sum(clock.calls) == 1000
    assert clock.calls[:8] == [1, 2, 4, 8, 16, 32, 64, 64]  # doubles at most, to the target
    assert max(m * clock.per_step for m in clock.calls) <= pacer.target
    clock.calls.clear()
    stop.signum = signal.SIGTERM  # a stop: the next sub-block is the last
    assert pacer.advance(clock.advance, 1000) == 64 and pacer.signum == signal.SIGTERM
    stop.signum, pacer.signum = None, None
    clock.calls.clear()
    assert pacer.advance(clock.advance, 30) == 30 and clock.calls == [30]  # a short frame:
    # one call, as without pacing


@pytest.mark.skipif("numba" not in backends.available(), reason="needs numba")
def test_paced_blocks_still_run_in_the_worker_while_the_frame_is_written(tmp_path: Path,
                                                                        monkeypatch) -> None:
    """Frame i's callback waits for a step of frame i + 1: it comes only if the next block
    runs in the worker thread meanwhile, sub-blocks and all (the plain loop would wait here
    until the timeout)."""
    from grayscott.backends.numba_loops import NumbaBackend

    real = NumbaBackend.advance
    done, names = [0], set()
    moved = threading.Condition()

    def advance(self, nsteps):
        names.add(threading.current_thread().name)
        real(self, nsteps)
        with moved:
            done[0] += nsteps
            moved.notify_all()

    monkeypatch.setattr(NumbaBackend, "advance", advance)
    overlapped = []

    def on_frame(i: int, v: np.ndarray) -> None:
        if i + 1 < 4:  # a step of frame i + 1, while frame i is in hand
            with moved:
                overlapped.append(moved.wait_for(lambda: done[0] > (i + 1) * 200, 10))

    result = run(make_problem((24, 32)), tmp_path / "o.h5", nbimage=4, nbextrastep=200,
                 backend="numba", progress=False, on_frame=on_frame, stop_within=1e-4)
    assert result.completed and overlapped == [True] * 3
    assert names and threading.current_thread().name not in names
