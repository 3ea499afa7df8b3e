"""Strong and weak scaling over MPI ranks, with the time in halo exchange and in gathering.

``grayscott bench --ranks N`` launches ``mpiexec -n k python -m grayscott.parallel.bench`` for
k = 1 .. N (the ``mpiexec`` beside the Python running it, else the one on PATH), once with the
grid fixed (strong scaling) and once with the grid grown with the ranks (weak scaling: every
rank keeps a ``rows x cols`` block), and prints one table. Each launch prints one JSON line:

* ``step_s``: wall seconds per step, the slowest rank's (what the run waits for);
* ``halo_s``: seconds per step in the halo exchange (border rule, packing, messages and the
  wait for the neighbours; an exchange's time shared by the steps it serves), the slowest
  rank's;
* ``gather_s``: seconds to gather one frame of V to rank 0 (what ``run`` does per frame);
* ``compute_cpu_s``: CPU seconds per step outside the exchange, the busiest rank's: the
  compute, which does not grow when the machine is shared with other work (wall time does);
* ``exchange_s``: seconds per exchange when the ranks do nothing else (no compute between,
  so no waiting for a slower neighbour): the cost of the messages themselves (the median call,
  the slowest rank's);
* ``halo_bytes``: bytes a rank sends per exchange (the largest); ``halo_depth``: the lines
  each exchange carries, one exchange per that many steps (numba backends);
* ``write_s``: seconds for every rank to write its block of a frame (float32) into its own part
  file and flush it, the slowest rank's (what ``run`` does per frame); ``root_write_s``: rank 0
  writing the whole frame into one file (the route that gathers first); ``block_bytes``: the
  largest block's bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import GrayScottError


def measure(backend: str, shape: tuple[int, int], steps: int, repeat: int, dtype: str,
            threads: int | None, dims: tuple[int, int] | None, weak: bool) -> dict[str, Any] | None:
    """Time ``backend`` on this communicator (collective); the result on rank 0, else None."""
    import numpy as np
    from mpi4py import MPI

    from ..physics import make_initial, make_problem
    from .decomposition import choose_dims
    from .distributed import DistributedBackend

    comm = MPI.COMM_WORLD
    if weak:  # every rank keeps a block of `shape`
        p, q = choose_dims(comm.size, (shape[0] * comm.size, shape[1] * comm.size), dims)
        dims, shape = (p, q), (shape[0] * p, shape[1] * q)
    problem = make_problem(shape, dtype=dtype)
    be = DistributedBackend(problem, backend, comm=comm, dims=dims, threads=threads)
    be.set_state(*make_initial("school", shape))
    be.compile()
    be.advance(max(1, steps // 4))  # warm caches and the messages' paths
    best = None
    cpu_best = None
    for _ in range(repeat):
        halo0, hcpu0 = be.halo.seconds, be.halo.cpu_seconds
        comm.Barrier()
        t0, c0 = time.perf_counter(), time.process_time()
        be.advance(steps)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        halo = be.halo.seconds - halo0
        # CPU time of the steps without the exchange: what a rank computes, whether or not
        # the machine gave it a core all along (robust to load from elsewhere).
        compute_cpu = comm.allreduce(cpu - (be.halo.cpu_seconds - hcpu0), op=MPI.MAX)
        wall, halo = comm.allreduce(wall, op=MPI.MAX), comm.allreduce(halo, op=MPI.MAX)
        if best is None or wall < best[0]:
            best = (wall, halo)
        cpu_best = compute_cpu if cpu_best is None else min(cpu_best, compute_cpu)
    gather = []
    for _ in range(max(3, repeat)):
        comm.Barrier()
        g0 = be.gather_seconds
        be.get_v()
        gather.append(comm.allreduce(be.gather_seconds - g0, op=MPI.MAX))
    write_s, root_write_s = _writes(be, comm, max(3, repeat))
    nbytes = comm.allreduce(be.halo.bytes_per_call, op=MPI.MAX)
    # The exchange alone, no compute between: its cost without waiting for a slower neighbour.
    # The median call, not the mean: on a machine shared with other work, the calls during
    # which the scheduler put a rank aside say how busy the machine was, not what MPI costs.
    calls = np.empty(steps)
    comm.Barrier()
    for i in range(steps):
        h0 = time.perf_counter()
        be.stepper.exchange()
        calls[i] = time.perf_counter() - h0
    exchange = comm.allreduce(float(np.median(calls)), op=MPI.MAX)
    be.free()  # its communicator: `bench` measures several in one process
    if comm.rank != 0:
        return None
    wall, halo = best
    return {"ranks": comm.size, "dims": list(be.block.dims), "shape": list(shape),
            "backend": backend, "threads": be.threads, "dtype": dtype, "steps": steps,
            "step_s": wall / steps, "halo_s": halo / steps, "gather_s": float(np.median(gather)),
            "halo_bytes": nbytes, "halo_depth": be.depth, "exchange_s": exchange,
            "compute_cpu_s": cpu_best / steps,
            "write_s": write_s, "root_write_s": root_write_s,
            "block_bytes": int(np.prod(be.block.shape)) * 4,
            "mode": "weak" if weak else "strong",
            "cell_steps_per_s": shape[0] * shape[1] * steps / wall}


def _writes(be: Any, comm: Any, frames: int) -> tuple[float, float]:
    """Seconds per frame (median, the slowest rank's) for every rank to write its block of V
    as float32 into a part file of its own and flush it (what ``run`` does), and for rank 0
    alone to write the whole frame into one file and flush it (after a gather, the route
    without part files). The files go to ``GRAYSCOTT_BENCH_DIR``, else the temporary folder."""
    import tempfile

    import h5py
    import numpy as np
    from mpi4py import MPI

    from ..io.parts import create_part

    where = os.environ.get("GRAYSCOTT_BENCH_DIR") or tempfile.gettempdir()
    folder = Path(comm.bcast(tempfile.mkdtemp(dir=where) if comm.rank == 0 else None))
    shape = be.problem.shape
    session = {"first": 0, "stop": frames, "dims": list(be.block.dims)}
    part = create_part(folder / f"r{comm.rank}.h5", session, comm.rank, shape, np.float32)
    v = be.local_v().astype(np.float32)
    times = []
    for i in range(frames):
        comm.Barrier()
        t0 = time.perf_counter()
        part["matrix"][i] = v
        part.flush()
        times.append(comm.allreduce(time.perf_counter() - t0, op=MPI.MAX))
    part.close()
    root = []
    if comm.rank == 0:
        whole = np.zeros(shape, np.float32)
        with h5py.File(folder / "one.h5", "w", locking=False, rdcc_nbytes=0) as f:
            m = f.create_dataset("matrix", (frames, *shape), np.float32, chunks=(1, *shape))
            for i in range(frames):
                t0 = time.perf_counter()
                m[i] = whole
                f.flush()
                root.append(time.perf_counter() - t0)
        shutil.rmtree(folder, ignore_errors=True)
    comm.Barrier()
    return float(np.median(times)), float(np.median(root)) if root else 0.0


def mpiexec() -> str:
    """The ``mpiexec`` of this environment (the mpich wheel puts it beside python)."""
    here = Path(sys.executable).parent / "mpiexec"
    found = str(here) if here.exists() else shutil.which("mpiexec")
    if not found:
        raise GrayScottError("--ranks needs mpiexec: pip install 'grayscott[mpi]'")
    return found


def launch(ranks: int, args: list[str], timeout: float = 600) -> dict[str, Any]:
    cmd = [mpiexec(), "-n", str(ranks), sys.executable, "-m", "grayscott.parallel.bench", *args]
    env = {**os.environ, "GRAYSCOTT_MPI": "1"}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise GrayScottError(f"the {ranks}-rank benchmark took over {timeout:g} s; use a "
                             "smaller grid or fewer steps") from None
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise GrayScottError(f"the {ranks}-rank benchmark failed (exit {proc.returncode}): {last}")
    return json.loads(lines[-1])


def scaling(max_ranks: int, backend: str, shape: tuple[int, int], steps: int, repeat: int,
            dtype: str, threads: int | None = None, rounds: int = 2,
            dims: tuple[int, int] | None = None) -> list[dict[str, Any]]:
    """Strong then weak scaling for 1 .. max_ranks ranks (one mpiexec each), the rank counts
    interleaved ``rounds`` times and the fastest launch of each kept, so that a burst of load
    from elsewhere on the machine does not land on one rank count only. ``dims``: the strong
    scaling layout of the launches it fits (R x C ranks, or a multiple of a given factor)."""
    base = ["--backend", backend, "--rows", str(shape[0]), "--cols", str(shape[1]),
            "--steps", str(steps), "--repeat", str(repeat), "--dtype", dtype]
    if threads:
        base += ["--threads", str(threads)]
    best: dict[tuple[str, int], dict[str, Any]] = {}
    for _ in range(rounds):
        for mode in ("strong", "weak"):
            for k in range(1, max_ranks + 1):
                extra = ["--weak"] if mode == "weak" else []
                if dims and mode == "strong" and _fits_ranks(dims, k):
                    extra += ["--dims", f"{dims[0]}x{dims[1]}"]
                row = launch(k, base + extra)
                if (mode, k) not in best or row["step_s"] < best[mode, k]["step_s"]:
                    best[mode, k] = row
    return [best[mode, k] for mode in ("strong", "weak") for k in range(1, max_ranks + 1)]


def _fits_ranks(dims: tuple[int, int], ranks: int) -> bool:
    fixed = [d for d in dims if d]
    return (dims[0] * dims[1] == ranks) if len(fixed) == 2 else ranks % (fixed or [1])[0] == 0


def format_table(rows: list[dict[str, Any]]) -> str:
    """Strong and weak scaling, efficiency against the 1-rank row of the same mode."""
    out = ["mode    ranks  dims  grid          ms/step  Mcell/s  eff.  halo ms/step (%)  "
           "exchange alone ms  compute CPU ms  halo KB/exchange  gather ms/frame  "
           "write ms/frame (rank 0 alone)"]
    ref = {r["mode"]: r for r in rows if r["ranks"] == 1}
    for r in rows:
        one = ref.get(r["mode"])
        if one is None:
            eff = float("nan")
        elif r["mode"] == "strong":
            eff = one["step_s"] / (r["ranks"] * r["step_s"])
        else:
            eff = one["step_s"] / r["step_s"]
        grid = f"{r['shape'][0]}x{r['shape'][1]}"
        share = 100 * r["halo_s"] / r["step_s"]
        dims = f"{r['dims'][0]}x{r['dims'][1]}"
        out.append(f"{r['mode']:<7} {r['ranks']:>5}  {dims:<4}  {grid:<12}  "
                   f"{r['step_s'] * 1e3:>7.3f}  {r['cell_steps_per_s'] / 1e6:>7.1f}  "
                   f"{eff:>4.2f}  {r['halo_s'] * 1e3:>7.3f} ({share:>4.1f})"
                   f"  {r.get('exchange_s', float('nan')) * 1e3:>17.3f}"
                   f"  {r.get('compute_cpu_s', float('nan')) * 1e3:>14.3f}"
                   f"  {r['halo_bytes'] / 1e3:>12.1f}  {r['gather_s'] * 1e3:>15.3f}"
                   f"  {r.get('write_s', float('nan')) * 1e3:>14.3f}"
                   f" ({r.get('root_write_s', float('nan')) * 1e3:.3f})")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    from .decomposition import parse_dims

    ap = argparse.ArgumentParser(prog="python -m grayscott.parallel.bench",
                                 description="One scaling measurement; run under mpiexec.")
    ap.add_argument("--backend", default="numba")
    ap.add_argument("--rows", type=int, default=1080)
    ap.add_argument("--cols", type=int, default=1920)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--dims", default=None)
    ap.add_argument("--weak", action="store_true", help="rows x cols per rank, not in all")
    a = ap.parse_args(argv)
    try:
        result = measure(a.backend, (a.rows, a.cols), a.steps, a.repeat, a.dtype, a.threads,
                         parse_dims(a.dims), a.weak)
    except GrayScottError as exc:
        print(f"grayscott bench: error: {exc}", file=sys.stderr)
        return 2
    if result is not None:
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def command(ranks: int | None, backend_list: str | None, shape: tuple[int, int], steps: int,
            repeat: int, dtype: str, json_path: str | None,
            ladder_only: list[str] | None = None, layout: str | None = None) -> None:
    """``grayscott bench --ranks N`` (launches mpiexec for 1 .. N ranks, strong then weak), or
    ``mpiexec -n N grayscott bench`` (one strong-scaling row for the ranks launched).
    ``ladder_only``: options of the one-process ladder that were given (refused here);
    ``layout``: the rank layout (``--layout``), for the launches with that many ranks."""
    import click

    from ..bench.report import check_output
    from . import launched

    if ladder_only:
        raise GrayScottError(f"{' and '.join(ladder_only)} "
                             f"{'is' if len(ladder_only) == 1 else 'are'} for the one-process "
                             "ladder; the MPI scaling bench prints a table and writes --json")
    if json_path:
        check_output(json_path, "--json")

    backend = (backend_list or "").split(",")[0].strip() or _default_backend()
    from .distributed import check_decomposable

    check_decomposable(backend)
    from .launcher import requested_layout

    dims, _ = requested_layout(layout, mpi=True)
    if ranks is not None and launched():
        raise GrayScottError("--ranks starts mpiexec itself: run `grayscott bench --ranks N` "
                             "without mpiexec, or `mpiexec -n N grayscott bench` without --ranks")
    if ranks is None and launched():
        from mpi4py import MPI

        row = measure(backend, shape, steps, repeat, dtype, None, dims, weak=False)
        rows = [row] if MPI.COMM_WORLD.rank == 0 else []
    else:
        if ranks is None or ranks < 1:
            raise GrayScottError("--ranks must be an integer >= 1")
        click.echo(f"grayscott bench: {backend} on {shape[0]}x{shape[1]} {dtype}, 1 to {ranks} "
                   f"MPI ranks, strong then weak scaling (mpiexec each)...", err=True)
        rows = scaling(ranks, backend, shape, steps, repeat, dtype, dims=dims)
    if rows:
        click.echo(format_table(rows))
        if json_path:
            Path(json_path).write_text(json.dumps(rows, indent=1) + "\n")


def _default_backend() -> str:
    import importlib.util

    return "numba" if importlib.util.find_spec("numba") else "numpy"
