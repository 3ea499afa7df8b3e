"""``grayscott explore`` in a real browser: Debian's chromium driven by Playwright.

One server (a ``grayscott explore`` process on a small grid) and one browser for the module. The
tests click, drag the brush, move a slider, record, stop and replay (bit for bit); send
malformed and hostile messages from the page and from outside it, and check each is refused
while the simulation goes on; and look at the pixels the page drew. Nothing downloads a
browser: without chromium (scripts/ensure-chromium.sh installs Debian's) the module skips.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

pytest.importorskip("starlette", reason="the explore extra is not installed")
pytest.importorskip("uvicorn", reason="the explore extra is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=(
    "no chromium here: scripts/ensure-chromium.sh installs the distribution's package"))

from conftest import assert_bits_equal  # noqa: E402
from grayscott.explore.server import IN_FLIGHT  # noqa: E402
from grayscott.views.rendering import colormap_lut  # noqa: E402

SHAPE = (96, 96)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]


class Server:
    """A ``grayscott explore`` process: its address, token, log and recording."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.record = folder / "rec.h5"
        self.log = folder / "explore.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grayscott", "explore", "-b", "numpy", "-r", str(SHAPE[0]),
             "-c", str(SHAPE[1]), "--preset", "gamma", "--initial", "noise", "--fps", "30",
             "--record", str(self.record), *args],
            stdout=subprocess.PIPE, stderr=self.log.open("w"), text=True)
        self.url = ""
        for line in self.proc.stdout:
            found = re.search(r"(http://\S+)", line)
            if found:
                self.url = found.group(1)
                break
        assert self.url, f"explore printed no address: {self.log.read_text()}"
        self.base, self.token = self.url.split("/?token=")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=60)
        finally:
            self.proc.stdout.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("explore"))
    yield s
    if s.proc.poll() is None:
        s.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(browser, url):
    # bypass_csp: Playwright's waits evaluate strings, which the page's policy forbids
    context = browser.new_context(bypass_csp=True, accept_downloads=True,
                                  viewport={"width": 640, "height": 400})
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("window.exploreStats.frames > 2 && window.exploreStats.status",
                           timeout=60_000)
    return page


@pytest.fixture
def page(browser, server):
    page = open_page(browser, server.url)
    yield page
    page.context.close()


def stats(page, what):
    return page.evaluate(f"JSON.parse(JSON.stringify(window.exploreStats.{what}))")


def wait_frames(page, n=3):
    """Wait until the page has drawn ``n`` more frames."""
    start = stats(page, "frames")
    page.wait_for_function(f"window.exploreStats.frames >= {start + n}", timeout=60_000)


def canvas_pixels(page) -> np.ndarray:
    """The canvas's pixels as the page drew them. Not a screenshot of the element: on a
    loaded machine the layout could move between the element's box being measured and the
    capture, and the page's background (#111) came into the shot."""
    import base64

    from PIL import Image

    url = page.evaluate("document.getElementById('canvas').toDataURL('image/png')")
    png = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def rgb_codes(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int32)
    return (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]


def test_the_page_shows_the_pattern_in_the_renders_colours_and_it_changes(page):
    first = canvas_pixels(page)
    wait_frames(page, 10)
    second = canvas_pixels(page)
    lut = rgb_codes(colormap_lut())
    for shot in (first, second):
        codes = rgb_codes(shot.reshape(-1, 3))
        assert len(np.unique(codes)) > 30  # a pattern, not a flat field
        assert np.isin(codes, lut).mean() > 0.95  # the colours of `grayscott render`
    assert (first != second).any(axis=2).mean() > 0.01


