"""The run loop computes the next block in a worker thread while a frame is written, for
backends whose compiled blocks release the GIL (Numba's): same file, bit for bit, as the
plain loop; the overlap really happens; a stop or a failure leaves the state whole."""

from __future__ import annotations

import os
import signal
import threading

import h5py
import numpy as np
import pytest

import grayscott as gs
from grayscott import loop
from grayscott.observers import Interrupted, Observer
from test_durable import DATASETS

pytest.importorskip("numba", reason="numba is not installed: pip install 'grayscott[numba]'")

PARAMS = gs.Parameters(Du=0.16, Dv=0.08, F=0.035, k=0.06, dt=0.9)


class Plain(Observer):
    """An observer that may use the backend in ``frame``: the loop then runs the plain
    loop, the reference here."""


def _problem():
    return gs.make_problem((24, 32), params=PARAMS)


def _spy(monkeypatch):
    """Count the runs that took the threaded loop."""
    calls = []
    real = loop._frames_in_thread

    def spy(*args, **kwargs):
        calls.append(1)
        yield from real(*args, **kwargs)

    monkeypatch.setattr(loop, "_frames_in_thread", spy)
    return calls


def _same_files(a, b, names=DATASETS):
    with h5py.File(a) as fa, h5py.File(b) as fb:
        for name in (*names, "checkpoint/u", "checkpoint/v", "checkpoint/index"):
            assert np.array_equal(fa[name][()], fb[name][()]), name
        assert fa["status"][()] == fb["status"][()]


@pytest.mark.parametrize("backend", ["numba", "numba-parallel", "numba-blocked"])
def test_threaded_loop_writes_the_plain_loop_s_file(backend, tmp_path, monkeypatch):
    calls = _spy(monkeypatch)
    kw = dict(nbimage=7, nbextrastep=5, backend=backend, progress=False, checkpoint_every=3,
              initial="noise")
    threaded = gs.run(_problem(), tmp_path / "t.h5", **kw)
    assert len(calls) == 1
    plain = gs.run(_problem(), tmp_path / "p.h5", observers=[Plain()], **kw)
    assert len(calls) == 1  # the plain loop this time
    assert threaded.completed and plain.completed
    _same_files(tmp_path / "t.h5", tmp_path / "p.h5")


def test_blocks_run_in_the_worker_while_the_frame_is_handled(tmp_path, monkeypatch):
    """Frame i's callback waits for block i + 1 to start: it can only if that block runs in
    another thread meanwhile (the plain loop would wait here forever, hence the timeout)."""
    from grayscott.backends.numba_loops import NumbaBackend

    started = [threading.Event() for _ in range(6)]
    threads = set()
    real = NumbaBackend.advance
    count = [0]

    def advance(self, nsteps):
        threads.add(threading.current_thread().name)
        started[count[0]].set()
        count[0] += 1
        return real(self, nsteps)

    monkeypatch.setattr(NumbaBackend, "advance", advance)
    overlapped = []

    def on_frame(i, v):
        if i + 1 < 5:
            overlapped.append(started[i + 1].wait(timeout=10))

    result = gs.run(_problem(), tmp_path / "o.h5", nbimage=5, nbextrastep=2, backend="numba",
                    progress=False, checkpoint_every=0, on_frame=on_frame)
    assert result.completed and count[0] == 5
    assert overlapped == [True] * 4
    assert threading.current_thread().name not in threads


def test_a_signal_stops_cleanly_and_resume_is_bit_for_bit(tmp_path):
    """SIGTERM at frame 2 of a threaded run: frames up to the stop are kept, the state is
    whole (no torn buffers), and resume ends where an uninterrupted run ends."""
    kw = dict(nbextrastep=5, backend="numba-parallel", progress=False, checkpoint_every=2,
              initial="noise")
    ref = gs.run(_problem(), tmp_path / "ref.h5", nbimage=8, **kw)

    def stop(i, v):
        if i == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(Interrupted):
        gs.run(_problem(), tmp_path / "cut.h5", nbimage=8, on_frame=stop, **kw)
    with h5py.File(tmp_path / "cut.h5") as f:
        assert f["status"][()] == b"interrupted" and int(f["frames_written"][()]) == 3
    gs.resume(tmp_path / "cut.h5", progress=False)
    _same_files(ref.path, tmp_path / "cut.h5", names=("matrix", "u_final", "v_final"))


def test_a_failing_block_fails_the_run_and_leaves_no_checkpoint_of_it(tmp_path, monkeypatch):
    from grayscott.backends.numba_loops import NumbaBackend

    real = NumbaBackend.advance
    count = [0]

    def advance(self, nsteps):
        count[0] += 1
        if count[0] == 4:
            raise RuntimeError("injected block failure")
        return real(self, nsteps)

    monkeypatch.setattr(NumbaBackend, "advance", advance)
    with pytest.raises(RuntimeError, match="injected"):
        gs.run(_problem(), tmp_path / "f.h5", nbimage=6, nbextrastep=2, backend="numba",
               progress=False, checkpoint_every=1)
    with h5py.File(tmp_path / "f.h5") as f:
        assert int(f["frames_written"][()]) == 3
        assert f["status"][()].startswith(b"failed: RuntimeError")
        assert f["checkpoint/index"][1] <= 3 and f["final_state_saved"][()] == 0
