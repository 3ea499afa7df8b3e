"""The web side of ``explore``: one page, one WebSocket, nothing else (Starlette, uvicorn).

Safety: the server binds 127.0.0.1 unless told otherwise; every request and WebSocket must
carry the session's random token (``?token=``, compared in constant time), and a WebSocket
whose ``Origin`` is not the page's own (``http://`` + its ``Host``) is refused, so another site
open in the browser can neither read the page nor drive the simulation. Each text message is
checked (:mod:`.messages`); a bad one is refused, logged and answered, and the session goes
on. Messages over :data:`WS_MAX_SIZE` close that socket at the protocol level.

Frames travel as binary messages: a 28-byte header (:data:`HEADER`: magic, frame number, rows,
columns, the last command of this page applied before the frame, steps) and one byte per cell,
the index into the colour map of the package's renders (:mod:`grayscott.views.rendering`),
which the page receives once. A page acknowledges each frame it drew; at most
:data:`IN_FLIGHT` is unacknowledged, and a newer frame replaces one not yet sent, so a slow
page gets fewer frames and the simulation never waits.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import secrets
import struct
from importlib import resources
from typing import Any

import numpy as np

from ..physics import BORDERS, STENCILS
from .live import Live
from .messages import MAX_MESSAGE, Refused, parse

log = logging.getLogger("grayscott.explore")

HEADER = struct.Struct("<IIIIId")
MAGIC = 0x31565347  # "GSV1"
#: Frames sent and not yet acknowledged by a page. One: a change shows in the next frame sent,
#: not behind frames already on their way (the next is sent as soon as the page acknowledges).
IN_FLIGHT = 1
#: Refusals logged per page; past them a page that keeps sending bad messages is told, not logged.
LOGGED_REFUSALS = 50
#: Largest WebSocket message the protocol accepts at all (bytes); the checks refuse any
#: text over :data:`~.messages.MAX_MESSAGE` with a reply.
WS_MAX_SIZE = 64 * 1024
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff"}


class FrameEncoder:
    """V to one byte per cell (min to max of the frame over the 256 colours), once per frame
    whatever the number of pages."""

    def __init__(self) -> None:
        self._last: tuple[int, bytes] | None = None

    def body(self, frame_no: int, v: np.ndarray) -> bytes:
        from ..views.rendering import frame_range, frame_to_index

        if self._last is None or self._last[0] != frame_no:
            self._last = (frame_no, frame_to_index(v, *frame_range(v)).tobytes())
        return self._last[1]


class Page:
    """One WebSocket: what it was sent, what it may be sent, the refusals to tell it."""

    def __init__(self, ws: Any, live: Live, encoder: FrameEncoder, peer: str) -> None:
        self.ws, self.live, self.encoder, self.peer = ws, live, encoder, peer
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()
        self.credits = IN_FLIGHT
        self.sent_frame = 0
        self.sent_version = -1
        self.refusals: collections.deque[tuple[str, int | None]] = collections.deque(maxlen=32)
        self.refused = 0

    def wake(self) -> None:
        """From any thread: something is new."""
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self.loop.call_soon_threadsafe(self.event.set)

    def refuse(self, reason: str, seq: int | None) -> None:
        self.refusals.append((reason, seq))
        self.wake()

    async def receive(self, shape: tuple[int, int]) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            try:
                command = parse(message.get("text"), shape)
            except Refused as exc:
                self.refused += 1
                if self.refused <= LOGGED_REFUSALS:
                    log.warning("refused a message from %s: %s", self.peer, exc)
                if self.refused == LOGGED_REFUSALS:
                    log.warning("further refusals from %s are not logged", self.peer)
                self.refuse(str(exc), None)
                continue
            if command.type == "ack":
                self.credits = min(IN_FLIGHT, self.credits + 1)
                self.event.set()
            else:
                self.live.submit(command, self)

    async def send(self) -> None:
        while True:
            await self.event.wait()
            self.event.clear()
            while self.refusals:
                reason, seq = self.refusals.popleft()
                await self.ws.send_text(json.dumps({"type": "refused", "reason": reason,
                                                    "seq": seq}))
            if self.live.version != self.sent_version:
                self.sent_version = self.live.version
                await self.ws.send_text(json.dumps(self.live.status()))
            latest = self.live.latest()
            if self.credits > 0 and latest is not None and latest[0] != self.sent_frame:
                frame_no, v, steps, applied = latest
                head = HEADER.pack(MAGIC, frame_no % 2**32, v.shape[0], v.shape[1],
                                   applied.get(self, 0) % 2**32, float(steps))
                self.credits -= 1
                self.sent_frame = frame_no
                await self.ws.send_bytes(head + self.encoder.body(frame_no, v))


def origin_allowed(headers: Any) -> bool:
    """No Origin (not a browser), or exactly the page's own origin."""
    origin = headers.get("origin")
    return origin is None or origin == f"http://{headers.get('host', '')}"


def create_app(live: Live, token: str, lut: np.ndarray, presets: list[str]) -> Any:
    """The Starlette application: ``/`` (the page) and ``/ws`` (the WebSocket)."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route, WebSocketRoute

    shape = live.session.shape
    encoder = FrameEncoder()
    page_text = resources.files(__package__).joinpath("page.html").read_text("utf-8")
    hello = {"type": "hello", "shape": list(shape), "lut": lut.tolist(), "presets": presets,
             "stencils": list(STENCILS), "borders": list(BORDERS), "max_message": MAX_MESSAGE}

    async def page(request: Any) -> Any:
        nonce = secrets.token_urlsafe(16)
        csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
               "connect-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'; "
               "base-uri 'none'; form-action 'none'")
        return HTMLResponse(page_text.replace("{{nonce}}", nonce),
                            headers={**SECURITY_HEADERS, "Content-Security-Policy": csp})

    async def socket(ws: Any) -> None:
        peer = _peer(ws.client)
        if not origin_allowed(ws.headers):
            log.warning("refused a WebSocket from %s: foreign origin %r", peer,
                        ws.headers.get("origin", "")[:100])
            await ws.close(code=1008)
            return
        await ws.accept()
        client = Page(ws, live, encoder, peer)
        await ws.send_text(json.dumps(hello))
        stop_listening = live.listen(client.wake)
        client.wake()
        sender = asyncio.create_task(client.send())
        try:
            await client.receive(shape)
        finally:
            stop_listening()
            live.forget(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    app = Starlette(routes=[Route("/", page), WebSocketRoute("/ws", socket)])
    return TokenRequired(app, token)


class TokenRequired:
    """ASGI middleware: every request and WebSocket without the token is refused (HTTP 403)
    before any route sees it."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.token = app, token.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        from starlette.datastructures import QueryParams

        given = QueryParams(scope.get("query_string", b"").decode("latin-1")).get("token", "")
        if secrets.compare_digest(given.encode("utf-8", "replace"), self.token):
            return await self.app(scope, receive, send)
        log.warning("refused a %s from %s: wrong or missing token",
                    "WebSocket" if scope["type"] == "websocket" else "request",
                    _peer_of(scope.get("client")))
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return None
        from starlette.responses import PlainTextResponse

        response = PlainTextResponse("a valid token is required\n", status_code=403,
                                     headers=SECURITY_HEADERS)
        return await response(scope, receive, send)


def _peer(client: Any) -> str:
    return f"{client.host}:{client.port}" if client else "?"


def _peer_of(client: Any) -> str:
    return f"{client[0]}:{client[1]}" if client else "?"
