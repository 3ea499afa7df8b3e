#!/usr/bin/env python
"""`grayscott explore` measured in the browser: frames drawn per second, and the latency from a
slider's change to the first frame computed with the new value.

    flock /tmp/grayscott-bench.lock python scripts/explore_bench.py [--seconds 20]
        [--backend numba-blocked] [--size 512] [--steps 16] [--threads 2] [--fps 60]

Starts `grayscott explore` (the school's defaults, the grid given, --preset gamma with the
noise start so the field is busy), opens it in headless chromium (Debian's, through
Playwright), and reads the page's own counters (``window.exploreStats``): the times at which
the page drew frames (it draws each frame as it arrives, then acknowledges it), and, for each
settings change, the time from the slider's input event to the arrival of the first frame the
server computed after applying it. The slider is moved with the keyboard (ArrowRight/Left on
the focused F slider, as a user does) every half second during the second half of the run.
Prints the drawn rate over the whole run, the server's computed frames, and the latencies;
and the CPU time each side took per frame (the server process, and the browser: chromium's
processes and Playwright's driver, read from /proc), which says what rate two free cores would
sustain when the machine is shared and the measured rate is the share it got.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics as st
import subprocess
import sys
import time

from playwright.sync_api import sync_playwright

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--backend", default="numba-blocked")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fps", type=float, default=60.0)
    args = ap.parse_args()
    cmd = [sys.executable, "-m", "grayscott", "explore", "-b", args.backend, "-r",
           str(args.size), "-c", str(args.size), "-e", str(args.steps), "--fps", str(args.fps),
           "--preset", "gamma", "--initial", "noise"]
    if args.backend.startswith("numba"):
        cmd += ["--threads", str(args.threads)]
    print("server:", " ".join(cmd[2:]))
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        url = next(m.group(1) for line in server.stdout
                   if (m := re.search(r"(http://\S+)", line)))
        measure(url, args, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of live processes (all their threads), from /proc."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def descendants(root: int, skip: int) -> list[int]:
    """Processes under ``root`` (not ``root`` itself), leaving out the tree of ``skip``."""
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        for child, ppid in parent.items():
            if ppid == p and child != skip:
                out.append(child)
                todo.append(child)
    return out


def measure(url: str, args: argparse.Namespace, server_pid: int) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                    args=ARGS)
        page = browser.new_context(viewport={"width": 1000, "height": 700}).new_page()
        page.goto(url)
        page.wait_for_timeout(3000)  # warm up: first frames, the page's first layout
        t0, f0 = page.evaluate("[performance.now(), window.exploreStats.frames]")
        s0 = page.evaluate("window.exploreStats.status.frame")
        browser_pids = descendants(os.getpid(), skip=server_pid)
        c0 = cpu_seconds([server_pid]), cpu_seconds(browser_pids)
        half = args.seconds / 2
        time.sleep(half)
        page.focus("#F")
        end = time.monotonic() + half
        key = "ArrowRight"
        while time.monotonic() < end:
            page.keyboard.press(key)
            key = "ArrowLeft" if key == "ArrowRight" else "ArrowRight"
            time.sleep(0.5)
        t1, f1 = page.evaluate("[performance.now(), window.exploreStats.frames]")
        browser_cpu = cpu_seconds(browser_pids)
        lat = page.evaluate("window.exploreStats.latencies")
        page.evaluate("window.exploreSend({type: 'pause'})")  # a fresh status: frames computed
        page.wait_for_timeout(500)
        s1 = page.evaluate("window.exploreStats.status.frame")
        c1 = cpu_seconds([server_pid]), browser_cpu  # the server's: up to the pause
        browser.close()
    seconds = (t1 - t0) / 1000
    print(f"cpu: {cpu()}; load average before: {os.getloadavg()[0]:.2f}")
    print(f"{args.size}x{args.size}, {args.steps} steps/frame, backend {args.backend}, "
          f"--fps {args.fps:g}")
    print(f"drawn by the page: {f1 - f0} frames in {seconds:.1f} s = "
          f"{(f1 - f0) / seconds:.1f} frames/s")
    print(f"computed by the server: about {(s1 - s0) / (seconds + 0.5):.1f} frames/s")
    server_ms = 1000 * (c1[0] - c0[0]) / max(s1 - s0, 1)
    browser_ms = 1000 * (c1[1] - c0[1]) / max(f1 - f0, 1)
    print(f"CPU per frame: server {server_ms:.1f} ms (per frame computed), browser "
          f"{browser_ms:.1f} ms (per frame drawn); two free cores: about "
          f"{2000 / (server_ms + browser_ms):.0f} frames/s computed and drawn")
    if lat:
        print(f"slider -> first new frame drawn: {len(lat)} changes, median "
              f"{st.median(lat):.1f} ms, p90 {sorted(lat)[int(0.9 * (len(lat) - 1))]:.1f} ms, "
              f"max {max(lat):.1f} ms")


def cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return re.search(r"Model name:\s*(.+)", out).group(1).strip()
    except (OSError, AttributeError):
        return "unknown"


if __name__ == "__main__":
    main()
