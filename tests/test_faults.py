"""Fault injection at every write: ``run``, ``resume`` (same and longer ``-n``), the stop path,
a frame cut by ``--stop-within`` (``run-cut``) and the resume from it (``resume-cut``),
``sweep`` and an MPI run keep a file that plain h5py opens, every counted frame or member equal
to the uninterrupted run, and the next ``resume`` ends bit for bit equal to it; no segfault, no
traceback, a failed write said in one line with exit 2.

The shim (tests/faults/shim.c, built here with gcc) counts a process's ``pwrite`` calls and
kills it before write N, or fails every write from N on with ENOSPC or EIO; tests/faults/
server.py runs each command for every N (forked from one process that imported everything
once) and counts what went wrong per category. The suite kills at every write and refuses
every third (``PATHS``); ``GRAYSCOTT_FAULTS=full`` tries every write of every path.
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

#: path -> stride over N (1: every write). The suite kills at every write of every path and
#: refuses every third write (ENOSPC, EIO) and every fourth on MPI (two launches per case), to
#: stay within about two minutes on 2 cores; ``GRAYSCOTT_FAULTS=full`` tries every write of
#: every path (docs/crash-safety.md gives those counts).
REFUSE = 1 if FULL else 3
PATHS = {
    "run": 1, "run-enospc": REFUSE, "run-eio": REFUSE, "run-stop": 1, "run-cut": 1,
    "resume-cut": 1,
    "resume-same": 1, "resume-same-enospc": REFUSE, "resume-same-eio": REFUSE,
    "resume-longer": 1, "resume-longer-enospc": REFUSE, "resume-longer-eio": REFUSE,
    "resume-longer-stop": 1,
    **({"sweep": 1, "sweep-enospc": REFUSE, "sweep-eio": REFUSE} if HAS_NUMBA else {}),
    **({"mpi": 1 if FULL else 4, "mpi-stop": 1 if FULL else 2, "mpi-numba": 1 if FULL else 6,
        **({"mpi-enospc": 1} if FULL else {})} if HAS_MPI else {}),
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
def results(shim: Path, tmp_path_factory: pytest.TempPathFactory,
            request: pytest.FixtureRequest) -> dict[str, dict]:
    """The selected paths' cases, two paths at a time (each a process forking its cases)."""
    root = tmp_path_factory.mktemp("faults")
    chosen = {item.callspec.params["path"] for item in request.session.items
              if getattr(item, "callspec", None) and item.name.startswith("test_every_write[")}
    order = sorted(chosen or PATHS, key=lambda p: p.startswith("mpi"), reverse=True)
    with ThreadPoolExecutor(2) as pool:
        done = dict(zip(order, pool.map(lambda p: _serve(shim, root, p), order), strict=True))
    return done


@pytest.mark.parametrize("path", list(PATHS))
def test_every_write(results: dict[str, dict], path: str) -> None:
    r = results[path]
    assert "error" not in r, r.get("error")
    # the harness itself worked: it counted writes and tried them
    assert r["writes"] > 5 and r["tried"] >= 3
    failed = {k: r["details"][k] for k in CATEGORIES if r[k]}
    assert not failed, f"{path}: {r['tried']} writes tried: {json.dumps(failed)[:3000]}"


# -- a real full disk: a small tmpfs ------------------------------------------------------------

#: Runs the CLI as if the disk had room when it was checked, then filled up (the free-space
#: check is what would refuse these runs otherwise).
FILLED_AFTER_CHECK = """
import shutil, sys
from collections import namedtuple
usage = namedtuple("usage", "total used free")
shutil.disk_usage = lambda path: usage(1 << 40, 0, 1 << 40)
from grayscott.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 1 MiB tmpfs (root only; skipped where mount is not permitted)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()[:120]}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", FILLED_AFTER_CHECK, *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_a_disk_that_fills_after_the_check(small_disk: Path, tmp_path: Path) -> None:
    """The disk holds less than the file at every size from nothing to all of it: the run ends
    in one line (exit 2) or completes; what it leaves opens, its counted frames are the
    uninterrupted run's, and once there is room `resume` (or the run again) completes it."""
    import h5py
    import numpy as np

    run = ["run", "-q", "-r", "12", "-c", "10", "-n", "3", "-e", "4", "-b", "numpy",
           "--checkpoint-every", "2"]
    assert _cli(*run, "-o", "ref.h5", cwd=tmp_path).returncode == 0
    with h5py.File(tmp_path / "ref.h5", "r") as f:
        ref, size = f["matrix"][...], (tmp_path / "ref.h5").stat().st_size
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    seen = set()
    for room in np.linspace(0, size + 8192, 8).astype(int):
        filler = small_disk / "filler"
        with open(filler, "wb") as fh:
            fh.write(b"\0" * max(free - int(room), 0))
        proc = _cli(*run, "-o", "out.h5", "--overwrite", cwd=small_disk)
        seen.add(proc.returncode)
        assert proc.returncode in (0, 2), (room, proc.returncode, proc.stderr)
        assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
        if proc.returncode:
            assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        out = small_disk / "out.h5"
        if out.exists():
            with h5py.File(out, "r") as f:  # plain h5py opens what is left
                n = int(f["frames_written"][()])
                assert np.array_equal(f["matrix"][:n], ref[:n]), room
        filler.unlink()
        again = (["resume", "-q", "out.h5"] if out.exists() else [*run, "-o", "out.h5"])
        assert _cli(*again, cwd=small_disk).returncode == 0
        with h5py.File(out, "r") as f:
            assert np.array_equal(f["matrix"][...], ref) and f["status"][()] == b"completed"
        out.unlink()
        assert not [p.name for p in small_disk.iterdir()], "temporary or lock files left"
    assert 2 in seen, "the disk never filled: the test did not test"


