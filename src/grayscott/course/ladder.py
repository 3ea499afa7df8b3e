"""The notebooks' closing ladder: every rung timed in interleaved rounds, on the school's grid,
from the initial state and from a developed one, beside the school's published table.

The protocol is ``grayscott bench --interleave``'s: every rung is compiled and warmed up first,
then each round times one call of every rung, so a burst of load hits all rungs of a round alike
and the ratios (taken within each round) hold better than the rates. The spread of the rounds is
shown, with a one-line note when it is wide (the machine was busy). A long run is slower than its
first steps on CPUs that compute with subnormal numbers, so the ladder is also timed from the
state after ``from_step`` steps (``grayscott bench --from-step``).
"""

from __future__ import annotations

import functools
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .. import backends
from ..bench.school import (
    BASELINE,
    SCHOOL_CELL_STEPS,
    SCHOOL_GRID,
    SCHOOL_REFERENCE_CPU,
    SCHOOL_RUNGS,
)
from ..physics import make_initial, make_problem

#: The package's rungs of the school's ladder, in order.
LADDER = ("numpy-school", "numpy", "numba", "numba-parallel", "jax", "jax-3x3")
#: A rung whose slowest round is this much slower than its fastest gets the load note.
WIDE_SPREAD = 1.5


@dataclass
class Rung:
    """Something to time: ``start(u, v)`` sets the state, ``run(n)`` makes n steps and returns
    once they are done."""

    name: str
    start: Callable[[np.ndarray, np.ndarray], None]
    run: Callable[[int], None]


def backend_rung(name: str, shape: tuple[int, int] = SCHOOL_GRID) -> Rung:
    """The package's backend `name` as a rung."""
    b = backends.create(name, make_problem(shape))

    def run(n: int) -> None:
        b.advance(n)
        b.synchronize()  # JAX returns before the work is done: wait for it

    return Rung(name, b.set_state, run)


@functools.lru_cache(maxsize=2)
def developed_state(steps: int, shape: tuple[int, int] = SCHOOL_GRID
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The school's state after `steps` steps (IEEE arithmetic, the default backend): the
    state a long run spends its time in."""
    u0, v0 = make_initial("school", shape)
    if steps == 0:
        return u0, v0
    b = backends.create(backends.default_backend(), make_problem(shape))
    b.set_state(u0, v0)
    b.advance(steps)
    return b.get_state()


@dataclass
class Ladder:
    """Cell-updates per second of every rung, one per round, from one state."""

    state: str  # "initial state" or "after N steps"
    steps: int  # per timed call
    cells: int
    rates: dict[str, list[float]]

    def median(self, name: str) -> float:
        return statistics.median(self.rates[name])

    def spread(self, name: str) -> float:
        """Fastest round over slowest round."""
        return max(self.rates[name]) / min(self.rates[name])

    def ratio(self, name: str, base: str = BASELINE) -> float:
        """Median over rounds of rung / base, both measured in the same round."""
        return statistics.median(a / b for a, b in zip(self.rates[name], self.rates[base],
                                                       strict=True))


def measure(rungs: Sequence[Rung], steps: int, rounds: int = 3, from_step: int = 0,
            shape: tuple[int, int] = SCHOOL_GRID) -> Ladder:
    """Warm every rung up (compilation), then `rounds` rounds of one timed call per rung,
    each call started from the same state; the order of the rungs turns from round to round."""
    u0, v0 = developed_state(from_step, shape)
    for rung in rungs:
        rung.start(u0, v0)
        rung.run(steps)  # compiles (Numba, JAX) and warms up: not timed
    rates: dict[str, list[float]] = {r.name: [] for r in rungs}
    cells = shape[0] * shape[1]
    for i in range(rounds):
        for rung in [*rungs[i % len(rungs):], *rungs[:i % len(rungs)]]:
            rung.start(u0, v0)
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                t0 = time.perf_counter()
                rung.run(steps)
                rates[rung.name].append(cells * steps / (time.perf_counter() - t0))
            finally:
                if gc_was_enabled:
                    gc.enable()
    state = f"after {from_step:,} steps" if from_step else "initial state"
    return Ladder(state, steps, cells, rates)


def package_rungs(names: Sequence[str] = LADDER) -> list[Rung]:
    """The package's rungs available here (JAX and Numba are optional)."""
    return [backend_rung(n) for n in names if n in backends.available()]


def load_note(ladders: Sequence[Ladder]) -> str | None:
    """One line when a rung's rounds differ by more than WIDE_SPREAD, else None."""
    worst = max(((lad.spread(n), n, lad.state) for lad in ladders for n in lad.rates),
                default=None)
    if worst is None or worst[0] <= WIDE_SPREAD:
        return None
    spread, name, state = worst
    return (f"load: the rounds of {name} ({state}) differ by x{spread:.1f}, so something else "
            "used this machine's cores while it measured; the ratios (within a round) hold "
            "better than the rates; rerun on an idle machine for firmer figures")


def show(ladders: Sequence[Ladder], title: str = "") -> None:
    """A table of every ladder (median rate, the rounds' range, the speed-up over numpy-school
    in the same rounds) beside the school's published seconds, a chart, and the load note."""
    import matplotlib.pyplot as plt

    cpu, school = SCHOOL_REFERENCE_CPU, {r.backend: r for r in SCHOOL_RUNGS}
    school_base = school[BASELINE].seconds[cpu]
    names = list(ladders[0].rates)
    for lad in ladders:
        print(f"on this machine, {lad.state}, {len(lad.rates[names[0]])} interleaved rounds "
              f"of {lad.steps} steps at {SCHOOL_GRID[0]} x {SCHOOL_GRID[1]}:")
        print(f"{'':>17} {'Mcell/s (rounds: min-max)':>27} {'speed-up':>8} "
              f"{'32,000 steps':>12} | the school, {cpu}")
        for name in names:
            r, rates = school.get(name), lad.rates[name]
            theirs = (f"{r.seconds[cpu]:6,.0f} s  x{school_base / r.seconds[cpu]:<5.1f} {r.label}"
                      if r else "     (not in the school's table)")
            rate = (f"{lad.median(name) / 1e6:,.1f} ({min(rates) / 1e6:,.1f}-"
                    f"{max(rates) / 1e6:,.1f})")
            ratio = f"x{lad.ratio(name):.2g}"
            print(f"{name:>17} {rate:>27} {ratio:>8} "
                  f"{SCHOOL_CELL_STEPS / lad.median(name):10,.0f} s | {theirs}")
    note = load_note(ladders)
    if note:
        print(note)
    y = np.arange(len(names))
    width = 0.8 / (len(ladders) + 1)
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(names) + 1.5))
    for i, lad in enumerate(ladders):
        ax.barh(y + i * width, [lad.ratio(n) for n in names], width,
                label=f"this machine, {lad.state}")
    mine = [i for i, n in enumerate(names) if n in school]
    ax.barh(y[mine] + len(ladders) * width,
            [school_base / school[names[i]].seconds[cpu] for i in mine], width,
            label=f"the school's table, {cpu}")
    ax.set_yticks(y + width * len(ladders) / 2, names)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1, color="grey", lw=0.8)
    ax.set_xlabel("speed-up over numpy-school, same round (log scale)")
    ax.set_title(title or f"The ladder at {SCHOOL_GRID[0]} x {SCHOOL_GRID[1]}, float32")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    plt.show()
