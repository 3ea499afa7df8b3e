"""A rank killed by SIGKILL under ``mpiexec`` still gets one line of ours (its watching parent,
grayscott.parallel.watch), and the file stays resumable bit for bit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

from grayscott.cli import cli
from grayscott.parallel.watch import killed_line, run_file
from test_mpi import GRAYSCOTT, _mpiexec, _same, _serial, needs_mpi
from test_stop_within import _counted


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(x.split("=", 1) for x in raw.decode(errors="replace").split("\0") if "=" in x)


def _rank_process(rank: int, marker: str) -> int | None:
    """The pid of the process that is rank ``rank`` (the watched child, whose parent is the
    process the launcher started), found by its command line and environment."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if marker in cmdline and _environ(pid).get("PMI_RANK") == str(rank) \
                and _environ(parent).get("PMI_RANK") == str(rank):
            return pid
    return None


@needs_mpi
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the watch is Linux's")
@pytest.mark.parametrize("rank", [1, 0])
def test_a_rank_killed_by_sigkill_says_one_line_of_ours(tmp_path: Path, rank: int) -> None:
    out = tmp_path / "k.h5"
    args = ["-q", "-r", "40", "-c", "40", "-e", "200", "--backend", "numpy",
            "--checkpoint-every", "2"]
    env = {**os.environ, "GRAYSCOTT_MPI": "1"}
    proc = subprocess.Popen([_mpiexec(), "-n", "2", *GRAYSCOTT, "run", *args, "-n", "5000",
                             "-o", str(out)], env=env, stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while _counted(out) < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        pid = _rank_process(rank, str(out))
        assert pid is not None, "rank not found"
        os.kill(pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    ours = [ln for ln in err.splitlines() if ln.startswith("grayscott:")]
    assert len(ours) == 1, err
    assert f"rank {rank} was ended by SIGKILL" in ours[0], ours
    assert ours[0].endswith(f"grayscott resume {out}"), ours
    with h5py.File(out, "r") as f:  # plain h5py: the kill left a whole file
        total = int(f["frames_written"][()]) + 2
    _serial("resume", "-q", "-n", str(total), str(out))
    _serial("run", *args, "-n", str(total), "-o", str(tmp_path / "ref.h5"))
    _same(out, tmp_path / "ref.h5")


def test_the_line_names_the_rank_the_signal_and_the_file(tmp_path: Path) -> None:
    out = tmp_path / "x.h5"
    assert run_file(["run", "-q", "-n", "3", "-o", str(out)], cli) == str(out)
    assert run_file(["run", "-q"], cli) == "output.h5"
    assert run_file(["resume", "--stop-within", "5", str(out)], cli) == str(out)
    assert run_file(["bench"], cli) is None
    line = killed_line("3", signal.SIGKILL, str(out))
    assert "rank 3" in line and "SIGKILL" in line and "resume" not in line  # no file yet
    out.write_bytes(b"")
    line = killed_line("3", signal.SIGSEGV, str(out))
    assert "SIGSEGV" in line and line.endswith(f"grayscott resume {out}")
    assert "\n" not in line
