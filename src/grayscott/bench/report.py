"""Presenting a :class:`~grayscott.bench.results.BenchReport`: terminal table, JSON, Markdown
document (ours beside the school's published table); the bar chart is :mod:`.chart`.

It formats and writes what a run found and measures nothing: it may not build a backend nor
import the loop or io/'s run files."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ..errors import GrayScottError
from ..io.paths import check_writable_file, format_duration
from . import arithmetic as ar
from .results import BackendResult, BenchReport, Interleaving
from .school import (
    BASELINE,
    SCHOOL_CPUS,
    SCHOOL_GRID,
    SCHOOL_REFERENCE_CPU,
    SCHOOL_RUNGS,
    SCHOOL_STEPS,
    school_ladder,
    school_rung,
)

# -- output paths ---------------------------------------------------------------------------


def check_output(path: str | os.PathLike[str], what: str) -> Path:
    """Refuse, before anything is measured, a path that cannot be written (reports are
    rewritten freely: re-running a benchmark refreshes them)."""
    return check_writable_file(path, what, overwrite=True)


def _write(path: Path, text: str, what: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise GrayScottError(f"cannot write {what} {str(path)!r}: {exc.strerror}") from exc


# -- formatting -----------------------------------------------------------------------------


_mcells = ar.format_mcells


def _ms(x: float) -> str:
    x *= 1e3
    return f"{x:.3g}" if x < 100 else f"{x:,.0f}"


def _seconds(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    if x < 10:
        return f"{x:.2g}" if x < 1 else f"{x:.1f}"
    return f"{x:,.0f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%" if x >= 0.1 else f"{100 * x:.1f}%"


COLUMNS = ("backend", "threads", "Mcell-updates/s", "ms/step median [min, max]", "compile s",
           "vs numpy-school", "32x1000 run (projected)", "roofline")


#: Where an interleaved run's ratio column goes (after the speedup over numpy-school).
RATIO_AT = 6


def _ratio(x: float) -> str:
    """Two decimals: the per-round ratios of two close backends differ in the second."""
    return f"{x:.2f}" if math.isfinite(x) and x < 10 else ar.format_ratio(x).lstrip("×")


def _ratio_cell(r: BackendResult) -> str:
    """"×1.13 [1.05, 1.21]": median [min, max] over rounds; the reference says so."""
    q = r.ratio
    if q is None:
        return "-"
    if r.backend == r.against:
        return "×1 (reference)"
    return f"×{_ratio(q.median)} [{_ratio(q.min)}, {_ratio(q.max)}]"


def _columns(report: BenchReport) -> list[str]:
    cols = list(COLUMNS)
    if report.interleaving is not None:
        cols.insert(RATIO_AT, f"vs {report.interleaving.against} per round [min, max]")
    return cols


def _row(r: BackendResult, interleaved: bool = False) -> list[str]:
    sps = r.seconds_per_step
    proj = r.projected_school_seconds
    row = [r.backend, str(r.threads), _mcells(r.cell_steps_per_s),
           f"{_ms(sps.median)} [{_ms(sps.min)}, {_ms(sps.max)}]",
           f"{r.compile_seconds:.2f}", ar.format_ratio(r.speedup_vs_baseline),
           f"{_seconds(proj)} s" + (f" ({format_duration(proj)})" if proj >= 120 else ""),
           _pct(r.roofline_fraction)]
    if interleaved:
        row.insert(RATIO_AT, _ratio_cell(r))
    return row


def _right(report: BenchReport) -> set[int]:
    """Right-aligned columns: the numbers (all but the backend and the projection)."""
    n = len(_columns(report))
    left = {0, n - 2}
    return set(range(n)) - left - {3}


def _interleave_line(report: BenchReport) -> str | None:
    it = report.interleaving
    if it is None:
        return None
    return (f"interleaved: {it.describe()} then one timed call of every backend; roofline = "
            "median over rounds of rate / that round's roofline")


def start_words(report: BenchReport) -> str:
    """Where every timed call starts, in words."""
    if not report.from_step:
        return "the school's initial state"
    return (f"the school's state after {report.from_step:,} steps (computed once, in IEEE "
            "arithmetic, by the default backend)")


def _header_lines(report: BenchReport) -> list[str]:
    r, c = report.grid
    lines = [
        f"grid {r}x{c} {report.dtype}, {report.steps} steps x {report.repeat} repeats "
        f"(+{report.warmup} warm-up), median [min, max]"
        + (f", from {start_words(report)}" if report.from_step else ""),
        f"memory bandwidth {report.bandwidth.describe()}",
        f"roofline {_mcells(report.roofline)} Mcell-updates/s = bandwidth / "
        f"{report.bytes_per_cell_update} B per cell-update (read u, v; write u', v')",
    ]
    line = _interleave_line(report)
    return lines + ([line] if line else [])


def format_table(report: BenchReport) -> str:
    """The terminal table, with its header lines, skipped backends and notes."""
    interleaved = report.interleaving is not None
    columns = _columns(report)
    rows = [columns] + [_row(r, interleaved) for r in report.results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    right = _right(report)

    def fmt(row: list[str]) -> str:
        return "  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                         for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()

    lines = _header_lines(report) + ["", fmt(rows[0]), fmt(["-" * w for w in widths])]
    lines += [fmt(row) for row in rows[1:]]
    for r in report.results:
        if r.note:
            lines.append(f"  {r.backend}: {r.note}")
    for s in report.skipped:
        lines.append(f"skipped {s.backend}: {s.reason}")
    for n in report.notes:
        lines.append(f"note: {n}")
    return "\n".join(lines)


# -- JSON -----------------------------------------------------------------------------------


def _clean(x: Any) -> Any:
    """JSON has no infinity or NaN: write null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def dumps(data: Any) -> str:
    """JSON text of ``data`` (non-finite floats become null)."""
    return json.dumps(_clean(data), indent=2) + "\n"