# -- one writer per file ------------------------------------------------------------------------

def test_a_hard_link_or_a_rename_is_the_same_file(tmp_path: Path) -> None:
    """While a run writes x.h5, `resume` through a hard link to it or through a new name of it
    is refused in one line (the lock is the file's own, not its name's)."""
    from grayscott.io.paths import OutputLock, holder

    path = tmp_path / "x.h5"
    path.write_bytes(b"data")
    os.link(path, tmp_path / "link.h5")
    with OutputLock(path):
        assert holder(tmp_path / "link.h5") == -1  # held, under another name
        from grayscott.errors import OutputBusyError
        with pytest.raises(OutputBusyError):
            OutputLock(tmp_path / "link.h5").acquire()
        os.rename(tmp_path / "link.h5", tmp_path / "moved.h5")
        with pytest.raises(OutputBusyError):
            OutputLock(tmp_path / "moved.h5").acquire()
    assert holder(tmp_path / "moved.h5") is None
    OutputLock(tmp_path / "moved.h5").acquire().release()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["moved.h5", "x.h5"]


# -- signals: honoured in bounded time, never cutting the file's last writes short -------------

def test_a_signal_while_the_file_closes_is_noted_not_raised(capsys) -> None:
    """From the stop signal's finish on (final checkpoint, status, close) a further SIGINT or
    SIGTERM is noted: a KeyboardInterrupt there would cut the file's last writes short."""
    import signal

    from grayscott.observers import Interrupted, StopSignal

    stop = StopSignal()
    stop.install()
    try:
        stop._handler(signal.SIGINT, None)  # the first: noted, the loop stops after the frame
        with pytest.raises(KeyboardInterrupt):  # a second in the loop: at once
            stop._handler(signal.SIGINT, None)
        stop.finish(None)  # the loop is over: the file is being closed
        stop._handler(signal.SIGINT, None)
        stop._handler(signal.SIGTERM, None)
        assert stop.signum == signal.SIGINT
        assert "being closed" in capsys.readouterr().err
        with pytest.raises(Interrupted):  # the loop, had it gone on, would stop here
            stop.frame(None)
    finally:
        stop.restore()


@pytest.mark.skipif(not HAS_NUMBA, reason="the sweep needs numba")
def test_a_sweep_with_a_long_piece_stops_on_sigterm(tmp_path: Path) -> None:
    """A piece of 10**9 steps: SIGTERM ends the sweep within one kernel call of bounded work
    (the piece, which would take hours, is not kept), exit 143, the file opens."""
    import signal
    import time

    import h5py

    out = tmp_path / "s.h5"
    proc = subprocess.Popen([sys.executable, "-m", "grayscott", "sweep", "-q", "-r", "16", "-c",
                             "16", "--steps", "1000000000", "--feed", "0.02", "--kill", "0.06",
                             "--threads", "1", "-o", str(out)], stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 120
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)  # without the split: hours
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    with h5py.File(out, "r") as f:
        assert f["members_written"][()] == 0 and f["status"][()] == b"stopped"


def test_sweep_refuses_the_step_counts_run_refuses(tmp_path: Path, capsys) -> None:
    from grayscott.cli import main

    out = tmp_path / "never.h5"
    assert main(["sweep", "-q", "-r", "8", "-c", "8", "--steps", str(2**63), "--feed", "0.02",
                 "--kill", "0.06", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "2**63" in err
    assert not out.exists()
