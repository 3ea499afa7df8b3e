"""Regenerate the shipped reference runs: src/grayscott/reference/data/*.json and small.h5.

    flock /tmp/grayscott-bench.lock python scripts/make_reference.py            # all of them
    flock /tmp/grayscott-bench.lock python scripts/make_reference.py school     # one

Each configuration is run in memory (no 8 GB file) by the backend that makes the manifest and,
frame by frame beside it, by the backends that check it: every checker must give the same
digest for every frame it covers, or the script stops and writes nothing for that
configuration. The manifest records who made it, who checked how many frames, the versions,
the CPU and the seconds it took.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

from grayscott import __version__
from grayscott.physics import Parameters, make_problem
from grayscott.reference.manifest import STATS, Manifest, config_for, digest, stats
from grayscott.simulation import Simulation

DATA = Path(__file__).resolve().parents[1] / "src" / "grayscott" / "reference" / "data"
SMALL_FULL = "small.h5"


@dataclass
class Config:
    name: str
    description: str
    shape: tuple[int, int]
    frames: int
    #: backend -> frames it checks (None: all)
    checkers: dict[str, int | None]
    stencil: str = "school"
    border: str = "school"
    dtype: str = "float32"
    nbextrastep: int = 32
    maker: str = "numba-blocked"
    full_frames: int = 0  # frames also stored in full (small.h5)
    options: dict[str, object] = field(default_factory=dict)


CONFIGS = [
    Config("school", "The school's default run: 1000 frames x 32 steps of 1080x1920, float32, "
           "school stencil, border and initial state (grayscott run with no options).",
           (1080, 1920), 1000, {"numba-parallel": None, "numpy-school": 20}),
    # Periodic on the school's grid equals the school's run bit for bit for hundreds of frames
    # (V underflows to 0 long before the border), so this one is a grid the pattern crosses.
    Config("periodic", "grayscott run -r 512 -c 512 --border periodic: 1000 frames x 32 steps "
           "of 512x512 (the pattern reaches the border, and wraps, within the run).",
           (512, 512), 1000, {"numba-parallel": None, "numpy-school": 20}, border="periodic"),
    Config("laplace5", "The default run with --stencil laplace5 (the course's five-point "
           "NumPy expression): its first 100 frames (3,200 steps of 1080x1920).",
           (1080, 1920), 100, {"numba-parallel": None, "numpy-school": 10}, stencil="laplace5"),
    Config("float64", "The default run with --dtype float64 (frames stored as float32, the "
           "default --output-dtype): its first 100 frames (3,200 steps of 1080x1920).",
           (1080, 1920), 100, {"numba-parallel": None, "numpy-school": 10}, dtype="float64"),
    Config("small", "A small run for notebooks and tests: grayscott run -r 128 -c 128 -n 100 "
           "(school stencil, border and initial state, float32); its first 24 frames are "
           "stored in full in small.h5.", (128, 128), 100,
           {"numba-parallel": None, "numba": None, "numpy-school": None}, full_frames=24),
]


def cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    import numba

    return {"grayscott": __version__, "numpy": np.__version__, "numba": numba.__version__,
            "python": platform.python_version()}


def generate(c: Config) -> tuple[Manifest, np.ndarray]:
    problem = make_problem(c.shape, params=Parameters(), stencil=c.stencil, border=c.border,
                           dtype=c.dtype)
    sims = {name: Simulation(problem, backend=name)
            for name in [c.maker, *c.checkers]}
    limit = {name: c.frames if n is None else min(n, c.frames) for name, n in c.checkers.items()}
    sha: list[str] = []
    columns: dict[str, list[float]] = {k: [] for k in STATS}
    full = []
    start = time.perf_counter()
    for i in range(c.frames):
        sim = sims[c.maker]
        sim.advance(c.nbextrastep)
        v = sim.backend.get_v().astype(np.float32)  # what the run file stores
        sha.append(digest(v))
        for k, x in stats(v).items():
            columns[k].append(x)
        if i < c.full_frames:
            full.append(v)
        for name, n in limit.items():
            if i < n:
                sims[name].advance(c.nbextrastep)
                got = digest(sims[name].backend.get_v().astype(np.float32))
                if got != sha[-1]:
                    sys.exit(f"{c.name}: {name} differs from {c.maker} in frame {i}; "
                             "nothing written")
        if i % 50 == 0 or i == c.frames - 1:
            print(f"  {c.name}: frame {i + 1}/{c.frames}, {time.perf_counter() - start:.0f} s",
                  flush=True)
    seconds = time.perf_counter() - start
    prov = {**versions(), "cpu": cpu(), "threads": sims[c.maker].backend.threads,
            "date": datetime.now(UTC).strftime("%Y-%m-%d"), "seconds": round(seconds, 1),
            "command": f"python scripts/make_reference.py {c.name}"}
    m = Manifest(name=c.name, description=c.description,
                 config=config_for(problem, c.nbextrastep), sha256=sha, stats=columns,
                 made_by=c.maker, checked=limit, provenance=prov,
                 full=SMALL_FULL if c.full_frames else None)
    return m, np.stack(full) if full else np.empty((0, *c.shape), np.float32)


def write_full(m: Manifest, frames: np.ndarray, path: Path) -> None:
    """The first frames in full, in the school's layout with the run's settings as attributes."""
    with h5py.File(path, "w", track_order=True) as f:
        f.create_dataset("matrix", data=frames, chunks=(1, *frames.shape[1:]),
                         compression="gzip", compression_opts=9, shuffle=True)
        for key, value in m.config.items():
            f.attrs[key] = np.asarray(value) if isinstance(value, list) else value
        f.attrs["nbimage"] = frames.shape[0]
        f.attrs["steps_before"] = 0
        f.attrs["backend"] = m.made_by
        f.attrs["description"] = f"The first {frames.shape[0]} frames of the reference {m.name!r}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="configurations (default: all): "
                        + ", ".join(c.name for c in CONFIGS))
    args = parser.parse_args()
    unknown = set(args.names) - {c.name for c in CONFIGS}
    if unknown:
        parser.error(f"unknown configuration(s): {', '.join(sorted(unknown))}")
    DATA.mkdir(parents=True, exist_ok=True)
    for c in CONFIGS:
        if args.names and c.name not in args.names:
            continue
        print(f"{c.name}: {c.frames} frames of {c.shape[0]}x{c.shape[1]} by {c.maker}, "
              f"checked by {', '.join(c.checkers)}", flush=True)
        m, full = generate(c)
        (DATA / f"{c.name}.json").write_text(m.to_json())
        if c.full_frames:
            write_full(m, full, DATA / SMALL_FULL)
        print(f"{c.name}: written in {m.provenance['seconds']} s", flush=True)


if __name__ == "__main__":
    main()
