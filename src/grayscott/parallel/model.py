"""A model of one step and one frame on P ranks: compute, halo, and the output.

docs/scaling.md prints its tables (``python -m grayscott.parallel.model``). Its constants:

* ``rate``: a rank's cell-updates per second (compute CPU time), against its block's cells:
  ``rates`` lists measured (cells, rate) points, interpolated in log(cells) and held flat past
  both ends (a block that fits the cache is faster than one that streams from memory);
* ``overhead``: seconds per exchange that do not depend on its size (starting and completing
  the messages through mpi4py, the border rule; on a cluster, the network's latency);
* ``bandwidth``: bytes per second of one rank's halo messages;
* ``write``: bytes per second one rank writes its block of a frame into its part file
  (flushed), and ``fs_bandwidth`` what the file system takes from all ranks at once (the
  slower of the two sets a frame's write time);
* ``root_bandwidth``: bytes per second rank 0 gathers a checkpoint (U and V) at.

``depth``: halo lines exchanged at once (``--halo-depth``), so one exchange per ``depth``
steps; each step then also computes about ``(depth - 1) / 2`` lines of each neighbour's side
(``depth - 1`` of the left one).

``exposed`` is the share of the halo time that the step waits for (1: nothing hidden; the
exchange now overlaps the interior's compute, so on a machine with a core per rank only what
outlasts the interior is exposed: ``max(0, halo - interior)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import GrayScottError
from .decomposition import DEPTH, choose_dims, sent_cells, split


@dataclass(frozen=True)
class Machine:
    rate: float  # cell-updates/s per rank, when ``rates`` is empty
    overhead: float  # s per exchange
    bandwidth: float  # B/s per rank, halo messages
    root_bandwidth: float  # B/s into rank 0: the checkpoint's gather
    write: float = float("inf")  # B/s a rank writes its block (part file, flushed)
    fs_bandwidth: float = float("inf")  # B/s the file system takes from all ranks
    rates: tuple[tuple[float, float], ...] = field(default=())  # (block cells, rate)

    def rate_at(self, cells: float) -> float:
        """A rank's rate on a block of ``cells`` cells."""
        pts = sorted(self.rates)
        if not pts:
            return self.rate
        if cells <= pts[0][0]:
            return pts[0][1]
        for (c0, r0), (c1, r1) in zip(pts, pts[1:], strict=False):
            if cells <= c1:
                t = math.log(cells / c0) / math.log(c1 / c0)
                return r0 + t * (r1 - r0)
        return pts[-1][1]


@dataclass(frozen=True)
class Step:
    ranks: int
    dims: tuple[int, int]
    block: tuple[int, int]
    compute_s: float
    halo_s: float
    halo_bytes: int  # the most any rank sends per exchange
    write_s: float  # one frame of V (float32), every rank its block
    checkpoint_s: float  # one checkpoint (U and V of the state dtype) gathered to rank 0

    @property
    def step_s(self) -> float:
        """Compute plus the halo time not hidden behind the interior's compute."""
        return self.compute_s + max(0.0, self.halo_s - self.compute_s)

    @property
    def step_exposed_s(self) -> float:
        """Compute plus the whole halo time (no overlap: progress only inside MPI calls, as
        for messages above the MPI's eager limit without a progress thread)."""
        return self.compute_s + self.halo_s

    @property
    def halo_share(self) -> float:
        return self.halo_s / (self.compute_s + self.halo_s)


def step(shape: tuple[int, int], ranks: int, m: Machine, itemsize: int = 4,
         dims: tuple[int, int] | None = None, periodic: bool = False, depth: int = 1) -> Step:
    """The slowest rank's step, over every rank's block and neighbours (a rank on the edge of
    the grid of ranks has fewer neighbours unless ``periodic``), with one exchange of
    ``depth`` lines per ``depth`` steps."""
    p, q = dims or choose_dims(ranks, shape, periodic=periodic)
    rows, cols = split(shape[0], p), split(shape[1], q)
    worst, most = None, 0
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            block = (r1 - r0, c1 - c0)
            nbytes = 2 * itemsize * sent_cells(block, (p, q), (i, j), periodic, depth)
            most = max(most, nbytes)
            cells = block[0] * block[1]
            compute = (cells + _grown(block, (p, q), (i, j), periodic, depth)) / m.rate_at(cells)
            halo = (m.overhead + nbytes / m.bandwidth) / depth if nbytes else 0.0
            if worst is None or compute + halo > worst[0] + worst[1]:
                worst = (compute, halo, block)
    compute, halo, block = worst
    n = shape[0] * shape[1]
    write = max(block[0] * block[1] * 4 / m.write, n * 4 / m.fs_bandwidth)
    checkpoint = 2 * n * itemsize / m.root_bandwidth
    return Step(ranks, (p, q), block, compute, halo, most, write, checkpoint)


