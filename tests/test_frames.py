"""Asynchronous frames (:mod:`grayscott.backends.frames`): the one-frame-ahead loop, proved on a
fake asynchronous CPU backend that queues its work like a device stream and runs it only when a
frame is waited for."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import BACKEND_PARAMS, noisy_state, small_problem
from grayscott import backends
from grayscott.backends.frames import ReadyFrame, frames_ahead


class FakeStream:
    """A device stream: work is queued and runs in order, only when something waits for it."""

    def __init__(self, problem) -> None:
        self.inner = backends.create("numpy", problem)
        self.queue: list = []
        self.log: list[tuple[str, int]] = []
        self.blocks = 0
        self.frames = 0

    def set_state(self, u, v) -> None:
        self.inner.set_state(u, v)

    def advance(self, n: int) -> None:
        self.queue.append(lambda: self.inner.advance(n))
        self.log.append(("dispatch block", self.blocks))
        self.blocks += 1

    def request_v(self) -> FakeHandle:
        handle = FakeHandle(self, self.frames)
        self.frames += 1
        self.queue.append(handle.copy)
        return handle

    def run_until(self, handle: FakeHandle) -> None:
        while handle.value is None:
            self.queue.pop(0)()


class FakeHandle:
    def __init__(self, stream: FakeStream, index: int) -> None:
        self.stream, self.index, self.value = stream, index, None

    def copy(self) -> None:  # runs "on the stream", after the blocks queued before it
        self.value = self.stream.inner.get_v()

    def result(self) -> np.ndarray:
        self.stream.run_until(self)
        self.stream.log.append(("consume frame", self.index))
        return self.value


def plain_frames(problem, u, v, count, n):
    b = backends.create("numpy", problem)
    b.set_state(u, v)
    out = []
    for _ in range(count):
        b.advance(n)
        out.append(b.get_v())
    return out


@pytest.mark.parametrize("count", [1, 2, 5])
def test_frames_come_in_order_identical_to_the_plain_loop(count):
    problem = small_problem((9, 11))
    u, v = noisy_state(problem.shape)
    fake = FakeStream(problem)
    fake.set_state(u, v)
    got = list(frames_ahead(lambda: fake.advance(3), fake.request_v, count))
    assert [i for i, _ in got] == list(range(count))
    want = plain_frames(problem, u, v, count, 3)
    for (_, g), w in zip(got, want, strict=True):
        assert np.array_equal(g, w)
    assert fake.blocks == count  # never a block more than the frames asked for
    assert len({id(g) for _, g in got}) == count  # each frame its own array


def test_next_block_is_dispatched_before_the_frame_is_consumed():
    problem = small_problem((9, 11))
    fake = FakeStream(problem)
    fake.set_state(*noisy_state(problem.shape))
    for i, _ in frames_ahead(lambda: fake.advance(2), fake.request_v, 4):
        if i + 1 < 4:  # while the caller holds frame i, block i + 1 is already queued
            assert ("dispatch block", i + 1) in fake.log
    log = fake.log
    for i in range(3):
        assert log.index(("dispatch block", i + 1)) < log.index(("consume frame", i))
    # ...and the frame is still the one of its own block, not of the next one (checked above
    # against the plain loop; here: the queued block had not run when the frame was copied).
    assert log[-1] == ("consume frame", 3)


def test_no_block_ahead_where_the_caller_needs_the_state():
    problem = small_problem((9, 11))
    u, v = noisy_state(problem.shape)
    fake = FakeStream(problem)
    fake.set_state(u, v)
    checkpoints = {1, 2}
    got, blocks = [], {}
    for i, frame in frames_ahead(lambda: fake.advance(2), fake.request_v, 5,
                                 ahead=lambda i: i not in checkpoints):
        got.append(frame)
        blocks[i] = fake.blocks
    # At a checkpoint the state is that of the frame (nothing dispatched beyond it), elsewhere
    # the next block is on its way; the last frame never has one.
    assert blocks == {0: 2, 1: 2, 2: 3, 3: 5, 4: 5}
    want = plain_frames(problem, u, v, 5, 2)
    assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


def test_stopping_early_leaves_at_most_one_block_in_flight():
    problem = small_problem((9, 11))
    fake = FakeStream(problem)
    fake.set_state(*noisy_state(problem.shape))
    gen = frames_ahead(lambda: fake.advance(2), fake.request_v, 10)
    for i, _ in gen:
        if i == 2:
            break
    gen.close()
    assert fake.blocks == 4


def test_zero_frames_does_nothing():
    fake = FakeStream(small_problem())
    assert list(frames_ahead(lambda: fake.advance(1), fake.request_v, 0)) == []
    assert fake.blocks == 0


def test_ready_frame_is_its_value():
    v = np.arange(6.0).reshape(2, 3)
    assert ReadyFrame(v).result() is v


# -- real backends ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", BACKEND_PARAMS)
def test_requested_frame_is_v_when_requested(name):
    """The handle gives V (request_v) or (U, V) (request_state) as they were when requested,
    even once the backend has moved on (a device backend copies them aside), as writable
    arrays of the problem's dtype."""
    problem = small_problem((9, 11), dtype="float64")
    u, v = noisy_state(problem.shape)
    b = backends.create(name, problem)
    b.set_state(u, v)
    b.advance(3)
    want = b.get_state()
    handle, state = b.request_v(), b.request_state()
    b.advance(4)
    got = handle.result()
    assert got.dtype == problem.dtype and got.flags.writeable
    assert np.array_equal(got, want[1])
    for g, w in zip(state.result(), want, strict=True):
        assert g.dtype == problem.dtype and np.array_equal(g, w)
    assert not np.array_equal(b.get_v(), want[1])  # it did move on


