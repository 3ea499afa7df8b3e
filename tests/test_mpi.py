"""MPI: N ranks give the one-process result bit for bit, and a failure never hangs.

Each test is one ``mpiexec`` launch (oversubscribed on small machines) that loops over many
configurations in-process (tests/mpi_cases.py), with a timeout so a hang fails instead of
blocking the suite.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grayscott.errors import GrayScottError
from grayscott.parallel.decomposition import blocks, parse_dims, split

HERE = Path(__file__).parent
CASES = HERE / "mpi_cases.py"


def _mpiexec() -> str | None:
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or _mpiexec() is None,
    reason="needs mpi4py and mpiexec: pip install 'grayscott[mpi]'")


def mpiexec(n: int, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRAYSCOTT_MPI": "1"}
    return subprocess.run([_mpiexec(), "-n", str(n), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


# -- the decomposition's arithmetic (no MPI needed) ------------------------------------------

def test_split_is_nearly_even_and_covers_everything() -> None:
    for n in (3, 7, 13, 64, 97):
        for parts in (1, 2, 3, 4, 5):
            pieces = split(n, parts)
            sizes = [b - a for a, b in pieces]
            assert pieces[0][0] == 0 and pieces[-1][1] == n
            assert all(pieces[i][1] == pieces[i + 1][0] for i in range(parts - 1))
            assert max(sizes) - min(sizes) <= 1


def test_blocks_tile_the_grid_once() -> None:
    seen = np.zeros((13, 17), int)
    for rows, cols in blocks((13, 17), (3, 4)):
        seen[rows, cols] += 1
    assert (seen == 1).all()


def test_parse_dims() -> None:
    assert parse_dims("2x3") == (2, 3)
    assert parse_dims("0X4") == (0, 4)
    assert parse_dims(None) is None
    for bad in ("2", "2x", "axb", "-1x2", "1x2x3"):
        with pytest.raises(GrayScottError, match="--mpi-dims"):
            parse_dims(bad)


# -- N ranks against one process -------------------------------------------------------------

@needs_mpi
@pytest.mark.parametrize(("ranks", "args"), [
    # every backend x stencil x border x dtype; odd grid, uneven blocks
    (1, ["--full-dims", "1x1"]),
    (2, ["--full-dims", "2x1,1x2"]),
    (3, ["--dims", "3x1,1x3"]),
    (4, ["--full-dims", "2x2", "--dims", "4x1,1x4"]),
])
def test_ranks_equal_one_process_bit_for_bit(ranks: int, args: list[str]) -> None:
    proc = mpiexec(ranks, sys.executable, str(CASES), "--shape", "13x17", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MISMATCH" not in proc.stdout
    assert f"on {ranks} ranks" in proc.stdout


@needs_mpi
@pytest.mark.parametrize("which", ["1", "0", "all"])
def test_a_failing_rank_ends_every_rank(which: str) -> None:
    proc = mpiexec(3, sys.executable, str(CASES), "--fail", which, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "grayscott: error:" in ln]
    # one line, from the failing rank (rank 0 speaks for all when all fail)
    assert len(lines) == 1, proc.stderr
    assert f"injected fault on rank {0 if which == 'all' else which}" in lines[0]
