"""The simulation thread of ``explore``: it steps, records, and publishes the latest frame.

The server hands it checked commands (:meth:`Live.submit`, from any thread); between two frames
the thread applies every command waiting, in order, then computes the next frame if it is
running (at most ``fps`` frames a second). It never waits for a browser: a frame replaces the
one before in a one-place mailbox (:meth:`Live.latest`), the server sends whatever is there
when a browser can take it, and frames nobody took are dropped. While recording, every frame
computed is written (:class:`.recording.Recorder`), with the operations applied before it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BlowUpError, GrayScottError
from .messages import Command, Refused, merge_params
from .recording import DEFAULT_FRAMES, Recorder, RecordingFull, next_path
from .session import Session

log = logging.getLogger("grayscott.explore")


class Live:
    """One session's thread. ``record``: the path of the first recording (None: no record
    button); ``fps``: most frames computed per second."""

    def __init__(self, session: Session, record: Path | None = None, overwrite: bool = False,
                 fps: float = 60.0, running: bool = True,
                 record_frames: int = DEFAULT_FRAMES) -> None:
        self.session = session
        self.record_path, self.overwrite = record, overwrite
        self.record_frames = record_frames
        self.recordings: list[Path] = []
        self.recorder: Recorder | None = None
        self.period = 1.0 / fps
        self.running = running
        self.commands: queue.Queue[tuple[Command, Any]] = queue.Queue()
        self.frame_no = 0
        self.applied: dict[Any, int] = {}  # per client: the seq of its last command applied
        self._latest: tuple[int, np.ndarray, int, dict[Any, int]] | None = None
        self._lock = threading.Lock()
        self._listeners: set[Callable[[], None]] = set()
        self.notice = ""  # the last thing to tell every page (a blow-up, a recording's end)
        self.version = 0  # changes whenever status() does
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="grayscott-explore",
                                        daemon=True)

    # -- the server's side -------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, status: str = "stopped") -> None:
        """Stop the thread after its frame, and close a recording whole."""
        self._stop.set()
        self.commands.put((Command("pause"), None))  # wake it
        if self._thread.is_alive():
            self._thread.join()
        self._end_recording(status)

    def submit(self, command: Command, client: Any = None) -> None:
        self.commands.put((command, client))

    def forget(self, client: Any) -> None:
        """A page left: drop what is kept for it."""
        self.applied.pop(client, None)

    def listen(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake`` (from the thread) when a frame or the status is new; returns the
        function that stops it."""
        self._listeners.add(wake)
        return lambda: self._listeners.discard(wake)

    def latest(self) -> tuple[int, np.ndarray, int, dict[Any, int]] | None:
        """(frame number, V, steps, seq applied per client) of the newest frame, or None."""
        with self._lock:
            return self._latest

    def status(self) -> dict[str, Any]:
        s = self.session
        return {"type": "status", "running": self.running, "settings": dict(s.settings),
                "steps_per_frame": s.steps_per_frame, "steps": s.steps, "frame": self.frame_no,
                "recording": None if self.recorder is None else str(self.recorder.path),
                "can_record": self.record_path is not None,
                "recordings": [str(p) for p in self.recordings], "notice": self.notice}

    # -- the thread --------------------------------------------------------------------------

    def _wake(self) -> None:
        for wake in list(self._listeners):
            wake()

    def _changed(self, notice: str | None = None) -> None:
        if notice is not None:
            self.notice = notice
        self.version += 1
        self._wake()

    def _loop(self) -> None:
        due = time.perf_counter()
        while not self._stop.is_set():
            once, changed = self._handle(timeout=None if not self.running else max(
                0.0, due - time.perf_counter()))
            if self._stop.is_set():
                break
            # A change is computed at once (its latency is the point); else keep the pace.
            if self.running and not (once or changed) and time.perf_counter() < due:
                continue
            if self.running or once:
                due = max(due + self.period, time.perf_counter())
                self._frame()

    def _handle(self, timeout: float | None) -> tuple[bool, bool]:
        """Apply the commands waiting (waiting up to ``timeout`` for the first); say whether
        one asked for a single frame, and whether the simulation changed."""
        once = changed = False
        try:
            items = [self.commands.get(timeout=timeout)]
        except queue.Empty:
            return once, changed
        while True:
            try:
                items.append(self.commands.get_nowait())
            except queue.Empty:
                break
        ops: list[dict[str, Any]] = []
        for command, client in items:
            try:
                once |= self._command(command, ops)
            except Refused as exc:
                log.warning("refused a %s command: %s", command.type, exc)
                if client is not None:
                    client.refuse(str(exc), command.seq)  # thread-safe: it only queues it
                continue
            if client is not None:
                self.applied[client] = command.seq
        changed = bool(ops)
        self._apply(ops)
        self._changed()
        return once, changed

    def _command(self, command: Command, ops: list[dict[str, Any]]) -> bool:
        """Turn a command into operations (or act on it); True for "one frame"."""
        kind, values, s = command.type, command.values, self.session
        if kind == "run":
            self.running = True
        elif kind == "pause":
            self.running = False
        elif kind == "step":
            self.running = False
            return True
        elif kind == "record":
            self._apply(ops)  # the recording starts from the state after the ones before
            ops.clear()
            self._start_recording() if values["on"] else self._end_recording("completed")
        elif kind == "steps":
            ops.append({"op": "steps", "n": values["n"]})
        elif kind == "brush":
            ops.append(values)
        elif kind == "reset":
            ops.append({"op": "reset", "initial": s.initial, "seed": s.seed})
        elif kind == "params":
            base = _last_settings(ops, s.settings)
            ops.append({"op": "params", **merge_params(base, values)})
        elif kind == "preset":
            from ..physics.presets import get_preset

            p = get_preset(values["name"])
            base = _last_settings(ops, s.settings)
            ops.append({"op": "params", **merge_params(base, {"F": p.F, "k": p.k})})
            ops.append({"op": "reset", "initial": p.initial, "seed": s.seed})
        return False

    def _apply(self, ops: list[dict[str, Any]]) -> None:
        if not ops:
            return
        self.session.apply(ops)
        if self.recorder is not None:
            for op in ops:
                self.recorder.event(self.session.steps, op)
        ops.clear()

    def _frame(self) -> None:
        s = self.session
        try:
            v = s.advance()
        except BlowUpError as exc:
            self.running = False
            self._end_recording("blew up")
            log.warning("%s", exc)
            self._changed(str(exc))
            return
        if self.recorder is not None:
            try:
                self.recorder.frame(v, s.steps, s.time)
            except RecordingFull as exc:
                self._end_recording("completed")
                log.warning("%s", exc)
                self._changed(f"{exc}; {self.notice}")
            except Exception as exc:  # whatever the file did, the simulation goes on
                self._end_recording("failed")
                log.warning("recording stopped: %s", exc)
                self._changed(f"recording stopped: {exc}")
        self.frame_no += 1
        with self._lock:
            self._latest = (self.frame_no, v, s.steps, dict(self.applied))
        self._wake()

    def _start_recording(self) -> None:
        if self.record_path is None:
            raise Refused("no recording file was given (start explore with --record FILE)")
        if self.recorder is not None:
            return
        path = next_path(self.record_path, len(self.recordings))
        try:
            self.recorder = Recorder.start(path, self.session,
                                           self.overwrite and not self.recordings,
                                           frames=self.record_frames)
        except GrayScottError as exc:
            raise Refused(f"cannot record: {exc}") from None
        self.recordings.append(path)
        log.warning("recording to %s", path)

    def _end_recording(self, status: str) -> None:
        rec, self.recorder = self.recorder, None
        if rec is None:
            return
        state = None
        if status != "blew up":
            state = self.session.state
        try:
            rec.close(status, state)
        except Exception as exc:  # a refused last write: what was counted is kept
            log.warning("closing the recording: %s", exc)
        log.warning("recording kept in %s (%d frames)", rec.path, rec.frames)
        self._changed(f"recording kept in {rec.path} ({rec.frames} frames)")


def _last_settings(ops: list[dict[str, Any]], settings: dict[str, Any]) -> dict[str, Any]:
    """The settings after the params operations already queued in this batch."""
    for op in reversed(ops):
        if op["op"] == "params":
            return {k: v for k, v in op.items() if k != "op"}
    return dict(settings)
