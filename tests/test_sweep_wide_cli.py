"""`grayscott sweep -b numba` end to end on members run side by side ("wide"): with frames, into
a file, four threads on fewer cores, stopped by SIGTERM after a piece, then run again: every
counted member and frame bit for bit the same, and each the single run of its (F, k)."""

from __future__ import annotations

import os
import signal

import h5py
import numpy as np
import pytest

import grayscott as gs
from grayscott.cli import main
from grayscott.sweep import descriptors
from test_sweep_durable import _sweep, counted, stderr_of, wait_until

pytest.importorskip("numba")

FEED, KILL = np.linspace(0.02, 0.06, 6), np.linspace(0.055, 0.065, 8)
STEPS, FRAMES, SHAPE = 6000, 3, (24, 20)
#: 48 members in 6 pieces of 8: a SIGTERM after the first one stops the sweep within a piece
#: or two; most members patterned, none alike (a member that died out is (1, 0) whatever its
#: rates, so it could not tell a member's rates from its neighbour's).
ARGS = ["--feed", "0.02:0.06:6", "--kill", "0.055:0.065:8", "-r", "24", "-c", "20", "-s",
        str(STEPS), "--frames", str(FRAMES), "--batch", "8", "--border", "periodic",
        "--initial", "noise", "--seed", "5", "-b", "numba", "-q"]


def _read(path):
    with h5py.File(path, "r") as f:
        return {name: f[name][...] for name in ("v", "frames", "done", "strategy", "status",
                                                "members_written", *descriptors.NAMES)}


def _bits(x):
    return x.view(np.uint32)


def test_a_wide_sweep_stopped_by_sigterm_then_run_again_is_bit_for_bit(tmp_path):
    stopped, whole = tmp_path / "stopped.h5", tmp_path / "whole.h5"
    # four threads where numba may have fewer cores: the groups are laid out for four
    proc = _sweep(*ARGS, "--threads", "4", "-o", str(stopped),
                  env={**os.environ, "NUMBA_NUM_THREADS": "4"})  # the last --threads counts
    try:
        assert wait_until(lambda: counted(stopped) >= 8, proc, timeout=120), stderr_of(proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    # the same sweep, in this process on one thread (one group of 8 a row, not four of 2)
    assert main(["sweep", *ARGS, "--threads", "1", "-o", str(whole)]) in (0, None)
    a, b = _read(stopped), _read(whole)
    assert b["strategy"] == b"wide" and b["status"] == b"completed"
    if a["status"] == b"stopped":  # a loaded machine may have let it end first
        assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err
    done = a["done"].astype(bool)
    assert a["strategy"] == b"wide" and done.sum() == a["members_written"] >= 8
    assert done.sum() % 8 == 0, "whole pieces only"
    assert len({x.tobytes() for x in b["v"].reshape(len(FEED) * len(KILL), -1)}) > 30
    patterned = np.argwhere(b["class"] == descriptors.PATTERNED)
    assert len(patterned) > 10
    for name in ("v", "frames", "coverage", "change"):
        assert (_bits(a[name][done].astype(np.float32)) == _bits(
            b[name][done].astype(np.float32))).all(), name
    for name in ("spots", "class"):
        assert (a[name][done] == b[name][done]).all(), name
    # run again over the stopped file: the whole sweep's bits
    assert main(["sweep", *ARGS, "--threads", "1", "--overwrite", "-o", str(stopped)]) in (
        0, None)
    again = _read(stopped)
    assert (_bits(again["frames"]) == _bits(b["frames"])).all()
    # members of each piece against their single runs, frame by frame
    u0, v0 = gs.make_initial("noise", SHAPE, 5)
    for i, j in (*patterned[:: len(patterned) // 3], (0, 0)):
        params = gs.Parameters(F=float(FEED[i]), k=float(KILL[j]))
        sim = gs.Simulation(gs.make_problem(SHAPE, params=params, border="periodic"),
                            backend="numba", state=(u0, v0))
        for t in range(FRAMES):
            sim.advance(STEPS // FRAMES)
            assert (_bits(b["frames"][i, j, t]) == _bits(sim.state[1])).all(), (i, j, t)
        assert b["spots"][i, j] == descriptors.spot_count(sim.state[1], periodic=True)