def write_data(data: Any, path: str | os.PathLike[str]) -> None:
    _write(Path(path), dumps(data), "JSON")


def to_json(report: BenchReport) -> str:
    return dumps(report.to_dict())


def write_json(report: BenchReport, path: str | os.PathLike[str]) -> None:
    write_data(report.to_dict(), path)


# -- Markdown -------------------------------------------------------------------------------


def _md_table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    sep = ["---:" if i in right else "---" for i in range(len(header))]
    return ["| " + " | ".join(r) + " |" for r in [header, sep, *rows]]


def _machine_rows(report: BenchReport) -> list[list[str]]:
    m = report.metadata
    cores = f"{m.get('cores_logical')} logical, {m.get('cores_usable')} usable"
    if m.get("cores_physical"):
        cores += f", {m.get('cores_physical')} physical"
    libs = ", ".join(f"{k} {v}" for k, v in (m.get("libraries") or {}).items())
    commit = m.get("git_commit")
    version = f"grayscott {m.get('grayscott_version')}"
    if commit:
        version += f", commit `{commit[:12]}`" + (" (with local changes)" if m.get("git_dirty")
                                                  else "")
    rows = [["CPU", str(m.get("cpu_model"))], ["cores", cores],
            ["last-level cache", ar.format_bytes(m.get("last_level_cache_bytes"))],
            ["memory", ar.format_bytes(m.get("memory_bytes"))],
            ["OS", str(m.get("os"))], ["Python", str(m.get("python"))],
            ["libraries", libs], ["package", version], ["date (UTC)", str(m.get("date"))],
            ["memory bandwidth", report.bandwidth.describe()]]
    env = m.get("thread_environment") or {}
    if env:
        rows.append(["thread settings", ", ".join(f"`{k}={v}`" for k, v in env.items())])
    return rows


def _ladder_rows(report: BenchReport) -> list[list[str]]:
    ladder = school_ladder()
    rows = []
    for rung in SCHOOL_RUNGS:
        ours = report.result(rung.backend)
        rows.append([rung.label, f"`{rung.backend}`",
                     *(f"{rung.seconds[cpu]:,.0f}" for cpu in SCHOOL_CPUS),
                     ar.format_ratio(ladder[rung.label]),
                     _seconds(ours.projected_school_seconds) if ours else "not run",
                     ar.format_ratio(ours.speedup_vs_baseline) if ours else "-"])
    for r in report.results:
        if school_rung(r.backend) is None:
            rows.append(["(ours)", f"`{r.backend}`", *("" for _ in SCHOOL_CPUS), "",
                         _seconds(r.projected_school_seconds),
                         ar.format_ratio(r.speedup_vs_baseline)])
    return rows


