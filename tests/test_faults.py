"""Fault injection at every write: ``run``, ``resume`` (same and longer ``-n``), the stop path,
``sweep`` and an MPI run keep a file that plain h5py opens, every counted frame or member equal
to the uninterrupted run, and the next ``resume`` ends bit for bit equal to it; no segfault, no
traceback, a failed write said in one line with exit 2.

The shim (tests/faults/shim.c, built here with gcc) counts a process's ``pwrite`` calls and
kills it before write N, or fails every write from N on with ENOSPC or EIO; tests/faults/
server.py runs each command for every N (forked from one process that imported everything
once) and counts what went wrong per category. ``GRAYSCOTT_FAULTS=full`` tries the MPI path at
every write too (the suite tries every third: each case there is two ``mpiexec`` launches).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "faults"
FULL = os.environ.get("GRAYSCOTT_FAULTS") == "full"
HAS_MPI = importlib.util.find_spec("mpi4py") is not None and (
    Path(sys.executable).parent / "mpiexec").exists()
HAS_NUMBA = importlib.util.find_spec("numba") is not None

#: path -> stride over N (1: every write)
PATHS = {
    "run": 1, "run-enospc": 1, "run-eio": 1, "run-stop": 1,
    "resume-same": 1, "resume-same-enospc": 1, "resume-same-eio": 1,
    "resume-longer": 1, "resume-longer-enospc": 1, "resume-longer-eio": 1,
    "resume-longer-stop": 1,
    **({"sweep": 1, "sweep-enospc": 1, "sweep-eio": 1} if HAS_NUMBA else {}),
    **({"mpi": 1 if FULL else 3, "mpi-stop": 1 if FULL else 3} if HAS_MPI else {}),
}
CATEGORIES = ("unopenable", "wrong", "resume", "segfault", "traceback", "message", "leftover")


@pytest.fixture(scope="session")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None or sys.platform != "linux":
        pytest.skip("fault injection needs gcc and Linux (an LD_PRELOAD shim)")
    out = tmp_path_factory.mktemp("shim") / "gsfault.so"
    proc = subprocess.run([gcc, "-O2", "-shared", "-fPIC", "-o", str(out),
                           str(HERE / "shim.c"), "-ldl"], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"the shim does not build here: {proc.stderr.strip()[:200]}")
    return out


def _serve(shim: Path, root: Path, path: str) -> dict:
    work = root / path
    env = {**os.environ, "LD_PRELOAD": str(shim)}
    proc = subprocess.run([sys.executable, str(HERE / "server.py"), path, str(work),
                           "--json", str(root / f"{path}.json"), "--every",
                           str(PATHS[path])], capture_output=True, text=True, env=env,
                          timeout=600)
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    result = json.loads((root / f"{path}.json").read_text())
    shutil.rmtree(work, ignore_errors=True)
    return result


@pytest.fixture(scope="session")
def results(shim: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every path's cases, two paths at a time (each a process forking its cases)."""
    root = tmp_path_factory.mktemp("faults")
    order = sorted(PATHS, key=lambda p: p.startswith("mpi"), reverse=True)  # longest first
    with ThreadPoolExecutor(2) as pool:
        done = dict(zip(order, pool.map(lambda p: _serve(shim, root, p), order), strict=True))
    return done


@pytest.mark.parametrize("path", list(PATHS))
def test_every_write(results: dict[str, dict], path: str) -> None:
    r = results[path]
    assert "error" not in r, r.get("error")
    # the harness itself worked: it counted writes and tried them
    assert r["writes"] > 5 and r["tried"] >= 4
    failed = {k: r["details"][k] for k in CATEGORIES if r[k]}
    assert not failed, f"{path}: {r['tried']} writes tried: {json.dumps(failed)[:3000]}"