@pytest.mark.parametrize("name", ["jax", "jax-3x3"])
def test_jax_frames_ahead_equal_the_plain_loop(name):
    pytest.importorskip("jax")
    problem = small_problem((16, 20))
    u, v = noisy_state(problem.shape)
    b = backends.create(name, problem)
    b.set_state(u, v)
    got = [f for _, f in frames_ahead(lambda: b.advance(5), b.request_v, 4)]
    ref = backends.create(name, problem)
    ref.set_state(u, v)
    for g in got:
        ref.advance(5)
        assert np.array_equal(g, ref.get_v())


@pytest.mark.parametrize("name", ["jax", "jax-3x3"])
def test_jax_loop_donates_its_state(name):
    """The time loop reuses the buffers of U and V (donated), so the device holds one copy of
    the state plus the loop's own double buffer, not a second copy of the input."""
    pytest.importorskip("jax")
    b = backends.create(name, small_problem((16, 20)))
    b.set_state(*noisy_state((16, 20)))
    b.compile()
    U, V = b.U, b.V
    b.advance(3)
    assert U.is_deleted() and V.is_deleted()


# -- the driver's loop -----------------------------------------------------------------------


class AsyncNumpy(backends.info("numpy").load()):
    """numpy declared asynchronous: the driver runs it one block ahead of the frame."""

    name = "async-numpy"
    capabilities = backends.Capabilities(synchronous=False)

    def synchronize(self) -> None:
        pass


class Recorder:
    """Keeps every frame's V and state; wants the state at the frames in ``late``, but only
    when asked a second time (as a stop signal arriving after the loop chose to run ahead)."""

    needs_v = True

    def __init__(self, late=()) -> None:
        self.late, self.asked, self.v, self.u = set(late), {}, {}, {}

    def wants_state(self, ctx) -> bool:
        n = self.asked[ctx.frame] = self.asked.get(ctx.frame, 0) + 1
        return ctx.frame in self.late and n > 1

    def start(self, ctx) -> None:
        pass

    def frame(self, ctx) -> None:
        self.v[ctx.frame] = ctx.v.copy()
        self.u[ctx.frame] = None if ctx.u is None else ctx.u.copy()

    def finish(self, ctx) -> None:
        pass


