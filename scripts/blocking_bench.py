#!/usr/bin/env python
"""Temporal blocking measured: the k sweep, the roofline and the arithmetic ceiling.

    flock /tmp/gs-bench.lock python scripts/blocking_bench.py [--rounds 5] [--markdown out.md]

For each grid, every round runs, one after the other: a STREAM copy probe on all threads (the
round's memory roofline = bandwidth / 16 B per cell-update in float32), the school's row loop
alone on rows that sit in L1/L2 (no field traffic at all: what the arithmetic allows), one timed
call of ``numba-parallel``, and one of ``numba-blocked`` for each k (and its own choice). Every
figure is then taken per round (rate / that round's roofline, rate / that round's
``numba-parallel``) and the median over rounds reported, so load from other processes hits all
of them alike. The school's problem and initial state, float32, the same steps for every call.
"""

from __future__ import annotations

import argparse
import statistics as st
import time

import numpy as np
from numba import njit, prange

from grayscott import backends
from grayscott.backends import numba_kernels as K
from grayscott.bench.bandwidth import measure_bandwidth
from grayscott.physics import make_initial, make_problem

ROW = 1920  # width of the rows of the arithmetic probe: 61 KB in and out, L1/L2 resident


@njit(parallel=True, nogil=True, boundscheck=False, error_model="numpy")
def _row_loop(rows, outs, w, c, kind, n):  # pragma: no cover  (compiled)
    for t in prange(rows.shape[0]):  # one private set of rows per thread
        r = rows[t]
        for _ in range(n):
            K.row_lines(r[0], r[1], r[2], r[3], r[4], r[5], outs[t, 0], outs[t, 1], w, c, kind)


def arithmetic_rate(threads: int, problem, n: int = 10000, repeat: int = 3) -> float:
    """Cell-updates/s of the row loop alone on ``threads`` threads (each on its own rows),
    best of ``repeat`` calls (a call is short: the best one is the least disturbed)."""
    import numba

    numba.set_num_threads(threads)
    rng = np.random.default_rng(0)
    rows = rng.uniform(0.1, 0.9, (threads, 6, ROW + 2)).astype(problem.dtype)
    outs = np.zeros((threads, 2, ROW + 2), problem.dtype)
    w = np.array(problem.stencil.weights.ravel(), problem.dtype)
    p = problem.params
    c = K.constants(p.Du, p.Dv, p.F, p.k, p.dt, problem.dtype)
    kind = K.row_kind(w, c)
    _row_loop(rows, outs, w, c, kind, 1)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        _row_loop(rows, outs, w, c, kind, n)
        best = min(best, time.perf_counter() - t0)
    return threads * n * ROW / best


def measure(shape, ks, rounds, steps, threads):
    problem = make_problem(shape, dtype="float32")
    u0, v0 = make_initial("school", shape)
    runs = {"numba-parallel": backends.create("numba-parallel", problem, threads=threads)}
    auto = backends.create("numba-blocked", problem, threads=threads)
    runs[f"numba-blocked, own choice: {auto.describe()}"] = auto
    for k in ks:
        runs[f"numba-blocked k={k}"] = backends.create("numba-blocked", problem,
                                                       threads=threads, blocking=k)
    for b in runs.values():  # compiled, pages touched
        b.set_state(u0, v0)
        b.advance(steps)
    per_round = []
    for _ in range(rounds):
        bw = measure_bandwidth(512 << 20, threads=[threads], repeat=3,
                               kernels=("copy",)).bytes_per_s
        row = {"roofline": bw / 16, "bandwidth": bw,
               "arithmetic 1 thread": arithmetic_rate(1, problem),
               f"arithmetic {threads} threads": arithmetic_rate(threads, problem)}
        for name, b in runs.items():
            b.set_state(u0, v0)
            t0 = time.perf_counter()
            b.advance(steps)
            row[name] = shape[0] * shape[1] * steps / (time.perf_counter() - t0)
        per_round.append(row)
    return per_round, list(runs)


def table(shape, per_round, names, threads) -> str:
    bws = [r["bandwidth"] / 1e9 for r in per_round]
    lines = [f"### {shape[0]} × {shape[1]}, float32, {threads} threads, {len(per_round)} rounds",
             "",
             f"Copy bandwidth per round: {min(bws):.1f}–{max(bws):.1f} GB/s (median "
             f"{st.median(bws):.1f}); roofline median "
             f"{st.median(r['roofline'] for r in per_round) / 1e6:,.0f} Mcell/s.",
             "",
             "| | Mcell/s median (best) | roofline fraction | vs numba-parallel [min, max] |",
             "| --- | ---: | ---: | --- |"]
    for name in [f"arithmetic {threads} threads", "arithmetic 1 thread", *names]:
        rates = [r[name] for r in per_round]
        frac = st.median(r[name] / r["roofline"] for r in per_round)
        ratio = [r[name] / r["numba-parallel"] for r in per_round]
        label = (f"row loop alone, {name.split(' ', 1)[1]} (no field traffic)"
                 if name.startswith("arithmetic") else f"`{name}`")
        lines.append(f"| {label} | {st.median(rates) / 1e6:,.0f} ({max(rates) / 1e6:,.0f}) | "
                     f"{frac:.2f} | ×{st.median(ratio):.2f} [{min(ratio):.2f}, "
                     f"{max(ratio):.2f}] |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--grids", default="1080x1920:96,4320x7680:24",
                    help="ROWSxCOLS:STEPS, comma-separated")
    ap.add_argument("--ks", default="1,2,4,6,8,12,16")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    import numba

    threads = args.threads or numba.config.NUMBA_NUM_THREADS
    ks = [int(k) for k in args.ks.split(",")]
    out = []
    for spec in args.grids.split(","):
        grid, steps = spec.split(":")
        shape = tuple(int(x) for x in grid.split("x"))
        per_round, names = measure(shape, ks, args.rounds, int(steps), threads)
        out.append(table(shape, per_round, names, threads))
        print(out[-1], flush=True)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(out))


if __name__ == "__main__":
    main()
