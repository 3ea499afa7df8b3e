"""scripts/halo_overlap_bench.py: the split of a step's exposed exchange from the ranks' clocks,
and one tiny launch of the whole script (its numbers are timings: only their arithmetic is
checked, never their size)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_mpi import needs_mpi

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "halo_overlap_bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("halo_overlap_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _clocks(*steps: tuple[float, float, float, float]) -> np.ndarray:
    return np.array(steps, float)


def test_a_late_neighbour_a_neighbour_not_waiting_and_the_transfer(bench) -> None:
    # I start at 0-1, wait from 10 to 17; my neighbour starts at 15 and waits from 16 on
    me = _clocks((0, 1, 10, 17))
    them = _clocks((15, 15.5, 16, 17))
    got = {k: v.tolist() for k, v in bench.split(me, [them]).items()}
    assert got == {"exposed": [8.0], "start": [1.0], "late": [5.0], "idle": [1.0],
                   "transfer": [1.0]}


def test_a_neighbour_already_waiting_leaves_only_the_transfer(bench) -> None:
    me = _clocks((0, 1, 10, 12), (20, 20.5, 30, 30.25))
    them = _clocks((0, 1, 5, 12), (19, 19.5, 25, 30.25))
    parts = bench.split(me, [them])
    assert parts["late"].tolist() == [0, 0] and parts["idle"].tolist() == [0, 0]
    assert parts["transfer"].tolist() == [2, 0.25]


def test_the_last_neighbour_counts_and_no_part_outgrows_the_wait(bench) -> None:
    me = _clocks((0, 0, 10, 12))
    early, late = _clocks((0, 0, 1, 12)), _clocks((11, 11, 20, 21))
    parts = bench.split(me, [early, late])
    # the late neighbour started at 11, within my wait, and waited only after it ended
    assert (parts["late"][0], parts["idle"][0], parts["transfer"][0]) == (1, 1, 0)
    # a neighbour that (by a clock's jitter) starts after my wait ended: all of it late
    parts = bench.split(me, [_clocks((13, 13, 14, 15))])
    assert (parts["late"][0], parts["idle"][0], parts["transfer"][0]) == (2, 0, 0)


def test_the_older_tree_starts_and_waits_in_one_call(bench) -> None:
    me = _clocks((10, 10, 10, 14))
    them = _clocks((12, 12, 12, 14))
    parts = bench.split(me, [them])
    assert (parts["start"][0], parts["late"][0], parts["idle"][0],
            parts["transfer"][0]) == (0, 2, 0, 2)


def test_a_rank_alone_waits_for_nothing_but_the_transfer(bench) -> None:
    parts = bench.split(_clocks((0, 1, 3, 4)), [])
    assert (parts["exposed"][0], parts["late"][0], parts["transfer"][0]) == (2, 0, 1)


def test_the_parts_add_up_on_random_clocks(bench) -> None:
    rng = np.random.default_rng(5)

    def clocks() -> np.ndarray:
        return np.cumsum(rng.uniform(0, 3, (50, 4)), axis=1)

    me = clocks()
    parts = bench.split(me, [clocks(), clocks()])
    total = parts["start"] + parts["late"] + parts["idle"] + parts["transfer"]
    assert np.allclose(total, parts["exposed"])
    assert min(parts[k].min() for k in ("late", "idle", "transfer")) >= 0


def test_the_spread_is_the_slowest_ranks_compute_beyond_the_fastest(bench) -> None:
    # a blocking exchange (the older tree's, or halos several lines deep: start, then wait at
    # once): compute runs from leaving one exchange (f1) to entering the next (s0)
    fast = _clocks((0, 1, 2, 3), (7, 8, 8, 10), (14, 15, 15, 17))  # 4 and 4
    slow = _clocks((0, 1, 2, 3), (9, 9, 9, 10), (16, 16, 16, 17))  # 6 and 6
    middle = _clocks((0, 1, 2, 3), (8, 8, 8, 10), (15, 15, 15, 17))  # 5 and 5
    assert bench.spread([fast, slow, middle]) == 2
    assert bench.spread([fast, fast]) == 0
    assert bench.spread([_clocks((0, 1, 2, 3))]) == 0  # one exchange: no compute between


def test_the_spread_counts_the_interior_computed_while_the_messages_travel(bench) -> None:
    # one line deep, a step starts the messages, computes its interior, then waits: the
    # interior (s1 to f0) is compute too, 4 and 6 here, and the frame (f1 to s0) 1 and 1
    fast = _clocks((0, 1, 5, 6), (7, 8, 12, 13))
    slow = _clocks((0, 1, 7, 8), (9, 10, 16, 17))
    assert bench.spread([fast, slow]) == 2


@needs_mpi
def test_one_launch_of_each_tree_and_its_summary(tmp_path: Path) -> None:
    """Both "trees" are this one (the older tree's ``fill`` path is the split's own test
    above): the rows carry every part, and the parts add up to the exposed time."""
    out = tmp_path / "rows.json"
    src = str(ROOT / "src")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--before", src, "--rounds", "1",
                           "--rows", "24", "--cols", "32", "--steps", "8", "--repeat", "1",
                           "--layouts", "2x1", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.read_text())
    assert [(r["tree"], r["layout"]) for r in rows] == [("before", "2x1"), ("after", "2x1")]
    for r in rows:
        parts = r["start_s"] + r["late_s"] + r["idle_s"] + r["transfer_s"]
        assert parts == pytest.approx(r["exposed_s"], rel=1e-9, abs=1e-12)
        assert 0 <= r["others"] <= 1 and r["spread_s"] >= 0
    proc = subprocess.run([sys.executable, str(SCRIPT), "--summarize", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "2x1: exposed after/before, launch by launch" in proc.stdout


def test_twin_blocks_runs_two_copies_side_by_side() -> None:
    """scripts/twin_blocks.py: both copies report every chunk, and the ratios it prints are
    those of the chunks it printed (their size is a timing: not checked)."""
    pytest.importorskip("numba")
    script = ROOT / "scripts" / "twin_blocks.py"
    proc = subprocess.run([sys.executable, str(script), "--rows", "100", "--cols", "101",
                           "--steps", "5", "--chunks", "4", "--bind"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    chunks = [[float(x) for x in ln.split(":")[1].split("median")[0].split()] for ln in lines[:2]]
    assert [len(c) for c in chunks] == [4, 4] and min(min(c) for c in chunks) > 0
    medians = [float(np.median(c)) for c in chunks]
    gaps = [max(a, b) / min(a, b) for a, b in zip(*chunks, strict=True)]
    said = lines[2].replace(";", ",").split()
    assert said[:4] == ["slower", "over", "faster:", "medians"]
    # the chunks are printed rounded to 0.01 µs: the ratios agree to that
    assert [float(said[4].rstrip(",")), float(said[9].rstrip(",")), float(said[11])] == \
        pytest.approx([max(medians) / min(medians), np.median(gaps), max(gaps)], rel=5e-3,
                      abs=1e-3)


@pytest.mark.parametrize("args", [["--steps", "0"], ["--repeat", "0"], ["--ranks", "0"],
                                  ["--rows", "2"], ["--depth", "0"], ["--layouts", "3x1"],
                                  ["--layouts", "2"], ["--layouts", "2x1,x2"]])
def test_bench_arguments_that_cannot_run_are_one_line(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--before", str(ROOT / "src"),
                           "--rounds", "1", *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("halo_overlap_bench: error:")
    assert args[0] in proc.stderr and not proc.stdout


@needs_mpi
def test_a_launch_that_fails_says_why_in_one_line() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--before", str(ROOT / "src"),
                           "--rounds", "1", "--bind-to", "nowhere"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and "nowhere" in proc.stderr


@pytest.mark.parametrize("args", [["--steps", "0"], ["--chunks", "0"], ["--rows", "2"],
                                  ["--cols", "-1"]])
def test_twin_blocks_arguments_that_cannot_run_are_one_line(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "twin_blocks.py"), *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("twin_blocks: error:")
    assert args[0] in proc.stderr and not proc.stdout


def test_summarize_of_a_file_it_cannot_read_is_one_line(tmp_path: Path) -> None:
    cut = tmp_path / "cut.json"
    cut.write_text('[{"tree": "before",')  # a --json write cut short
    for path in (tmp_path / "missing.json", cut):
        proc = subprocess.run([sys.executable, str(SCRIPT), "--summarize", str(path)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and str(path) in proc.stderr