@pytest.mark.parametrize("late", [(), (2,), (0, 3)])
def test_driver_frames_ahead_are_the_frames_of_their_step(late):
    from grayscott.loop import drive
    from grayscott.observers import RunContext
    from grayscott.simulation import Simulation

    problem = small_problem((9, 11))
    u, v = noisy_state(problem.shape)
    rec = Recorder(late)
    sim = Simulation(problem, AsyncNumpy(problem), state=(u, v))
    drive(sim, [rec], RunContext(sim, 5, 3))
    want = plain_frames(problem, u, v, 5, 3)
    for i in range(5):
        assert np.array_equal(rec.v[i], want[i]), f"frame {i}"
        # A state is handed over only when it is the frame's own (not a block further).
        if rec.u[i] is not None:
            ref = backends.create("numpy", problem)
            ref.set_state(u, v)
            ref.advance(3 * (i + 1))
            assert np.array_equal(rec.u[i], ref.get_state()[0])


class LoggingAsyncNumpy(AsyncNumpy):
    """Logs each block dispatched and each state handed out, to see what ran ahead of what."""

    name = "logging-async-numpy"

    def __init__(self, problem, **options) -> None:
        super().__init__(problem, **options)
        self.log: list[tuple[str, int]] = []
        self.blocks = 0

    def _advance(self, nsteps: int) -> None:
        self.blocks += 1
        self.log.append(("dispatch block", self.blocks - 1))
        super()._advance(nsteps)


class Checkpoints(Recorder):
    """Wants the whole state at every frame (a checkpoint), logs when it gets it."""

    def __init__(self, backend) -> None:
        super().__init__()
        self.backend = backend

    def wants_state(self, ctx) -> bool:
        return True

    def frame(self, ctx) -> None:
        super().frame(ctx)
        self.backend.log.append(("checkpoint", ctx.frame))


def test_checkpoints_do_not_stop_the_device():
    """With a checkpoint at every frame, block i + 1 is still dispatched before frame i's
    state is handed to the observers, and that state is frame i's own."""
    from grayscott.loop import drive
    from grayscott.observers import RunContext
    from grayscott.simulation import Simulation

    problem = small_problem((9, 11))
    u, v = noisy_state(problem.shape)
    backend = LoggingAsyncNumpy(problem)
    rec = Checkpoints(backend)
    sim = Simulation(problem, backend, state=(u, v))
    drive(sim, [rec], RunContext(sim, 4, 3))
    log = backend.log
    for i in range(3):
        assert log.index(("dispatch block", i + 1)) < log.index(("checkpoint", i))
    ref = backends.create("numpy", problem)
    ref.set_state(u, v)
    for i in range(4):
        ref.advance(3)
        U, V = ref.get_state()
        assert np.array_equal(rec.u[i], U) and np.array_equal(rec.v[i], V), f"frame {i}"


def test_run_and_resume_on_an_asynchronous_backend(tmp_path):
    """jax-3x3 is asynchronous: `run` computes one block ahead, checkpoints included; the file's
    frames, checkpoints and final state are those of the plain loop, and a resume from a
    checkpoint ends bit for bit like the run that never stopped."""
    pytest.importorskip("jax")
    from grayscott.io.readers import read_final_state, read_frames
    from grayscott.physics import make_initial
    from grayscott.runs import resume, run

    problem = small_problem((16, 20), border="periodic")
    path = tmp_path / "run.h5"
    run(problem, path, nbimage=5, nbextrastep=4, backend="jax-3x3", initial="noise",
        progress=False)
    ref = backends.create("jax-3x3", problem)
    ref.set_state(*make_initial("noise", problem.shape, 0))
    want = []
    for _ in range(5):
        ref.advance(4)
        want.append(ref.get_v())
    frames = read_frames(path)
    assert all(np.array_equal(f, w) for f, w in zip(frames, want, strict=True))
    u_final, v_final = read_final_state(path)
    assert np.array_equal(v_final, want[-1]) and np.array_equal(u_final, ref.get_state()[0])
    # A run of 2 frames extended to 5 by resume continues from its checkpoint: the same file.
    cut = tmp_path / "cut.h5"
    run(problem, cut, nbimage=2, nbextrastep=4, backend="jax-3x3", initial="noise",
        progress=False)
    resume(cut, nbimage=5, progress=False)
    assert np.array_equal(read_frames(cut), frames)
    assert all(np.array_equal(a, b) for a, b in zip(read_final_state(cut), (u_final, v_final),
                                                    strict=True))
