"""Faults on the calls the write-counting harness (tests/test_faults.py) does not count: an
``fsync`` of ``--fsync`` that fails, and the like. Each case runs the CLI in this process with
the call replaced, then checks the file with plain h5py and resumes it to the end."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from grayscott.cli import main

RUN = ["run", "-r", "12", "-c", "10", "-b", "numpy", "-q", "-e", "4", "--checkpoint-every", "2",
       "-n", "3"]


def _read(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        fw = int(f["frames_written"][()])
        return {"fw": fw, "matrix": f["matrix"][:fw], "step": f["step"][:fw],
                "status": f["status"][()].rstrip(b"\0").decode(),
                "final": int(f["final_state_saved"][()]), "v_final": f["v_final"][...]}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[dict, int]:
    """The uninterrupted run, and how many times its --fsync run calls os.fsync."""
    path = tmp_path_factory.mktemp("ref") / "ref.h5"
    calls = []
    real = os.fsync
    mp = pytest.MonkeyPatch()
    mp.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd))[1])
    try:
        assert main([*RUN, "--fsync", "-o", str(path)]) == 0
    finally:
        mp.undo()
    return _read(path), len(calls)


def test_fsync_refused_at_every_call(reference, tmp_path, monkeypatch, capsys):
    """EIO from the N-th fsync on: one line, exit 2, the file opens, what it counts is the
    uninterrupted run's, "completed" only with the final state, and resume ends equal."""
    ref, total = reference
    assert total > 5
    real = os.fsync
    bad = []
    for n in range(1, total + 1):
        work = tmp_path / str(n)
        work.mkdir()
        out = work / "out.h5"
        calls = [0]

        def fsync(fd, n=n, calls=calls):
            calls[0] += 1
            if calls[0] >= n:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            return real(fd)

        monkeypatch.setattr(os, "fsync", fsync)
        code = main([*RUN, "--fsync", "-o", str(out)])
        monkeypatch.setattr(os, "fsync", real)
        err = capsys.readouterr().err.strip().splitlines()
        if code != 2 or len(err) != 1 or not err[0].startswith("grayscott: error:"):
            bad.append(f"N={n}: exit {code}: {err}")
        if not out.exists():
            continue
        d = _read(out)
        if not np.array_equal(d["matrix"], ref["matrix"][:d["fw"]]):
            bad.append(f"N={n}: a counted frame differs")
        if d["status"] == "completed" and (d["final"] != 1 or d["fw"] != ref["fw"]):
            bad.append(f"N={n}: completed with final_state_saved={d['final']}")
        if main(["resume", str(out), "-q"]) != 0:
            bad.append(f"N={n}: resume failed: {capsys.readouterr().err.strip()}")
            continue
        d = _read(out)
        if not (d["status"] == "completed" and d["final"] == 1
                and np.array_equal(d["matrix"], ref["matrix"])
                and np.array_equal(d["v_final"], ref["v_final"])):
            bad.append(f"N={n}: resume did not end equal to the uninterrupted run")
    assert not bad, "\n".join(bad)
