"""``--stop-within``: what a paced run costs, and how soon a SIGTERM ends it.

    flock /tmp/grayscott-bench.lock python scripts/stop_within_bench.py [--repeat 3]

For each backend: the wall time of a run whose frames take seconds, with and without
``--stop-within 0.5`` (sub-blocks of about 0.25 s), interleaved; then the time from SIGTERM to
the process's end with and without ``--stop-within 2``, the signal sent 2 s into the first
frame. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py

GRAYSCOTT = [sys.executable, "-m", "grayscott"]
#: steps per frame that take a few seconds each on a 256 x 256 grid
STEPS = {"numpy": 20000, "numba": 60000}


def _wall(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([*GRAYSCOTT, *args], check=True, capture_output=True)
    return time.perf_counter() - t0


def _reaction(args: list[str], out: Path) -> float:
    proc = subprocess.Popen([*GRAYSCOTT, *args], stderr=subprocess.DEVNULL)
    while proc.poll() is None:
        try:
            with h5py.File(out, "r") as f:
                if f["status"][()] == b"running":
                    break
        except (OSError, KeyError):
            pass
        time.sleep(0.05)
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    t0 = time.perf_counter()
    proc.wait()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "b.h5"
        for backend, e in STEPS.items():
            base = ["run", "-q", "-r", "256", "-c", "256", "-b", backend, "-o", str(out),
                    "--overwrite", "-e", str(e)]
            plain, paced = [], []
            for _ in range(a.repeat):  # interleaved: the load changes both alike
                plain.append(_wall([*base, "-n", "2"]))
                paced.append(_wall([*base, "-n", "2", "--stop-within", "0.5"]))
            long = [*base[:-1], str(10 * e), "-n", "2"]
            r_plain = [_reaction(long, out) for _ in range(1)]
            r_paced = [_reaction([*long, "--stop-within", "2"], out)
                       for _ in range(a.repeat)]
            p, q = statistics.median(plain), statistics.median(paced)
            rows.append(f"| {backend} | {e} | {p:.2f} | {q:.2f} | {q / p:.3f} | "
                        f"{statistics.median(r_plain):.1f} | {max(r_paced):.2f} |")
    print("| backend | steps per frame | run, s | run --stop-within 0.5, s | ratio | "
          "SIGTERM to exit, s | with --stop-within 2 (worst), s |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
