"""Start ``explore``: the session, its thread, the server; stop them all whole."""

from __future__ import annotations

import contextlib
import logging
import secrets
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import GrayScottError
from .live import Live
from .session import Session

LOCAL = "127.0.0.1"
EXTRA = "pip install 'grayscott[explore]'"


def _require_extra() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise GrayScottError(f"grayscott explore needs its web server: {EXTRA}") from None


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound now so that its port is known and a taken one refused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise GrayScottError(f"cannot listen on {host!r}: {exc}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise GrayScottError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(64)
    return sock


def _raise_interrupted(signum: int, frame: Any) -> None:
    from ..observers import Interrupted

    raise Interrupted(signum)


def serve(settings: dict[str, Any], shape: tuple[int, int], *, backend: str, dtype: str,
          threads: int | None, initial: str, seed: int, steps: int, fps: float,
          record: str | None, overwrite: bool, host: str, port: int, open_browser: bool,
          running: bool = True, record_frames: int | None = None) -> None:
    """Serve the page until Ctrl-C or SIGTERM; a recording in progress is closed whole."""
    _require_extra()
    import uvicorn

    from ..io.layout import check_output_path
    from ..physics.presets import preset_names
    from ..views.rendering import colormap_lut
    from .server import WS_MAX_SIZE, create_app

    lut = colormap_lut()
    record_path = None
    if record is not None:
        record_path = check_output_path(record, overwrite)
    session = Session(shape, settings, backend=backend, dtype=dtype, threads=threads,
                      initial=initial, seed=seed, steps_per_frame=steps)
    session.backend.compile()
    sock = _bind(host, port)
    token = secrets.token_urlsafe(24)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/?token={token}"
    live = Live(session, Path(record_path) if record_path else None, overwrite, fps, running,
                **({"record_frames": record_frames} if record_frames else {}))
    app = create_app(live, token, lut, preset_names())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("grayscott explore: %(message)s"))
    logger = logging.getLogger("grayscott.explore")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    if host != LOCAL:
        click.echo(f"grayscott explore: warning: listening on {host}, not only {LOCAL}: "
                   "anyone who can reach this machine and has the address can use it", err=True)
    click.echo(f"grayscott explore: {shape[0]}x{shape[1]} {dtype}, backend {backend} "
               f"({session.backend.threads} thread(s)); Ctrl-C stops it")
    click.echo(f"grayscott explore: {url}", nl=True)
    sys.stdout.flush()
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    # No per-message deflate: compressing every frame costs both sides CPU time per frame,
    # and the page is on this machine or near it.
    config = uvicorn.Config(app, log_level="warning", ws_max_size=WS_MAX_SIZE, lifespan="off",
                            timeout_graceful_shutdown=2, ws_ping_interval=None,
                            ws_per_message_deflate=False)
    server = uvicorn.Server(config)
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    live.start()
    status = "interrupted"
    try:
        server.run(sockets=[sock])
        status = "stopped"
    finally:
        live.stop(status)
        signal.signal(signal.SIGTERM, previous)
        logger.removeHandler(handler)
        with contextlib.suppress(OSError):
            sock.close()
