"""grayscott bench: the arithmetic from given numbers, the bandwidth probe, the JSON schema,
the Markdown and the chart, and the command on a tiny grid. No timing assertions anywhere."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from grayscott import backends
from grayscott.backends import BackendInfo
from grayscott.backends.base import Backend, Capabilities
from grayscott.bench import arithmetic as ar
from grayscott.bench import chart, runner
from grayscott.bench import report as rep
from grayscott.bench import results as res
from grayscott.bench.bandwidth import measure_bandwidth
from grayscott.bench.school import (
    SCHOOL_CELL_STEPS,
    SCHOOL_RUNGS,
    SCHOOL_STEPS,
    school_ladder,
    school_rung,
)
from grayscott.cli import main
from grayscott.errors import GrayScottError
from grayscott.physics import make_problem

TINY = (32, 48)
MiB = 1 << 20


# -- arithmetic from given numbers ----------------------------------------------------------


def test_bytes_per_cell_update():
    assert ar.bytes_per_cell_update("float32") == 16
    assert ar.bytes_per_cell_update("float64") == 32
    assert ar.bytes_per_cell_update(np.float32) == 16


def test_roofline_from_bandwidth():
    assert ar.roofline_cell_steps_per_s(48e9, "float32") == pytest.approx(3e9)
    assert ar.roofline_cell_steps_per_s(48e9, "float64") == pytest.approx(1.5e9)
    assert ar.roofline_fraction(1.5e9, 3e9) == pytest.approx(0.5)
    assert ar.roofline_fraction(6e9, 3e9) == pytest.approx(2.0)  # from cache: allowed
    assert ar.roofline_fraction(1e9, None) is None


def test_speedup():
    assert ar.speedup(260e6, 26e6) == pytest.approx(10)
    assert ar.speedup(1e6, None) is None
    assert ar.speedup(1e6, 0.0) is None


def test_projection_of_the_school_run():
    assert SCHOOL_STEPS == 32_000
    assert SCHOOL_CELL_STEPS == 1080 * 1920 * 32_000
    # 10 ms per step on 1080x1920 -> 320 s for 32,000 steps
    rate = ar.cell_steps_per_s(1080 * 1920, 100, 1.0)
    assert ar.projected_school_seconds(rate) == pytest.approx(320)
    assert ar.projected_school_seconds(0.0) == math.inf


def test_school_table_gives_the_spec_ladder():
    """docs/model.md §7: 26, 54, 172, 470 million cell-updates/s on the EPYC; x1 x2.1 x6.6 x18."""
    rates = [r.cell_steps_per_s() / 1e6 for r in SCHOOL_RUNGS]
    assert rates == pytest.approx([26, 54, 172, 470], rel=0.01)
    ladder = [ar.format_ratio(x) for x in school_ladder().values()]
    assert ladder == ["×1", "×2.1", "×6.6", "×18"]
    assert school_rung("numpy-school").label == "NumPy"
    assert school_rung("numpy") is None


def test_summary_and_formats():
    s = ar.Summary.of([3.0, 1.0, 2.0])
    assert (s.median, s.min, s.max) == (2.0, 1.0, 3.0)
    with pytest.raises(ValueError):
        ar.Summary.of([])
    assert ar.format_ratio(None) == "-"
    assert ar.format_ratio(0.0143) == "×0.014"
    assert ar.format_bytes(8_294_400) == "8.3 MB"


def test_result_arithmetic_from_given_times():
    """Median, min and max of the rate and step time; speedup and roofline filled in."""
    cells = 1080 * 1920
    base = res.BackendResult("numpy-school", 1, steps=10, repeat=3, warmup=1,
                                seconds=[1.0, 1.2, 0.8], compile_seconds=0.0,
                                first_call_seconds=1.0, cells=cells)
    fast = res.BackendResult("numpy", 1, steps=10, repeat=3, warmup=1,
                                seconds=[0.5, 0.4, 0.6], compile_seconds=2.0,
                                first_call_seconds=3.0, cells=cells)
    assert base.seconds_per_step.median == pytest.approx(0.1)
    assert base.seconds_per_step.min == pytest.approx(0.08)
    assert base.rate.max == pytest.approx(cells * 10 / 0.8)
    assert base.projected_school_seconds == pytest.approx(3200)
    bw = _bandwidth(cells * 16 * 100.0)  # roofline: 100 steps/s on this grid
    res.finish([base, fast], bw, "float32")
    assert base.speedup_vs_baseline == pytest.approx(1)
    assert fast.speedup_vs_baseline == pytest.approx(2)
    assert base.roofline_fraction == pytest.approx(0.1)
    assert fast.roofline_fraction == pytest.approx(0.2)
    res.finish([fast], bw, "float32")  # baseline not in the run
    assert fast.speedup_vs_baseline is None


def test_accelerator_gets_no_host_roofline():
    """A backend that ran on a GPU is not measured against the host's memory bandwidth."""
    cells = 1080 * 1920
    gpu = res.BackendResult("jax", 1, steps=10, repeat=1, warmup=1, seconds=[0.01],
                               compile_seconds=0.1, first_call_seconds=0.01, cells=cells,
                               platform="gpu")
    res.finish([gpu], _bandwidth(cells * 16 * 100.0), "float32")
    assert gpu.roofline_fraction is None and gpu.roofline_fraction_at_threads is None
    assert gpu.to_dict()["platform"] == "gpu"


