"""Halos several lines deep (``--halo-depth``): which depth a layout allows, the refusals, and
random configurations against one process, byte for byte (:mod:`mpi_sweep`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grayscott.errors import GrayScottError
from grayscott.parallel.decomposition import DEPTH, Block, choose_depth, split
from grayscott.parallel.launcher import requested_depth
from test_mpi import GRAYSCOTT, HERE, mpiexec, needs_mpi

SWEEP = HERE / "mpi_sweep.py"


def _block(shape: tuple[int, int], dims: tuple[int, int], coords: tuple[int, int],
           periodic: bool = False) -> Block:
    return Block(dims=dims, coords=coords, rows=split(shape[0], dims[0])[coords[0]],
                 cols=split(shape[1], dims[1])[coords[1]], north=-1, south=-1, west=-1,
                 east=-1, periodic=periodic)


@pytest.mark.parametrize(("shape", "dims", "periodic", "thinnest"), [
    ((20, 21), (2, 1), False, 10),   # rows cut only: the columns do not count
    ((20, 7), (1, 2), False, 3),     # columns cut only, 4 + 3 wide
    ((20, 21), (1, 2), True, 10),    # alone along the rows, periodic: all 20 rows count
    ((5, 40), (1, 2), True, 5),      # ... and are the thinner
    ((9, 11), (3, 1), False, 3),     # blocks of 3 lines
    ((6, 8), (1, 1), True, 6),       # one rank, periodic: it sends to itself both ways
])
def test_the_deepest_halo_is_the_thinnest_cut_block(shape, dims, periodic, thinnest) -> None:
    blocks = [_block(shape, dims, (i, j), periodic) for i in range(dims[0])
              for j in range(dims[1])]
    for b in blocks:  # the same on every rank
        assert choose_depth(shape, b, True, thinnest) == thinnest
        assert choose_depth(shape, b, True, None) == min(DEPTH, thinnest)
        assert choose_depth(shape, b, False, None) == 1
        with pytest.raises(GrayScottError, match=f"deeper than the thinnest block \\({thinnest}"):
            choose_depth(shape, b, True, thinnest + 1)


def test_bad_depths_are_refused() -> None:
    b = _block((20, 21), (2, 1), (0, 0))
    for bad in (0, -1, 2.0, True, "2"):  # from Python: only integers (numpy's too)
        with pytest.raises(GrayScottError, match="must be an integer, at least 1"):
            choose_depth((20, 21), b, True, bad)
    assert choose_depth((20, 21), b, True, np.int64(3)) == 3
    with pytest.raises(GrayScottError, match="needs the numba"):
        choose_depth((20, 21), b, False, 2)
    assert choose_depth((20, 21), b, False, 1) == 1  # one line is what numpy does anyway
    with pytest.raises(GrayScottError, match="is for MPI runs"):
        requested_depth(2, mpi=False)
    assert requested_depth(None, mpi=False) is None and requested_depth(3, mpi=True) == 3


def _one_line(proc: subprocess.CompletedProcess, message: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], proc.stderr


@needs_mpi
@pytest.mark.parametrize(("extra", "message"), [
    (["--halo-depth", "0"], "is not in the range"),
    (["--halo-depth", "2", "--backend", "numpy"], "needs the numba"),
    (["--halo-depth", "11"], "deeper than the thinnest block (10 lines"),
    (["--halo-depth", "2", "--map", "0.01:0.06,0.05:0.065"], "rate map"),
])
def test_bad_depths_under_mpiexec_are_one_line(tmp_path: Path, extra: list[str],
                                               message: str) -> None:
    out = tmp_path / "x.h5"
    proc = mpiexec(2, *GRAYSCOTT, "run", "-q", "-r", "20", "-c", "21", "-n", "2", "-e", "3",
                   "--backend", "numba", *extra, "-o", str(out), timeout=120)
    _one_line(proc, message)
    assert not out.exists()


@needs_mpi
def test_a_rate_map_on_one_rank_is_refused_not_ignored(tmp_path: Path) -> None:
    """One rank is still a decomposed run, whose numba stepper has no rate map: refused like
    a map over several ranks, not run with uniform rates."""
    out = tmp_path / "x.h5"
    proc = mpiexec(1, *GRAYSCOTT, "run", "-q", "-r", "20", "-c", "24", "-n", "2", "-e", "5",
                   "--backend", "numba", "--map", "0.01:0.06,0.05:0.065", "-o", str(out),
                   timeout=120)
    _one_line(proc, "rate map")
    assert not out.exists()


@needs_mpi
@pytest.mark.parametrize(("ranks", "cases", "seed"), [(2, 25, 1), (3, 15, 3), (4, 10, 4)])
def test_random_configurations_equal_one_process(ranks: int, cases: int, seed: int) -> None:
    proc = mpiexec(ranks, sys.executable, str(SWEEP), "--cases", str(cases), "--seed", str(seed),
                   timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MISMATCH" not in proc.stdout
    assert f"ok {cases} of {cases} on {ranks} ranks" in proc.stdout


@needs_mpi
def test_bench_says_its_halo_bytes_are_per_exchange_of_depth_lines(tmp_path: Path) -> None:
    """numba takes 4 steps per exchange here: the bytes of one exchange are 4 rows, not one
    step's."""
    import json

    from grayscott.parallel.bench import format_table

    out = tmp_path / "b.json"
    proc = mpiexec(2, *GRAYSCOTT, "bench", "-b", "numba", "-r", "48", "-c", "40", "-s", "8",
                   "--repeat", "1", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(out.read_text())
    assert row["dims"] == [2, 1] and row["halo_depth"] == DEPTH
    assert row["halo_bytes"] == DEPTH * 2 * 4 * 40  # U and V, 4 rows of 40 float32
    header = format_table([{**row, "mode": "strong"}]).splitlines()[0]
    assert "halo KB/exchange" in header and "KB/step" not in header
