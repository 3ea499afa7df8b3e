"""The time loop's parts. :func:`grayscott.loop.drive` advances the simulation one frame at
a time and hands each frame to a list of observers; everything a run does besides stepping
(writing frames, checkpoints, the progress bar, the blow-up check, signals, video, user code) is
one of them, so a new output or a distributed run plugs in without editing the loop.

The interface (:class:`Observer`), in the spirit of py-pde's trackers and Oceananigans'
callbacks and output writers:

``start(ctx)``
    once, before the first step.
``frame(ctx)``
    after each frame's ``nbextrastep`` steps, in list order. ``ctx.frame`` is the frame's
    index (counting frames of an earlier session when resuming), ``ctx.v`` its V when any
    observer has ``needs_v = True``, ``ctx.u`` too when any observer's ``wants_state(ctx)``
    returned True for this frame. Raising ends the run (the exception goes to the caller after
    every ``finish``); setting ``ctx.stop_reason`` ends it after this frame, status
    ``"stopped: <reason>"``.
``finish(ctx)``
    once at the end, whatever happened, in *reverse* list order (like nested ``with``
    blocks: the writer closes its file after the checkpointer's last write, the video renders
    after the writer closed). ``ctx.outcome.status`` is ``"completed"``, ``"interrupted"``,
    ``"blew up"``, ``"disk full"``, ``"stopped: ..."`` or ``"failed: ..."``; ``ctx.consistent``
    says whether the backend's state is whole (False after an abort in the middle of a block).
    Every finish runs even when an earlier one raised.

Where the state lives is the backend's business: the loop only calls ``backend.advance``,
``backend.get_v()`` (once per frame, when an observer needs V) and ``backend.get_state()``
(when one wants the state), on every process. A distributed backend may return the gathered
field on the root rank and None elsewhere; observers that write or print check
``ctx.is_root`` (``ctx.rank``, ``ctx.size`` come from whoever builds the context), and
``wants_state`` must answer the same on every rank (decide from ``ctx.frame``), because fetching
a distributed state is collective. An observer that decides to stop from local data (a signal,
a NaN seen on the root) must agree with the other ranks before raising, so every rank stops at
the same frame.

The standard order, built by :func:`grayscott.runs.run` and :func:`grayscott.runs.resume`:
``[Video, BlowUpCheck, HDF5Writer, Checkpointer, Progress, *observers, Callback, StopSignal]``
(``observers``: those passed to ``run``; the blow-up check first, so nobody sees a NaN frame; the
stop signal last, so every observer has the frame before the run stops). The writer shares its
open :class:`~grayscott.io.runfile.RunFile` as ``ctx.shared["runfile"]`` and the frames written as
``ctx.shared["frames_written"]``.

``--stop-within SECONDS`` (:mod:`.pacing`): the loop advances each frame in sub-blocks through
``ctx.pacer``, which asks the stop signal after each one; a stop cuts the frame at that step and
the checkpointer saves that step's state.

This package owns what happens at each frame besides stepping. It may not import a backend
module, the loop (:mod:`grayscott.loop`) or the ways into it (:mod:`grayscott.runs`): observers
see the simulation only through ``ctx``; the file is written through :mod:`grayscott.io`.
"""

from .base import Observer, Outcome, RunContext
from .checkpoint import Checkpointer
from .checks import BlowUpCheck, Callback, Interrupted, Progress, StopSignal
from .video import Video
from .writer import HDF5Writer

__all__ = ["BlowUpCheck", "Callback", "Checkpointer", "HDF5Writer", "Interrupted", "Observer",
           "Outcome", "Progress", "RunContext", "StopSignal", "Video"]
