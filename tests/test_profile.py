"""grayscott profile: the report, the command, and the school's memory lesson, measured.

The allocation figures are counts of bytes, not times: deterministic, so they can be asserted.
"""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from grayscott.bench.profiling import _BytecodeAllocations, format_profile, profile_backend
from grayscott.cli import main

TINY = (32, 48)
SCHOOL = (1080, 1920)


def test_bytecode_accounting_counts_every_allocation():
    """Three arrays, one freed before the next: every byte is counted, freed or not."""

    def allocate():
        a = np.ones(100_000)  # 800 kB
        del a
        b = np.ones(50_000)  # 400 kB, in a + (b + c) the temporaries reuse nothing
        c = np.ones(10_000) + b[:10_000]  # 80 kB, and the 80 kB result
        return c.sum()

    def nothing():
        x = np.empty(0)
        return x

    tracemalloc.start()
    try:
        allocate(), nothing()  # warm up any lazily built caches
        n, exact = _BytecodeAllocations().run(allocate)
        assert exact
        assert 1_360_000 <= n <= 1_360_000 + 8_000
        n, exact = _BytecodeAllocations().run(nothing)
        assert exact and n < 2_000
    finally:
        tracemalloc.stop()


def test_bytecode_accounting_gives_up_cleanly_on_too_many_bytecodes():
    def busy():
        s = 0
        for i in range(10_000):
            s += i
        return s

    tracemalloc.start()
    try:
        _, exact = _BytecodeAllocations(budget=100).run(busy)
    finally:
        tracemalloc.stop()
    assert not exact


def test_profile_on_a_tiny_grid():
    p = profile_backend("numpy", TINY, steps=3, top=5)
    assert p.grid == TINY and p.steps == 3 and p.threads == 1
    assert p.seconds_per_step > 0 and p.cell_steps_per_s > 0
    assert p.field_bytes == 32 * 48 * 4
    assert p.peak_bytes >= p.state_bytes > 0
    assert 1 <= len(p.top) <= 5
    assert any("numpy_buffers" in row["function"] for row in p.top)
    assert p.top == sorted(p.top, key=lambda r: r["cumtime"], reverse=True)
    text = format_profile(p)
    assert "ms/step" in text and "allocated" in text and "cumtime" in text


def test_profile_python_backend_on_a_tiny_grid():
    p = profile_backend("python", (12, 16), steps=1, top=3)
    assert p.alloc_bytes_per_step > 0  # a Python float per operation


def test_profile_command_writes_json(tmp_path, capsys):
    out = tmp_path / "p.json"
    rc = main(["profile", "--backend", "numpy-school", "-r", "32", "-c", "48", "--steps", "2",
               "--dtype", "float64", "--json", str(out)])
    assert rc == 0
    assert "where the time goes" in capsys.readouterr().out
    data = json.loads(out.read_text())
    for key in ("alloc_bytes_per_step", "peak_bytes", "seconds_per_step", "state_bytes",
                "temp_peak_bytes_per_step", "field_bytes", "top", "metadata"):
        assert key in data, key
    assert data["backend"] == "numpy-school" and data["dtype"] == "float64"
    assert data["grid"] == [32, 48] and data["field_bytes"] == 32 * 48 * 8
    assert isinstance(data["alloc_bytes_per_step"], float) and data["peak_bytes"] > 0


def test_profile_command_refuses_an_unknown_backend(capsys):
    assert main(["profile", "--backend", "nope", "-r", "8", "-c", "8"]) == 2
    assert "unknown backend 'nope'" in capsys.readouterr().err


def test_the_school_memory_lesson():
    """numpy-school allocates several field-sized temporaries every step; numpy allocates
    (next to) nothing: what it does allocate is NumPy's fixed-size iterator buffers for
    non-contiguous operands, independent of the grid and far below one field."""
    school = profile_backend("numpy-school", SCHOOL, steps=1, top=1)
    numpy = profile_backend("numpy", SCHOOL, steps=1, top=1)
    field = school.field_bytes
    assert field == 1080 * 1920 * 4
    assert school.alloc_method == numpy.alloc_method == "bytecode"
    # several field-sized temporaries every step, and several alive at once
    assert school.alloc_bytes_per_step >= 4 * field
    assert school.temp_peak_bytes_per_step >= 3 * field
    # none for numpy
    assert numpy.alloc_bytes_per_step < 0.25 * field
    assert numpy.temp_peak_bytes_per_step < 0.05 * field
    # neither keeps anything from one step to the next
    assert abs(school.net_bytes_per_step) < 0.01 * field
    assert abs(numpy.net_bytes_per_step) < 0.01 * field
    # numpy pays for its speed with preallocated buffers instead
    assert numpy.state_bytes > school.state_bytes


@pytest.mark.parametrize("name", ["numpy-school", "numpy"])
def test_allocation_figures_are_deterministic(name):
    a = profile_backend(name, (128, 192), steps=1, top=1)
    b = profile_backend(name, (128, 192), steps=1, top=1)
    assert a.temp_peak_bytes_per_step == pytest.approx(b.temp_peak_bytes_per_step, abs=512)
    assert a.alloc_bytes_per_step == pytest.approx(b.alloc_bytes_per_step, rel=0.02, abs=2048)