def _bandwidth(bytes_per_s: float):
    from grayscott.bench.bandwidth import Bandwidth

    return Bandwidth(bytes_per_s=bytes_per_s, kernel="copy", threads=1, array_bytes=1 << 28,
                     repeat=1, by_kernel={"copy": {1: bytes_per_s}})


# -- the bandwidth probe ----------------------------------------------------------------------


def test_bandwidth_probe_returns_a_positive_figure():
    bw = measure_bandwidth(4 * MiB, threads=[1, 2], repeat=2)
    assert bw.bytes_per_s > 0 and math.isfinite(bw.bytes_per_s)
    assert set(bw.by_kernel) == {"copy", "add"}
    assert all(set(per) == {1, 2} for per in bw.by_kernel.values())
    assert bw.bytes_per_s == max(v for per in bw.by_kernel.values() for v in per.values())
    assert 0 < bw.at_threads(1) <= bw.bytes_per_s
    assert bw.at_threads(64) == max(per[2] for per in bw.by_kernel.values())
    with pytest.raises(ValueError):
        measure_bandwidth(MiB, kernels=["scale"])


# -- plan: defaults, the slow rung, skipped backends ---------------------------------------------


def test_default_leaves_python_out_of_the_school_grid_but_not_a_tiny_one():
    run, skipped, _ = runner.plan(None, (1080, 1920))
    assert "python" not in run and "numpy-school" in run and "numpy" in run
    assert any(s.backend == "python" and "--backends" in s.reason for s in skipped)
    run, _, _ = runner.plan(None, TINY)
    assert "python" in run
    # named, it runs on fewer steps and says so
    steps, repeat, warmup, note = runner._counts("python", 1080 * 1920, 100, 5, 1)
    assert steps == 1 and repeat <= 3 and warmup == 0 and "slow rung" in note
    assert runner._counts("numpy", 1080 * 1920, 100, 5, 1) == (100, 5, 1, "")


def test_unavailable_backend_is_skipped_with_the_registry_reason(monkeypatch):
    fake = BackendInfo("fake", "numpy_buffers", "NumpyBackend", "not here",
                       requires=("no_such_module_for_grayscott",), extra="fake")
    monkeypatch.setitem(backends._REGISTRY, "fake", fake)
    run, skipped, _ = runner.plan(None, TINY)
    assert "fake" not in run
    (s,) = [s for s in skipped if s.backend == "fake"]
    assert s.reason == fake.reason and "no_such_module_for_grayscott" in s.reason


def test_parse_backends():
    assert runner.parse_backends(None) is None
    assert runner.parse_backends("numpy, numpy-school,numpy") == ["numpy", "numpy-school"]
    with pytest.raises(GrayScottError, match="unknown backend"):
        runner.parse_backends("numpy,nope")
    with pytest.raises(GrayScottError):
        runner.parse_backends(" , ")


