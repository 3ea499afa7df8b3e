"""What crash safety costs: `grayscott run` with every frame flushed and the state checkpointed,
against the same run with both off, interleaved in one process so machine noise hits both.

    flock /tmp/gs-bench.lock .venv/bin/python scripts/durability_bench.py [--rows 1080 --cols 1920]

Prints, per mode, the rate of each run (cell-updates per second, compile excluded) and the
median; the ratio safe/off; and the mean time of a frame's write, of its flush and count
(``RunFile.commit``), of a checkpoint (``RunFile.write_checkpoint``) and of fetching the state
for it (``backend.get_state``), in ms and in % of one block of ``nbextrastep`` steps.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import grayscott as gs
from grayscott import backends
from grayscott.io import runfile
from grayscott.runs import DEFAULT_CHECKPOINT_EVERY

TIMES: dict[str, list[float]] = defaultdict(list)


def timed(name: str, fn):
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            TIMES[name].append(time.perf_counter() - t0)

    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1080)
    ap.add_argument("--cols", type=int, default=1920)
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--nbextrastep", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--backend", default=backends.default_backend())
    ap.add_argument("--dir", default=None, help="where the files go (default: a temp folder)")
    a = ap.parse_args()

    modes = {"safe": dict(flush_every=1, checkpoint_every=DEFAULT_CHECKPOINT_EVERY),
             "off": dict(flush_every=0, checkpoint_every=0)}
    if DEFAULT_CHECKPOINT_EVERY != 1:
        modes["checkpoint every frame"] = dict(flush_every=1, checkpoint_every=1)
    problem = gs.make_problem((a.rows, a.cols))
    runfile.RunFile.write_frame = timed("frame write", runfile.RunFile.write_frame)
    runfile.RunFile.commit = timed("flush + count", runfile.RunFile.commit)
    runfile.RunFile.write_checkpoint = timed("checkpoint write", runfile.RunFile.write_checkpoint)
    rates: dict[str, list[float]] = defaultdict(list)
    per_mode: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    block: list[float] = []

    def frame_clock():
        """A user observer timing the blocks: the gap between two frames minus the I/O."""
        from grayscott.observers import Observer

        class Clock(Observer):
            def start(self, ctx):
                self.t = time.perf_counter()

            def frame(self, ctx):
                now = time.perf_counter()
                block.append(now - self.t)
                self.t = now

        return Clock()

    with tempfile.TemporaryDirectory(dir=a.dir) as d:
        # one run to compile (Numba caches) and warm the page cache
        gs.run(problem, Path(d) / "warm.h5", nbimage=2, nbextrastep=a.nbextrastep,
               backend=a.backend, progress=False)
        for r in range(a.rounds):
            for mode, kw in modes.items():
                TIMES.clear()
                block.clear()
                path = Path(d) / f"{r}-{mode.replace(' ', '_')}.h5"
                backend = gs.backends.create(a.backend, problem)
                backend.get_state = timed("get_state", backend.get_state)
                sim = gs.Simulation(problem, backend)
                res = _run(problem, path, a, sim, kw, frame_clock())
                rates[mode].append(res.cell_steps_per_second)
                for k, v in TIMES.items():
                    per_mode[mode][k] += v
                per_mode[mode]["frame gap"] += block[1:]
                path.unlink()
                print(f"round {r} {mode:>22}: {res.cell_steps_per_second / 1e6:8.1f} "
                      f"Mcell-updates/s, {res.wall_seconds:.2f} s", flush=True)

    print(f"\n{a.rows}x{a.cols} float32, backend {a.backend}, {a.frames} frames x "
          f"{a.nbextrastep} steps, {a.rounds} rounds interleaved; default checkpoint every "
          f"{DEFAULT_CHECKPOINT_EVERY} frame(s)")
    med = {m: statistics.median(v) for m, v in rates.items()}
    for m, v in rates.items():
        print(f"{m:>22}: median {med[m] / 1e6:.1f} Mcell-updates/s "
              f"({', '.join(f'{x / 1e6:.1f}' for x in v)})")
    best = {m: max(v) for m, v in rates.items()}
    print(f"rate ratio safe/off: {med['safe'] / med['off']:.3f} (medians), "
          f"{best['safe'] / best['off']:.3f} (best runs)")
    off_gap = statistics.median(per_mode["off"]["frame gap"])
    print(f"one frame in 'off' mode (block of {a.nbextrastep} steps + frame write): "
          f"{off_gap * 1e3:.1f} ms")
    for m, times in per_mode.items():
        parts = []
        for k in ("frame write", "flush + count", "get_state", "checkpoint write"):
            if times.get(k):
                ms = statistics.mean(times[k]) * 1e3
                parts.append(f"{k} {ms:.2f} ms ({100 * ms / 1e3 / off_gap:.1f} %)")
        print(f"{m:>22}: " + ", ".join(parts))


def _run(problem, path, a, sim, kw, clock):
    """gs.run with a prepared Simulation (so get_state can be timed): the same steps as
    grayscott run."""
    from grayscott.parallel import placement

    original = placement.Simulation
    placement.Simulation = lambda *args, **kwargs: sim
    try:
        return gs.run(problem, path, nbimage=a.frames, nbextrastep=a.nbextrastep,
                      backend=a.backend, progress=False, observers=[clock], **kw)
    finally:
        placement.Simulation = original


if __name__ == "__main__":
    main()
