"""The ladder as a bar chart (``grayscott bench --plot``): our rates beside the school's published
ones, the speedup over numpy-school on each bar, the memory roofline as a line.

It draws a :class:`~grayscott.bench.results.BenchReport` and measures nothing; matplotlib is
imported only when a chart is drawn. It may not import the backends, the loop or io/.
"""

from __future__ import annotations

import importlib.util
import os

from ..errors import GrayScottError
from . import arithmetic as ar
from .results import BenchReport
from .school import BASELINE, SCHOOL_REFERENCE_CPU, school_rung

_mcells = ar.format_mcells


def check_plot_available() -> None:
    if importlib.util.find_spec("matplotlib") is None:
        raise GrayScottError("--plot needs matplotlib: pip install 'grayscott[plot]'")


def plot_ladder(report: BenchReport, path: str | os.PathLike[str]) -> None:
    """Bar chart of cell-updates per second, the speedup over numpy-school written on each bar,
    the school's EPYC figures beside the rungs it published, and the roofline as a line."""
    check_plot_available()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    results = report.results
    names = [r.backend for r in results]
    ours = [r.cell_steps_per_s / 1e6 for r in results]
    school = [school_rung(n) for n in names]
    school_vals = [s.cell_steps_per_s() / 1e6 if s else None for s in school]
    roof = report.roofline / 1e6

    fig = Figure(figsize=(max(7.0, 1.3 * len(names) + 2), 5.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = list(range(len(names)))
    width = 0.4 if any(school_vals) else 0.6
    offset = width / 2 if any(school_vals) else 0.0
    bars = ax.bar([i - offset if s else i for i, s in zip(x, school_vals, strict=True)], ours,
                  width, label="this machine", color="#3b75af")
    if any(school_vals):
        xs = [i + offset for i, s in zip(x, school_vals, strict=True) if s]
        ax.bar(xs, [s for s in school_vals if s], width, color="#d9d9d9", edgecolor="#7f7f7f",
               hatch="//", label=f"school, {SCHOOL_REFERENCE_CPU}")
    values = [v for v in ours + [s for s in school_vals if s] + [roof] if v and v > 0]
    if values and max(values) / min(values) > 30:
        ax.set_yscale("log")
    for bar, r in zip(bars, results, strict=True):
        label = ar.format_ratio(r.speedup_vs_baseline)
        ax.annotate(label if label != "-" else "", (bar.get_x() + bar.get_width() / 2,
                                                    bar.get_height()),
                    xytext=(0, 3), textcoords="offset points", ha="center", va="bottom",
                    fontsize=10, fontweight="bold")
    ax.axhline(roof, color="#c0392b", linestyle="--", linewidth=1.2,
               label=f"memory roofline ({_mcells(report.roofline)} M/s)")
    ax.set_xticks(x, names, rotation=20 if len(names) > 5 else 0)
    ax.set_ylabel("million cell-updates per second")
    ax.margins(y=0.12)
    r, c = report.grid
    ax.set_title(f"Gray-Scott {r}×{c} {report.dtype} on {report.metadata.get('cpu_model')}\n"
                 f"(on each bar: speedup over {BASELINE})", fontsize=10)
    fig.legend(fontsize=8, loc="outside lower center", ncols=3)
    try:
        fig.savefig(os.fspath(path), dpi=120)
    except OSError as exc:
        raise GrayScottError(f"cannot write plot {str(path)!r}: {exc.strerror}") from exc