def test_record_with_slider_brush_and_buttons_then_replay_bit_for_bit(page, server, tmp_path):
    page.click("#pause")
    page.click("#record")
    page.wait_for_function("window.exploreStats.status.recording", timeout=30_000)
    page.click("#step")
    page.click("#run")
    wait_frames(page)
    page.focus("#F")
    for _ in range(4):
        page.keyboard.press("ArrowRight")  # the slider moves: four settings changes
    wait_frames(page)
    box = page.locator("canvas").bounding_box()
    page.mouse.move(box["x"] + 0.2 * box["width"], box["y"] + 0.3 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.6 * box["height"], steps=8)
    page.mouse.up()
    wait_frames(page)
    page.fill("#steps", "9")
    page.press("#steps", "Enter")
    page.select_option("#preset", "mitosis")
    page.select_option("#border", "periodic")
    wait_frames(page)
    page.click("#reset")
    wait_frames(page)
    page.click("#record")
    page.wait_for_function("!window.exploreStats.status.recording", timeout=30_000)
    status = stats(page, "status")
    assert status["settings"]["border"] == "periodic" and status["steps_per_frame"] == 9
    assert stats(page, "latencies")  # the page saw frames computed after its changes
    again = tmp_path / "again.h5"
    p = subprocess.run([sys.executable, "-m", "grayscott", "replay", str(server.record), "-o",
                        str(again)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "bit for bit" in p.stdout
    with h5py.File(server.record) as a, h5py.File(again) as b:
        count = int(a["explore/timeline_count"][()])
        ops = [json.loads(x) for x in a["explore/timeline_op"][:count]]
        kinds = [op["op"] for op in ops]
        assert kinds.count("params") >= 6 and kinds.count("brush") >= 3
        assert {"steps", "reset"} <= set(kinds)
        assert [op["F"] for op in ops if op["op"] == "params"][:4] == pytest.approx(
            [0.0225, 0.023, 0.0235, 0.024])
        n = int(a["frames_written"][()])
        assert n >= 8 and b["matrix"].shape[0] == n
        assert_bits_equal(a["matrix"][:n], b["matrix"][...])


HOSTILE = [
    ("NaN", '{"type": "params", "F": NaN}', "NaN is not a number"),
    ("infinity", '{"type": "params", "k": 1e999}', "k must be finite"),
    ("huge", '{"type": "params", "Du": 1e300}', "Du must be from 0 to 1"),
    ("unstable", '{"type": "params", "dt": 9}', "dt=9 is unstable"),
    ("outside", '{"type": "brush", "row": 96, "col": 5, "radius": 3, "value": 1}',
     "brush row must be from 0 to 95"),
    ("type", '{"type": "exec", "code": "rm -rf /"}', "unknown message type"),
    ("key", '{"type": "run", "path": "/etc/passwd"}', "run takes no key 'path'"),
    ("record path", '{"type": "record", "on": true, "path": "/tmp/x.h5"}',
     "record takes no key 'path'"),
    ("long", json.dumps({"type": "run", "pad": "x" * 2000}), "message too long"),
    ("garbage", "\x00\x01not json", "not valid JSON"),
]


def test_malformed_and_hostile_messages_are_refused_and_the_simulation_goes_on(page, server):
    before = stats(page, "status")["settings"]
    replies = page.evaluate("""async (messages) => {
        const ws = new WebSocket(`ws://${location.host}/ws${location.search}`);
        const replies = [];
        ws.onmessage = (e) => { if (typeof e.data === "string") {
            const m = JSON.parse(e.data); if (m.type === "refused") replies.push(m.reason); } };
        await new Promise((ok) => { ws.onopen = ok; });
        for (const m of messages) ws.send(m);
        ws.send(new Uint8Array([1, 2, 3]));  // binary: refused too
        const t0 = performance.now();
        while (replies.length < messages.length + 1 && performance.now() - t0 < 30000)
            await new Promise((ok) => setTimeout(ok, 50));
        ws.send("x".repeat(100000));  // past the protocol's limit: the socket is closed
        const code = await new Promise((ok) => { ws.onclose = (e) => ok(e.code); });
        return {replies, code};
    }""", [text for _, text, _ in HOSTILE])
    reasons = replies["replies"]
    assert len(reasons) == len(HOSTILE) + 1
    for _, _, expected in [*HOSTILE, ("binary", "", "only text")]:
        # the settings' stability is checked where they apply, so that reply may come later
        assert sum(expected in reason for reason in reasons) == 1, (expected, reasons)
    # closed by the server: 1009 (too big), or 1006 when it drops the connection while the
    # browser is still sending the rest
    assert replies["code"] in (1006, 1009)
    wait_frames(page, 5)  # the simulation goes on, and this page still gets frames
    assert stats(page, "status")["settings"] == before
    log = server.log.read_text()
    assert log.count("refused a message") >= len(HOSTILE)
    assert "NaN is not a number" in log


def test_a_wrong_token_and_a_foreign_origin_are_refused(browser, server):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    for url in (server.base + "/?token=wrong", server.base + "/", server.base + "/ws"):
        assert page.goto(url).status in (403, 400)
    # the page's own origin with a wrong token, and a foreign page with the right one: the
    # browser's WebSocket never opens
    page.goto(server.url)
    page.wait_for_function("window.exploreStats.frames > 0", timeout=60_000)
    opened = page.evaluate("""async (url) => new Promise((ok) => {
        const ws = new WebSocket(url); ws.onopen = () => ok(true); ws.onclose = () => ok(false);
    })""", server.base.replace("http", "ws") + "/ws?token=wrong")
    assert opened is False
    # another site (served by the browser's own routing) that knows the token
    context.route("http://evil.example/", lambda route: route.fulfill(
        body="<p>another site</p>", content_type="text/html"))
    page.goto("http://evil.example/")
    opened = page.evaluate("""async (url) => new Promise((ok) => {
        const ws = new WebSocket(url); ws.onopen = () => ok(true); ws.onclose = () => ok(false);
    })""", server.base.replace("http", "ws") + "/ws?token=" + server.token)
    assert opened is False
    context.close()
    ws_url = server.base.replace("http", "ws") + "/ws?token=" + server.token
    with pytest.raises(InvalidStatus, match="403"):
        connect(ws_url, origin="http://evil.example", open_timeout=30)
    with pytest.raises(InvalidStatus, match="403"):
        connect(ws_url.replace(server.token, server.token[:-1] + "A"), open_timeout=30)
    with connect(ws_url, origin=server.base, open_timeout=30) as ws:  # the right ones
        assert json.loads(ws.recv(timeout=30))["type"] == "hello"
    log = server.log.read_text()
    assert "foreign origin 'http://evil.example'" in log and "wrong or missing token" in log


def test_the_page_sets_a_strict_content_security_policy(browser, server):
    context = browser.new_context()
    response = context.new_page().goto(server.url)
    headers = response.headers
    assert "script-src 'nonce-" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "no-referrer"
    context.close()


def test_a_page_that_draws_nothing_does_not_hold_the_simulation(page, server):
    from websockets.sync.client import connect

    ws_url = server.base.replace("http", "ws") + "/ws?token=" + server.token
    with connect(ws_url, origin=server.base, open_timeout=30) as slow:
        frames, end = [], time.monotonic() + 3
        while time.monotonic() < end:  # never acknowledges a frame
            try:
                m = slow.recv(timeout=0.2)
            except TimeoutError:
                continue
            if isinstance(m, bytes):
                frames.append(int.from_bytes(m[4:8], "little"))
        assert len(frames) == IN_FLIGHT  # then nothing until it acknowledges
        wait_frames(page, 10)  # meanwhile the other page gets new frames...
        assert stats(page, "lastFrame") > frames[-1] + 10  # ...computed after those two


def test_the_snapshot_button_saves_the_canvas_as_png(page):
    from PIL import Image

    with page.expect_download() as download:
        page.click("#snapshot")
    image = Image.open(download.value.path())
    assert image.format == "PNG" and image.size == (SHAPE[1], SHAPE[0])
    assert len(np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0)) > 30


def test_sigterm_keeps_the_recording_whole(browser, tmp_path):
    s = Server(tmp_path)
    try:
        page = open_page(browser, s.url)
        page.click("#record")
        page.wait_for_function("window.exploreStats.status.recording", timeout=30_000)
        wait_frames(page, 5)
        page.context.close()
    finally:
        rc = s.stop(signal.SIGTERM)
    assert rc == 128 + signal.SIGTERM
    assert "recording kept in" in s.log.read_text()
    with h5py.File(s.record) as f:
        n = int(f["frames_written"][()])
        assert n >= 5 and f["status"][()] == b"interrupted"
        assert np.isfinite(f["matrix"][n - 1]).all() and f["matrix"][n - 1].any()
    p = subprocess.run([sys.executable, "-m", "grayscott", "replay", str(s.record), "-o",
                        str(tmp_path / "again.h5")], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0 and "bit for bit" in p.stdout, p.stderr
    assert not os.path.exists(str(s.record) + ".tmp")
