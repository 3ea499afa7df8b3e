"""What crash safety costs: `grayscott run` with every frame flushed and the state checkpointed,
against the same run with both off, interleaved in one process so machine noise hits both.

    flock /tmp/gs-bench.lock .venv/bin/python scripts/durability_bench.py [--rows 1080 --cols 1920]

Prints, per mode, the rate of each run (cell-updates per second, compile excluded) and the
median; the ratio safe/off; and the mean time of a frame's write, of its flush and count
(``RunFile.commit``), of a checkpoint (``RunFile.write_checkpoint``) and of fetching the state
for it (``backend.get_state``), in ms and in % of one block of ``nbextrastep`` steps.

    flock /tmp/gs-bench.lock .venv/bin/python scripts/durability_bench.py --paths \
        [--against OTHER/src] [--rows 512 --cols 512]

``--paths``: the cost of each path of the crash-safe writer, per round and interleaved, in a
fresh process each (``grayscott`` from this tree, and from ``--against``, another checkout's
``src``, e.g. the commit before, for a before/after): ``run``; ``run --fsync``; ``resume`` of a
run stopped halfway (same length); ``resume -n`` to twice the frames of a completed run (the
whole resume, the new file's making and its copy included); and the copy of a longer file alone
(``--copy-frames`` frames), in GB/s.
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
    ap.add_argument("--paths", action="store_true", help="run, run --fsync, resume, resume -n")
    ap.add_argument("--against", default=None, help="--paths: another tree's src to compare")
    ap.add_argument("--copy-frames", type=int, default=200)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # a --paths measurement
    a = ap.parse_args()
    if a.one:
        return _measure_paths(a)
    if a.paths:
        return _paths(a)

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


def _measure_paths(a) -> None:
    """One round of --paths in this process: seconds and rates, as one JSON line."""
    import json

    from grayscott.observers import Observer

    class StopHalfway(Observer):  # as SIGINT would: the run stops after frame n / 2
        def frame(self, ctx):
            if ctx.frames_done == a.frames // 2:
                ctx.stop_reason = "bench"

    problem = gs.make_problem((a.rows, a.cols))
    kw = dict(nbextrastep=a.nbextrastep, backend=a.backend, progress=False)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=a.dir) as d:
        d = Path(d)
        gs.run(problem, d / "warm.h5", nbimage=2, **kw)  # compile, warm the caches
        for name, extra in (("run", {}), ("run --fsync", {"fsync": True})):
            try:
                res = gs.run(problem, d / f"{name}.h5", nbimage=a.frames, **kw, **extra)
            except TypeError:  # a tree without --fsync
                continue
            out[name] = res.cell_steps_per_second
        half = d / "half.h5"
        gs.run(problem, half, nbimage=a.frames, observers=[StopHalfway()], **kw)
        t0 = time.perf_counter()
        res = gs.resume(half, progress=False)
        out["resume"] = res.cell_steps_per_second
        out["resume s"] = time.perf_counter() - t0 - res.compile_seconds
        t0 = time.perf_counter()
        res = gs.resume(d / "run.h5", nbimage=2 * a.frames, progress=False)
        out["resume -n"] = res.cell_steps_per_second
        out["resume -n s"] = time.perf_counter() - t0 - res.compile_seconds
        big = d / "big.h5"
        gs.run(gs.make_problem((a.rows, a.cols)), big, nbimage=a.copy_frames, nbextrastep=1,
               backend=a.backend, progress=False, checkpoint_every=0)
        try:
            from grayscott.io.remake import remade
        except ImportError:  # a tree before it: nothing to copy there
            remade = None
        if remade is not None:
            t0 = time.perf_counter()
            remade(big, a.copy_frames + 1, a.copy_frames).close()
            out["copy GB/s"] = big.stat().st_size / 1e9 / (time.perf_counter() - t0)
    print(json.dumps(out), flush=True)


RATES = ("run", "run --fsync", "resume", "resume -n")


def _show(key: str, value: float) -> str:
    return f"{value / 1e6:.1f} Mcell/s" if key in RATES else f"{value:.3g}"


def _paths(a) -> None:
    """--paths: rounds of one fresh process per tree, interleaved; medians and ratios."""
    import json
    import os
    import subprocess
    import sys

    here = Path(__file__).resolve().parents[1] / "src"
    trees = {"this tree": str(here), **({"--against": a.against} if a.against else {})}
    got: dict[str, dict[str, list[float]]] = {t: defaultdict(list) for t in trees}
    args = ["--rows", str(a.rows), "--cols", str(a.cols), "--frames", str(a.frames),
            "--nbextrastep", str(a.nbextrastep), "--backend", a.backend,
            "--copy-frames", str(a.copy_frames)] + (["--dir", a.dir] if a.dir else [])
    for r in range(a.rounds):
        for tree, src in trees.items():
            env = {**os.environ, "PYTHONPATH": src}
            proc = subprocess.run([sys.executable, __file__, "--one", "1", *args], env=env,
                                  capture_output=True, text=True, check=True)
            line = json.loads(proc.stdout.strip().splitlines()[-1])
            for k, v in line.items():
                got[tree][k].append(v)
            print(f"round {r} {tree}: " + ", ".join(f"{k} {_show(k, v)}"
                                                    for k, v in line.items()), flush=True)
    print(f"\n{a.rows}x{a.cols} float32, backend {a.backend}, {a.frames} frames x "
          f"{a.nbextrastep} steps, {a.rounds} rounds interleaved (medians)")
    for key in got["this tree"]:
        row = [f"{key:>12}"]
        for tree in trees:
            vals = got[tree].get(key)
            if vals:
                row.append(f"{tree}: {_show(key, statistics.median(vals))}")
        if a.against and got["--against"].get(key):
            ratio = statistics.median(got["this tree"][key]) / statistics.median(
                got["--against"][key])
            row.append(f"this/against {ratio:.3f}")
        print("  ".join(row))
    fs = statistics.median(got["this tree"]["run --fsync"]) / statistics.median(
        got["this tree"]["run"])
    print(f"run --fsync / run (this tree): {fs:.3f}")


if __name__ == "__main__":
    main()
