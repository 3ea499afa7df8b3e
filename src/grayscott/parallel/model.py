"""A model of one step on P ranks: compute, halo bytes and time, and the per-frame gather.

Used by docs/scaling.md to project 1,000s of ranks from a few measured constants:

* ``rate``: cell-updates per second of one rank's kernel (float32 numba: 16 bytes of memory
  traffic per cell, so on a full node it is the node's bandwidth / 16 / ranks per node);
* ``overhead``: seconds per exchange that do not depend on its size (4 ``Sendrecv`` through
  mpi4py, packing, the border rule; the network's latency);
* ``bandwidth``: bytes per second of one rank's messages (packing and unpacking included);
* ``root_bandwidth``: bytes per second rank 0 receives when gathering a frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from .decomposition import choose_dims, sent_cells, split


@dataclass(frozen=True)
class Machine:
    rate: float  # cell-updates/s per rank
    overhead: float  # s per exchange
    bandwidth: float  # B/s per rank, halo messages
    root_bandwidth: float  # B/s into rank 0, gathers


@dataclass(frozen=True)
class Step:
    ranks: int
    dims: tuple[int, int]
    block: tuple[int, int]
    compute_s: float
    halo_s: float
    halo_bytes: int  # the most any rank sends
    gather_s: float  # one frame of V to rank 0

    @property
    def step_s(self) -> float:
        return self.compute_s + self.halo_s

    @property
    def halo_share(self) -> float:
        return self.halo_s / self.step_s


def step(shape: tuple[int, int], ranks: int, m: Machine, itemsize: int = 4,
         dims: tuple[int, int] | None = None, periodic: bool = False) -> Step:
    """The slowest rank's step (compute plus halo), over every rank's block and neighbours
    (a rank on the edge of the grid of ranks has fewer neighbours unless ``periodic``)."""
    p, q = dims or choose_dims(ranks, shape, periodic=periodic)
    rows, cols = split(shape[0], p), split(shape[1], q)
    worst, most = None, 0
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            block = (r1 - r0, c1 - c0)
            nbytes = 2 * itemsize * sent_cells(block, (p, q), (i, j), periodic)
            most = max(most, nbytes)
            compute = block[0] * block[1] / m.rate
            halo = (m.overhead + nbytes / m.bandwidth) if nbytes else 0.0
            if worst is None or compute + halo > worst[0] + worst[1]:
                worst = (compute, halo, block)
    compute, halo, block = worst
    gather = shape[0] * shape[1] * itemsize / m.root_bandwidth
    return Step(ranks, (p, q), block, compute, halo, most, gather)


def strong(shape: tuple[int, int], ranks: list[int], m: Machine) -> list[tuple[Step, float]]:
    """Each P with its strong-scaling efficiency against one rank."""
    one = step(shape, 1, m).step_s
    return [(s, one / (s.ranks * s.step_s)) for s in (step(shape, p, m) for p in ranks)]


def gather_limit(shape: tuple[int, int], nbextrastep: int, m: Machine, itemsize: int = 4,
                 fields: int = 1) -> float:
    """Ranks beyond which gathering ``fields`` fields of ``itemsize`` bytes to rank 0 every
    frame takes longer than the frame's steps: ``nbextrastep * N / (P * rate)`` (compute) equals
    ``fields * N * itemsize / root_bandwidth`` (gather) at
    ``P* = nbextrastep * root_bandwidth / (fields * itemsize * rate)``, whatever the grid."""
    return nbextrastep * m.root_bandwidth / (fields * itemsize * m.rate)


#: Measured on the 2-core development VM (docs/scaling.md): numba, float32, one thread a rank.
HERE = Machine(rate=835e6, overhead=16e-6, bandwidth=1.05e9, root_bandwidth=1.5e9)
#: A typical cluster node and network: 64 ranks share ~200 GB/s (16 B a cell-update), messages
#: at ~10 GB/s, ~10 us a step of fixed cost (4 messages' latency plus mpi4py's overhead).
CLUSTER = Machine(rate=200e6, overhead=10e-6, bandwidth=10e9, root_bandwidth=10e9)


def table(shape: tuple[int, int], ranks: list[int], m: Machine, nbextrastep: int = 32) -> str:
    """Strong scaling of ``shape`` as a Markdown table."""
    out = ["| ranks | layout | block | step | halo (share) | halo bytes | efficiency | "
           "gather / frame's steps |", "|---|---|---|---|---|---|---|---|"]
    for s, eff in strong(shape, ranks, m):
        out.append(f"| {s.ranks} | {s.dims[0]}x{s.dims[1]} | {s.block[0]}x{s.block[1]} | "
                   f"{_time(s.step_s)} | {_time(s.halo_s)} ({100 * s.halo_share:.0f} %) | "
                   f"{s.halo_bytes / 1e3:.1f} kB | {eff:.2f} | "
                   f"{s.gather_s / (nbextrastep * s.step_s):.2g} |")
    return "\n".join(out)


def _time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


if __name__ == "__main__":  # the tables of docs/scaling.md
    counts = [1, 16, 64, 256, 1024, 4096, 16384]
    for shape in ((1080, 1920), (16384, 16384), (65536, 65536)):
        print(f"\n{shape[0]}x{shape[1]} on CLUSTER\n")
        print(table(shape, counts, CLUSTER))
    print("\nranks where gathering V every 32-step frame outgrows the frame's compute:",
          f"{gather_limit((1, 1), 32, CLUSTER):.0f};",
          f"with the state checkpointed every frame (U and V gathered instead of V): "
          f"{gather_limit((1, 1), 32, CLUSTER, fields=2):.0f}")