def test_timers_wait_only_for_backends_declared_asynchronous():
    class Queued(Backend):
        """Declares itself asynchronous; records what the timer calls."""

        name = "queued"
        capabilities = Capabilities(synchronous=False)

        def __init__(self, problem):
            super().__init__(problem)
            self.calls: list[str] = []

        def _set_state(self, u, v):
            pass

        def _advance(self, n):
            pass

        def _get_state(self):
            self.calls.append("get_state")
            return np.zeros(self.problem.shape), np.zeros(self.problem.shape)

        def synchronize(self):
            self.calls.append("synchronize")

    class Done(Queued):
        capabilities = Capabilities(synchronous=True)

    problem = make_problem(TINY)
    queued, done = Queued(problem), Done(problem)
    runner.synchronize(queued)
    runner.synchronize(done)
    assert queued.calls == ["synchronize"]  # waits, without fetching V
    assert done.calls == []  # declared synchronous: nothing to wait for
    assert runner.sync_function(backends.create("numpy", problem)) is None


def test_slow_rung_comes_from_the_declared_rate(monkeypatch):
    """Planning reads the backend's declared rate: a numpy declared slow is left out too."""
    from grayscott.backends.numpy_buffers import NumpyBackend

    assert runner.slow_step_seconds("numpy", 10**6) is None
    monkeypatch.setattr(NumpyBackend, "capabilities", Capabilities(cell_steps_per_second=1e3))
    assert runner.slow_step_seconds("numpy", 10**6) == pytest.approx(1e3)
    run, skipped, _ = runner.plan(None, (1000, 1000))
    assert "numpy" not in run and any(s.backend == "numpy" for s in skipped)


# -- a whole run on a tiny grid ---------------------------------------------------------------


REQUIRED_RESULT_KEYS = {
    "backend": str, "cell_steps_per_s": float, "seconds_per_step": float,
    "compile_seconds": float, "roofline_fraction": float, "projected_school_seconds": float,
    "threads": int,
}


def check_schema(data: dict, backend_names: list[str], grid=TINY) -> None:
    assert data["grid"] == list(grid)
    assert data["dtype"] in ("float32", "float64")
    assert isinstance(data["steps"], int) and data["steps"] >= 1
    assert data["bandwidth_bytes_per_s"] > 0
    assert data["roofline_cell_steps_per_s"] == pytest.approx(
        data["bandwidth_bytes_per_s"] / ar.bytes_per_cell_update(data["dtype"]))
    assert [r["backend"] for r in data["results"]] == backend_names
    for r in data["results"]:
        for key, kind in REQUIRED_RESULT_KEYS.items():
            assert isinstance(r[key], kind), (key, r[key])
        assert "speedup_vs_baseline" in r
        assert r["cell_steps_per_s"] > 0 and r["seconds_per_step"] > 0
        assert r["threads"] >= 1
        assert r["roofline_fraction"] == pytest.approx(
            r["cell_steps_per_s"] / data["roofline_cell_steps_per_s"])
        assert r["projected_school_seconds"] == pytest.approx(
            SCHOOL_CELL_STEPS / r["cell_steps_per_s"])
        assert r["seconds_per_step_min"] <= r["seconds_per_step"] <= r["seconds_per_step_max"]
    meta = data["metadata"]
    for key in ("cpu_model", "cores_logical", "os", "python", "libraries", "grayscott_version",
                "git_commit", "date"):
        assert key in meta
    assert "numpy" in meta["libraries"]


@pytest.fixture(scope="module")
def tiny_report():
    return runner.run_bench(["numpy-school", "numpy", "python"], TINY, "float32", steps=2,
                            repeat=2, bandwidth_bytes=4 * MiB, bandwidth_repeat=1)


def test_run_bench_on_a_tiny_grid(tiny_report):
    data = json.loads(rep.to_json(tiny_report))
    check_schema(data, ["python", "numpy-school", "numpy"])  # the ladder's order
    by_name = {r["backend"]: r for r in data["results"]}
    assert by_name["numpy-school"]["speedup_vs_baseline"] == pytest.approx(1)
    assert all(r["speedup_vs_baseline"] > 0 for r in data["results"])
    assert by_name["numpy"]["repeat"] == 2 and len(by_name["numpy"]["seconds"]) == 2
    assert data["fits_in_cache"] in (True, None)  # 24 KB of fields
    assert any("not the school's" in n for n in data["notes"])
    assert data["school"]["rungs"][0]["seconds"]["AMD EPYC 7313"] == 2545