def _cache_sentence(report: BenchReport) -> str:
    fields = ar.format_bytes(report.working_set_bytes)
    cache = ar.format_bytes(report.cache_bytes)
    return {"fits": f" Here the fields ({fields}) fit in the last-level cache ({cache}).",
            "comparable": f" Here the fields ({fields}) are about the size of the last-level "
                          f"cache ({cache}): part of each step may be served from it.",
            "larger": f" Here the fields ({fields}) are well beyond the last-level cache "
                      f"({cache}).",
            }.get(report.cache_relation or "", "")


def reproduce_command(report: BenchReport, markdown: str | None = None,
                      plot: str | None = None, json_path: str | None = None) -> str:
    parts = ["grayscott bench"]
    if report.grid != SCHOOL_GRID:
        parts += [f"--rows {report.grid[0]}", f"--cols {report.grid[1]}"]
    if report.dtype != "float32":
        parts.append(f"--dtype {report.dtype}")
    parts += [f"--steps {report.steps}", f"--repeat {report.repeat}"]
    if report.interleaving is not None:
        parts.append(f"--interleave --against {report.interleaving.against}")
    for flag, value in (("--markdown", markdown), ("--plot", plot), ("--json", json_path)):
        if value:
            parts.append(f"{flag} {value}")
    return " ".join(parts)


def to_markdown(report: BenchReport, plot_link: str | None = None,
                command: str | None = None, json_link: str | None = None) -> str:
    """A complete document: machine, our table, the school's beside it, roofline, reproduce."""
    r, c = report.grid
    cmd = command or reproduce_command(report)
    out = ["# Benchmarks", "",
           f"The Gray-Scott step on {r} × {c} cells in {report.dtype}, every backend of the "
           f"ladder, measured by `grayscott bench` on the machine below. Higher "
           "cell-updates per second is better; the school's benchmark is the time of its "
           f"\"32 × 1000\" run ({SCHOOL_STEPS:,} steps of {SCHOOL_GRID[0]} × {SCHOOL_GRID[1]}), "
           "shorter is better.", "",
           "## Machine", ""]
    out += _md_table(["", ""], _machine_rows(report), set())
    out += ["", f"## Results: {r} × {c}, {report.dtype}", "",
            f"{report.steps} steps per timed call, {report.repeat} repeats after "
            f"{report.warmup} untimed warm-up call(s), each repeat from {start_words(report)}"
            "; the rate is the median, the step time is shown as median [min, max]. "
            "Compilation (Numba, XLA) is timed apart and never counted in the rate.", ""]
    header = ["backend", "threads", "Mcell-updates/s", "ms/step [min, max]", "compile (s)",
              "speedup vs `numpy-school`", "32 × 1000 run, projected (s)", "roofline"]
    it = report.interleaving
    if it is not None:
        out.insert(-1, _md_interleaving(it))  # the same paragraph, continued
        header.insert(RATIO_AT, f"vs `{it.against}` per round [min, max]")
    rows = []
    for res in report.results:
        row = _row(res, it is not None)
        row[0] = f"`{res.backend}`"
        row[-2] = _seconds(res.projected_school_seconds)
        rows.append(row)
    out += _md_table(header, rows, set(range(1, len(header))) - {3})
    extra = [f"- `{res.backend}`: {res.note}" for res in report.results if res.note]
    extra += [f"- skipped `{s.backend}`: {s.reason}" for s in report.skipped]
    extra += [f"- {n}" for n in report.notes]
    if extra:
        out += [""] + extra
    if plot_link:
        out += ["", f"![the ladder: cell-updates per second of each backend]({plot_link})"]
    if json_link:
        out += ["", f"Every figure, with each repeat and the full metadata: [{json_link}]"
                    f"({json_link})."]
    out += ["", "## Beside the school's table", "",
            "The school's published seconds for the 32 × 1000 run ([docs/model.md §7]"
            "(docs/model.md#7-the-schools-published-benchmark)) and ours, "
            f"projected from the rates above (seconds = {SCHOOL_GRID[0]} × {SCHOOL_GRID[1]} × "
            f"{SCHOOL_STEPS:,} / rate). The ladder is each rung's speedup over the school's "
            f"NumPy: the school's on the {SCHOOL_REFERENCE_CPU}, ours over `{BASELINE}` on this "
            "machine.", ""]
    header = ["rung", "our backend", *(f"school, {cpu} (s)" for cpu in SCHOOL_CPUS),
              f"school ladder ({SCHOOL_REFERENCE_CPU})", "this machine (s)", "our ladder"]
    out += _md_table(header, _ladder_rows(report), {2, 3, 4, 5, 6})
    bpc = report.bytes_per_cell_update
    out += ["", "## The roofline", "",
            "A time step that makes one pass over memory must read u and v and write u' and v': "
            "16 bytes per cell-update in float32, 32 in float64"
            f" ({bpc} here). "
            "A step streaming from main memory therefore cannot exceed "
            "*bandwidth / bytes per cell-update* cell-updates per second. The bandwidth is "
            "measured in the same run with STREAM's Copy and Add kernels (NumPy, on arrays far "
            "larger than the caches, on one thread and on every core, best of "
            f"{report.bandwidth.repeat}), counted as STREAM counts it: "
            f"{report.bandwidth.describe()}, hence a roofline of "
            f"{_mcells(report.roofline)} million cell-updates per second. "
            "The *roofline* column is each backend's rate over it."
            + ("" if it is None else
               " In this interleaved run it is the median over rounds of the rate over the "
               "roofline of the probe run just before (STREAM copy on "
               f"{it.threads} thread(s): {it.spread.min / 1e9:.1f}–{it.spread.max / 1e9:.1f} "
               "GB/s)."), "",
            "A kernel well below the roofline is compute- or overhead-bound (NumPy's temporaries "
            "cost several passes per step); one near it is as fast as memory allows, and only "
            "fusing several time steps per pass (temporal blocking) goes further. A grid whose "
            "fields fit in the last-level cache may beat the roofline: the data then never "
            "leaves the cache."
            + _cache_sentence(report),
            "", "## Reproduce", "", "```sh", "pip install -e '.[all]'   # numba, jax, matplotlib",
            cmd, "```", "",
            "`--backends a,b,c` picks backends (default: every available one; the `python` rung "
            "only where one step takes under a second), `--rows/--cols/--dtype` the problem, "
            "`--steps/--repeat` the timing. Thread counts follow `NUMBA_NUM_THREADS` and XLA's "
            "defaults. Run it on a quiet machine: other work on the cores shows up in the "
            "min-max spread.", ""]
    return "\n".join(out)


