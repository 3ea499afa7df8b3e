"""``grayscott explore``: a live simulation in the browser, recorded and replayable bit for bit.

Rooms: :mod:`.messages` (what the page may say, checked), :mod:`.session` (the physics between
frames: operations on a backend's state), :mod:`.live` (the thread that steps, records and
publishes frames), :mod:`.recording` (the school's layout plus the timeline),
:mod:`.replay` (a recording computed again), :mod:`.server` and :mod:`.serve` (the page, the
WebSocket, the safety checks). Computing stays in the backends; nothing here imports the web
server until ``explore`` runs (the ``explore`` extra).
"""

from .replay import ReplayResult, replay
from .session import Session

__all__ = ["ReplayResult", "Session", "replay"]