def test_terminal_table_and_markdown(tiny_report, tmp_path):
    table = rep.format_table(tiny_report)
    for name in ("python", "numpy-school", "numpy", "roofline", "bandwidth"):
        assert name in table
    md_path, png = tmp_path / "docs" / "BENCH.md", tmp_path / "ladder.png"
    md_path.parent.mkdir()
    rep.write_markdown(tiny_report, md_path, png, "grayscott bench ...", tmp_path / "b.json")
    md = md_path.read_text()
    assert md.startswith("# Benchmarks")
    for text in ("## Machine", "## Results", "## Beside the school's table", "## The roofline",
                 "## Reproduce", "2,545", "7,800", "×2.1", "×6.6", "×18", "grayscott bench ...",
                 "](../ladder.png)", "](../b.json)", "`numpy-school`"):
        assert text in md, text


def test_plot(tiny_report, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "ladder.png"
    chart.plot_ladder(tiny_report, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_is_one_clear_error(monkeypatch):
    real = chart.importlib.util.find_spec
    monkeypatch.setattr(chart.importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    with pytest.raises(GrayScottError, match=r"grayscott\[plot\]"):
        chart.check_plot_available()


def test_speedup_is_null_without_the_baseline():
    report = runner.run_bench(["numpy"], TINY, steps=1, repeat=1, warmup=0,
                              bandwidth_bytes=MiB, bandwidth_repeat=1)
    assert report.results[0].speedup_vs_baseline is None
    assert any("numpy-school" in n for n in report.notes)
    assert json.loads(rep.to_json(report))["results"][0]["speedup_vs_baseline"] is None


# -- the command ----------------------------------------------------------------------------


def test_bench_command_writes_json_markdown_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    j, m, p = tmp_path / "b.json", tmp_path / "b.md", tmp_path / "b.png"
    rc = main(["bench", "-r", "32", "-c", "48", "--steps", "2", "--repeat", "2",
               "--backends", "numpy-school,numpy", "--bandwidth-mib", "4", "--dtype", "float64",
               "--json", str(j), "--markdown", str(m), "--plot", str(p), "-q"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "numpy-school" in out and "Mcell-updates/s" in out
    data = json.loads(j.read_text())
    check_schema(data, ["numpy-school", "numpy"])
    assert data["dtype"] == "float64"
    assert data["roofline_cell_steps_per_s"] == pytest.approx(data["bandwidth_bytes_per_s"] / 32)
    assert "--dtype float64" in m.read_text() and p.stat().st_size > 0


@pytest.mark.parametrize("args, message", [
    (["--backends", "numpy,nope"], "unknown backend 'nope'"),
    (["--json", "/no/such/dir/b.json"], "does not exist"),
    (["--steps", "0"], "0"),
])
def test_bench_command_refuses_bad_input_in_one_line(args, message, capsys):
    rc = main(["bench", "-r", "8", "-c", "8", "--bandwidth-mib", "1", "-q", *args])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_bench_default_set_is_checked_for_memory_in_one_line(capsys):
    # No --backends: the default set is resolved before the memory check (it once iterated
    # over None and crashed with a traceback).
    rc = main(["bench", "-r", "1000000", "-c", "100000", "-q"])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "memory" in err


def test_json_has_no_infinities(tiny_report):
    text = rep.to_json(tiny_report)
    assert "Infinity" not in text and "NaN" not in text


def test_check_output(tmp_path):
    assert rep.check_output(tmp_path / "x.json", "--json") == Path(tmp_path / "x.json")
    with pytest.raises(GrayScottError, match="directory"):
        rep.check_output(tmp_path, "--json")


def test_one_clock_and_one_version_lookup_for_every_output():
    """Reports and run files take their date and versions from grayscott.provenance."""
    import datetime as dt
    from importlib import metadata

    from grayscott import provenance
    from grayscott.bench import machine

    meta = machine.collect_metadata()
    assert dt.datetime.fromisoformat(meta["date"]).tzinfo is not None
    assert meta["libraries"] == provenance.library_versions()
    assert meta["libraries"]["numpy"] == metadata.version("numpy") == np.__version__
    assert provenance.library_versions(["numpy", "surely-not-installed-xyz"]) == {
        "numpy": np.__version__}
    attrs = provenance.file_versions("numpy")
    assert attrs["numpy_version"] == np.__version__ and "hdf5_version" in attrs


# -- interleaved: probe and backends alternate, fractions per round --------------------------

FULL_BW = 80e9  # the full probe at the start: no fraction may use it in an interleaved run


def _interleaved(monkeypatch, names, repeat, seconds_of, round_bw, **kw):
    """run_bench(interleave=True) with a recording probe (the full one returns FULL_BW, round
    i's returns round_bw[i]) and a timed call that really advances the backend but reports
    ``seconds_of(name, round)``. Returns the report and the events in order."""
    events: list[tuple] = []

    def probe(array_bytes=None, threads=None, repeat=5, kernels=("copy", "add"), on_tick=None):
        if tuple(kernels) != res.ROUND_PROBE_KERNELS:
            events.append(("full",))
            return _bandwidth(FULL_BW)
        i = sum(e[0] == "probe" for e in events)
        events.append(("probe", i, array_bytes, list(threads), repeat))
        return _bandwidth(round_bw[i])

    real_call = runner.timed_call

    def call(p):
        real_call(p)
        i = sum(e[0] == "probe" for e in events) - 1
        events.append(("call", p.name, i))
        return seconds_of(p.name, i)

    monkeypatch.setattr(runner, "measure_bandwidth", probe)
    monkeypatch.setattr(runner, "timed_call", call)
    report = runner.run_bench(names, TINY, steps=2, repeat=repeat, interleave=True, **kw)
    return report, events


def test_interleaved_probes_once_per_round_and_alternates_backends(monkeypatch):
    """Full probe, then per round: a copy probe on the widest thread count, then one call of
    each backend; python (a slow rung, at most 3 repeats) only in the first 3 rounds."""
    from grayscott.backends.numpy_buffers import NumpyBackend

    monkeypatch.setattr(NumpyBackend, "threads", property(lambda self: 3))
    report, events = _interleaved(monkeypatch, ["numpy", "numpy-school", "python"], 4,
                                  lambda name, i: 0.01, [10e9, 20e9, 30e9, 40e9])
    expected = [("full",)]
    for i in range(4):
        expected.append(("probe", i, 1 << 28, [3], res.ROUND_PROBE_REPEAT))
        expected += [("call", n, i) for n in ("python", "numpy-school", "numpy") if
                     n != "python" or i < runner.SLOW_MAX_REPEAT]
    assert events == expected
    by = {r.backend: r for r in report.results}
    assert by["python"].repeat == 3 and len(by["python"].round_fractions) == 3
    assert by["numpy"].repeat == 4 and by["numpy"].threads == 3
    assert report.interleaving.rounds == 4 and report.interleaving.threads == 3


def test_interleaved_fraction_uses_each_rounds_probe(monkeypatch):
    cells = TINY[0] * TINY[1]
    secs = [0.004, 0.001, 0.002]
    round_bw = [10e9, 20e9, 40e9]
    report, _ = _interleaved(monkeypatch, ["numpy"], 3, lambda name, i: secs[i], round_bw)
    (r,) = report.results
    rates = [cells * 2 / s for s in secs]
    fractions = [rate / (bw / 16) for rate, bw in zip(rates, round_bw, strict=True)]
    assert r.round_fractions == pytest.approx(fractions)
    assert r.roofline_fraction == pytest.approx(sorted(fractions)[1])
    # neither the first round's probe nor the full one, for all rounds alike
    median_rate = sorted(rates)[1]
    assert r.roofline_fraction != pytest.approx(median_rate / (round_bw[0] / 16))
    assert r.roofline_fraction != pytest.approx(median_rate / (FULL_BW / 16))
    assert r.cell_steps_per_s == pytest.approx(median_rate)


def test_interleaved_ratio_is_taken_round_by_round(monkeypatch):
    """numpy / numpy-school per round: 8, 1, 1 -> x1 [1, 8]; the ratio of the medians would
    be 2 (0.002 s against 0.004 s)."""
    secs = {"numpy": [0.001, 0.002, 0.004], "numpy-school": [0.008, 0.002, 0.004]}
    report, _ = _interleaved(monkeypatch, ["numpy", "numpy-school"], 3,
                             lambda name, i: secs[name][i], [10e9, 10e9, 10e9],
                             against="numpy-school")
    by = {r.backend: r for r in report.results}
    assert report.interleaving.against == "numpy-school"
    assert by["numpy"].round_ratios == pytest.approx([8, 1, 1])
    assert (by["numpy"].ratio.median, by["numpy"].ratio.min, by["numpy"].ratio.max) == (
        pytest.approx(1), pytest.approx(1), pytest.approx(8))
    assert by["numpy"].speedup_vs_baseline == pytest.approx(2)  # the column as before
    assert by["numpy-school"].round_ratios == pytest.approx([1, 1, 1])
    table = rep.format_table(report)
    assert "vs numpy-school per round [min, max]" in table
    assert "×1.00 [1.00, 8.00]" in table and "×1 (reference)" in table


def test_interleaved_default_reference_is_the_first_without_numba_parallel(monkeypatch):
    report, _ = _interleaved(monkeypatch, ["numpy", "numpy-school"], 2, lambda n, i: 0.01,
                             [10e9, 10e9])
    assert report.interleaving.against == "numpy-school"  # the ladder's order: school first
    assert res.default_against(["numpy", "numba-parallel"]) == "numba-parallel"


def test_interleaved_report_json_table_and_markdown(monkeypatch, tmp_path):
    from grayscott.backends.numpy_buffers import NumpyBackend

    monkeypatch.setattr(NumpyBackend, "describe", lambda self: "k=8, 2 bands (test)")
    secs = [0.004, 0.001, 0.002]
    report, _ = _interleaved(monkeypatch, ["numpy", "numpy-school"], 3,
                             lambda name, i: secs[i], [10e9, 20e9, 40e9], against="numpy")
    data = json.loads(rep.to_json(report))
    it = data["interleaved"]
    assert it["rounds"] == 3 and it["against"] == "numpy"
    assert it["probe_bytes_per_s"] == [10e9, 20e9, 40e9]
    assert (it["probe_bytes_per_s_min"], it["probe_bytes_per_s_max"]) == (10e9, 40e9)
    assert it["probe"]["kernels"] == ["copy"] and it["probe"]["array_bytes"] == 1 << 28
    for r in data["results"]:
        assert [x["round"] for x in r["rounds"]] == [0, 1, 2]
        assert [x["seconds"] for x in r["rounds"]] == secs == r["seconds"]
        for x, bw in zip(r["rounds"], it["probe_bytes_per_s"], strict=True):
            assert x["roofline_fraction"] == pytest.approx(x["cell_steps_per_s"] / (bw / 16))
        assert r["against"] == "numpy" and r["ratio_vs_against"] == pytest.approx(1)
    table = rep.format_table(report)
    assert "interleaved: 3 round(s)" in table and "10.0–40.0 GB/s" in table
    assert "  numpy: k=8, 2 bands (test)" in table.splitlines()
    md_path = tmp_path / "b.md"
    rep.write_markdown(report, md_path, command=rep.reproduce_command(report))
    md = md_path.read_text()
    assert "Interleaved: every backend was compiled" in md and "vs `numpy` per round" in md
    assert "--interleave --against numpy" in md and "- `numpy`: k=8, 2 bands (test)" in md


def test_without_interleave_the_protocol_and_the_output_are_as_before(monkeypatch):
    """One probe, then each backend's calls one after the other (the same timed_call); no
    interleaving keys, column or header line."""
    events: list[tuple] = []
    monkeypatch.setattr(runner, "measure_bandwidth",
                        lambda *a, **k: events.append(("full",)) or _bandwidth(FULL_BW))
    monkeypatch.setattr(runner, "timed_call",
                        lambda p: events.append(("call", p.name)) or 0.01)
    report = runner.run_bench(["numpy", "numpy-school"], TINY, steps=2, repeat=2)
    assert events == [("full",), *[("call", "numpy-school")] * 2, *[("call", "numpy")] * 2]
    assert report.interleaving is None
    data = json.loads(rep.to_json(report))
    assert "interleaved" not in data
    assert all(not {"rounds", "against", "ratio_vs_against"} & set(r) for r in data["results"])
    table = rep.format_table(report)
    assert "interleaved" not in table and "per round" not in table
    assert table.splitlines()[4].split() == "  ".join(rep.COLUMNS).split()
    assert report.results[0].roofline_fraction == pytest.approx(
        report.results[0].cell_steps_per_s / (FULL_BW / 16))


@pytest.mark.parametrize("args, message", [
    (["--interleave", "--against", "numba"], "--against numba: not among the backends timed"),
    (["--against", "numpy"], "need --interleave"),
])
def test_bench_against_refused_in_one_line(args, message, capsys):
    rc = main(["bench", "-r", "8", "-c", "8", "-b", "numpy,numpy-school", "--bandwidth-mib",
               "1", "-q", *args])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_bench_command_interleaved_writes_the_rounds(tmp_path, capsys):
    j = tmp_path / "b.json"
    rc = main(["bench", "-r", "32", "-c", "48", "--steps", "1", "--repeat", "2",
               "--backends", "numpy-school,numpy", "--bandwidth-mib", "1", "--interleave",
               "--against", "numpy", "--json", str(j), "-q"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "interleaved: 2 round(s)" in out and "vs numpy per round" in out
    data = json.loads(j.read_text())
    assert len(data["interleaved"]["probe_bytes_per_s"]) == 2
    assert all(len(r["rounds"]) == 2 for r in data["results"])


# -- timing from a developed state (--from-step) -----------------------------------------------


def test_start_state_is_the_school_state_after_n_ieee_steps():
    from grayscott import backends
    from grayscott.physics import make_initial, make_problem

    shape = (16, 24)
    u0, v0 = make_initial("school", shape)
    same = runner.start_state(shape, "float32", 0)
    assert np.array_equal(same[0], u0) and np.array_equal(same[1], v0)
    ref = backends.create("numpy-school", make_problem(shape))
    ref.set_state(u0, v0)
    ref.advance(7)
    later = runner.start_state(shape, "float32", 7)
    assert all(np.array_equal(a, b) for a, b in zip(later, ref.get_state(), strict=True))
    assert not np.array_equal(later[1], v0)


def test_every_timed_call_starts_from_the_developed_state(monkeypatch):
    """The backends are set, before each timed call, to the state after --from-step steps;
    the report says so, and the note on long runs goes once the state is developed."""
    from grayscott.backends.numpy_buffers import NumpyBackend

    seen = []
    real = NumpyBackend._set_state

    def spy(self, u, v):
        seen.append(v.copy())
        return real(self, u, v)

    monkeypatch.setattr(NumpyBackend, "_set_state", spy)
    report = runner.run_bench(["numpy"], TINY, steps=1, repeat=2, warmup=1, from_step=5,
                              bandwidth_bytes=MiB, bandwidth_repeat=1)
    want = runner.start_state(TINY, "float32", 5)[1]
    assert len(seen) >= 4 and all(np.array_equal(v, want) for v in seen)
    assert json.loads(rep.to_json(report))["from_step"] == 5
    assert "after 5 steps" in rep.format_table(report)
    assert any("long run" in n for n in report.notes)
    monkeypatch.setattr(res, "DEVELOPED_STEPS", 5)
    again = runner.run_bench(["numpy"], TINY, steps=1, repeat=1, warmup=0, from_step=5,
                             bandwidth_bytes=MiB, bandwidth_repeat=1)
    assert not any("long run" in n for n in again.notes)


def test_bench_command_from_step(tmp_path, capsys):
    j = tmp_path / "b.json"
    rc = main(["bench", "-r", "16", "-c", "24", "-s", "1", "--repeat", "1", "-b", "numpy",
               "--bandwidth-mib", "1", "--from-step", "3", "--json", str(j), "-q"])
    assert rc == 0 and json.loads(j.read_text())["from_step"] == 3
    assert "after 3 steps" in capsys.readouterr().out
    for bad, message in ((["--from-step", "-1"], "-1"), (["--ranks", "2", "--from-step", "3"],
                                                        "--from-step")):
        assert main(["bench", "-r", "8", "-c", "8", "-q", *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
