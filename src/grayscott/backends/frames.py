"""Frames that do not stall the device: handles, and the one-frame-ahead loop.

A backend's :meth:`~grayscott.backends.base.Backend.request_v` starts fetching V and returns a
*handle* at once; ``handle.result()`` waits for it and returns V as a NumPy array the caller owns.
A synchronous backend returns a :class:`ReadyFrame` (the frame is already there); ``cupy`` copies
V to pinned host memory on its own stream, JAX starts ``copy_to_host_async``: on both the copy
travels while the next block of steps computes, *if* that block was dispatched before the frame
is waited for. :func:`frames_ahead` is the loop that does so. ``request_state`` is the same for
the whole state (a checkpoint): ``result()`` returns (U, V).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np


class FrameHandle(Protocol):
    def result(self) -> np.ndarray:
        """V at the moment it was requested (waits for it if it is still on its way)."""
        ...


class ReadyFrame:
    """The handle of a frame that is already on the host."""

    def __init__(self, v: np.ndarray) -> None:
        self._v = v

    def result(self) -> np.ndarray:
        return self._v


def frames_ahead(advance: Callable[[], None], request: Callable[[], FrameHandle], count: int,
                 ahead: Callable[[int], bool] = lambda i: True,
                 ) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(i, frame i)`` for ``i`` in ``range(count)``; frame ``i`` is V after ``i + 1``
    calls of ``advance`` (one block of steps each).

    Where ``ahead(i)`` is true and frame ``i`` is not the last, block ``i + 1`` is dispatched
    (and its frame requested) *before* frame ``i`` is waited for and yielded: the device
    computes it while frame ``i`` travels to the host and the caller consumes it (writes it to
    disk). So while the caller holds frame ``i``, the backend's state is already one block
    further; where the caller needs the state of frame ``i`` itself (a checkpoint, the end of the
    run), ``ahead(i)`` must say False, and the blocks are run one after the other there.

    The frames are exactly those of the plain loop ``advance(); yield request().result()``, in
    the same order. If the caller stops early (closes the generator), one block more than the
    frames it consumed may have been dispatched.
    """
    if count <= 0:
        return
    advance()
    handle = request()
    for i in range(count):
        if i + 1 < count and ahead(i):
            advance()  # block i + 1: queued on the device before frame i is waited for
            following = request()
            yield i, handle.result()
            handle = following
            continue
        yield i, handle.result()
        if i + 1 < count:
            advance()
            handle = request()
