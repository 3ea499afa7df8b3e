#!/usr/bin/env python
"""The picture of docs/explore.md: the `grayscott explore` page in headless chromium.

    python scripts/explore_screenshot.py [-o docs/explore.png]

Starts `grayscott explore` on a 256 x 256 grid (preset gamma, noise start, 32 steps per frame),
opens it with Playwright in Debian's chromium, waits until the pattern has grown (5,000 steps),
paints a stroke with the brush, waits a few frames and saves a screenshot of the whole page.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys

from playwright.sync_api import sync_playwright

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", default="docs/explore.png")
    ap.add_argument("--backend", default=None)
    args = ap.parse_args()
    cmd = [sys.executable, "-m", "grayscott", "explore", "-r", "256", "-c", "256", "-e", "32",
           "--preset", "gamma", "--initial", "noise"]
    if args.backend:
        cmd += ["-b", args.backend]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        url = next(m.group(1) for line in server.stdout
                   if (m := re.search(r"(http://\S+)", line)))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                        headless=True, args=ARGS)
            page = browser.new_context(viewport={"width": 1000, "height": 640},
                                       bypass_csp=True).new_page()
            page.goto(url)
            page.wait_for_function("window.exploreStats.steps >= 5000", timeout=600_000)
            box = page.locator("canvas").bounding_box()
            x, y, w, h = box["x"], box["y"], box["width"], box["height"]
            page.mouse.move(x + 0.15 * w, y + 0.8 * h)
            page.mouse.down()
            page.mouse.move(x + 0.45 * w, y + 0.6 * h, steps=12)
            page.mouse.up()
            start = page.evaluate("window.exploreStats.frames")
            page.wait_for_function(f"window.exploreStats.frames > {start + 10}")
            page.screenshot(path=args.output)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