def _md_interleaving(it: Interleaving) -> str:
    """The Results paragraph's last sentences for an interleaved run."""
    return (f"Interleaved: every backend was compiled and warmed up first, then {it.describe()} "
            "followed by one timed call of every backend, so that the load of a shared machine "
            "falls alike on all of them. The roofline column is the median over rounds of each "
            "round's rate over that round's roofline; the ratio column is the rate over "
            f"`{it.against}`'s in the same round, median [min, max].")


def _relative(target: str | os.PathLike[str] | None, document: Path) -> str | None:
    if target is None:
        return None
    return Path(os.path.relpath(Path(target).resolve(), document.resolve().parent)).as_posix()


#: In a Markdown report, everything from this line on is written by hand (figures measured
#: elsewhere: a GPU, the output costs) and kept when the report is written again.
KEPT_MARKER = "<!-- Written by hand below: `grayscott bench --markdown` keeps it. -->"


def kept_sections(path: Path) -> str:
    """The hand-written tail of an existing report (from :data:`KEPT_MARKER` on), or ''."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    at = text.find(KEPT_MARKER)
    return "" if at < 0 else text[at:]


def write_markdown(report: BenchReport, path: str | os.PathLike[str],
                   plot_path: str | os.PathLike[str] | None = None,
                   command: str | None = None,
                   json_path: str | os.PathLike[str] | None = None) -> None:
    """Write :func:`to_markdown`, linking the chart and the JSON relative to the document, and
    keep the hand-written sections of the file it replaces (:data:`KEPT_MARKER`)."""
    p = Path(path)
    text = to_markdown(report, _relative(plot_path, p), command, _relative(json_path, p))
    kept = kept_sections(p)
    _write(p, text + ("\n" + kept if kept else ""), "Markdown")
