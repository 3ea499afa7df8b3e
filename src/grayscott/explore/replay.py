"""``grayscott replay``: a recorded session computed again from its timeline.

The replay starts from the recording's first state (``u0``, ``v0``) with its settings and
backend, then does what the live session did, in the same order and the same blocks: at each
step count where the timeline applied operations it applies them, and it advances by the steps
per frame in force, frame after frame, writing the frames the recording holds (frame ``i`` when
the step count reaches ``step[i]``). On the backend that recorded it the frames are the
recorded ones bit for bit; :func:`replay` compares them as it goes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from ..errors import GrayScottError
from .recording import Recorder, read_recording
from .session import Session


@dataclass
class ReplayResult:
    frames: int
    #: Frames whose bits differ from the recording's, and the first of them (-1: none).
    differing: int
    first_difference: int
    backend: str


def replay(source: str | os.PathLike, output: str | os.PathLike, overwrite: bool = False,
           threads: int | None = None) -> ReplayResult:
    """Recompute the recording ``source`` into ``output`` (the same layout) and compare."""
    rec = read_recording(source)
    info = rec["session"]
    session = Session(tuple(info["shape"]), info["settings"], backend=info["backend"],
                      dtype=info["dtype"], threads=threads, options=info.get("options") or {},
                      initial=info.get("initial", "school"), seed=int(info.get("seed", 0)),
                      steps_per_frame=int(info["steps_per_frame"]),
                      state=(rec["u0"], rec["v0"]), steps=rec["steps_before"],
                      time=rec["time_before"])
    recorder = Recorder.start(output, session, overwrite, attrs={"replay_of": str(source)},
                              frames=max(rec["frames"], 1))
    differing, first = 0, -1
    try:
        with h5py.File(source, "r", locking=False) as original:
            recorded = original["matrix"]
            for i, v in enumerate(_frames(session, rec, recorder)):
                if not _same_bits(v.astype(np.float32), recorded[i]):
                    differing += 1
                    first = i if first < 0 else first
        recorder.close("completed", session.state)
    except BaseException:
        recorder.close("interrupted", None)
        raise
    return ReplayResult(rec["frames"], differing, first, session.backend_name)


def _frames(session: Session, rec: dict[str, Any], recorder: Recorder) -> Any:
    """Yield frame after frame of the recording, recomputed (and written by ``recorder``)."""
    steps, ops = rec["timeline_step"], rec["ops"]
    e = 0
    for i, target in enumerate(rec["frame_steps"]):
        while True:
            batch = []
            while e < len(ops) and steps[e] == session.steps:
                batch.append(ops[e])
                recorder.event(session.steps, ops[e])
                e += 1
            if e < len(ops) and steps[e] < session.steps:
                raise GrayScottError(f"the timeline applies an operation after {steps[e]} "
                                     "steps, between two frames; the recording is damaged")
            session.apply(batch)
            v = session.advance()
            if session.steps >= target:
                break
        if session.steps != target:
            raise GrayScottError(f"frame {i} was recorded after {target} steps, which no "
                                 "frame of the replay reaches; the recording is damaged")
        recorder.frame(v, session.steps, session.time)
        yield v


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