def _grown(block: tuple[int, int], dims: tuple[int, int], coords: tuple[int, int],
           periodic: bool, depth: int) -> float:
    """Cells a step computes beyond its block with halos ``depth`` deep: (depth - 1) / 2 lines
    on average into each neighbour's side, depth - 1 into the left one (its reach stays
    whole; :class:`~.overlap.OverlapStepper`)."""
    (p, q), (i, j) = dims, coords
    has = [periodic or 0 <= x < n for x, n in ((i - 1, p), (i + 1, p), (j - 1, q), (j + 1, q))]
    lines = [(depth - 1) / 2] * 4
    lines[2] = depth - 1
    sizes = (block[1], block[1], block[0], block[0])
    return sum(n * s for n, s, h in zip(lines, sizes, has, strict=True) if h)


def strong(shape: tuple[int, int], ranks: list[int], m: Machine,
           depth: int = 1) -> list[tuple[Step, float, float]]:
    """Each P that fits the grid, with its strong-scaling efficiency against one rank, the
    exchange hidden behind the interior and not."""
    one = step(shape, 1, m).step_s
    out = []
    for p in ranks:
        try:
            s = step(shape, p, m, depth=depth)
        except GrayScottError:  # no layout of p ranks fits the grid
            continue
        out.append((s, one / (p * s.step_s), one / (p * s.step_exposed_s)))
    return out


def balance_side(m: Machine) -> float:
    """The side of the square block whose compute equals the exchange's fixed cost:
    ``side² / rate = overhead``, so ``side = sqrt(overhead * rate)`` (the rate of small
    blocks; the bytes' term is smaller there)."""
    return math.sqrt(m.overhead * m.rate_at(1.0))


def table(shape: tuple[int, int], ranks: list[int], m: Machine, nbextrastep: int = 32,
          checkpoint_every: int = 10, depth: int = 1) -> str:
    """Strong scaling of ``shape`` as a Markdown table (halo bytes: per exchange)."""
    out = ["| ranks | layout | block | step | halo (share) | halo bytes | efficiency, "
           "hidden / exposed | write / frame's steps | checkpoint / its frames' steps |",
           "|---|---|---|---|---|---|---|---|---|"]
    for s, eff, exposed in strong(shape, ranks, m, depth):
        frame = nbextrastep * s.step_s
        out.append(f"| {s.ranks} | {s.dims[0]}x{s.dims[1]} | {s.block[0]}x{s.block[1]} | "
                   f"{_time(s.step_s)} | {_time(s.halo_s)} ({100 * s.halo_share:.0f} %) | "
                   f"{s.halo_bytes / 1e3:.1f} kB | {eff:.2f} / {exposed:.2f} | "
                   f"{s.write_s / frame:.2g} | "
                   f"{s.checkpoint_s / (checkpoint_every * frame):.2g} |")
    return "\n".join(out)


def _time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


#: Fitted on the 2-core development machine, shared, in its quiet minutes (others' work kept
#: under 2 % of its cores busy during each round; ``scripts/scaling_fit.py``, 5 rounds taken
#: one at a time, docs/scaling.md): numba, float32, one thread a rank; medians of the rounds.
#: The file system's total rate was not measured (infinite here).
HERE = Machine(rate=7.93e8, overhead=17.8e-6, bandwidth=1.43e9, root_bandwidth=2.81e9,
               write=3.20e9,
               rates=((259200, 7.93e8), (518400, 9.17e8), (1036800, 7.44e8),
                      (2073600, 8.60e8), (4147200, 7.89e8), (8294400, 8.97e8)))
#: A cluster node and network, assumed: 64 ranks share ~200 GB/s of memory bandwidth (16 B a
#: cell-update), messages at ~10 GB/s and 10 µs, a parallel file system at 100 GB/s.
CLUSTER = Machine(rate=200e6, overhead=10e-6, bandwidth=10e9, root_bandwidth=10e9,
                  write=1e9, fs_bandwidth=100e9)


def main() -> None:  # the tables of docs/scaling.md
    counts = [1, 16, 64, 256, 1024, 4096, 16384]
    for name, m in (("HERE", HERE), ("CLUSTER", CLUSTER)):
        print(f"\n{name}: {m}")
        print(f"fixed cost = compute at a square block of {balance_side(m):.0f} cells a side")
        for shape in ((1080, 1920), (16384, 16384), (65536, 65536)):
            for depth in (1, DEPTH):
                print(f"\n{shape[0]}x{shape[1]} on {name}, halo depth {depth} (projection)\n")
                print(table(shape, counts, m, depth=depth))


if __name__ == "__main__":
    main()
