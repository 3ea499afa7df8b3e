"""A recorded session: the school's HDF5 layout for its frames, plus what replays it.

The file is a run file (:class:`~grayscott.io.runfile.RunFile`, crash-safe as a run's: every
structure exists before the first frame, a frame is flushed before ``frames_written`` counts
it), so ``h5py.File(path)["matrix"][i]`` is frame ``i`` and ``grayscott info`` and ``render``
read it. Frame ``i`` is V after ``step[i]`` steps of the session (the ``step`` coordinate is
exact: steps per frame may change while recording). Beside it, the group ``explore``:

* ``u0``, ``v0``: the state when the recording started (after ``steps_before`` steps);
* ``timeline_step``, ``timeline_op``, ``timeline_count``: the operations applied while recording
  (JSON: ``params``, ``reset``, ``brush``, ``steps``; see :mod:`.messages`) and the step count
  at which each was applied, the first ``timeline_count`` of them valid; an operation is counted
  with the first frame computed after it;
* attribute ``session``: JSON of the shape, settings, backend and its options, dtype and steps
  per frame at the start.

As for a run, all the room is made before the file holds data (``frames`` frames, and
:data:`OPS_PER_FRAME` operations per frame), and nothing in its structure changes afterwards:
a recording that fills its room stops there, with everything counted kept; ``matrix`` keeps its
planned length and ``frames_written`` says how many frames hold data. The file is made beside
the output and takes its name at once, or, when it replaces a file (``--overwrite``), once it
holds its first frame; the output is locked while it is written
(:class:`~grayscott.io.paths.OutputLock`).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GrayScottError
from ..io.layout import _early_dataset, _reserve, check_output_path, estimated_bytes
from ..io.paths import OutputLock, temporary_path
from ..io.readers import open_run
from ..io.runfile import RunFile
from ..provenance import file_versions, now_utc
from .messages import check_op

GROUP = "explore"
#: Frames a recording has room for unless told otherwise (``--record-frames``).
DEFAULT_FRAMES = 600
#: Room in the timeline per frame of room (a brush drag sends a few dabs per frame).
OPS_PER_FRAME = 16
MIN_OPS = 4096
#: Bytes of one timeline operation (JSON); a brush dab needs about 70.
OP_BYTES = 256


class RecordingFull(GrayScottError):
    """The recording has no room left; what it counted is kept."""


class Recorder:
    """Writes one recording; :meth:`frame` after each frame, :meth:`close` at the end."""

    def __init__(self, run: RunFile, lock: OutputLock, publish_to: Path | None) -> None:
        self.run = run
        self.lock = lock
        self.publish_to = publish_to  # the name it takes at its first frame (None: has it)
        self.group = run.file[GROUP]
        self.frames = 0
        self.events = 0
        self.pending: list[tuple[int, dict[str, Any]]] = []
        self.started = time.perf_counter()

    @classmethod
    def start(cls, path: str | os.PathLike, session: Any, overwrite: bool = False,
              attrs: dict[str, Any] | None = None,
              frames: int = DEFAULT_FRAMES) -> Recorder:
        """Make the file at ``path``, with room for ``frames`` frames, for a session as it is
        now (its state is ``u0``, ``v0``); refused at once if the disk cannot hold it."""
        shape = session.shape
        ops = max(MIN_OPS, OPS_PER_FRAME * frames)
        path = check_output_path(path, overwrite, estimated_bytes(
            frames, shape, np.dtype("float32"), session.dtype) + ops * (OP_BYTES + 8),
            fewer="frames (--record-frames)")
        lock = OutputLock(path).acquire()
        try:
            return cls._create(path, session, attrs, lock, frames, ops)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _create(cls, path: Path, session: Any, attrs: dict[str, Any] | None,
                lock: OutputLock, frames: int, ops: int) -> Recorder:
        existed = path.exists()
        where = temporary_path(path)
        shape = session.shape
        u0, v0 = session.state
        s = session.settings
        attrs = {**s, "stencil_weights": _weights(s["stencil"]), "nbrow": shape[0],
                 "nbcol": shape[1], "initial": "state", "seed": session.seed,
                 "backend": session.backend_name, "threads": session.backend.threads,
                 "dtype": session.dtype.name, "output_dtype": "float32", "started": now_utc(),
                 "checkpoint_every": 0, **file_versions(session.backend_name),
                 **(attrs or {})}
        run = RunFile.create(where, name=path, nbimage=frames,
                             nbextrastep=session.steps_per_frame, dt=s["dt"], shape=shape,
                             output_dtype="float32", state_dtype=session.dtype, attrs=attrs,
                             steps_before=session.steps)
        try:
            g = run.file.create_group(GROUP)
            for name, x in (("u0", u0), ("v0", v0)):
                _early_dataset(g, name, shape, session.dtype, None, fill=0)[...] = x
            _early_dataset(g, "timeline_step", (ops,), np.dtype("int64"), None, fill=-1)
            text = _early_dataset(g, "timeline_op", (ops,), np.dtype(f"S{OP_BYTES}"), None)
            text[...] = np.zeros(ops, f"S{OP_BYTES}")  # written, not a (garbled) fill value
            _early_dataset(g, "timeline_count", (), np.dtype("int64"), None)[()] = 0
            g.attrs["session"] = json.dumps(session.describe())
            g.attrs["time_before"] = session.time
            g.attrs["description"] = (
                "u0, v0: the state when recording started; timeline_op[i] (JSON) was applied "
                "after timeline_step[i] steps; grayscott replay recomputes the frames")
            run.set_status("recording")
            run.flush()
            _reserve(where, path)  # the group's space too, before any frame
        except BaseException:
            run.close()
            where.unlink()
            raise
        if not existed:  # nothing to protect: it takes the name now (made whole beside it)
            os.replace(where, path)
            run.path = path
        return cls(run, lock, path if existed else None)

    def event(self, step: int, op: dict[str, Any]) -> None:
        """An operation applied after ``step`` steps (written with the next frame)."""
        self.pending.append((step, op))

    def frame(self, v: np.ndarray, steps: int, sim_time: float) -> None:
        """Write the next frame and the operations before it, then count them."""
        run, g, i = self.run, self.group, self.frames
        if i == run.matrix.shape[0]:
            raise RecordingFull(f"the recording is full ({i} frames; --record-frames)")
        ops = [json.dumps(op, separators=(",", ":")).encode() for _, op in self.pending]
        if any(len(b) > OP_BYTES for b in ops):
            raise GrayScottError("a timeline operation is too long to record")
        end = self.events + len(ops)
        if end > g["timeline_op"].shape[0]:
            raise RecordingFull(f"the recording's timeline is full ({self.events} changes)")
        try:
            if ops:
                g["timeline_op"][self.events:end] = np.array(ops, dtype=f"S{OP_BYTES}")
                g["timeline_step"][self.events:end] = [s for s, _ in self.pending]
            run.file["step"][i] = steps
            run.file["time"][i] = sim_time
        except (OSError, RuntimeError, ValueError):
            run.abandon()  # as RunFile does with a refused write: the last one
            raise
        run.write_frame(i, v)
        run.flush()
        try:
            g["timeline_count"][()] = end  # counted with the frame, after both are in the file
        except (OSError, RuntimeError, ValueError):
            run.abandon()
            raise
        run.commit(i + 1, steps, time.perf_counter() - self.started)
        self.frames, self.events, self.pending = i + 1, end, []
        if self.publish_to is not None:  # the file it replaces is kept until now
            os.replace(run.path, self.publish_to)
            run.path, self.publish_to = self.publish_to, None

    def close(self, status: str, state: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """End the recording: the last state, then the status (no change of structure)."""
        run = self.run
        try:
            if state is not None and all(np.isfinite(x).all() for x in state):
                run.write_final(*state)
            run.set_status(status)
        finally:
            try:
                run.close()
            finally:
                if self.publish_to is not None:  # no frame: the file it would replace stays
                    with contextlib.suppress(OSError):
                        run.path.unlink()
                self.lock.release()

    @property
    def path(self) -> Path:
        return self.publish_to or self.run.path


def _weights(stencil: str) -> np.ndarray:
    from ..physics import get_stencil

    return np.asarray(get_stencil(stencil).weights)


def next_path(path: Path, taken: int) -> Path:
    """The file of the ``taken + 1``-th recording of a session: ``path``, then ``NAME-2.h5``..."""
    return path if taken == 0 else path.with_name(f"{path.stem}-{taken + 1}{path.suffix}")


def read_recording(path: str | os.PathLike) -> dict[str, Any]:
    """Everything a replay needs from a recording, checked; one line if it is not one."""
    with open_run(path, "recording") as f:
        g = f.get(GROUP)
        if g is None or "session" not in g.attrs:
            raise GrayScottError(f"{str(path)!r} is a run file, not a recording of "
                                 "`grayscott explore` (it has no timeline)")
        try:
            session = json.loads(g.attrs["session"])
            count = int(g["timeline_count"][()])
            frames = int(f["frames_written"][()])
            ops = [json.loads(b.decode()) for b in g["timeline_op"][:count]]
            rec = {"session": session, "u0": g["u0"][...], "v0": g["v0"][...],
                   "steps_before": int(f.attrs["steps_before"]),
                   "time_before": float(g.attrs.get("time_before", 0.0)),
                   "timeline_step": g["timeline_step"][:count].astype(np.int64),
                   "frame_steps": f["step"][:frames].astype(np.int64), "frames": frames}
            shape = tuple(int(n) for n in session["shape"])
        except (KeyError, ValueError, TypeError, UnicodeDecodeError) as exc:
            raise GrayScottError(f"{str(path)!r}: the recording's timeline is damaged "
                                 f"({type(exc).__name__})") from None
    rec["ops"] = [check_op(op, shape) for op in ops]
    return rec
